/* SPDX-License-Identifier: MIT */
/*
 * credbroker admin: the administrator's commands. Each one is a single
 * admin.* request over the local socket (docs/protocol.md); the broker
 * checks that our uid is listed in its "admins". Secrets read here (IAM
 * secret keys, passwords) travel only in the request and are wiped after.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "credbroker/buf.h"
#include "credbroker/err.h"
#include "credbroker/wipe.h"
#include "cli.h"
#include "client.h"
#include "prompt.h"

#define ADMIN_TIMEOUT_MS CLIENT_ISSUE_TIMEOUT_MS /* key add and revoke-sessions wait for AWS */
#define STDIN_MAX 8192         /* a key pair or create-access-key JSON fits easily */

/* Exit statuses: those of client.h (0 done, 2 usage, 3-6 by the broker's
 * code, 1 anything else). */
enum { EXIT_REFUSED = CLIENT_EXIT_FAILURE, EXIT_USAGE = CLIENT_EXIT_USAGE };

static void usage(FILE *f)
{
	fputs("usage: credbroker admin COMMAND [ARGS]\n"
	      "\n"
	      "Administer the broker over its local socket (your uid must be in the\n"
	      "broker's \"admins\").\n"
	      "\n"
	      "  key add NAME            add an IAM access key: reads 'ACCESS_KEY_ID SECRET_ACCESS_KEY'\n"
	      "                          or the JSON of 'aws iam create-access-key' on stdin\n"
	      "  key list [--json]       the stored keys (never their secrets)\n"
	      "  key remove NAME\n"
	      "  user add NAME --profiles P1[,P2] [--uid UID] [--password-stdin] [--expires WHEN]\n"
	      "                          create a user; prints its otpauth:// URI (and a QR code\n"
	      "                          when stdout is a terminal). WHEN: RFC 3339 or YYYY-MM-DD\n"
	      "  user list [--json]\n"
	      "  user disable|enable|remove|unlock|reset-totp NAME\n"
	      "  revoke-sessions PROFILE make every session of PROFILE issued before now useless\n"
	      "  audit verify            check the audit log's MAC chain\n"
	      "\n"
	      "On failure one line on stderr, 'credbroker: <message> (<code>)', and the exit\n"
	      "status of credbroker(1): 2 usage, 3 broker unreachable, 5 access (not_admin,\n"
	      "user_unknown, ...), 6 AWS refused (sts_denied), 1 anything else.\n",
	      f);
}

/* Send req and hand back the {"ok":true} answer; otherwise print the one
 * line and return the exit status for the error. Deletes req (it may hold a
 * secret; client_call wipes its encoding). */
static int call(cJSON *req, cJSON **ret)
{
	struct client_error err = { 0 };
	int r;
	if (req == NULL) {
		client_error_set(&err, "internal", "out of memory");
		r = CB_ERR_NOMEM;
	} else {
		r = client_call(req, ADMIN_TIMEOUT_MS, ret, &err);
		cJSON_Delete(req);
	}
	if (r < 0) {
		client_report(&err);
		return client_exit_code(r);
	}
	return 0;
}

static cJSON *request_new(const char *op)
{
	cJSON *o = cJSON_CreateObject();
	if (o != NULL && !cJSON_AddStringToObject(o, "op", op)) {
		cJSON_Delete(o);
		o = NULL;
	}
	return o;
}

/* A request {"op":op,"field":value}. */
static cJSON *request_with(const char *op, const char *field, const char *value)
{
	cJSON *o = request_new(op);
	if (o != NULL && !cJSON_AddStringToObject(o, field, value)) {
		cJSON_Delete(o);
		o = NULL;
	}
	return o;
}

static const char *str(const cJSON *o, const char *field)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, field));
	return s ? s : "";
}

/* Exactly n positional arguments after argv[0..skip-1], no options. */
static bool positional(int argc, char **argv, int skip, int n, const char *what)
{
	for (int i = skip; i < argc; i++)
		if (argv[i][0] == '-') {
			cli_error("admin %s: unknown option '%s' (see 'credbroker admin --help')", what, argv[i]);
			return false;
		}
	if (argc - skip != n) {
		cli_error("admin %s: expected %d argument%s (see 'credbroker admin --help')", what, n,
			  n == 1 ? "" : "s");
		return false;
	}
	return true;
}

