/* SPDX-License-Identifier: MIT */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "credbroker/buf.h"
#include "credbroker/err.h"
#include "credbroker/policy.h"

static void why_line(struct buf *why, const char *msg)
{
	if (why != NULL) {
		buf_puts(why, msg);
		buf_putc(why, '\n');
	}
}

bool policy_bucket_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n < 3 || n > 63)
		return false;
	bool all_digits_dots = true;
	unsigned dots = 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && c != '.' && c != '-')
			return false;
		if ((i == 0 || i == n - 1) && !alnum)
			return false;
		if (c == '.' && (name[i + 1] == '.' || name[i + 1] == '-' || name[i - 1] == '-'))
			return false;
		if (c == '.')
			dots++;
		else if (!(c >= '0' && c <= '9'))
			all_digits_dots = false;
	}
	/* "192.168.5.4" is not a bucket name. */
	return !(all_digits_dots && dots == 3);
}

static bool printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static bool depth_ok(const cJSON *j, int depth)
{
	if (depth > POLICY_MAX_DEPTH)
		return false;
	for (const cJSON *c = j->child; c != NULL; c = c->next)
		if (!depth_ok(c, depth + 1))
			return false;
	return true;
}

/* 1-based line of offset off in s. */
static unsigned line_of(const char *s, size_t off)
{
	unsigned line = 1;
	for (size_t i = 0; i < off; i++)
		line += s[i] == '\n';
	return line;
}

/* Parse len bytes as exactly one JSON value. NULL, with the reason in why,
 * on a NUL byte or \u0000 escape (cJSON would silently cut the string
 * there, so AWS would see a different policy than the file says), a syntax
 * error, trailing bytes, or nesting deeper than POLICY_MAX_DEPTH. */
static cJSON *parse_document(const char *doc, size_t len, struct buf *why)
{
	char msg[64];
	if (memchr(doc, '\0', len) != NULL) {
		why_line(why, "not JSON (contains a NUL byte)");
		return NULL;
	}
	if (memmem(doc, len, "\\u0000", 6) != NULL) {
		why_line(why, "contains a \\u0000 escape");
		return NULL;
	}
	/* A NUL-terminated copy: cJSON is then never asked to stop at len. */
	char *copy = malloc(len + 1);
	if (copy == NULL)
		return NULL;
	memcpy(copy, doc, len);
	copy[len] = '\0';
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithLengthOpts(copy, len + 1, &end, false);
	if (j == NULL) {
		size_t off = end != NULL && end >= copy && end <= copy + len ? (size_t)(end - copy) : len;
		snprintf(msg, sizeof(msg), "not JSON (line %u)", line_of(copy, off));
		why_line(why, msg);
		free(copy);
		return NULL;
	}
	size_t off = (size_t)(end - copy);
	while (off < len && strchr(" \t\r\n", copy[off]) != NULL)
		off++;
	if (off < len) {
		snprintf(msg, sizeof(msg), "not JSON (line %u: data after the document)", line_of(copy, off));
		why_line(why, msg);
		cJSON_Delete(j);
		j = NULL;
	} else if (!depth_ok(j, 1)) {
		snprintf(msg, sizeof(msg), "nested deeper than %d levels", POLICY_MAX_DEPTH);
		why_line(why, msg);
		cJSON_Delete(j);
		j = NULL;
	}
	free(copy);
	return j;
}

/* Check the shape of an IAM policy document; 0 or CB_ERR_POLICY with every
 * problem in why. */
static int check_document(const cJSON *j, struct buf *why)
{
	int r = 0;
	if (!cJSON_IsObject(j)) {
		why_line(why, "not a JSON object");
		return CB_ERR_POLICY;
	}
	static const char *const elements[] = { "Version", "Id", "Statement" };
	bool seen[3] = { false };
	for (const cJSON *c = j->child; c != NULL; c = c->next) {
		char msg[160];
		size_t i;
		for (i = 0; i < 3; i++)
			if (strcmp(c->string, elements[i]) == 0)
				break;
		if (i < 3 && !seen[i]) {
			seen[i] = true;
			continue;
		}
		if (i == 3)
			snprintf(msg, sizeof(msg), "%.64s: not an IAM policy element (Version, Id, Statement)",
				 printable(c->string) ? c->string : "(unprintable key)");
		else
			snprintf(msg, sizeof(msg), "%s: given twice", c->string);
		why_line(why, msg);
		r = CB_ERR_POLICY;
	}
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "Version");
	if (v == NULL) {
		why_line(why, "Version: missing");
		r = CB_ERR_POLICY;
	} else if (!cJSON_IsString(v) || (strcmp(v->valuestring, "2012-10-17") != 0 &&
					  strcmp(v->valuestring, "2008-10-17") != 0)) {
		why_line(why, "Version: not \"2012-10-17\"");
		r = CB_ERR_POLICY;
	}
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "Statement");
	if (st == NULL) {
		why_line(why, "Statement: missing");
		return CB_ERR_POLICY;
	}
	if (cJSON_IsObject(st)) {
		/* checked below as a one-element list */
	} else if (!cJSON_IsArray(st) || st->child == NULL) {
		why_line(why, "Statement: not an object or a non-empty list of objects");
		return CB_ERR_POLICY;
	}
	const cJSON *first = cJSON_IsObject(st) ? st : st->child;
	unsigned i = 0;
	for (const cJSON *s = first; s != NULL; s = cJSON_IsObject(st) ? NULL : s->next, i++) {
		char msg[128];
		if (!cJSON_IsObject(s)) {
			snprintf(msg, sizeof(msg), "Statement[%u]: not an object", i);
			why_line(why, msg);
			r = CB_ERR_POLICY;
			continue;
		}
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(s, "Effect");
		if (!cJSON_IsString(e) || (strcmp(e->valuestring, "Allow") != 0 &&
					   strcmp(e->valuestring, "Deny") != 0)) {
			snprintf(msg, sizeof(msg), "Statement[%u].Effect: not \"Allow\" or \"Deny\"", i);
			why_line(why, msg);
			r = CB_ERR_POLICY;
		}
		const cJSON *sid = cJSON_GetObjectItemCaseSensitive(s, "Sid");
		if (cJSON_IsString(sid) && strcmp(sid->valuestring, POLICY_BUCKET_DENY_SID) == 0) {
			snprintf(msg, sizeof(msg), "Statement[%u].Sid: %s is reserved for the broker", i,
				 POLICY_BUCKET_DENY_SID);
			why_line(why, msg);
			r = CB_ERR_POLICY;
		}
	}
	return r;
}

