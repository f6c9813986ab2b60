/* SPDX-License-Identifier: MIT */
#ifndef CREDBROKER_TLS_H
#define CREDBROKER_TLS_H

#include "credbroker/server.h"

struct buf;

/*
 * The TLS gateway for remote users: a listener on HOST:PORT speaking TLS 1.2
 * or later (OpenSSL), carrying the same length-prefixed JSON frames as the
 * unix socket and calling the same server_handler_fn, with a peer that has
 * no uid (tls = true, addr = the client's IP).
 *
 * One thread runs a poll() loop that accepts, drives every handshake and
 * reads every request without blocking, each connection under one hard
 * deadline (handshake + whole request); complete requests go to a small pool
 * of worker threads of its own, which run the handler and write the answer.
 * A silent or slow client costs one file descriptor until its deadline and
 * never a thread; connections over the cap are closed at once. The
 * unix-socket server's threads are never involved, so TLS trouble cannot
 * block local users.
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

#endif
