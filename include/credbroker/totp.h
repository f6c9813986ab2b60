/* SPDX-License-Identifier: MIT */
#ifndef CREDBROKER_TOTP_H
#define CREDBROKER_TOTP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct buf;

/*
 * RFC 6238 TOTP as credbroker uses it: HMAC-SHA-1, 6 digits, 30 s steps from
 * T0 = 0, computed by liboath. This module is pure logic: the per-user state
 * (last accepted step, failure count, lockout) is kept by the user store,
 * which hands it in and persists what comes back.
 */

#define TOTP_SECRET_BYTES 20   /* 160 bits, RFC 4226's recommendation */
#define TOTP_DIGITS 6
#define TOTP_CODE_LEN 7        /* 6 digits and a NUL */
#define TOTP_STEP_SECONDS 30
#define TOTP_MAX_SKEW_STEPS 10 /* a larger window would weaken the code */
#define TOTP_SECRET_MAX 64     /* longest secret accepted (SHA-512 size) */
#define TOTP_LOCKOUT_MAX_SECONDS 86400

/* Fill out with a fresh random secret (libsodium). 0, or CB_ERR_CRYPTO when
 * the libraries cannot be initialised. */
int totp_secret_new(uint8_t out[static TOTP_SECRET_BYTES]);

/* Normalise a code as a person typed it, once: ASCII spaces and '-' are
 * dropped, and what remains must be exactly 6 ASCII digits. Anything else
 * (5 or 7 digits, letters, full-width digits, an empty string, over 32
 * bytes) is CB_ERR_TOTP_INVALID. On success ret_code holds the 6 digits and
 * a NUL; the caller validates and remembers exactly that string. */
int totp_normalize(const char *input, char ret_code[static TOTP_CODE_LEN]);

/* Check a normalised code against secret at time now, allowing skew_steps
 * (at most TOTP_MAX_SKEW_STEPS) steps either side of now / 30. A time step
 * is accepted once per user, ever: a code whose only matching steps are
 * <= last_used_step (-1 when none was used yet) is CB_ERR_TOTP_REPLAYED,
 * which also refuses an older code after a newer one. No match is
 * CB_ERR_TOTP_INVALID; a bad argument CB_ERR_INVALID. On success
 * *ret_step is the accepted step, which the caller must persist as the new
 * last_used_step before it acts on the code. Codes are compared in
 * constant time. */
int totp_verify(const uint8_t *secret, size_t secret_len, const char code[static TOTP_CODE_LEN],
		time_t now, unsigned skew_steps, int64_t last_used_step, int64_t *ret_step);

/* The SHA-1 TOTP of secret at time t with digits (6..8) digits, into out
 * (outlen >= digits + 1), NUL-terminated. For tests and enrollment checks;
 * the daemon verifies with totp_verify(). 0, CB_ERR_INVALID or
 * CB_ERR_CRYPTO. */
int totp_generate(const uint8_t *secret, size_t secret_len, time_t t, unsigned digits, char *out,
		  size_t outlen);

/* Append the enrollment URI to out:
 * otpauth://totp/credbroker:NAME?secret=BASE32&issuer=credbroker&algorithm=SHA1&digits=6&period=30
 * with NAME percent-encoded (RFC 3986 unreserved characters pass) and the
 * secret in unpadded base32. The URI carries the secret: out should be
 * buf_free()d (which wipes) when done. 0, CB_ERR_INVALID, CB_ERR_TOO_LARGE,
 * CB_ERR_NOMEM; on failure out may hold a partial URI (wiped by buf_free). */
int totp_uri(const char *user, const uint8_t *secret, size_t secret_len, struct buf *out);

/* Append text as a QR code (libqrencode, error correction M) drawn for a
 * terminal: Unicode half blocks, two module rows per line, a 2-module quiet
 * zone, forced white-on-black with ANSI colours so it scans on light and
 * dark terminals alike. 0, CB_ERR_INVALID (text too long for a QR code),
 * CB_ERR_TOO_LARGE, CB_ERR_NOMEM. */
int totp_qr_render(const char *text, struct buf *out);

/* How long the lock_count-th lockout lasts: base_seconds * 2^(lock_count-1),
 * capped at TOTP_LOCKOUT_MAX_SECONDS without overflowing; 0 when lock_count
 * or base_seconds is 0. Never negative. */
int totp_lockout_seconds(unsigned base_seconds, unsigned lock_count);

#endif
