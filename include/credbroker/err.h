/* SPDX-License-Identifier: MIT */
#ifndef CREDBROKER_ERR_H
#define CREDBROKER_ERR_H

/*
 * One error convention for all of credbroker: functions return int, 0 on
 * success and a negative CB_ERR_* on failure. Output parameters are named
 * ret_* and written only on success.
 *
 * Each code has a human sentence (cb_strerror) and a stable wire name
 * (cb_errname) that clients and scripts match on; the wire names are listed
 * in docs/protocol.md and must never change meaning.
 */
enum cb_err {
	CB_OK = 0,
	CB_ERR_NOMEM = -1,            /* internal */
	CB_ERR_INVALID = -2,          /* bad_request: malformed argument or input */
	CB_ERR_TOO_LARGE = -3,        /* too_large: over a size cap */
	CB_ERR_IO = -4,               /* io_error: a read, write or fsync failed */
	CB_ERR_PARSE = -5,            /* bad_request: input does not parse */
	CB_ERR_CRYPTO = -6,           /* internal: a crypto primitive failed */
	CB_ERR_AUTH_FAILED = -7,      /* vault_auth: wrong key or tampered data */
	CB_ERR_VERSION = -8,          /* unsupported_version: from a newer format */
	CB_ERR_PERM = -9,             /* bad_permissions: owner or mode is unsafe */
	CB_ERR_NOT_FOUND = -10,       /* not_found */
	CB_ERR_EXISTS = -11,          /* exists */
	CB_ERR_TIMEOUT = -12,         /* timeout */
	CB_ERR_NETWORK = -13,         /* network */
	CB_ERR_STS_DENIED = -14,      /* sts_denied: STS refused (4xx, AccessDenied-class) */
	CB_ERR_STS_UNAVAILABLE = -15, /* sts_unavailable: network, 5xx, throttling after retries */
	CB_ERR_STS_BAD_RESPONSE = -16,/* sts_bad_response: an answer that does not parse */
	CB_ERR_TOTP_INVALID = -17,    /* totp_invalid */
	CB_ERR_TOTP_REPLAYED = -18,   /* totp_replayed: that time step was already used */
	CB_ERR_LOCKED = -19,          /* locked: too many failures */
	CB_ERR_GRANT_EXPIRED = -20,   /* grant_expired */
	CB_ERR_PROFILE_UNKNOWN = -21, /* profile_unknown */
	CB_ERR_NOT_GRANTED = -22,     /* not_granted: profile exists, user lacks it */
	CB_ERR_USER_UNKNOWN = -23,    /* user_unknown */
	CB_ERR_USER_DISABLED = -24,   /* user_disabled */
	CB_ERR_UNAUTHORIZED = -25,    /* unauthorized: peer uid / password does not match */
	CB_ERR_NOT_ADMIN = -26,       /* not_admin */
	CB_ERR_AUDIT_UNAVAILABLE = -27, /* audit_unavailable */
	CB_ERR_ROOT_KEY = -28,        /* root_key_refused */
	CB_ERR_KEY_UNKNOWN = -29,     /* key_unknown */
	CB_ERR_BUSY = -30,            /* busy: connection cap reached */
	CB_ERR_UNKNOWN_OP = -31,      /* unknown_op */
	CB_ERR_CONFIG = -32,          /* config: invalid configuration */
	CB_ERR_POLICY = -33,          /* policy: session policy invalid or over STS limits */
	CB_ERR_BROKER_UNREACHABLE = -34, /* broker_unreachable (client side) */
	CB_ERR_AUDIT_BROKEN = -35,    /* audit_broken: the chain does not verify */
	CB_ERR_INTERNAL = -36,        /* internal */
	CB_ERR_MAX_ = -37
};

/* A sentence for humans; never NULL, static storage. */
const char *cb_strerror(int err);

/* The stable wire name ("totp_invalid", ...); never NULL, static storage. */
const char *cb_errname(int err);

/* The code for a wire name, or CB_ERR_INTERNAL when the name is unknown. */
int cb_errfromname(const char *name);

#endif
