/* SPDX-License-Identifier: MIT */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "credbroker/err.h"
#include "cache.h"
#include "cli.h"
#include "client.h"
#include "session.h"

static const char usage_text[] =
	"usage: credbroker logout [PROFILE]\n"
	"\n"
	"Wipe cached sessions (overwritten, then removed): PROFILE's for this broker\n"
	"and user, or without PROFILE every session in the cache. The sessions stay\n"
	"valid at AWS until they expire; an administrator can revoke them\n"
	"('credbroker admin revoke-sessions PROFILE').\n";

struct wipe {
	const char *profile; /* NULL: all */
	const char *broker, *user;
	int wiped, failed;
};

static void wipe_one(const char *path, struct session *s, void *ctx)
{
	struct wipe *w = ctx;
	if (w->profile != NULL &&
	    (strcmp(s->profile, w->profile) != 0 || strcmp(s->broker, w->broker) != 0 ||
	     strcmp(s->user, w->user) != 0))
		return;
	if (cache_wipe(path) == 0)
		w->wiped++;
	else
		w->failed++;
	if (w->profile != NULL)
		cache_wipe_temp(path);
}

int logout_main(int argc, char **argv)
{
	if (cli_wants_help(argc, argv)) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
		cli_error("logout: takes at most one PROFILE (see 'credbroker logout --help')");
		return CLIENT_EXIT_USAGE;
	}
	const struct cli_globals *g = &cli_globals;
	struct wipe w = { .profile = argc == 2 ? argv[1] : NULL,
			  .broker = g->broker_url ? g->broker_url : g->socket_path, .user = g->user };
	int r = cache_foreach(wipe_one, &w);
	if (r < 0 && r != CB_ERR_NOT_FOUND) {
		cli_error("logout: session cache: %s", cb_strerror(r));
		return CLIENT_EXIT_FAILURE;
	}
	/* The console's sign-in page (a token valid 15 minutes) goes too. */
	char dir[PATH_MAX], page[PATH_MAX + 32];
	if (w.profile == NULL && cache_dir(dir) == 0 &&
	    (size_t)snprintf(page, sizeof(page), "%s/console.html", dir) < sizeof(page))
		cache_wipe(page);
	/* So do the leftovers of a write that crashed: each holds a session. */
	if (w.profile == NULL)
		cache_wipe_temp(NULL);
	if (w.failed > 0) {
		cli_error("logout: %d cached session(s) could not be removed", w.failed);
		return CLIENT_EXIT_FAILURE;
	}
	printf("%d cached session%s wiped\n", w.wiped, w.wiped == 1 ? "" : "s");
	return 0;
}
