/* SPDX-License-Identifier: MIT */
/*
 * TOTP: the RFC 6238 vectors, codes from the independent oathtool, the skew
 * window's edges, replay refusal and the recovery after it, normalisation,
 * the enrollment URI read back, the QR code's shape and the lockout
 * arithmetic.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <liboath/oath.h>

#include "credbroker/buf.h"
#include "credbroker/err.h"
#include "credbroker/totp.h"

#include "check.h"

static const uint8_t rfc_seed[] = "12345678901234567890";

static void test_vectors(void)
{
	const char *dir = getenv("CB_VECTORS");
	CHECK(dir != NULL);
	if (dir == NULL)
		return;
	char path[4096];
	snprintf(path, sizeof(path), "%s/totp/rfc6238.tsv", dir);
	FILE *f = fopen(path, "r");
	CHECK(f != NULL);
	if (f == NULL)
		return;

	char line[512];
	int rows = 0, ok = 0;
	CHECK(fgets(line, sizeof(line), f) != NULL); /* header */
	while (fgets(line, sizeof(line), f) != NULL) {
		long long t;
		char mode[16], expected[16], seed[128];
		unsigned digits;
		if (sscanf(line, "%lld %15s %u %15s %127s", &t, mode, &digits, expected, seed) != 5)
			continue;
		rows++;
		char otp[9] = "";
		int good = 0;
		if (strcmp(mode, "SHA1") == 0) {
			/* The daemon's generator at 8 digits, and its verifier
			 * at 6: the 6-digit code is the last 6 of the 8. */
			good = totp_generate((const uint8_t *)seed, strlen(seed), (time_t)t, digits,
					     otp, sizeof(otp)) == 0 &&
			       strcmp(otp, expected) == 0;
			char code[TOTP_CODE_LEN];
			memcpy(code, expected + 2, TOTP_CODE_LEN);
			int64_t step = -1;
			good = good &&
			       totp_verify((const uint8_t *)seed, strlen(seed), code, (time_t)t, 0, -1,
					   &step) == 0 &&
			       step == t / 30;
		} else {
			int flags = strcmp(mode, "SHA256") == 0 ? OATH_TOTP_HMAC_SHA256 :
				    strcmp(mode, "SHA512") == 0 ? OATH_TOTP_HMAC_SHA512 : -1;
			good = flags >= 0 &&
			       oath_totp_generate2(seed, strlen(seed), (time_t)t, 30, 0, digits, flags,
						   otp) == OATH_OK &&
			       strcmp(otp, expected) == 0;
		}
		if (good)
			ok++;
		else
			fprintf(stderr, "vector %lld %s: got %s, want %s\n", t, mode, otp, expected);
	}
	fclose(f);
	fprintf(stderr, "RFC 6238 vectors: %d/%d\n", ok, rows);
	CHECK_INT(rows, 18);
	CHECK_INT(ok, 18);
}

/* The base32 secret of an otpauth URI, or NULL. */
static char *uri_secret(const char *uri)
{
	const char *p = strstr(uri, "?secret=");
	if (p == NULL)
		return NULL;
	p += strlen("?secret=");
	size_t n = strcspn(p, "&");
	return strndup(p, n);
}

static void test_uri_and_oathtool(void)
{
	uint8_t secret[TOTP_SECRET_BYTES];
	CHECK_INT(totp_secret_new(secret), 0);

	struct buf uri;
	buf_init(&uri, 1024);
	CHECK_INT(totp_uri("alice", secret, sizeof(secret), &uri), 0);
	const char *u = buf_str(&uri);
	CHECK(strncmp(u, "otpauth://totp/credbroker:alice?secret=", 39) == 0);
	CHECK(strstr(u, "&issuer=credbroker") != NULL);
	CHECK(strchr(u, '=') != NULL && strstr(u, "==") == NULL);

	/* The base32 in the URI decodes back to exactly the secret. */
	char *b32 = uri_secret(u);
	CHECK(b32 != NULL && strlen(b32) == 32);
	char *bin = NULL;
	size_t binlen = 0;
	CHECK_INT(oath_base32_decode(b32, strlen(b32), &bin, &binlen), OATH_OK);
	CHECK(binlen == sizeof(secret) && bin != NULL && memcmp(bin, secret, binlen) == 0);
	free(bin);

	/* What a phone app would show, as computed by oathtool from the URI's
	 * secret, is accepted by the daemon's verifier at several times. */
	static const long long times[] = { 59, 1111111109, 1700000000, 2000000000, 4102444800LL };
	int accepted = 0;
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		char cmd[256], out[32] = "";
		snprintf(cmd, sizeof(cmd), "oathtool --totp -b %s -N @%lld", b32, times[i]);
		FILE *p = popen(cmd, "r");
		CHECK(p != NULL);
		if (p == NULL)
			continue;
		CHECK(fgets(out, sizeof(out), p) != NULL);
		CHECK_INT(pclose(p), 0);
		char code[TOTP_CODE_LEN];
		int64_t step = -1;
		out[strcspn(out, "\n")] = '\0';
		CHECK_INT(totp_normalize(out, code), 0);
		if (totp_verify(secret, sizeof(secret), code, (time_t)times[i], 1, -1, &step) == 0 &&
		    step == times[i] / 30)
			accepted++;
	}
	fprintf(stderr, "oathtool codes accepted: %d/5\n", accepted);
	CHECK_INT(accepted, 5);
	free(b32);

	/* A name that is not URI-safe is percent-encoded. */
	buf_reset(&uri);
	CHECK_INT(totp_uri("j doe/é:x", secret, sizeof(secret), &uri), 0);
	CHECK(strncmp(buf_str(&uri), "otpauth://totp/credbroker:j%20doe%2F%C3%A9%3Ax?secret=", 53) == 0);
	CHECK_INT(totp_uri("", secret, sizeof(secret), &uri), CB_ERR_INVALID);
	buf_free(&uri);
}

