/* SPDX-License-Identifier: MIT */
/*
 * The broker config: a table of broken configs, each refused with the line
 * an administrator needs ("FILE: FIELD: what is wrong"); a good config with
 * every default; several problems reported at once; STS's limits checked at
 * load; and the shipped example config accepted.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "credbroker/buf.h"
#include "credbroker/config.h"
#include "credbroker/err.h"
#include "credbroker/policy.h"

#include "broker/config-syntax.h"

#include "check.h"

static char dir[] = "/tmp/cb-test-config-XXXXXX";
static char cfg_path[256];

static void write_file(const char *name, const char *data, size_t len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	CHECK(f != NULL);
	if (f == NULL)
		return;
	CHECK(fwrite(data, 1, len, f) == len);
	CHECK(fclose(f) == 0);
}

#define ROLE "\"role_arn\":\"arn:aws:iam::123456789012:role/ConsultantReadOnly\""
#define PROFILE(extra) "\"profiles\":{\"p\":{" ROLE ",\"key\":\"main\"" extra "}}"
/* A minimal good config with top-level lines top and profile fields extra. */
#define CFG(top, extra) "{\"state_dir\":\"/var/lib/cb\",\"vault\":{}," top PROFILE(extra) "}"

static const struct {
	const char *name;
	const char *json;
	const char *want; /* a substring of one problem line, naming field and problem */
} bad[] = {
	{ "missing state_dir", "{\"vault\":{}," PROFILE("") "}", ": state_dir: missing (required)" },
	{ "missing vault", "{\"state_dir\":\"/x\"," PROFILE("") "}", ": vault: missing (required)" },
	{ "missing profiles", "{\"state_dir\":\"/x\",\"vault\":{}}", ": profiles: missing (required)" },
	{ "empty profiles", "{\"state_dir\":\"/x\",\"vault\":{},\"profiles\":{}}", ": profiles: no profiles defined" },
	{ "unknown top-level key", CFG("\"sockett\":\"/run/x\",", ""), ": sockett: unknown key" },
	{ "unknown profile key", CFG("", ",\"rol_arn\":\"x\""), ": profiles.p.rol_arn: unknown key" },
	{ "unknown vault key", "{\"state_dir\":\"/x\",\"vault\":{\"passphrase\":\"hunter2\"}," PROFILE("") "}",
	  ": vault.passphrase: unknown key" },
	{ "unknown tls key", CFG("\"tls\":{\"lisen\":\"0.0.0.0:1\"},", ""), ": tls.lisen: unknown key" },
	{ "state_dir not a string", "{\"state_dir\":5,\"vault\":{}," PROFILE("") "}", ": state_dir: not a string" },
	{ "profiles not an object", "{\"state_dir\":\"/x\",\"vault\":{},\"profiles\":[]}", ": profiles: not an object" },
	{ "vault not an object", "{\"state_dir\":\"/x\",\"vault\":\"/k\"," PROFILE("") "}", ": vault: not an object" },
	{ "source_identity not a bool", CFG("", ",\"source_identity\":\"yes\""),
	  ": profiles.p.source_identity: not true or false" },
	{ "policy_arns not a list", CFG("", ",\"policy_arns\":\"arn:aws:iam::aws:policy/ReadOnlyAccess\""),
	  ": profiles.p.policy_arns: not a list of strings" },
	{ "profile referencing nothing", "{\"state_dir\":\"/x\",\"vault\":{},\"profiles\":{\"p\":{}}}",
	  ": profiles.p.role_arn: missing (required)" },
	{ "profile without key", "{\"state_dir\":\"/x\",\"vault\":{},\"profiles\":{\"p\":{" ROLE "}}}",
	  ": profiles.p.key: missing (required)" },
	{ "user ARN as role_arn",
	  "{\"state_dir\":\"/x\",\"vault\":{},\"profiles\":{\"p\":{\"role_arn\":\"arn:aws:iam::123456789012:user/bob\",\"key\":\"main\"}}}",
	  ": profiles.p.role_arn: not an IAM role ARN (arn:aws:iam::<12 digits>:role/NAME)" },
	{ "role ARN with 11-digit account",
	  "{\"state_dir\":\"/x\",\"vault\":{},\"profiles\":{\"p\":{\"role_arn\":\"arn:aws:iam::12345678901:role/R\",\"key\":\"main\"}}}",
	  ": profiles.p.role_arn: not an IAM role ARN" },
	{ "role ARN in an unknown partition",
	  "{\"state_dir\":\"/x\",\"vault\":{},\"profiles\":{\"p\":{\"role_arn\":\"arn:aws-xx:iam::123456789012:role/R\",\"key\":\"main\"}}}",
	  ": profiles.p.role_arn: not an IAM role ARN" },
	{ "bad policy ARN", CFG("", ",\"policy_arns\":[\"arn:aws:iam::aws:policy/ReadOnlyAccess\",\"arn:aws:s3:::bucket\"]"),
	  ": profiles.p.policy_arns[1]: not an IAM policy ARN" },
	{ "11 policy ARNs",
	  CFG("", ",\"policy_arns\":[\"arn:aws:iam::aws:policy/A\",\"arn:aws:iam::aws:policy/B\","
		  "\"arn:aws:iam::aws:policy/C\",\"arn:aws:iam::aws:policy/D\",\"arn:aws:iam::aws:policy/E\","
		  "\"arn:aws:iam::aws:policy/F\",\"arn:aws:iam::aws:policy/G\",\"arn:aws:iam::aws:policy/H\","
		  "\"arn:aws:iam::aws:policy/I\",\"arn:aws:iam::aws:policy/J\",\"arn:aws:iam::123456789012:policy/K\"]"),
	  ": profiles.p: 11 managed policy ARNs, STS allows at most 10" },
	{ "inline policy over the limit", CFG("", ",\"policy\":\"policies/big2049.json\""),
	  ": profiles.p: session policies too large: inline policy 2049 + policy ARNs 0 = 2049 characters, 1 over STS's limit of 2048" },
	{ "inline policy + ARN over the limit",
	  CFG("", ",\"policy\":\"policies/big2048.json\",\"policy_arns\":[\"arn:aws:iam::aws:policy/ReadOnlyAccess\"]"),
	  "inline policy 2048 + policy ARNs 38 = 2086 characters, 38 over" },
	{ "duration 1d", CFG("", ",\"max_duration\":\"1d\""),
	  ": profiles.p.max_duration: not a duration (seconds, or a number with s, m or h: 15m, 1h, 12h)" },
	{ "max_duration 13h", CFG("", ",\"max_duration\":\"13h\""),
	  ": profiles.p.max_duration: 46800 seconds is outside 900..43200" },
	{ "max_duration 10m", CFG("", ",\"max_duration\":600"), ": profiles.p.max_duration: 600 seconds is outside 900..43200" },
	{ "max_duration fractional", CFG("", ",\"max_duration\":900.5"), ": profiles.p.max_duration: not a whole number of seconds" },
	{ "http endpoint to a public host", CFG("\"aws\":{\"sts_endpoint\":\"http://sts.amazonaws.com\"},", ""),
	  ": aws.sts_endpoint: plain http:// is allowed only for loopback hosts; use https://" },
	{ "http to a name that starts like loopback", CFG("\"aws\":{\"iam_endpoint\":\"http://127.0.0.1.example.com\"},", ""),
	  ": aws.iam_endpoint: plain http:// is allowed only for loopback hosts" },
	{ "http to localhost-prefixed name", CFG("\"aws\":{\"iam_endpoint\":\"http://localhost.example.com:80\"},", ""),
	  ": aws.iam_endpoint: plain http:// is allowed only for loopback hosts" },
	{ "ftp endpoint", CFG("\"aws\":{\"sts_endpoint\":\"ftp://sts.amazonaws.com\"},", ""), ": aws.sts_endpoint: not an https:// URL" },
	{ "endpoint with a user", CFG("\"aws\":{\"sts_endpoint\":\"https://u@sts.amazonaws.com\"},", ""),
	  ": aws.sts_endpoint: not a plain URL" },
	{ "endpoint with a bad port", CFG("\"aws\":{\"sts_endpoint\":\"https://sts.amazonaws.com:99999\"},", ""),
	  ": aws.sts_endpoint: not a valid port" },
	{ "bad aws.region", CFG("\"aws\":{\"region\":\"EU-WEST-1\"},", ""), ": aws.region: not an AWS region" },
	{ "relative state_dir", "{\"state_dir\":\"var/lib/cb\",\"vault\":{}," PROFILE("") "}", ": state_dir: not an absolute path" },
	{ "relative key_file", "{\"state_dir\":\"/x\",\"vault\":{\"key_file\":\"vault.key\"}," PROFILE("") "}",
	  ": vault.key_file: not an absolute path" },
	{ "policy file missing", CFG("", ",\"policy\":\"policies/missing.json\""),
	  ": profiles.p.policy: " },
	{ "policy file not JSON", CFG("", ",\"policy\":\"policies/bad.json\""), "policies/bad.json: not JSON (line 3)" },
	{ "policy without Statement", CFG("", ",\"policy\":\"policies/nostmt.json\""), "policies/nostmt.json: Statement: missing" },
	{ "policy is a directory", CFG("", ",\"policy\":\"policies\""), ": profiles.p.policy: " },
	{ "bad bucket name", CFG("", ",\"confidential_buckets\":[\"Payroll_Exports\"]"),
	  ": profiles.p.confidential_buckets[0]: not an S3 bucket name" },
	{ "buckets on an aws-cn role",
	  "{\"state_dir\":\"/x\",\"vault\":{},\"profiles\":{\"p\":{\"role_arn\":\"arn:aws-cn:iam::123456789012:role/R\","
	  "\"key\":\"main\",\"confidential_buckets\":[\"payroll\"]}}}",
	  ": profiles.p.confidential_buckets: supported only for roles in the aws partition" },
	{ "buckets but nothing allowed", CFG("", ",\"confidential_buckets\":[\"payroll-exports\"]"),
	  ": profiles.p: the session policy allows nothing and there are no policy_arns" },
	{ "deny-only policy file, no ARNs", CFG("", ",\"policy\":\"policies/good.json\""),
	  ": profiles.p: the session policy allows nothing" },
	{ "tls half-configured", CFG("\"tls\":{\"listen\":\"0.0.0.0:8443\"},", ""),
	  ": tls: listen, cert and key must be given together (missing: cert key)" },
	{ "tls listen without port", CFG("\"tls\":{\"listen\":\"0.0.0.0\",\"cert\":\"/c\",\"key\":\"/k\"},", ""),
	  ": tls.listen: not HOST:PORT" },
	{ "admins not numbers", CFG("\"admins\":[0,\"root\"],", ""), ": admins[1]: not a uid (a whole number 0..4294967294)" },
	{ "admins negative", CFG("\"admins\":[-1],", ""), ": admins[0]: not a uid" },
	{ "admins (uid_t)-1", CFG("\"admins\":[4294967295],", ""), ": admins[0]: not a uid" },
	{ "admins empty", CFG("\"admins\":[],", ""), ": admins: 0 uids; give 1 to 64" },
	{ "admins not a list", CFG("\"admins\":0,", ""), ": admins: not a list of uids" },
	{ "totp skew too wide", CFG("\"totp\":{\"skew_steps\":11},", ""), ": totp.skew_steps: not a whole number in 0..10" },
	{ "totp max_failures zero", CFG("\"totp\":{\"max_failures\":0},", ""), ": totp.max_failures: not a whole number in 1..100" },
	{ "external_id too short", CFG("", ",\"external_id\":\"x\""), ": profiles.p.external_id: not an external ID" },
	{ "external_id bad char", CFG("", ",\"external_id\":\"a b\""), ": profiles.p.external_id: not an external ID" },
	{ "profile region", CFG("", ",\"region\":\"eu_west_1\""), ": profiles.p.region: not an AWS region (like eu-west-1)" },
	{ "bad key name",
	  "{\"state_dir\":\"/x\",\"vault\":{},\"profiles\":{\"p\":{" ROLE ",\"key\":\"main key\"}}}",
	  ": profiles.p.key: not a key name" },
	{ "bad profile name",
	  "{\"state_dir\":\"/x\",\"vault\":{},\"profiles\":{\"consultant readonly\":{" ROLE ",\"key\":\"main\"}}}",
	  ": profiles[0]: not a profile name" },
	{ "profile name \"..\"",
	  "{\"state_dir\":\"/x\",\"vault\":{},\"profiles\":{\"..\":{" ROLE ",\"key\":\"main\"}}}",
	  ": profiles[0]: not a profile name" },
	{ "key name like an option",
	  "{\"state_dir\":\"/x\",\"vault\":{},\"profiles\":{\"p\":{" ROLE ",\"key\":\"-main\"}}}",
	  ": profiles.p.key: not a key name" },
	{ "policy ARN from another partition", CFG("", ",\"policy_arns\":[\"arn:aws-cn:iam::aws:policy/ReadOnlyAccess\"]"),
	  ": profiles.p.policy_arns[0]: not in the role's partition (aws)" },
	{ "key given twice", "{\"state_dir\":\"/x\",\"state_dir\":\"/y\",\"vault\":{}," PROFILE("") "}", ": state_dir: given twice" },
	{ "profile given twice",
	  "{\"state_dir\":\"/x\",\"vault\":{},\"profiles\":{\"p\":{" ROLE ",\"key\":\"k\"},\"p\":{" ROLE ",\"key\":\"k\"}}}",
	  ": profiles.p: given twice" },
	{ "not JSON", "{\"state_dir\":\"/x\",\n\"vault\":{},\n\"profiles\": }", ": not JSON (line 3)" },
	{ "data after the object", CFG("", "") " {}", ": not JSON (line 1: data after the document)" },
	{ "not an object", "[1,2]", ": not a JSON object" },
	{ "\\u0000 in a string", "{\"state_dir\":\"/x\\u0000/y\",\"vault\":{}," PROFILE("") "}", "contains a \\u0000 escape" },
	{ "control character in a path", "{\"state_dir\":\"/x\\n\",\"vault\":{}," PROFILE("") "}", ": state_dir: contains control characters" },
	{ "empty file", "", ": not JSON (line 1)" },
};

