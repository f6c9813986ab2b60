/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "credbroker/buf.h"
#include "credbroker/cbtime.h"
#include "credbroker/err.h"
#include "credbroker/frame.h"
#include "credbroker/server.h"
#include "credbroker/tls.h"

#define MAX_WORKERS 64
#define MAX_CONNECTIONS 4096
#define ERROR_SEND_MS 1000 /* to tell a client its request was refused */
#define BUSY_SEND_MS 200   /* to say "busy" from the loop itself */

struct conn {
	int fd;
	struct ssl_st *ssl; /* NULL on the unix socket */
	struct server_peer peer;
	long deadline;      /* monotonic ms: handshake and whole request by then */
	short events;       /* what the transport waits for: POLLIN or POLLOUT */
	bool handshaken;    /* always true on the unix socket */
	struct buf in;      /* header + payload as received */
	size_t payload_len;
	int refuse;         /* != 0: answer this error instead of calling the handler */
	const char *refuse_message;
	struct conn *next;  /* work queue link */
};

struct server {
	struct server_options opt;
	server_handler_fn handler;
	void *ctx;
	char *socket_path;           /* the unix socket to remove on free; NULL over TLS */
	struct ssl_ctx_st *ssl_ctx;  /* NULL: the unix socket, peers from SO_PEERCRED */
	int listen_fd;
	int wake[2];                 /* self-pipe: stop/reload from signal handlers or threads */
	atomic_int stop;
	atomic_int reload;

	struct conn **reading;       /* in handshake or reading; the loop's alone */
	size_t nreading;

	pthread_mutex_t lock;        /* guards the queue, open and quit */
	pthread_cond_t cond;         /* workers wait on it for the queue or quit */
	struct conn *queue_head, *queue_tail;
	int open;                    /* accepted and not yet closed, wherever they are */
	bool quit;                   /* workers: return once the queue is empty */
	pthread_t threads[MAX_WORKERS];
	int nthreads;
};

int server_error_response(struct buf *resp, int err, const char *message)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *e = cJSON_AddObjectToObject(root, "error");
	int r = CB_ERR_NOMEM;
	if (root != NULL && e != NULL && cJSON_AddFalseToObject(root, "ok") != NULL &&
	    cJSON_AddStringToObject(e, "code", cb_errname(err)) != NULL &&
	    cJSON_AddStringToObject(e, "message", message ? message : cb_strerror(err)) != NULL) {
		/* "ok" first reads better on the wire. */
		cJSON_DetachItemViaPointer(root, e);
		cJSON_AddItemToObject(root, "error", e);
		e = NULL;
		char *s = cJSON_PrintUnformatted(root);
		if (s != NULL) {
			r = buf_puts(resp, s);
			free(s);
		}
	}
	cJSON_Delete(root);
	return r;
}

/* Close c and count it closed; notify: say goodbye (TLS close_notify). */
static void conn_done(struct server *s, struct conn *c, bool notify)
{
	tls_conn_free(c->ssl, notify);
	close(c->fd);
	buf_free(&c->in);
	free(c);
	pthread_mutex_lock(&s->lock);
	s->open--;
	pthread_mutex_unlock(&s->lock);
}

/* The plain transport beside tls_read()/tls_write(): 1 and *ret_n bytes
 * moved, 0 when the socket is not ready (c->events says for what), or
 * CB_ERR_IO when the peer closed or the socket failed. */
static int conn_read(struct conn *c, void *p, size_t n, size_t *ret_n)
{
	if (c->ssl != NULL)
		return tls_read(c->ssl, p, n, ret_n, &c->events);
	ssize_t got;
	do
		got = recv(c->fd, p, n, MSG_DONTWAIT);
	while (got < 0 && errno == EINTR);
	if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (got <= 0)
		return CB_ERR_IO;
	*ret_n = (size_t)got;
	return 1;
}

static int conn_write(struct conn *c, const void *p, size_t n, size_t *ret_n)
{
	if (c->ssl != NULL)
		return tls_write(c->ssl, p, n, ret_n, &c->events);
	ssize_t sent;
	do
		sent = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (sent < 0 && errno == EINTR);
	if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		c->events = POLLOUT;
		return 0;
	}
	if (sent < 0)
		return CB_ERR_IO;
	*ret_n = (size_t)sent;
	return 1;
}

