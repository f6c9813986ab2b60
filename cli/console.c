/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "credbroker/buf.h"
#include "credbroker/cbtime.h"
#include "credbroker/err.h"
#include "credbroker/file.h"
#include "cache.h"
#include "cli.h"
#include "client.h"
#include "https.h"
#include "opt.h"
#include "session.h"

#define FEDERATION_URL "https://signin.aws.amazon.com/federation"
#define FEDERATION_TIMEOUT_MS 30000
#define FEDERATION_ANSWER_MAX (16u * 1024u)

static const char usage_text[] =
	"usage: credbroker console PROFILE [--print] [--code CODE] [--duration D]\n"
	"\n"
	"Sign in to the AWS console with a session of PROFILE (cached, or fetched as\n"
	"'get' does): the session is exchanged at the AWS federation endpoint for a\n"
	"sign-in URL valid 15 minutes, which is opened in the browser (xdg-open, by\n"
	"way of a 0600 file, so the URL never appears in a command line) or, with\n"
	"--print, printed on stdout.\n"
	"\n"
	"  --print          print the URL instead of opening it\n"
	"  --code CODE      the TOTP code, when a new session is needed\n"
	"  --duration D     seconds, or 15m, 1h, 12h, for a new session\n";

/* Percent-encode s (RFC 3986 unreserved characters stay) onto b. */
static int put_encoded(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int r = 0;
	for (; *s != '\0' && r == 0; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~') {
			r = buf_putc(b, (char)c);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };
			r = buf_append(b, e, sizeof(e));
		}
	}
	return r;
}

/* The getSigninToken call: the session in, the sign-in token out (*ret, a
 * heap string the caller wipes and frees). */
static int signin_token(const char *endpoint, const struct session *s, char **ret,
			struct client_error *err)
{
	cJSON *o = cJSON_CreateObject();
	struct buf url, body;
	buf_init(&url, 64u * 1024u);
	buf_init(&body, FEDERATION_ANSWER_MAX);
	char *json = NULL;
	cJSON *answer = NULL;
	int r = CB_ERR_NOMEM;
	if (o == NULL || !cJSON_AddStringToObject(o, "sessionId", s->access_key_id) ||
	    !cJSON_AddStringToObject(o, "sessionKey", s->secret_access_key) ||
	    !cJSON_AddStringToObject(o, "sessionToken", s->session_token) ||
	    (json = cJSON_PrintUnformatted(o)) == NULL ||
	    buf_printf(&url, "%s?Action=getSigninToken&Session=", endpoint) < 0 ||
	    put_encoded(&url, json) < 0) {
		client_error_set(err, "internal", "out of memory");
		goto out;
	}
	char why[HTTPS_WHY_MAX];
	r = https_get(buf_str(&url), FEDERATION_ANSWER_MAX, FEDERATION_TIMEOUT_MS, &body, why);
	if (r < 0) {
		client_error_set(err, "federation_failed", "AWS federation endpoint: %s", why);
		goto out;
	}
	answer = cJSON_ParseWithLength(buf_str(&body), body.len);
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(answer, "SigninToken");
	if (!cJSON_IsString(t) || t->valuestring[0] == '\0' || (*ret = strdup(t->valuestring)) == NULL) {
		client_error_set(err, "federation_failed",
				 "AWS federation endpoint: the answer has no sign-in token");
		r = CB_ERR_PARSE;
		goto out;
	}
	r = 0;
out:
	if (json != NULL) {
		sodium_memzero(json, strlen(json));
		cJSON_free(json);
	}
	cJSON_Delete(o);
	cJSON_Delete(answer);
	buf_free(&url);
	buf_free(&body);
	return r;
}

/* Open url in the browser without putting it on a command line (where any
 * local user could read it): a 0600 page in the cache directory redirects. */
