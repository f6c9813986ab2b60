/* SPDX-License-Identifier: MIT */
#ifndef CREDBROKER_TLS_H
#define CREDBROKER_TLS_H

#include "credbroker/server.h"

#include <stdbool.h>
#include <stddef.h>

struct buf;
struct ssl_st;
struct ssl_ctx_st;

/*
 * The TLS gateway for remote users: a listener on HOST:PORT speaking TLS 1.2
 * or later (OpenSSL), carrying the same length-prefixed JSON frames as the
 * unix socket and calling the same server_handler_fn, with a peer that has
 * no uid (tls = true, addr = the client's IP).
 *
 * It is a server (server.h) of its own on a thread of its own: its loop,
 * connection cap, deadline (handshake + whole request) and worker pool are
 * separate from the unix socket's, so TLS trouble cannot block local users.
 * This file holds the OpenSSL side: the context, the key file checks, the
 * TCP listener, and the transport steps the server's loop calls.
 */
struct tls_gateway;

struct tls_options {
	const char *listen;   /* "HOST:PORT" or "[V6]:PORT" */
	const char *cert;     /* PEM: the certificate, then any intermediates */
	const char *key;      /* PEM private key, unencrypted; refused when group or others may read it */
	int max_connections;  /* open TLS connections at once */
	int workers;          /* handler threads */
	int timeout_ms;       /* handshake + whole request; and again to send the answer */
};

/* Load the certificate and key, listen, and start serving on threads of its
 * own. 0 and *ret (stop with tls_free); otherwise CB_ERR_INVALID (bad
 * options), CB_ERR_PERM (the key file is open to group or others),
 * CB_ERR_CRYPTO (a certificate or key that does not load or does not match),
 * CB_ERR_IO (cannot listen), CB_ERR_NOMEM, with one line appended to why
 * naming the file or address. Never a byte of the key in why. */
int tls_new(const struct tls_options *options, server_handler_fn handler, void *ctx,
	    struct tls_gateway **ret, struct buf *why);

/* Stop accepting, drop the connections still in handshake or reading, let
 * the workers finish the requests they hold, join every thread and free.
 * NULL is fine. */
void tls_free(struct tls_gateway *t);

/*
 * The transport server.c drives, one step per call on a non-blocking
 * socket. Each returns 1 when the step is done (*ret_n bytes moved), 0 when
 * OpenSSL waits for the socket (*ret_events: POLLIN or POLLOUT), CB_ERR_IO
 * when the peer closed, failed or broke the protocol.
 */

/* A server-side connection on fd (not owned), or NULL. */
struct ssl_st *tls_conn_new(struct ssl_ctx_st *ctx, int fd);
int tls_handshake(struct ssl_st *ssl, short *ret_events);
int tls_read(struct ssl_st *ssl, void *p, size_t n, size_t *ret_n, short *ret_events);
int tls_write(struct ssl_st *ssl, const void *p, size_t n, size_t *ret_n, short *ret_events);

/* With notify, send close_notify first (without waiting for the peer's).
 * Frees ssl, not its fd. NULL is fine. */
void tls_conn_free(struct ssl_st *ssl, bool notify);

#endif
