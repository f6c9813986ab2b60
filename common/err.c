/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "credbroker/err.h"

static const struct {
	int code;
	const char *name;
	const char *text;
} errtab[] = {
	{ CB_OK, "ok", "success" },
	{ CB_ERR_NOMEM, "internal", "out of memory" },
	{ CB_ERR_INVALID, "bad_request", "invalid argument" },
	{ CB_ERR_TOO_LARGE, "too_large", "input exceeds the size limit" },
	{ CB_ERR_IO, "io_error", "input/output error" },
	{ CB_ERR_PARSE, "bad_request", "malformed input" },
	{ CB_ERR_CRYPTO, "internal", "cryptographic operation failed" },
	{ CB_ERR_AUTH_FAILED, "vault_auth", "authentication failed (wrong key or tampered file)" },
	{ CB_ERR_VERSION, "unsupported_version", "written by a newer, unsupported format version" },
	{ CB_ERR_PERM, "bad_permissions", "unsafe owner or permissions" },
	{ CB_ERR_NOT_FOUND, "not_found", "not found" },
	{ CB_ERR_EXISTS, "exists", "already exists" },
	{ CB_ERR_TIMEOUT, "timeout", "timed out" },
	{ CB_ERR_NETWORK, "network", "network error" },
	{ CB_ERR_STS_DENIED, "sts_denied", "AWS STS refused the request" },
	{ CB_ERR_STS_UNAVAILABLE, "sts_unavailable", "AWS STS is unavailable" },
	{ CB_ERR_STS_BAD_RESPONSE, "sts_bad_response", "AWS STS sent a response that could not be parsed" },
	{ CB_ERR_TOTP_INVALID, "totp_invalid", "the TOTP code is not valid" },
	{ CB_ERR_TOTP_REPLAYED, "totp_replayed", "that TOTP code was already used; wait for the next one" },
	{ CB_ERR_LOCKED, "locked", "locked after too many failed codes" },
	{ CB_ERR_GRANT_EXPIRED, "grant_expired", "the user's access has expired" },
	{ CB_ERR_PROFILE_UNKNOWN, "profile_unknown", "no such profile" },
	{ CB_ERR_NOT_GRANTED, "not_granted", "the profile is not granted to this user" },
	{ CB_ERR_USER_UNKNOWN, "user_unknown", "no such user" },
	{ CB_ERR_USER_DISABLED, "user_disabled", "the user is disabled" },
	{ CB_ERR_UNAUTHORIZED, "unauthorized", "not authorized as that user" },
	{ CB_ERR_NOT_ADMIN, "not_admin", "admin commands need a uid listed in admins" },
	{ CB_ERR_AUDIT_UNAVAILABLE, "audit_unavailable", "the audit log cannot be written; nothing is issued" },
	{ CB_ERR_ROOT_KEY, "root_key_refused", "root-account keys are refused" },
	{ CB_ERR_KEY_UNKNOWN, "key_unknown", "no such key" },
	{ CB_ERR_BUSY, "busy", "the broker is busy; try again" },
	{ CB_ERR_UNKNOWN_OP, "unknown_op", "unknown operation" },
	{ CB_ERR_CONFIG, "config", "invalid configuration" },
	{ CB_ERR_POLICY, "policy", "invalid session policy" },
	{ CB_ERR_BROKER_UNREACHABLE, "broker_unreachable", "the broker cannot be reached" },
	{ CB_ERR_AUDIT_BROKEN, "audit_broken", "the audit chain does not verify" },
	{ CB_ERR_INTERNAL, "internal", "internal error" },
};

#define NERR (sizeof(errtab) / sizeof(errtab[0]))

const char *cb_strerror(int err)
{
	for (size_t i = 0; i < NERR; i++)
		if (errtab[i].code == err)
			return errtab[i].text;
	return "unknown error";
}

const char *cb_errname(int err)
{
	for (size_t i = 0; i < NERR; i++)
		if (errtab[i].code == err)
			return errtab[i].name;
	return "internal";
}

int cb_errfromname(const char *name)
{
	/* First match wins: bad_request maps to CB_ERR_INVALID. */
	for (size_t i = 0; i < NERR; i++)
		if (strcmp(errtab[i].name, name) == 0)
			return errtab[i].code;
	return CB_ERR_INTERNAL;
}