/* Write json as the config, load it, and check it is refused with want. */
static void expect_problem(const char *name, const char *json, size_t len, const char *want)
{
	write_file("broker.json", json, len);
	struct buf problems;
	buf_init(&problems, 65536);
	struct config *c = (struct config *)&problems; /* must stay untouched */
	int r = config_load(cfg_path, &c, &problems);
	CHECK_INT(r, CB_ERR_CONFIG);
	CHECK(c == (struct config *)&problems);
	const char *p = buf_str(&problems);
	if (getenv("CB_VERBOSE") != NULL)
		fprintf(stderr, "[%s]\n%s", name, p);
	if (strstr(p, want) == NULL) {
		fprintf(stderr, "row \"%s\": want \"%s\" in:\n%s", name, want, p);
		CHECK(0);
	}
	/* Every line names a file first. */
	CHECK(strncmp(p, dir, strlen(dir)) == 0);
	buf_free(&problems);
}

static void test_bad_configs(void)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_problem(bad[i].name, bad[i].json, strlen(bad[i].json), bad[i].want);

	/* Rows whose bytes a string literal cannot hold. */

	/* Nesting bombs: past cJSON's own limit it is not JSON; within it, the
	 * schema refuses the shape and nothing recurses further. */
	size_t n = 200000;
	char *bomb = malloc(2 * n + 64);
	CHECK(bomb != NULL);
	if (bomb != NULL) {
		size_t k = (size_t)snprintf(bomb, 64, "{\"admins\":");
		memset(bomb + k, '[', n);
		memset(bomb + k + n, ']', n);
		memcpy(bomb + k + 2 * n, "}", 1);
		expect_problem("nesting bomb", bomb, k + 2 * n + 1, ": not JSON (line 1)");
		k = (size_t)snprintf(bomb, 64, "{\"state_dir\":\"/x\",\"vault\":{},\"admins\":");
		memset(bomb + k, '[', 500);
		memset(bomb + k + 500, ']', 500);
		const char *tail = "," PROFILE("") "}";
		memcpy(bomb + k + 1000, tail, strlen(tail));
		expect_problem("shallower nesting", bomb, k + 1000 + strlen(tail), ": admins[0]: not a uid");
		free(bomb);
	}

	/* A 2 MB file is refused before it is parsed. */
	size_t big = 2 * 1024 * 1024;
	char *huge = malloc(big);
	CHECK(huge != NULL);
	if (huge != NULL) {
		memset(huge, ' ', big);
		huge[0] = '{';
		huge[big - 1] = '}';
		expect_problem("2 MB file", huge, big, ": larger than 1048576 bytes");
		free(huge);
	}

	/* A NUL byte, which would hide the rest from a C string parser. */
	const char nul[] = "{\"state_dir\":\"/x\"}\0{}";
	expect_problem("NUL byte", nul, sizeof(nul) - 1, ": not JSON (contains a NUL byte)");

	/* Too many profiles. */
	struct buf many;
	buf_init(&many, 1 << 20);
	buf_puts(&many, "{\"state_dir\":\"/x\",\"vault\":{},\"profiles\":{");
	for (int i = 0; i <= CONFIG_MAX_PROFILES; i++)
		buf_printf(&many, "%s\"p%d\":{" ROLE ",\"key\":\"k\"}", i ? "," : "", i);
	buf_puts(&many, "}}");
	expect_problem("1001 profiles", buf_str(&many), many.len, ": profiles: 1001 profiles, at most 1000 allowed");
	buf_free(&many);

	/* No file at all. */
	struct buf problems;
	buf_init(&problems, 4096);
	struct config *c = NULL;
	char missing[300];
	snprintf(missing, sizeof(missing), "%s/nope.json", dir);
	CHECK_INT(config_load(missing, &c, &problems), CB_ERR_CONFIG);
	CHECK(strstr(buf_str(&problems), "nope.json: no such file") != NULL);
	CHECK(c == NULL);
	buf_free(&problems);
}

