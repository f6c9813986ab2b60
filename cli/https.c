/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cb-config.h"
#include "credbroker/buf.h"
#include "credbroker/err.h"
#include "credbroker/hostport.h"
#include "dlssl.h"
#include "https.h"
#include "tls.h"

/* Headers of a federation answer are a few hundred bytes. */
#define HTTPS_HEADERS_MAX (16u * 1024u)

static void say(char why[static HTTPS_WHY_MAX], const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void say(char why[static HTTPS_WHY_MAX], const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, HTTPS_WHY_MAX, fmt, ap);
	va_end(ap);
}

/* "https://HOST[:PORT]/PATH" into host, port and a pointer to the path
 * ("/" when absent). */
static int parse_url(const char *url, char host[static HOSTPORT_HOST_MAX],
		     char port[static HOSTPORT_PORT_MAX], const char **ret_path)
{
	static const char scheme[] = "https://";
	if (strncmp(url, scheme, sizeof(scheme) - 1) != 0)
		return CB_ERR_INVALID;
	const char *authority = url + sizeof(scheme) - 1;
	size_t n = strcspn(authority, "/?#");
	char hp[HOSTPORT_HOST_MAX + HOSTPORT_PORT_MAX + 8];
	const char *colon = memchr(authority, ']', n) ? strchr(memchr(authority, ']', n), ':')
						     : memchr(authority, ':', n);
	int m = colon != NULL && colon < authority + n
			? snprintf(hp, sizeof(hp), "%.*s", (int)n, authority)
			: snprintf(hp, sizeof(hp), "%.*s:443", (int)n, authority);
	if (n == 0 || m < 0 || (size_t)m >= sizeof(hp) || hostport_parse(hp, host, port) < 0)
		return CB_ERR_INVALID;
	if (authority[n] == '#')
		return CB_ERR_INVALID;
	*ret_path = authority[n] == '\0' ? "/" : authority + n;
	return 0;
}

static int connect_tcp(const char *host, const char *port, int timeout_ms, int *ret_fd,
		       char why[static HTTPS_WHY_MAX])
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	int g = getaddrinfo(host, port, &hints, &ai);
	if (g != 0) {
		say(why, "cannot resolve %s: %s", host, gai_strerror(g));
		return CB_ERR_NETWORK;
	}
	/* Blocking I/O with kernel timeouts (Linux applies SO_SNDTIMEO to
	 * connect too): one request, one answer, nothing to multiplex. */
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = timeout_ms % 1000 * 1000 };
	int fd = -1, err = ECONNREFUSED;
	for (struct addrinfo *p = ai; p != NULL && fd < 0; p = p->ai_next) {
		fd = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC, p->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
		    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
		    connect(fd, p->ai_addr, p->ai_addrlen) < 0) {
			err = errno;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	if (fd < 0) {
		say(why, "cannot connect to %s port %s: %s", host, port, strerror(err));
		return err == EINPROGRESS || err == EAGAIN ? CB_ERR_TIMEOUT : CB_ERR_NETWORK;
	}
	*ret_fd = fd;
	return 0;
}

static int tls_open(SSL_CTX **ret_ctx, SSL **ret_ssl, int fd, const char *host,
		    char why[static HTTPS_WHY_MAX])
{
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	if (tlsclient_new_ctx(NULL, 0, SSL_OP_IGNORE_UNEXPECTED_EOF, &ctx, why) < 0)
		goto fail;
	ssl = SSL_new(ctx);
	if (ssl == NULL || SSL_set_fd(ssl, fd) != 1 || tlsclient_set_peer_name(ssl, host, 0) < 0)
		goto nomem;
	SSL_set_connect_state(ssl);
	if (SSL_do_handshake(ssl) != 1) {
		long v = SSL_get_verify_result(ssl);
		if (v != X509_V_OK)
			say(why, "%s: certificate refused: %s", host, X509_verify_cert_error_string(v));
		else
			say(why, "%s: TLS handshake failed", host);
		goto fail;
	}
	ERR_clear_error();
	*ret_ctx = ctx;
	*ret_ssl = ssl;
	return 0;
nomem:
	say(why, "out of memory");
fail:
	ERR_clear_error();
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	return CB_ERR_NETWORK;
}

