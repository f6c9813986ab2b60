/* SPDX-License-Identifier: MIT */
#ifndef CREDBROKER_CLI_TLS_H
#define CREDBROKER_CLI_TLS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <openssl/ssl.h>

#include "credbroker/hostport.h"

struct buf;

/*
 * The client side of the TLS gateway: one framed request and its answer
 * with a remote broker named tls://HOST:PORT. The broker's certificate is
 * always verified: against the system's roots, or the --ca file, with the
 * host name (or IP address) checked; or, with --pin, by the SHA-256 of its
 * DER encoding alone, compared in constant time. Nothing is sent before the
 * check passes.
 */
#define TLSCLIENT_PIN_BYTES 32
#define TLSCLIENT_WHY_MAX 400

/* A --pin value: 64 hex digits, either plain or as 32 colon-separated
 * pairs (`openssl x509 -noout -fingerprint -sha256` prints the latter),
 * any case. 0 and the digest in ret_pin, or CB_ERR_INVALID. */
int tlsclient_parse_pin(const char *s, uint8_t ret_pin[static TLSCLIENT_PIN_BYTES]);

/* "tls://HOST:PORT" into host and port; CB_ERR_INVALID otherwise. */
int tlsclient_parse_url(const char *url, char ret_host[static HOSTPORT_HOST_MAX],
			char ret_port[static HOSTPORT_PORT_MAX]);

/* A client context: TLS 1.2 or later, no renegotiation, compression or
 * session tickets, plus options (SSL_OP_*). The peer is verified against
 * ca_file (PEM), or the system's roots when ca_file is NULL; not at all when
 * pinned (the caller then checks the certificate after the handshake).
 * OpenSSL must be loaded (dlssl_load()). 0 and *ret, freed with
 * SSL_CTX_free; CB_ERR_NOMEM, CB_ERR_INVALID (unreadable ca_file) or
 * CB_ERR_BROKER_UNREACHABLE (no system roots), why then saying so. */
int tlsclient_new_ctx(const char *ca_file, int pinned, uint64_t options, SSL_CTX **ret,
		      char why[static TLSCLIENT_WHY_MAX]);

/* Send host as SNI when it is a name and, unless pinned, have the handshake
 * check that the certificate names it (DNS name or IP address, no partial
 * wildcards). 0 or CB_ERR_NOMEM. */
int tlsclient_set_peer_name(SSL *ssl, const char *host, int pinned);

/* Send request to the broker in cli_globals.broker_url (with --ca/--pin from
 * cli_globals) and append the answer's payload to resp (capped by the
 * caller). Requests that identify a user ("issue", "status") get the user's
 * password added, read by prompt_password() (stdin with
 * cli_globals.password_stdin) and wiped after. The whole call, connect to
 * answer, is bounded by timeout_ms.
 * 0, or: CB_ERR_INVALID (bad URL or pin, unreadable CA file: a usage error),
 * CB_ERR_NOT_FOUND (a password was needed and there is no terminal),
 * CB_ERR_BROKER_UNREACHABLE (cannot connect, handshake or certificate
 * refused, connection closed), CB_ERR_TIMEOUT, CB_ERR_TOO_LARGE (answer over
 * the cap), CB_ERR_NOMEM; why then holds one printable line, never a
 * secret. */
int tlsclient_call(const cJSON *request, int timeout_ms, struct buf *resp,
		   char why[static TLSCLIENT_WHY_MAX]);

#endif
