/* SPDX-License-Identifier: MIT */
#include <stdio.h>

#include "cli.h"
#include "client.h"

static const char usage_text[] =
	"usage: credbroker console PROFILE [--print]\n"
	"\n"
	"Open (or with --print, print) an AWS console sign-in URL for a session of\n"
	"PROFILE, from the AWS federation endpoint.\n"
	"\n"
	"Not available in this build: it needs an HTTPS client, which the CLI does\n"
	"not link (see docs/design.md).\n";

int console_main(int argc, char **argv)
{
	if (cli_wants_help(argc, argv)) {
		fputs(usage_text, stdout);
		return 0;
	}
	cli_error("console: not available in this build (the CLI has no HTTPS client); "
		  "use 'credbroker exec PROFILE -- ...' or the AWS CLI instead");
	return CLIENT_EXIT_FAILURE;
}
