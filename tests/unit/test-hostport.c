/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "credbroker/err.h"
#include "credbroker/hostport.h"

#include "check.h"

static void good(const char *s, const char *host, const char *port)
{
	char h[HOSTPORT_HOST_MAX], p[HOSTPORT_PORT_MAX];
	int r = hostport_parse(s, h, p);
	CHECK_INT(r, 0);
	if (r == 0) {
		CHECK_STR(h, host);
		CHECK_STR(p, port);
	}
}

static void bad(const char *s)
{
	char h[HOSTPORT_HOST_MAX] = "untouched", p[HOSTPORT_PORT_MAX] = "x";
	CHECK_INT(hostport_parse(s, h, p), CB_ERR_INVALID);
	CHECK_STR(h, "untouched"); /* ret_* written only on success */
}

int main(void)
{
	good("127.0.0.1:8443", "127.0.0.1", "8443");
	good("0.0.0.0:1", "0.0.0.0", "1");
	good("broker.example.com:65535", "broker.example.com", "65535");
	good("[::1]:8443", "::1", "8443");
	good("[::]:443", "::", "443");
	good("[2001:db8::1]:8443", "2001:db8::1", "8443");
	good("[::ffff:127.0.0.1]:8443", "::ffff:127.0.0.1", "8443");

	bad("");
	bad(":8443");            /* no host */
	bad("127.0.0.1");        /* no port */
	bad("127.0.0.1:");       /* empty port */
	bad("127.0.0.1:0");      /* port 0 */
	bad("127.0.0.1:08443");  /* leading zero */
	bad("127.0.0.1:65536");  /* over 65535 */
	bad("127.0.0.1:123456"); /* too long */
	bad("127.0.0.1:+443");
	bad("127.0.0.1:44 3");
	bad("::1:8443");         /* IPv6 without brackets */
	bad("[::1]8443");
	bad("[::1:8443");
	bad("[]:8443");
	bad("[1.2.3.4]:8443");   /* brackets hold IPv6 only */
	bad("[::1%eth0]:8443");
	bad("host name:8443");
	bad("host/path:8443");
	bad("user@host:8443");

	/* A host of HOSTPORT_HOST_MAX - 1 bytes is accepted, one more is not. */
	char input[HOSTPORT_HOST_MAX + 8], want[HOSTPORT_HOST_MAX];
	memset(want, 'a', HOSTPORT_HOST_MAX - 1);
	want[HOSTPORT_HOST_MAX - 1] = '\0';
	memcpy(input, want, HOSTPORT_HOST_MAX - 1);
	memcpy(input + HOSTPORT_HOST_MAX - 1, ":1", 3);
	good(input, want, "1");
	memset(input, 'a', HOSTPORT_HOST_MAX);
	memcpy(input + HOSTPORT_HOST_MAX, ":1", 3);
	bad(input);
	return check_status();
}
