/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "credbroker/buf.h"
#include "credbroker/err.h"
#include "credbroker/frame.h"

#include "check.h"

int main(void)
{
	size_t n = 0;
	const uint8_t zero[] = { 0, 0, 0, 0 };
	const uint8_t huge[] = { 0xff, 0xff, 0xff, 0xff };
	const uint8_t partial[] = { 0, 0, 0, 5, '{', '}' };
	const uint8_t whole[] = { 0, 0, 0, 2, '{', '}', 'x' };
	CHECK_INT(frame_check(zero, 3, 100, &n), 0);
	CHECK_INT(frame_check(zero, 4, 100, &n), CB_ERR_INVALID);
	CHECK_INT(frame_check(huge, 4, FRAME_MAX_REQUEST, &n), CB_ERR_TOO_LARGE);
	CHECK_INT(frame_check(partial, sizeof(partial), 100, &n), 0);
	CHECK_INT(frame_check(whole, sizeof(whole), 100, &n), 1);
	CHECK_INT((long long)n, 2);

	/* A round trip over a socket pair, and a frame over the cap refused. */
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK_INT(frame_send(sv[0], "{\"op\":\"ping\"}", 13, 1000), 0);
	struct buf in;
	buf_init(&in, 1024);
	CHECK_INT(frame_recv(sv[1], 1024, &in, 1000), 0);
	CHECK_STR(buf_str(&in), "{\"op\":\"ping\"}");
	buf_reset(&in);
	CHECK_INT(frame_send(sv[0], "0123456789", 10, 1000), 0);
	CHECK_INT(frame_recv(sv[1], 5, &in, 1000), CB_ERR_TOO_LARGE);
	/* Nothing sent: the deadline is honoured. */
	CHECK_INT(frame_recv(sv[0], 1024, &in, 50), CB_ERR_TIMEOUT);
	close(sv[1]);
	CHECK_INT(frame_recv(sv[0], 1024, &in, 1000), CB_ERR_IO);
	close(sv[0]);
	buf_free(&in);
	return check_status();
}
