/* SPDX-License-Identifier: MIT */
#ifndef CREDBROKER_CLI_CACHE_H
#define CREDBROKER_CLI_CACHE_H

#include <limits.h>
#include <time.h>

struct session;

/*
 * The session cache: one 0600 file per (broker, user, profile) in
 * $XDG_RUNTIME_DIR/credbroker/ (else ~/.cache/credbroker/), a 0700 directory.
 * A file is named by a hash of the three, holds the session as JSON, and is
 * replaced atomically; a sibling .lock file serialises check-fetch-write.
 */
struct cache_entry {
	const char *broker, *user, *profile; /* borrowed */
	char path[PATH_MAX];
	char lock_path[PATH_MAX];
	int lock_fd; /* -1 unless locked */
};

/* The cache directory into out, created 0700 when missing. CB_ERR_PERM when
 * it exists with an unsafe owner or mode, CB_ERR_NOT_FOUND when neither
 * $XDG_RUNTIME_DIR nor $HOME is usable. */
int cache_dir(char out[static PATH_MAX]);

/* Name the entry for (broker, user, profile); creates the directory. The
 * strings are borrowed and must outlive e. */
int cache_entry_init(struct cache_entry *e, const char *broker, const char *user,
		     const char *profile);

/* Take (blocking) / release the entry's lock: flock on <entry>.lock, opened
 * O_NOFOLLOW with mode 0600 and checked to be ours. */
int cache_lock(struct cache_entry *e);
void cache_unlock(struct cache_entry *e);

/* The cached session when it belongs to e's broker, user and profile and
 * more than min_left seconds remain at now. CB_ERR_NOT_FOUND when absent,
 * for someone else, or too close to expiry; CB_ERR_PERM when the file is a
 * symlink or has an unsafe owner or mode (not to be trusted: fetch anew);
 * CB_ERR_PARSE when it does not parse. */
int cache_read(const struct cache_entry *e, time_t now, long min_left, struct session *ret);

/* Store s as e's session (0600, atomic replace). */
int cache_write(const struct cache_entry *e, const struct session *s);

/* Overwrite path's contents with zeros, then unlink it. A symlink is only
 * unlinked. 0 or CB_ERR_NOT_FOUND / CB_ERR_IO. */
int cache_wipe(const char *path);

/* Call fn for every session file in the cache directory that parses (path,
 * and the session, which fn may keep by moving it out; it is freed after).
 * Files that are unsafe or do not parse are skipped. */
int cache_foreach(void (*fn)(const char *path, struct session *s, void *ctx), void *ctx);

/* Wipe the temp files a crashed cache_write left behind (NAME.json.tmp.XXXXXX,
 * a whole session each): those of session file `path`, or with path NULL
 * every one in the cache directory. Returns how many were wiped. */
int cache_wipe_temp(const char *path);

#endif