static struct config *load_ok(const char *json)
{
	write_file("broker.json", json, strlen(json));
	struct buf problems;
	buf_init(&problems, 65536);
	struct config *c = NULL;
	int r = config_load(cfg_path, &c, &problems);
	if (r != 0)
		fprintf(stderr, "unexpected problems (%d):\n%s", r, buf_str(&problems));
	CHECK_INT(r, 0);
	CHECK_INT(problems.len, 0);
	buf_free(&problems);
	return c;
}

static void test_defaults(void)
{
	struct config *c = load_ok(CFG("", ""));
	CHECK(c != NULL);
	if (c == NULL)
		return;
	CHECK_STR(c->path, cfg_path);
	CHECK_STR(c->state_dir, "/var/lib/cb");
	CHECK_STR(c->socket, "/run/credbroker/broker.sock");
	CHECK_INT(c->nadmins, 1);
	CHECK_INT(c->admins[0], 0);
	CHECK(c->vault_key_file == NULL);
	CHECK_STR(c->aws_region, "us-east-1");
	CHECK_STR(c->sts_endpoint, "https://sts.us-east-1.amazonaws.com");
	CHECK_STR(c->iam_endpoint, "https://iam.amazonaws.com");
	CHECK_STR(c->audit_path, "/var/lib/cb/audit.jsonl");
	CHECK_INT(c->totp_skew_steps, 1);
	CHECK_INT(c->totp_max_failures, 5);
	CHECK_INT(c->totp_lockout_seconds, 900);
	CHECK(c->tls_listen == NULL && c->tls_cert == NULL && c->tls_key == NULL);
	CHECK_INT(c->nprofiles, 1);
	const struct config_profile *p = config_profile_find(c, "p");
	CHECK(p == &c->profiles[0]);
	CHECK(config_profile_find(c, "q") == NULL);
	CHECK_STR(p->name, "p");
	CHECK_STR(p->role_arn, "arn:aws:iam::123456789012:role/ConsultantReadOnly");
	CHECK_STR(p->key, "main");
	CHECK_INT(p->npolicy_arns, 0);
	CHECK(p->policy_path == NULL);
	CHECK_INT(p->nconfidential_buckets, 0);
	CHECK(p->session_policy == NULL);
	CHECK_INT(p->max_duration, 3600);
	CHECK(p->source_identity);
	CHECK(p->external_id == NULL);
	CHECK(p->region == NULL);

	/* The clamp rule: 0 is the maximum, over is lowered, under 15m raised. */
	CHECK_INT(config_profile_clamp_duration(p, 0), 3600);
	CHECK_INT(config_profile_clamp_duration(p, 86400), 3600);
	CHECK_INT(config_profile_clamp_duration(p, 3600), 3600);
	CHECK_INT(config_profile_clamp_duration(p, 1800), 1800);
	CHECK_INT(config_profile_clamp_duration(p, 60), 900);
	CHECK_INT(config_profile_clamp_duration(p, -5), 900);
	config_free(c);

	/* Regional defaults follow aws.region, per partition. */
	c = load_ok(CFG("\"aws\":{\"region\":\"eu-west-1\"},", ""));
	CHECK(c != NULL && strcmp(c->sts_endpoint, "https://sts.eu-west-1.amazonaws.com") == 0);
	config_free(c);
	c = load_ok(CFG("\"aws\":{\"region\":\"cn-north-1\"},", ""));
	CHECK(c != NULL && strcmp(c->sts_endpoint, "https://sts.cn-north-1.amazonaws.com.cn") == 0);
	CHECK(c != NULL && strcmp(c->iam_endpoint, "https://iam.cn-north-1.amazonaws.com.cn") == 0);
	config_free(c);
}

