/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "cb-config.h"
#include "credbroker/audit.h"
#include "credbroker/config.h"
#include "credbroker/err.h"
#include "credbroker/file.h"
#include "credbroker/users.h"
#include "credbroker/vault.h"
#include "credbroker/wipe.h"

#include "broker-internal.h"

#define AUDIT_KEY_NAME "audit/mac"

static char *path_join(const char *dir, const char *name)
{
	struct buf b;
	buf_init(&b, PATH_MAX);
	if (buf_printf(&b, "%s/%s", dir, name) < 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

static void why_config(struct buf *why, const char *path, const struct buf *problems)
{
	if (problems->len > 0)
		buf_append(why, problems->data, problems->len);
	else
		buf_printf(why, "%s: cannot be loaded\n", path);
}

static int open_vault(const struct config *cfg, const struct broker_unlock *unlock, bool create,
		      struct vault **ret, struct buf *why)
{
	char *path = path_join(cfg->state_dir, "vault");
	if (path == NULL)
		return CB_ERR_NOMEM;
	int r;
	if (create)
		r = unlock->key ? vault_create(path, unlock->key, ret)
				: vault_create_passphrase(path, unlock->pass, unlock->passlen, ret);
	else
		r = unlock->key ? vault_open(path, unlock->key, ret)
				: vault_open_passphrase(path, unlock->pass, unlock->passlen, ret);
	if (r < 0)
		buf_printf(why, "vault: %s: %s\n", path, vault_strerror_detail(r));
	free(path);
	return r;
}

int broker_init_state(const char *config_path, const struct broker_unlock *unlock, struct buf *why)
{
	/* Requests carry keys, codes and passwords; responses, credentials. */
	wipe_cjson_hooks();
	struct config *cfg = NULL;
	struct buf problems;
	buf_init(&problems, 1 << 20);
	int r = config_load(config_path, &cfg, &problems);
	if (r < 0) {
		why_config(why, config_path, &problems);
		buf_free(&problems);
		return r;
	}
	buf_free(&problems);
	struct vault *v = NULL;
	r = file_mkdir_private(cfg->state_dir);
	if (r < 0) {
		buf_printf(why, "state_dir: %s: %s\n", cfg->state_dir,
			   r == CB_ERR_PERM ? "exists but is not a directory owned by us with mode 0700"
					    : "cannot be created");
		goto out;
	}
	r = open_vault(cfg, unlock, true, &v, why);
	if (r < 0)
		goto out;
	uint8_t mac_key[AUDIT_KEY_BYTES];
	randombytes_buf(mac_key, sizeof(mac_key));
	r = vault_put(v, AUDIT_KEY_NAME, "{\"purpose\":\"audit chain MAC\"}", mac_key, sizeof(mac_key));
	sodium_memzero(mac_key, sizeof(mac_key));
	if (r == 0)
		r = vault_save(v);
	if (r < 0)
		buf_printf(why, "vault: cannot store the audit key: %s\n", vault_strerror_detail(r));
out:
	vault_free(v);
	config_free(cfg);
	return r;
}

/* A crash in the middle of an atomic write leaves its temp file behind (the
 * state file itself is intact). Clear them at start so they do not pile up;
 * they may hold sealed secrets, so they go rather than linger. */
static void sweep_temp_files(const char *state_dir)
{
	static const char *const prefixes[] = { "vault.tmp.", "users.json.tmp." };
	DIR *d = opendir(state_dir);
	if (d == NULL)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
			if (strncmp(e->d_name, prefixes[i], strlen(prefixes[i])) == 0)
				unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
}

int broker_open(const char *config_path, const struct broker_unlock *unlock, struct broker **ret,
		struct buf *why)
{
	/* Requests carry keys, codes and passwords; responses, credentials. */
	wipe_cjson_hooks();
	struct broker *b = calloc(1, sizeof(*b));
	if (b == NULL)
		return CB_ERR_NOMEM;
	pthread_rwlock_init(&b->cfg_lock, NULL);
	pthread_mutex_init(&b->state_lock, NULL);
	b->state_lock_fd = -1;
	int r = CB_ERR_NOMEM;
	if ((b->config_path = strdup(config_path)) == NULL)
		goto fail;

	struct buf problems;
	buf_init(&problems, 1 << 20);
	r = config_load(config_path, &b->cfg, &problems);
	if (r < 0)
		why_config(why, config_path, &problems);
	buf_free(&problems);
	if (r < 0)
		goto fail;

	struct stat st;
	if (lstat(b->cfg->state_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		buf_printf(why, "state_dir: %s: missing (run 'credbrokerd init' first)\n", b->cfg->state_dir);
		r = CB_ERR_NOT_FOUND;
		goto fail;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
		buf_printf(why, "state_dir: %s: must be owned by the broker's user with mode 0700\n",
			   b->cfg->state_dir);
		r = CB_ERR_PERM;
		goto fail;
	}
	/* Two daemons on one state would each trust their own copy of the TOTP
	 * state (a code accepted by one, accepted again by the other) and
	 * overwrite each other's files. */
	char *lock_path = path_join(b->cfg->state_dir, "lock");
	if (lock_path == NULL) {
		r = CB_ERR_NOMEM;
		goto fail;
	}
	b->state_lock_fd = open(lock_path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (b->state_lock_fd < 0 || flock(b->state_lock_fd, LOCK_EX | LOCK_NB) < 0) {
		bool held = b->state_lock_fd >= 0 && errno == EWOULDBLOCK;
		buf_printf(why, "state_dir: %s: %s\n", b->cfg->state_dir,
			   held ? "another credbrokerd is running on this state directory"
				: "cannot lock it (state_dir/lock)");
		free(lock_path);
		r = held ? CB_ERR_EXISTS : CB_ERR_IO;
		goto fail;
	}
	free(lock_path);
	sweep_temp_files(b->cfg->state_dir);
	r = open_vault(b->cfg, unlock, false, &b->vault, why);
	if (r < 0)
		goto fail;

	r = CB_ERR_NOMEM;
	if ((b->users_path = path_join(b->cfg->state_dir, "users.json")) == NULL ||
	    (b->audit_path = strdup(b->cfg->audit_path)) == NULL)
		goto fail;
	r = users_load(b->users_path, &b->users);
	if (r < 0) {
		buf_printf(why, "users: %s: %s\n", b->users_path, cb_strerror(r));
		goto fail;
	}

	const uint8_t *mac_key;
	size_t mac_len;
	r = vault_get(b->vault, AUDIT_KEY_NAME, NULL, &mac_key, &mac_len);
	if (r < 0 || mac_len != AUDIT_KEY_BYTES) {
		buf_printf(why, "vault: no audit key in the vault (was it made by 'credbrokerd init'?)\n");
		r = CB_ERR_PARSE;
		goto fail;
	}
	r = audit_open(b->audit_path, mac_key, &b->audit);
	if (r == CB_ERR_AUDIT_BROKEN) {
		buf_printf(why, "audit: %s: its end does not verify (the last record cut short, altered or "
			   "removed, or %s.head missing or altered); keep both as evidence, move them aside "
			   "and start again to begin a new log\n", b->audit_path, b->audit_path);
		goto fail;
	}
	if (r < 0) {
		buf_printf(why, "audit: %s: cannot be opened for appending (%s)\n", b->audit_path,
			   cb_strerror(r));
		goto fail;
	}
	*ret = b;
	return 0;
fail:
	broker_free(b);
	return r;
}

const struct config *broker_config(const struct broker *b)
{
	return b->cfg;
}

int broker_reload(struct broker *b, struct buf *why)
{
	struct config *cfg = NULL;
	struct buf problems;
	buf_init(&problems, 1 << 20);
	int r = config_load(b->config_path, &cfg, &problems);
	if (r < 0) {
		why_config(why, b->config_path, &problems);
		buf_free(&problems);
		return r;
	}
	buf_free(&problems);
	/* Only the profiles (and what only they use) change at run time; the
	 * socket, state directory and vault stay those the daemon started with. */
	pthread_rwlock_wrlock(&b->cfg_lock);
	struct config *old = b->cfg;
	if (strcmp(old->state_dir, cfg->state_dir) != 0 || strcmp(old->socket, cfg->socket) != 0)
		buf_printf(why, "%s: state_dir and socket changes need a restart; kept the old ones\n",
			   b->config_path);
	free(cfg->state_dir);
	free(cfg->socket);
	cfg->state_dir = old->state_dir;
	cfg->socket = old->socket;
	old->state_dir = NULL;
	old->socket = NULL;
	b->cfg = cfg;
	pthread_rwlock_unlock(&b->cfg_lock);
	config_free(old);
	return 0;
}

void broker_free(struct broker *b)
{
	if (b == NULL)
		return;
	audit_close(b->audit);
	users_free(b->users);
	vault_free(b->vault);
	config_free(b->cfg);
	free(b->config_path);
	free(b->users_path);
	free(b->audit_path);
	if (b->state_lock_fd >= 0)
		close(b->state_lock_fd);
	pthread_rwlock_destroy(&b->cfg_lock);
	pthread_mutex_destroy(&b->state_lock);
	free(b);
}

int request_fail(struct request *rq, int err, const char *fmt, ...)
{
	va_list ap;
	buf_reset(&rq->msg);
	va_start(ap, fmt);
	buf_vprintf(&rq->msg, fmt, ap);
	va_end(ap);
	return err;
}

int request_string(struct request *rq, const char *field, size_t maxlen, bool required,
		   const char **ret)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(rq->in, field);
	if (x == NULL || cJSON_IsNull(x)) {
		if (required)
			return request_fail(rq, CB_ERR_INVALID, "missing field \"%s\"", field);
		*ret = NULL;
		return 0;
	}
	if (!cJSON_IsString(x))
		return request_fail(rq, CB_ERR_INVALID, "field \"%s\" must be a string", field);
	if (strlen(x->valuestring) > maxlen)
		return request_fail(rq, CB_ERR_INVALID, "field \"%s\" is longer than %zu bytes", field,
				    maxlen);
	*ret = x->valuestring;
	return 0;
}

int request_number(struct request *rq, const char *field, double lo, double hi, bool required,
		   double *ret)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(rq->in, field);
	if (x == NULL || cJSON_IsNull(x)) {
		if (required)
			return request_fail(rq, CB_ERR_INVALID, "missing field \"%s\"", field);
		return 0;
	}
	if (!cJSON_IsNumber(x) || x->valuedouble != (double)(long long)x->valuedouble ||
	    x->valuedouble < lo || x->valuedouble > hi)
		return request_fail(rq, CB_ERR_INVALID, "field \"%s\" must be a whole number from %.0f to %.0f",
				    field, lo, hi);
	*ret = x->valuedouble;
	return 0;
}

bool request_is_admin(const struct request *rq)
{
	const struct config *cfg = rq->b->cfg;
	/* Administration is local only: the TLS gateway has no uid. */
	if (rq->peer->tls)
		return false;
	for (size_t i = 0; i < cfg->nadmins; i++)
		if (cfg->admins[i] == rq->peer->uid)
			return true;
	return false;
}

int request_audit(struct request *rq, struct audit_record *rec)
{
	char where[80];
	if (rq->peer->tls) {
		rec->uid = -1;
		rec->pid = -1;
		snprintf(where, sizeof(where), "tls:%s", rq->peer->addr);
		rec->peer = where;
	} else {
		rec->uid = (long)rq->peer->uid;
		rec->pid = (long)rq->peer->pid;
		rec->peer = "unix";
	}
	return audit_append(rq->b->audit, rec);
}

static int op_ping(struct request *rq)
{
	if (!cJSON_AddStringToObject(rq->out, "version", CB_VERSION) ||
	    !(rq->peer->tls ? cJSON_AddNullToObject(rq->out, "uid")
			    : cJSON_AddNumberToObject(rq->out, "uid", (double)rq->peer->uid)) ||
	    !cJSON_AddBoolToObject(rq->out, "admin", request_is_admin(rq)))
		return CB_ERR_NOMEM;
	return 0;
}

static const struct op {
	const char *name;
	bool admin;
	int (*fn)(struct request *rq);
} ops[] = {
	{ "ping", false, op_ping },
	{ "issue", false, issue_session },
	{ "status", false, issue_status },
	{ "admin.key.add", true, admin_key_add },
	{ "admin.key.list", true, admin_key_list },
	{ "admin.key.remove", true, admin_key_remove },
	{ "admin.user.add", true, admin_user_add },
	{ "admin.user.list", true, admin_user_list },
	{ "admin.user.disable", true, admin_user_disable },
	{ "admin.user.enable", true, admin_user_enable },
	{ "admin.user.remove", true, admin_user_remove },
	{ "admin.user.unlock", true, admin_user_unlock },
	{ "admin.user.reset-totp", true, admin_user_reset_totp },
	{ "admin.revoke-sessions", true, admin_revoke_sessions },
	{ "admin.audit.verify", true, admin_audit_verify },
};

static void respond(struct buf *resp, struct request *rq, int r)
{
	if (r < 0) {
		server_error_response(resp, r, rq->msg.len ? buf_str(&rq->msg) : NULL);
		return;
	}
	cJSON *root = cJSON_CreateObject();
	if (root != NULL && cJSON_AddTrueToObject(root, "ok") != NULL) {
		/* Move the op's fields after "ok". */
		cJSON *item = rq->out->child;
		while (item != NULL) {
			cJSON *next = item->next;
			cJSON_DetachItemViaPointer(rq->out, item);
			cJSON_AddItemToObject(root, item->string, item);
			item = next;
		}
		char *s = cJSON_PrintUnformatted(root);
		if (s != NULL && buf_puts(resp, s) == 0) {
			wipe_free(s);
			cJSON_Delete(root);
			return;
		}
		wipe_free(s);
	}
	cJSON_Delete(root);
	buf_reset(resp);
	server_error_response(resp, CB_ERR_NOMEM, "response too large");
}

void broker_handle(void *ctx, const struct server_peer *peer, const uint8_t *req, size_t len,
		   struct buf *resp)
{
	struct request rq = { .b = ctx, .peer = peer };
	buf_init(&rq.msg, 2048);
	const char *end = NULL;
	cJSON *in = NULL;
	int r;
	/* cJSON keeps a raw NUL inside a string, and the C string it hands
	 * back then ends there: "pi\0ng" would be acted on as "pi". */
	if (memchr(req, '\0', len) != NULL) {
		r = request_fail(&rq, CB_ERR_PARSE, "request contains a NUL byte");
		goto out;
	}
	/* The same cut, spelled as an escape: "alice\u0000x" would be "alice". */
	if (memmem(req, len, "\\u0000", 6) != NULL) {
		r = request_fail(&rq, CB_ERR_PARSE, "request contains a \\u0000 escape");
		goto out;
	}
	in = cJSON_ParseWithLengthOpts((const char *)req, len, &end, false);
	if (in == NULL) {
		r = request_fail(&rq, CB_ERR_PARSE, "request is not JSON");
		goto out;
	}
	/* JSON allows whitespace after the value (a trailing newline is common);
	 * cJSON leaves end before it. */
	while (end != NULL && end < (const char *)req + len &&
	       (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
		end++;
	if (end != (const char *)req + len) {
		r = request_fail(&rq, CB_ERR_PARSE, "request has bytes after the JSON value");
		goto out;
	}
	if (!cJSON_IsObject(in)) {
		r = request_fail(&rq, CB_ERR_PARSE, "request must be a JSON object");
		goto out;
	}
	rq.in = in;
	const char *op;
	r = request_string(&rq, "op", 64, true, &op);
	if (r < 0)
		goto out;
	const struct op *found = NULL;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(ops[i].name, op) == 0)
			found = &ops[i];
	if (found == NULL) {
		r = request_fail(&rq, CB_ERR_UNKNOWN_OP, "unknown op \"%.64s\"", op);
		goto out;
	}
	rq.out = cJSON_CreateObject();
	if (rq.out == NULL) {
		r = CB_ERR_NOMEM;
		goto out;
	}
	pthread_rwlock_rdlock(&rq.b->cfg_lock);
	if (found->admin && !request_is_admin(&rq))
		r = request_fail(&rq, CB_ERR_NOT_ADMIN, "uid %ld is not listed in the broker's admins",
				 (long)peer->uid);
	else
		r = found->fn(&rq);
	pthread_rwlock_unlock(&rq.b->cfg_lock);
out:
	respond(resp, &rq, r);
	cJSON_Delete(rq.out);
	cJSON_Delete(in);
	buf_free(&rq.msg);
}
