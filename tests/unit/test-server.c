/* SPDX-License-Identifier: MIT */
/*
 * The socket server against real clients on a real unix socket: bad frames
 * get an error and the server goes on; silent clients time out without
 * holding up others; 100 concurrent clients are all answered while 20
 * silent connections sit open; the connection cap answers "busy". The same
 * server over TLS (server_new_tls): a request is answered with a peer that
 * has no uid, a bad frame gets its error, garbage and a silent client are
 * dropped without a word, and past the cap a connection is closed at once.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "credbroker/buf.h"
#include "credbroker/err.h"
#include "credbroker/frame.h"
#include "credbroker/server.h"

#include "check.h"

static char sock_path[108];

/* Echo the request back inside {"ok":true,"echo":...}. */
static void echo_handler(void *ctx, const struct server_peer *peer, const uint8_t *req, size_t len,
			 struct buf *resp)
{
	(void)ctx;
	buf_printf(resp, "{\"ok\":true,\"uid\":%ld,\"tls\":%s,\"addr\":\"%s\",\"echo\":\"",
		   (long)peer->uid, peer->tls ? "true" : "false", peer->addr);
	for (size_t i = 0; i < len; i++)
		if (req[i] >= 'a' && req[i] <= 'z')
			buf_putc(resp, (char)req[i]);
	buf_puts(resp, "\"}");
}

static int connect_to(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Send raw bytes, read one framed answer into out; -1 when the server just
 * closed. */
static int raw_exchange(const void *bytes, size_t n, struct buf *out)
{
	int fd = connect_to();
	if (fd < 0)
		return -1;
	if (n > 0 && send(fd, bytes, n, MSG_NOSIGNAL) != (ssize_t)n) {
		close(fd);
		return -1;
	}
	buf_reset(out);
	int r = frame_recv(fd, FRAME_MAX_RESPONSE, out, 5000);
	close(fd);
	return r;
}

static int request(const char *payload, struct buf *out)
{
	int fd = connect_to();
	if (fd < 0)
		return -1;
	buf_reset(out);
	int r = frame_send(fd, payload, strlen(payload), 5000);
	if (r == 0)
		r = frame_recv(fd, FRAME_MAX_RESPONSE, out, 10000);
	close(fd);
	return r;
}

static void *serve(void *arg)
{
	server_run(arg);
	return NULL;
}

static int answered;
static pthread_mutex_t answered_lock = PTHREAD_MUTEX_INITIALIZER;

static void *client(void *arg)
{
	(void)arg;
	struct buf out;
	buf_init(&out, FRAME_MAX_RESPONSE);
	if (request("{\"op\":\"ping\"}", &out) == 0 && strstr(buf_str(&out), "\"echo\":\"opping\"")) {
		pthread_mutex_lock(&answered_lock);
		answered++;
		pthread_mutex_unlock(&answered_lock);
	}
	buf_free(&out);
	return NULL;
}


/* A throwaway P-256 key and self-signed certificate for the TLS server. */
static SSL_CTX *server_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"test", -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_sign(x, key, EVP_sha256());
	CHECK(SSL_CTX_use_certificate(ctx, x) == 1 && SSL_CTX_use_PrivateKey(ctx, key) == 1);
	X509_free(x);
	EVP_PKEY_free(key);
	return ctx;
}

static int tcp_listener(int *ret_port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(fd, 16) == 0 &&
	      getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
	*ret_port = ntohs(sa.sin_port);
	return fd;
}

