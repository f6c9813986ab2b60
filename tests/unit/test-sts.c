/* SPDX-License-Identifier: MIT */
/*
 * The STS client without a network: its parsers on canned answers (the seed
 * corpus of the fuzzer, plus hostile ones built here), the loopback-only
 * rule for plain http, and the form encoding of AssumeRole's parameters.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "credbroker/awsapi.h"
#include "credbroker/buf.h"
#include "credbroker/err.h"
#include "credbroker/iam.h"
#include "credbroker/sts.h"

static char *slurp(const char *name, size_t *ret_len)
{
	char path[4096];
	const char *root = getenv("CB_SOURCE_ROOT");
	snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/sts/%s", root ? root : ".", name);
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "cannot open %s\n", path);
		return NULL;
	}
	struct buf b;
	buf_init(&b, 1 << 20);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&b, chunk, n);
	fclose(f);
	*ret_len = b.len;
	return buf_steal(&b);
}

static int parse_ar(const char *s, size_t n, struct sts_credentials **c, struct sts_error *e)
{
	*c = NULL;
	return sts_parse_assume_role(s, n, c, e);
}

static void test_assume_role_xml(void)
{
	size_t n;
	char *s = slurp("assume-role.xml", &n);
	struct sts_credentials *c;
	struct sts_error e;
	CHECK(s != NULL);
	CHECK_INT(parse_ar(s, n, &c, &e), 0);
	if (c != NULL) {
		CHECK_STR(c->access_key_id, "ASIAIOSFODNN7EXAMPLE");
		CHECK_STR(c->secret_access_key, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY");
		CHECK(strncmp(c->session_token, "AQoDYXdzEPT//////////wEXAMPLE", 29) == 0);
		CHECK(c->session_token[strlen(c->session_token) - 1] == '=');
		CHECK_INT(c->expiration, 1795883760); /* 2026-11-28T16:36:00Z */
		CHECK_STR(c->assumed_role_arn,
			  "arn:aws:sts::123456789012:assumed-role/ConsultantReadOnly/alice");
		CHECK_STR(c->assumed_role_id, "AROA3XFRBF535PLBIFPI4:alice");
		CHECK_STR(c->source_identity, "alice");
		sts_credentials_free(c);
	}
	/* Every proper prefix is refused: a truncated answer never yields
	 * credentials. */
	int bad = 0;
	for (size_t k = 0; k < n - 1; k += 7)
		if (parse_ar(s, k, &c, &e) != CB_ERR_STS_BAD_RESPONSE)
			bad++;
	CHECK_INT(bad, 0);
	free(s);
}

