/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include "credbroker/buf.h"
#include "credbroker/cbtime.h"
#include "credbroker/err.h"
#include "credbroker/frame.h"

int frame_check(const uint8_t *p, size_t len, size_t max, size_t *ret_payload_len)
{
	if (len < FRAME_HEADER)
		return 0;
	uint32_t n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	if (n == 0)
		return CB_ERR_INVALID;
	if (n > max)
		return CB_ERR_TOO_LARGE;
	if (len - FRAME_HEADER < n)
		return 0;
	*ret_payload_len = n;
	return 1;
}

int frame_encode(struct buf *out, const void *payload, size_t len)
{
	if (len == 0 || len > UINT32_MAX)
		return CB_ERR_INVALID;
	uint8_t h[FRAME_HEADER] = { (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
				    (uint8_t)len };
	int r = buf_append(out, h, sizeof(h));
	if (r == 0)
		r = buf_append(out, payload, len);
	return r;
}

int frame_wait(int fd, short events, long deadline)
{
	for (;;) {
		long left = deadline - cbtime_now_ms();
		if (left <= 0)
			return CB_ERR_TIMEOUT;
		struct pollfd pfd = { .fd = fd, .events = events };
		int n = poll(&pfd, 1, (int)left);
		if (n > 0)
			return 0;
		if (n == 0)
			return CB_ERR_TIMEOUT;
		if (errno != EINTR)
			return CB_ERR_IO;
	}
}

int frame_send(int fd, const void *payload, size_t len, int timeout_ms)
{
	struct buf out;
	buf_init(&out, FRAME_HEADER + (size_t)UINT32_MAX);
	int r = frame_encode(&out, payload, len);
	long deadline = cbtime_now_ms() + timeout_ms;
	size_t off = 0;
	while (r == 0 && off < out.len) {
		r = frame_wait(fd, POLLOUT, deadline);
		if (r < 0)
			break;
		ssize_t n = send(fd, out.data + off, out.len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			r = CB_ERR_IO;
			break;
		}
		off += (size_t)n;
	}
	buf_free(&out);
	return r;
}

int frame_recv(int fd, size_t max, struct buf *ret, int timeout_ms)
{
	struct buf in;
	buf_init(&in, FRAME_HEADER + max);
	long deadline = cbtime_now_ms() + timeout_ms;
	size_t plen = 0;
	int r;
	for (;;) {
		r = frame_check(in.data, in.len, max, &plen);
		if (r != 0)
			break;
		r = frame_wait(fd, POLLIN, deadline);
		if (r < 0)
			break;
		uint8_t chunk[4096];
		/* Read no further than the frame: one request, one response. */
		size_t want = in.len < FRAME_HEADER ? FRAME_HEADER - in.len : sizeof(chunk);
		if (in.len >= FRAME_HEADER) {
			/* frame_check() accepted the header: its length is <= max. */
			size_t announced = (size_t)in.data[0] << 24 | (size_t)in.data[1] << 16 |
					   (size_t)in.data[2] << 8 | in.data[3];
			size_t missing = FRAME_HEADER + announced - in.len;
			want = missing < sizeof(chunk) ? missing : sizeof(chunk);
		}
		ssize_t n = recv(fd, chunk, want, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			r = CB_ERR_IO;
			break;
		}
		if (n == 0) {
			r = CB_ERR_IO;
			break;
		}
		r = buf_append(&in, chunk, (size_t)n);
		if (r < 0)
			break;
	}
	if (r == 1)
		r = buf_append(ret, in.data + FRAME_HEADER, plen);
	buf_free(&in);
	return r;
}
