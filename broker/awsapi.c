/* SPDX-License-Identifier: MIT */
/*
 * One signed AWS Query-API POST over libcurl, retried when that can help.
 * TLS peer and host verification are libcurl's defaults and are never
 * turned off; plain http is only for loopback emulators (moto).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <sodium.h>

#include "cb-config.h"
#include "credbroker/awsapi.h"
#include "credbroker/buf.h"
#include "credbroker/err.h"
#include "credbroker/wipe.h"

#define MAX_ENDPOINT 1024
#define BACKOFF_CAP_MS 20000L

struct awsapi_client {
	char service[16];
	char region[64];
	char endpoint[MAX_ENDPOINT]; /* as given, for messages */
	char url[MAX_ENDPOINT];      /* what curl fetches */
	char host[300];              /* the Host header, port included when explicit */
	char path[MAX_ENDPOINT];
	bool plain_http;
	bool json;
	long connect_ms;
	long total_ms;
	int attempts;
	long backoff_ms;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_ok;

static void global_init(void)
{
	/* libcurl's receive buffers hold the raw answer, secret key and token
	 * included: every block it frees is wiped first. */
	global_ok = curl_global_init_mem(CURL_GLOBAL_DEFAULT, malloc, wipe_free, wipe_realloc, strdup,
					 calloc) == CURLE_OK &&
		    sodium_init() >= 0;
}

bool awsapi_host_is_loopback(const char *host)
{
	char h[64];
	size_t n = strlen(host);
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		host++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(h))
		return false;
	memcpy(h, host, n);
	h[n] = '\0';
	if (strcasecmp(h, "localhost") == 0)
		return true;
	struct in_addr a4;
	if (inet_pton(AF_INET, h, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	struct in6_addr a6;
	if (inet_pton(AF_INET6, h, &a6) == 1)
		return memcmp(&a6, &in6addr_loopback, sizeof(a6)) == 0;
	return false;
}

static int copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);
	if (n >= size)
		return CB_ERR_INVALID;
	memcpy(dst, src, n + 1);
	return 0;
}

/* Split the endpoint with curl's own URL parser, so what is checked is what
 * curl will connect to. */
static int set_endpoint(struct awsapi_client *c, const char *endpoint)
{
	int r = CB_ERR_INVALID;
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *user = NULL;
	char *pass = NULL, *query = NULL, *frag = NULL, *url = NULL;
	CURLU *u = curl_url();
	if (u == NULL)
		return CB_ERR_NOMEM;
	if (copy_str(c->endpoint, sizeof(c->endpoint), endpoint) < 0)
		goto out;
	if (curl_url_set(u, CURLUPART_URL, endpoint, 0) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
		goto out;
	/* No credentials, query or fragment in an endpoint. */
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0) == CURLUE_OK)
		goto out;
	if (strcmp(scheme, "https") == 0) {
		c->plain_http = false;
	} else if (strcmp(scheme, "http") == 0 && awsapi_host_is_loopback(host)) {
		c->plain_http = true;
	} else {
		goto out;
	}
	bool has_port = curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK;
	if (has_port) {
		if (snprintf(c->host, sizeof(c->host), "%s:%s", host, port) >= (int)sizeof(c->host))
			goto out;
	} else if (copy_str(c->host, sizeof(c->host), host) < 0) {
		goto out;
	}
	if (copy_str(c->path, sizeof(c->path), path[0] ? path : "/") < 0)
		goto out;
	if (curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK ||
	    copy_str(c->url, sizeof(c->url), url) < 0)
		goto out;
	r = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_free(user);
	curl_free(pass);
	curl_free(query);
	curl_free(frag);
	curl_free(url);
	curl_url_cleanup(u);
	return r;
}

static bool name_ok(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n >= max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

struct awsapi_client *awsapi_client_new(const char *service, const char *sign_region,
					const char *endpoint, int *ret_err)
{
	int r = CB_ERR_INVALID;
	struct awsapi_client *c = NULL;
	pthread_once(&global_once, global_init);
	if (!global_ok) {
		r = CB_ERR_INTERNAL;
		goto fail;
	}
	if (service == NULL || sign_region == NULL || endpoint == NULL)
		goto fail;
	if (!name_ok(service, sizeof(c->service)) || !name_ok(sign_region, sizeof(c->region)))
		goto fail;
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		r = CB_ERR_NOMEM;
		goto fail;
	}
	memcpy(c->service, service, strlen(service) + 1);
	memcpy(c->region, sign_region, strlen(sign_region) + 1);
	r = set_endpoint(c, endpoint);
	if (r < 0)
		goto fail;
	c->connect_ms = 5000;
	c->total_ms = 15000;
	c->attempts = 3;
	c->backoff_ms = 200;
	return c;
fail:
	free(c);
	if (ret_err != NULL)
		*ret_err = r;
	return NULL;
}

void awsapi_client_free(struct awsapi_client *c)
{
	free(c);
}

const char *awsapi_client_endpoint(const struct awsapi_client *c)
{
	return c->endpoint;
}

