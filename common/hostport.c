/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "credbroker/err.h"
#include "credbroker/hostport.h"

#define HOST_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-"
#define V6_CHARS "0123456789abcdefABCDEF:."

int hostport_parse(const char *s, char ret_host[static HOSTPORT_HOST_MAX],
		   char ret_port[static HOSTPORT_PORT_MAX])
{
	const char *colon = strrchr(s, ':');
	if (colon == NULL)
		return CB_ERR_INVALID;
	const char *port = colon + 1;
	size_t plen = strlen(port);
	if (plen == 0 || plen >= HOSTPORT_PORT_MAX || strspn(port, "0123456789") != plen ||
	    port[0] == '0')
		return CB_ERR_INVALID;
	long p = 0;
	for (size_t i = 0; i < plen; i++)
		p = p * 10 + (port[i] - '0');
	if (p > 65535)
		return CB_ERR_INVALID;

	const char *host = s;
	size_t hlen = (size_t)(colon - s);
	if (hlen > 0 && s[0] == '[') {
		if (hlen < 3 || s[hlen - 1] != ']')
			return CB_ERR_INVALID;
		host = s + 1;
		hlen -= 2;
		if (strspn(host, V6_CHARS) < hlen || memchr(host, ':', hlen) == NULL)
			return CB_ERR_INVALID;
	} else if (strspn(s, HOST_CHARS) != hlen) {
		return CB_ERR_INVALID; /* also a bare IPv6 address: its colons */
	}
	if (hlen == 0 || hlen >= HOSTPORT_HOST_MAX)
		return CB_ERR_INVALID;
	memcpy(ret_host, host, hlen);
	ret_host[hlen] = '\0';
	memcpy(ret_port, port, plen + 1);
	return 0;
}