/* A TCP connection whose reads give up after 5 s. */
static int tcp_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { .tv_sec = 5 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Did the server close fd (EOF or reset) within 5 s, without a byte? */
static bool closed_silently(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, 0);
	return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* Handshake, send raw bytes, read one framed answer into out. */
static int tls_exchange(SSL_CTX *cctx, int port, const void *bytes, size_t n, struct buf *out)
{
	int fd = tcp_connect(port), r = -1;
	SSL *ssl = SSL_new(cctx);
	buf_reset(out);
	if (fd >= 0 && SSL_set_fd(ssl, fd) == 1 && SSL_connect(ssl) == 1 &&
	    SSL_write(ssl, bytes, (int)n) == (int)n) {
		size_t plen;
		uint8_t chunk[4096];
		int got;
		while ((r = frame_check((const uint8_t *)out->data, out->len, FRAME_MAX_RESPONSE,
					&plen)) == 0 &&
		       (got = SSL_read(ssl, chunk, sizeof(chunk))) > 0)
			buf_append(out, chunk, (size_t)got);
		if (r == 1) {
			buf_consume(out, FRAME_HEADER);
			r = 0;
		} else {
			r = -1;
		}
	}
	SSL_free(ssl);
	if (fd >= 0)
		close(fd);
	return r;
}

static void test_tls(void)
{
	SSL_CTX *sctx = server_ctx();
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	int port;
	struct server_options opt = { .max_connections = 2, .io_timeout_ms = 1000, .workers = 2 };
	struct server *s;
	CHECK_INT(server_new_tls(&opt, tcp_listener(&port), sctx, echo_handler, NULL, &s), 0);
	pthread_t t;
	pthread_create(&t, NULL, serve, s);

	struct buf out;
	buf_init(&out, FRAME_MAX_RESPONSE);
	const uint8_t ping[] = { 0, 0, 0, 4, 'p', 'i', 'n', 'g' };
	CHECK_INT(tls_exchange(cctx, port, ping, sizeof(ping), &out), 0);
	CHECK(strstr(buf_str(&out), "\"tls\":true,\"addr\":\"127.0.0.1\",\"echo\":\"ping\"") != NULL);
	/* The frame rules are the unix socket's. */
	const uint8_t zero[] = { 0, 0, 0, 0 };
	CHECK_INT(tls_exchange(cctx, port, zero, sizeof(zero), &out), 0);
	CHECK(strstr(buf_str(&out), "\"code\":\"bad_request\"") != NULL);
	const uint8_t huge[] = { 0xff, 0xff, 0xff, 0xff };
	CHECK_INT(tls_exchange(cctx, port, huge, sizeof(huge), &out), 0);
	CHECK(strstr(buf_str(&out), "\"code\":\"too_large\"") != NULL);
	const uint8_t trunc[] = { 0, 0, 0, 100, '{' };
	CHECK_INT(tls_exchange(cctx, port, trunc, sizeof(trunc), &out), 0);
	CHECK(strstr(buf_str(&out), "\"code\":\"timeout\"") != NULL);

	/* Not TLS: dropped, at most with an alert, never a frame. */
	int g = tcp_connect(port);
	CHECK(send(g, "GET / HTTP/1.0\r\n\r\n", 18, MSG_NOSIGNAL) == 18);
	char reply[64];
	ssize_t n = recv(g, reply, sizeof(reply), 0);
	if (n > 0) /* an alert, then the close */
		CHECK(reply[0] == 0x15 && closed_silently(g));
	else
		CHECK(n == 0 || errno == ECONNRESET);
	close(g);

	/* Two silent clients fill the cap: a third is closed at once, and the
	 * silent ones are dropped at their deadline without a word. */
	int a = tcp_connect(port), b = tcp_connect(port);
	int c = -1, closed_at_once = 0;
	for (int tries = 0; tries < 50 && !closed_at_once; tries++) {
		c = tcp_connect(port);
		struct timeval tv = { .tv_usec = 200000 };
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		char x;
		closed_at_once = recv(c, &x, 1, 0) == 0;
		close(c);
	}
	CHECK(closed_at_once);
	CHECK(closed_silently(a) && closed_silently(b));
	close(a);
	close(b);
	/* Room again once they are gone. */
	int ok = 0;
	for (int tries = 0; tries < 50 && !ok; tries++)
		ok = tls_exchange(cctx, port, ping, sizeof(ping), &out) == 0 &&
		     strstr(buf_str(&out), "\"ok\":true") != NULL;
	CHECK(ok);

	server_stop(s);
	pthread_join(t, NULL);
	server_free(s);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	buf_free(&out);
}

int main(void)
{
	char dir[] = "/tmp/cb-test-server-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	snprintf(sock_path, sizeof(sock_path), "%s/s.sock", dir);

	struct server_options opt = {
		.socket_path = sock_path, .max_connections = 200, .io_timeout_ms = 1500, .workers = 4,
	};
	struct server *s;
	CHECK_INT(server_new(&opt, echo_handler, NULL, &s), 0);
	/* A second broker on the same socket is refused while the first lives. */
	struct server *s2;
	CHECK_INT(server_new(&opt, echo_handler, NULL, &s2), CB_ERR_EXISTS);
	pthread_t t;
	pthread_create(&t, NULL, serve, s);

	struct buf out;
	buf_init(&out, FRAME_MAX_RESPONSE);
	CHECK_INT(request("{\"op\":\"ping\"}", &out), 0);
	CHECK(strstr(buf_str(&out), "\"ok\":true") != NULL);

	/* Zero length, a length over 64 KiB: answered with an error. */
	const uint8_t zero[] = { 0, 0, 0, 0 };
	CHECK_INT(raw_exchange(zero, sizeof(zero), &out), 0);
	CHECK(strstr(buf_str(&out), "\"code\":\"bad_request\"") != NULL);
	const uint8_t huge[] = { 0xff, 0xff, 0xff, 0xff };
	CHECK_INT(raw_exchange(huge, sizeof(huge), &out), 0);
	CHECK(strstr(buf_str(&out), "\"code\":\"too_large\"") != NULL);
	const uint8_t over[] = { 0, 1, 0, 1 }; /* 65537 */
	CHECK_INT(raw_exchange(over, sizeof(over), &out), 0);
	CHECK(strstr(buf_str(&out), "\"code\":\"too_large\"") != NULL);
	/* Exactly 64 KiB is accepted. */
	{
		static uint8_t max[FRAME_HEADER + FRAME_MAX_REQUEST];
		max[0] = 0, max[1] = 1, max[2] = 0, max[3] = 0;
		memset(max + FRAME_HEADER, 'a', FRAME_MAX_REQUEST);
		CHECK_INT(raw_exchange(max, sizeof(max), &out), 0);
		CHECK(strstr(buf_str(&out), "\"ok\":true") != NULL);
	}
	/* Bytes after the frame: refused, one request per connection. */
	const uint8_t two[] = { 0, 0, 0, 2, '{', '}', 0, 0, 0, 2, '{', '}' };
	CHECK_INT(raw_exchange(two, sizeof(two), &out), 0);
	CHECK(strstr(buf_str(&out), "\"code\":\"bad_request\"") != NULL);
	/* Truncated, then silent: the deadline answers "timeout". */
	const uint8_t trunc[] = { 0, 0, 0, 100, '{', '"' };
	CHECK_INT(raw_exchange(trunc, sizeof(trunc), &out), 0);
	CHECK(strstr(buf_str(&out), "\"code\":\"timeout\"") != NULL);
	/* Truncated and closed: nobody to answer, and the server goes on. */
	{
		int fd = connect_to();
		CHECK(send(fd, trunc, sizeof(trunc), 0) == (ssize_t)sizeof(trunc));
		close(fd);
	}
	CHECK_INT(request("{\"op\":\"stillhere\"}", &out), 0);
	CHECK(strstr(buf_str(&out), "opstillhere") != NULL);

	/* 20 silent connections held open while 100 clients at once are all
	 * answered; the silent ones never get a worker. */
	int silent[20];
	for (int i = 0; i < 20; i++)
		CHECK((silent[i] = connect_to()) >= 0);
	pthread_t clients[100];
	for (int i = 0; i < 100; i++)
		pthread_create(&clients[i], NULL, client, NULL);
	for (int i = 0; i < 100; i++)
		pthread_join(clients[i], NULL);
	CHECK_INT(answered, 100);
	/* The silent ones are dropped at their deadline with a timeout answer. */
	for (int i = 0; i < 20; i++) {
		buf_reset(&out);
		CHECK_INT(frame_recv(silent[i], FRAME_MAX_RESPONSE, &out, 5000), 0);
		CHECK(strstr(buf_str(&out), "\"code\":\"timeout\"") != NULL);
		close(silent[i]);
	}

	server_stop(s);
	pthread_join(t, NULL);
	server_free(s);
	CHECK(access(sock_path, F_OK) != 0); /* socket removed on stop */

	/* The cap: with room for 2, a third connection is told "busy". */
	opt.max_connections = 2;
	CHECK_INT(server_new(&opt, echo_handler, NULL, &s), 0);
	pthread_create(&t, NULL, serve, s);
	int a = connect_to(), b = connect_to();
	CHECK(a >= 0 && b >= 0);
	/* The server registers a and b before it reads c's accept. */
	struct buf busy;
	buf_init(&busy, FRAME_MAX_RESPONSE);
	int c = -1;
	for (int tries = 0; tries < 50; tries++) {
		c = connect_to();
		buf_reset(&busy);
		if (frame_recv(c, FRAME_MAX_RESPONSE, &busy, 1000) == 0 &&
		    strstr(buf_str(&busy), "\"code\":\"busy\"") != NULL)
			break;
		close(c);
		c = -1;
	}
	CHECK(c >= 0);
	if (c >= 0)
		close(c);
	close(a);
	close(b);
	/* Room again once they are gone. */
	int ok = 0;
	for (int tries = 0; tries < 50 && !ok; tries++)
		ok = request("{\"op\":\"again\"}", &out) == 0 && strstr(buf_str(&out), "\"ok\":true");
	CHECK(ok);
	server_stop(s);
	pthread_join(t, NULL);
	server_free(s);

	buf_free(&busy);
	buf_free(&out);
	rmdir(dir);
	test_tls();
	return check_status();
}
