/* SPDX-License-Identifier: MIT */
/*
 * AWS Signature Version 4, as documented in "Create a signed AWS API
 * request" and proven against AWS's own test suite. The request is turned
 * into a canonical request, that is hashed into a string to sign, and the
 * string to sign is MACed with a key derived from the secret access key.
 *
 * Strings are gathered in capped struct bufs; canonical query parameters
 * and headers are collected into one pool each and sorted through a small
 * array of offsets, so the number of allocations does not grow with the
 * input. Everything that may hold a secret (the derived keys, the session
 * token in a header or query) is wiped before it is freed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "credbroker/buf.h"
#include "credbroker/err.h"
#include "credbroker/sigv4.h"

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SHA256_BYTES 32
/* Room for a re-encoded query (each byte may triple) with the X-Amz-*
 * parameters, every header, and the fixed lines. */
#define CANONICAL_MAX (512 * 1024)

static bool is_alnum(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_unreserved(unsigned char c)
{
	return is_alnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

/* RFC 7230 tchar: what a header name may be made of. */
static bool is_tchar(unsigned char c)
{
	return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void hex_lower(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int sha256_hex(const void *p, size_t n, char out[static 2 * SHA256_BYTES + 1])
{
	uint8_t md[SHA256_BYTES];
	unsigned int len = 0;
	if (EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) != 1 || len != SHA256_BYTES)
		return CB_ERR_CRYPTO;
	hex_lower(md, sizeof(md), out);
	return 0;
}

static int hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
		       uint8_t out[static SHA256_BYTES])
{
	unsigned int len = 0;
	if (HMAC(EVP_sha256(), key, (int)key_len, msg, msg_len, out, &len) == NULL ||
	    len != SHA256_BYTES)
		return CB_ERR_CRYPTO;
	return 0;
}

int sigv4_uri_encode(struct buf *out, const char *s, size_t n, bool keep_slash)
{
	static const char digits[] = "0123456789ABCDEF";
	if (s == NULL && n > 0)
		return CB_ERR_INVALID;
	size_t need = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		need += is_unreserved(c) || (keep_slash && c == '/') ? 1 : 3;
	}
	/* Encode into a scratch buffer so out is untouched on failure. */
	struct buf tmp;
	buf_init(&tmp, need);
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		unsigned char c = (unsigned char)s[i];
		if (is_unreserved(c) || (keep_slash && c == '/')) {
			r = buf_putc(&tmp, (char)c);
		} else {
			char esc[3] = { '%', digits[c >> 4], digits[c & 15] };
			r = buf_append(&tmp, esc, sizeof(esc));
		}
	}
	if (r == 0)
		r = buf_append(out, tmp.data, tmp.len);
	buf_free(&tmp);
	return r;
}

/* Percent-decode n bytes into out; a '%' not followed by two hex digits is
 * refused rather than guessed at. */
static int uri_decode(struct buf *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%') {
			if (n - i < 3 || hexval((unsigned char)s[i + 1]) < 0 ||
			    hexval((unsigned char)s[i + 2]) < 0)
				return CB_ERR_INVALID;
			c = (unsigned char)(hexval((unsigned char)s[i + 1]) << 4 |
					    hexval((unsigned char)s[i + 2]));
			i += 2;
		}
		int r = buf_putc(out, (char)c);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Checks a short identifier that ends up in the credential scope, where a
 * '/' or a space would change its meaning. */
static bool valid_scope_part(const char *s, bool allow_punct)
{
	if (s == NULL || s[0] == '\0' || strlen(s) > 128)
		return false;
	for (const char *p = s; *p != '\0'; p++)
		if (!is_alnum((unsigned char)*p) &&
		    !(allow_punct && (*p == '-' || *p == '_' || *p == '.')))
			return false;
	return true;
}

