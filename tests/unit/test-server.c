/* SPDX-License-Identifier: MIT */
/*
 * The socket server against real clients on a real unix socket: bad frames
 * get an error and the server goes on; silent clients time out without
 * holding up others; 100 concurrent clients are all answered while 20
 * silent connections sit open; the connection cap answers "busy".
 */
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

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
	buf_printf(resp, "{\"ok\":true,\"uid\":%ld,\"echo\":\"", (long)peer->uid);
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
	return check_status();
}
