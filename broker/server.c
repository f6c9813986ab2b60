/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "credbroker/buf.h"
#include "credbroker/err.h"
#include "credbroker/frame.h"
#include "credbroker/server.h"

#define MAX_WORKERS 64
#define MAX_CONNECTIONS 4096

struct conn {
	int fd;
	struct server_peer peer;
	long deadline;     /* monotonic ms by which the whole request must be in */
	struct buf in;     /* header + payload as received */
	size_t payload_len;
	struct conn *next; /* work queue link */
};

struct server {
	struct server_options opt;
	server_handler_fn handler;
	void *ctx;
	char *socket_path;
	int listen_fd;
	int wake[2];                 /* self-pipe: stop/reload from signal handlers */
	volatile sig_atomic_t stop;
	volatile sig_atomic_t reload;

	struct conn **reading;       /* connections the loop is reading from */
	size_t nreading;

	pthread_mutex_t lock;        /* guards the queue, open and quit */
	pthread_cond_t cond;
	struct conn *queue_head, *queue_tail;
	int open;                    /* connections not yet closed, reading or queued or in a worker */
	bool quit;
	pthread_t threads[MAX_WORKERS];
	int nthreads;
};

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

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

static void conn_free(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	buf_free(&c->in);
	free(c);
}

/* Count a connection as closed; wakes server_free() when it waits. */
static void conn_done(struct server *s, struct conn *c)
{
	conn_free(c);
	pthread_mutex_lock(&s->lock);
	s->open--;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/* Best effort: a framed error to a client we are about to drop. */
static void send_error_and_close(struct server *s, struct conn *c, int err, const char *message)
{
	struct buf resp;
	buf_init(&resp, 4096);
	if (server_error_response(&resp, err, message) == 0)
		frame_send(c->fd, resp.data, resp.len, 200);
	buf_free(&resp);
	conn_done(s, c);
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
		s->handler(s->ctx, &c->peer, c->in.data + FRAME_HEADER, c->payload_len, &resp);
		if (resp.len == 0)
			server_error_response(&resp, CB_ERR_INTERNAL, NULL);
		frame_send(c->fd, resp.data, resp.len, s->opt.io_timeout_ms);
		buf_free(&resp);
		conn_done(s, c);
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

int server_new(const struct server_options *options, server_handler_fn handler, void *ctx,
	       struct server **ret)
{
	if (options->socket_path == NULL || options->max_connections < 1 ||
	    options->max_connections > MAX_CONNECTIONS || options->workers < 1 ||
	    options->workers > MAX_WORKERS || options->io_timeout_ms < 1)
		return CB_ERR_INVALID;
	struct server *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return CB_ERR_NOMEM;
	s->opt = *options;
	s->handler = handler;
	s->ctx = ctx;
	s->listen_fd = -1;
	s->wake[0] = s->wake[1] = -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->socket_path = strdup(options->socket_path);
	s->reading = calloc((size_t)options->max_connections, sizeof(*s->reading));
	int r = CB_ERR_NOMEM;
	if (s->socket_path == NULL || s->reading == NULL)
		goto fail;
	r = CB_ERR_IO;
	if (pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) < 0)
		goto fail;
	r = listen_on(options->socket_path, &s->listen_fd);
	if (r < 0)
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

static void accept_new(struct server *s)
{
	for (;;) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return; /* EAGAIN, or an error to retry on the next poll */
		struct conn *c = calloc(1, sizeof(*c));
		if (c == NULL) {
			close(fd);
			return;
		}
		c->fd = fd;
		buf_init(&c->in, FRAME_HEADER + FRAME_MAX_REQUEST);
		pthread_mutex_lock(&s->lock);
		s->open++;
		pthread_mutex_unlock(&s->lock);

		/* The kernel says who this is; nothing the client sends can. */
		struct ucred cred;
		socklen_t len = sizeof(cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof(cred)) {
			conn_done(s, c);
			continue;
		}
		c->peer.uid = cred.uid;
		c->peer.gid = cred.gid;
		c->peer.pid = cred.pid;
		if (s->nreading >= (size_t)s->opt.max_connections) {
			send_error_and_close(s, c, CB_ERR_BUSY, "too many connections; try again");
			continue;
		}
		c->deadline = now_ms() + s->opt.io_timeout_ms;
		s->reading[s->nreading++] = c;
	}
}

/* Read what is there. Returns true when the connection left the read set
 * (queued for a worker, or closed). */
static bool read_some(struct server *s, struct conn *c)
{
	for (;;) {
		size_t plen;
		int r = frame_check(c->in.data, c->in.len, FRAME_MAX_REQUEST, &plen);
		if (r == 1) {
			if (c->in.len != FRAME_HEADER + plen) {
				send_error_and_close(s, c, CB_ERR_INVALID,
						     "one request per connection; bytes after the frame");
				return true;
			}
			c->payload_len = plen;
			enqueue(s, c);
			return true;
		}
		if (r == CB_ERR_TOO_LARGE) {
			send_error_and_close(s, c, CB_ERR_TOO_LARGE, "request frame over 64 KiB");
			return true;
		}
		if (r < 0) {
			send_error_and_close(s, c, CB_ERR_INVALID, "zero-length frame");
			return true;
		}
		uint8_t chunk[8192];
		ssize_t n = recv(c->fd, chunk, sizeof(chunk), 0);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return false;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* Closed before a whole frame: nobody to answer. */
			conn_done(s, c);
			return true;
		}
		r = buf_append(&c->in, chunk, (size_t)n);
		if (r < 0) {
			send_error_and_close(s, c, r, "request frame over 64 KiB");
			return true;
		}
	}
}

int server_run(struct server *s)
{
	struct pollfd *pfds = calloc((size_t)s->opt.max_connections + 2, sizeof(*pfds));
	if (pfds == NULL)
		return CB_ERR_NOMEM;
	int result = 0;
	for (;;) {
		if (s->stop) {
			s->stop = 0;
			result = 0;
			break;
		}
		if (s->reload) {
			s->reload = 0;
			result = 1;
			break;
		}
		long now = now_ms(), wait = 1000;
		pfds[0] = (struct pollfd){ .fd = s->wake[0], .events = POLLIN };
		pfds[1] = (struct pollfd){ .fd = s->listen_fd, .events = POLLIN };
		for (size_t i = 0; i < s->nreading; i++) {
			pfds[i + 2] = (struct pollfd){ .fd = s->reading[i]->fd, .events = POLLIN };
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
		if (pfds[0].revents & POLLIN) {
			char drain[64];
			while (read(s->wake[0], drain, sizeof(drain)) > 0)
				;
		}
		/* Walk the read set, compacting it as connections leave. */
		now = now_ms();
		size_t keep = 0;
		for (size_t i = 0; i < n; i++) {
			struct conn *c = s->reading[i];
			bool gone = false;
			if (pr > 0 && pfds[i + 2].revents != 0)
				gone = read_some(s, c);
			if (!gone && now >= c->deadline) {
				send_error_and_close(s, c, CB_ERR_TIMEOUT, "request not received in time");
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
	s->stop = 1;
	wake(s);
}

void server_reload(struct server *s)
{
	s->reload = 1;
	wake(s);
}

void server_free(struct server *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->nreading; i++)
		conn_done(s, s->reading[i]);
	s->nreading = 0;
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		unlink(s->socket_path);
	}
	/* Let the workers finish the requests already queued, then quit. */
	pthread_mutex_lock(&s->lock);
	while (s->queue_head != NULL)
		pthread_cond_wait(&s->cond, &s->lock);
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