void awsapi_client_set_timeouts(struct awsapi_client *c, long connect_ms, long total_ms)
{
	if (connect_ms > 0)
		c->connect_ms = connect_ms;
	if (total_ms > 0)
		c->total_ms = total_ms;
}

void awsapi_client_set_retries(struct awsapi_client *c, int attempts, long backoff_ms)
{
	c->attempts = attempts < 1 ? 1 : attempts > 10 ? 10 : attempts;
	c->backoff_ms = backoff_ms < 0 ? 0 : backoff_ms > 60000 ? 60000 : backoff_ms;
}

void awsapi_client_set_json(struct awsapi_client *c, bool json)
{
	c->json = json;
}

/* application/x-www-form-urlencoded as botocore writes it: SigV4's encoding
 * but a space becomes '+'. Both are valid; this one also matches what
 * emulators that re-encode the parsed form before checking the signature
 * (moto) compute. */
static int form_encode(struct buf *form, const char *s)
{
	for (;;) {
		size_t n = strcspn(s, " ");
		int r = sigv4_uri_encode(form, s, n, false);
		if (r < 0 || s[n] == '\0')
			return r;
		r = buf_putc(form, '+');
		if (r < 0)
			return r;
		s += n + 1;
	}
}

int awsapi_form_add(struct buf *form, const char *name, const char *value)
{
	int r = 0;
	if (form->len > 0)
		r = buf_putc(form, '&');
	if (r == 0)
		r = form_encode(form, name);
	if (r == 0)
		r = buf_putc(form, '=');
	if (r == 0)
		r = form_encode(form, value);
	return r;
}

/* ---- one attempt ---- */

struct sink {
	struct buf *body;
	bool too_large;
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
	struct sink *s = ud;
	if (buf_append(s->body, p, n) < 0) {
		s->too_large = true;
		return 0; /* makes curl stop with CURLE_WRITE_ERROR */
	}
	return n;
}

static void headers_free(struct curl_slist *h)
{
	/* One of them may carry the session token. */
	for (struct curl_slist *i = h; i != NULL; i = i->next)
		sodium_memzero(i->data, strlen(i->data));
	curl_slist_free_all(h);
}

static int header_add(struct curl_slist **list, struct buf *scratch, const char *name,
		      const char *value)
{
	buf_reset(scratch);
	int r = buf_printf(scratch, "%s: %s", name, value);
	if (r < 0)
		return r;
	struct curl_slist *n = curl_slist_append(*list, buf_str(scratch));
	buf_reset(scratch);
	if (n == NULL)
		return CB_ERR_NOMEM;
	*list = n;
	return 0;
}

/* What one attempt came to. */
enum outcome {
	DONE,       /* a 2xx answer is in body */
	RETRY,      /* worth another attempt */
	FINAL,      /* a failure no retry will fix; r says which */
};

static bool is_throttle(const char *code)
{
	static const char *const codes[] = {
		"Throttling", "ThrottlingException", "RequestLimitExceeded",
		"TooManyRequestsException", "RequestThrottled", "RequestThrottledException",
	};
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(code, codes[i]) == 0)
			return true;
	return false;
}

static bool curl_retryable(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
		return true;
	default:
		return false;
	}
}

static void set_error(struct awsapi_error *err, long status, const char *code, const char *msg)
{
	if (err == NULL)
		return;
	err->http_status = status;
	snprintf(err->code, sizeof(err->code), "%s", code);
	snprintf(err->message, sizeof(err->message), "%s", msg);
}

