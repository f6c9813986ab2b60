/* SPDX-License-Identifier: MIT */
/*
 * The STS answer parsers (XML via expat, JSON via cJSON) on arbitrary
 * bytes: no crash, no leak, and a success always carries the fields the
 * caller relies on.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "credbroker/err.h"
#include "credbroker/sts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sts_credentials *c = NULL;
	struct sts_error e;
	int r = sts_parse_assume_role((const char *)data, size, &c, &e);
	if (r == 0) {
		if (c == NULL || c->access_key_id == NULL || c->secret_access_key == NULL ||
		    c->session_token == NULL || c->access_key_id[0] == '\0')
			abort();
		sts_credentials_free(c);
	} else if (r == CB_ERR_STS_DENIED) {
		if (e.code[0] == '\0' || memchr(e.message, '\n', sizeof(e.message)) != NULL)
			abort();
	} else if (r != CB_ERR_STS_BAD_RESPONSE && r != CB_ERR_NOMEM) {
		abort();
	}

	struct sts_identity id;
	r = sts_parse_caller_identity((const char *)data, size, &id, &e);
	if (r == 0 && (id.arn[0] == '\0' || id.account[0] == '\0' || id.user_id[0] == '\0'))
		abort();
	if (r != 0 && r != CB_ERR_STS_DENIED && r != CB_ERR_STS_BAD_RESPONSE && r != CB_ERR_NOMEM)
		abort();
	return 0;
}