static void test_assume_role_json(void)
{
	size_t n;
	char *s = slurp("assume-role.json", &n);
	struct sts_credentials *c;
	struct sts_error e;
	CHECK_INT(parse_ar(s, n, &c, &e), 0);
	if (c != NULL) {
		CHECK_STR(c->access_key_id, "ASIAIOSFODNN7EXAMPLE");
		CHECK_STR(c->secret_access_key, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY");
		CHECK_INT(c->expiration, 1799999900); /* epoch seconds as 1.7999999E9 */
		CHECK_STR(c->source_identity, "alice");
		sts_credentials_free(c);
	}
	free(s);

	/* Epoch seconds as a string, RFC 3339 with a fraction and an offset. */
#define AR_JSON(exp) "{\"AssumeRoleResponse\":{\"AssumeRoleResult\":{\"Credentials\":{" \
	"\"AccessKeyId\":\"ASIA1\",\"SecretAccessKey\":\"s\",\"SessionToken\":\"t\"," \
	"\"Expiration\":\"" exp "\"}}}}"
	char doc[512];
	snprintf(doc, sizeof(doc), "%s", AR_JSON("1800000000"));
	CHECK_INT(parse_ar(doc, strlen(doc), &c, &e), 0);
	if (c != NULL) {
		CHECK_INT(c->expiration, 1800000000);
		CHECK(c->assumed_role_arn == NULL);
		CHECK(c->source_identity == NULL);
		sts_credentials_free(c);
	}
	snprintf(doc, sizeof(doc), "%s", AR_JSON("2026-11-28T17:36:00.123+01:00"));
	CHECK_INT(parse_ar(doc, strlen(doc), &c, &e), 0);
	if (c != NULL) {
		CHECK_INT(c->expiration, 1795883760);
		sts_credentials_free(c);
	}
	snprintf(doc, sizeof(doc), "%s", AR_JSON("tomorrow"));
	CHECK_INT(parse_ar(doc, strlen(doc), &c, &e), CB_ERR_STS_BAD_RESPONSE);
	CHECK(c == NULL);
	snprintf(doc, sizeof(doc), "%s", AR_JSON("99999999999999999999"));
	CHECK_INT(parse_ar(doc, strlen(doc), &c, &e), CB_ERR_STS_BAD_RESPONSE);
}

static void test_errors(void)
{
	size_t n;
	struct sts_credentials *c;
	struct sts_error e;
	char *s = slurp("error-access-denied.xml", &n);
	CHECK_INT(parse_ar(s, n, &c, &e), CB_ERR_STS_DENIED);
	CHECK(c == NULL);
	CHECK_STR(e.code, "AccessDenied");
	CHECK(strncmp(e.message, "User: arn:aws:iam::123456789012:user/credbroker is not", 54) == 0);
	free(s);

	/* AWS goes on to quote the canonical request (which may include the
	 * session token): only the first line is kept. */
	s = slurp("error-signature.xml", &n);
	CHECK_INT(parse_ar(s, n, &c, &e), CB_ERR_STS_DENIED);
	CHECK_STR(e.code, "SignatureDoesNotMatch");
	CHECK(strstr(e.message, "Check your AWS Secret Access Key") != NULL);
	CHECK(strstr(e.message, "Canonical") == NULL);
	CHECK(strchr(e.message, '\n') == NULL);
	free(s);

	s = slurp("error-throttling.json", &n);
	CHECK_INT(parse_ar(s, n, &c, &e), CB_ERR_STS_DENIED);
	CHECK_STR(e.code, "Throttling");
	CHECK_STR(e.message, "Rate exceeded");
	free(s);

	s = slurp("error-type.json", &n);
	struct sts_identity id;
	CHECK_INT(sts_parse_caller_identity(s, n, &id, &e), CB_ERR_STS_DENIED);
	CHECK_STR(e.code, "ExpiredTokenException");
	CHECK_STR(e.message, "The security token included in the request is expired");
	free(s);

	/* A refusal whose code strips to nothing is still a refusal (found by
	 * the fuzzer). */
	static const char mangled[] = "{\"__type\":\"com.amazonaws.sts#\"}";
	CHECK_INT(parse_ar(mangled, sizeof(mangled) - 1, &c, &e), CB_ERR_STS_DENIED);
	CHECK_STR(e.code, "UnknownError");

	/* A huge message is truncated, not refused; control bytes (a tab here:
	 * XML allows no others) are masked. */
	struct buf b;
	buf_init(&b, 1 << 20);
	buf_puts(&b, "<ErrorResponse><Error><Code>AccessDenied</Code><Message>A\t[31m");
	for (int i = 0; i < 100000; i++)
		buf_putc(&b, 'x');
	buf_puts(&b, "</Message></Error></ErrorResponse>");
	CHECK_INT(parse_ar(buf_str(&b), b.len, &c, &e), CB_ERR_STS_DENIED);
	CHECK_STR(e.code, "AccessDenied");
	CHECK_INT(strlen(e.message), sizeof(e.message) - 1);
	CHECK(e.message[0] == 'A' && e.message[1] == '?');
	buf_free(&b);
}

static void test_hostile(void)
{
	struct sts_credentials *c;
	struct sts_error e;
	size_t n;
	static const char *const bad[] = {
		"",
		"   ",
		"garbage \x01\x02\xff",
		"HTTP/1.1 200 OK",
		"<AssumeRoleResponse>",
		"{\"AssumeRoleResponse\":",
		"[1,2,3]",
		/* missing SessionToken */
		"<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>A</AccessKeyId>"
		"<SecretAccessKey>s</SecretAccessKey><Expiration>2026-11-28T16:36:00Z</Expiration>"
		"</Credentials></AssumeRoleResult></AssumeRoleResponse>",
		/* a key given twice */
		"<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>A</AccessKeyId>"
		"<AccessKeyId>B</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>t"
		"</SessionToken><Expiration>2026-11-28T16:36:00Z</Expiration></Credentials>"
		"</AssumeRoleResult></AssumeRoleResponse>",
		/* a control character in the key id */
		"<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>A&#27;[2J</AccessKeyId>"
		"<SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken>"
		"<Expiration>2026-11-28T16:36:00Z</Expiration></Credentials></AssumeRoleResult>"
		"</AssumeRoleResponse>",
		/* a leaf with children */
		"<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>A<b/></AccessKeyId>"
		"<SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken>"
		"<Expiration>2026-11-28T16:36:00Z</Expiration></Credentials></AssumeRoleResult>"
		"</AssumeRoleResponse>",
		/* an undeclared entity, an external entity, a parameter entity */
		"<AssumeRoleResponse>&xxe;</AssumeRoleResponse>",
		"<!DOCTYPE r [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><r>&xxe;</r>",
		"<!DOCTYPE r [<!ENTITY % p SYSTEM \"http://127.0.0.1/\"> %p;]><r/>",
		"<!DOCTYPE r><r/>",
		/* junk after the document, two documents */
		"<a/><b/>",
		"{} {}",
		/* the JSON value of a leaf is an object */
		("{\"AssumeRoleResponse\":{\"AssumeRoleResult\":{\"Credentials\":{\"AccessKeyId\":{},"
		 "\"SecretAccessKey\":\"s\",\"SessionToken\":\"t\",\"Expiration\":1}}}}"),
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = parse_ar(bad[i], strlen(bad[i]), &c, &e);
		if (r != CB_ERR_STS_BAD_RESPONSE)
			fprintf(stderr, "hostile answer %zu: got %d\n", i, r);
		CHECK_INT(r, CB_ERR_STS_BAD_RESPONSE);
		CHECK(c == NULL);
	}

	char *s = slurp("doctype-bomb.xml", &n);
	CHECK_INT(parse_ar(s, n, &c, &e), CB_ERR_STS_BAD_RESPONSE);
	free(s);
	s = slurp("truncated.xml", &n);
	CHECK_INT(parse_ar(s, n, &c, &e), CB_ERR_STS_BAD_RESPONSE);
	free(s);

	/* A NUL inside the answer ends nothing early and breaks the parse. */
	static const char nul[] = "<AssumeRoleResponse>\0</AssumeRoleResponse>";
	CHECK_INT(parse_ar(nul, sizeof(nul) - 1, &c, &e), CB_ERR_STS_BAD_RESPONSE);

	/* Huge fields: a 300-byte secret, a 20,000-byte token, deep nesting. */
	struct buf b;
	buf_init(&b, 1 << 20);
	buf_puts(&b, "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>A"
		     "</AccessKeyId><SecretAccessKey>");
	for (int i = 0; i < 300; i++)
		buf_putc(&b, 's');
	buf_puts(&b, "</SecretAccessKey><SessionToken>t</SessionToken><Expiration>"
		     "2026-11-28T16:36:00Z</Expiration></Credentials></AssumeRoleResult>"
		     "</AssumeRoleResponse>");
	CHECK_INT(parse_ar(buf_str(&b), b.len, &c, &e), CB_ERR_STS_BAD_RESPONSE);
	buf_reset(&b);
	buf_puts(&b, "{\"AssumeRoleResponse\":{\"AssumeRoleResult\":{\"Credentials\":{"
		     "\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\",\"Expiration\":1,\"SessionToken\":\"");
	for (int i = 0; i < 20000; i++)
		buf_putc(&b, 't');
	buf_puts(&b, "\"}}}}");
	CHECK_INT(parse_ar(buf_str(&b), b.len, &c, &e), CB_ERR_STS_BAD_RESPONSE);
	buf_reset(&b);
	for (int i = 0; i < 40; i++)
		buf_puts(&b, "<a>");
	for (int i = 0; i < 40; i++)
		buf_puts(&b, "</a>");
	CHECK_INT(parse_ar(buf_str(&b), b.len, &c, &e), CB_ERR_STS_BAD_RESPONSE);
	buf_reset(&b);
	for (int i = 0; i < 40; i++)
		buf_puts(&b, "{\"a\":");
	buf_puts(&b, "1");
	for (int i = 0; i < 40; i++)
		buf_puts(&b, "}");
	CHECK_INT(parse_ar(buf_str(&b), b.len, &c, &e), CB_ERR_STS_BAD_RESPONSE);
	buf_free(&b);

	/* After all that, a good answer still parses. */
	s = slurp("assume-role.xml", &n);
	CHECK_INT(parse_ar(s, n, &c, &e), 0);
	sts_credentials_free(c);
	free(s);
}

static void test_caller_identity(void)
{
	const char *names[] = { "caller-identity.xml", "caller-identity.json" };
	for (size_t i = 0; i < 2; i++) {
		size_t n;
		char *s = slurp(names[i], &n);
		struct sts_identity id;
		struct sts_error e;
		CHECK_INT(sts_parse_caller_identity(s, n, &id, &e), 0);
		CHECK_STR(id.arn, "arn:aws:iam::123456789012:user/credbroker");
		CHECK_STR(id.account, "123456789012");
		CHECK_STR(id.user_id, "AIDACKCEVSQ6C2EXAMPLE");
		free(s);
	}
	/* Missing Account; an AssumeRole answer is not an identity. */
	const char *bad = "<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>a</Arn>"
			  "<UserId>u</UserId></GetCallerIdentityResult></GetCallerIdentityResponse>";
	struct sts_identity id;
	struct sts_error e;
	memset(&id, 0x5a, sizeof(id));
	CHECK_INT(sts_parse_caller_identity(bad, strlen(bad), &id, &e), CB_ERR_STS_BAD_RESPONSE);
	CHECK(id.arn[0] == 0x5a); /* untouched on failure */
	size_t n;
	char *s = slurp("assume-role.xml", &n);
	CHECK_INT(sts_parse_caller_identity(s, n, &id, &e), CB_ERR_STS_BAD_RESPONSE);
	free(s);
}

static void test_endpoints(void)
{
	static const char *const ok[] = {
		"http://127.0.0.1:5000", "http://127.1.2.3:1/", "http://[::1]:8080",
		"http://localhost:5000", "http://LOCALHOST", "https://sts.eu-west-1.amazonaws.com",
		"https://sts.amazonaws.com/", "https://10.0.0.1:8443",
	};
	static const char *const refused[] = {
		"http://sts.amazonaws.com", "http://10.0.0.1:5000", "http://127.0.0.1.nip.io",
		"http://[::2]", "http://0.0.0.0:5000", "ftp://127.0.0.1", "file:///etc/passwd",
		"https://user:pw@sts.amazonaws.com", "https://sts.amazonaws.com/?a=b",
		"https://sts.amazonaws.com/#x", "sts.amazonaws.com", "", "http://128.0.0.1",
	};
	int err;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct sts_client *c = sts_client_new("eu-west-1", ok[i], &err);
		if (c == NULL)
			fprintf(stderr, "refused %s\n", ok[i]);
		CHECK(c != NULL);
		sts_client_free(c);
	}
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		err = 0;
		struct sts_client *c = sts_client_new("eu-west-1", refused[i], &err);
		if (c != NULL)
			fprintf(stderr, "accepted %s\n", refused[i]);
		CHECK(c == NULL);
		CHECK_INT(err, CB_ERR_INVALID);
		sts_client_free(c);
	}
	struct sts_client *c = sts_client_new("eu-west-1", NULL, &err);
	CHECK(c != NULL);
	if (c != NULL)
		CHECK_STR(sts_client_endpoint(c), "https://sts.eu-west-1.amazonaws.com");
	sts_client_free(c);
	c = sts_client_new("cn-north-1", NULL, &err);
	CHECK(c != NULL);
	if (c != NULL)
		CHECK_STR(sts_client_endpoint(c), "https://sts.cn-north-1.amazonaws.com.cn");
	sts_client_free(c);
	err = 0;
	CHECK(sts_client_new("eu west/1", NULL, &err) == NULL);
	CHECK_INT(err, CB_ERR_INVALID);
	CHECK(sts_client_new(NULL, "http://127.0.0.1:1", &err) == NULL);

	struct iam_client *ic = iam_client_new(NULL, &err);
	CHECK(ic != NULL);
	iam_client_free(ic);
	ic = iam_client_new("http://127.0.0.1:5000", &err);
	CHECK(ic != NULL);
	iam_client_free(ic);
	err = 0;
	CHECK(iam_client_new("http://iam.amazonaws.com", &err) == NULL);
	CHECK_INT(err, CB_ERR_INVALID);

	CHECK(awsapi_host_is_loopback("127.255.255.254"));
	CHECK(awsapi_host_is_loopback("::1"));
	CHECK(!awsapi_host_is_loopback("::ffff:10.0.0.1"));
	CHECK(!awsapi_host_is_loopback("localhost.example.com"));
}

