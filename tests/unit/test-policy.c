/* SPDX-License-Identifier: MIT */
/*
 * Session policies: the document an administrator writes comes out minified
 * with the confidential-bucket Deny appended, anything that is not an IAM
 * policy is refused with a reason, and STS's limits are enforced to the
 * character. The shipped policies/ are checked with the ARNs the example
 * config uses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "credbroker/buf.h"
#include "credbroker/err.h"
#include "credbroker/file.h"
#include "credbroker/policy.h"

#include "check.h"

static const char *const payroll[] = { "payroll-exports", "hr.archive-2024" };

static void test_build_plain(void)
{
	const char *doc = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n"
			  "    { \"Effect\": \"Deny\", \"Action\": \"kms:Decrypt\", \"Resource\": \"*\" }\n  ]\n}\n";
	struct buf out;
	buf_init(&out, 65536);
	CHECK_INT(policy_build(doc, strlen(doc), NULL, 0, &out, NULL), 0);
	CHECK_STR(buf_str(&out), "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\","
				 "\"Action\":\"kms:Decrypt\",\"Resource\":\"*\"}]}");
	buf_free(&out);
}

/* The Deny statement as a user depends on it: parsed back, not string-matched. */
static void check_deny(const cJSON *st, const char *const *buckets, size_t n)
{
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(st, "Sid")), POLICY_BUCKET_DENY_SID);
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(st, "Effect")), "Deny");
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(st, "Action")), "s3:*");
	const cJSON *res = cJSON_GetObjectItem(st, "Resource");
	CHECK_INT(cJSON_GetArraySize(res), (long long)(2 * n));
	for (size_t i = 0; i < n; i++) {
		char want[128];
		snprintf(want, sizeof(want), "arn:aws:s3:::%s", buckets[i]);
		CHECK_STR(cJSON_GetStringValue(cJSON_GetArrayItem(res, (int)(2 * i))), want);
		snprintf(want, sizeof(want), "arn:aws:s3:::%s/*", buckets[i]);
		CHECK_STR(cJSON_GetStringValue(cJSON_GetArrayItem(res, (int)(2 * i + 1))), want);
	}
}

static void test_build_buckets(void)
{
	struct buf out;
	buf_init(&out, 65536);

	/* A single Statement object becomes a list: the admin's statement, then ours. */
	const char *doc = "{\"Version\":\"2012-10-17\",\"Id\":\"x\",\"Statement\":"
			  "{\"Effect\":\"Allow\",\"Action\":\"s3:List*\",\"Resource\":\"*\"}}";
	CHECK_INT(policy_build(doc, strlen(doc), payroll, 2, &out, NULL), 0);
	cJSON *j = cJSON_Parse(buf_str(&out));
	CHECK(j != NULL);
	const cJSON *st = cJSON_GetObjectItem(j, "Statement");
	CHECK(cJSON_IsArray(st));
	CHECK_INT(cJSON_GetArraySize(st), 2);
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(st, 0), "Action")), "s3:List*");
	check_deny(cJSON_GetArrayItem(st, 1), payroll, 2);
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "Id")), "x");
	CHECK(strchr(buf_str(&out), ' ') == NULL && strchr(buf_str(&out), '\n') == NULL);
	cJSON_Delete(j);

	/* Only buckets: a document of its own. */
	buf_reset(&out);
	CHECK_INT(policy_build(NULL, 0, payroll, 1, &out, NULL), 0);
	j = cJSON_Parse(buf_str(&out));
	CHECK(j != NULL);
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "Version")), "2012-10-17");
	st = cJSON_GetObjectItem(j, "Statement");
	CHECK_INT(cJSON_GetArraySize(st), 1);
	check_deny(cJSON_GetArrayItem(st, 0), payroll, 1);
	cJSON_Delete(j);

	/* Neither: nothing to build. */
	buf_reset(&out);
	CHECK_INT(policy_build(NULL, 0, NULL, 0, &out, NULL), CB_ERR_INVALID);
	buf_free(&out);
}

