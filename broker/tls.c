/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "credbroker/buf.h"
#include "credbroker/err.h"
#include "credbroker/hostport.h"
#include "credbroker/server.h"
#include "credbroker/tls.h"

#define MAX_WORKERS 16
#define MAX_CONNECTIONS 1024
#define KEY_FILE_MAX (64u * 1024u)

struct tls_gateway {
	SSL_CTX *ssl_ctx;
	struct server *server;
	pthread_t loop;
	bool loop_started;
};

SSL *tls_conn_new(SSL_CTX *ctx, int fd)
{
	SSL *ssl = SSL_new(ctx);
	if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) {
		SSL_free(ssl);
		ERR_clear_error();
		return NULL;
	}
	SSL_set_accept_state(ssl);
	return ssl;
}

/* After a call that did not finish: 0 and what OpenSSL waits for, or
 * CB_ERR_IO. */
static int step_result(SSL *ssl, int ret, short *ret_events)
{
	int e = SSL_get_error(ssl, ret);
	ERR_clear_error();
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		*ret_events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		return 0;
	}
	return CB_ERR_IO;
}

int tls_handshake(SSL *ssl, short *ret_events)
{
	ERR_clear_error();
	int r = SSL_do_handshake(ssl);
	return r == 1 ? 1 : step_result(ssl, r, ret_events);
}

int tls_read(SSL *ssl, void *p, size_t n, size_t *ret_n, short *ret_events)
{
	ERR_clear_error();
	return SSL_read_ex(ssl, p, n, ret_n) == 1 ? 1 : step_result(ssl, 0, ret_events);
}

int tls_write(SSL *ssl, const void *p, size_t n, size_t *ret_n, short *ret_events)
{
	ERR_clear_error();
	return SSL_write_ex(ssl, p, n, ret_n) == 1 ? 1 : step_result(ssl, 0, ret_events);
}

void tls_conn_free(SSL *ssl, bool notify)
{
	if (ssl == NULL)
		return;
	ERR_clear_error();
	if (notify)
		SSL_shutdown(ssl);
	SSL_free(ssl);
	ERR_clear_error();
}

/* No passphrase prompt, ever: an encrypted key simply does not load. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return 0;
}

static int load_key(SSL_CTX *ctx, const char *path, struct buf *why)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		buf_printf(why, "tls.key: %s: %s\n", path, strerror(errno));
		return CB_ERR_IO;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		buf_printf(why, "tls.key: %s: not a regular file\n", path);
		return CB_ERR_PERM;
	}
	if (st.st_mode & 077) {
		close(fd);
		buf_printf(why, "tls.key: %s: group or others may access it (mode %04o); "
			   "chmod 600 it\n", path, (unsigned)(st.st_mode & 07777));
		return CB_ERR_PERM;
	}
	struct buf pem;
	buf_init(&pem, KEY_FILE_MAX);
	int r = 0;
	for (;;) {
		uint8_t chunk[4096];
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = CB_ERR_IO;
			break;
		}
		if (n == 0)
			break;
		r = buf_append(&pem, chunk, (size_t)n);
		OPENSSL_cleanse(chunk, sizeof(chunk));
		if (r < 0)
			break;
	}
	close(fd);
	EVP_PKEY *pkey = NULL;
	if (r == 0 && pem.len > 0 && pem.len <= INT32_MAX) {
		BIO *bio = BIO_new_mem_buf(pem.data, (int)pem.len);
		if (bio != NULL)
			pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
		BIO_free(bio);
	}
	buf_free(&pem);
	if (r < 0) {
		buf_printf(why, "tls.key: %s: %s\n", path,
			   r == CB_ERR_TOO_LARGE ? "larger than 64 KiB" : "cannot be read");
	} else if (pkey == NULL) {
		buf_printf(why, "tls.key: %s: not an unencrypted PEM private key\n", path);
		r = CB_ERR_CRYPTO;
	} else if (SSL_CTX_use_PrivateKey(ctx, pkey) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		buf_printf(why, "tls.key: %s: does not match the certificate\n", path);
		r = CB_ERR_CRYPTO;
	}
	EVP_PKEY_free(pkey);
	ERR_clear_error();
	return r;
}

static int make_ssl_ctx(const struct tls_options *o, SSL_CTX **ret, struct buf *why)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		ERR_clear_error();
		return CB_ERR_NOMEM;
	}
	/* TLS 1.2 and up with OpenSSL's default ciphers; no renegotiation, no
	 * compression, no session resumption (one request per connection). */
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* CLEANSE_PLAINTEXT: read buffers hold passwords, codes and credentials. */
	SSL_CTX_set_options(ctx, SSL_OP_CLEANSE_PLAINTEXT | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
				 SSL_OP_NO_TICKET | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
	int r = 0;
	if (SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1) {
		buf_printf(why, "tls.cert: %s: cannot load a PEM certificate\n", o->cert);
		r = CB_ERR_CRYPTO;
	} else {
		r = load_key(ctx, o->key, why);
	}
	ERR_clear_error();
	if (r < 0) {
		SSL_CTX_free(ctx);
		return r;
	}
	*ret = ctx;
	return 0;
}