static void test_everything_set(void)
{
	struct config *c = load_ok(
		"{\"state_dir\":\"/var/lib/credbroker/\",\"socket\":\"/run/cb.sock\",\"admins\":[0,1000],"
		"\"vault\":{\"key_file\":\"/etc/credbroker/vault.key\"},"
		"\"aws\":{\"region\":\"eu-west-1\",\"sts_endpoint\":\"http://127.0.0.1:5000\","
		"\"iam_endpoint\":\"http://[::1]:5000/\"},"
		"\"audit\":{\"path\":\"/var/log/cb/audit.jsonl\"},"
		"\"totp\":{\"skew_steps\":0,\"max_failures\":3,\"lockout_seconds\":\"1h\"},"
		"\"tls\":{\"listen\":\"0.0.0.0:8443\",\"cert\":\"/etc/cb/tls.crt\",\"key\":\"/etc/cb/tls.key\"},"
		"\"profiles\":{\"a\":{" ROLE ",\"key\":\"main\",\"max_duration\":\"10h\",\"source_identity\":false,"
		"\"external_id\":\"Ext-Id_1=a,b.c@d:e/f+g\",\"region\":\"us-gov-west-1\","
		"\"policy\":\"policies/good.json\",\"confidential_buckets\":[\"payroll-exports\"],"
		"\"policy_arns\":[\"arn:aws:iam::aws:policy/ReadOnlyAccess\"]},"
		"\"b\":{\"role_arn\":\"arn:aws:iam::210987654321:role/path/to/Engineer\",\"key\":\"other.key-2\","
		"\"max_duration\":43200,\"confidential_buckets\":[\"x-secret\"],"
		"\"policy_arns\":[\"arn:aws:iam::210987654321:policy/team/EngineerBase\"]}}}");
	CHECK(c != NULL);
	if (c == NULL)
		return;
	CHECK_STR(c->socket, "/run/cb.sock");
	CHECK_INT(c->nadmins, 2);
	CHECK_INT(c->admins[1], 1000);
	CHECK_STR(c->vault_key_file, "/etc/credbroker/vault.key");
	CHECK_STR(c->sts_endpoint, "http://127.0.0.1:5000");
	CHECK_STR(c->iam_endpoint, "http://[::1]:5000/");
	CHECK_STR(c->audit_path, "/var/log/cb/audit.jsonl");
	CHECK_INT(c->totp_skew_steps, 0);
	CHECK_INT(c->totp_max_failures, 3);
	CHECK_INT(c->totp_lockout_seconds, 3600);
	CHECK_STR(c->tls_listen, "0.0.0.0:8443");
	CHECK_STR(c->tls_key, "/etc/cb/tls.key");
	CHECK_INT(c->nprofiles, 2);
	const struct config_profile *a = config_profile_find(c, "a");
	CHECK(a != NULL);
	if (a != NULL) {
		CHECK_INT(a->max_duration, 36000);
		CHECK_INT(config_profile_clamp_duration(a, 0), 36000);
		CHECK(!a->source_identity);
		CHECK_STR(a->external_id, "Ext-Id_1=a,b.c@d:e/f+g");
		CHECK_STR(a->region, "us-gov-west-1");
		char want[512];
		snprintf(want, sizeof(want), "%s/policies/good.json", dir);
		CHECK_STR(a->policy_path, want);
		CHECK_INT(a->npolicy_arns, 1);
		CHECK_STR(a->policy_arns[0], "arn:aws:iam::aws:policy/ReadOnlyAccess");
		/* The file's statement, minified, then the bucket Deny. */
		cJSON *j = cJSON_Parse(a->session_policy);
		CHECK(j != NULL);
		const cJSON *st = cJSON_GetObjectItem(j, "Statement");
		CHECK_INT(cJSON_GetArraySize(st), 2);
		CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(st, 0), "Action")),
			  "secretsmanager:GetSecretValue");
		const cJSON *deny = cJSON_GetArrayItem(st, 1);
		CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(deny, "Effect")), "Deny");
		CHECK_STR(cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(deny, "Resource"), 1)),
			  "arn:aws:s3:::payroll-exports/*");
		CHECK(strchr(a->session_policy, '\n') == NULL);
		cJSON_Delete(j);
	}
	const struct config_profile *b = config_profile_find(c, "b");
	CHECK(b != NULL && b->max_duration == 43200);
	CHECK(b != NULL && b->session_policy != NULL && strstr(b->session_policy, "arn:aws:s3:::x-secret/*") != NULL);
	config_free(c);

	/* Loopback http in its other spellings. */
	c = load_ok(CFG("\"aws\":{\"sts_endpoint\":\"http://localhost:4566\",\"iam_endpoint\":\"http://127.9.8.7\"},", ""));
	CHECK(c != NULL);
	config_free(c);
}

