/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "credbroker/err.h"
#include "cli/tls.h"

#include "check.h"

/* The SHA-256 of "abc" makes a recognisable 32-byte value. */
static const uint8_t want[TLSCLIENT_PIN_BYTES] = {
	0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
	0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
};

static void good_pin(const char *s)
{
	uint8_t pin[TLSCLIENT_PIN_BYTES];
	memset(pin, 0, sizeof(pin));
	CHECK_INT(tlsclient_parse_pin(s, pin), 0);
	CHECK(memcmp(pin, want, sizeof(pin)) == 0);
}

static void bad_pin(const char *s)
{
	uint8_t pin[TLSCLIENT_PIN_BYTES];
	memset(pin, 0x5a, sizeof(pin));
	CHECK_INT(tlsclient_parse_pin(s, pin), CB_ERR_INVALID);
	CHECK(pin[0] == 0x5a && pin[31] == 0x5a); /* untouched on failure */
}

int main(void)
{
	good_pin("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	good_pin("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD");
	/* As `openssl x509 -noout -fingerprint -sha256` prints it. */
	good_pin("BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD");
	good_pin("ba:78:16:bf:8f:01:cf:ea:41:41:40:de:5d:ae:22:23:b0:03:61:a3:96:17:7a:9c:b4:10:ff:61:f2:00:15:ad");

	bad_pin("");
	bad_pin("ba7816bf");
	/* 63 and 65 digits */
	bad_pin("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a");
	bad_pin("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad0");
	/* a non-hex digit */
	bad_pin("ga7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	/* colons in the wrong places, or only some of them */
	bad_pin("BA7:816:BF8:F01:CFE:A41:414:0DE:5DA:E22:23B:003:61A:396:177:A9C:B41:0FF:61F:200:15AD:");
	bad_pin("BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:A:");
	bad_pin("BA-78-16-BF-8F-01-CF-EA-41-41-40-DE-5D-AE-22-23-B0-03-61-A3-96-17-7A-9C-B4-10-FF-61-F2-00-15-AD");
	/* the "SHA256 Fingerprint=" prefix is not part of the value */
	bad_pin("sha256 Fingerprint=BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD");

	char host[HOSTPORT_HOST_MAX], port[HOSTPORT_PORT_MAX];
	CHECK_INT(tlsclient_parse_url("tls://127.0.0.1:8443", host, port), 0);
	CHECK_STR(host, "127.0.0.1");
	CHECK_STR(port, "8443");
	CHECK_INT(tlsclient_parse_url("tls://[::1]:8443", host, port), 0);
	CHECK_STR(host, "::1");
	CHECK_INT(tlsclient_parse_url("tls://broker.example.com:443", host, port), 0);
	CHECK_STR(host, "broker.example.com");
	CHECK_INT(tlsclient_parse_url("https://broker.example.com:443", host, port), CB_ERR_INVALID);
	CHECK_INT(tlsclient_parse_url("broker.example.com:443", host, port), CB_ERR_INVALID);
	CHECK_INT(tlsclient_parse_url("tls://broker.example.com", host, port), CB_ERR_INVALID);
	CHECK_INT(tlsclient_parse_url("tls://broker.example.com:443/path", host, port), CB_ERR_INVALID);
	CHECK_INT(tlsclient_parse_url("TLS://broker.example.com:443", host, port), CB_ERR_INVALID);
	return check_status();
}
