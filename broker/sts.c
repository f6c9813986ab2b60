/* SPDX-License-Identifier: MIT */
/*
 * AWS STS: AssumeRole and GetCallerIdentity over the awsapi transport.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "credbroker/awsapi.h"
#include "credbroker/buf.h"
#include "credbroker/cbtime.h"
#include "credbroker/err.h"
#include "credbroker/sts.h"

/* A form body: RoleArn, a 2,048-character policy, ten ARNs, fifty tags... */
#define MAX_FORM (64 * 1024)
#define MAX_POLICY_ARNS 10
#define MAX_TAGS 50

struct sts_client {
	struct awsapi_client *api;
};

struct sts_client *sts_client_new(const char *region, const char *endpoint, int *ret_err)
{
	char def[128];
	int r = CB_ERR_INVALID;
	if (region == NULL || region[0] == '\0' || strlen(region) > 32)
		goto fail;
	if (endpoint == NULL) {
		/* The China partition has its own domain. */
		const char *suffix = strncmp(region, "cn-", 3) == 0 ? ".cn" : "";
		snprintf(def, sizeof(def), "https://sts.%s.amazonaws.com%s", region, suffix);
		endpoint = def;
	}
	struct sts_client *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		r = CB_ERR_NOMEM;
		goto fail;
	}
	c->api = awsapi_client_new("sts", region, endpoint, &r);
	if (c->api == NULL) {
		free(c);
		goto fail;
	}
	return c;
fail:
	if (ret_err != NULL)
		*ret_err = r;
	return NULL;
}

void sts_client_free(struct sts_client *c)
{
	if (c == NULL)
		return;
	awsapi_client_free(c->api);
	free(c);
}

void sts_client_set_timeouts(struct sts_client *c, long connect_ms, long total_ms)
{
	awsapi_client_set_timeouts(c->api, connect_ms, total_ms);
}

void sts_client_set_retries(struct sts_client *c, int attempts, long backoff_ms)
{
	awsapi_client_set_retries(c->api, attempts, backoff_ms);
}

void sts_client_set_json(struct sts_client *c, int json)
{
	awsapi_client_set_json(c->api, json != 0);
}

const char *sts_client_endpoint(const struct sts_client *c)
{
	return awsapi_client_endpoint(c->api);
}

void sts_credentials_free(struct sts_credentials *c)
{
	if (c == NULL)
		return;
	awsapi_value_free(c->access_key_id, false);
	awsapi_value_free(c->secret_access_key, true);
	awsapi_value_free(c->session_token, true);
	awsapi_value_free(c->assumed_role_arn, false);
	awsapi_value_free(c->assumed_role_id, false);
	awsapi_value_free(c->source_identity, false);
	sodium_memzero(c, sizeof(*c));
	free(c);
}

static void copy_error(struct sts_error *dst, const struct awsapi_error *src)
{
	if (dst == NULL)
		return;
	dst->http_status = src->http_status;
	snprintf(dst->code, sizeof(dst->code), "%s", src->code);
	snprintf(dst->message, sizeof(dst->message), "%s", src->message);
}

static void clear_error(struct sts_error *err)
{
	if (err != NULL)
		memset(err, 0, sizeof(*err));
}

/* "1700000000", "1.7E9" already rounded by the parser, or RFC 3339. */
static int parse_expiration(const char *s, time_t *ret)
{
	size_t n = strspn(s, "0123456789");
	if (n > 0 && (s[n] == '\0' || (s[n] == '.' && s[n + 1 + strspn(s + n + 1, "0123456789")] == '\0'))) {
		if (n > 12)
			return CB_ERR_INVALID;
		*ret = (time_t)strtoll(s, NULL, 10);
		return 0;
	}
	return cbtime_parse_rfc3339(s, ret);
}

enum { AR_KEY, AR_SECRET, AR_TOKEN, AR_EXPIRATION, AR_ARN, AR_ROLE_ID, AR_SOURCE, AR_N };