/* STS's 2,048 characters: exactly at the limit loads, one over is refused. */
static void test_limit_edge(void)
{
	struct config *c = load_ok(CFG("", ",\"policy\":\"policies/big2048.json\""));
	CHECK(c != NULL && strlen(c->profiles[0].session_policy) == 2048);
	config_free(c);
}

static void test_several_problems(void)
{
	const char *json = "{\"state_dir\":\"relative\",\"vault\":{},\"colour\":1,"
			   "\"profiles\":{\"p\":{\"role_arn\":\"nope\",\"key\":\"main\",\"max_duration\":\"1d\"}}}";
	write_file("broker.json", json, strlen(json));
	struct buf problems;
	buf_init(&problems, 65536);
	struct config *c = NULL;
	CHECK_INT(config_load(cfg_path, &c, &problems), CB_ERR_CONFIG);
	const char *p = buf_str(&problems);
	CHECK(strstr(p, ": state_dir: not an absolute path\n") != NULL);
	CHECK(strstr(p, ": colour: unknown key\n") != NULL);
	CHECK(strstr(p, ": profiles.p.role_arn: not an IAM role ARN") != NULL);
	CHECK(strstr(p, ": profiles.p.max_duration: not a duration") != NULL);
	size_t lines = 0;
	for (; *p != '\0'; p++)
		lines += *p == '\n';
	CHECK_INT(lines, 4);
	buf_free(&problems);

	/* Hundreds of problems: 100 lines, then a count of the rest. */
	struct buf j;
	buf_init(&j, 1 << 20);
	buf_puts(&j, "{");
	for (int i = 0; i < 150; i++)
		buf_printf(&j, "\"typo%d\":1,", i);
	buf_puts(&j, "\"state_dir\":\"/x\",\"vault\":{}," PROFILE("") "}");
	write_file("broker.json", buf_str(&j), j.len);
	buf_init(&problems, 1 << 20);
	CHECK_INT(config_load(cfg_path, &c, &problems), CB_ERR_CONFIG);
	lines = 0;
	for (p = buf_str(&problems); *p != '\0'; p++)
		lines += *p == '\n';
	CHECK_INT(lines, 101);
	CHECK(strstr(buf_str(&problems), ": 50 more problems not shown\n") != NULL);
	buf_free(&problems);
	buf_free(&j);
}

