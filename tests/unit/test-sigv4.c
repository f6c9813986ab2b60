/* SPDX-License-Identifier: MIT */
/*
 * SigV4 against both copies of AWS's test suite in $CB_VECTORS/sigv4 (see
 * its README.md), byte for byte, plus sigv4_uri_encode and the refusals.
 *
 * v4/<case>/ (aws-c-auth's copy): context.json holds the inputs; each case
 * is signed twice, for an Authorization header and as a presigned query,
 * and the canonical request, string to sign and signature of each mode are
 * compared with the expected files.
 *
 * aws4_testsuite/ (botocore's copy): no context.json. The .req already
 * carries the X-Amz-Date the signer adds, so it is taken out (and checked
 * to be the suite's time); an X-Amz-Security-Token header in the .req is
 * the session token, signed. Two cases need a token the .req cannot show;
 * see token_cases below.
 */
#include <dirent.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "credbroker/buf.h"
#include "credbroker/cbtime.h"
#include "credbroker/err.h"
#include "credbroker/file.h"
#include "credbroker/sigv4.h"

#include "check.h"

#define V4_CASES 38
#define BOTOCORE_CASES 34
#define FILE_MAX (64 * 1024)
#define REQ_MAX_HEADERS 64

static const char suite_time[] = "2015-08-30T12:36:00Z";
static const char suite_amz_date[] = "20150830T123600Z";
static const char suite_akid[] = "AKIDEXAMPLE";
static const char suite_secret[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

/* The token of post-sts-token/readme.txt. */
static const char sts_token[] =
	"AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxf"
	"pSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KP"
	"kyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbq"
	"BAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";

/* botocore cases whose token is not in the .req: get-vanilla-with-session-
 * token signs one the .req omits (its value is in the .sreq and in the
 * aws-c-auth copy's context.json); post-sts-header-after adds the readme's
 * token after signing. */
static const struct {
	const char *name;
	const char *token;
	bool omit;
} token_cases[] = {
	{ "get-vanilla-with-session-token",
	  "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267", false },
	{ "post-sts-header-after", sts_token, true },
};

/* ---- a raw HTTP request, as the suites write it (test code only) ---- */

struct http_req {
	struct buf store; /* NUL-separated strings the pointers below point into */
	char *method, *path, *query;
	struct sigv4_header headers[REQ_MAX_HEADERS];
	size_t nheaders;
	const char *body;
	size_t body_len;
};

static const char *next_line(const char *p, const char *end, size_t *ret_len, const char **ret_next)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	const char *stop = nl ? nl : end;
	*ret_len = (size_t)(stop - p);
	*ret_next = nl ? nl + 1 : end;
	return p;
}

/* Request line "METHOD TARGET VERSION" (the target may hold spaces, as in
 * get-space), header lines with obs-fold continuations unfolded with a
 * space, a blank line, then the body to the end of the file. The header
 * pointers are filled in after parsing, once store no longer moves. */
