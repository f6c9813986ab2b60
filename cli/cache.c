/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "credbroker/buf.h"
#include "credbroker/err.h"
#include "credbroker/file.h"
#include "cache.h"
#include "session.h"

/* A session file is a few KiB (the session token dominates). */
#define CACHE_FILE_MAX (64u * 1024u)
#define CACHE_SUFFIX ".json"

int cache_dir(char out[static PATH_MAX])
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	const char *home = getenv("HOME");
	char dir[PATH_MAX];
	int n;
	/* XDG says a relative value is invalid and must be ignored. */
	if (xdg != NULL && xdg[0] == '/') {
		n = snprintf(dir, sizeof(dir), "%s/credbroker", xdg);
	} else if (home != NULL && home[0] == '/') {
		char cache[PATH_MAX];
		n = snprintf(cache, sizeof(cache), "%s/.cache", home);
		if (n < 0 || (size_t)n >= sizeof(cache))
			return CB_ERR_INVALID;
		if (mkdir(cache, 0700) < 0 && errno != EEXIST)
			return CB_ERR_IO;
		n = snprintf(dir, sizeof(dir), "%s/credbroker", cache);
	} else {
		return CB_ERR_NOT_FOUND;
	}
	if (n < 0 || (size_t)n >= sizeof(dir))
		return CB_ERR_INVALID;
	int r = file_mkdir_private(dir);
	if (r < 0)
		return r;
	memcpy(out, dir, (size_t)n + 1);
	return 0;
}

int cache_entry_init(struct cache_entry *e, const char *broker, const char *user,
		     const char *profile)
{
	char dir[PATH_MAX];
	int r = cache_dir(dir);
	if (r < 0)
		return r;

	/* The name is a hash, so no broker path or profile name can walk out
	 * of the directory or collide with another entry's spelling. */
	uint8_t h[16];
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const uint8_t *)broker, strlen(broker) + 1);
	crypto_generichash_update(&st, (const uint8_t *)user, strlen(user) + 1);
	crypto_generichash_update(&st, (const uint8_t *)profile, strlen(profile) + 1);
	crypto_generichash_final(&st, h, sizeof(h));
	char hex[sizeof(h) * 2 + 1];
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));

	int n = snprintf(e->path, sizeof(e->path), "%s/%s" CACHE_SUFFIX, dir, hex);
	int m = snprintf(e->lock_path, sizeof(e->lock_path), "%s/%s.lock", dir, hex);
	if (n < 0 || (size_t)n >= sizeof(e->path) || m < 0 || (size_t)m >= sizeof(e->lock_path))
		return CB_ERR_INVALID;
	e->broker = broker;
	e->user = user;
	e->profile = profile;
	e->lock_fd = -1;
	return 0;
}

int cache_lock(struct cache_entry *e)
{
	int fd = open(e->lock_path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno == ELOOP ? CB_ERR_PERM : CB_ERR_IO;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077) != 0) {
		close(fd);
		return CB_ERR_PERM;
	}
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			close(fd);
			return CB_ERR_IO;
		}
	}
	e->lock_fd = fd;
	return 0;
}

void cache_unlock(struct cache_entry *e)
{
	if (e->lock_fd >= 0) {
		close(e->lock_fd); /* releases the flock */
		e->lock_fd = -1;
	}
}

