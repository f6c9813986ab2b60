/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "credbroker/cbtime.h"
#include "credbroker/err.h"

#define MAX_DURATION (7L * 24 * 3600)

/* Parse exactly n digits at s into *v. */
static int digits(const char *s, int n, int *v)
{
	int x = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		x = x * 10 + (s[i] - '0');
	}
	*v = x;
	return 0;
}

int cbtime_parse_duration(const char *s, long *ret_seconds)
{
	long v = 0;
	size_t i = 0;
	if (s == NULL || !isdigit((unsigned char)s[0]))
		return CB_ERR_INVALID;
	for (; isdigit((unsigned char)s[i]); i++) {
		v = v * 10 + (s[i] - '0');
		if (v > MAX_DURATION)
			return CB_ERR_INVALID;
	}
	long unit = 1;
	if (s[i] == 's')
		unit = 1, i++;
	else if (s[i] == 'm')
		unit = 60, i++;
	else if (s[i] == 'h')
		unit = 3600, i++;
	if (s[i] != '\0' || v > MAX_DURATION / unit)
		return CB_ERR_INVALID;
	*ret_seconds = v * unit;
	return 0;
}

static int valid_date(int y, int mo, int d)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
		return 0;
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return !(mo == 2 && d == 29 && !leap);
}

static time_t to_epoch(int y, int mo, int d, int h, int mi, int sec)
{
	struct tm tm = { 0 };
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	return timegm(&tm);
}

int cbtime_parse_rfc3339(const char *s, time_t *ret)
{
	int y, mo, d, h, mi, sec;
	if (s == NULL || strlen(s) < 20)
		return CB_ERR_INVALID;
	if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
	    digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
	    digits(s + 17, 2, &sec))
		return CB_ERR_INVALID;
	if (!valid_date(y, mo, d) || h > 23 || mi > 59 || sec > 60)
		return CB_ERR_INVALID;
	const char *p = s + 19;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return CB_ERR_INVALID;
		while (isdigit((unsigned char)*p))
			p++;
	}
	long offset = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh, om;
		if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 || om > 59)
			return CB_ERR_INVALID;
		offset = (oh * 3600L + om * 60L) * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		return CB_ERR_INVALID;
	}
	if (*p != '\0')
		return CB_ERR_INVALID;
	*ret = to_epoch(y, mo, d, h, mi, sec > 59 ? 59 : sec) - offset;
	return 0;
}

int cbtime_parse_when(const char *s, time_t *ret)
{
	int y, mo, d;
	if (s != NULL && strlen(s) == 10 && !digits(s, 4, &y) && s[4] == '-' &&
	    !digits(s + 5, 2, &mo) && s[7] == '-' && !digits(s + 8, 2, &d)) {
		if (!valid_date(y, mo, d))
			return CB_ERR_INVALID;
		*ret = to_epoch(y, mo, d, 0, 0, 0) + 24 * 3600;
		return 0;
	}
	return cbtime_parse_rfc3339(s, ret);
}

void cbtime_format_rfc3339(time_t t, char out[static CBTIME_RFC3339_LEN])
{
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL || strftime(out, CBTIME_RFC3339_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		memcpy(out, "1970-01-01T00:00:00Z", CBTIME_RFC3339_LEN);
}

long cbtime_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}