static int http_req_parse(struct http_req *r, const char *text, size_t n)
{
	const char *end = text + n, *p = text, *next;
	size_t len;
	size_t off[4];          /* method, path, query, and a spare */
	size_t hoff[REQ_MAX_HEADERS][2];
	bool open = false;

	memset(r, 0, sizeof(*r));
	buf_init(&r->store, FILE_MAX * 2);
	next_line(p, end, &len, &next);
	const char *sp1 = memchr(p, ' ', len);
	const char *sp2 = NULL;
	for (const char *q = p + len; q > p; q--)
		if (q[-1] == ' ') {
			sp2 = q - 1;
			break;
		}
	if (sp1 == NULL || sp2 == NULL || sp2 <= sp1)
		return CB_ERR_PARSE;
	const char *target = sp1 + 1;
	size_t tlen = (size_t)(sp2 - target);
	const char *qm = memchr(target, '?', tlen);
	size_t plen = qm ? (size_t)(qm - target) : tlen;
	off[0] = r->store.len;
	if (buf_append(&r->store, p, (size_t)(sp1 - p)) < 0 || buf_putc(&r->store, '\0') < 0)
		return CB_ERR_NOMEM;
	off[1] = r->store.len;
	if (buf_append(&r->store, target, plen) < 0 || buf_putc(&r->store, '\0') < 0)
		return CB_ERR_NOMEM;
	off[2] = r->store.len;
	if (qm && buf_append(&r->store, qm + 1, tlen - plen - 1) < 0)
		return CB_ERR_NOMEM;
	if (buf_putc(&r->store, '\0') < 0)
		return CB_ERR_NOMEM;

	for (p = next; p < end; p = next) {
		next_line(p, end, &len, &next);
		if (len == 0) {
			r->body = next;
			r->body_len = (size_t)(end - next);
			break;
		}
		if (p[0] == ' ' || p[0] == '\t') {
			if (!open)
				return CB_ERR_PARSE;
			if (buf_putc(&r->store, ' ') < 0 || buf_append(&r->store, p, len) < 0)
				return CB_ERR_NOMEM;
			continue;
		}
		const char *colon = memchr(p, ':', len);
		if (colon == NULL || r->nheaders == REQ_MAX_HEADERS)
			return CB_ERR_PARSE;
		if (open && buf_putc(&r->store, '\0') < 0)
			return CB_ERR_NOMEM;
		hoff[r->nheaders][0] = r->store.len;
		if (buf_append(&r->store, p, (size_t)(colon - p)) < 0 || buf_putc(&r->store, '\0') < 0)
			return CB_ERR_NOMEM;
		hoff[r->nheaders][1] = r->store.len;
		if (buf_append(&r->store, colon + 1, len - (size_t)(colon + 1 - p)) < 0)
			return CB_ERR_NOMEM;
		r->nheaders++;
		open = true;
	}
	if (buf_putc(&r->store, '\0') < 0)
		return CB_ERR_NOMEM;

	char *base = (char *)r->store.data;
	r->method = base + off[0];
	r->path = base + off[1];
	r->query = base + off[2];
	for (size_t i = 0; i < r->nheaders; i++) {
		r->headers[i].name = base + hoff[i][0];
		r->headers[i].value = base + hoff[i][1];
	}
	return 0;
}

/* Removes the (single) header called name and returns its value, or NULL. */
static const char *http_req_take(struct http_req *r, const char *name)
{
	for (size_t i = 0; i < r->nheaders; i++) {
		if (strcasecmp(r->headers[i].name, name) != 0)
			continue;
		const char *v = r->headers[i].value;
		memmove(&r->headers[i], &r->headers[i + 1], (r->nheaders - i - 1) * sizeof(r->headers[0]));
		r->nheaders--;
		return v;
	}
	return NULL;
}

static void http_req_request(const struct http_req *h, struct sigv4_request *ret)
{
	ret->method = h->method;
	ret->path = h->path;
	ret->query = h->query;
	ret->headers = h->headers;
	ret->nheaders = h->nheaders;
	ret->body = h->body;
	ret->body_len = h->body_len;
}

/* ---- helpers ---- */

#define PATH_LEN 1024

/* a, sep, b into out; a path that does not fit ends the test, failed. */
static void join(char out[static PATH_LEN], const char *a, const char *sep, const char *b)
{
	int n = snprintf(out, PATH_LEN, "%s%s%s", a, sep, b);
	if (n < 0 || n >= PATH_LEN) {
		fprintf(stderr, "path too long: %s%s%s\n", a, sep, b);
		exit(1);
	}
}

static bool read_text(const char *dir, const char *name, struct buf *ret)
{
	char path[PATH_LEN];
	join(path, dir, "/", name);
	buf_reset(ret);
	int r = file_read(path, FILE_MAX, ret);
	if (r < 0)
		fprintf(stderr, "%s: %s\n", path, cb_strerror(r));
	return r == 0;
}

/* Compares with an expected file and says which one differed. */
static bool same(const char *dir, const char *file, const char *got)
{
	struct buf want;
	buf_init(&want, FILE_MAX);
	bool ok = read_text(dir, file, &want) && got != NULL && strcmp(buf_str(&want), got) == 0;
	if (!ok)
		fprintf(stderr, "%s/%s differs:\n--- got\n%s\n--- want\n%s\n", dir, file,
			got ? got : "(null)", buf_str(&want));
	buf_free(&want);
	return ok;
}

