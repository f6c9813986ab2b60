/* SPDX-License-Identifier: MIT */
#ifndef CREDBROKER_AWSAPI_H
#define CREDBROKER_AWSAPI_H

#include <stdbool.h>
#include <stddef.h>

#include "credbroker/sigv4.h"

/*
 * The transport under the STS and IAM clients: one signed AWS Query-API POST
 * (form-encoded body, SigV4 Authorization header) over libcurl, with TLS
 * peer and host verification always on, no redirects, timeouts, a capped
 * response, and bounded retries with jittered exponential backoff. Also the
 * one parser of AWS answers (XML with expat, JSON with cJSON), which pulls
 * named leaf values out by path and recognises AWS error documents.
 *
 * Errors use the STS codes for every AWS service: CB_ERR_STS_DENIED (AWS
 * said no), CB_ERR_STS_UNAVAILABLE (no usable answer after the last
 * attempt), CB_ERR_STS_BAD_RESPONSE (an answer that does not parse).
 */
struct awsapi_client;
struct buf;

/* Responses larger than this are refused while they arrive. */
#define AWSAPI_MAX_RESPONSE (1024 * 1024)

/* What AWS said when it said no: its Code and Message (truncated, control
 * characters replaced, cut at the first line break, and withheld when it
 * quotes a secret that was sent), and the HTTP status (0: no answer). */
struct awsapi_error {
	long http_status;
	char code[64];
	char message[512];
};

/* A client for one service at one endpoint. service is the SigV4 service
 * name ("sts", "iam"), sign_region the SigV4 region. endpoint is an
 * absolute http(s) URL without user info, query or fragment; plain http://
 * is accepted only when the host is a loopback address (127.0.0.0/8, ::1,
 * localhost). NULL on bad arguments (*ret_err, when ret_err is not NULL,
 * says CB_ERR_INVALID) or no memory (CB_ERR_NOMEM). */
struct awsapi_client *awsapi_client_new(const char *service, const char *sign_region,
					const char *endpoint, int *ret_err);

/* Free the client; NULL is fine. */
void awsapi_client_free(struct awsapi_client *c);

/* The endpoint in use (static for the client's lifetime). */
const char *awsapi_client_endpoint(const struct awsapi_client *c);

/* Timeouts in milliseconds (values <= 0 keep the current ones). Defaults:
 * 5000 to connect, 15000 for a whole attempt. */
void awsapi_client_set_timeouts(struct awsapi_client *c, long connect_ms, long total_ms);

/* attempts in 1..10, backoff base in ms (0..60000; the n-th retry waits
 * between half and all of base * 2^(n-1), capped at 20 s). Out-of-range
 * values are clamped. Defaults: 3 attempts, 200 ms. */
void awsapi_client_set_retries(struct awsapi_client *c, int attempts, long backoff_ms);

/* Ask for JSON answers (Accept: application/json) instead of XML. */
void awsapi_client_set_json(struct awsapi_client *c, bool json);

/* Append "&name=value" (no '&' when form is empty) to a form body, both
 * percent-encoded as SigV4 wants except that a space becomes '+' (as
 * botocore sends it). 0, CB_ERR_TOO_LARGE or CB_ERR_NOMEM. */
int awsapi_form_add(struct buf *form, const char *name, const char *value);

/* POST form (form->len bytes, "Action=...&Version=..." and the parameters)
 * signed with key. Connection failures, timeouts, HTTP 5xx and throttling
 * errors are retried; other refusals are not. On success (HTTP 2xx) returns
 * 0 with the answer appended to body, which the caller initialised with
 * buf_init(body, AWSAPI_MAX_RESPONSE) and frees with buf_free (it wipes).
 * Otherwise CB_ERR_STS_DENIED / CB_ERR_STS_UNAVAILABLE /
 * CB_ERR_STS_BAD_RESPONSE / CB_ERR_INVALID / CB_ERR_NOMEM, with err (may be
 * NULL) filled, and body emptied. */
int awsapi_call(struct awsapi_client *c, const struct sigv4_creds *key, const struct buf *form,
		struct buf *body, struct awsapi_error *err);

/* A value to pull out of an answer. path names the leaf from the root
 * element, e.g. "AssumeRoleResponse/AssumeRoleResult/Credentials/AccessKeyId"
 * (the same path works for AWS's JSON shape). A value longer than max
 * bytes makes the answer bad. Secret values are gathered in sodium_malloc'd
 * memory. */
struct awsapi_field {
	const char *path;
	size_t max;
	bool secret;
	char *value; /* out: NUL-terminated, trimmed; NULL when absent */
	size_t len;  /* out */
};

/* Parse an answer (XML or JSON, told apart by its first byte) of len bytes
 * (not necessarily NUL-terminated) and fill the fields found. Returns 0 for a
 * well-formed answer that is not an error document; CB_ERR_STS_DENIED with
 * err filled for an AWS error document; CB_ERR_STS_BAD_RESPONSE for anything
 * else (malformed, truncated, DTDs or entities, nesting deeper than 32,
 * a value over its max, a repeated value, control characters in a value);
 * CB_ERR_NOMEM. On any non-zero return every field value is freed. The
 * caller frees the values of a success with awsapi_fields_free(). */
int awsapi_parse(const char *body, size_t len, struct awsapi_field *fields, size_t nfields,
		 struct awsapi_error *err);

/* Free (secret ones wiped) and NULL every value still set in fields. */
void awsapi_fields_free(struct awsapi_field *fields, size_t nfields);

/* Free one value taken from a field: sodium_free for a secret one. */
void awsapi_value_free(char *value, bool secret);

/* true when host (a URL host, IPv6 in brackets or not) is a loopback
 * address or "localhost". */
bool awsapi_host_is_loopback(const char *host);

#endif
