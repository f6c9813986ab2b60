/* SPDX-License-Identifier: MIT */
#ifndef CREDBROKER_SERVER_H
#define CREDBROKER_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct buf;
struct ssl_ctx_st;

/*
 * The broker's server, for both transports: one poll() loop per listener
 * (the unix socket, or a TCP socket carrying TLS, see tls.h) drives every
 * handshake and reads length-prefixed frames from every connection under a
 * per-connection deadline, then hands each complete request, or the error
 * that refuses it, to the listener's own pool of worker threads, which run
 * the handler and write the response. A silent or slow client costs one
 * file descriptor until its deadline, never a worker; the number of open
 * connections is capped per listener. One request, one response, then the
 * connection is closed.
 */
struct server;

/* Who is on the other end. On the unix socket uid/gid/pid come from
 * SO_PEERCRED (kernel-verified); over the TLS gateway there is no uid
 * (tls is true, uid is (uid_t)-1) and addr holds the client's address. */
struct server_peer {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	bool tls;
	char addr[64];
};

/* Handle one request (payload of a frame, len bytes, untrusted, not
 * NUL-terminated) and append the response JSON to resp. Called on worker
 * threads, concurrently. A handler always produces a response. */
typedef void (*server_handler_fn)(void *ctx, const struct server_peer *peer,
				  const uint8_t *req, size_t len, struct buf *resp);

struct server_options {
	const char *socket_path;
	int max_connections;  /* open connections at once; further ones get "busy" (over TLS: closed) */
	int io_timeout_ms;    /* to receive a whole request (TLS: and the handshake), and to send the response */
	int workers;          /* handler threads */
};

/* Bind and listen on options->socket_path (mode 0660). A stale socket file
 * (nobody accepting) is replaced; a live broker on it gives CB_ERR_EXISTS;
 * a path that is not a socket, CB_ERR_PERM. */
int server_new(const struct server_options *options, server_handler_fn handler, void *ctx,
	       struct server **ret);

/* Serve TLS on listen_fd, a listening non-blocking TCP socket, which is the
 * server's from this call on (closed by server_free, or here on failure).
 * options->socket_path must be NULL; ssl_ctx is not owned and must outlive
 * the server. Peers have tls = true and their address. 0 or
 * CB_ERR_INVALID, CB_ERR_IO, CB_ERR_NOMEM. For tls_new(). */
int server_new_tls(const struct server_options *options, int listen_fd, struct ssl_ctx_st *ssl_ctx,
		   server_handler_fn handler, void *ctx, struct server **ret);

/* Serve until server_stop() (returns 0) or server_reload() (returns 1).
 * After a reload return, call server_run() again to go on serving. */
int server_run(struct server *s);

/* Ask server_run() to return; async-signal-safe. */
void server_stop(struct server *s);
void server_reload(struct server *s);

/* Drop the connections still in handshake or reading, let the workers
 * finish the requests they hold, remove the socket file and free. Call it
 * after server_run() has returned. NULL is fine. */
void server_free(struct server *s);

/* Append the standard error response {"ok":false,"error":{"code","message"}}. */
int server_error_response(struct buf *resp, int err, const char *message);

#endif
