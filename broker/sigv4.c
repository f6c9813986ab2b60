/* SPDX-License-Identifier: MIT */
/* Placeholder until the SigV4 signer lands. */
#include "credbroker/err.h"
#include "credbroker/sigv4.h"

int sigv4_sign_header(const struct sigv4_request *req, const struct sigv4_creds *creds,
		      const struct sigv4_params *params, struct sigv4_result *ret)
{
	return CB_ERR_INTERNAL;
}