static cJSON *bucket_deny(const char *const *buckets, size_t nbuckets)
{
	cJSON *s = cJSON_CreateObject();
	if (s == NULL)
		return NULL;
	cJSON *res = NULL;
	if (cJSON_AddStringToObject(s, "Sid", POLICY_BUCKET_DENY_SID) == NULL ||
	    cJSON_AddStringToObject(s, "Effect", "Deny") == NULL ||
	    cJSON_AddStringToObject(s, "Action", "s3:*") == NULL ||
	    (res = cJSON_AddArrayToObject(s, "Resource")) == NULL)
		goto fail;
	for (size_t i = 0; i < nbuckets; i++) {
		char arn[96];
		for (int object = 0; object < 2; object++) {
			snprintf(arn, sizeof(arn), "arn:aws:s3:::%s%s", buckets[i], object ? "/*" : "");
			cJSON *a = cJSON_CreateString(arn);
			if (a == NULL)
				goto fail;
			cJSON_AddItemToArray(res, a);
		}
	}
	return s;
fail:
	cJSON_Delete(s);
	return NULL;
}

int policy_build(const char *doc, size_t len, const char *const *buckets, size_t nbuckets,
		 struct buf *ret, struct buf *why)
{
	if (doc == NULL && nbuckets == 0)
		return CB_ERR_INVALID;
	int r = 0;
	for (size_t i = 0; i < nbuckets; i++)
		if (!policy_bucket_name_valid(buckets[i])) {
			char msg[128];
			snprintf(msg, sizeof(msg), "confidential bucket \"%.63s\": not an S3 bucket name",
				 buckets[i]);
			why_line(why, msg);
			r = CB_ERR_POLICY;
		}
	cJSON *j;
	if (doc != NULL) {
		j = parse_document(doc, len, why);
		if (j == NULL)
			return CB_ERR_POLICY;
		if (check_document(j, why) < 0)
			r = CB_ERR_POLICY;
	} else {
		j = cJSON_CreateObject();
		if (j == NULL || cJSON_AddStringToObject(j, "Version", "2012-10-17") == NULL ||
		    cJSON_AddArrayToObject(j, "Statement") == NULL) {
			cJSON_Delete(j);
			return CB_ERR_NOMEM;
		}
	}
	if (r < 0) {
		cJSON_Delete(j);
		return r;
	}

	if (nbuckets > 0) {
		cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "Statement");
		if (cJSON_IsObject(st)) {
			/* A lone statement object becomes a list so ours can follow it. */
			cJSON *list = cJSON_CreateArray();
			cJSON *one = cJSON_DetachItemViaPointer(j, st);
			if (list == NULL) {
				cJSON_Delete(one);
				cJSON_Delete(j);
				return CB_ERR_NOMEM;
			}
			cJSON_AddItemToArray(list, one);
			if (!cJSON_AddItemToObject(j, "Statement", list)) {
				cJSON_Delete(list);
				cJSON_Delete(j);
				return CB_ERR_NOMEM;
			}
			st = list;
		}
		cJSON *deny = bucket_deny(buckets, nbuckets);
		if (deny == NULL) {
			cJSON_Delete(j);
			return CB_ERR_NOMEM;
		}
		cJSON_AddItemToArray(st, deny);
	}

	char *out = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	if (out == NULL)
		return CB_ERR_NOMEM;
	r = buf_puts(ret, out);
	free(out);
	return r;
}

int policy_check_limits(size_t inline_len, const char *const *arns, size_t narns, struct buf *why)
{
	int r = 0;
	char msg[192];
	if (narns > POLICY_MAX_ARNS) {
		snprintf(msg, sizeof(msg), "%zu managed policy ARNs, STS allows at most %d", narns,
			 POLICY_MAX_ARNS);
		why_line(why, msg);
		r = CB_ERR_POLICY;
	}
	size_t arn_len = 0;
	for (size_t i = 0; i < narns; i++)
		arn_len += strlen(arns[i]);
	size_t total = inline_len + arn_len;
	if (total > POLICY_MAX_PLAINTEXT) {
		snprintf(msg, sizeof(msg),
			 "session policies too large: inline policy %zu + policy ARNs %zu = %zu characters, "
			 "%zu over STS's limit of %d",
			 inline_len, arn_len, total, total - POLICY_MAX_PLAINTEXT, POLICY_MAX_PLAINTEXT);
		why_line(why, msg);
		r = CB_ERR_POLICY;
	}
	return r;
}