int sts_parse_assume_role(const char *body, size_t len, struct sts_credentials **ret,
			  struct sts_error *err)
{
#define R "AssumeRoleResponse/AssumeRoleResult/"
	struct awsapi_field f[AR_N] = {
		[AR_KEY] = { .path = R "Credentials/AccessKeyId", .max = 128 },
		[AR_SECRET] = { .path = R "Credentials/SecretAccessKey", .max = 256, .secret = true },
		[AR_TOKEN] = { .path = R "Credentials/SessionToken", .max = SIGV4_MAX_TOKEN, .secret = true },
		[AR_EXPIRATION] = { .path = R "Credentials/Expiration", .max = 64 },
		[AR_ARN] = { .path = R "AssumedRoleUser/Arn", .max = 2048 },
		[AR_ROLE_ID] = { .path = R "AssumedRoleUser/AssumedRoleId", .max = 512 },
		[AR_SOURCE] = { .path = R "SourceIdentity", .max = 128 },
	};
#undef R
	struct awsapi_error e = { 0 };
	clear_error(err);
	int r = awsapi_parse(body, len, f, AR_N, &e);
	if (r == CB_ERR_STS_DENIED)
		copy_error(err, &e);
	if (r < 0)
		return r;

	time_t exp = 0;
	struct sts_credentials *c = NULL;
	for (int i = AR_KEY; i <= AR_EXPIRATION; i++)
		if (f[i].value == NULL || f[i].len == 0) {
			r = CB_ERR_STS_BAD_RESPONSE;
			goto out;
		}
	if (parse_expiration(f[AR_EXPIRATION].value, &exp) < 0) {
		r = CB_ERR_STS_BAD_RESPONSE;
		goto out;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		r = CB_ERR_NOMEM;
		goto out;
	}
	/* Hand the values over; what is taken is not freed below. */
	c->access_key_id = f[AR_KEY].value;
	c->secret_access_key = f[AR_SECRET].value;
	c->session_token = f[AR_TOKEN].value;
	c->assumed_role_arn = f[AR_ARN].value;
	c->assumed_role_id = f[AR_ROLE_ID].value;
	c->source_identity = f[AR_SOURCE].value;
	c->expiration = exp;
	f[AR_KEY].value = f[AR_SECRET].value = f[AR_TOKEN].value = NULL;
	f[AR_ARN].value = f[AR_ROLE_ID].value = f[AR_SOURCE].value = NULL;
	*ret = c;
	r = 0;
out:
	awsapi_fields_free(f, AR_N);
	return r;
}

enum { GCI_ARN, GCI_ACCOUNT, GCI_USER, GCI_N };

int sts_parse_caller_identity(const char *body, size_t len, struct sts_identity *ret,
			      struct sts_error *err)
{
#define R "GetCallerIdentityResponse/GetCallerIdentityResult/"
	struct awsapi_field f[GCI_N] = {
		[GCI_ARN] = { .path = R "Arn", .max = sizeof(ret->arn) - 1 },
		[GCI_ACCOUNT] = { .path = R "Account", .max = sizeof(ret->account) - 1 },
		[GCI_USER] = { .path = R "UserId", .max = sizeof(ret->user_id) - 1 },
	};
#undef R
	struct awsapi_error e = { 0 };
	clear_error(err);
	int r = awsapi_parse(body, len, f, GCI_N, &e);
	if (r == CB_ERR_STS_DENIED)
		copy_error(err, &e);
	if (r < 0)
		return r;
	for (int i = 0; i < GCI_N; i++)
		if (f[i].value == NULL || f[i].len == 0) {
			r = CB_ERR_STS_BAD_RESPONSE;
			goto out;
		}
	memcpy(ret->arn, f[GCI_ARN].value, f[GCI_ARN].len + 1);
	memcpy(ret->account, f[GCI_ACCOUNT].value, f[GCI_ACCOUNT].len + 1);
	memcpy(ret->user_id, f[GCI_USER].value, f[GCI_USER].len + 1);
out:
	awsapi_fields_free(f, GCI_N);
	return r;
}

/* ---- the calls ---- */

static int add_indexed(struct buf *form, const char *prefix, size_t i, const char *suffix,
		       const char *value)
{
	char name[96];
	if (value == NULL)
		return CB_ERR_INVALID;
	snprintf(name, sizeof(name), "%s.%zu%s", prefix, i + 1, suffix);
	return awsapi_form_add(form, name, value);
}

