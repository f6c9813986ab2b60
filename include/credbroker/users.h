/* SPDX-License-Identifier: MIT */
#ifndef CREDBROKER_USERS_H
#define CREDBROKER_USERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct buf;

/*
 * The broker's users: who they are bound to, what they are granted, until
 * when, and their TOTP state (last accepted step, failures, lockout). The
 * records are not secret and live in <state_dir>/users.json, written
 * atomically; the TOTP seeds and password hashes live in the vault
 * ("totp/NAME", "password/NAME").
 */
struct users;

#define USERS_MAX 10000
#define USER_NAME_MAX 64
#define USER_PROFILES_MAX 64
/* The latest time a users file may hold: 9999-12-31T23:59:59Z. */
#define USERS_TIME_MAX 253402300799L

/* A plain record; the store owns every pointer. */
struct user {
	char name[USER_NAME_MAX + 1];
	char **profiles;
	size_t nprofiles;
	long uid;              /* bound local uid, -1 when none */
	bool has_password;     /* a hash is in the vault */
	time_t expires;        /* 0: never */
	time_t created;
	bool disabled;
	int64_t last_step;     /* last accepted TOTP step, -1 when none */
	unsigned failures;     /* consecutive TOTP failures since the last success or lock */
	unsigned lock_count;   /* locks since the last success or unlock; the next lasts twice as long */
	time_t locked_until;   /* 0: not locked */
};

/* A user name becomes the STS session name and SourceIdentity: 2-64 of
 * [A-Za-z0-9+=,.@_-]. */
bool users_name_valid(const char *name);

/* Load path (a missing file is an empty store). CB_ERR_PARSE for a file
 * that is not a users file, CB_ERR_PERM / CB_ERR_TOO_LARGE / CB_ERR_IO as
 * file_read_private(). Free with users_free(). */
int users_load(const char *path, struct users **ret);
void users_free(struct users *u);

/* Parse a users file held in memory (what users_load does after reading
 * it; exposed for the fuzzer). path is remembered for users_save. */
int users_parse(const uint8_t *data, size_t len, const char *path, struct users **ret);

/* Write the store atomically to the path it was loaded from. */
int users_save(struct users *u);

/* The named user or NULL. The pointer is valid until the store changes
 * shape (users_add/users_remove) or is freed. */
struct user *users_find(struct users *u, const char *name);

size_t users_count(const struct users *u);
struct user *users_at(struct users *u, size_t i);

/* Add a user with fresh TOTP state. CB_ERR_EXISTS, CB_ERR_INVALID (name,
 * profile count), CB_ERR_TOO_LARGE (store full). In memory only. */
int users_add(struct users *u, const char *name, const char *const *profiles, size_t nprofiles,
	      long uid, bool has_password, time_t expires, time_t now);

/* Remove by name; CB_ERR_USER_UNKNOWN. In memory only. */
int users_remove(struct users *u, const char *name);

/* Is profile granted to user? */
bool users_has_profile(const struct user *usr, const char *profile);

#endif