static void test_form(void)
{
	const char *arns[] = { "arn:aws:iam::aws:policy/ReadOnlyAccess",
			       "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess" };
	const struct sts_tag tags[] = { { "team", "blue green" }, { "cost/centre", "a+b=c&d" } };
	const char *transitive[] = { "team" };
	struct sts_assume_role_params p = {
		.role_arn = "arn:aws:iam::123456789012:role/ConsultantReadOnly",
		.role_session_name = "alice@example.com",
		.duration_seconds = 3600,
		.policy = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\","
			  "\"Action\":\"s3:*\",\"Resource\":\"arn:aws:s3:::payroll-exports/*\"}]}",
		.policy_arns = arns,
		.npolicy_arns = 2,
		.external_id = "ext id/\xc3\xa9",
		.serial_number = "arn:aws:iam::123456789012:mfa/alice",
		.token_code = "123456",
		.source_identity = "alice",
		.tags = tags,
		.ntags = 2,
		.transitive_tag_keys = transitive,
		.ntransitive_tag_keys = 1,
	};
	struct buf f;
	buf_init(&f, 65536);
	CHECK_INT(sts_assume_role_form(&p, &f), 0);
	CHECK_STR(buf_str(&f),
		  "Action=AssumeRole&Version=2011-06-15"
		  "&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2FConsultantReadOnly"
		  "&RoleSessionName=alice%40example.com&DurationSeconds=3600"
		  "&Policy=%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect"
		  "%22%3A%22Deny%22%2C%22Action%22%3A%22s3%3A%2A%22%2C%22Resource%22%3A%22arn%3Aaws"
		  "%3As3%3A%3A%3Apayroll-exports%2F%2A%22%7D%5D%7D"
		  "&PolicyArns.member.1.arn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FReadOnlyAccess"
		  "&PolicyArns.member.2.arn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2Fjob-function%2F"
		  "ViewOnlyAccess"
		  "&ExternalId=ext+id%2F%C3%A9"
		  "&SerialNumber=arn%3Aaws%3Aiam%3A%3A123456789012%3Amfa%2Falice"
		  "&TokenCode=123456&SourceIdentity=alice"
		  "&Tags.member.1.Key=team&Tags.member.1.Value=blue+green"
		  "&Tags.member.2.Key=cost%2Fcentre&Tags.member.2.Value=a%2Bb%3Dc%26d"
		  "&TransitiveTagKeys.member.1=team");
	buf_free(&f);

	/* Only what is set is sent. */
	struct sts_assume_role_params q = { .role_arn = "arn:aws:iam::1:role/R",
					    .role_session_name = "s" };
	CHECK_INT(sts_assume_role_form(&q, &f), 0);
	CHECK_STR(buf_str(&f), "Action=AssumeRole&Version=2011-06-15"
			       "&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2FR&RoleSessionName=s");
	buf_free(&f);

	/* Refused before anything is sent. */
	q.role_session_name = NULL;
	CHECK_INT(sts_assume_role_form(&q, &f), CB_ERR_INVALID);
	buf_free(&f);
	q.role_session_name = "s";
	const char *eleven[11] = { "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a" };
	q.policy_arns = eleven;
	q.npolicy_arns = 11;
	CHECK_INT(sts_assume_role_form(&q, &f), CB_ERR_INVALID);
	buf_free(&f);
	const struct sts_tag nulltag[] = { { "k", NULL } };
	q.npolicy_arns = 0;
	q.tags = nulltag;
	q.ntags = 1;
	CHECK_INT(sts_assume_role_form(&q, &f), CB_ERR_INVALID);
	buf_free(&f);
}

/* With no server listening, a call fails as unavailable, after the
 * configured number of attempts, without hanging. */
static void test_unreachable(void)
{
	int err;
	struct sts_client *c = sts_client_new("us-east-1", "http://127.0.0.1:9", &err);
	CHECK(c != NULL);
	if (c == NULL)
		return;
	sts_client_set_timeouts(c, 500, 1000);
	sts_client_set_retries(c, 2, 1);
	struct sigv4_creds k = { "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL };
	struct sts_identity id;
	struct sts_error e;
	CHECK_INT(sts_get_caller_identity(c, &k, &id, &e), CB_ERR_STS_UNAVAILABLE);
	CHECK_INT(e.http_status, 0);
	CHECK(e.message[0] != '\0');
	sts_client_free(c);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_assume_role_xml();
	test_assume_role_json();
	test_errors();
	test_hostile();
	test_caller_identity();
	test_endpoints();
	test_form();
	test_unreachable();
	return check_status();
}