int sts_assume_role_form(const struct sts_assume_role_params *p, struct buf *form)
{
	if (p == NULL || p->role_arn == NULL || p->role_arn[0] == '\0' ||
	    p->role_session_name == NULL || p->role_session_name[0] == '\0' ||
	    p->duration_seconds < 0 || p->npolicy_arns > MAX_POLICY_ARNS || p->ntags > MAX_TAGS ||
	    p->ntransitive_tag_keys > MAX_TAGS || (p->npolicy_arns > 0 && p->policy_arns == NULL) ||
	    (p->ntags > 0 && p->tags == NULL) ||
	    (p->ntransitive_tag_keys > 0 && p->transitive_tag_keys == NULL))
		return CB_ERR_INVALID;
	int r = awsapi_form_add(form, "Action", "AssumeRole");
	if (r == 0)
		r = awsapi_form_add(form, "Version", "2011-06-15");
	if (r == 0)
		r = awsapi_form_add(form, "RoleArn", p->role_arn);
	if (r == 0)
		r = awsapi_form_add(form, "RoleSessionName", p->role_session_name);
	if (r == 0 && p->duration_seconds > 0) {
		char d[24];
		snprintf(d, sizeof(d), "%ld", p->duration_seconds);
		r = awsapi_form_add(form, "DurationSeconds", d);
	}
	if (r == 0 && p->policy != NULL)
		r = awsapi_form_add(form, "Policy", p->policy);
	for (size_t i = 0; r == 0 && i < p->npolicy_arns; i++)
		r = add_indexed(form, "PolicyArns.member", i, ".arn", p->policy_arns[i]);
	if (r == 0 && p->external_id != NULL)
		r = awsapi_form_add(form, "ExternalId", p->external_id);
	if (r == 0 && p->serial_number != NULL)
		r = awsapi_form_add(form, "SerialNumber", p->serial_number);
	if (r == 0 && p->token_code != NULL)
		r = awsapi_form_add(form, "TokenCode", p->token_code);
	if (r == 0 && p->source_identity != NULL)
		r = awsapi_form_add(form, "SourceIdentity", p->source_identity);
	for (size_t i = 0; r == 0 && i < p->ntags; i++) {
		r = add_indexed(form, "Tags.member", i, ".Key", p->tags[i].key);
		if (r == 0)
			r = add_indexed(form, "Tags.member", i, ".Value", p->tags[i].value);
	}
	for (size_t i = 0; r == 0 && i < p->ntransitive_tag_keys; i++)
		r = add_indexed(form, "TransitiveTagKeys.member", i, "", p->transitive_tag_keys[i]);
	return r;
}

/* One call: post form, parse the 2xx answer with parse(). */
static int call(struct sts_client *c, const struct sigv4_creds *key, const struct buf *form,
		struct buf *body, struct sts_error *err)
{
	struct awsapi_error e = { 0 };
	int r = awsapi_call(c->api, key, form, body, &e);
	if (r < 0)
		copy_error(err, &e);
	return r;
}

int sts_assume_role(struct sts_client *c, const struct sigv4_creds *key,
		    const struct sts_assume_role_params *p,
		    struct sts_credentials **ret, struct sts_error *err)
{
	struct buf form, body;
	clear_error(err);
	if (c == NULL || key == NULL || ret == NULL)
		return CB_ERR_INVALID;
	buf_init(&form, MAX_FORM); /* may carry a TokenCode: buf_free wipes it */
	buf_init(&body, AWSAPI_MAX_RESPONSE);
	int r = sts_assume_role_form(p, &form);
	if (r == CB_ERR_TOO_LARGE)
		r = CB_ERR_INVALID;
	if (r == 0)
		r = call(c, key, &form, &body, err);
	if (r == 0)
		r = sts_parse_assume_role(buf_str(&body), body.len, ret, err);
	buf_free(&form);
	buf_free(&body);
	return r;
}

int sts_get_caller_identity(struct sts_client *c, const struct sigv4_creds *key,
			    struct sts_identity *ret, struct sts_error *err)
{
	struct buf form, body;
	struct sts_identity id;
	clear_error(err);
	if (c == NULL || key == NULL || ret == NULL)
		return CB_ERR_INVALID;
	buf_init(&form, 256);
	buf_init(&body, AWSAPI_MAX_RESPONSE);
	int r = awsapi_form_add(&form, "Action", "GetCallerIdentity");
	if (r == 0)
		r = awsapi_form_add(&form, "Version", "2011-06-15");
	if (r == 0)
		r = call(c, key, &form, &body, err);
	if (r == 0)
		r = sts_parse_caller_identity(buf_str(&body), body.len, &id, err);
	if (r == 0)
		*ret = id;
	buf_free(&form);
	buf_free(&body);
	return r;
}
