/* SPDX-License-Identifier: MIT */
#ifndef CREDBROKER_CBTIME_H
#define CREDBROKER_CBTIME_H

#include <time.h>

/* "2026-11-28T15:29:00Z" plus NUL */
#define CBTIME_RFC3339_LEN 21

/* A duration: plain seconds ("3600") or a number with s, m or h ("15m",
 * "1h", "12h"). At most 7 days. 0 or CB_ERR_INVALID. */
int cbtime_parse_duration(const char *s, long *ret_seconds);

/* RFC 3339 date-time: "2026-11-28T15:29:00Z", optional fraction, "Z" or a
 * numeric offset. 0 or CB_ERR_INVALID. */
int cbtime_parse_rfc3339(const char *s, time_t *ret);

/* An expiry as users write it: RFC 3339, or YYYY-MM-DD meaning "through that
 * day": the instant returned is 00:00:00Z of the following day. */
int cbtime_parse_when(const char *s, time_t *ret);

/* Milliseconds on the monotonic clock, for deadlines. */
long cbtime_now_ms(void);

/* Format t as UTC RFC 3339 with a Z. */
void cbtime_format_rfc3339(time_t t, char out[static CBTIME_RFC3339_LEN]);

#endif
