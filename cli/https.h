/* SPDX-License-Identifier: MIT */
#ifndef CREDBROKER_CLI_HTTPS_H
#define CREDBROKER_CLI_HTTPS_H

#include <stddef.h>

struct buf;

/*
 * The smallest HTTPS client the console verb needs: one GET, HTTP/1.0, over
 * OpenSSL loaded on demand (cli/dlssl.h). The peer is verified against the
 * system's trusted roots (OpenSSL's default paths, so SSL_CERT_FILE is
 * honoured) with the host name or IP address checked; TLS 1.2 or later.
 */
#define HTTPS_WHY_MAX 400

/* GET url ("https://HOST[:PORT]/PATH?QUERY") and append the body of a 200
 * answer, at most max bytes, to ret_body. The whole exchange is bounded by
 * timeout_ms. 0; CB_ERR_INVALID (not such a URL); CB_ERR_NETWORK (cannot
 * resolve or connect, handshake or certificate refused, not a 200 answer);
 * CB_ERR_TIMEOUT; CB_ERR_TOO_LARGE; CB_ERR_NOT_FOUND (no libssl). why then
 * holds one printable line naming the host, never the query (it may carry
 * credentials). The request and the answer are wiped from memory. */
int https_get(const char *url, size_t max, int timeout_ms, struct buf *ret_body,
	      char why[static HTTPS_WHY_MAX]);

#endif