/* A value that will travel in a header: no control bytes but tab. */
static bool valid_header_value(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

/* ---- path ---- */

struct segment {
	const char *p;
	size_t n;
};

/*
 * The canonical URI: with normalize, empty and "." segments are dropped and
 * ".." removes the segment before it (never climbing above the root), and
 * the path keeps a trailing slash when it had one or ended in "." or "..",
 * as RFC 3986's remove_dot_segments does. Each byte is then encoded once
 * more, so an already-encoded "%20" becomes "%2520": the double encoding
 * every service but S3 expects.
 */
static int canonical_path(struct buf *out, const char *path, bool normalize)
{
	size_t n = path ? strnlen(path, SIGV4_MAX_PATH + 1) : 0;
	if (n > SIGV4_MAX_PATH)
		return CB_ERR_TOO_LARGE;
	if (n == 0)
		return buf_putc(out, '/');
	if (path[0] != '/')
		return CB_ERR_INVALID;
	if (!normalize)
		return sigv4_uri_encode(out, path, n, true);

	size_t max = 1;
	for (size_t i = 0; i < n; i++)
		max += path[i] == '/';
	struct segment *segs = calloc(max, sizeof(*segs));
	if (segs == NULL)
		return CB_ERR_NOMEM;
	size_t nsegs = 0;
	bool trailing = false;
	for (size_t i = 1; i <= n;) {
		size_t j = i;
		while (j < n && path[j] != '/')
			j++;
		const char *p = path + i;
		size_t len = j - i;
		trailing = j == n && (len == 0 || (len == 1 && p[0] == '.') ||
				      (len == 2 && p[0] == '.' && p[1] == '.'));
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (nsegs > 0)
				nsegs--;
		} else if (len > 0 && !(len == 1 && p[0] == '.')) {
			segs[nsegs].p = p;
			segs[nsegs].n = len;
			nsegs++;
		}
		i = j + 1;
	}

	int r = buf_putc(out, '/');
	for (size_t k = 0; k < nsegs && r == 0; k++) {
		r = sigv4_uri_encode(out, segs[k].p, segs[k].n, false);
		if (r == 0 && (k + 1 < nsegs || trailing))
			r = buf_putc(out, '/');
	}
	free(segs);
	return r;
}

/* ---- query ---- */

/* Encoded key and value, as offsets into a pool while it may still move,
 * as pointers once it is complete. */
struct param {
	size_t koff, klen, voff, vlen;
	const char *k, *v;
};

struct params {
	struct buf pool;
	struct param *v;
	size_t n, max;
};

static const char *const presign_keys[] = {
	"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
	"X-Amz-Security-Token", "X-Amz-SignedHeaders", "X-Amz-Signature",
};

static bool is_presign_key(const char *k, size_t n)
{
	for (size_t i = 0; i < sizeof(presign_keys) / sizeof(presign_keys[0]); i++)
		if (strlen(presign_keys[i]) == n && strncasecmp(presign_keys[i], k, n) == 0)
			return true;
	return false;
}

/* Adds one parameter from its decoded key and value. */
static int params_add(struct params *ps, const char *k, size_t klen, const char *v, size_t vlen)
{
	if (ps->n == ps->max)
		return CB_ERR_TOO_LARGE;
	struct param *p = &ps->v[ps->n];
	p->koff = ps->pool.len;
	int r = sigv4_uri_encode(&ps->pool, k, klen, false);
	if (r < 0)
		return r;
	p->klen = ps->pool.len - p->koff;
	p->voff = ps->pool.len;
	r = sigv4_uri_encode(&ps->pool, v, vlen, false);
	if (r < 0)
		return r;
	p->vlen = ps->pool.len - p->voff;
	ps->n++;
	return 0;
}

static int params_add_str(struct params *ps, const char *k, const char *v)
{
	return params_add(ps, k, strlen(k), v, strlen(v));
}

/* Splits the request's query on '&' and each piece on its first '=';
 * empty pieces ("a&&b") carry nothing and are dropped. */
static int params_parse(struct params *ps, const char *query, size_t n, bool presign)
{
	struct buf key, val;
	buf_init(&key, SIGV4_MAX_QUERY);
	buf_init(&val, SIGV4_MAX_QUERY);
	int r = 0;
	for (size_t i = 0; i < n && r == 0;) {
		size_t j = i;
		while (j < n && query[j] != '&')
			j++;
		if (j > i) {
			const char *eq = memchr(query + i, '=', j - i);
			size_t kend = eq ? (size_t)(eq - query) : j;
			size_t vstart = eq ? kend + 1 : j;
			buf_reset(&key);
			buf_reset(&val);
			r = uri_decode(&key, query + i, kend - i);
			if (r == 0)
				r = uri_decode(&val, query + vstart, j - vstart);
			if (r == 0 && presign && is_presign_key(buf_str(&key), key.len))
				r = CB_ERR_INVALID;
			if (r == 0)
				r = params_add(ps, buf_str(&key), key.len, buf_str(&val), val.len);
		}
		i = j + 1;
	}
	buf_free(&key);
	buf_free(&val);
	return r;
}

