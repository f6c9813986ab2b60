/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#include "credbroker/buf.h"
#include "credbroker/cbtime.h"
#include "credbroker/err.h"
#include "credbroker/frame.h"
#include "credbroker/hostport.h"
#include "cli.h"
#include "dlssl.h"
#include "prompt.h"
#include "tls.h"

static void say(char why[static TLSCLIENT_WHY_MAX], const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void say(char why[static TLSCLIENT_WHY_MAX], const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, TLSCLIENT_WHY_MAX, fmt, ap);
	va_end(ap);
}

int tlsclient_parse_pin(const char *s, uint8_t ret_pin[static TLSCLIENT_PIN_BYTES])
{
	/* 64 hex digits, or 32 pairs joined by ':' as openssl x509 -fingerprint
	 * prints them; libsodium decodes, skipping the colons between pairs. */
	size_t len = strlen(s), n = 0;
	bool colons = len == 3 * TLSCLIENT_PIN_BYTES - 1;
	if (len != 2 * TLSCLIENT_PIN_BYTES && !colons)
		return CB_ERR_INVALID;
	uint8_t pin[TLSCLIENT_PIN_BYTES];
	const char *end = NULL;
	if (sodium_hex2bin(pin, sizeof(pin), s, len, colons ? ":" : NULL, &n, &end) != 0 ||
	    n != sizeof(pin) || end != s + len)
		return CB_ERR_INVALID;
	memcpy(ret_pin, pin, sizeof(pin));
	return 0;
}

int tlsclient_parse_url(const char *url, char ret_host[static HOSTPORT_HOST_MAX],
			char ret_port[static HOSTPORT_PORT_MAX])
{
	static const char scheme[] = "tls://";
	if (strncmp(url, scheme, sizeof(scheme) - 1) != 0)
		return CB_ERR_INVALID;
	return hostport_parse(url + sizeof(scheme) - 1, ret_host, ret_port);
}

/* A TCP connection to host:port, non-blocking, before the deadline. */
static int connect_tcp(const char *host, const char *port, long deadline, int *ret_fd,
		       char why[static TLSCLIENT_WHY_MAX])
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	int g = getaddrinfo(host, port, &hints, &ai);
	if (g != 0) {
		say(why, "cannot resolve %s: %s", host, gai_strerror(g));
		return CB_ERR_BROKER_UNREACHABLE;
	}
	int fd = -1, err = ECONNREFUSED;
	for (struct addrinfo *p = ai; p != NULL && fd < 0; p = p->ai_next) {
		fd = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, p->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		if (connect(fd, p->ai_addr, p->ai_addrlen) < 0 && errno != EINPROGRESS) {
			err = errno;
		} else {
			int w = frame_wait(fd, POLLOUT, deadline);
			socklen_t elen = sizeof(err);
			if (w < 0)
				err = w == CB_ERR_TIMEOUT ? ETIMEDOUT : errno; /* poll's */
			else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
				err = errno;
		}
		if (err != 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	if (fd < 0) {
		say(why, "cannot connect to %s port %s: %s", host, port, strerror(err));
		return err == ETIMEDOUT ? CB_ERR_TIMEOUT : CB_ERR_BROKER_UNREACHABLE;
	}
	*ret_fd = fd;
	return 0;
}

/* Wait for what OpenSSL asked for (err from SSL_get_error) until the deadline. */
static int wait_for(int fd, int err, long deadline)
{
	if (err == SSL_ERROR_WANT_READ)
		return frame_wait(fd, POLLIN, deadline);
	if (err == SSL_ERROR_WANT_WRITE)
		return frame_wait(fd, POLLOUT, deadline);
	return CB_ERR_BROKER_UNREACHABLE;
}

int tlsclient_new_ctx(const char *ca_file, int pinned, uint64_t options, SSL_CTX **ret,
		      char why[static TLSCLIENT_WHY_MAX])
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		say(why, "out of memory");
		return CB_ERR_NOMEM;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* CLEANSE_PLAINTEXT: read buffers hold passwords, codes and credentials. */
	SSL_CTX_set_options(ctx, SSL_OP_CLEANSE_PLAINTEXT | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
				 SSL_OP_NO_TICKET | options);
	int r = 0;
	if (pinned) {
		/* The pin is the whole trust decision; it is checked on the
		 * certificate itself once the handshake is through. */
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		if (ca_file != NULL) {
			if (SSL_CTX_load_verify_file(ctx, ca_file) != 1) {
				say(why, "--ca %s: no PEM certificate could be read from it", ca_file);
				r = CB_ERR_INVALID;
			}
		} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
			say(why, "cannot load the system's trusted certificates");
			r = CB_ERR_BROKER_UNREACHABLE;
		}
	}
	ERR_clear_error();
	if (r < 0) {
		SSL_CTX_free(ctx);
		return r;
	}
	*ret = ctx;
	return 0;
}

