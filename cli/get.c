/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "credbroker/cbtime.h"
#include "credbroker/err.h"
#include "cli.h"
#include "client.h"
#include "opt.h"
#include "session.h"

static const char usage_text[] =
	"usage: credbroker get PROFILE [--code CODE] [--duration D] [--format process|env|json]\n"
	"                      [--password-stdin]\n"
	"\n"
	"Print a session for PROFILE: the cached one while more than 10 minutes of it\n"
	"remain, else a new one (the TOTP code is asked on the terminal unless --code\n"
	"is given; with --code a new session is fetched, unless the cached one came\n"
	"from that same code, which the broker would refuse a second time). The\n"
	"session is cached.\n"
	"\n"
	"  --code CODE      the TOTP code\n"
	"  --password-stdin read the broker password (remote brokers, --broker\n"
	"                   tls://) from the first line of stdin instead of the terminal\n"
	"  --duration D     seconds, or 15m, 1h, 12h (clamped by the broker)\n"
	"  --format F       process (credential_process JSON, the default), env\n"
	"                   (export lines for a shell) or json (everything)\n";

int get_main(int argc, char **argv)
{
	if (cli_wants_help(argc, argv)) {
		fputs(usage_text, stdout);
		return 0;
	}
	const char *profile = NULL, *code = NULL, *dur = NULL, *fmt = "process";
	for (int i = 1; i < argc; i++) {
		int m;
		if ((m = opt_value(argc, argv, &i, "--code", &code)) != 0 ||
		    (m = opt_value(argc, argv, &i, "--duration", &dur)) != 0 ||
		    (m = opt_value(argc, argv, &i, "--format", &fmt)) != 0) {
			if (m < 0)
				return CLIENT_EXIT_USAGE;
			continue;
		}
		if (strcmp(argv[i], "--password-stdin") == 0) {
			cli_globals.password_stdin = 1;
			continue;
		}
		if (argv[i][0] == '-' || profile != NULL)
			return opt_usage_error("get", argv[i][0] == '-' ? "unknown option" :
					       "unexpected argument", argv[i]);
		profile = argv[i];
	}
	if (profile == NULL) {
		cli_error("get: which profile? (see 'credbroker get --help')");
		return CLIENT_EXIT_USAGE;
	}
	enum session_format format;
	if (strcmp(fmt, "process") == 0)
		format = SESSION_FORMAT_PROCESS;
	else if (strcmp(fmt, "env") == 0)
		format = SESSION_FORMAT_ENV;
	else if (strcmp(fmt, "json") == 0)
		format = SESSION_FORMAT_JSON;
	else
		return opt_usage_error("get", "unknown format", fmt);
	long duration = 0;
	if (dur != NULL && cbtime_parse_duration(dur, &duration) < 0)
		return opt_usage_error("get", "bad duration (seconds, or 15m, 1h, 12h)", dur);

	struct session s;
	struct client_error err;
	int r = session_obtain(profile, code, duration, SESSION_MAY_PROMPT, &s, &err);
	if (r < 0) {
		client_report(&err);
		return session_exit_code(r);
	}
	r = session_print(&s, format, stdout);
	session_free(&s);
	if (r < 0) {
		cli_error("get: cannot write to stdout");
		return CLIENT_EXIT_FAILURE;
	}
	return 0;
}
