/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "credbroker/cbtime.h"
#include "credbroker/err.h"
#include "cache.h"
#include "cli.h"
#include "client.h"
#include "prompt.h"
#include "session.h"

/* Printable ASCII without quotes, backslash, backquote or space: safe inside
 * single quotes in a shell and on a config line. Real keys, tokens, ARNs and
 * regions are base64, alphanumerics and ":/-_+=". */
static int safe_value(const char *s)
{
	if (s == NULL || s[0] == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= 0x20 || c >= 0x7f || c == '\'' || c == '"' || c == '\\' || c == '`')
			return 0;
	}
	return 1;
}

static const char *get_str(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int session_from_json(cJSON *json, struct session *ret)
{
	if (!cJSON_IsObject(json))
		return CB_ERR_PARSE;
	struct session s = {
		.json = json,
		.broker = get_str(json, "broker"),
		.user = get_str(json, "user"),
		.profile = get_str(json, "profile"),
		.access_key_id = get_str(json, "access_key_id"),
		.secret_access_key = get_str(json, "secret_access_key"),
		.session_token = get_str(json, "session_token"),
		.expiration = get_str(json, "expiration"),
		.region = get_str(json, "region"),
		.assumed_role_arn = get_str(json, "assumed_role_arn"),
		.code_hash = get_str(json, "code_hash"),
	};
	if (s.broker == NULL || s.user == NULL || s.profile == NULL ||
	    !safe_value(s.access_key_id) || !safe_value(s.secret_access_key) ||
	    !safe_value(s.session_token) || !safe_value(s.expiration) ||
	    (s.region != NULL && !safe_value(s.region)) ||
	    (s.assumed_role_arn != NULL && !safe_value(s.assumed_role_arn)) ||
	    cbtime_parse_rfc3339(s.expiration, &s.expires) < 0)
		return CB_ERR_PARSE;
	*ret = s;
	return 0;
}

void session_free(struct session *s)
{
	cJSON_Delete(s->json); /* the CLI's cJSON hooks wipe what they free */
	memset(s, 0, sizeof(*s));
}

void session_code_hash(const char *code, char out[static SESSION_CODE_HASH_HEX])
{
	/* The broker normalises "123 456" and "123456" alike: so does this. */
	char digits[PROMPT_CODE_MAX];
	size_t n = 0;
	for (; *code != '\0' && n < sizeof(digits); code++)
		if (*code >= '0' && *code <= '9')
			digits[n++] = *code;
	uint8_t h[16];
	crypto_generichash(h, sizeof(h), (const uint8_t *)digits, n, NULL, 0);
	sodium_bin2hex(out, SESSION_CODE_HASH_HEX, h, sizeof(h));
	sodium_memzero(digits, sizeof(digits));
	sodium_memzero(h, sizeof(h));
}

static int print_json(cJSON *o, int formatted, FILE *f)
{
	char *text = formatted ? cJSON_Print(o) : cJSON_PrintUnformatted(o);
	if (text == NULL)
		return CB_ERR_NOMEM;
	size_t len = strlen(text);
	int r = fputs(text, f) < 0 || fputc('\n', f) == EOF ? CB_ERR_IO : 0;
	sodium_memzero(text, len);
	cJSON_free(text);
	return r;
}

int session_print(const struct session *s, enum session_format format, FILE *f)
{
	int r = 0;
	if (format == SESSION_FORMAT_ENV) {
		if (fprintf(f, "export AWS_ACCESS_KEY_ID='%s'\nexport AWS_SECRET_ACCESS_KEY='%s'\n"
			    "export AWS_SESSION_TOKEN='%s'\nexport AWS_CREDENTIAL_EXPIRATION='%s'\n",
			    s->access_key_id, s->secret_access_key, s->session_token, s->expiration) < 0)
			r = CB_ERR_IO;
		if (r == 0 && s->region != NULL &&
		    fprintf(f, "export AWS_REGION='%s'\nexport AWS_DEFAULT_REGION='%s'\n", s->region,
			    s->region) < 0)
			r = CB_ERR_IO;
	} else {
		cJSON *o = cJSON_CreateObject();
		if (o == NULL)
			return CB_ERR_NOMEM;
		int bad;
		if (format == SESSION_FORMAT_PROCESS) {
			bad = !cJSON_AddNumberToObject(o, "Version", 1) ||
			      !cJSON_AddStringToObject(o, "AccessKeyId", s->access_key_id) ||
			      !cJSON_AddStringToObject(o, "SecretAccessKey", s->secret_access_key) ||
			      !cJSON_AddStringToObject(o, "SessionToken", s->session_token) ||
			      !cJSON_AddStringToObject(o, "Expiration", s->expiration);
		} else {
			/* Everything the broker said, minus the cache's bookkeeping. */
			cJSON_Delete(o);
			o = cJSON_Duplicate(s->json, 1);
			bad = o == NULL;
			cJSON_DeleteItemFromObjectCaseSensitive(o, "code_hash");
		}
		r = bad ? CB_ERR_NOMEM : print_json(o, format == SESSION_FORMAT_JSON, f);
		cJSON_Delete(o);
	}
	if (r == 0 && fflush(f) != 0)
		r = CB_ERR_IO;
	return r;
}

/* Ask the broker for a session; the answer plus our bookkeeping becomes it. */
static int fetch(const struct cache_entry *e, const char *code, long duration,
		 struct session *ret, struct client_error *err)
{
	cJSON *req = cJSON_CreateObject();
	if (req == NULL || !cJSON_AddStringToObject(req, "op", "issue") ||
	    !cJSON_AddStringToObject(req, "user", e->user) ||
	    !cJSON_AddStringToObject(req, "profile", e->profile) ||
	    !cJSON_AddStringToObject(req, "code", code) ||
	    (duration > 0 && !cJSON_AddNumberToObject(req, "duration", (double)duration))) {
		cJSON_Delete(req);
		client_error_set(err, "internal", "out of memory");
		return CB_ERR_NOMEM;
	}
	cJSON *resp = NULL;
	int r = client_call(req, CLIENT_ISSUE_TIMEOUT_MS, &resp, err);
	cJSON_Delete(req);
	if (r < 0)
		return r;

	char hash[SESSION_CODE_HASH_HEX];
	session_code_hash(code, hash);
	cJSON_DeleteItemFromObjectCaseSensitive(resp, "ok");
	cJSON_DeleteItemFromObjectCaseSensitive(resp, "broker");
	cJSON_DeleteItemFromObjectCaseSensitive(resp, "user");
	cJSON_DeleteItemFromObjectCaseSensitive(resp, "code_hash");
	if (!cJSON_AddStringToObject(resp, "broker", e->broker) ||
	    !cJSON_AddStringToObject(resp, "user", e->user) ||
	    !cJSON_AddStringToObject(resp, "code_hash", hash)) {
		cJSON_Delete(resp);
		client_error_set(err, "internal", "out of memory");
		return CB_ERR_NOMEM;
	}
	/* The broker answers for the profile asked; insist on it. */
	const char *p = get_str(resp, "profile");
	if (p == NULL || strcmp(p, e->profile) != 0 || session_from_json(resp, ret) < 0) {
		cJSON_Delete(resp);
		client_error_set(err, "bad_response", "the broker's session for %s does not parse",
				 e->profile);
		return CB_ERR_PARSE;
	}
	return 0;
}

/* The cached session that may be served, or CB_ERR_NOT_FOUND. Says once
 * when the file is there but cannot be trusted. */
static int try_cache(const struct cache_entry *e, const char *code_hash, int *warned,
		     struct session *ret)
{
	struct session s;
	int r = cache_read(e, time(NULL), SESSION_MIN_LEFT, &s);
	if ((r == CB_ERR_PERM || r == CB_ERR_PARSE) && !*warned) {
		cli_error("ignoring cached session %s: %s; fetching a new one", e->path,
			  r == CB_ERR_PERM ? "unsafe owner, mode or file type" : "it does not parse");
		*warned = 1;
	}
	if (r < 0)
		return CB_ERR_NOT_FOUND;
	if (code_hash != NULL && (s.code_hash == NULL || strcmp(s.code_hash, code_hash) != 0)) {
		session_free(&s);
		return CB_ERR_NOT_FOUND;
	}
	*ret = s;
	return 0;
}

int session_exit_code(int err)
{
	return err == CB_ERR_NOT_FOUND ? CLIENT_EXIT_NO_TERMINAL : client_exit_code(err);
}

int session_obtain(const char *profile, const char *code, long duration, int flags,
		   struct session *ret, struct client_error *err)
{
	const struct cli_globals *g = &cli_globals;
	const char *broker = g->broker_url != NULL ? g->broker_url : g->socket_path;
	struct cache_entry e;
	int r = cache_entry_init(&e, broker, g->user, profile);
	if (r == CB_ERR_NOT_FOUND)
		r = CB_ERR_CONFIG; /* keep NOT_FOUND for "no terminal" */
	if (r < 0) {
		client_error_set(err, cb_errname(r), "session cache directory: %s%s", cb_strerror(r),
				 r == CB_ERR_PERM ? " (it must be a 0700 directory of yours)" : "");
		return r;
	}
	char hash[SESSION_CODE_HASH_HEX];
	const char *want_hash = NULL;
	if (code != NULL) {
		session_code_hash(code, hash);
		want_hash = hash;
	}

	/* Fast path, no lock: files are only ever replaced whole. */
	int warned = 0;
	if (try_cache(&e, want_hash, &warned, ret) == 0)
		return 0;

	r = cache_lock(&e);
	if (r < 0) {
		client_error_set(err, cb_errname(r), "cannot lock %s: %s", e.lock_path, cb_strerror(r));
		return r;
	}
	/* Someone may have fetched while we waited for the lock. */
	if (try_cache(&e, want_hash, &warned, ret) == 0) {
		cache_unlock(&e);
		return 0;
	}

	char typed[PROMPT_CODE_MAX];
	if (code == NULL) {
		char question[256];
		snprintf(question, sizeof(question), "credbroker: TOTP code for %.64s (profile %.64s): ",
			 g->user, profile);
		r = (flags & SESSION_MAY_PROMPT) ? prompt_secret(question, typed) : CB_ERR_NOT_FOUND;
		if (r < 0) {
			if (r == CB_ERR_NOT_FOUND)
				client_error_set(err, "no_terminal",
						 "no valid cached session for %s and no terminal to ask "
						 "for a TOTP code: run 'credbroker get %s' in a terminal first",
						 profile, profile);
			else
				client_error_set(err, cb_errname(r), "could not read the TOTP code: %s",
						 r == CB_ERR_INVALID ? "empty or too long" : cb_strerror(r));
			cache_unlock(&e);
			sodium_memzero(typed, sizeof(typed));
			return r;
		}
		code = typed;
	}

	struct session s;
	r = fetch(&e, code, duration, &s, err);
	sodium_memzero(typed, sizeof(typed));
	if (r == 0 && cache_write(&e, &s) < 0)
		cli_error("warning: could not store the session in %s; the next call will ask again",
			  e.path);
	cache_unlock(&e);
	if (r == 0)
		*ret = s;
	return r;
}