static int open_in_browser(const char *url, struct client_error *err)
{
	char dir[PATH_MAX], page[PATH_MAX + 32];
	struct buf html;
	buf_init(&html, 64u * 1024u);
	int r = cache_dir(dir);
	if (r == 0 && (size_t)snprintf(page, sizeof(page), "%s/console.html", dir) >= sizeof(page))
		r = CB_ERR_INVALID;
	if (r == 0)
		r = buf_printf(&html, "<!doctype html><meta http-equiv=\"refresh\" content=\"0;url=%s\">"
				      "<a href=\"%s\">AWS console</a>\n", url, url);
	if (r == 0)
		r = file_write_atomic(page, html.data, html.len, 0600);
	buf_free(&html);
	if (r < 0) {
		client_error_set(err, cb_errname(r), "console: cannot write the sign-in page: %s",
				 cb_strerror(r));
		return r;
	}
	char target[PATH_MAX + 40];
	snprintf(target, sizeof(target), "file://%s", page);
	pid_t pid = fork();
	if (pid == 0) {
		execlp("xdg-open", "xdg-open", target, (char *)NULL);
		_exit(127);
	}
	int status = 0;
	while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (pid < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		client_error_set(err, "no_browser", "console: could not open a browser (xdg-open); "
				 "use --print");
		return CB_ERR_IO;
	}
	printf("opened the AWS console sign-in page (%s)\n", page);
	return 0;
}

int console_main(int argc, char **argv)
{
	if (cli_wants_help(argc, argv)) {
		fputs(usage_text, stdout);
		return 0;
	}
	const char *profile = NULL, *code = NULL, *dur = NULL;
	int print = 0;
	for (int i = 1; i < argc; i++) {
		int m;
		if (strcmp(argv[i], "--print") == 0) {
			print = 1;
			continue;
		}
		if ((m = opt_value(argc, argv, &i, "--code", &code)) != 0 ||
		    (m = opt_value(argc, argv, &i, "--duration", &dur)) != 0) {
			if (m < 0)
				return CLIENT_EXIT_USAGE;
			continue;
		}
		if (argv[i][0] == '-' || profile != NULL)
			return opt_usage_error("console", argv[i][0] == '-' ? "unknown option" :
					       "unexpected argument", argv[i]);
		profile = argv[i];
	}
	if (profile == NULL) {
		cli_error("console: which profile? (see 'credbroker console --help')");
		return CLIENT_EXIT_USAGE;
	}
	long duration = 0;
	if (dur != NULL && cbtime_parse_duration(dur, &duration) < 0)
		return opt_usage_error("console", "bad duration (seconds, or 15m, 1h, 12h)", dur);
	/* A test (or a partition's own endpoint) may name another https:// one. */
	const char *endpoint = getenv("CREDBROKER_FEDERATION_URL");
	if (endpoint == NULL || endpoint[0] == '\0')
		endpoint = FEDERATION_URL;
	int bad = strncmp(endpoint, "https://", 8) != 0;
	for (const char *p = endpoint; *p != '\0'; p++)
		bad |= (unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f || strchr("?#\"'<>\\", *p);
	if (bad) {
		cli_error("console: CREDBROKER_FEDERATION_URL must be an https:// URL without a query");
		return CLIENT_EXIT_USAGE;
	}

	struct session s;
	struct client_error err;
	int r = session_obtain(profile, code, duration, SESSION_MAY_PROMPT, &s, &err);
	if (r < 0) {
		client_report(&err);
		return session_exit_code(r);
	}
	char *token = NULL;
	r = signin_token(endpoint, &s, &token, &err);
	struct buf url;
	buf_init(&url, 64u * 1024u);
	if (r == 0) {
		char dest[160];
		if (s.region != NULL)
			snprintf(dest, sizeof(dest), "https://console.aws.amazon.com/console/home?region=%s",
				 s.region);
		else
			snprintf(dest, sizeof(dest), "https://console.aws.amazon.com/");
		if (buf_printf(&url, "%s?Action=login&Issuer=credbroker&Destination=", endpoint) < 0 ||
		    put_encoded(&url, dest) < 0 || buf_puts(&url, "&SigninToken=") < 0 ||
		    put_encoded(&url, token) < 0) {
			client_error_set(&err, "internal", "out of memory");
			r = CB_ERR_NOMEM;
		}
	}
	session_free(&s);
	if (token != NULL) {
		sodium_memzero(token, strlen(token));
		free(token);
	}
	if (r == 0) {
		if (print)
			r = printf("%s\n", buf_str(&url)) < 0 || fflush(stdout) != 0 ? CB_ERR_IO : 0;
		else
			r = open_in_browser(buf_str(&url), &err);
		if (r < 0 && print)
			client_error_set(&err, "io_error", "console: cannot write to stdout");
	}
	buf_free(&url);
	if (r < 0) {
		client_report(&err);
		return strcmp(err.code, "federation_failed") == 0 ? CLIENT_EXIT_AWS
								   : session_exit_code(r);
	}
	return 0;
}
