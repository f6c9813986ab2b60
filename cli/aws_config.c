/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "credbroker/err.h"
#include "cache.h"
#include "cli.h"
#include "client.h"
#include "opt.h"
#include "session.h"

static const char usage_text[] =
	"usage: credbroker aws-config PROFILE [--region REGION]\n"
	"\n"
	"Print the ~/.aws/config stanza that makes the AWS CLI and SDKs ask\n"
	"credbroker for PROFILE's credentials:\n"
	"  [profile PROFILE]\n"
	"  credential_process = /path/to/credbroker [--socket S] [--user U] credential-process PROFILE\n"
	"  region = REGION        (with --region, else when a cached session names one)\n";

/* Print s for a config line split by shlex: bare when it is plainly safe,
 * else in single quotes ('\'' for a quote inside). */
static void put_word(const char *s)
{
	int plain = s[0] != '\0';
	for (const char *p = s; *p != '\0'; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:@%+=,-",
			    *p))
			plain = 0;
	if (plain) {
		fputs(s, stdout);
		return;
	}
	putchar('\'');
	for (const char *p = s; *p != '\0'; p++) {
		if (*p == '\'')
			fputs("'\\''", stdout);
		else
			putchar(*p);
	}
	putchar('\'');
}

static int has_newline(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

int aws_config_main(int argc, char **argv)
{
	if (cli_wants_help(argc, argv)) {
		fputs(usage_text, stdout);
		return 0;
	}
	const struct cli_globals *g = &cli_globals;
	const char *profile = NULL, *region = NULL;
	for (int i = 1; i < argc; i++) {
		int m = opt_value(argc, argv, &i, "--region", &region);
		if (m < 0)
			return CLIENT_EXIT_USAGE;
		if (m > 0)
			continue;
		if (argv[i][0] == '-' || profile != NULL)
			return opt_usage_error("aws-config", argv[i][0] == '-' ? "unknown option" :
					       "unexpected argument", argv[i]);
		profile = argv[i];
	}
	if (profile == NULL) {
		cli_error("aws-config: which profile? (see 'credbroker aws-config --help')");
		return CLIENT_EXIT_USAGE;
	}
	/* A newline would start a new config line the user never asked for. */
	if (has_newline(profile) || strchr(profile, ']') != NULL ||
	    (region != NULL && has_newline(region)) || has_newline(g->socket_path) ||
	    has_newline(g->user)) {
		cli_error("aws-config: a profile, region, socket or user cannot contain a newline or ']'");
		return CLIENT_EXIT_USAGE;
	}
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0) {
		cli_error("aws-config: cannot find this program's path");
		return CLIENT_EXIT_FAILURE;
	}
	self[n] = '\0';

	struct session s = { 0 };
	if (region == NULL) {
		struct cache_entry e;
		if (cache_entry_init(&e, g->broker_url ? g->broker_url : g->socket_path, g->user,
				     profile) == 0 &&
		    cache_read(&e, time(NULL), 0, &s) == 0)
			region = s.region;
	}

	printf("[profile %s]\ncredential_process = ", profile);
	put_word(self);
	if (g->broker_url != NULL) {
		fputs(" --broker ", stdout);
		put_word(g->broker_url);
		/* How the broker is verified goes along, or every AWS CLI call
		 * would fail verification; the CA file by absolute path, since
		 * the AWS CLI runs this from any directory. */
		if (g->ca_file != NULL) {
			char ca[PATH_MAX];
			if (realpath(g->ca_file, ca) == NULL) {
				cli_error("aws-config: --ca %s: %s", g->ca_file, strerror(errno));
				session_free(&s);
				return CLIENT_EXIT_USAGE;
			}
			fputs(" --ca ", stdout);
			put_word(ca);
		}
		if (g->pin != NULL) {
			fputs(" --pin ", stdout);
			put_word(g->pin);
		}
	} else if (strcmp(g->socket_path, CLI_DEFAULT_SOCKET) != 0) {
		fputs(" --socket ", stdout);
		put_word(g->socket_path);
	}
	const char *login = getlogin();
	if (login == NULL)
		login = getenv("USER");
	if (login == NULL) {
		const struct passwd *pw = getpwuid(geteuid());
		login = pw != NULL ? pw->pw_name : NULL;
	}
	if (login == NULL || strcmp(login, g->user) != 0) {
		fputs(" --user ", stdout);
		put_word(g->user);
	}
	fputs(" credential-process ", stdout);
	put_word(profile);
	putchar('\n');
	if (region != NULL)
		printf("region = %s\n", region);
	session_free(&s);
	if (fflush(stdout) != 0) {
		cli_error("aws-config: cannot write to stdout");
		return CLIENT_EXIT_FAILURE;
	}
	return 0;
}
