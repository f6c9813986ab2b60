/* SPDX-License-Identifier: MIT */
#ifndef CREDBROKER_POLICY_H
#define CREDBROKER_POLICY_H
#include <stdbool.h>
#include <stddef.h>
/*
 * Session policies: the inline IAM policy document a profile sends with
 * AssumeRole, and STS's size limits on it. Pure functions, no I/O.
 */
struct buf;

/* STS limits on session policies (AssumeRole API reference). */
#define POLICY_MAX_ARNS 10        /* managed session policy ARNs */
#define POLICY_MAX_PLAINTEXT 2048 /* inline + managed ARNs, characters */
#define POLICY_MAX_DEPTH 32       /* our own nesting cap for policy documents */

/* The Sid of the statement policy_build appends for confidential buckets. */
#define POLICY_BUCKET_DENY_SID "CredbrokerDenyConfidentialBuckets"

/* True when name is a valid S3 bucket name: 3..63 characters of lowercase
 * letters, digits, dots and hyphens, starting and ending with a letter or
 * digit, no "..", not shaped like an IPv4 address. */
bool policy_bucket_name_valid(const char *name);

/* Build the inline session policy. doc (len bytes, need not be
 * NUL-terminated; NULL when there is only buckets) must be an IAM policy
 * document: a JSON object with "Version" ("2012-10-17" or "2008-10-17"),
 * "Statement" (an object or a non-empty array of objects, each with an
 * "Effect" of "Allow" or "Deny") and optionally "Id", nesting at most
 * POLICY_MAX_DEPTH. When nbuckets > 0 one statement is appended:
 *   {"Sid":"CredbrokerDenyConfidentialBuckets","Effect":"Deny","Action":"s3:*",
 *    "Resource":[...]}
 * whose Resource lists, for each bucket B, "arn:aws:s3:::B" and the same
 * followed by the object wildcard ("/" and "*").
 * The minified document is appended to ret. 0, or CB_ERR_POLICY with one line
 * per problem ("not JSON (line 3)", "no Statement", ...) appended to why
 * (may be NULL) and ret unchanged; CB_ERR_INVALID when doc is NULL and there
 * are no buckets; CB_ERR_NOMEM / CB_ERR_TOO_LARGE from ret. */
int policy_build(const char *doc, size_t len, const char *const *buckets, size_t nbuckets,
		 struct buf *ret, struct buf *why);

/* STS's limits, checked before any AssumeRole: at most POLICY_MAX_ARNS
 * managed policy ARNs, and inline_len plus the lengths of the ARNs at most
 * POLICY_MAX_PLAINTEXT characters. 0, or CB_ERR_POLICY with one line per
 * broken limit appended to why (may be NULL), saying by how much. */
int policy_check_limits(size_t inline_len, const char *const *arns, size_t narns, struct buf *why);
#endif