/* Write payload as one frame within timeout_ms. */
static int send_frame(struct conn *c, const struct buf *payload, int timeout_ms)
{
	struct buf out;
	buf_init(&out, FRAME_HEADER + FRAME_MAX_RESPONSE);
	long deadline = cbtime_now_ms() + timeout_ms;
	int r = frame_encode(&out, payload->data, payload->len);
	size_t off = 0;
	while (r == 0 && off < out.len) {
		size_t n = 0;
		r = conn_write(c, out.data + off, out.len - off, &n);
		if (r == 1) {
			off += n;
			r = 0;
		} else if (r == 0) {
			r = frame_wait(c->fd, c->events, deadline);
		}
	}
	buf_free(&out);
	return r;
}

static void *worker_main(void *arg)
{
	struct server *s = arg;
	for (;;) {
		pthread_mutex_lock(&s->lock);
		while (s->queue_head == NULL && !s->quit)
			pthread_cond_wait(&s->cond, &s->lock);
		struct conn *c = s->queue_head;
		if (c == NULL) {
			pthread_mutex_unlock(&s->lock);
			return NULL;
		}
		s->queue_head = c->next;
		if (s->queue_head == NULL)
			s->queue_tail = NULL;
		pthread_mutex_unlock(&s->lock);

		struct buf resp;
		buf_init(&resp, FRAME_MAX_RESPONSE);
		if (c->refuse != 0) {
			server_error_response(&resp, c->refuse, c->refuse_message);
		} else {
			s->handler(s->ctx, &c->peer, c->in.data + FRAME_HEADER, c->payload_len, &resp);
			if (resp.len == 0)
				server_error_response(&resp, CB_ERR_INTERNAL, NULL);
		}
		int r = send_frame(c, &resp, c->refuse != 0 ? ERROR_SEND_MS : s->opt.io_timeout_ms);
		buf_free(&resp);
		conn_done(s, c, r == 0);
	}
}

