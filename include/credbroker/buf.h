/* SPDX-License-Identifier: MIT */
#ifndef CREDBROKER_BUF_H
#define CREDBROKER_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A growable byte buffer with a hard cap, the one place untrusted bytes are
 * gathered before a parser sees them (OpenSSH's sshbuf, in small). The data
 * is always NUL-terminated one past len, so text can be handed to C string
 * functions, but len is the truth: embedded NULs are kept.
 *
 * buf_free() wipes the memory before freeing it, so a buffer may hold
 * secrets in transit (a request frame, an STS response).
 */
struct buf {
	uint8_t *data; /* NULL until the first append */
	size_t len;
	size_t cap;
	size_t max;    /* appends that would pass this fail with CB_ERR_TOO_LARGE */
};

/* An empty buffer that refuses to grow past max bytes. */
void buf_init(struct buf *b, size_t max);

/* Append n bytes. 0, or CB_ERR_TOO_LARGE / CB_ERR_NOMEM with b unchanged. */
int buf_append(struct buf *b, const void *p, size_t n);

/* Append a NUL-terminated string (without its NUL). */
int buf_puts(struct buf *b, const char *s);

/* Append one byte. */
int buf_putc(struct buf *b, char c);

/* printf-style append. */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* The contents as a C string ("" when empty); valid until the next append. */
const char *buf_str(const struct buf *b);

/* Drop the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);

/* Forget the contents (wiped) but keep the allocation. */
void buf_reset(struct buf *b);

/* Wipe and free; b is left empty and reusable with the same max. */
void buf_free(struct buf *b);

/* Move the contents out as a NUL-terminated heap string the caller frees
 * (wipe first if it is secret); b is left empty. NULL on allocation failure. */
char *buf_steal(struct buf *b);

#endif
