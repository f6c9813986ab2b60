/* SPDX-License-Identifier: MIT */
#ifndef CREDBROKER_IAM_H
#define CREDBROKER_IAM_H

#include "credbroker/sigv4.h"
#include "credbroker/sts.h"

/*
 * The little of AWS IAM the broker needs: writing a role's inline policy,
 * which is how `admin revoke-sessions` denies sessions issued before now.
 * Same transport as STS (signed Query-API POST, retries, caps); errors use
 * the STS codes and struct sts_error.
 */
struct iam_client;

/* endpoint: NULL for https://iam.amazonaws.com. IAM is global and always
 * signed for us-east-1. Plain http:// only for loopback hosts. NULL on bad
 * arguments (*ret_err = CB_ERR_INVALID) or no memory. */
struct iam_client *iam_client_new(const char *endpoint, int *ret_err);
void iam_client_free(struct iam_client *c);

/* As sts_client_set_timeouts / sts_client_set_retries. */
void iam_client_set_timeouts(struct iam_client *c, long connect_ms, long total_ms);
void iam_client_set_retries(struct iam_client *c, int attempts, long backoff_ms);

/* PutRolePolicy: create or replace the inline policy policy_name of role
 * role_name with policy_document (JSON). 0, or CB_ERR_STS_DENIED (err holds
 * AWS's code, e.g. NoSuchEntity or AccessDenied), CB_ERR_STS_UNAVAILABLE,
 * CB_ERR_STS_BAD_RESPONSE, CB_ERR_INVALID, CB_ERR_NOMEM. err may be NULL. */
int iam_put_role_policy(struct iam_client *c, const struct sigv4_creds *key,
			const char *role_name, const char *policy_name,
			const char *policy_document, struct sts_error *err);

#endif