static void test_window_and_replay(void)
{
	const size_t n = sizeof(rfc_seed) - 1;
	const time_t now = 1700000000; /* step 56666666, 20 s into it */
	const int64_t step = now / 30;
	char code[TOTP_CODE_LEN];
	int64_t got = -1;

	/* Codes one step either side are accepted with skew 1, two are not. */
	for (int d = -2; d <= 2; d++) {
		CHECK_INT(totp_generate(rfc_seed, n, (time_t)((step + d) * 30), 6, code, sizeof(code)), 0);
		int want = (d >= -1 && d <= 1) ? 0 : CB_ERR_TOTP_INVALID;
		got = -1;
		CHECK_INT(totp_verify(rfc_seed, n, code, now, 1, -1, &got), want);
		if (want == 0)
			CHECK_INT(got, step + d);
		else
			CHECK_INT(got, -1); /* ret_step untouched on failure */
	}
	/* With skew 0 only the current step. */
	CHECK_INT(totp_generate(rfc_seed, n, now - 30, 6, code, sizeof(code)), 0);
	CHECK_INT(totp_verify(rfc_seed, n, code, now, 0, -1, &got), CB_ERR_TOTP_INVALID);
	CHECK_INT(totp_verify(rfc_seed, n, code, now, TOTP_MAX_SKEW_STEPS + 1, -1, &got),
		  CB_ERR_INVALID);

	/* A wrong code is refused; the right one still works afterwards. */
	CHECK_INT(totp_generate(rfc_seed, n, now, 6, code, sizeof(code)), 0);
	char wrong[TOTP_CODE_LEN];
	memcpy(wrong, code, sizeof(wrong));
	wrong[5] = wrong[5] == '9' ? '0' : (char)(wrong[5] + 1);
	CHECK_INT(totp_verify(rfc_seed, n, wrong, now, 1, -1, &got), CB_ERR_TOTP_INVALID);
	CHECK_INT(totp_verify(rfc_seed, n, code, now, 1, -1, &got), 0);
	int64_t last = got;
	CHECK_INT(last, step);

	/* The same step again, even a second later: replayed. */
	CHECK_INT(totp_verify(rfc_seed, n, code, now + 1, 1, last, &got), CB_ERR_TOTP_REPLAYED);
	/* An older (still in-window) code after a newer one: replayed too. */
	char older[TOTP_CODE_LEN];
	CHECK_INT(totp_generate(rfc_seed, n, now - 30, 6, older, sizeof(older)), 0);
	CHECK_INT(totp_verify(rfc_seed, n, older, now, 1, last, &got), CB_ERR_TOTP_REPLAYED);
	/* The next step's code is accepted afterwards and becomes the last. */
	char next[TOTP_CODE_LEN];
	CHECK_INT(totp_generate(rfc_seed, n, now + 30, 6, next, sizeof(next)), 0);
	CHECK_INT(totp_verify(rfc_seed, n, next, now + 30, 1, last, &got), 0);
	CHECK_INT(got, step + 1);
	CHECK_INT(totp_verify(rfc_seed, n, next, now + 30, 1, got, &got), CB_ERR_TOTP_REPLAYED);

	/* Bad arguments. */
	CHECK_INT(totp_verify(rfc_seed, 0, code, now, 1, -1, &got), CB_ERR_INVALID);
	CHECK_INT(totp_verify(rfc_seed, n, code, -1, 1, -1, &got), CB_ERR_INVALID);
	CHECK_INT(totp_generate(rfc_seed, n, now, 5, code, sizeof(code)), CB_ERR_INVALID);
	CHECK_INT(totp_generate(rfc_seed, n, now, 8, code, sizeof(code)), CB_ERR_INVALID);
	/* Near the epoch a window reaching before step 0 is fine. */
	CHECK_INT(totp_generate(rfc_seed, n, 0, 6, code, sizeof(code)), 0);
	CHECK_INT(totp_verify(rfc_seed, n, code, 10, 2, -1, &got), 0);
	CHECK_INT(got, 0);
}