int tlsclient_set_peer_name(SSL *ssl, const char *host, int pinned)
{
	unsigned char addr[sizeof(struct in6_addr)];
	int is_ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
	if (!is_ip && SSL_set_tlsext_host_name(ssl, host) != 1)
		return CB_ERR_NOMEM;
	if (pinned)
		return 0;
	X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
	X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host) : SSL_set1_host(ssl, host);
	return ok == 1 ? 0 : CB_ERR_NOMEM;
}

static int check_pin(SSL *ssl, const uint8_t pin[static TLSCLIENT_PIN_BYTES])
{
	X509 *cert = SSL_get0_peer_certificate(ssl);
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (cert == NULL || X509_digest(cert, EVP_sha256(), md, &n) != 1 || n != TLSCLIENT_PIN_BYTES)
		return CB_ERR_BROKER_UNREACHABLE;
	return CRYPTO_memcmp(md, pin, TLSCLIENT_PIN_BYTES) == 0 ? 0 : CB_ERR_BROKER_UNREACHABLE;
}

/* An open, verified TLS connection to the broker. */
struct link {
	SSL_CTX *ctx;
	SSL *ssl;
	int fd;
	char host[HOSTPORT_HOST_MAX], port[HOSTPORT_PORT_MAX];
	long deadline;
};

static void link_close(struct link *l, int clean)
{
	if (l->ssl != NULL) {
		ERR_clear_error();
		if (clean)
			SSL_shutdown(l->ssl);
		SSL_free(l->ssl);
	}
	ERR_clear_error();
	SSL_CTX_free(l->ctx);
	if (l->fd >= 0)
		close(l->fd);
	l->ssl = NULL;
	l->ctx = NULL;
	l->fd = -1;
}

/* Connect, handshake and verify the broker's certificate (CA and name, or
 * the pin) before the deadline. Nothing of ours has been sent when this
 * returns: the caller decides what to send. */
static int link_open(const struct cli_globals *g, struct link *l, char why[static TLSCLIENT_WHY_MAX])
{
	uint8_t pin[TLSCLIENT_PIN_BYTES];
	if (tlsclient_parse_url(g->broker_url, l->host, l->port) < 0) {
		say(why, "--broker %.100s: not tls://HOST:PORT", g->broker_url);
		return CB_ERR_INVALID;
	}
	if (g->pin != NULL && g->ca_file != NULL) {
		say(why, "--pin and --ca exclude each other");
		return CB_ERR_INVALID;
	}
	if (g->pin != NULL && tlsclient_parse_pin(g->pin, pin) < 0) {
		say(why, "--pin: not a SHA-256 fingerprint (64 hex digits, colons allowed)");
		return CB_ERR_INVALID;
	}
	const char *host = l->host, *port = l->port;
	int r = tlsclient_new_ctx(g->ca_file, g->pin != NULL, 0, &l->ctx, why);
	if (r < 0)
		goto out;
	r = connect_tcp(host, port, l->deadline, &l->fd, why);
	if (r < 0)
		goto out;
	r = CB_ERR_NOMEM;
	l->ssl = SSL_new(l->ctx);
	if (l->ssl == NULL || SSL_set_fd(l->ssl, l->fd) != 1 ||
	    tlsclient_set_peer_name(l->ssl, host, g->pin != NULL) < 0) {
		say(why, "out of memory");
		goto out;
	}
	SSL_set_connect_state(l->ssl);
	for (;;) {
		ERR_clear_error();
		int h = SSL_do_handshake(l->ssl);
		if (h == 1) {
			r = 0;
			break;
		}
		r = wait_for(l->fd, SSL_get_error(l->ssl, h), l->deadline);
		if (r < 0)
			break;
	}
	if (r == CB_ERR_TIMEOUT) {
		say(why, "the broker at %s:%s did not complete the TLS handshake in time", host, port);
	} else if (r < 0) {
		long v = SSL_get_verify_result(l->ssl);
		if (v != X509_V_OK)
			say(why, "the broker at %s:%s: certificate refused: %s", host, port,
			    X509_verify_cert_error_string(v));
		else
			say(why, "TLS handshake with %s:%s failed (not a TLS 1.2+ credbroker gateway?)",
			    host, port);
		r = CB_ERR_BROKER_UNREACHABLE;
	} else if (g->pin != NULL && check_pin(l->ssl, pin) < 0) {
		say(why, "the broker at %s:%s: certificate refused: its SHA-256 fingerprint is not "
			 "the pinned one", host, port);
		r = CB_ERR_BROKER_UNREACHABLE;
	}
out:
	sodium_memzero(pin, sizeof(pin));
	if (r < 0)
		link_close(l, 0);
	return r;
}

