/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
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
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "credbroker/buf.h"
#include "credbroker/err.h"
#include "credbroker/frame.h"
#include "credbroker/hostport.h"
#include "credbroker/server.h"
#include "credbroker/tls.h"

#define MAX_WORKERS 16
#define MAX_CONNECTIONS 1024
#define KEY_FILE_MAX (64u * 1024u)
#define ERROR_SEND_MS 1000 /* to tell a client its request was refused */

struct conn {
	int fd;
	SSL *ssl;
	struct server_peer peer;
	long deadline;      /* monotonic ms: handshake and whole request by then */
	short events;       /* what OpenSSL waits for: POLLIN or POLLOUT */
	bool handshaken;
	struct buf in;      /* header + payload as decrypted */
	size_t payload_len;
	int refuse;         /* != 0: answer this error instead of calling the handler */
	const char *refuse_message;
	struct conn *next;  /* work queue link */
};

struct tls_gateway {
	struct tls_options opt;
	server_handler_fn handler;
	void *ctx;
	SSL_CTX *ssl_ctx;
	int listen_fd;
	int wake[2];                /* self-pipe: tls_free() wakes the loop */

	struct conn **active;       /* in handshake or reading; the loop's alone */
	size_t nactive;

	pthread_mutex_t lock;       /* guards the queue, open and quit */
	pthread_cond_t cond;
	struct conn *queue_head, *queue_tail;
	int open;                   /* accepted and not yet closed, wherever they are */
	bool quit;                  /* the loop: return; the workers: return when the queue is empty */
	pthread_t loop;
	bool loop_started;
	pthread_t threads[MAX_WORKERS];
	int nthreads;
};

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void conn_done(struct tls_gateway *t, struct conn *c)
{
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	if (c->fd >= 0)
		close(c->fd);
	buf_free(&c->in);
	free(c);
	pthread_mutex_lock(&t->lock);
	t->open--;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

/* Wait for what OpenSSL asked for (err is SSL_get_error's answer) until the
 * deadline. 0 to retry, CB_ERR_TIMEOUT, or CB_ERR_IO for any other error. */
static int wait_for(int fd, int err, long deadline)
{
	short events;
	if (err == SSL_ERROR_WANT_READ)
		events = POLLIN;
	else if (err == SSL_ERROR_WANT_WRITE)
		events = POLLOUT;
	else
		return CB_ERR_IO;
	for (;;) {
		long left = deadline - now_ms();
		if (left <= 0)
			return CB_ERR_TIMEOUT;
		struct pollfd pfd = { .fd = fd, .events = events };
		int n = poll(&pfd, 1, (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return CB_ERR_IO;
	}
}

/* Write the whole frame before the deadline, then say goodbye. */
static void send_frame(struct conn *c, const struct buf *payload, int timeout_ms)
{
	struct buf out;
	buf_init(&out, FRAME_HEADER + FRAME_MAX_RESPONSE);
	long deadline = now_ms() + timeout_ms;
	int r = frame_encode(&out, payload->data, payload->len);
	size_t off = 0;
	while (r == 0 && off < out.len) {
		size_t n = 0;
		ERR_clear_error();
		if (SSL_write_ex(c->ssl, out.data + off, out.len - off, &n) == 1) {
			off += n;
			continue;
		}
		r = wait_for(c->fd, SSL_get_error(c->ssl, 0), deadline);
	}
	if (r == 0) {
		/* One close_notify, without waiting for the client's. */
		ERR_clear_error();
		SSL_shutdown(c->ssl);
	}
	ERR_clear_error();
	buf_free(&out);
}

static void *worker_main(void *arg)
{
	struct tls_gateway *t = arg;
	for (;;) {
		pthread_mutex_lock(&t->lock);
		while (t->queue_head == NULL && !t->quit)
			pthread_cond_wait(&t->cond, &t->lock);
		struct conn *c = t->queue_head;
		if (c == NULL) {
			pthread_mutex_unlock(&t->lock);
			return NULL;
		}
		t->queue_head = c->next;
		if (t->queue_head == NULL)
			t->queue_tail = NULL;
		pthread_cond_broadcast(&t->cond);
		pthread_mutex_unlock(&t->lock);

		struct buf resp;
		buf_init(&resp, FRAME_MAX_RESPONSE);
		if (c->refuse != 0) {
			server_error_response(&resp, c->refuse, c->refuse_message);
		} else {
			t->handler(t->ctx, &c->peer, c->in.data + FRAME_HEADER, c->payload_len, &resp);
			if (resp.len == 0)
				server_error_response(&resp, CB_ERR_INTERNAL, NULL);
		}
		send_frame(c, &resp, c->refuse != 0 ? ERROR_SEND_MS : t->opt.timeout_ms);
		buf_free(&resp);
		conn_done(t, c);
	}
}

static void enqueue(struct tls_gateway *t, struct conn *c)
{
	pthread_mutex_lock(&t->lock);
	c->next = NULL;
	if (t->queue_tail != NULL)
		t->queue_tail->next = c;
	else
		t->queue_head = c;
	t->queue_tail = c;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

static void refuse(struct tls_gateway *t, struct conn *c, int err, const char *message)
{
	c->refuse = err;
	c->refuse_message = message;
	enqueue(t, c);
}

/* Move c forward as far as it goes without blocking: handshake, then the
 * request frame. true when c left the loop (queued for a worker, or
 * dropped); false when it waits for c->events. */
static bool advance(struct tls_gateway *t, struct conn *c)
{
	ERR_clear_error();
	if (!c->handshaken) {
		int r = SSL_do_handshake(c->ssl);
		if (r != 1) {
			int e = SSL_get_error(c->ssl, r);
			ERR_clear_error();
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				c->events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
				return false;
			}
			/* Not TLS, an old protocol, a client that gave up: drop it. */
			conn_done(t, c);
			return true;
		}
		c->handshaken = true;
	}
	for (;;) {
		size_t plen;
		int r = frame_check(c->in.data, c->in.len, FRAME_MAX_REQUEST, &plen);
		if (r == 1) {
			if (c->in.len != FRAME_HEADER + plen) {
				refuse(t, c, CB_ERR_INVALID,
				       "one request per connection; bytes after the frame");
				return true;
			}
			c->payload_len = plen;
			enqueue(t, c);
			return true;
		}
		if (r == CB_ERR_TOO_LARGE) {
			refuse(t, c, CB_ERR_TOO_LARGE, "request frame over 64 KiB");
			return true;
		}
		if (r < 0) {
			refuse(t, c, CB_ERR_INVALID, "zero-length frame");
			return true;
		}
		uint8_t chunk[8192];
		size_t n = 0;
		if (SSL_read_ex(c->ssl, chunk, sizeof(chunk), &n) != 1) {
			int e = SSL_get_error(c->ssl, 0);
			ERR_clear_error();
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				c->events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
				return false;
			}
			/* Closed before a whole frame: nobody to answer. */
			conn_done(t, c);
			return true;
		}
		r = buf_append(&c->in, chunk, n);
		OPENSSL_cleanse(chunk, n);
		if (r < 0) {
			refuse(t, c, CB_ERR_TOO_LARGE, "request frame over 64 KiB");
			return true;
		}
	}
}

static void peer_address(const struct sockaddr_storage *sa, char out[static 64])
{
	const void *addr = NULL;
	if (sa->ss_family == AF_INET)
		addr = &((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa->ss_family == AF_INET6)
		addr = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	if (addr == NULL || inet_ntop(sa->ss_family, addr, out, 64) == NULL)
		memcpy(out, "unknown", sizeof("unknown"));
}

static void accept_new(struct tls_gateway *t)
{
	for (;;) {
		struct sockaddr_storage sa;
		socklen_t salen = sizeof(sa);
		int fd = accept4(t->listen_fd, (struct sockaddr *)&sa, &salen,
				 SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return; /* EAGAIN, or an error to retry on the next poll */
		pthread_mutex_lock(&t->lock);
		bool full = t->open >= t->opt.max_connections;
		pthread_mutex_unlock(&t->lock);
		if (full) {
			/* No handshake, so no way to say "busy": close at once. */
			close(fd);
			continue;
		}
		struct conn *c = calloc(1, sizeof(*c));
		SSL *ssl = c != NULL ? SSL_new(t->ssl_ctx) : NULL;
		if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) {
			ERR_clear_error();
			SSL_free(ssl);
			free(c);
			close(fd);
			return;
		}
		SSL_set_accept_state(ssl);
		c->fd = fd;
		c->ssl = ssl;
		c->peer = (struct server_peer){ .uid = (uid_t)-1, .gid = (gid_t)-1, .pid = -1,
						.tls = true };
		peer_address(&sa, c->peer.addr);
		buf_init(&c->in, FRAME_HEADER + FRAME_MAX_REQUEST);
		c->deadline = now_ms() + t->opt.timeout_ms;
		c->events = POLLIN;
		pthread_mutex_lock(&t->lock);
		t->open++;
		pthread_mutex_unlock(&t->lock);
		t->active[t->nactive++] = c;
	}
}

static void *loop_main(void *arg)
{
	struct tls_gateway *t = arg;
	struct pollfd *pfds = calloc((size_t)t->opt.max_connections + 2, sizeof(*pfds));
	if (pfds == NULL)
		return NULL;
	for (;;) {
		pthread_mutex_lock(&t->lock);
		bool quit = t->quit;
		pthread_mutex_unlock(&t->lock);
		if (quit)
			break;
		long now = now_ms(), wait = 1000;
		pfds[0] = (struct pollfd){ .fd = t->wake[0], .events = POLLIN };
		pfds[1] = (struct pollfd){ .fd = t->listen_fd, .events = POLLIN };
		for (size_t i = 0; i < t->nactive; i++) {
			pfds[i + 2] = (struct pollfd){ .fd = t->active[i]->fd, .events = t->active[i]->events };
			long left = t->active[i]->deadline - now;
			if (left < wait)
				wait = left < 0 ? 0 : left;
		}
		size_t n = t->nactive;
		int pr = poll(pfds, n + 2, (int)wait);
		if (pr < 0 && errno != EINTR)
			break;
		if (pr > 0 && (pfds[0].revents & POLLIN))
			continue; /* tls_free() set quit */
		now = now_ms();
		size_t keep = 0;
		for (size_t i = 0; i < n; i++) {
			struct conn *c = t->active[i];
			bool gone = false;
			if (pr > 0 && pfds[i + 2].revents != 0)
				gone = advance(t, c);
			if (!gone && now >= c->deadline) {
				/* Before the handshake there is nobody to tell. */
				if (c->handshaken)
					refuse(t, c, CB_ERR_TIMEOUT, "request not received in time");
				else
					conn_done(t, c);
				gone = true;
			}
			if (!gone)
				t->active[keep++] = c;
		}
		t->nactive = keep;
		if (pr > 0 && (pfds[1].revents & POLLIN))
			accept_new(t);
	}
	free(pfds);
	return NULL;
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
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_NO_TICKET |
					 SSL_OP_CIPHER_SERVER_PREFERENCE);
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
	t->opt = *o;
	t->opt.listen = t->opt.cert = t->opt.key = NULL; /* not kept past this call */
	t->handler = handler;
	t->ctx = ctx;
	t->listen_fd = -1;
	t->wake[0] = t->wake[1] = -1;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	int r = CB_ERR_NOMEM;
	t->active = calloc((size_t)o->max_connections, sizeof(*t->active));
	if (t->active == NULL)
		goto fail;
	r = make_ssl_ctx(o, &t->ssl_ctx, why);
	if (r < 0)
		goto fail;
	r = listen_on(o->listen, &t->listen_fd, why);
	if (r < 0)
		goto fail;
	r = CB_ERR_IO;
	if (pipe2(t->wake, O_CLOEXEC | O_NONBLOCK) < 0)
		goto fail;

	/* The gateway's threads take no signals: the daemon's main thread
	 * handles them, and a client that hangs up mid-write gets EPIPE, not
	 * SIGPIPE. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = 0;
	for (; t->nthreads < o->workers; t->nthreads++) {
		if (pthread_create(&t->threads[t->nthreads], NULL, worker_main, t) != 0) {
			r = CB_ERR_NOMEM;
			break;
		}
	}
	if (r == 0 && pthread_create(&t->loop, NULL, loop_main, t) != 0)
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
	pthread_mutex_lock(&t->lock);
	t->quit = true;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
	if (t->loop_started) {
		ssize_t n = write(t->wake[1], "x", 1);
		(void)n;
		pthread_join(t->loop, NULL);
	}
	/* The loop is gone: what it held was never answered. */
	for (size_t i = 0; i < t->nactive; i++)
		conn_done(t, t->active[i]);
	t->nactive = 0;
	/* The workers drain the queue before they return. */
	for (int i = 0; i < t->nthreads; i++)
		pthread_join(t->threads[i], NULL);
	if (t->listen_fd >= 0)
		close(t->listen_fd);
	if (t->wake[0] >= 0)
		close(t->wake[0]);
	if (t->wake[1] >= 0)
		close(t->wake[1]);
	SSL_CTX_free(t->ssl_ctx);
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->lock);
	free(t->active);
	free(t);
}
