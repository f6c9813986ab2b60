/* SPDX-License-Identifier: MIT */
#ifndef CREDBROKER_CLI_CLIENT_H
#define CREDBROKER_CLI_CLIENT_H

#include <cjson/cJSON.h>

/*
 * Talking to the broker: one connection, one request, one response
 * (docs/protocol.md). The broker's answer is read into a capped buffer
 * (FRAME_MAX_RESPONSE) before cJSON sees it.
 */

/* How long a call may take. Issuance waits on STS, so it gets longer. */
#define CLIENT_TIMEOUT_MS 10000
#define CLIENT_ISSUE_TIMEOUT_MS 30000

/* What went wrong, for the one line the user sees. code is the wire name
 * ("totp_invalid") or a client-side one ("broker_unreachable"); message is
 * printable text (control bytes from the broker replaced). Never a secret. */
struct client_error {
	char code[64];
	char message[400];
};

/* Send request to the broker named by cli_globals (the unix socket; a
 * tls:// broker is refused as not built) and wait up to timeout_ms.
 * 0 and *ret_response (an object with "ok": true, freed by the caller with
 * cJSON_Delete) on success; otherwise a negative CB_ERR_* (the broker's code
 * mapped by cb_errfromname, or CB_ERR_BROKER_UNREACHABLE / CB_ERR_TIMEOUT /
 * CB_ERR_PARSE for transport faults) with *err filled in. */
int client_call(const cJSON *request, int timeout_ms, cJSON **ret_response,
		struct client_error *err);

/* Print "credbroker: <message> (<code>)" on stderr. */
void client_report(const struct client_error *err);

/* The CLI exit status for a CB_ERR_* (see credbroker(1), EXIT STATUS). */
int client_exit_code(int err);

/* Fill err from a code and a printf-style message (text from the broker is
 * sanitised by the caller). */
void client_error_set(struct client_error *err, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Exit statuses, stable: scripts rely on them. */
enum {
	CLIENT_EXIT_OK = 0,
	CLIENT_EXIT_FAILURE = 1,    /* anything not below: local I/O, cache, internal */
	CLIENT_EXIT_USAGE = 2,      /* bad command line */
	CLIENT_EXIT_BROKER = 3,     /* broker unreachable, timed out or answered garbage */
	CLIENT_EXIT_AUTH = 4,       /* totp_invalid, totp_replayed, locked, unauthorized */
	CLIENT_EXIT_ACCESS = 5,     /* not_granted, profile_unknown, grant_expired, user_*, not_admin */
	CLIENT_EXIT_AWS = 6,        /* sts_denied, sts_unavailable, sts_bad_response */
	CLIENT_EXIT_NO_TERMINAL = 7 /* a TOTP code was needed and there is no terminal */
};

#endif
