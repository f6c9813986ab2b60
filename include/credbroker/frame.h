/* SPDX-License-Identifier: MIT */
#ifndef CREDBROKER_FRAME_H
#define CREDBROKER_FRAME_H

#include <stddef.h>
#include <stdint.h>

struct buf;

/*
 * The wire framing shared by the daemon and the CLI: a 4-byte big-endian
 * payload length, then that many bytes of JSON. See docs/protocol.md.
 */
#define FRAME_MAX_REQUEST (64u * 1024u)   /* the daemon refuses larger requests */
#define FRAME_MAX_RESPONSE (256u * 1024u) /* the CLI refuses larger responses */
#define FRAME_HEADER 4u

/* Look at the first len bytes received. 1 and *ret_payload_len when a whole
 * frame (header + payload) is there, 0 when more bytes are needed,
 * CB_ERR_TOO_LARGE when the announced length is over max, CB_ERR_INVALID for
 * a zero length. Never reads past len. */
int frame_check(const uint8_t *p, size_t len, size_t max, size_t *ret_payload_len);

/* Append header + payload to out. */
int frame_encode(struct buf *out, const void *payload, size_t len);

/* Wait until fd is ready for events (POLLIN / POLLOUT) or the monotonic
 * deadline (cbtime_now_ms() milliseconds) passes. 0, CB_ERR_TIMEOUT, or
 * CB_ERR_IO. Retries on EINTR. */
int frame_wait(int fd, short events, long deadline_ms);

/* Blocking client helpers with a deadline per call (timeout_ms). frame_recv
 * appends the payload (without header) to ret. CB_ERR_TIMEOUT,
 * CB_ERR_TOO_LARGE, CB_ERR_INVALID, CB_ERR_IO (peer closed or error). */
int frame_send(int fd, const void *payload, size_t len, int timeout_ms);
int frame_recv(int fd, size_t max, struct buf *ret, int timeout_ms);

#endif