/* ---- stdin ---- */

/* Read all of stdin (at most STDIN_MAX bytes) into b. */
static int read_stdin(struct buf *b)
{
	uint8_t chunk[1024];
	for (;;) {
		ssize_t n = read(STDIN_FILENO, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			sodium_memzero(chunk, sizeof(chunk));
			return CB_ERR_IO;
		}
		if (n == 0)
			break;
		int r = buf_append(b, chunk, (size_t)n);
		if (r < 0) {
			sodium_memzero(chunk, sizeof(chunk));
			return r;
		}
	}
	sodium_memzero(chunk, sizeof(chunk));
	return 0;
}

/* Find the key pair in what `aws iam create-access-key` prints
 * ({"AccessKey":{"AccessKeyId":..,"SecretAccessKey":..}}) or in a flat
 * object with those two members. Adds both to req. */
static int key_from_json(const char *text, size_t len, cJSON *req)
{
	cJSON *root = cJSON_ParseWithLength(text, len);
	const cJSON *k = cJSON_GetObjectItemCaseSensitive(root, "AccessKey");
	if (k == NULL)
		k = root;
	const char *akid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(k, "AccessKeyId"));
	const char *secret = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(k, "SecretAccessKey"));
	int r = CB_ERR_PARSE;
	if (akid != NULL && secret != NULL)
		r = cJSON_AddStringToObject(req, "access_key_id", akid) &&
				    cJSON_AddStringToObject(req, "secret_access_key", secret)
			    ? 0
			    : CB_ERR_NOMEM;
	cJSON_Delete(root);
	return r;
}

/* "ACCESS_KEY_ID SECRET_ACCESS_KEY": two whitespace-separated words. */
static int key_from_words(const char *text, size_t len, cJSON *req)
{
	const char *w[2] = { 0 };
	size_t wl[2] = { 0 };
	size_t nw = 0, i = 0;
	while (i < len) {
		while (i < len && isspace((unsigned char)text[i]))
			i++;
		if (i == len)
			break;
		size_t start = i;
		while (i < len && !isspace((unsigned char)text[i]))
			i++;
		if (nw == 2)
			return CB_ERR_PARSE;
		w[nw] = text + start;
		wl[nw++] = i - start;
	}
	if (nw != 2)
		return CB_ERR_PARSE;
	char *secret = sodium_malloc(wl[1] + 1);
	if (secret == NULL)
		return CB_ERR_NOMEM;
	memcpy(secret, w[1], wl[1]);
	secret[wl[1]] = '\0';
	char akid[129];
	int r = 0;
	if (wl[0] >= sizeof(akid))
		r = CB_ERR_PARSE;
	else {
		memcpy(akid, w[0], wl[0]);
		akid[wl[0]] = '\0';
		if (!cJSON_AddStringToObject(req, "access_key_id", akid) ||
		    !cJSON_AddStringToObject(req, "secret_access_key", secret))
			r = CB_ERR_NOMEM;
	}
	sodium_free(secret);
	return r;
}

static int cmd_key_add(int argc, char **argv)
{
	if (!positional(argc, argv, 3, 1, "key add"))
		return EXIT_USAGE;
	if (isatty(STDIN_FILENO))
		fputs("Paste ACCESS_KEY_ID SECRET_ACCESS_KEY (or the create-access-key JSON), then Ctrl-D:\n",
		      stderr);
	cJSON *req = request_with("admin.key.add", "name", argv[3]);
	if (req == NULL)
		return EXIT_REFUSED;
	struct buf in;
	buf_init(&in, STDIN_MAX);
	int r = read_stdin(&in);
	if (r == CB_ERR_TOO_LARGE)
		cli_error("admin key add: more than %d bytes on stdin; expected one key (%s)", STDIN_MAX,
			  cb_errname(r));
	else if (r < 0)
		cli_error("admin key add: cannot read stdin (%s)", cb_errname(r));
	if (r == 0) {
		size_t i = 0;
		while (i < in.len && isspace(in.data[i]))
			i++;
		const char *text = (const char *)in.data;
		r = i < in.len && in.data[i] == '{' ? key_from_json(text, in.len, req)
						     : key_from_words(text, in.len, req);
		if (r < 0)
			cli_error("admin key add: stdin must hold 'ACCESS_KEY_ID SECRET_ACCESS_KEY' or the JSON "
				  "'aws iam create-access-key' prints (%s)",
				  cb_errname(r));
	}
	buf_free(&in);
	if (r < 0) {
		cJSON_Delete(req);
		return EXIT_REFUSED;
	}
	cJSON *resp;
	if ((r = call(req, &resp)) != 0)
		return r;
	printf("added key %s: %s belongs to %s (account %s)\n", str(resp, "name"), str(resp, "access_key_id"),
	       str(resp, "arn"), str(resp, "account"));
	cJSON_Delete(resp);
	return 0;
}

