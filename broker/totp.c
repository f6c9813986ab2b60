/* SPDX-License-Identifier: MIT */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <liboath/oath.h>
#include <qrencode.h>
#include <sodium.h>

#include "credbroker/buf.h"
#include "credbroker/err.h"
#include "credbroker/totp.h"

#define TOTP_INPUT_MAX 32

static pthread_once_t totp_once = PTHREAD_ONCE_INIT;
static int totp_oath_status = OATH_OK;

static void totp_init_once(void)
{
	totp_oath_status = sodium_init() < 0 ? OATH_CRYPTO_ERROR : oath_init();
}

static int totp_init(void)
{
	if (pthread_once(&totp_once, totp_init_once) != 0 || totp_oath_status != OATH_OK)
		return CB_ERR_CRYPTO;
	return 0;
}

int totp_secret_new(uint8_t out[static TOTP_SECRET_BYTES])
{
	int r = totp_init();
	if (r < 0)
		return r;
	randombytes_buf(out, TOTP_SECRET_BYTES);
	return 0;
}

int totp_normalize(const char *input, char ret_code[static TOTP_CODE_LEN])
{
	char code[TOTP_CODE_LEN];
	size_t n = 0;
	int r = CB_ERR_TOTP_INVALID;

	if (input == NULL || strnlen(input, TOTP_INPUT_MAX + 1) > TOTP_INPUT_MAX)
		return CB_ERR_TOTP_INVALID;
	for (const char *p = input; *p != '\0'; p++) {
		if (*p == ' ' || *p == '-')
			continue;
		/* Plain ASCII only: isdigit() would depend on the locale. */
		if (*p < '0' || *p > '9' || n == TOTP_DIGITS)
			goto out;
		code[n++] = *p;
	}
	if (n != TOTP_DIGITS)
		goto out;
	code[n] = '\0';
	memcpy(ret_code, code, sizeof(code));
	r = 0;
out:
	sodium_memzero(code, sizeof(code));
	return r;
}

static bool secret_ok(const uint8_t *secret, size_t secret_len)
{
	return secret != NULL && secret_len > 0 && secret_len <= TOTP_SECRET_MAX;
}

int totp_generate(const uint8_t *secret, size_t secret_len, time_t t, unsigned digits, char *out,
		  size_t outlen)
{
	if (!secret_ok(secret, secret_len) || t < 0 || digits < 6 || digits > 8 || out == NULL ||
	    outlen < digits + 1)
		return CB_ERR_INVALID;
	int r = totp_init();
	if (r < 0)
		return r;
	char otp[9];
	int rc = oath_totp_generate2((const char *)secret, secret_len, t, TOTP_STEP_SECONDS,
				     OATH_TOTP_DEFAULT_START_TIME, digits, 0, otp);
	if (rc == OATH_OK)
		memcpy(out, otp, digits + 1);
	sodium_memzero(otp, sizeof(otp));
	return rc == OATH_OK ? 0 : CB_ERR_CRYPTO;
}

int totp_verify(const uint8_t *secret, size_t secret_len, const char code[static TOTP_CODE_LEN],
		time_t now, unsigned skew_steps, int64_t last_used_step, int64_t *ret_step)
{
	if (!secret_ok(secret, secret_len) || now < 0 || skew_steps > TOTP_MAX_SKEW_STEPS ||
	    ret_step == NULL || strnlen(code, TOTP_CODE_LEN) != TOTP_DIGITS)
		return CB_ERR_INVALID;

	int64_t now_step = (int64_t)(now / TOTP_STEP_SECONDS);
	int64_t accepted = -1;
	bool replayed = false;
	char otp[TOTP_CODE_LEN];
	int r = 0;

	/* Every step of the window is computed and compared, whatever matched
	 * first, so the time taken does not say which step a code was for. */
	for (int64_t d = -(int64_t)skew_steps; d <= (int64_t)skew_steps; d++) {
		int64_t step = now_step + d;
		if (step < 0)
			continue;
		r = totp_generate(secret, secret_len, (time_t)(step * TOTP_STEP_SECONDS),
				  TOTP_DIGITS, otp, sizeof(otp));
		if (r < 0)
			goto out;
		if (sodium_memcmp(otp, code, TOTP_DIGITS) != 0)
			continue;
		if (step <= last_used_step)
			replayed = true;
		else if (step > accepted)
			accepted = step;
	}
	if (accepted >= 0) {
		*ret_step = accepted;
		r = 0;
	} else {
		r = replayed ? CB_ERR_TOTP_REPLAYED : CB_ERR_TOTP_INVALID;
	}
out:
	sodium_memzero(otp, sizeof(otp));
	return r;
}

