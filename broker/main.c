/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "cb-config.h"

static void usage(FILE *f)
{
	fputs("usage: credbrokerd COMMAND --config FILE [OPTIONS]\n"
	      "\n"
	      "The credbroker daemon: holds long-term AWS keys encrypted, issues\n"
	      "short-lived, policy-narrowed STS sessions after two factors.\n"
	      "\n"
	      "Commands:\n"
	      "  init    create the state directory and an empty encrypted vault\n"
	      "  run     unlock the vault and serve in the foreground\n"
	      "  check   validate the config and every policy it references\n"
	      "\n"
	      "  --version  print the version\n", f);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("credbrokerd %s\n", CB_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "credbrokerd: unknown command '%s' (see 'credbrokerd --help')\n", argv[1]);
	return 2;
}