static enum outcome attempt(struct awsapi_client *c, const struct sigv4_creds *key,
			    const struct buf *form, struct buf *body, struct awsapi_error *err,
			    int *ret)
{
	const char *ctype = "application/x-www-form-urlencoded; charset=utf-8";
	struct sigv4_header sh[] = { { "Host", c->host }, { "Content-Type", ctype } };
	struct sigv4_request req = {
		.method = "POST",
		.path = c->path,
		.query = "",
		.headers = sh,
		.nheaders = sizeof(sh) / sizeof(sh[0]),
		.body = form->data ? (const void *)form->data : "",
		.body_len = form->len,
	};
	struct sigv4_params params = {
		.region = c->region,
		.service = c->service,
		.when = time(NULL),
		.normalize_path = true,
	};
	struct sigv4_result sig;
	struct curl_slist *headers = NULL;
	struct buf scratch;
	struct sink sink = { .body = body };
	enum outcome out = FINAL;
	CURL *h = NULL;
	int r;

	buf_init(&scratch, 16384);
	buf_reset(body);
	r = sigv4_sign_header(&req, key, &params, &sig);
	if (r < 0) {
		set_error(err, 0, "", "the request could not be signed");
		*ret = r;
		return FINAL;
	}
	r = header_add(&headers, &scratch, "Host", c->host);
	if (r == 0)
		r = header_add(&headers, &scratch, "Content-Type", ctype);
	if (r == 0)
		r = header_add(&headers, &scratch, "X-Amz-Date", sig.amz_date);
	if (r == 0 && key->session_token != NULL)
		r = header_add(&headers, &scratch, "X-Amz-Security-Token", key->session_token);
	if (r == 0)
		r = header_add(&headers, &scratch, "Authorization", sig.authorization);
	if (r == 0)
		r = header_add(&headers, &scratch, "Accept", c->json ? "application/json" : "text/xml");
	if (r == 0)
		r = header_add(&headers, &scratch, "Expect", ""); /* no 100-continue round trip */
	sigv4_result_free(&sig);
	if (r < 0)
		goto out;

	h = curl_easy_init();
	if (h == NULL) {
		r = CB_ERR_NOMEM;
		goto out;
	}
	/* Only the endpoint's own scheme: stricter than "http,https", and http
	 * is only ever a loopback endpoint's (checked in awsapi_client_new). */
	if (curl_easy_setopt(h, CURLOPT_URL, c->url) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, c->plain_http ? "http" : "https") != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_ms) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->total_ms) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)body->max) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_POST, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_POSTFIELDS, form->data ? (const char *)form->data : "") != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)form->len) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_USERAGENT, "credbroker/" CB_VERSION) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink) != CURLE_OK) {
		r = CB_ERR_INTERNAL;
		goto out;
	}
	/* A loopback emulator is never reached through a proxy. */
	if (c->plain_http && curl_easy_setopt(h, CURLOPT_PROXY, "") != CURLE_OK) {
		r = CB_ERR_INTERNAL;
		goto out;
	}

	CURLcode cc = curl_easy_perform(h);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (sink.too_large || cc == CURLE_FILESIZE_EXCEEDED) {
		set_error(err, status, "", "the answer is larger than the 1 MiB limit");
		r = CB_ERR_STS_BAD_RESPONSE;
		goto out;
	}
	if (cc != CURLE_OK) {
		set_error(err, 0, "", curl_easy_strerror(cc));
		r = CB_ERR_STS_UNAVAILABLE;
		out = curl_retryable(cc) ? RETRY : FINAL;
		goto out;
	}
	if (status >= 200 && status <= 299) {
		out = DONE;
		r = 0;
		goto out;
	}

	struct awsapi_error doc = { 0 };
	int pr = awsapi_parse((const char *)body->data, body->len, NULL, 0, &doc);
	if (pr == CB_ERR_STS_DENIED) {
		set_error(err, status, doc.code, doc.message);
	} else {
		char msg[64];
		snprintf(msg, sizeof(msg), "HTTP %ld without an AWS error document", status);
		set_error(err, status, "", msg);
	}
	if (status >= 500 || status == 429 || (pr == CB_ERR_STS_DENIED && is_throttle(doc.code))) {
		r = CB_ERR_STS_UNAVAILABLE;
		out = RETRY;
	} else if (status >= 400 && pr == CB_ERR_STS_DENIED) {
		r = CB_ERR_STS_DENIED;
	} else {
		r = CB_ERR_STS_BAD_RESPONSE;
	}
out:
	if (h != NULL)
		curl_easy_cleanup(h);
	headers_free(headers);
	buf_free(&scratch);
	if (out != DONE)
		buf_reset(body);
	*ret = r;
	return out;
}

/* Between half and all of base * 2^(retry-1), capped: jitter spreads
 * clients that failed together. */
static void backoff(const struct awsapi_client *c, int retry)
{
	long ms = c->backoff_ms;
	for (int i = 1; i < retry && ms < BACKOFF_CAP_MS; i++)
		ms *= 2;
	if (ms > BACKOFF_CAP_MS)
		ms = BACKOFF_CAP_MS;
	if (ms <= 0)
		return;
	ms = ms / 2 + (long)randombytes_uniform((uint32_t)(ms / 2 + 1));
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* A message that quotes something secret we sent is withheld whole. */
static void scrub(struct awsapi_error *err, const struct sigv4_creds *key)
{
	if (err == NULL)
		return;
	const char *secrets[] = { key->secret_access_key, key->session_token };
	for (size_t i = 0; i < 2; i++) {
		if (secrets[i] == NULL || strlen(secrets[i]) < 8)
			continue;
		if (strstr(err->message, secrets[i]) != NULL)
			snprintf(err->message, sizeof(err->message), "(message withheld: it quoted a secret)");
		if (strstr(err->code, secrets[i]) != NULL)
			err->code[0] = '\0';
	}
}

int awsapi_call(struct awsapi_client *c, const struct sigv4_creds *key, const struct buf *form,
		struct buf *body, struct awsapi_error *err)
{
	if (c == NULL || key == NULL || key->access_key_id == NULL ||
	    key->secret_access_key == NULL || form == NULL || body == NULL)
		return CB_ERR_INVALID;
	if (err != NULL)
		memset(err, 0, sizeof(*err));
	int r = CB_ERR_STS_UNAVAILABLE;
	for (int i = 1; i <= c->attempts; i++) {
		if (i > 1)
			backoff(c, i - 1);
		enum outcome o = attempt(c, key, form, body, err, &r);
		if (o != RETRY)
			break;
	}
	scrub(err, key);
	return r;
}