/* RFC 3986 unreserved characters go through, every other byte is %XX. */
static int put_percent_encoded(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		int r;
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			r = buf_putc(out, (char)*p);
		} else {
			char esc[3] = { '%', hex[*p >> 4], hex[*p & 0xf] };
			r = buf_append(out, esc, sizeof(esc));
		}
		if (r < 0)
			return r;
	}
	return 0;
}

int totp_uri(const char *user, const uint8_t *secret, size_t secret_len, struct buf *out)
{
	if (user == NULL || user[0] == '\0' || !secret_ok(secret, secret_len) || out == NULL)
		return CB_ERR_INVALID;
	int r = totp_init();
	if (r < 0)
		return r;

	char *b32 = NULL;
	size_t b32len = 0;
	if (oath_base32_encode((const char *)secret, secret_len, &b32, &b32len) != OATH_OK)
		return CB_ERR_NOMEM;
	size_t unpadded = b32len;
	while (unpadded > 0 && b32[unpadded - 1] == '=')
		unpadded--;

	r = buf_puts(out, "otpauth://totp/credbroker:");
	if (r == 0)
		r = put_percent_encoded(out, user);
	if (r == 0)
		r = buf_puts(out, "?secret=");
	if (r == 0)
		r = buf_append(out, b32, unpadded);
	if (r == 0)
		r = buf_puts(out, "&issuer=credbroker&algorithm=SHA1&digits=6&period=30");

	sodium_memzero(b32, b32len);
	free(b32);
	return r;
}

/* Is module (x, y) dark? Outside the symbol is the light quiet zone. */
static bool qr_dark(const QRcode *qr, int x, int y)
{
	if (x < 0 || y < 0 || x >= qr->width || y >= qr->width)
		return false;
	return (qr->data[y * qr->width + x] & 1) != 0;
}

int totp_qr_render(const char *text, struct buf *out)
{
	/* Light modules are drawn as the (white) foreground, dark ones as the
	 * (black) background; each character cell holds two rows. */
	static const char *const cell[4] = {
		"\u2588", /* both light */
		"\u2584", /* upper dark, lower light */
		"\u2580", /* upper light, lower dark */
		" ",      /* both dark */
	};
	const int quiet = 2;

	if (text == NULL || out == NULL)
		return CB_ERR_INVALID;
	QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	if (qr == NULL)
		return CB_ERR_INVALID;

	int r = 0;
	for (int y = -quiet; y < qr->width + quiet && r == 0; y += 2) {
		r = buf_puts(out, "\033[37;40m");
		for (int x = -quiet; x < qr->width + quiet && r == 0; x++) {
			int idx = (qr_dark(qr, x, y) ? 1 : 0) | (qr_dark(qr, x, y + 1) ? 2 : 0);
			r = buf_puts(out, cell[idx]);
		}
		if (r == 0)
			r = buf_puts(out, "\033[0m\n");
	}
	QRcode_free(qr);
	return r;
}

int totp_lockout_seconds(unsigned base_seconds, unsigned lock_count)
{
	if (base_seconds == 0 || lock_count == 0)
		return 0;
	uint64_t s = base_seconds;
	/* Doubling stops as soon as the cap is passed, so s stays far below
	 * UINT64_MAX whatever lock_count is. */
	for (unsigned i = 1; i < lock_count && s < TOTP_LOCKOUT_MAX_SECONDS; i++)
		s *= 2;
	return s > TOTP_LOCKOUT_MAX_SECONDS ? TOTP_LOCKOUT_MAX_SECONDS : (int)s;
}