static int str_is(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* Parse path into a session; CB_ERR_NOT_FOUND / CB_ERR_PERM / CB_ERR_PARSE. */
static int read_session(const char *path, struct session *ret)
{
	struct buf b;
	buf_init(&b, CACHE_FILE_MAX);
	int r = file_read_private(path, CACHE_FILE_MAX, &b);
	if (r == CB_ERR_INVALID)
		r = CB_ERR_PERM; /* not a regular file: as untrustworthy as a symlink */
	if (r < 0)
		goto out;
	cJSON *json = NULL;
	if (strlen(buf_str(&b)) == b.len)
		json = cJSON_ParseWithOpts(buf_str(&b), NULL, 1);
	if (json == NULL) {
		r = CB_ERR_PARSE;
		goto out;
	}
	r = session_from_json(json, ret);
	if (r < 0)
		cJSON_Delete(json);
out:
	buf_free(&b);
	return r;
}

int cache_read(const struct cache_entry *e, time_t now, long min_left, struct session *ret)
{
	struct session s;
	int r = read_session(e->path, &s);
	if (r < 0)
		return r;
	if (!str_is(s.broker, e->broker) || !str_is(s.user, e->user) ||
	    !str_is(s.profile, e->profile) || s.expires - now <= min_left) {
		session_free(&s);
		return CB_ERR_NOT_FOUND;
	}
	*ret = s;
	return 0;
}

int cache_write(const struct cache_entry *e, const struct session *s)
{
	char *text = cJSON_PrintUnformatted(s->json);
	if (text == NULL)
		return CB_ERR_NOMEM;
	size_t len = strlen(text);
	int r = file_write_atomic(e->path, text, len, 0600);
	sodium_memzero(text, len);
	cJSON_free(text);
	return r;
}

int cache_wipe(const char *path)
{
	int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 && errno == ENOENT)
		return CB_ERR_NOT_FOUND;
	if (fd >= 0) {
		struct stat st;
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid()) {
			static const uint8_t zeros[4096];
			off_t left = st.st_size;
			while (left > 0) {
				size_t n = left < (off_t)sizeof(zeros) ? (size_t)left : sizeof(zeros);
				ssize_t w = write(fd, zeros, n);
				if (w < 0 && errno == EINTR)
					continue;
				if (w <= 0)
					break;
				left -= w;
			}
			fsync(fd);
		}
		close(fd);
	}
	/* ELOOP (a symlink) or not ours: unlink the name without following it. */
	if (unlink(path) < 0)
		return errno == ENOENT ? CB_ERR_NOT_FOUND : CB_ERR_IO;
	return 0;
}

int cache_foreach(void (*fn)(const char *path, struct session *s, void *ctx), void *ctx)
{
	char dir[PATH_MAX];
	int r = cache_dir(dir);
	if (r < 0)
		return r;
	DIR *d = opendir(dir);
	if (d == NULL)
		return CB_ERR_IO;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name), sl = strlen(CACHE_SUFFIX);
		if (n <= sl || strcmp(de->d_name + n - sl, CACHE_SUFFIX) != 0)
			continue;
		char path[PATH_MAX];
		int m = snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (m < 0 || (size_t)m >= sizeof(path))
			continue;
		struct session s;
		if (read_session(path, &s) < 0)
			continue;
		fn(path, &s, ctx);
		session_free(&s);
	}
	closedir(d);
	return 0;
}

int cache_wipe_temp(const char *path)
{
	char dir[PATH_MAX];
	if (cache_dir(dir) < 0)
		return 0;
	/* The temp name is the session file's name plus ".tmp." (file.c). */
	char prefix[NAME_MAX + 8];
	const char *base = path != NULL ? strrchr(path, '/') : NULL;
	int m = snprintf(prefix, sizeof(prefix), "%s.tmp.", base != NULL ? base + 1 : "");
	if (m < 0 || (size_t)m >= sizeof(prefix))
		return 0;
	DIR *d = opendir(dir);
	if (d == NULL)
		return 0;
	int wiped = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		bool ours = path != NULL ? strncmp(de->d_name, prefix, strlen(prefix)) == 0
					 : strstr(de->d_name, CACHE_SUFFIX ".tmp.") != NULL;
		char full[PATH_MAX];
		int n = snprintf(full, sizeof(full), "%s/%s", dir, de->d_name);
		if (ours && n > 0 && (size_t)n < sizeof(full) && cache_wipe(full) == 0)
			wiped++;
	}
	closedir(d);
	return wiped;
}