static int cmp_bytes(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);
	if (c != 0)
		return c;
	return an < bn ? -1 : an > bn;
}

/* By encoded key, then encoded value, bytewise. */
static int param_cmp(const void *a, const void *b)
{
	const struct param *x = a, *y = b;
	int c = cmp_bytes(x->k, x->klen, y->k, y->klen);
	return c != 0 ? c : cmp_bytes(x->v, x->vlen, y->v, y->vlen);
}

/* Appends "k=v&k=v..." sorted. */
static int params_write(struct params *ps, struct buf *out)
{
	for (size_t i = 0; i < ps->n; i++) {
		ps->v[i].k = (const char *)ps->pool.data + ps->v[i].koff;
		ps->v[i].v = (const char *)ps->pool.data + ps->v[i].voff;
	}
	if (ps->n > 1)
		qsort(ps->v, ps->n, sizeof(ps->v[0]), param_cmp);
	int r = 0;
	for (size_t i = 0; i < ps->n && r == 0; i++) {
		if (i > 0)
			r = buf_putc(out, '&');
		if (r == 0)
			r = buf_append(out, ps->v[i].k, ps->v[i].klen);
		if (r == 0)
			r = buf_putc(out, '=');
		if (r == 0)
			r = buf_append(out, ps->v[i].v, ps->v[i].vlen);
	}
	return r;
}

/* ---- headers ---- */

/* Lowercased name and canonical value, as offsets into a pool; idx keeps
 * duplicates in the order they were given. */
struct header {
	size_t noff, nlen, voff, vlen, idx;
	const char *name, *value;
};