static void test_normalize(void)
{
	char code[TOTP_CODE_LEN] = "unset";
	CHECK_INT(totp_normalize("123456", code), 0);
	CHECK_STR(code, "123456");
	CHECK_INT(totp_normalize("123 456", code), 0);
	CHECK_STR(code, "123456");
	CHECK_INT(totp_normalize(" 012-345 ", code), 0);
	CHECK_STR(code, "012345");

	static const char *const bad[] = {
		"12345", "1234567", "12a456", "", "      ", "１２３４５６", "12345\t6",
		"123456\n", "+123456", "12345٦", "000000000000000000000000000000000000000",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(code, "unset", 6);
		CHECK_INT(totp_normalize(bad[i], code), CB_ERR_TOTP_INVALID);
		CHECK_STR(code, "unset"); /* untouched on failure */
	}
	CHECK_INT(totp_normalize(NULL, code), CB_ERR_TOTP_INVALID);
}

static void test_qr(void)
{
	struct buf qr;
	buf_init(&qr, 1 << 20);
	CHECK_INT(totp_qr_render("otpauth://totp/credbroker:alice?secret=ABC&issuer=credbroker", &qr), 0);
	/* Each line: colour on, the same number of cells, colour off. */
	const char *s = buf_str(&qr);
	const char *on = "\033[37;40m", *off = "\033[0m";
	size_t lines = 0, first_cells = 0;
	int same = 1;
	for (const char *p = s; *p != '\0';) {
		const char *nl = strchr(p, '\n');
		if (nl == NULL || strncmp(p, on, strlen(on)) != 0 ||
		    strncmp(nl - strlen(off), off, strlen(off)) != 0) {
			same = 0;
			break;
		}
		size_t cells = 0; /* UTF-8 lead bytes between the escapes */
		for (const char *c = p + strlen(on); c < nl - strlen(off); c++)
			cells += ((unsigned char)*c & 0xc0) != 0x80;
		if (lines == 0)
			first_cells = cells;
		same = same && cells == first_cells;
		lines++;
		p = nl + 1;
	}
	CHECK(same);
	CHECK(first_cells >= 29 + 4);
	CHECK_INT(lines, (first_cells + 1) / 2);
	CHECK(lines >= 12); /* a version-3+ symbol (29+ modules) plus quiet zone */
	/* The top quiet-zone row is all light: full blocks only. */
	CHECK(strncmp(s, "\033[37;40m\u2588\u2588\u2588\u2588", 8 + 12) == 0);
	CHECK(strstr(s, "\u2580") != NULL && strstr(s, "\u2584") != NULL && strchr(s, ' ') != NULL);
	buf_free(&qr);

	/* Too long for any QR code. */
	char *huge = malloc(8000);
	CHECK(huge != NULL);
	if (huge != NULL) {
		memset(huge, 'x', 7999);
		huge[7999] = '\0';
		buf_init(&qr, 1 << 20);
		CHECK_INT(totp_qr_render(huge, &qr), CB_ERR_INVALID);
		buf_free(&qr);
		free(huge);
	}
}

static void test_lockout(void)
{
	CHECK_INT(totp_lockout_seconds(900, 0), 0);
	CHECK_INT(totp_lockout_seconds(0, 3), 0);
	CHECK_INT(totp_lockout_seconds(900, 1), 900);
	CHECK_INT(totp_lockout_seconds(900, 2), 1800);
	CHECK_INT(totp_lockout_seconds(900, 3), 3600);
	CHECK_INT(totp_lockout_seconds(900, 7), 57600);
	CHECK_INT(totp_lockout_seconds(900, 8), TOTP_LOCKOUT_MAX_SECONDS); /* 115200 capped */
	CHECK_INT(totp_lockout_seconds(900, 64), TOTP_LOCKOUT_MAX_SECONDS);
	CHECK_INT(totp_lockout_seconds(900, UINT32_MAX), TOTP_LOCKOUT_MAX_SECONDS);
	CHECK_INT(totp_lockout_seconds(UINT32_MAX, 1), TOTP_LOCKOUT_MAX_SECONDS);
	CHECK_INT(totp_lockout_seconds(UINT32_MAX, UINT32_MAX), TOTP_LOCKOUT_MAX_SECONDS);
	CHECK_INT(totp_lockout_seconds(1, 17), 65536);
	CHECK_INT(totp_lockout_seconds(1, 18), TOTP_LOCKOUT_MAX_SECONDS);
}

int main(void)
{
	test_vectors();
	test_uri_and_oathtool();
	test_window_and_replay();
	test_normalize();
	test_qr();
	test_lockout();
	return check_status();
}