static const struct {
	const char *doc;
	const char *why;
} bad_docs[] = {
	{ "{\n\"Version\":\"2012-10-17\",\n\"Statement\":[,]}", "not JSON (line 3)" },
	{ "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\"}]} {}", "data after the document" },
	{ "{\"Version\":\"2012-10-17\"}", "Statement: missing" },
	{ "{\"Statement\":[{\"Effect\":\"Allow\"}]}", "Version: missing" },
	{ "{\"Version\":\"2021-01-01\",\"Statement\":[{\"Effect\":\"Allow\"}]}", "Version: not \"2012-10-17\"" },
	{ "{\"Version\":\"2012-10-17\",\"Statement\":[]}", "Statement: not an object or a non-empty list" },
	{ "{\"Version\":\"2012-10-17\",\"Statement\":\"Allow\"}", "Statement: not an object or a non-empty list" },
	{ "{\"Version\":\"2012-10-17\",\"Statement\":[1]}", "Statement[0]: not an object" },
	{ "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\"},{\"Action\":\"*\"}]}",
	  "Statement[1].Effect: not \"Allow\" or \"Deny\"" },
	{ "{\"Version\":\"2012-10-17\",\"Statment\":[{\"Effect\":\"Allow\"}]}",
	  "Statment: not an IAM policy element" },
	{ "{\"Version\":\"2012-10-17\",\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\"}}",
	  "Version: given twice" },
	{ "{\"Version\":\"2012-10-17\",\"Statement\":{\"Sid\":\"CredbrokerDenyConfidentialBuckets\","
	  "\"Effect\":\"Allow\"}}", "is reserved for the broker" },
	{ "[{\"Version\":\"2012-10-17\"}]", "not a JSON object" },
	{ "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Sid\":\"a\\u0000b\"}}",
	  "\\u0000 escape" },
	{ "", "not JSON (line 1)" },
};

static void test_bad_docs(void)
{
	struct buf out, why;
	buf_init(&out, 65536);
	buf_init(&why, 4096);
	for (size_t i = 0; i < sizeof(bad_docs) / sizeof(bad_docs[0]); i++) {
		buf_reset(&why);
		CHECK_INT(policy_build(bad_docs[i].doc, strlen(bad_docs[i].doc), payroll, 1, &out, &why),
			  CB_ERR_POLICY);
		CHECK_INT(out.len, 0);
		if (strstr(buf_str(&why), bad_docs[i].why) == NULL) {
			fprintf(stderr, "bad_docs[%zu]: want \"%s\" in:\n%s", i, bad_docs[i].why, buf_str(&why));
			CHECK(0);
		}
	}

	/* A NUL byte inside the document, which a C string would hide. */
	buf_reset(&why);
	const char nul[] = "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\"}}\0junk";
	CHECK_INT(policy_build(nul, sizeof(nul) - 1, NULL, 0, &out, &why), CB_ERR_POLICY);
	CHECK(strstr(buf_str(&why), "NUL byte") != NULL);

	/* Nesting: 32 levels is a policy, 33 is refused before anything walks it. */
	for (int depth = 32; depth <= 33; depth++) {
		struct buf d;
		buf_init(&d, 4096);
		buf_puts(&d, "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Condition\":");
		for (int k = 0; k < depth - 2; k++)
			buf_puts(&d, "[");
		for (int k = 0; k < depth - 2; k++)
			buf_puts(&d, "]");
		buf_puts(&d, "}}");
		buf_reset(&why);
		buf_reset(&out);
		/* The root object and the statement are two levels, each [ one more. */
		int r = policy_build(buf_str(&d), d.len, NULL, 0, &out, &why);
		CHECK_INT(r, depth == 32 ? 0 : CB_ERR_POLICY);
		if (depth == 33)
			CHECK(strstr(buf_str(&why), "nested deeper than 32 levels") != NULL);
		buf_free(&d);
	}

	/* A bad bucket name is refused, naming it. */
	const char *bad_bucket[] = { "Payroll_Exports" };
	buf_reset(&why);
	buf_reset(&out);
	CHECK_INT(policy_build(NULL, 0, bad_bucket, 1, &out, &why), CB_ERR_POLICY);
	CHECK(strstr(buf_str(&why), "\"Payroll_Exports\": not an S3 bucket name") != NULL);
	CHECK_INT(out.len, 0);
	buf_free(&out);
	buf_free(&why);
}