/* The body of a complete HTTP/1.x answer in resp, when its status is 200. */
static int take_body(const struct buf *resp, const char *host, size_t max, struct buf *ret_body,
		     char why[static HTTPS_WHY_MAX])
{
	const char *s = buf_str(resp);
	const char *end = resp->len >= 4 ? memmem(s, resp->len, "\r\n\r\n", 4) : NULL;
	int status = 0;
	if (end == NULL || sscanf(s, "HTTP/1.%*1[01] %3d", &status) != 1) {
		say(why, "%s: not an HTTP answer", host);
		return CB_ERR_NETWORK;
	}
	if (status != 200) {
		say(why, "%s: HTTP status %d", host, status);
		return CB_ERR_NETWORK;
	}
	/* HTTP/1.0 was asked for: a chunked answer would be a server bug. */
	if (memmem(s, (size_t)(end - s), "\r\nTransfer-Encoding:", 20) != NULL) {
		say(why, "%s: unexpected transfer encoding", host);
		return CB_ERR_NETWORK;
	}
	size_t n = resp->len - (size_t)(end + 4 - s);
	if (n > max) {
		say(why, "%s: answer too large", host);
		return CB_ERR_TOO_LARGE;
	}
	return buf_append(ret_body, end + 4, n);
}

int https_get(const char *url, size_t max, int timeout_ms, struct buf *ret_body,
	      char why[static HTTPS_WHY_MAX])
{
	char host[HOSTPORT_HOST_MAX], port[HOSTPORT_PORT_MAX];
	const char *path;
	why[0] = '\0';
	if (parse_url(url, host, port, &path) < 0) {
		say(why, "not an https://HOST[:PORT]/PATH URL");
		return CB_ERR_INVALID;
	}
	int r = dlssl_load(why);
	if (r < 0)
		return r;

	struct buf req, resp;
	buf_init(&req, strlen(path) + 512);
	buf_init(&resp, HTTPS_HEADERS_MAX + max);
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	int fd = -1;
	r = buf_printf(&req, "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: credbroker/%s\r\n"
			     "Accept: application/json\r\nConnection: close\r\n\r\n",
		       path, host, CB_VERSION);
	if (r < 0) {
		say(why, "out of memory");
		goto out;
	}
	r = connect_tcp(host, port, timeout_ms, &fd, why);
	if (r == 0)
		r = tls_open(&ctx, &ssl, fd, host, why);
	if (r < 0)
		goto out;
	size_t written = 0;
	if (SSL_write_ex(ssl, req.data, req.len, &written) != 1 || written != req.len) {
		say(why, "%s: the connection failed while sending", host);
		r = CB_ERR_NETWORK;
		goto out;
	}
	for (;;) {
		uint8_t chunk[4096];
		size_t got = 0;
		if (SSL_read_ex(ssl, chunk, sizeof(chunk), &got) != 1) {
			int e = SSL_get_error(ssl, 0);
			/* HTTP/1.0: the answer ends when the peer closes, with
			 * or without close_notify (SSL_OP_IGNORE_UNEXPECTED_EOF);
			 * a truncated one fails to parse above us. */
			if (e == SSL_ERROR_ZERO_RETURN)
				break;
			say(why, "%s: %s while reading the answer", host,
			    errno == EAGAIN || errno == EWOULDBLOCK ? "timed out" : "the connection failed");
			r = errno == EAGAIN || errno == EWOULDBLOCK ? CB_ERR_TIMEOUT : CB_ERR_NETWORK;
			goto out;
		}
		r = buf_append(&resp, chunk, got);
		sodium_memzero(chunk, sizeof(chunk));
		if (r < 0) {
			say(why, "%s: answer too large", host);
			goto out;
		}
	}
	r = take_body(&resp, host, max, ret_body, why);
out:
	ERR_clear_error();
	if (ssl != NULL) {
		if (r == 0)
			SSL_shutdown(ssl);
		SSL_free(ssl);
	}
	if (ctx != NULL)
		SSL_CTX_free(ctx);
	if (fd >= 0)
		close(fd);
	buf_free(&req);
	buf_free(&resp);
	return r;
}