/* policies/credbroker.example.json loads as shipped, policies and all. */
static void test_example(void)
{
	const char *root = getenv("CB_SOURCE_ROOT");
	CHECK(root != NULL);
	if (root == NULL)
		return;
	char path[4096];
	snprintf(path, sizeof(path), "%s/policies/credbroker.example.json", root);
	struct buf problems;
	buf_init(&problems, 65536);
	struct config *c = NULL;
	int r = config_load(path, &c, &problems);
	if (r != 0)
		fprintf(stderr, "example config:\n%s", buf_str(&problems));
	CHECK_INT(r, 0);
	if (c != NULL) {
		const struct config_profile *ro = config_profile_find(c, "consultant-readonly");
		const struct config_profile *bill = config_profile_find(c, "consultant-billing");
		const struct config_profile *eng = config_profile_find(c, "engineer-readonly");
		CHECK(ro != NULL && bill != NULL && eng != NULL);
		CHECK(ro != NULL && ro->session_policy != NULL &&
		      strstr(ro->session_policy, "secretsmanager:GetSecretValue") != NULL &&
		      strstr(ro->session_policy, POLICY_BUCKET_DENY_SID) != NULL);
		CHECK(bill != NULL && bill->npolicy_arns == 1 &&
		      strcmp(bill->policy_arns[0], "arn:aws:iam::aws:policy/AWSBillingReadOnlyAccess") == 0);
		fprintf(stderr, "example: consultant-readonly session policy %zu characters\n",
			ro && ro->session_policy ? strlen(ro->session_policy) : 0);
	}
	config_free(c);
	buf_free(&problems);
}