static bool want_json(int argc, char **argv, int skip, const char *what, bool *ret)
{
	*ret = false;
	for (int i = skip; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			*ret = true;
			continue;
		}
		cli_error("admin %s: unexpected '%s' (see 'credbroker admin --help')", what, argv[i]);
		return false;
	}
	return true;
}

static void print_json(const cJSON *x)
{
	char *s = cJSON_Print(x);
	if (s != NULL)
		puts(s);
	wipe_free(s);
}

static int cmd_key_list(int argc, char **argv)
{
	bool json;
	if (!want_json(argc, argv, 3, "key list", &json))
		return EXIT_USAGE;
	cJSON *resp;
	int rc = call(request_new("admin.key.list"), &resp);
	if (rc != 0)
		return rc;
	const cJSON *keys = cJSON_GetObjectItemCaseSensitive(resp, "keys");
	if (json) {
		print_json(keys);
	} else if (cJSON_GetArraySize(keys) == 0) {
		puts("no keys (add one with 'credbroker admin key add NAME')");
	} else {
		printf("%-16s %-24s %-20s %s\n", "NAME", "ACCESS_KEY_ID", "ADDED", "IDENTITY");
		const cJSON *k;
		cJSON_ArrayForEach(k, keys)
			printf("%-16s %-24s %-20s %s\n", str(k, "name"), str(k, "access_key_id"), str(k, "added"),
			       str(k, "arn"));
	}
	cJSON_Delete(resp);
	return 0;
}

/* admin <noun> <action> NAME: one request with one field; print a line. */
static int cmd_simple(int argc, char **argv, int skip, const char *what, const char *op,
		      const char *field, const char *said)
{
	if (!positional(argc, argv, skip, 1, what))
		return EXIT_USAGE;
	cJSON *resp;
	int rc = call(request_with(op, field, argv[skip]), &resp);
	if (rc != 0)
		return rc;
	printf("%s %s\n", argv[skip], said);
	cJSON_Delete(resp);
	return 0;
}

/* The enrollment: the URI always, the QR code only for a person. */
static void print_enrollment(const cJSON *resp)
{
	puts(str(resp, "otpauth_uri"));
	const char *qr = str(resp, "qr");
	if (isatty(STDOUT_FILENO) && qr[0] != '\0') {
		fputs(qr, stdout);
		if (qr[strlen(qr) - 1] != '\n')
			putchar('\n');
		puts("Scan this with an authenticator app, or enter the secret from the URI above.");
	}
}

static int add_profiles(cJSON *req, const char *list)
{
	cJSON *a = cJSON_AddArrayToObject(req, "profiles");
	if (a == NULL)
		return CB_ERR_NOMEM;
	const char *p = list;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		if (n == 0 || n > 64)
			return CB_ERR_INVALID;
		char name[65];
		memcpy(name, p, n);
		name[n] = '\0';
		if (!cJSON_AddItemToArray(a, cJSON_CreateString(name)))
			return CB_ERR_NOMEM;
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
}

