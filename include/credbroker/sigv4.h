/* SPDX-License-Identifier: MIT */
#ifndef CREDBROKER_SIGV4_H
#define CREDBROKER_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/*
 * AWS Signature Version 4 (HMAC-SHA256 via OpenSSL), for an Authorization
 * header or a presigned query string. Proven byte for byte against AWS's
 * test suites (tests/unit/test-sigv4.c).
 */

/* Caps on what the signer accepts; more is refused with CB_ERR_TOO_LARGE. */
#define SIGV4_MAX_HEADERS 100           /* caller headers per request */
#define SIGV4_MAX_PATH (16 * 1024)      /* request path, bytes */
#define SIGV4_MAX_QUERY (16 * 1024)     /* request query, bytes */
#define SIGV4_MAX_HEADER (16 * 1024)    /* one header's name plus value */
#define SIGV4_MAX_TOKEN (16 * 1024)     /* session token */
#define SIGV4_MAX_SECRET 128            /* secret access key */
#define SIGV4_MAX_EXPIRES 604800        /* presign: seven days */

/* Long-term or temporary credentials. The strings are borrowed; the signer
 * copies nothing secret except into wiped scratch memory. */
struct sigv4_creds {
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token; /* NULL for long-term keys */
};

struct sigv4_header {
	const char *name;
	const char *value;
};

/* What is signed. path and query are exactly as on the request line (still
 * percent-encoded, before normalisation); path must start with '/' ("" and
 * NULL mean "/"); query is NULL or "" when absent. Query keys and values are
 * percent-decoded and re-encoded, so a '%' there must start a valid %XX.
 * headers must include Host. Duplicate names are allowed and are joined with
 * "," in order, as the suite requires. Values must be on one line (no CR,
 * LF or other control bytes but tab): unfold obs-fold lines with a space
 * first. The signer owns X-Amz-Date, X-Amz-Security-Token and Authorization
 * (and x-amz-content-sha256 when sign_body): passing them is CB_ERR_INVALID.
 * body may be NULL when body_len is 0; the payload hash is always SHA-256 of
 * the body. */
struct sigv4_request {
	const char *method;
	const char *path;
	const char *query;
	const struct sigv4_header *headers;
	size_t nheaders;
	const void *body;
	size_t body_len;
};

struct sigv4_params {
	const char *region;
	const char *service;
	time_t when;             /* signing time, UTC seconds */
	bool normalize_path;     /* remove dot segments and duplicate slashes (true for all but S3) */
	bool sign_body;          /* header mode: add and sign x-amz-content-sha256 (presign ignores it) */
	bool omit_session_token; /* the token is sent but not signed (the suite's post-sts-header-after) */
	unsigned expires;        /* presign only: X-Amz-Expires, 1..604800 */
};

/* The result of a signing; every pointer is heap memory freed (and wiped)
 * by sigv4_result_free(). */
struct sigv4_result {
	char *canonical_request;
	char *string_to_sign;
	char signature[65];      /* lowercase hex */
	char amz_date[17];       /* "20150830T123600Z" */
	char payload_hash[65];   /* hex SHA-256 of the body */
	/* Header mode: the value of the Authorization header. The caller also
	 * sends X-Amz-Date: amz_date, X-Amz-Security-Token when there is a token,
	 * and x-amz-content-sha256: payload_hash when sign_body. */
	char *authorization;
	/* Presign mode: the full query string to put after '?', including the
	 * request's own parameters (re-encoded, sorted), the X-Amz-* ones and
	 * X-Amz-Signature, then X-Amz-Security-Token when omit_session_token.
	 * The caller sends no X-Amz-Date/Authorization header in this mode. */
	char *presigned_query;
	/* Both modes: "host;x-amz-date;..." */
	char *signed_headers;
};

/* Sign for an Authorization header. 0, or CB_ERR_INVALID (malformed or
 * reserved input), CB_ERR_TOO_LARGE (over a SIGV4_MAX_* cap), CB_ERR_NOMEM,
 * CB_ERR_CRYPTO; ret is written only on success and then holds the
 * canonical request, string to sign, signature and authorization. */
int sigv4_sign_header(const struct sigv4_request *req, const struct sigv4_creds *creds,
		      const struct sigv4_params *params, struct sigv4_result *ret);

/* Sign as a presigned URL (query-string authentication): the session token,
 * unless omit_session_token, is a signed X-Amz-Security-Token parameter.
 * params->expires must be 1..SIGV4_MAX_EXPIRES, and the request's query must
 * not already hold an X-Amz-* parameter the signer adds. Same returns;
 * ret->authorization is NULL and ret->presigned_query is set. */
int sigv4_presign(const struct sigv4_request *req, const struct sigv4_creds *creds,
		  const struct sigv4_params *params, struct sigv4_result *ret);

/* Wipe and free what a successful signing allocated; r is left zeroed, and a
 * zeroed result may be freed again. */
void sigv4_result_free(struct sigv4_result *r);

/* RFC 3986 percent-encoding of n bytes as AWS wants it: unreserved
 * characters (A-Z a-z 0-9 - _ . ~) stay, everything else becomes %XX
 * (uppercase hex); '/' stays too when keep_slash. Appends to out: 0, or
 * CB_ERR_TOO_LARGE / CB_ERR_NOMEM with out unchanged. */
struct buf;
int sigv4_uri_encode(struct buf *out, const char *s, size_t n, bool keep_slash);

#endif
