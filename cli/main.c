/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pwd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "cb-config.h"
#include "credbroker/wipe.h"
#include "cli.h"
#include "opt.h"

#define DEFAULT_SOCKET CLI_DEFAULT_SOCKET

static const struct {
	const char *name;
	int (*main)(int argc, char **argv);
	const char *summary;
} verbs[] = {
	{ "get", get_main, "print a session for a profile (cached or new)" },
	{ "credential-process", credential_process_main, "for ~/.aws/config's credential_process" },
	{ "exec", exec_main, "run a command with a session in its environment" },
	{ "aws-config", aws_config_main, "print the ~/.aws/config stanza for a profile" },
	{ "console", console_main, "AWS console sign-in URL for a session" },
	{ "status", status_main, "broker reachable?, who am I, grants, cached sessions" },
	{ "logout", logout_main, "wipe cached sessions" },
	{ "admin", admin_main, "administer keys, users, sessions and the audit log" },
	{ NULL, NULL, NULL },
};

static void usage(FILE *f)
{
	fputs("usage: credbroker [--socket PATH | --broker tls://HOST:PORT] [--user NAME] COMMAND [ARGS]\n"
	      "\n"
	      "Short-lived AWS credentials from a credbroker daemon.\n"
	      "\n"
	      "Global options:\n"
	      "  --socket PATH   broker socket (default $CREDBROKER_SOCKET, else " DEFAULT_SOCKET ")\n"
	      "  --broker URL    remote broker, tls://HOST:PORT\n"
	      "  --ca FILE       CA certificate for a remote broker\n"
	      "  --pin SHA256    pinned certificate fingerprint for a remote broker\n"
	      "  --user NAME     broker user (default $CREDBROKER_USER, else the login name)\n"
	      "  --version       print the version\n"
	      "\n"
	      "Commands:\n", f);
	for (size_t i = 0; verbs[i].name != NULL; i++)
		fprintf(f, "  %-20s %s\n", verbs[i].name, verbs[i].summary);
	fputs("\nRun 'credbroker COMMAND --help' for a command's options.\n", f);
}

int main(int argc, char **argv)
{
	/* cJSON holds sessions and codes: whatever it frees is wiped first. */
	wipe_cjson_hooks();
	/* Cheap (two getrandom calls) and required before the cache's BLAKE2b
	 * or any sodium_malloc. */
	if (sodium_init() < 0) {
		cli_error("libsodium cannot be initialised");
		return 1;
	}
	struct cli_globals *g = &cli_globals;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--version") == 0) {
			printf("credbroker %s\n", CB_VERSION);
			return 0;
		}
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		}
		int m;
		if ((m = opt_value(argc, argv, &i, "--socket", &g->socket_path)) != 0 ||
		    (m = opt_value(argc, argv, &i, "--broker", &g->broker_url)) != 0 ||
		    (m = opt_value(argc, argv, &i, "--user", &g->user)) != 0 ||
		    (m = opt_value(argc, argv, &i, "--ca", &g->ca_file)) != 0 ||
		    (m = opt_value(argc, argv, &i, "--pin", &g->pin)) != 0) {
			if (m < 0)
				return 2;
			continue;
		}
		cli_error("unknown option '%s' (see 'credbroker --help')", argv[i]);
		return 2;
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	if (g->socket_path == NULL)
		g->socket_path = getenv("CREDBROKER_SOCKET");
	if (g->socket_path == NULL || g->socket_path[0] == '\0')
		g->socket_path = DEFAULT_SOCKET;
	if (g->user == NULL)
		g->user = getenv("CREDBROKER_USER");
	if (g->user == NULL || g->user[0] == '\0')
		g->user = getlogin();
	if (g->user == NULL)
		g->user = getenv("USER");
	if (g->user == NULL) {
		const struct passwd *pw = getpwuid(geteuid());
		g->user = pw != NULL ? pw->pw_name : "";
	}

	for (size_t v = 0; verbs[v].name != NULL; v++)
		if (strcmp(verbs[v].name, argv[i]) == 0)
			return verbs[v].main(argc - i, argv + i);
	cli_error("unknown command '%s' (see 'credbroker --help')", argv[i]);
	return 2;
}