static void test_bucket_names(void)
{
	CHECK(policy_bucket_name_valid("payroll-exports"));
	CHECK(policy_bucket_name_valid("abc"));
	CHECK(policy_bucket_name_valid("my.bucket.2024"));
	CHECK(policy_bucket_name_valid("a23456789012345678901234567890123456789012345678901234567890123"));
	CHECK(!policy_bucket_name_valid("a234567890123456789012345678901234567890123456789012345678901234"));
	CHECK(!policy_bucket_name_valid("ab"));
	CHECK(!policy_bucket_name_valid("Payroll"));
	CHECK(!policy_bucket_name_valid("pay_roll"));
	CHECK(!policy_bucket_name_valid("-payroll"));
	CHECK(!policy_bucket_name_valid("payroll-"));
	CHECK(!policy_bucket_name_valid("pay..roll"));
	CHECK(!policy_bucket_name_valid("pay.-roll"));
	CHECK(!policy_bucket_name_valid("192.168.5.4"));
	CHECK(!policy_bucket_name_valid("pay/roll"));
	CHECK(!policy_bucket_name_valid("pay*"));
}

static void test_limits(void)
{
	struct buf why;
	buf_init(&why, 4096);
	const char *arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"; /* 38 characters */
	const char *arns[11];
	for (int i = 0; i < 11; i++)
		arns[i] = arn;

	CHECK_INT(policy_check_limits(2048, NULL, 0, &why), 0);
	CHECK_INT(policy_check_limits(2048 - 38, arns, 1, &why), 0);
	CHECK_INT(why.len, 0);
	CHECK_INT(policy_check_limits(2049 - 38, arns, 1, &why), CB_ERR_POLICY);
	CHECK_STR(buf_str(&why), "session policies too large: inline policy 2011 + policy ARNs 38 = 2049 "
				 "characters, 1 over STS's limit of 2048\n");

	buf_reset(&why);
	CHECK_INT(policy_check_limits(0, arns, 10, &why), 0);
	CHECK_INT(policy_check_limits(0, arns, 11, &why), CB_ERR_POLICY);
	CHECK_STR(buf_str(&why), "11 managed policy ARNs, STS allows at most 10\n");

	/* Both broken: both said. */
	buf_reset(&why);
	CHECK_INT(policy_check_limits(3000, arns, 11, &why), CB_ERR_POLICY);
	CHECK(strstr(buf_str(&why), "11 managed policy ARNs") != NULL);
	CHECK(strstr(buf_str(&why), "1370 over STS's limit") != NULL);
	buf_free(&why);
}

/* What ships in policies/: every document is an IAM policy, and each session
 * policy fits STS's limits with the ARNs and buckets the example config uses. */
static void test_shipped(void)
{
	const char *root = getenv("CB_SOURCE_ROOT");
	CHECK(root != NULL);
	if (root == NULL)
		return;
	static const struct {
		const char *file;
		const char *arn; /* the example config's policy_arns for it; NULL: not a session policy */
		const char *bucket;
	} shipped[] = {
		{ "deny-secret-data.json", "arn:aws:iam::aws:policy/ReadOnlyAccess", "payroll-exports" },
		{ "broker-user-policy.json", NULL, NULL },
		{ "trust-same-account.json", NULL, NULL },
		{ "trust-cross-account.json", NULL, NULL },
	};
	for (size_t i = 0; i < sizeof(shipped) / sizeof(shipped[0]); i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/policies/%s", root, shipped[i].file);
		struct buf doc, out, why;
		buf_init(&doc, 65536);
		buf_init(&out, 65536);
		buf_init(&why, 4096);
		CHECK_INT(file_read(path, 65536, &doc), 0);
		const char *const buckets[] = { shipped[i].bucket };
		int r = policy_build(buf_str(&doc), doc.len, buckets, shipped[i].bucket ? 1 : 0, &out, &why);
		CHECK_INT(r, 0);
		if (shipped[i].arn != NULL) {
			const char *const arns[] = { shipped[i].arn };
			CHECK_INT(policy_check_limits(out.len, arns, 1, &why), 0);
		}
		if (why.len > 0)
			fprintf(stderr, "%s:\n%s", shipped[i].file, buf_str(&why));
		buf_free(&doc);
		buf_free(&out);
		buf_free(&why);
	}
}

int main(void)
{
	test_build_plain();
	test_build_buckets();
	test_bad_docs();
	test_bucket_names();
	test_limits();
	test_shipped();
	return check_status();
}