static void enqueue(struct server *s, struct conn *c)
{
	pthread_mutex_lock(&s->lock);
	c->next = NULL;
	if (s->queue_tail != NULL)
		s->queue_tail->next = c;
	else
		s->queue_head = c;
	s->queue_tail = c;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/* A worker answers err instead of calling the handler. */
static void refuse(struct server *s, struct conn *c, int err, const char *message)
{
	c->refuse = err;
	c->refuse_message = message;
	enqueue(s, c);
}

/* Move c forward as far as it goes without blocking: handshake, then the
 * request frame. true when c left the read set (queued for a worker, or
 * dropped); false when it waits for c->events. */
static bool advance(struct server *s, struct conn *c)
{
	if (!c->handshaken) {
		int r = tls_handshake(c->ssl, &c->events);
		if (r == 0)
			return false;
		if (r < 0) {
			/* Not TLS, an old protocol, a client that gave up: drop it. */
			conn_done(s, c, false);
			return true;
		}
		c->handshaken = true;
	}
	for (;;) {
		size_t plen;
		int r = frame_check(c->in.data, c->in.len, FRAME_MAX_REQUEST, &plen);
		if (r == 1 && c->in.len != FRAME_HEADER + plen) {
			refuse(s, c, CB_ERR_INVALID, "one request per connection; bytes after the frame");
			return true;
		}
		if (r == 1) {
			c->payload_len = plen;
			enqueue(s, c);
			return true;
		}
		if (r < 0) {
			if (r == CB_ERR_TOO_LARGE)
				refuse(s, c, r, "request frame over 64 KiB");
			else
				refuse(s, c, CB_ERR_INVALID, "zero-length frame");
			return true;
		}
		uint8_t chunk[8192];
		size_t n = 0;
		r = conn_read(c, chunk, sizeof(chunk), &n);
		if (r == 0)
			return false;
		if (r < 0) {
			/* Closed before a whole frame: nobody to answer. */
			conn_done(s, c, false);
			return true;
		}
		r = buf_append(&c->in, chunk, n);
		sodium_memzero(chunk, n);
		if (r < 0) {
			refuse(s, c, r, r == CB_ERR_TOO_LARGE ? "request frame over 64 KiB" : NULL);
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

/* Who is on fd: the kernel says so on the unix socket, nothing the client
 * sends can; over TLS there is only the address. */
static int conn_new(struct server *s, int fd, const struct sockaddr_storage *sa,
		    struct conn **ret)
{
	struct conn *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return CB_ERR_NOMEM;
	c->fd = fd;
	c->events = POLLIN;
	c->deadline = cbtime_now_ms() + s->opt.io_timeout_ms;
	buf_init(&c->in, FRAME_HEADER + FRAME_MAX_REQUEST);
	if (s->ssl_ctx != NULL) {
		c->ssl = tls_conn_new(s->ssl_ctx, fd);
		c->peer = (struct server_peer){ .uid = (uid_t)-1, .gid = (gid_t)-1, .pid = -1,
						.tls = true };
		peer_address(sa, c->peer.addr);
		if (c->ssl != NULL) {
			*ret = c;
			return 0;
		}
	} else {
		struct ucred cred;
		socklen_t len = sizeof(cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && len == sizeof(cred)) {
			c->peer.uid = cred.uid;
			c->peer.gid = cred.gid;
			c->peer.pid = cred.pid;
			c->handshaken = true;
			*ret = c;
			return 0;
		}
	}
	free(c);
	return CB_ERR_IO;
}

static void accept_new(struct server *s)
{
	for (;;) {
		struct sockaddr_storage sa;
		socklen_t salen = sizeof(sa);
		int fd = accept4(s->listen_fd, (struct sockaddr *)&sa, &salen,
				 SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return; /* EAGAIN, or an error to retry on the next poll */
		pthread_mutex_lock(&s->lock);
		bool full = s->open >= s->opt.max_connections;
		pthread_mutex_unlock(&s->lock);
		struct conn *c = NULL;
		if (full && s->ssl_ctx == NULL) {
			/* Best effort, from the loop: a fresh socket takes this at once. */
			struct buf resp;
			buf_init(&resp, 4096);
			if (server_error_response(&resp, CB_ERR_BUSY, "too many connections; try again") == 0)
				frame_send(fd, resp.data, resp.len, BUSY_SEND_MS);
			buf_free(&resp);
		}
		/* Over TLS, with no handshake there is no way to say "busy". */
		if (full || conn_new(s, fd, &sa, &c) < 0) {
			close(fd);
			continue;
		}
		pthread_mutex_lock(&s->lock);
		s->open++;
		pthread_mutex_unlock(&s->lock);
		s->reading[s->nreading++] = c;
	}
}

int server_run(struct server *s)
{
	struct pollfd *pfds = calloc((size_t)s->opt.max_connections + 2, sizeof(*pfds));
	if (pfds == NULL)
		return CB_ERR_NOMEM;
	int result;
	for (;;) {
		if (atomic_exchange(&s->stop, 0)) {
			result = 0;
			break;
		}
		if (atomic_exchange(&s->reload, 0)) {
			result = 1;
			break;
		}
		long now = cbtime_now_ms(), wait = 1000;
		pfds[0] = (struct pollfd){ .fd = s->wake[0], .events = POLLIN };
		pfds[1] = (struct pollfd){ .fd = s->listen_fd, .events = POLLIN };
		for (size_t i = 0; i < s->nreading; i++) {
			pfds[i + 2] = (struct pollfd){ .fd = s->reading[i]->fd, .events = s->reading[i]->events };
			long left = s->reading[i]->deadline - now;
			if (left < wait)
				wait = left < 0 ? 0 : left;
		}
		size_t n = s->nreading;
		int pr = poll(pfds, n + 2, (int)wait);
		if (pr < 0 && errno != EINTR) {
			result = CB_ERR_IO;
			break;
		}
		if (pr > 0 && (pfds[0].revents & POLLIN)) {
			char drain[64];
			while (read(s->wake[0], drain, sizeof(drain)) > 0)
				;
		}
		/* Walk the read set, compacting it as connections leave. */
		now = cbtime_now_ms();
		size_t keep = 0;
		for (size_t i = 0; i < n; i++) {
			struct conn *c = s->reading[i];
			bool gone = false;
			if (pr > 0 && pfds[i + 2].revents != 0)
				gone = advance(s, c);
			if (!gone && now >= c->deadline) {
				/* Before the TLS handshake there is nobody to tell. */
				if (c->handshaken)
					refuse(s, c, CB_ERR_TIMEOUT, "request not received in time");
				else
					conn_done(s, c, false);
				gone = true;
			}
			if (!gone)
				s->reading[keep++] = c;
		}
		s->nreading = keep;
		if (pr > 0 && (pfds[1].revents & POLLIN))
			accept_new(s);
	}
	free(pfds);
	return result;
}

/* Is someone accepting on path? Used to tell a live broker from a stale file. */
static bool socket_is_live(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	bool live = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
	close(fd);
	return live;
}

static int listen_on(const char *path, int *ret_fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return CB_ERR_INVALID;
	memcpy(sa.sun_path, path, strlen(path) + 1);

	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return CB_ERR_PERM;
		if (socket_is_live(&sa))
			return CB_ERR_EXISTS;
		if (unlink(path) < 0)
			return CB_ERR_IO;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return CB_ERR_IO;
	/* Create the socket with no access, then open it to owner and group:
	 * there is no moment at which it is wider than 0660. */
	mode_t old = umask(0177);
	int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || chmod(path, 0660) < 0 || listen(fd, 128) < 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return saved == EADDRINUSE ? CB_ERR_EXISTS : CB_ERR_IO;
	}
	*ret_fd = fd;
	return 0;
}

/* Both constructors: listen_fd is s's from here on, even on failure. */
static int server_start(const struct server_options *options, int listen_fd,
			struct ssl_ctx_st *ssl_ctx, server_handler_fn handler, void *ctx,
			struct server **ret)
{
	struct server *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		if (listen_fd >= 0)
			close(listen_fd);
		return CB_ERR_NOMEM;
	}
	s->opt = *options;
	s->opt.socket_path = NULL; /* not kept past this call */
	s->handler = handler;
	s->ctx = ctx;
	s->ssl_ctx = ssl_ctx;
	s->listen_fd = listen_fd;
	s->wake[0] = s->wake[1] = -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	int r = CB_ERR_NOMEM;
	if (options->socket_path != NULL && (s->socket_path = strdup(options->socket_path)) == NULL)
		goto fail;
	s->reading = calloc((size_t)options->max_connections, sizeof(*s->reading));
	if (s->reading == NULL)
		goto fail;
	r = CB_ERR_IO;
	if (pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) < 0)
		goto fail;
	if (s->socket_path != NULL && (r = listen_on(s->socket_path, &s->listen_fd)) < 0)
		goto fail;
	for (; s->nthreads < options->workers; s->nthreads++) {
		if (pthread_create(&s->threads[s->nthreads], NULL, worker_main, s) != 0) {
			r = CB_ERR_NOMEM;
			goto fail;
		}
	}
	*ret = s;
	return 0;
fail:
	server_free(s);
	return r;
}

static bool options_valid(const struct server_options *o)
{
	return o->max_connections >= 1 && o->max_connections <= MAX_CONNECTIONS && o->workers >= 1 &&
	       o->workers <= MAX_WORKERS && o->io_timeout_ms >= 1;
}

int server_new(const struct server_options *options, server_handler_fn handler, void *ctx,
	       struct server **ret)
{
	if (options->socket_path == NULL || !options_valid(options))
		return CB_ERR_INVALID;
	return server_start(options, -1, NULL, handler, ctx, ret);
}

int server_new_tls(const struct server_options *options, int listen_fd, struct ssl_ctx_st *ssl_ctx,
		   server_handler_fn handler, void *ctx, struct server **ret)
{
	if (options->socket_path != NULL || ssl_ctx == NULL || !options_valid(options)) {
		close(listen_fd);
		return CB_ERR_INVALID;
	}
	return server_start(options, listen_fd, ssl_ctx, handler, ctx, ret);
}

static void wake(struct server *s)
{
	int saved = errno;
	if (s->wake[1] >= 0) {
		ssize_t n = write(s->wake[1], "x", 1);
		(void)n;
	}
	errno = saved;
}

void server_stop(struct server *s)
{
	atomic_store(&s->stop, 1);
	wake(s);
}

void server_reload(struct server *s)
{
	atomic_store(&s->reload, 1);
	wake(s);
}

void server_free(struct server *s)
{
	if (s == NULL)
		return;
	/* What the loop held was never answered. */
	for (size_t i = 0; i < s->nreading; i++)
		conn_done(s, s->reading[i], false);
	s->nreading = 0;
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		if (s->socket_path != NULL)
			unlink(s->socket_path);
	}
	/* The workers finish the requests already queued, then return. */
	pthread_mutex_lock(&s->lock);
	s->quit = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	for (int i = 0; i < s->nthreads; i++)
		pthread_join(s->threads[i], NULL);
	if (s->wake[0] >= 0)
		close(s->wake[0]);
	if (s->wake[1] >= 0)
		close(s->wake[1]);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s->reading);
	free(s->socket_path);
	free(s);
}
