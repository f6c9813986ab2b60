/* SPDX-License-Identifier: MIT */
#ifndef CREDBROKER_HOSTPORT_H
#define CREDBROKER_HOSTPORT_H

/*
 * "HOST:PORT" as the TLS gateway's listen address and the CLI's
 * tls://HOST:PORT broker name spell it: a DNS name or IPv4 address, or an
 * IPv6 address in brackets ("[::1]:8443"), then a decimal port 1..65535.
 */
#define HOSTPORT_HOST_MAX 256 /* host, NUL included */
#define HOSTPORT_PORT_MAX 6   /* "65535" and its NUL */

/* Split s. 0 with the host (brackets removed) in ret_host and the port's
 * digits in ret_port; CB_ERR_INVALID when s is not HOST:PORT (empty host,
 * characters a host name cannot hold, port missing, 0, over 65535 or not
 * plain digits, a bare IPv6 address without brackets). */
int hostport_parse(const char *s, char ret_host[static HOSTPORT_HOST_MAX],
		   char ret_port[static HOSTPORT_PORT_MAX]);

#endif
