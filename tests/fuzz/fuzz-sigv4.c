/* SPDX-License-Identifier: MIT */
/*
 * The SigV4 canonicaliser over arbitrary paths, queries and headers. Input:
 * one flags byte, then lines: the path, the query, then "Name:value"
 * headers (a Host header is always added first). Both modes are signed; a
 * success must be complete and repeatable.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "credbroker/sigv4.h"

#define MAX_LINES 128

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void must(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t flags = data[0];
	char *text = malloc(size);
	if (text == NULL)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';

	char *lines[MAX_LINES];
	size_t n = 0;
	for (char *p = text; n < MAX_LINES;) {
		lines[n++] = p;
		char *nl = strchr(p, '\n');
		if (nl == NULL)
			break;
		*nl = '\0';
		p = nl + 1;
	}

	struct sigv4_header headers[MAX_LINES];
	size_t nh = 0;
	headers[nh++] = (struct sigv4_header){ "Host", "example.amazonaws.com" };
	for (size_t i = 2; i < n; i++) {
		char *colon = strchr(lines[i], ':');
		if (colon == NULL)
			continue;
		*colon = '\0';
		headers[nh++] = (struct sigv4_header){ lines[i], colon + 1 };
	}
	struct sigv4_request req = {
		.method = flags & 0x20 ? "POST" : "GET",
		.path = lines[0],
		.query = n > 1 ? lines[1] : NULL,
		.headers = headers,
		.nheaders = nh,
		.body = text,
		.body_len = flags & 0x40 ? size - 1 : 0,
	};
	struct sigv4_creds creds = {
		.access_key_id = "AKIDEXAMPLE",
		.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
		.session_token = flags & 0x08 ? "TOKEN+/=" : NULL,
	};
	struct sigv4_params params = {
		.region = "us-east-1",
		.service = "service",
		.when = 1440938160,
		.normalize_path = flags & 0x01,
		.sign_body = flags & 0x02,
		.omit_session_token = flags & 0x04,
		.expires = flags & 0x80 ? 0 : 3600,
	};

	for (int presign = 0; presign < 2; presign++) {
		struct sigv4_result a, b;
		int r = presign ? sigv4_presign(&req, &creds, &params, &a)
				: sigv4_sign_header(&req, &creds, &params, &a);
		if (r < 0)
			continue;
		must(strlen(a.signature) == 64 && a.canonical_request && a.string_to_sign);
		must(presign ? a.presigned_query != NULL && strstr(a.presigned_query, a.signature) != NULL
			     : a.authorization != NULL && strstr(a.authorization, a.signature) != NULL);
		r = presign ? sigv4_presign(&req, &creds, &params, &b)
			    : sigv4_sign_header(&req, &creds, &params, &b);
		must(r == 0 && strcmp(a.canonical_request, b.canonical_request) == 0 &&
		     strcmp(a.signature, b.signature) == 0);
		sigv4_result_free(&a);
		sigv4_result_free(&b);
	}
	free(text);
	return 0;
}