static bool is_dir(const char *path)
{
	DIR *d = opendir(path);
	if (d != NULL)
		closedir(d);
	return d != NULL;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sub-directory names of dir, sorted; *ret_n of them. */
static char **list_dirs(const char *dir, size_t *ret_n)
{
	DIR *d = opendir(dir);
	char **names = NULL;
	size_t n = 0;
	struct dirent *e;
	if (d == NULL)
		return NULL;
	while ((e = readdir(d)) != NULL) {
		char path[PATH_LEN];
		if (e->d_name[0] == '.')
			continue;
		join(path, dir, "/", e->d_name);
		if (!is_dir(path))
			continue;
		char **grown = realloc(names, (n + 1) * sizeof(*names));
		if (grown == NULL)
			break;
		names = grown;
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof(*names), name_cmp);
	*ret_n = n;
	return names;
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* The third line of an expected query canonical request: the canonical
 * query string, which the presigned query must start with. */
static bool third_line(const char *s, struct buf *ret)
{
	const char *a = strchr(s, '\n');
	const char *b = a ? strchr(a + 1, '\n') : NULL;
	const char *c = b ? strchr(b + 1, '\n') : NULL;
	if (c == NULL)
		return false;
	buf_reset(ret);
	return buf_append(ret, b + 1, (size_t)(c - b - 1)) == 0;
}

/* ---- aws-c-auth copy ---- */

static bool json_bool(const cJSON *o, const char *key)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static const char *json_str(const cJSON *o, const char *key)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* One v4 case; *header_ok and *query_ok say which modes matched. */
static void run_v4_case(const char *dir, bool *header_ok, bool *query_ok)
{
	struct buf text, want;
	struct http_req h;
	struct sigv4_result res;
	cJSON *ctx = NULL;
	*header_ok = *query_ok = false;
	buf_init(&text, FILE_MAX);
	buf_init(&want, FILE_MAX);
	memset(&h, 0, sizeof(h));
	buf_init(&h.store, 0);

	if (!read_text(dir, "context.json", &text) || (ctx = cJSON_Parse(buf_str(&text))) == NULL)
		goto out;
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(ctx, "credentials");
	const cJSON *exp = cJSON_GetObjectItemCaseSensitive(ctx, "expiration_in_seconds");
	struct sigv4_creds creds = {
		.access_key_id = json_str(c, "access_key_id"),
		.secret_access_key = json_str(c, "secret_access_key"),
		.session_token = json_str(c, "token"),
	};
	struct sigv4_params params = {
		.region = json_str(ctx, "region"),
		.service = json_str(ctx, "service"),
		.normalize_path = json_bool(ctx, "normalize"),
		.sign_body = json_bool(ctx, "sign_body"),
		.omit_session_token = json_bool(ctx, "omit_session_token"),
		.expires = cJSON_IsNumber(exp) ? (unsigned)exp->valuedouble : 0,
	};
	const char *ts = json_str(ctx, "timestamp");
	if (ts == NULL || cbtime_parse_rfc3339(ts, &params.when) < 0)
		goto out;
	if (!read_text(dir, "request.txt", &text) || http_req_parse(&h, (char *)text.data, text.len) < 0)
		goto out;
	struct sigv4_request req;
	http_req_request(&h, &req);

	int r = sigv4_sign_header(&req, &creds, &params, &res);
	if (r < 0) {
		fprintf(stderr, "%s: header signing: %s\n", dir, cb_strerror(r));
	} else {
		bool ok = same(dir, "header-canonical-request.txt", res.canonical_request);
		ok &= same(dir, "header-string-to-sign.txt", res.string_to_sign);
		ok &= same(dir, "header-signature.txt", res.signature);
		/* The Authorization line of the signed request, byte for byte. */
		ok &= read_text(dir, "header-signed-request.txt", &want);
		struct buf line;
		buf_init(&line, FILE_MAX);
		ok &= buf_printf(&line, "\nAuthorization:%s\n", res.authorization) == 0 &&
		      strstr(buf_str(&want), buf_str(&line)) != NULL;
		buf_free(&line);
		ok &= res.presigned_query == NULL;
		*header_ok = ok;
		sigv4_result_free(&res);
	}

	r = sigv4_presign(&req, &creds, &params, &res);
	if (r < 0) {
		fprintf(stderr, "%s: presigning: %s\n", dir, cb_strerror(r));
	} else {
		bool ok = same(dir, "query-canonical-request.txt", res.canonical_request);
		ok &= same(dir, "query-string-to-sign.txt", res.string_to_sign);
		ok &= same(dir, "query-signature.txt", res.signature);
		/* The query to send: the expected canonical query, the signature,
		 * and the unsigned token when it is omitted from the signing. */
		struct buf q;
		buf_init(&q, FILE_MAX);
		ok &= read_text(dir, "query-canonical-request.txt", &want) &&
		      third_line(buf_str(&want), &q) &&
		      buf_printf(&q, "&X-Amz-Signature=%s", res.signature) == 0;
		if (params.omit_session_token && creds.session_token != NULL)
			ok &= buf_puts(&q, "&X-Amz-Security-Token=") == 0 &&
			      sigv4_uri_encode(&q, creds.session_token, strlen(creds.session_token),
					       false) == 0;
		ok &= res.presigned_query != NULL && strcmp(res.presigned_query, buf_str(&q)) == 0;
		/* ... and the signature is the one in the suite's signed request. */
		ok &= read_text(dir, "query-signed-request.txt", &want);
		ok &= strstr(buf_str(&want), res.signature) != NULL;
		buf_free(&q);
		ok &= res.authorization == NULL;
		*query_ok = ok;
		sigv4_result_free(&res);
	}
out:
	cJSON_Delete(ctx);
	buf_free(&h.store);
	buf_free(&text);
	buf_free(&want);
}

static void run_v4(const char *root, int *ret_total, int *ret_header, int *ret_query)
{
	char dir[PATH_LEN];
	size_t n = 0;
	join(dir, root, "/", "v4");
	char **names = list_dirs(dir, &n);
	int header = 0, query = 0;
	for (size_t i = 0; i < n; i++) {
		char path[PATH_LEN];
		bool h, q;
		join(path, dir, "/", names[i]);
		run_v4_case(path, &h, &q);
		CHECK(h);
		CHECK(q);
		if (!h || !q)
			fprintf(stderr, "v4/%s: header %s, query %s\n", names[i], h ? "ok" : "FAILED",
				q ? "ok" : "FAILED");
		header += h;
		query += q;
	}
	free_names(names, n);
	*ret_total = (int)n;
	*ret_header = header;
	*ret_query = query;
}

/* ---- botocore copy ---- */

static bool run_botocore_case(const char *dir, const char *name)
{
	struct buf text;
	struct http_req h;
	struct sigv4_result res;
	char file[PATH_LEN];
	bool ok = false;
	buf_init(&text, FILE_MAX);
	memset(&h, 0, sizeof(h));
	buf_init(&h.store, 0);

	join(file, name, ".", "req");
	if (!read_text(dir, file, &text) || http_req_parse(&h, (char *)text.data, text.len) < 0)
		goto out;
	const char *date = http_req_take(&h, "X-Amz-Date");
	if (date == NULL || strcmp(date, suite_amz_date) != 0) {
		fprintf(stderr, "%s: X-Amz-Date missing or not the suite's\n", dir);
		goto out;
	}
	struct sigv4_creds creds = {
		.access_key_id = suite_akid,
		.secret_access_key = suite_secret,
		.session_token = http_req_take(&h, "X-Amz-Security-Token"),
	};
	struct sigv4_params params = {
		.region = "us-east-1",
		.service = "service",
		.normalize_path = true,
	};
	for (size_t i = 0; i < sizeof(token_cases) / sizeof(token_cases[0]); i++)
		if (strcmp(name, token_cases[i].name) == 0) {
			creds.session_token = token_cases[i].token;
			params.omit_session_token = token_cases[i].omit;
		}
	if (cbtime_parse_rfc3339(suite_time, &params.when) < 0)
		goto out;
	struct sigv4_request req;
	http_req_request(&h, &req);
	int r = sigv4_sign_header(&req, &creds, &params, &res);
	if (r < 0) {
		fprintf(stderr, "%s: signing: %s\n", dir, cb_strerror(r));
		goto out;
	}
	join(file, name, ".", "creq");
	ok = same(dir, file, res.canonical_request);
	join(file, name, ".", "sts");
	ok &= same(dir, file, res.string_to_sign);
	join(file, name, ".", "authz");
	ok &= same(dir, file, res.authorization);
	sigv4_result_free(&res);
out:
	buf_free(&h.store);
	buf_free(&text);
	return ok;
}

/* A folder holding NAME.req is a case; one without (normalize-path/,
 * post-sts-token/) is a group of cases, walked one level down. */
static void run_botocore_dir(const char *dir, const char *label, int depth, int *total, int *passed)
{
	size_t n = 0;
	char **names = list_dirs(dir, &n);
	for (size_t i = 0; i < n; i++) {
		char path[PATH_LEN], req[PATH_LEN], file[PATH_LEN], sub_label[PATH_LEN];
		join(path, dir, "/", names[i]);
		join(file, names[i], ".", "req");
		join(req, path, "/", file);
		join(sub_label, label, names[i], "/");
		FILE *f = fopen(req, "r");
		if (f == NULL) {
			if (depth == 0)
				run_botocore_dir(path, sub_label, 1, total, passed);
			continue;
		}
		fclose(f);
		bool ok = run_botocore_case(path, names[i]);
		CHECK(ok);
		if (!ok)
			fprintf(stderr, "aws4_testsuite/%s%s: FAILED\n", label, names[i]);
		(*total)++;
		*passed += ok;
	}
	free_names(names, n);
}

/* ---- the API beyond the suites ---- */

static const struct sigv4_header host_only[] = { { "Host", "sts.amazonaws.com" } };

static void base_request(struct sigv4_request *req, struct sigv4_creds *creds,
			 struct sigv4_params *params)
{
	*req = (struct sigv4_request){ .method = "GET", .path = "/", .headers = host_only, .nheaders = 1 };
	*creds = (struct sigv4_creds){ .access_key_id = suite_akid, .secret_access_key = suite_secret };
	*params = (struct sigv4_params){ .region = "us-east-1", .service = "sts", .when = 1440938160,
					 .normalize_path = true, .expires = 60 };
}

/* Signs and returns the canonical path (second line of the canonical
 * request) in ret. */
static int canonical_path_of(const char *path, bool normalize, struct buf *ret)
{
	struct sigv4_request req;
	struct sigv4_creds creds;
	struct sigv4_params params;
	struct sigv4_result res;
	base_request(&req, &creds, &params);
	req.path = path;
	params.normalize_path = normalize;
	int r = sigv4_sign_header(&req, &creds, &params, &res);
	if (r < 0)
		return r;
	const char *a = strchr(res.canonical_request, '\n') + 1;
	buf_reset(ret);
	r = buf_append(ret, a, (size_t)(strchr(a, '\n') - a));
	sigv4_result_free(&res);
	return r;
}

static void test_uri_encode(void)
{
	struct buf b;
	buf_init(&b, 64);
	const char s[] = "a b/c~-_.%\xe1\x88\xb4+=&Z9";
	CHECK_INT(sigv4_uri_encode(&b, s, strlen(s), false), 0);
	CHECK_STR(buf_str(&b), "a%20b%2Fc~-_.%25%E1%88%B4%2B%3D%26Z9");
	buf_reset(&b);
	CHECK_INT(sigv4_uri_encode(&b, s, strlen(s), true), 0);
	CHECK_STR(buf_str(&b), "a%20b/c~-_.%25%E1%88%B4%2B%3D%26Z9");
	buf_reset(&b);
	CHECK_INT(sigv4_uri_encode(&b, "", 0, false), 0);
	CHECK_INT(b.len, 0);
	/* An embedded NUL is a byte like any other. */
	CHECK_INT(sigv4_uri_encode(&b, "a\0b", 3, false), 0);
	CHECK_STR(buf_str(&b), "a%00b");
	buf_free(&b);

	/* Over the buffer's cap: refused, and the buffer is left as it was. */
	buf_init(&b, 8);
	CHECK_INT(buf_puts(&b, "x="), 0);
	CHECK_INT(sigv4_uri_encode(&b, "   ", 3, false), CB_ERR_TOO_LARGE);
	CHECK_STR(buf_str(&b), "x=");
	CHECK_INT(sigv4_uri_encode(&b, "ab", 2, false), 0);
	CHECK_STR(buf_str(&b), "x=ab");
	buf_free(&b);
}

static void test_paths(void)
{
	struct buf p;
	buf_init(&p, 1024);
	CHECK_INT(canonical_path_of("/a/b/../c/./d/", true, &p), 0);
	CHECK_STR(buf_str(&p), "/a/c/d/");
	CHECK_INT(canonical_path_of("/a/b/..", true, &p), 0);
	CHECK_STR(buf_str(&p), "/a/");
	CHECK_INT(canonical_path_of("/../../x", true, &p), 0);
	CHECK_STR(buf_str(&p), "/x");
	CHECK_INT(canonical_path_of("", true, &p), 0);
	CHECK_STR(buf_str(&p), "/");
	/* Already-encoded bytes are encoded again, normalised or not. */
	CHECK_INT(canonical_path_of("/a%20b//c", true, &p), 0);
	CHECK_STR(buf_str(&p), "/a%2520b/c");
	CHECK_INT(canonical_path_of("/a%20b//c", false, &p), 0);
	CHECK_STR(buf_str(&p), "/a%2520b//c");
	CHECK_INT(canonical_path_of("no-slash", true, &p), CB_ERR_INVALID);
	buf_free(&p);
}

static void test_refusals(void)
{
	struct sigv4_request req;
	struct sigv4_creds creds;
	struct sigv4_params params;
	struct sigv4_result res, untouched;
	memset(&untouched, 0xa5, sizeof(untouched));
	res = untouched;

	/* The baseline signs, in both modes, and no secret is in any output. */
	base_request(&req, &creds, &params);
	creds.session_token = "TOKEN/+=";
	CHECK_INT(sigv4_sign_header(&req, &creds, &params, &res), 0);
	CHECK(strstr(res.canonical_request, suite_secret) == NULL);
	CHECK(strstr(res.authorization, suite_secret) == NULL);
	CHECK_STR(res.signed_headers, "host;x-amz-date;x-amz-security-token");
	sigv4_result_free(&res);
	CHECK(res.canonical_request == NULL && res.authorization == NULL);
	sigv4_result_free(&res); /* a freed result may be freed again */
	CHECK_INT(sigv4_presign(&req, &creds, &params, &res), 0);
	CHECK(strstr(res.presigned_query, "X-Amz-Security-Token=TOKEN%2F%2B%3D&") != NULL);
	CHECK(strstr(res.presigned_query, "X-Amz-Expires=60&") != NULL);
	CHECK_STR(res.signed_headers, "host");
	sigv4_result_free(&res);
	res = untouched;

	/* Headers: 100 are fine, 101 are too many. */
	struct sigv4_header many[SIGV4_MAX_HEADERS + 1];
	many[0] = host_only[0];
	for (size_t i = 1; i < SIGV4_MAX_HEADERS + 1; i++)
		many[i] = (struct sigv4_header){ "X-Many", "v" };
	req.headers = many;
	req.nheaders = SIGV4_MAX_HEADERS;
	CHECK_INT(sigv4_sign_header(&req, &creds, &params, &res), 0);
	sigv4_result_free(&res);
	res = untouched;
	req.nheaders = SIGV4_MAX_HEADERS + 1;
	CHECK_INT(sigv4_sign_header(&req, &creds, &params, &res), CB_ERR_TOO_LARGE);
	CHECK(memcmp(&res, &untouched, sizeof(res)) == 0);

	/* Path and query: 16 KiB is fine, one byte more is not. */
	static char big[SIGV4_MAX_PATH + 2];
	big[0] = '/';
	memset(big + 1, 'a', SIGV4_MAX_PATH - 1);
	base_request(&req, &creds, &params);
	req.path = big;
	CHECK_INT(sigv4_sign_header(&req, &creds, &params, &res), 0);
	sigv4_result_free(&res);
	res = untouched;
	big[SIGV4_MAX_PATH] = 'a';
	CHECK_INT(sigv4_sign_header(&req, &creds, &params, &res), CB_ERR_TOO_LARGE);
	CHECK(memcmp(&res, &untouched, sizeof(res)) == 0);
	base_request(&req, &creds, &params);
	big[0] = 'a';
	big[1] = '=';
	req.query = big;
	CHECK_INT(sigv4_presign(&req, &creds, &params, &res), CB_ERR_TOO_LARGE);
	big[SIGV4_MAX_QUERY] = '\0';
	CHECK_INT(sigv4_presign(&req, &creds, &params, &res), 0);
	sigv4_result_free(&res);
	res = untouched;

	/* One header over its cap, a secret over its cap. */
	struct sigv4_header huge[2] = { host_only[0], { "X-Huge", big } };
	base_request(&req, &creds, &params);
	req.headers = huge;
	req.nheaders = 2;
	CHECK_INT(sigv4_sign_header(&req, &creds, &params, &res), CB_ERR_TOO_LARGE);
	base_request(&req, &creds, &params);
	creds.secret_access_key = big;
	CHECK_INT(sigv4_sign_header(&req, &creds, &params, &res), CB_ERR_TOO_LARGE);
	CHECK(memcmp(&res, &untouched, sizeof(res)) == 0);

	/* Malformed or reserved input is refused... */
	struct {
		const char *what;
		struct sigv4_header h[2];
		size_t nh;
		const char *query;
		bool presign;
	} bad[] = {
		{ "no Host", { { "X-A", "b" } }, 1, NULL, false },
		{ "caller X-Amz-Date", { host_only[0], { "X-Amz-Date", "20150830T123600Z" } }, 2, NULL, false },
		{ "caller token", { host_only[0], { "x-amz-security-token", "t" } }, 2, NULL, false },
		{ "caller Authorization", { host_only[0], { "Authorization", "x" } }, 2, NULL, false },
		{ "CRLF in a value", { host_only[0], { "X-A", "b\r\nX-Evil: 1" } }, 2, NULL, false },
		{ "space in a name", { host_only[0], { "X A", "b" } }, 2, NULL, false },
		{ "empty name", { host_only[0], { "", "b" } }, 2, NULL, false },
		{ "bad escape", { host_only[0] }, 1, "a=%zz", false },
		{ "short escape", { host_only[0] }, 1, "a=%4", false },
		{ "X-Amz-Signature in a presign query", { host_only[0] }, 1, "x-amz-signature=1", true },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		base_request(&req, &creds, &params);
		req.headers = bad[i].h;
		req.nheaders = bad[i].nh;
		req.query = bad[i].query;
		int r = bad[i].presign ? sigv4_presign(&req, &creds, &params, &res)
				       : sigv4_sign_header(&req, &creds, &params, &res);
		if (r != CB_ERR_INVALID)
			fprintf(stderr, "refusal: %s\n", bad[i].what);
		CHECK_INT(r, CB_ERR_INVALID);
	}
	CHECK(memcmp(&res, &untouched, sizeof(res)) == 0);

	base_request(&req, &creds, &params);
	params.region = "us-east-1/x";
	CHECK_INT(sigv4_sign_header(&req, &creds, &params, &res), CB_ERR_INVALID);
	base_request(&req, &creds, &params);
	req.method = "get";
	CHECK_INT(sigv4_sign_header(&req, &creds, &params, &res), CB_ERR_INVALID);
	base_request(&req, &creds, &params);
	creds.session_token = "";
	CHECK_INT(sigv4_sign_header(&req, &creds, &params, &res), CB_ERR_INVALID);
	base_request(&req, &creds, &params);
	params.expires = 0;
	CHECK_INT(sigv4_presign(&req, &creds, &params, &res), CB_ERR_INVALID);
	params.expires = SIGV4_MAX_EXPIRES + 1;
	CHECK_INT(sigv4_presign(&req, &creds, &params, &res), CB_ERR_INVALID);
	CHECK(memcmp(&res, &untouched, sizeof(res)) == 0);

	/* ... and the right request still signs afterwards, with x-amz-content-sha256
	 * when sign_body, and the payload hash of the body in both modes. */
	base_request(&req, &creds, &params);
	req.method = "POST";
	req.body = "Action=GetCallerIdentity&Version=2011-06-15";
	req.body_len = strlen(req.body);
	params.sign_body = true;
	CHECK_INT(sigv4_sign_header(&req, &creds, &params, &res), 0);
	CHECK_STR(res.signed_headers, "host;x-amz-content-sha256;x-amz-date");
	CHECK(strstr(res.canonical_request, res.payload_hash) != NULL);
	CHECK(strcmp(res.payload_hash,
		     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") != 0);
	sigv4_result_free(&res);
}

int main(void)
{
	const char *vectors = getenv("CB_VECTORS");
	char root[PATH_LEN];
	CHECK(vectors != NULL);
	if (vectors == NULL)
		return check_status();
	join(root, vectors, "/", "sigv4");

	int v4_total = 0, v4_header = 0, v4_query = 0;
	run_v4(root, &v4_total, &v4_header, &v4_query);
	CHECK_INT(v4_total, V4_CASES);

	char boto[PATH_LEN];
	int boto_total = 0, boto_passed = 0;
	join(boto, root, "/", "aws4_testsuite");
	run_botocore_dir(boto, "", 0, &boto_total, &boto_passed);
	CHECK_INT(boto_total, BOTOCORE_CASES);

	fprintf(stderr, "v4: %d/%d header, %d/%d query; aws4_testsuite: %d/%d\n", v4_header,
		v4_total, v4_query, v4_total, boto_passed, boto_total);

	test_uri_encode();
	test_paths();
	test_refusals();
	return check_status();
}
