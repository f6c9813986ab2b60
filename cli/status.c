/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "credbroker/err.h"
#include "cache.h"
#include "cli.h"
#include "client.h"
#include "session.h"

static const char usage_text[] =
	"usage: credbroker status\n"
	"\n"
	"Is the broker reachable, who am I to it (uid, broker user), my grants with\n"
	"their expiry, and my cached sessions with the time they have left. Exits\n"
	"non-zero when the broker cannot be reached or refuses.\n";

static const char *str(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Text from the broker, made safe for a terminal. */
static void put_text(const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

struct listing {
	const char *broker, *user;
	time_t now;
	int count;
};

static void list_one(const char *path, struct session *s, void *ctx)
{
	struct listing *l = ctx;
	if (strcmp(s->broker, l->broker) != 0 || strcmp(s->user, l->user) != 0)
		return;
	long left = (long)(s->expires - l->now);
	fputs("  ", stdout);
	put_text(s->profile);
	if (left <= 0)
		printf("  expired %s\n", s->expiration);
	else
		printf("  %ldh%02ldm left (until %s)%s\n", left / 3600, left % 3600 / 60, s->expiration,
		       left <= SESSION_MIN_LEFT ? ", will be renewed" : "");
	l->count++;
}

static int call(const char *op, cJSON **ret, struct client_error *err)
{
	cJSON *req = cJSON_CreateObject();
	if (req == NULL || !cJSON_AddStringToObject(req, "op", op) ||
	    (strcmp(op, "status") == 0 && !cJSON_AddStringToObject(req, "user", cli_globals.user))) {
		cJSON_Delete(req);
		client_error_set(err, "internal", "out of memory");
		return CB_ERR_NOMEM;
	}
	int r = client_call(req, CLIENT_TIMEOUT_MS, ret, err);
	cJSON_Delete(req);
	return r;
}

int status_main(int argc, char **argv)
{
	if (cli_wants_help(argc, argv)) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (argc > 1) {
		cli_error("status: takes no arguments (see 'credbroker status --help')");
		return CLIENT_EXIT_USAGE;
	}
	const struct cli_globals *g = &cli_globals;
	const char *broker = g->broker_url ? g->broker_url : g->socket_path;
	struct client_error err;
	cJSON *ping = NULL, *st = NULL;
	int r = call("ping", &ping, &err);
	if (r == 0) {
		const cJSON *uid = cJSON_GetObjectItemCaseSensitive(ping, "uid");
		printf("broker: ");
		put_text(broker);
		printf(" (credbrokerd ");
		put_text(str(ping, "version"));
		printf("), reachable\nuid: %.0f%s\n", cJSON_IsNumber(uid) ? uid->valuedouble : -1.0,
		       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ping, "admin")) ? " (admin)" : "");
		r = call("status", &st, &err);
	}
	if (r == 0) {
		printf("user: ");
		put_text(str(st, "user"));
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(st, "disabled")))
			printf(" (disabled)");
		if (str(st, "expires") != NULL) {
			printf(", access until ");
			put_text(str(st, "expires"));
		}
		if (str(st, "locked_until") != NULL) {
			printf(", locked until ");
			put_text(str(st, "locked_until"));
		}
		printf("\ngrants:\n");
		const cJSON *grant;
		cJSON_ArrayForEach(grant, cJSON_GetObjectItemCaseSensitive(st, "grants")) {
			const cJSON *max = cJSON_GetObjectItemCaseSensitive(grant, "max_duration");
			fputs("  ", stdout);
			put_text(str(grant, "profile"));
			fputs("  ", stdout);
			put_text(str(grant, "role_arn") ? str(grant, "role_arn") : "(profile missing)");
			if (cJSON_IsNumber(max))
				printf("  max %.0fs", max->valuedouble);
			putchar('\n');
		}
	}
	printf("cached sessions:\n");
	struct listing l = { .broker = broker, .user = g->user, .now = time(NULL) };
	cache_foreach(list_one, &l);
	if (l.count == 0)
		printf("  none\n");
	fflush(stdout);
	cJSON_Delete(ping);
	cJSON_Delete(st);
	if (r < 0) {
		client_report(&err);
		return client_exit_code(r);
	}
	return 0;
}