struct headers {
	struct buf pool;
	struct header *v;
	size_t n, max;
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Adds a header: the name lowercased, the value trimmed with inner runs of
 * spaces and tabs collapsed to one space. */
static int headers_add(struct headers *hs, const char *name, const char *value)
{
	if (name == NULL || value == NULL)
		return CB_ERR_INVALID;
	size_t nlen = strnlen(name, SIGV4_MAX_HEADER + 1);
	size_t vlen = strnlen(value, SIGV4_MAX_HEADER + 1);
	if (nlen + vlen > SIGV4_MAX_HEADER)
		return CB_ERR_TOO_LARGE;
	if (nlen == 0 || !valid_header_value(value, vlen))
		return CB_ERR_INVALID;
	if (hs->n == hs->max)
		return CB_ERR_TOO_LARGE;

	struct header *h = &hs->v[hs->n];
	h->idx = hs->n;
	h->noff = hs->pool.len;
	int r = 0;
	for (size_t i = 0; i < nlen && r == 0; i++) {
		if (!is_tchar((unsigned char)name[i]))
			return CB_ERR_INVALID;
		r = buf_putc(&hs->pool, (char)lower((unsigned char)name[i]));
	}
	if (r < 0)
		return r;
	h->nlen = nlen;
	h->voff = hs->pool.len;
	size_t i = 0, end = vlen;
	while (i < end && is_space(value[i]))
		i++;
	while (end > i && is_space(value[end - 1]))
		end--;
	while (i < end && r == 0) {
		if (is_space(value[i])) {
			while (is_space(value[i]))
				i++;
			r = buf_putc(&hs->pool, ' ');
		} else {
			r = buf_putc(&hs->pool, value[i++]);
		}
	}
	if (r < 0)
		return r;
	h->vlen = hs->pool.len - h->voff;
	hs->n++;
	return 0;
}

static int header_cmp(const void *a, const void *b)
{
	const struct header *x = a, *y = b;
	int c = cmp_bytes(x->name, x->nlen, y->name, y->nlen);
	if (c != 0)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static bool name_is(const struct header *h, const char *s)
{
	return h->nlen == strlen(s) && memcmp(h->name, s, h->nlen) == 0;
}

/* Sorts the headers, refuses the ones the signer owns, and writes the
 * canonical header lines to lines and the "a;b;c" list to signed_list. */
static int headers_write(struct headers *hs, size_t ncaller, bool own_content_sha,
			 struct buf *lines, struct buf *signed_list)
{
	bool have_host = false;
	for (size_t i = 0; i < hs->n; i++) {
		hs->v[i].name = (const char *)hs->pool.data + hs->v[i].noff;
		hs->v[i].value = (const char *)hs->pool.data + hs->v[i].voff;
		if (i < ncaller && (name_is(&hs->v[i], "authorization") ||
				    name_is(&hs->v[i], "x-amz-date") ||
				    name_is(&hs->v[i], "x-amz-security-token") ||
				    (own_content_sha && name_is(&hs->v[i], "x-amz-content-sha256"))))
			return CB_ERR_INVALID;
		have_host |= name_is(&hs->v[i], "host") && hs->v[i].vlen > 0;
	}
	if (!have_host)
		return CB_ERR_INVALID;
	qsort(hs->v, hs->n, sizeof(hs->v[0]), header_cmp);

	int r = 0;
	for (size_t i = 0; i < hs->n && r == 0; i++) {
		const struct header *h = &hs->v[i];
		bool first = i == 0 || cmp_bytes(h->name, h->nlen, hs->v[i - 1].name,
						 hs->v[i - 1].nlen) != 0;
		bool last = i + 1 == hs->n || cmp_bytes(h->name, h->nlen, hs->v[i + 1].name,
							hs->v[i + 1].nlen) != 0;
		if (first) {
			if (i > 0)
				r = buf_putc(signed_list, ';');
			if (r == 0)
				r = buf_append(signed_list, h->name, h->nlen);
			if (r == 0)
				r = buf_append(lines, h->name, h->nlen);
			if (r == 0)
				r = buf_putc(lines, ':');
		} else {
			r = buf_putc(lines, ',');
		}
		if (r == 0)
			r = buf_append(lines, h->value, h->vlen);
		if (r == 0 && last)
			r = buf_putc(lines, '\n');
	}
	return r;
}

/* ---- signing ---- */

/* The signature of sts: HMAC chain "AWS4"+secret -> date -> region ->
 * service -> "aws4_request", then HMAC over the string to sign. Every
 * intermediate key is wiped. */
static int signature(const char *secret, const char *date8, const char *region,
		     const char *service, const struct buf *sts, char out[static 65])
{
	uint8_t k_secret[4 + SIGV4_MAX_SECRET];
	uint8_t k[SHA256_BYTES], k2[SHA256_BYTES], sig[SHA256_BYTES];
	size_t slen = strlen(secret);
	memcpy(k_secret, "AWS4", 4);
	memcpy(k_secret + 4, secret, slen);

	int r = hmac_sha256(k_secret, 4 + slen, date8, strlen(date8), k);
	if (r == 0)
		r = hmac_sha256(k, sizeof(k), region, strlen(region), k2);
	if (r == 0)
		r = hmac_sha256(k2, sizeof(k2), service, strlen(service), k);
	if (r == 0)
		r = hmac_sha256(k, sizeof(k), "aws4_request", strlen("aws4_request"), k2);
	if (r == 0)
		r = hmac_sha256(k2, sizeof(k2), sts->data, sts->len, sig);
	if (r == 0)
		hex_lower(sig, sizeof(sig), out);
	OPENSSL_cleanse(k_secret, sizeof(k_secret));
	OPENSSL_cleanse(k, sizeof(k));
	OPENSSL_cleanse(k2, sizeof(k2));
	OPENSSL_cleanse(sig, sizeof(sig));
	return r;
}

static int check_inputs(const struct sigv4_request *req, const struct sigv4_creds *creds,
			const struct sigv4_params *params, bool presign)
{
	if (req == NULL || creds == NULL || params == NULL)
		return CB_ERR_INVALID;
	if (req->method == NULL || req->method[0] == '\0' || strlen(req->method) > 16)
		return CB_ERR_INVALID;
	for (const char *p = req->method; *p != '\0'; p++)
		if (*p < 'A' || *p > 'Z')
			return CB_ERR_INVALID;
	if (req->nheaders > SIGV4_MAX_HEADERS)
		return CB_ERR_TOO_LARGE;
	if ((req->headers == NULL && req->nheaders > 0) || (req->body == NULL && req->body_len > 0))
		return CB_ERR_INVALID;
	if (!valid_scope_part(creds->access_key_id, false) ||
	    !valid_scope_part(params->region, true) || !valid_scope_part(params->service, true))
		return CB_ERR_INVALID;
	if (creds->secret_access_key == NULL || creds->secret_access_key[0] == '\0')
		return CB_ERR_INVALID;
	if (strnlen(creds->secret_access_key, SIGV4_MAX_SECRET + 1) > SIGV4_MAX_SECRET)
		return CB_ERR_TOO_LARGE;
	if (creds->session_token != NULL) {
		size_t n = strnlen(creds->session_token, SIGV4_MAX_TOKEN + 1);
		if (n > SIGV4_MAX_TOKEN)
			return CB_ERR_TOO_LARGE;
		if (n == 0 || !valid_header_value(creds->session_token, n))
			return CB_ERR_INVALID;
	}
	if (presign && (params->expires < 1 || params->expires > SIGV4_MAX_EXPIRES))
		return CB_ERR_INVALID;
	if (req->query != NULL && strnlen(req->query, SIGV4_MAX_QUERY + 1) > SIGV4_MAX_QUERY)
		return CB_ERR_TOO_LARGE;
	return 0;
}

static int sign(const struct sigv4_request *req, const struct sigv4_creds *creds,
		const struct sigv4_params *params, bool presign, struct sigv4_result *ret)
{
	struct sigv4_result res = { 0 };
	struct headers hs = { 0 };
	struct params ps = { 0 };
	struct buf creq, sts, lines, signed_list, scope, query, out;
	buf_init(&creq, CANONICAL_MAX);
	buf_init(&sts, 1024);
	buf_init(&lines, CANONICAL_MAX);
	buf_init(&signed_list, CANONICAL_MAX);
	buf_init(&scope, 512);
	buf_init(&query, CANONICAL_MAX);
	buf_init(&out, CANONICAL_MAX);
	buf_init(&hs.pool, CANONICAL_MAX);
	buf_init(&ps.pool, CANONICAL_MAX);

	int r = check_inputs(req, creds, params, presign);
	if (r < 0)
		goto out;
	const char *token = creds->session_token;

	struct tm tm;
	char date8[9];
	if (gmtime_r(&params->when, &tm) == NULL || tm.tm_year + 1900 < 1970 ||
	    tm.tm_year + 1900 > 9999 ||
	    strftime(res.amz_date, sizeof(res.amz_date), "%Y%m%dT%H%M%SZ", &tm) != 16 ||
	    strftime(date8, sizeof(date8), "%Y%m%d", &tm) != 8) {
		r = CB_ERR_INVALID;
		goto out;
	}
	r = sha256_hex(req->body ? req->body : "", req->body_len, res.payload_hash);
	if (r < 0)
		goto out;
	r = buf_printf(&scope, "%s/%s/%s/aws4_request", date8, params->region, params->service);
	if (r < 0)
		goto out;

	/* Headers: the caller's, then the ones the signer adds in header mode. */
	hs.max = req->nheaders + 3;
	hs.v = calloc(hs.max, sizeof(*hs.v));
	if (hs.v == NULL) {
		r = CB_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < req->nheaders && r == 0; i++)
		r = headers_add(&hs, req->headers[i].name, req->headers[i].value);
	if (r == 0 && !presign) {
		r = headers_add(&hs, "x-amz-date", res.amz_date);
		if (r == 0 && token != NULL && !params->omit_session_token)
			r = headers_add(&hs, "x-amz-security-token", token);
		if (r == 0 && params->sign_body)
			r = headers_add(&hs, "x-amz-content-sha256", res.payload_hash);
	}
	if (r == 0)
		r = headers_write(&hs, req->nheaders, !presign && params->sign_body, &lines,
				  &signed_list);
	if (r < 0)
		goto out;

	/* Query: the request's parameters, then the X-Amz-* ones when presigning. */
	size_t qlen = req->query ? strlen(req->query) : 0;
	ps.max = 1 + sizeof(presign_keys) / sizeof(presign_keys[0]);
	for (size_t i = 0; i < qlen; i++)
		ps.max += req->query[i] == '&';
	ps.v = calloc(ps.max, sizeof(*ps.v));
	if (ps.v == NULL) {
		r = CB_ERR_NOMEM;
		goto out;
	}
	r = params_parse(&ps, req->query, qlen, presign);
	if (r == 0 && presign) {
		char expires[16];
		snprintf(expires, sizeof(expires), "%u", params->expires);
		r = params_add_str(&ps, "X-Amz-Algorithm", SIGV4_ALGORITHM);
		if (r == 0)
			r = buf_printf(&out, "%s/%s", creds->access_key_id, buf_str(&scope));
		if (r == 0)
			r = params_add_str(&ps, "X-Amz-Credential", buf_str(&out));
		if (r == 0)
			r = params_add_str(&ps, "X-Amz-Date", res.amz_date);
		if (r == 0)
			r = params_add_str(&ps, "X-Amz-Expires", expires);
		if (r == 0 && token != NULL && !params->omit_session_token)
			r = params_add_str(&ps, "X-Amz-Security-Token", token);
		if (r == 0)
			r = params_add_str(&ps, "X-Amz-SignedHeaders", buf_str(&signed_list));
		buf_reset(&out);
	}
	if (r == 0)
		r = params_write(&ps, &query);
	if (r < 0)
		goto out;

	/* The canonical request and the string to sign. */
	r = buf_printf(&creq, "%s\n", req->method);
	if (r == 0)
		r = canonical_path(&creq, req->path, params->normalize_path);
	if (r == 0)
		r = buf_putc(&creq, '\n');
	if (r == 0)
		r = buf_append(&creq, query.data, query.len);
	if (r == 0)
		r = buf_putc(&creq, '\n');
	if (r == 0)
		r = buf_append(&creq, lines.data, lines.len);
	if (r == 0)
		r = buf_printf(&creq, "\n%s\n%s", buf_str(&signed_list), res.payload_hash);
	if (r < 0)
		goto out;
	char creq_hash[2 * SHA256_BYTES + 1];
	r = sha256_hex(creq.data, creq.len, creq_hash);
	if (r == 0)
		r = buf_printf(&sts, SIGV4_ALGORITHM "\n%s\n%s\n%s", res.amz_date, buf_str(&scope),
			       creq_hash);
	if (r == 0)
		r = signature(creds->secret_access_key, date8, params->region, params->service,
			      &sts, res.signature);
	if (r < 0)
		goto out;

	/* What the caller sends. */
	if (presign) {
		r = buf_append(&out, query.data, query.len);
		if (r == 0)
			r = buf_printf(&out, "&X-Amz-Signature=%s", res.signature);
		if (r == 0 && token != NULL && params->omit_session_token) {
			r = buf_puts(&out, "&X-Amz-Security-Token=");
			if (r == 0)
				r = sigv4_uri_encode(&out, token, strlen(token), false);
		}
	} else {
		r = buf_printf(&out, SIGV4_ALGORITHM " Credential=%s/%s, SignedHeaders=%s, Signature=%s",
			       creds->access_key_id, buf_str(&scope), buf_str(&signed_list),
			       res.signature);
	}
	if (r < 0)
		goto out;

	res.canonical_request = buf_steal(&creq);
	res.string_to_sign = buf_steal(&sts);
	res.signed_headers = buf_steal(&signed_list);
	char *sent = buf_steal(&out);
	if (presign)
		res.presigned_query = sent;
	else
		res.authorization = sent;
	if (res.canonical_request == NULL || res.string_to_sign == NULL ||
	    res.signed_headers == NULL || sent == NULL) {
		sigv4_result_free(&res);
		r = CB_ERR_NOMEM;
		goto out;
	}
	*ret = res;
	memset(&res, 0, sizeof(res));
out:
	OPENSSL_cleanse(&res, sizeof(res));
	buf_free(&creq);
	buf_free(&sts);
	buf_free(&lines);
	buf_free(&signed_list);
	buf_free(&scope);
	buf_free(&query);
	buf_free(&out);
	buf_free(&hs.pool);
	buf_free(&ps.pool);
	free(hs.v);
	free(ps.v);
	return r;
}

int sigv4_sign_header(const struct sigv4_request *req, const struct sigv4_creds *creds,
		      const struct sigv4_params *params, struct sigv4_result *ret)
{
	return sign(req, creds, params, false, ret);
}

int sigv4_presign(const struct sigv4_request *req, const struct sigv4_creds *creds,
		  const struct sigv4_params *params, struct sigv4_result *ret)
{
	return sign(req, creds, params, true, ret);
}

static void free_wiped(char **p)
{
	if (*p != NULL) {
		OPENSSL_cleanse(*p, strlen(*p));
		free(*p);
		*p = NULL;
	}
}

void sigv4_result_free(struct sigv4_result *r)
{
	if (r == NULL)
		return;
	free_wiped(&r->canonical_request);
	free_wiped(&r->string_to_sign);
	free_wiped(&r->authorization);
	free_wiped(&r->presigned_query);
	free_wiped(&r->signed_headers);
	OPENSSL_cleanse(r, sizeof(*r));
}
