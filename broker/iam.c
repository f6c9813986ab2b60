/* SPDX-License-Identifier: MIT */
/*
 * AWS IAM: PutRolePolicy over the awsapi transport.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "credbroker/awsapi.h"
#include "credbroker/buf.h"
#include "credbroker/err.h"
#include "credbroker/iam.h"

/* IAM's own limit on a role's inline policies is 10,240 characters. */
#define MAX_FORM (64 * 1024)

struct iam_client {
	struct awsapi_client *api;
};

struct iam_client *iam_client_new(const char *endpoint, int *ret_err)
{
	int r = CB_ERR_NOMEM;
	struct iam_client *c = calloc(1, sizeof(*c));
	if (c == NULL)
		goto fail;
	c->api = awsapi_client_new("iam", "us-east-1",
				   endpoint != NULL ? endpoint : "https://iam.amazonaws.com", &r);
	if (c->api == NULL)
		goto fail;
	return c;
fail:
	free(c);
	if (ret_err != NULL)
		*ret_err = r;
	return NULL;
}

void iam_client_free(struct iam_client *c)
{
	if (c == NULL)
		return;
	awsapi_client_free(c->api);
	free(c);
}

void iam_client_set_timeouts(struct iam_client *c, long connect_ms, long total_ms)
{
	awsapi_client_set_timeouts(c->api, connect_ms, total_ms);
}

void iam_client_set_retries(struct iam_client *c, int attempts, long backoff_ms)
{
	awsapi_client_set_retries(c->api, attempts, backoff_ms);
}

int iam_put_role_policy(struct iam_client *c, const struct sigv4_creds *key,
			const char *role_name, const char *policy_name,
			const char *policy_document, struct sts_error *err)
{
	struct awsapi_error e = { 0 };
	struct buf form, body;
	if (err != NULL)
		memset(err, 0, sizeof(*err));
	if (c == NULL || key == NULL || role_name == NULL || role_name[0] == '\0' ||
	    policy_name == NULL || policy_name[0] == '\0' || policy_document == NULL ||
	    policy_document[0] == '\0')
		return CB_ERR_INVALID;
	buf_init(&form, MAX_FORM);
	buf_init(&body, AWSAPI_MAX_RESPONSE);
	int r = awsapi_form_add(&form, "Action", "PutRolePolicy");
	if (r == 0)
		r = awsapi_form_add(&form, "Version", "2010-05-08");
	if (r == 0)
		r = awsapi_form_add(&form, "RoleName", role_name);
	if (r == 0)
		r = awsapi_form_add(&form, "PolicyName", policy_name);
	if (r == 0)
		r = awsapi_form_add(&form, "PolicyDocument", policy_document);
	if (r == CB_ERR_TOO_LARGE)
		r = CB_ERR_INVALID;
	if (r == 0)
		r = awsapi_call(c->api, key, &form, &body, &e);
	/* The answer carries nothing but a request id; it must still be an
	 * answer and not an error document. */
	if (r == 0)
		r = awsapi_parse(buf_str(&body), body.len, NULL, 0, &e);
	if (r < 0 && err != NULL) {
		err->http_status = e.http_status;
		snprintf(err->code, sizeof(err->code), "%s", e.code);
		snprintf(err->message, sizeof(err->message), "%s", e.message);
	}
	buf_free(&form);
	buf_free(&body);
	return r;
}
