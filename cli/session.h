/* SPDX-License-Identifier: MIT */
#ifndef CREDBROKER_CLI_SESSION_H
#define CREDBROKER_CLI_SESSION_H

#include <stdio.h>
#include <time.h>

#include <cjson/cJSON.h>

struct client_error;

/*
 * A short-lived AWS session as the broker issued it and the cache keeps it:
 * the broker's `issue` answer plus which broker and user it came from. Every
 * string points into json, which owns them; session_free() wipes it all.
 */
struct session {
	cJSON *json;
	const char *broker, *user, *profile;
	const char *access_key_id, *secret_access_key, *session_token;
	const char *expiration;       /* RFC 3339, as the broker sent it */
	const char *region;           /* NULL when the profile has none */
	const char *assumed_role_arn; /* NULL when the broker did not say */
	const char *code_hash;        /* hex BLAKE2b of the code that fetched it, or NULL */
	time_t expires;
};

/* A cached session is served while more than this many seconds remain. */
#define SESSION_MIN_LEFT 600

enum session_format { SESSION_FORMAT_PROCESS, SESSION_FORMAT_ENV, SESSION_FORMAT_JSON };

/* Check json (an object with the fields above) and point *ret into it. On
 * success *ret owns json; on failure json is untouched and still the
 * caller's. CB_ERR_PARSE when a field is missing, of the wrong type or holds
 * characters a shell or config line could misread. */
int session_from_json(cJSON *json, struct session *ret);

/* Wipe and free; s is left empty. Safe on an empty session. */
void session_free(struct session *s);

/* Print s to f in a format: the credential_process JSON, "export" lines, or
 * the whole session as JSON. CB_ERR_IO when f fails. */
int session_print(const struct session *s, enum session_format format, FILE *f);

/* The hex BLAKE2b-128 of code's digits, used to recognise a session fetched
 * with the same one-time code. */
#define SESSION_CODE_HASH_HEX 33
void session_code_hash(const char *code, char out[static SESSION_CODE_HASH_HEX]);

/* Flags for session_obtain. */
#define SESSION_MAY_PROMPT 1 /* ask /dev/tty for the code when none was given */

/*
 * A session for profile from the broker in cli_globals, through the cache:
 * - without code: the cached one while more than SESSION_MIN_LEFT remain,
 *   else ask the terminal (when flags allow) and fetch;
 * - with code: the cached one only when it was fetched with that very code
 *   (a code is accepted once, so asking again could only be refused),
 *   else fetch.
 * Check, fetch and write happen under the entry's lock, so concurrent calls
 * make one request. duration is seconds, 0 for the profile's maximum.
 * 0 and *ret; otherwise a CB_ERR_* with *err set (CB_ERR_NOT_FOUND: a code
 * was needed and there is no terminal). Warnings (an unsafe cache file) go
 * to stderr once. */
int session_obtain(const char *profile, const char *code, long duration, int flags,
		   struct session *ret, struct client_error *err);

/* The exit status for session_obtain's error (client_exit_code, plus
 * CLIENT_EXIT_NO_TERMINAL). */
int session_exit_code(int err);

#endif