/* A policy document of exactly n minified characters. */
static void write_sized_policy(const char *name, size_t n)
{
	const char *head = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:*\","
			   "\"Resource\":\"arn:aws:s3:::";
	const char *tail = "\"}]}";
	struct buf b;
	buf_init(&b, 8192);
	buf_puts(&b, head);
	while (b.len < n - strlen(tail))
		buf_putc(&b, 'x');
	buf_puts(&b, tail);
	write_file(name, buf_str(&b), b.len);
	buf_free(&b);
}

/* The value syntax on its own, edge by edge. */
static void test_syntax(void)
{
	static const struct {
		const char *url;
		bool ok;
	} urls[] = {
		{ "https://sts.eu-west-1.amazonaws.com", true },
		{ "https://sts.amazonaws.com:443/", true },
		{ "https://[2001:db8::1]:8443", true },
		{ "http://127.0.0.1:5000", true },
		{ "http://127.255.255.254", true },
		{ "http://[::1]:5000/", true },
		{ "http://LOCALHOST:4566", true },
		{ "http://128.0.0.1", false },
		{ "http://127.0.0.1.nip.io", false },
		{ "http://127.1", false },
		{ "http://0x7f.0.0.1", false },
		{ "http://[::2]", false },
		{ "http://localhost.example", false },
		{ "https://user@sts.amazonaws.com", false },
		{ "https://sts.amazonaws.com/?x=1", false },
		{ "https://sts.amazonaws.com#f", false },
		{ "https://sts.amazonaws.com:0", false },
		{ "https://sts.amazonaws.com:", false },
		{ "https://", false },
		{ "https://sts amazonaws.com", false },
		{ "sts.amazonaws.com", false },
		{ "HTTPS://sts.amazonaws.com", false },
	};
	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		bool ok = config_endpoint_problem(urls[i].url) == NULL;
		if (ok != urls[i].ok) {
			fprintf(stderr, "endpoint %s: want %s\n", urls[i].url, urls[i].ok ? "ok" : "refused");
			CHECK(0);
		}
	}

	const char *partition = NULL;
	CHECK(config_role_arn_valid("arn:aws:iam::123456789012:role/R", &partition) && strcmp(partition, "aws") == 0);
	CHECK(config_role_arn_valid("arn:aws-us-gov:iam::123456789012:role/a/b/Name_1+=,.@-", &partition) &&
	      strcmp(partition, "aws-us-gov") == 0);
	CHECK(!config_role_arn_valid("arn:aws:iam::123456789012:role/", &partition));
	CHECK(!config_role_arn_valid("arn:aws:iam::123456789012:role/a/", &partition));
	CHECK(!config_role_arn_valid("arn:aws:iam::1234567890123:role/R", &partition));
	CHECK(!config_role_arn_valid("arn:aws:iam::123456789012:root", &partition));
	CHECK(!config_role_arn_valid("arn:aws:sts::123456789012:role/R", &partition));
	CHECK(!config_role_arn_valid("arn:aws:iam::123456789012:role/R*", &partition));
	CHECK(config_policy_arn_valid("arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"));
	CHECK(config_policy_arn_valid("arn:aws-cn:iam::123456789012:policy/Mine"));
	CHECK(!config_policy_arn_valid("arn:aws:iam::aws:role/ReadOnlyAccess"));
	CHECK(!config_policy_arn_valid("arn:aws:iam::amazon:policy/X"));
	CHECK(config_region_valid("eu-west-1") && config_region_valid("us-gov-west-1") &&
	      config_region_valid("ap-southeast-2") && config_region_valid("cn-north-1"));
	CHECK(!config_region_valid("eu-west") && !config_region_valid("eu--west-1") &&
	      !config_region_valid("EU-west-1") && !config_region_valid("e-west-1") &&
	      !config_region_valid("eu-west-100"));
	CHECK(config_name_valid("consultant-readonly") && config_name_valid("a") &&
	      config_name_valid("A.b_c-9"));
	CHECK(!config_name_valid("") && !config_name_valid(".") && !config_name_valid("..") &&
	      !config_name_valid("-x") && !config_name_valid("a/b") && !config_name_valid("a b"));
	CHECK(config_name_valid("a234567890123456789012345678901234567890123456789012345678901234"));
	CHECK(!config_name_valid("a2345678901234567890123456789012345678901234567890123456789012345"));
	CHECK(config_external_id_valid("ab") && !config_external_id_valid("a") &&
	      !config_external_id_valid("a\"b"));
	CHECK(config_listen_valid("0.0.0.0:8443") && config_listen_valid("[::]:443") &&
	      config_listen_valid("broker.example.com:1"));
	CHECK(!config_listen_valid(":8443") && !config_listen_valid("0.0.0.0:65536") &&
	      !config_listen_valid("0.0.0.0") && !config_listen_valid("[::]8443"));
}

int main(void)
{
	CHECK(mkdtemp(dir) != NULL);
	snprintf(cfg_path, sizeof(cfg_path), "%s/broker.json", dir);
	char sub[300];
	snprintf(sub, sizeof(sub), "%s/policies", dir);
	CHECK(mkdir(sub, 0700) == 0);
	const char *good = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n"
			   "      \"Effect\": \"Deny\",\n      \"Action\": \"secretsmanager:GetSecretValue\",\n"
			   "      \"Resource\": \"*\"\n    }\n  ]\n}\n";
	write_file("policies/good.json", good, strlen(good));
	const char *badjson = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [,]\n}\n";
	write_file("policies/bad.json", badjson, strlen(badjson));
	const char *nostmt = "{\"Version\": \"2012-10-17\"}";
	write_file("policies/nostmt.json", nostmt, strlen(nostmt));
	write_sized_policy("policies/big2048.json", 2048);
	write_sized_policy("policies/big2049.json", 2049);

	test_syntax();
	test_bad_configs();
	test_defaults();
	test_everything_set();
	test_limit_edge();
	test_several_problems();
	test_example();

	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
	return check_status();
}
