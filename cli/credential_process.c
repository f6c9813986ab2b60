/* SPDX-License-Identifier: MIT */
#include <stdio.h>

#include "cli.h"
#include "client.h"
#include "opt.h"
#include "session.h"

static const char usage_text[] =
	"usage: credbroker credential-process PROFILE\n"
	"\n"
	"For ~/.aws/config (credential_process = credbroker credential-process PROFILE):\n"
	"print the credential_process JSON of the cached session while more than 10\n"
	"minutes of it remain, else ask for the TOTP code on /dev/tty and fetch a new\n"
	"one. Without a terminal it fails, asking to run 'credbroker get PROFILE' first.\n";

int credential_process_main(int argc, char **argv)
{
	if (cli_wants_help(argc, argv)) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-') {
		cli_error("credential-process: expects exactly one PROFILE (see 'credbroker "
			  "credential-process --help')");
		return CLIENT_EXIT_USAGE;
	}
	struct session s;
	struct client_error err;
	int r = session_obtain(argv[1], NULL, 0, SESSION_MAY_PROMPT, &s, &err);
	if (r < 0) {
		client_report(&err);
		return session_exit_code(r);
	}
	r = session_print(&s, SESSION_FORMAT_PROCESS, stdout);
	session_free(&s);
	if (r < 0) {
		cli_error("credential-process: cannot write to stdout");
		return CLIENT_EXIT_FAILURE;
	}
	return 0;
}
