/* SPDX-License-Identifier: MIT */
#ifndef CREDBROKER_STS_H
#define CREDBROKER_STS_H

#include <stddef.h>
#include <time.h>

#include "credbroker/sigv4.h"

/*
 * The AWS STS client: AssumeRole and GetCallerIdentity as signed,
 * form-encoded POSTs (libcurl), answers parsed from XML (expat) or JSON
 * (cJSON). Retries Throttling, 5xx and connection failures with jittered
 * backoff (bounded); never retries AccessDenied-class errors.
 */
struct sts_client;

/* What AWS said when it said no: its Code and Message, and the HTTP status
 * (0 when no answer came). Never contains a secret. */
struct sts_error {
	long http_status;
	char code[64];
	char message[512];
};

/* endpoint: "https://sts.eu-west-1.amazonaws.com" or NULL for the regional
 * default of region. Plain http:// is accepted only for loopback hosts.
 * NULL on bad arguments (ret_err, when not NULL, says which) or no memory. */
struct sts_client *sts_client_new(const char *region, const char *endpoint, int *ret_err);
void sts_client_free(struct sts_client *c);

/* The endpoint in use, e.g. the regional default. */
const char *sts_client_endpoint(const struct sts_client *c);

/* Tuning, mostly for tests: timeouts in milliseconds, attempts >= 1,
 * base backoff in ms. */
void sts_client_set_timeouts(struct sts_client *c, long connect_ms, long total_ms);
void sts_client_set_retries(struct sts_client *c, int attempts, long backoff_ms);
/* Ask for JSON answers (Accept: application/json) instead of XML. */
void sts_client_set_json(struct sts_client *c, int json);

struct sts_tag {
	const char *key;
	const char *value;
};

/* Every AssumeRole parameter a profile can need; NULL/0 means "not sent". */
struct sts_assume_role_params {
	const char *role_arn;
	const char *role_session_name;
	long duration_seconds;
	const char *policy;               /* inline session policy JSON */
	const char *const *policy_arns;
	size_t npolicy_arns;
	const char *external_id;
	const char *serial_number;
	const char *token_code;
	const char *source_identity;
	const struct sts_tag *tags;
	size_t ntags;
	const char *const *transitive_tag_keys;
	size_t ntransitive_tag_keys;
};

/* The form body of an AssumeRole call for p (Action, Version and every
 * parameter set, percent-encoded), appended to form. 0, CB_ERR_INVALID
 * (missing RoleArn or RoleSessionName, more than 10 policy ARNs or 50 tags,
 * a NULL entry), CB_ERR_TOO_LARGE, CB_ERR_NOMEM. Exposed for tests; form
 * may hold a TokenCode, so free it with buf_free (which wipes). */
struct buf;
int sts_assume_role_form(const struct sts_assume_role_params *p, struct buf *form);

/* Temporary credentials. secret_access_key and session_token are in
 * sodium_malloc'd memory; sts_credentials_free() wipes everything. */
struct sts_credentials {
	char *access_key_id;
	char *secret_access_key;
	char *session_token;
	time_t expiration;
	char *assumed_role_arn;      /* may be NULL if STS omitted it */
	char *assumed_role_id;       /* may be NULL */
	char *source_identity;       /* may be NULL */
};
void sts_credentials_free(struct sts_credentials *c);

struct sts_identity {
	char account[32];
	char arn[2048];
	char user_id[256];
};

/* 0 and *ret (caller frees with sts_credentials_free), or CB_ERR_STS_DENIED
 * (4xx; err holds AWS's code and message), CB_ERR_STS_UNAVAILABLE (network,
 * timeout, 5xx or throttling after the last attempt), CB_ERR_STS_BAD_RESPONSE,
 * CB_ERR_INVALID, CB_ERR_NOMEM. err may be NULL. */
int sts_assume_role(struct sts_client *c, const struct sigv4_creds *key,
		    const struct sts_assume_role_params *p,
		    struct sts_credentials **ret, struct sts_error *err);

/* Same returns; ret is filled on success. */
int sts_get_caller_identity(struct sts_client *c, const struct sigv4_creds *key,
			    struct sts_identity *ret, struct sts_error *err);

/* The parsers, exposed for tests and fuzzing. body is untrusted, of len
 * bytes (not necessarily NUL-terminated). A success answer fills ret and
 * returns 0; an error document fills err and returns CB_ERR_STS_DENIED;
 * anything else returns CB_ERR_STS_BAD_RESPONSE. */
int sts_parse_assume_role(const char *body, size_t len, struct sts_credentials **ret,
			  struct sts_error *err);
int sts_parse_caller_identity(const char *body, size_t len, struct sts_identity *ret,
			      struct sts_error *err);

#endif