static int cmd_user_add(int argc, char **argv)
{
	const char *name = NULL, *profiles = NULL, *uid = NULL, *expires = NULL;
	bool password_stdin = false;
	for (int i = 3; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		const char **dst = strcmp(a, "--profiles") == 0 ? &profiles
				   : strcmp(a, "--uid") == 0	 ? &uid
				   : strcmp(a, "--expires") == 0 ? &expires
								 : NULL;
		if (dst != NULL) {
			if (v == NULL) {
				cli_error("admin user add: %s needs a value", a);
				return EXIT_USAGE;
			}
			*dst = v;
			i++;
		} else if (strcmp(a, "--password-stdin") == 0) {
			password_stdin = true;
		} else if (a[0] == '-' || name != NULL) {
			cli_error("admin user add: unexpected '%s' (see 'credbroker admin --help')", a);
			return EXIT_USAGE;
		} else {
			name = a;
		}
	}
	if (name == NULL || profiles == NULL) {
		cli_error("admin user add: needs NAME and --profiles P1[,P2] (see 'credbroker admin --help')");
		return EXIT_USAGE;
	}
	cJSON *req = request_with("admin.user.add", "name", name);
	if (req == NULL)
		return EXIT_REFUSED;
	if (add_profiles(req, profiles) < 0) {
		cJSON_Delete(req);
		cli_error("admin user add: --profiles takes names separated by commas");
		return EXIT_USAGE;
	}
	if (uid != NULL) {
		char *end;
		errno = 0;
		unsigned long u = strtoul(uid, &end, 10);
		if (errno != 0 || end == uid || *end != '\0' || !isdigit((unsigned char)uid[0]) ||
		    u > 4294967294UL) {
			cJSON_Delete(req);
			cli_error("admin user add: --uid takes a number");
			return EXIT_USAGE;
		}
		cJSON_AddNumberToObject(req, "uid", (double)u);
	}
	if (expires != NULL)
		cJSON_AddStringToObject(req, "expires", expires);
	if (password_stdin) {
		char *pw = NULL;
		int r = prompt_password(NULL, &pw);
		if (r < 0) {
			cJSON_Delete(req);
			cli_error("admin user add: %s (%s)",
				  r == CB_ERR_TOO_LARGE ? "the password on stdin is too long"
							: "no password on stdin",
				  cb_errname(r));
			return EXIT_REFUSED;
		}
		if (!cJSON_AddStringToObject(req, "password", pw))
			r = CB_ERR_NOMEM;
		sodium_free(pw);
		if (r < 0) {
			cJSON_Delete(req);
			return EXIT_REFUSED;
		}
	}
	cJSON *resp;
	int rc = call(req, &resp);
	if (rc != 0)
		return rc;
	print_enrollment(resp);
	cJSON_Delete(resp);
	return 0;
}

static int cmd_user_list(int argc, char **argv)
{
	bool json;
	if (!want_json(argc, argv, 3, "user list", &json))
		return EXIT_USAGE;
	cJSON *resp;
	int rc = call(request_new("admin.user.list"), &resp);
	if (rc != 0)
		return rc;
	const cJSON *users = cJSON_GetObjectItemCaseSensitive(resp, "users");
	if (json) {
		print_json(users);
		cJSON_Delete(resp);
		return 0;
	}
	if (cJSON_GetArraySize(users) == 0) {
		puts("no users (add one with 'credbroker admin user add NAME --profiles P --uid UID')");
		cJSON_Delete(resp);
		return 0;
	}
	printf("%-16s %-8s %-8s %-30s %s\n", "NAME", "UID", "PASSWORD", "PROFILES", "STATE");
	const cJSON *u;
	cJSON_ArrayForEach(u, users) {
		char uid[24] = "-";
		const cJSON *x = cJSON_GetObjectItemCaseSensitive(u, "uid");
		if (cJSON_IsNumber(x))
			snprintf(uid, sizeof(uid), "%.0f", x->valuedouble);
		struct buf profiles, state;
		buf_init(&profiles, 4096);
		buf_init(&state, 4096);
		const cJSON *p;
		cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(u, "profiles"))
			buf_printf(&profiles, "%s%s", profiles.len ? "," : "", cJSON_GetStringValue(p));
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(u, "disabled")))
			buf_puts(&state, "disabled ");
		const char *exp = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(u, "expires"));
		if (exp != NULL)
			buf_printf(&state, "%s %s ",
				   cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(u, "expired")) ? "expired"
												 : "expires",
				   exp);
		const char *locked = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(u, "locked_until"));
		if (locked != NULL)
			buf_printf(&state, "locked until %s ", locked);
		printf("%-16s %-8s %-8s %-30s %s\n", str(u, "name"), uid,
		       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(u, "password")) ? "yes" : "no",
		       buf_str(&profiles), state.len ? buf_str(&state) : "active");
		buf_free(&profiles);
		buf_free(&state);
	}
	cJSON_Delete(resp);
	return 0;
}