static int listen_on(const char *addr, int *ret_fd, struct buf *why)
{
	char host[HOSTPORT_HOST_MAX], port[HOSTPORT_PORT_MAX];
	if (hostport_parse(addr, host, port) < 0) {
		buf_printf(why, "tls.listen: %s: not HOST:PORT\n", addr);
		return CB_ERR_INVALID;
	}
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	int g = getaddrinfo(host, port, &hints, &ai);
	if (g != 0) {
		buf_printf(why, "cannot listen on %s: %s\n", addr, gai_strerror(g));
		return CB_ERR_IO;
	}
	int fd = -1, saved = 0;
	for (struct addrinfo *p = ai; p != NULL && fd < 0; p = p->ai_next) {
		fd = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, p->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (p->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		if (bind(fd, p->ai_addr, p->ai_addrlen) < 0 || listen(fd, 128) < 0) {
			saved = errno;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	if (fd < 0) {
		buf_printf(why, "cannot listen on %s: %s\n", addr, strerror(saved));
		return CB_ERR_IO;
	}
	*ret_fd = fd;
	return 0;
}

static void *serve(void *arg)
{
	server_run(arg);
	return NULL;
}

int tls_new(const struct tls_options *options, server_handler_fn handler, void *ctx,
	    struct tls_gateway **ret, struct buf *why)
{
	const struct tls_options *o = options;
	if (o->listen == NULL || o->cert == NULL || o->key == NULL || o->max_connections < 1 ||
	    o->max_connections > MAX_CONNECTIONS || o->workers < 1 || o->workers > MAX_WORKERS ||
	    o->timeout_ms < 1)
		return CB_ERR_INVALID;
	struct tls_gateway *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return CB_ERR_NOMEM;
	int fd = -1;
	int r = make_ssl_ctx(o, &t->ssl_ctx, why);
	if (r < 0)
		goto fail;
	r = listen_on(o->listen, &fd, why);
	if (r < 0)
		goto fail;

	/* The gateway's threads take no signals: the daemon's main thread
	 * handles them, and a client that hangs up mid-write gets EPIPE, not
	 * SIGPIPE. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	struct server_options so = {
		.max_connections = o->max_connections, .io_timeout_ms = o->timeout_ms,
		.workers = o->workers,
	};
	r = server_new_tls(&so, fd, t->ssl_ctx, handler, ctx, &t->server);
	if (r == 0 && pthread_create(&t->loop, NULL, serve, t->server) != 0)
		r = CB_ERR_NOMEM;
	else if (r == 0)
		t->loop_started = true;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0)
		goto fail;
	*ret = t;
	return 0;
fail:
	tls_free(t);
	return r;
}

void tls_free(struct tls_gateway *t)
{
	if (t == NULL)
		return;
	if (t->loop_started) {
		server_stop(t->server);
		pthread_join(t->loop, NULL);
	}
	server_free(t->server);
	SSL_CTX_free(t->ssl_ctx);
	free(t);
}
