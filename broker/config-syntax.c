/* SPDX-License-Identifier: MIT */
/* The syntax of single config values: names, ARNs, regions, endpoints. Pure
 * functions; config.c says which field was wrong. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config-syntax.h"

#define ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

static bool in_set(const char *s, const char *set)
{
	for (; *s != '\0'; s++)
		if (strchr(set, *s) == NULL)
			return false;
	return true;
}

bool config_name_valid(const char *s)
{
	size_t n = strlen(s);
	return n >= 1 && n <= CONFIG_NAME_MAX && in_set(s, ALNUM "._-") && strchr("._-", s[0]) == NULL;
}

static bool digits_n(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* "arn:<partition>:iam::" then the rest; the partition into *ret_partition. */
static const char *iam_arn_rest(const char *s, const char **ret_partition)
{
	static const char *const partitions[] = { "aws", "aws-cn", "aws-us-gov" };
	if (strncmp(s, "arn:", 4) != 0)
		return NULL;
	for (size_t i = 0; i < 3; i++) {
		size_t n = strlen(partitions[i]);
		if (strncmp(s + 4, partitions[i], n) == 0 && strncmp(s + 4 + n, ":iam::", 6) == 0) {
			*ret_partition = partitions[i];
			return s + 4 + n + 6;
		}
	}
	return NULL;
}

/* IAM path + name after "role/" or "policy/": [\w+=,.@/-], a non-empty last
 * component of at most max_name characters. */
static bool iam_path_name_valid(const char *s, size_t max_name)
{
	const char *slash = strrchr(s, '/');
	const char *name = slash != NULL ? slash + 1 : s;
	size_t n = strlen(name);
	return n >= 1 && n <= max_name && strlen(s) <= 512 + max_name && in_set(s, ALNUM "_+=,.@/-");
}

bool config_role_arn_valid(const char *s, const char **ret_partition)
{
	const char *p = iam_arn_rest(s, ret_partition);
	return p != NULL && digits_n(p, 12) && strncmp(p + 12, ":role/", 6) == 0 &&
	       iam_path_name_valid(p + 18, 64);
}

bool config_policy_arn_valid(const char *s)
{
	const char *partition;
	const char *p = iam_arn_rest(s, &partition);
	if (p == NULL)
		return false;
	if (strncmp(p, "aws:", 4) == 0)
		p += 4;
	else if (digits_n(p, 12) && p[12] == ':')
		p += 13;
	else
		return false;
	return strncmp(p, "policy/", 7) == 0 && iam_path_name_valid(p + 7, 128);
}

/* "eu-west-1", "us-gov-west-1", "ap-southeast-2". */
bool config_region_valid(const char *s)
{
	size_t n = strlen(s);
	if (n < 6 || n > 32 || !in_set(s, "abcdefghijklmnopqrstuvwxyz0123456789-"))
		return false;
	if (!(s[0] >= 'a' && s[0] <= 'z' && s[1] >= 'a' && s[1] <= 'z' && s[2] == '-'))
		return false;
	const char *last = strrchr(s, '-');
	size_t dl = strlen(last + 1);
	if (last == s + 2 || dl < 1 || dl > 2 || !digits_n(last + 1, dl))
		return false;
	for (const char *p = s + 3; p < last; p++)
		if (*p == '-' ? (p[-1] == '-' || p[1] == '-') : !(*p >= 'a' && *p <= 'z'))
			return false;
	return true;
}

bool config_external_id_valid(const char *s)
{
	size_t n = strlen(s);
	return n >= 2 && n <= 1224 && in_set(s, ALNUM "_+=,.@:/-");
}

static bool port_valid(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 5 || !digits_n(s, n))
		return false;
	long v = strtol(s, NULL, 10);
	return v >= 1 && v <= 65535;
}

/* 127.0.0.0/8, written as a plain dotted quad. */
static bool ipv4_loopback(const char *h, size_t n)
{
	unsigned octets = 0, v = 0, ndig = 0, first = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || h[i] == '.') {
			if (ndig == 0 || v > 255)
				return false;
			if (octets++ == 0)
				first = v;
			v = 0;
			ndig = 0;
		} else if (h[i] >= '0' && h[i] <= '9' && ndig < 3) {
			v = v * 10 + (unsigned)(h[i] - '0');
			ndig++;
		} else {
			return false;
		}
	}
	return octets == 4 && first == 127;
}

/* NULL when url is an acceptable AWS endpoint, else what is wrong with it:
 * https://HOST[:PORT][/PATH], or http:// to a loopback host. */
const char *config_endpoint_problem(const char *url)
{
	bool tls;
	const char *p;
	if (strncmp(url, "https://", 8) == 0)
		tls = true, p = url + 8;
	else if (strncmp(url, "http://", 7) == 0)
		tls = false, p = url + 7;
	else
		return "not an https:// URL";
	if (strlen(url) > 1024 || !in_set(url, ALNUM "-._~:/[]%"))
		return "not a plain URL (no user, query or fragment)";
	size_t alen = strcspn(p, "/");
	const char *host = p, *port = NULL;
	size_t hlen;
	if (*p == '[') {
		const char *close = memchr(p, ']', alen);
		if (close == NULL)
			return "not a valid host";
		host = p + 1;
		hlen = (size_t)(close - host);
		if (hlen == 0 || strspn(host, "0123456789abcdefABCDEF:.") < hlen)
			return "not a valid host";
		if (close + 1 < p + alen) {
			if (close[1] != ':')
				return "not a valid host";
			port = close + 2;
		}
	} else {
		const char *colon = memchr(p, ':', alen);
		hlen = colon != NULL ? (size_t)(colon - p) : alen;
		if (hlen == 0 || hlen > 253 || strspn(host, ALNUM ".-") < hlen)
			return "not a valid host";
		if (colon != NULL)
			port = colon + 1;
	}
	if (port != NULL) {
		char pb[8];
		size_t plen = (size_t)(p + alen - port);
		if (plen >= sizeof(pb))
			return "not a valid port";
		memcpy(pb, port, plen);
		pb[plen] = '\0';
		if (!port_valid(pb))
			return "not a valid port";
	}
	if (tls)
		return NULL;
	bool loopback = (hlen == 9 && strncasecmp(host, "localhost", 9) == 0) ||
			(host[-1] == '[' && hlen == 3 && strncmp(host, "::1", 3) == 0) ||
			(host[-1] != '[' && ipv4_loopback(host, hlen));
	return loopback ? NULL : "plain http:// is allowed only for loopback hosts; use https://";
}

/* "HOST:PORT" or "[V6]:PORT". */
bool config_listen_valid(const char *s)
{
	const char *colon = strrchr(s, ':');
	if (colon == NULL || colon == s || !port_valid(colon + 1))
		return false;
	size_t hlen = (size_t)(colon - s);
	if (s[0] == '[')
		return hlen > 2 && s[hlen - 1] == ']' &&
		       strspn(s + 1, "0123456789abcdefABCDEF:.") == hlen - 2;
	return strspn(s, ALNUM ".-") == hlen;
}