static int cmd_reset_totp(int argc, char **argv)
{
	if (!positional(argc, argv, 3, 1, "user reset-totp"))
		return EXIT_USAGE;
	cJSON *resp;
	int rc = call(request_with("admin.user.reset-totp", "name", argv[3]), &resp);
	if (rc != 0)
		return rc;
	print_enrollment(resp);
	cJSON_Delete(resp);
	return 0;
}

static int cmd_revoke(int argc, char **argv)
{
	if (!positional(argc, argv, 2, 1, "revoke-sessions"))
		return EXIT_USAGE;
	cJSON *resp;
	int rc = call(request_with("admin.revoke-sessions", "profile", argv[2]), &resp);
	if (rc != 0)
		return rc;
	printf("sessions of %s (%s) issued before %s are revoked\n", argv[2], str(resp, "role_arn"),
	       str(resp, "revoked_before"));
	cJSON_Delete(resp);
	return 0;
}

static int cmd_audit_verify(int argc, char **argv)
{
	if (!positional(argc, argv, 3, 0, "audit verify"))
		return EXIT_USAGE;
	cJSON *resp;
	int rc = call(request_new("admin.audit.verify"), &resp);
	if (rc != 0)
		return rc;
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(resp, "records");
	printf("%s: %.0f records, chain OK\n", str(resp, "path"), cJSON_IsNumber(n) ? n->valuedouble : 0.0);
	cJSON_Delete(resp);
	return 0;
}

static int unknown(const char *what)
{
	cli_error("admin: unknown command '%s' (see 'credbroker admin --help')", what);
	return EXIT_USAGE;
}

int admin_main(int argc, char **argv)
{
	wipe_cjson_hooks();
	if (sodium_init() < 0) {
		cli_error("libsodium cannot be initialised (%s)", cb_errname(CB_ERR_CRYPTO));
		return EXIT_REFUSED;
	}
	if (cli_wants_help(argc, argv)) {
		usage(stdout);
		return 0;
	}
	if (argc < 2) {
		cli_error("admin: which command? (see 'credbroker admin --help')");
		return EXIT_USAGE;
	}
	const char *noun = argv[1], *verb = argc > 2 ? argv[2] : "";
	if (strcmp(noun, "key") == 0) {
		if (strcmp(verb, "add") == 0)
			return cmd_key_add(argc, argv);
		if (strcmp(verb, "list") == 0)
			return cmd_key_list(argc, argv);
		if (strcmp(verb, "remove") == 0)
			return cmd_simple(argc, argv, 3, "key remove", "admin.key.remove", "name", "removed");
		return unknown(argc > 2 ? verb : "key");
	}
	if (strcmp(noun, "user") == 0) {
		static const struct {
			const char *verb, *op, *said;
		} simple[] = {
			{ "disable", "admin.user.disable", "disabled" },
			{ "enable", "admin.user.enable", "enabled" },
			{ "remove", "admin.user.remove", "removed" },
			{ "unlock", "admin.user.unlock", "unlocked" },
		};
		if (strcmp(verb, "add") == 0)
			return cmd_user_add(argc, argv);
		if (strcmp(verb, "list") == 0)
			return cmd_user_list(argc, argv);
		if (strcmp(verb, "reset-totp") == 0)
			return cmd_reset_totp(argc, argv);
		for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++)
			if (strcmp(verb, simple[i].verb) == 0) {
				char what[32];
				snprintf(what, sizeof(what), "user %s", verb);
				return cmd_simple(argc, argv, 3, what, simple[i].op, "name", simple[i].said);
			}
		return unknown(argc > 2 ? verb : "user");
	}
	if (strcmp(noun, "revoke-sessions") == 0)
		return cmd_revoke(argc, argv);
	if (strcmp(noun, "audit") == 0) {
		if (strcmp(verb, "verify") == 0)
			return cmd_audit_verify(argc, argv);
		return unknown(argc > 2 ? verb : "audit");
	}
	return unknown(noun);
}