/* One frame out, one frame in (its payload appended to resp). */
static int link_roundtrip(struct link *l, const char *text, size_t text_len, int timeout_ms,
			  struct buf *resp, char why[static TLSCLIENT_WHY_MAX])
{
	struct buf out, in;
	buf_init(&out, FRAME_HEADER + FRAME_MAX_REQUEST);
	buf_init(&in, FRAME_HEADER + FRAME_MAX_RESPONSE);
	int r = frame_encode(&out, text, text_len);
	for (size_t off = 0; r == 0 && off < out.len;) {
		size_t n = 0;
		ERR_clear_error();
		if (SSL_write_ex(l->ssl, out.data + off, out.len - off, &n) == 1)
			off += n;
		else
			r = wait_for(l->fd, SSL_get_error(l->ssl, 0), l->deadline);
	}
	size_t plen = 0;
	while (r == 0) {
		r = frame_check(in.data, in.len, FRAME_MAX_RESPONSE, &plen);
		if (r != 0)
			break;
		uint8_t chunk[8192];
		size_t n = 0;
		ERR_clear_error();
		if (SSL_read_ex(l->ssl, chunk, sizeof(chunk), &n) == 1) {
			r = buf_append(&in, chunk, n);
			sodium_memzero(chunk, n);
		} else {
			r = wait_for(l->fd, SSL_get_error(l->ssl, 0), l->deadline);
		}
	}
	if (r == 1) {
		r = buf_append(resp, in.data + FRAME_HEADER, plen);
	} else if (r == CB_ERR_TIMEOUT) {
		say(why, "the broker at %s:%s did not answer within %d s", l->host, l->port,
		    timeout_ms / 1000);
	} else if (r == CB_ERR_TOO_LARGE) {
		say(why, "the broker at %s:%s answered more than %u bytes", l->host, l->port,
		    FRAME_MAX_RESPONSE);
	} else if (r < 0) {
		say(why, "the broker at %s:%s closed the connection", l->host, l->port);
		r = CB_ERR_BROKER_UNREACHABLE;
	}
	buf_free(&out);
	buf_free(&in);
	return r;
}

/* Does this op name a user it must prove to be? */
static int needs_password(const cJSON *request)
{
	const cJSON *op = cJSON_GetObjectItemCaseSensitive(request, "op");
	return cJSON_IsString(op) &&
	       (strcmp(op->valuestring, "issue") == 0 || strcmp(op->valuestring, "status") == 0);
}

int tlsclient_call(const cJSON *request, int timeout_ms, struct buf *resp,
		   char why[static TLSCLIENT_WHY_MAX])
{
	const struct cli_globals *g = &cli_globals;
	why[0] = '\0';
	struct link l = { .fd = -1 };
	char host[HOSTPORT_HOST_MAX], port[HOSTPORT_PORT_MAX];
	if (tlsclient_parse_url(g->broker_url, host, port) < 0) {
		say(why, "--broker %.100s: not tls://HOST:PORT", g->broker_url);
		return CB_ERR_INVALID;
	}
	/* OpenSSL is loaded now, not at every start (cli/dlssl.h); link_close()
	 * below calls into it, so before anything can "goto out". */
	if (dlssl_load(why) < 0)
		return CB_ERR_BROKER_UNREACHABLE;
	/* The password is asked for before connecting (the gateway gives a
	 * connection 5 s for its request, too little for typing) and sent
	 * only once the broker's certificate has been verified. */
	cJSON *req = cJSON_Duplicate(request, 1);
	char *pw = NULL;
	char *text = NULL;
	int r = CB_ERR_NOMEM;
	if (req == NULL) {
		say(why, "out of memory");
		goto out;
	}
	if (needs_password(req) && !cJSON_HasObjectItem(req, "password")) {
		const cJSON *user = cJSON_GetObjectItemCaseSensitive(req, "user");
		char question[400];
		snprintf(question, sizeof(question), "Broker password for %.300s: ",
			 cJSON_IsString(user) ? user->valuestring : "");
		r = prompt_password(g->password_stdin ? NULL : question, &pw);
		if (r < 0) {
			say(why, "%s", r == CB_ERR_NOT_FOUND ? "the remote broker needs your password and "
							       "there is no terminal to ask it on; use "
							       "--password-stdin"
				       : r == CB_ERR_TOO_LARGE ? "the password is too long"
				       : r == CB_ERR_INVALID	 ? "empty password"
								 : "cannot read the password");
			goto out;
		}
		r = CB_ERR_NOMEM;
		if (cJSON_AddStringToObject(req, "password", pw) == NULL) {
			say(why, "out of memory");
			goto out;
		}
	}
	text = cJSON_PrintUnformatted(req);
	if (text == NULL) {
		say(why, "out of memory");
		goto out;
	}
	l.deadline = cbtime_now_ms() + timeout_ms;
	r = link_open(g, &l, why);
	if (r == 0)
		r = link_roundtrip(&l, text, strlen(text), timeout_ms, resp, why);
out:
	link_close(&l, r >= 0);
	if (text != NULL) {
		sodium_memzero(text, strlen(text));
		cJSON_free(text);
	}
	if (pw != NULL)
		sodium_free(pw);
	/* The password's copy inside the tree is wiped before cJSON frees it. */
	cJSON *p = cJSON_GetObjectItemCaseSensitive(req, "password");
	if (cJSON_IsString(p))
		sodium_memzero(p->valuestring, strlen(p->valuestring));
	cJSON_Delete(req);
	return r;
}
