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
 * percent-encoded, before normalisation); query is NULL or "" when absent.
 * headers must include Host. Duplicate names are allowed and are joined with
 * "," in order, as the suite requires. */
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
	bool sign_body;          /* add and sign x-amz-content-sha256 */
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
	 * request's own parameters, the X-Amz-* ones and X-Amz-Signature. */
	char *presigned_query;
};

/* Sign for an Authorization header. 0, or CB_ERR_INVALID / CB_ERR_NOMEM /
 * CB_ERR_CRYPTO; ret is written only on success. */
int sigv4_sign_header(const struct sigv4_request *req, const struct sigv4_creds *creds,
		      const struct sigv4_params *params, struct sigv4_result *ret);

/* Sign as a presigned URL (query-string authentication). Same returns. */
int sigv4_presign(const struct sigv4_request *req, const struct sigv4_creds *creds,
		  const struct sigv4_params *params, struct sigv4_result *ret);

/* Wipe and free what a successful signing allocated. */
void sigv4_result_free(struct sigv4_result *r);

/* RFC 3986 percent-encoding of n bytes as AWS wants it: unreserved
 * characters (A-Z a-z 0-9 - _ . ~) stay, everything else becomes %XX
 * (uppercase hex); '/' stays too when keep_slash. Appends to out. */
struct buf;
int sigv4_uri_encode(struct buf *out, const char *s, size_t n, bool keep_slash);

#endif
