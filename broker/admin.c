/* SPDX-License-Identifier: MIT */
/*
 * The administrator's operations: IAM keys in the vault, broker users and
 * their grants, session revocation, and the audit check. Every change is
 * written to disk (vault, then users) before it is acknowledged, and every
 * one leaves an audit record.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "credbroker/audit.h"
#include "credbroker/cbtime.h"
#include "credbroker/config.h"
#include "credbroker/err.h"
#include "credbroker/iam.h"
#include "credbroker/sts.h"
#include "credbroker/totp.h"
#include "credbroker/users.h"
#include "credbroker/vault.h"

#include "broker-internal.h"

#define KEY_PREFIX "key/"
#define TOTP_PREFIX "totp/"
#define PASSWORD_PREFIX "password/"

static bool name_chars_ok(const char *s, size_t lo, size_t hi, const char *extra)
{
	size_t n = strlen(s);
	if (n < lo || n > hi)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && strchr(extra, s[i]) == NULL)
			return false;
	return true;
}

/* "arn:<partition>:iam::<12 digits>:root": the account's root user. */
static bool is_root_arn(const char *arn)
{
	const char *p;
	if (strncmp(arn, "arn:aws", 7) != 0 || (p = strstr(arn, ":iam::")) == NULL)
		return false;
	p += 6;
	for (int i = 0; i < 12; i++)
		if (!isdigit((unsigned char)p[i]))
			return false;
	return strcmp(p + 12, ":root") == 0;
}

static int entry_name(char *out, size_t outlen, const char *prefix, const char *name)
{
	int n = snprintf(out, outlen, "%s%s", prefix, name);
	return n < 0 || (size_t)n >= outlen ? CB_ERR_INVALID : 0;
}

static int admin_audit(struct request *rq, const char *detail, const char *user, int outcome)
{
	struct audit_record rec = {
		.event = "admin",
		.user = user,
		.duration = -1,
		.outcome = outcome == 0 ? "ok" : "refused",
		.reason = outcome == 0 ? NULL : cb_errname(outcome),
		.detail = detail,
	};
	return request_audit(rq, &rec);
}

/* Persist the vault; on failure say so in rq->msg. Caller holds state_lock. */
static int save_vault(struct request *rq)
{
	int r = vault_save(rq->b->vault);
	if (r < 0)
		return request_fail(rq, r, "vault: cannot be written: %s", vault_strerror_detail(r));
	return 0;
}

static int save_users(struct request *rq)
{
	int r = users_save(rq->b->users);
	if (r < 0)
		return request_fail(rq, r, "users: cannot be written: %s", cb_strerror(r));
	return 0;
}

int admin_key_add(struct request *rq)
{
	const char *name, *akid, *secret;
	int r;
	if ((r = request_string(rq, "name", 64, true, &name)) < 0 ||
	    (r = request_string(rq, "access_key_id", 128, true, &akid)) < 0 ||
	    (r = request_string(rq, "secret_access_key", 128, true, &secret)) < 0)
		return r;
	if (!name_chars_ok(name, 1, 64, "._-"))
		return request_fail(rq, CB_ERR_INVALID, "key name must be 1-64 of A-Z a-z 0-9 . _ -");
	if (!name_chars_ok(akid, 16, 128, ""))
		return request_fail(rq, CB_ERR_INVALID, "that is not an access key id (16-128 letters and digits)");
	if (!name_chars_ok(secret, 16, 128, "/+=_-"))
		return request_fail(rq, CB_ERR_INVALID, "that is not a secret access key (16-128 base64 characters)");

	char detail[128];
	snprintf(detail, sizeof(detail), "key add %s", name);

	/* Ask AWS whose key this is, without holding the state lock. */
	const struct config *cfg = rq->b->cfg;
	int cerr = 0;
	struct sts_client *sts = sts_client_new(cfg->aws_region, cfg->sts_endpoint, &cerr);
	if (sts == NULL)
		return request_fail(rq, cerr ? cerr : CB_ERR_NOMEM, "STS client: %s", cb_strerror(cerr));
	struct sigv4_creds creds = { .access_key_id = akid, .secret_access_key = secret };
	struct sts_identity id;
	struct sts_error err = { 0 };
	r = sts_get_caller_identity(sts, &creds, &id, &err);
	sts_client_free(sts);

	pthread_mutex_lock(&rq->b->state_lock);
	if (r < 0) {
		if (err.code[0] != '\0')
			request_fail(rq, r, "AWS refused the key: %s: %s", err.code, err.message);
		else
			request_fail(rq, r, "cannot check the key with STS: %s", cb_strerror(r));
		goto out;
	}
	if (is_root_arn(id.arn)) {
		r = request_fail(rq, CB_ERR_ROOT_KEY,
				 "refusing a root-account key (%s): root keys must not be used day to day; "
				 "create an IAM user for the broker (policies/broker-user-policy.json), give it an "
				 "access key, add that, and delete the root key",
				 id.arn);
		goto out;
	}
	char entry[VAULT_NAME_MAX + 1];
	if ((r = entry_name(entry, sizeof(entry), KEY_PREFIX, name)) < 0)
		goto out;
	if (vault_get(rq->b->vault, entry, NULL, NULL, NULL) == 0) {
		r = request_fail(rq, CB_ERR_EXISTS, "a key named \"%s\" exists; remove it first", name);
		goto out;
	}
	char added[CBTIME_RFC3339_LEN];
	cbtime_format_rfc3339(time(NULL), added);
	cJSON *meta = cJSON_CreateObject();
	char *metatext = NULL;
	if (meta != NULL && cJSON_AddStringToObject(meta, "access_key_id", akid) &&
	    cJSON_AddStringToObject(meta, "arn", id.arn) &&
	    cJSON_AddStringToObject(meta, "account", id.account) &&
	    cJSON_AddStringToObject(meta, "added", added))
		metatext = cJSON_PrintUnformatted(meta);
	cJSON_Delete(meta);
	if (metatext == NULL) {
		r = CB_ERR_NOMEM;
		goto out;
	}
	r = vault_put(rq->b->vault, entry, metatext, secret, strlen(secret));
	free(metatext);
	if (r < 0)
		goto out;
	if ((r = save_vault(rq)) < 0) {
		vault_remove(rq->b->vault, entry);
		goto out;
	}
	if (!cJSON_AddStringToObject(rq->out, "name", name) ||
	    !cJSON_AddStringToObject(rq->out, "access_key_id", akid) ||
	    !cJSON_AddStringToObject(rq->out, "arn", id.arn) ||
	    !cJSON_AddStringToObject(rq->out, "account", id.account))
		r = CB_ERR_NOMEM;
out:
	admin_audit(rq, detail, NULL, r);
	pthread_mutex_unlock(&rq->b->state_lock);
	return r;
}

int admin_key_list(struct request *rq)
{
	cJSON *keys = cJSON_AddArrayToObject(rq->out, "keys");
	if (keys == NULL)
		return CB_ERR_NOMEM;
	int r = 0;
	pthread_mutex_lock(&rq->b->state_lock);
	for (size_t i = 0; i < vault_count(rq->b->vault) && r == 0; i++) {
		const char *entry = vault_name_at(rq->b->vault, i);
		if (strncmp(entry, KEY_PREFIX, strlen(KEY_PREFIX)) != 0)
			continue;
		const char *metatext = NULL;
		vault_get(rq->b->vault, entry, &metatext, NULL, NULL);
		cJSON *o = cJSON_Parse(metatext ? metatext : "{}");
		if (o == NULL)
			o = cJSON_CreateObject();
		if (o == NULL || !cJSON_AddStringToObject(o, "name", entry + strlen(KEY_PREFIX)) ||
		    !cJSON_AddItemToArray(keys, o)) {
			cJSON_Delete(o);
			r = CB_ERR_NOMEM;
		}
	}
	pthread_mutex_unlock(&rq->b->state_lock);
	return r;
}

int admin_key_remove(struct request *rq)
{
	const char *name;
	int r = request_string(rq, "name", 64, true, &name);
	if (r < 0)
		return r;
	char entry[VAULT_NAME_MAX + 1], detail[128];
	if (entry_name(entry, sizeof(entry), KEY_PREFIX, name) < 0)
		return request_fail(rq, CB_ERR_KEY_UNKNOWN, "no key named \"%.64s\"", name);
	snprintf(detail, sizeof(detail), "key remove %s", name);
	pthread_mutex_lock(&rq->b->state_lock);
	const char *metatext;
	const uint8_t *secret;
	size_t secret_len;
	if (vault_get(rq->b->vault, entry, &metatext, &secret, &secret_len) < 0) {
		r = request_fail(rq, CB_ERR_KEY_UNKNOWN, "no key named \"%s\"", name);
		goto out;
	}
	/* Keep copies to restore the entry if the vault cannot be written. */
	char *meta_copy = strdup(metatext);
	uint8_t *secret_copy = sodium_malloc(secret_len ? secret_len : 1);
	if (meta_copy == NULL || secret_copy == NULL) {
		free(meta_copy);
		sodium_free(secret_copy);
		r = CB_ERR_NOMEM;
		goto out;
	}
	memcpy(secret_copy, secret, secret_len);
	vault_remove(rq->b->vault, entry);
	if ((r = save_vault(rq)) < 0)
		vault_put(rq->b->vault, entry, meta_copy, secret_copy, secret_len);
	free(meta_copy);
	sodium_free(secret_copy);
out:
	admin_audit(rq, detail, NULL, r);
	pthread_mutex_unlock(&rq->b->state_lock);
	if (r == 0)
		r = cJSON_AddStringToObject(rq->out, "name", name) ? 0 : CB_ERR_NOMEM;
	return r;
}

/* The enrollment answer: the otpauth URI and its QR code for a terminal. */
static int add_enrollment(struct request *rq, const char *name, const uint8_t *seed)
{
	struct buf uri, qr;
	buf_init(&uri, 4096);
	buf_init(&qr, 64 * 1024);
	int r = totp_uri(name, seed, TOTP_SECRET_BYTES, &uri);
	if (r == 0)
		r = totp_qr_render(buf_str(&uri), &qr);
	if (r == 0 && (!cJSON_AddStringToObject(rq->out, "otpauth_uri", buf_str(&uri)) ||
		       !cJSON_AddStringToObject(rq->out, "qr", buf_str(&qr))))
		r = CB_ERR_NOMEM;
	buf_free(&uri);
	buf_free(&qr);
	return r;
}

int admin_user_add(struct request *rq)
{
	const char *name, *password, *expires_text;
	double uid = -1;
	int r;
	if ((r = request_string(rq, "name", USER_NAME_MAX, true, &name)) < 0 ||
	    (r = request_string(rq, "password", BROKER_PASSWORD_MAX, false, &password)) < 0 ||
	    (r = request_string(rq, "expires", 64, false, &expires_text)) < 0 ||
	    (r = request_number(rq, "uid", 0, 4294967294.0, false, &uid)) < 0)
		return r;
	if (!users_name_valid(name))
		return request_fail(rq, CB_ERR_INVALID,
				    "user name must be 2-64 of A-Z a-z 0-9 + = , . @ _ - (it becomes the STS session name)");
	if (uid < 0 && (password == NULL || password[0] == '\0'))
		return request_fail(rq, CB_ERR_INVALID,
				    "a user needs a bound uid (--uid, local socket) or a password (--password-stdin, TLS)");
	time_t now = time(NULL), expires = 0;
	if (expires_text != NULL) {
		if (cbtime_parse_when(expires_text, &expires) < 0)
			return request_fail(rq, CB_ERR_INVALID, "expires: use RFC 3339 or YYYY-MM-DD");
		if (expires <= now)
			return request_fail(rq, CB_ERR_INVALID, "expires: that is in the past");
		if (expires > USERS_TIME_MAX)
			return request_fail(rq, CB_ERR_INVALID, "expires: after 9999-12-31T23:59:59Z");
	}
	const cJSON *plist = cJSON_GetObjectItemCaseSensitive(rq->in, "profiles");
	const char *profiles[USER_PROFILES_MAX];
	size_t nprofiles = 0;
	if (!cJSON_IsArray(plist) || cJSON_GetArraySize(plist) < 1 ||
	    cJSON_GetArraySize(plist) > USER_PROFILES_MAX)
		return request_fail(rq, CB_ERR_INVALID, "profiles: a list of 1-%d profile names", USER_PROFILES_MAX);
	const cJSON *p;
	cJSON_ArrayForEach(p, plist) {
		if (!cJSON_IsString(p))
			return request_fail(rq, CB_ERR_INVALID, "profiles: names must be strings");
		if (config_profile_find(rq->b->cfg, p->valuestring) == NULL)
			return request_fail(rq, CB_ERR_PROFILE_UNKNOWN, "no profile \"%.64s\" in the config",
					    p->valuestring);
		profiles[nprofiles++] = p->valuestring;
	}

	/* Hash the password before taking the lock: Argon2id is slow on purpose. */
	char hash[crypto_pwhash_STRBYTES];
	bool has_password = password != NULL && password[0] != '\0';
	if (has_password &&
	    crypto_pwhash_str(hash, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
			      crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
		return CB_ERR_NOMEM;

	uint8_t seed[TOTP_SECRET_BYTES];
	if ((r = totp_secret_new(seed)) < 0) {
		sodium_memzero(hash, sizeof(hash));
		return r;
	}
	char totp_entry[VAULT_NAME_MAX + 1], pw_entry[VAULT_NAME_MAX + 1], detail[128];
	entry_name(totp_entry, sizeof(totp_entry), TOTP_PREFIX, name);
	entry_name(pw_entry, sizeof(pw_entry), PASSWORD_PREFIX, name);
	snprintf(detail, sizeof(detail), "user add %s", name);

	pthread_mutex_lock(&rq->b->state_lock);
	struct users *users = rq->b->users;
	struct vault *v = rq->b->vault;
	if (users_find(users, name) != NULL) {
		r = request_fail(rq, CB_ERR_EXISTS, "user \"%s\" exists", name);
		goto out;
	}
	if ((r = users_add(users, name, profiles, nprofiles, (long)uid, has_password, expires, now)) < 0)
		goto out;
	if ((r = vault_put(v, totp_entry, NULL, seed, sizeof(seed))) < 0 ||
	    (has_password && (r = vault_put(v, pw_entry, NULL, hash, strlen(hash))) < 0) ||
	    (r = save_vault(rq)) < 0) {
		vault_remove(v, totp_entry);
		vault_remove(v, pw_entry);
		users_remove(users, name);
		goto out;
	}
	if ((r = save_users(rq)) < 0) {
		/* Take the secrets back out so the vault matches the users file. */
		users_remove(users, name);
		vault_remove(v, totp_entry);
		vault_remove(v, pw_entry);
		vault_save(v);
		goto out;
	}
	r = add_enrollment(rq, name, seed);
	if (r == 0 && !cJSON_AddStringToObject(rq->out, "name", name))
		r = CB_ERR_NOMEM;
out:
	admin_audit(rq, detail, name, r);
	pthread_mutex_unlock(&rq->b->state_lock);
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(hash, sizeof(hash));
	return r;
}

static cJSON *user_json(const struct user *usr, time_t now)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *profiles = cJSON_AddArrayToObject(o, "profiles");
	if (o == NULL || profiles == NULL)
		goto fail;
	for (size_t i = 0; i < usr->nprofiles; i++)
		if (!cJSON_AddItemToArray(profiles, cJSON_CreateString(usr->profiles[i])))
			goto fail;
	char t[CBTIME_RFC3339_LEN];
	if (!cJSON_AddStringToObject(o, "name", usr->name) ||
	    !(usr->uid >= 0 ? cJSON_AddNumberToObject(o, "uid", (double)usr->uid)
			    : cJSON_AddNullToObject(o, "uid")) ||
	    !cJSON_AddBoolToObject(o, "password", usr->has_password) ||
	    !cJSON_AddBoolToObject(o, "disabled", usr->disabled))
		goto fail;
	if (usr->expires) {
		cbtime_format_rfc3339(usr->expires, t);
		if (!cJSON_AddStringToObject(o, "expires", t) ||
		    !cJSON_AddBoolToObject(o, "expired", usr->expires <= now))
			goto fail;
	} else if (!cJSON_AddNullToObject(o, "expires")) {
		goto fail;
	}
	if (usr->locked_until > now) {
		cbtime_format_rfc3339(usr->locked_until, t);
		if (!cJSON_AddStringToObject(o, "locked_until", t))
			goto fail;
	}
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

int admin_user_list(struct request *rq)
{
	cJSON *list = cJSON_AddArrayToObject(rq->out, "users");
	if (list == NULL)
		return CB_ERR_NOMEM;
	int r = 0;
	time_t now = time(NULL);
	pthread_mutex_lock(&rq->b->state_lock);
	for (size_t i = 0; i < users_count(rq->b->users) && r == 0; i++) {
		cJSON *o = user_json(users_at(rq->b->users, i), now);
		if (o == NULL || !cJSON_AddItemToArray(list, o)) {
			cJSON_Delete(o);
			r = CB_ERR_NOMEM;
		}
	}
	pthread_mutex_unlock(&rq->b->state_lock);
	return r;
}

enum user_change { USER_DISABLE, USER_ENABLE, USER_UNLOCK };

/* A change to one user's record, saved or rolled back. */
static int change_user(struct request *rq, enum user_change what)
{
	static const char *const verbs[] = { "disable", "enable", "unlock" };
	const char *name;
	int r = request_string(rq, "name", USER_NAME_MAX, true, &name);
	if (r < 0)
		return r;
	char detail[128];
	snprintf(detail, sizeof(detail), "user %s %s", verbs[what], name);
	pthread_mutex_lock(&rq->b->state_lock);
	struct user *usr = users_find(rq->b->users, name);
	if (usr == NULL) {
		r = request_fail(rq, CB_ERR_USER_UNKNOWN, "no user \"%s\"", name);
		goto out;
	}
	struct user saved = *usr;
	if (what == USER_DISABLE)
		usr->disabled = true;
	else if (what == USER_ENABLE)
		usr->disabled = false;
	else
		usr->failures = 0, usr->lock_count = 0, usr->locked_until = 0;
	if ((r = save_users(rq)) < 0) {
		usr->disabled = saved.disabled;
		usr->failures = saved.failures;
		usr->lock_count = saved.lock_count;
		usr->locked_until = saved.locked_until;
	}
out:
	admin_audit(rq, detail, name, r);
	pthread_mutex_unlock(&rq->b->state_lock);
	if (r == 0 && !cJSON_AddStringToObject(rq->out, "name", name))
		r = CB_ERR_NOMEM;
	return r;
}

int admin_user_disable(struct request *rq)
{
	return change_user(rq, USER_DISABLE);
}

int admin_user_enable(struct request *rq)
{
	return change_user(rq, USER_ENABLE);
}

int admin_user_unlock(struct request *rq)
{
	return change_user(rq, USER_UNLOCK);
}

int admin_user_remove(struct request *rq)
{
	const char *name;
	int r = request_string(rq, "name", USER_NAME_MAX, true, &name);
	if (r < 0)
		return r;
	char totp_entry[VAULT_NAME_MAX + 1], pw_entry[VAULT_NAME_MAX + 1], detail[128];
	entry_name(totp_entry, sizeof(totp_entry), TOTP_PREFIX, name);
	entry_name(pw_entry, sizeof(pw_entry), PASSWORD_PREFIX, name);
	snprintf(detail, sizeof(detail), "user remove %s", name);
	pthread_mutex_lock(&rq->b->state_lock);
	if (users_find(rq->b->users, name) == NULL) {
		r = request_fail(rq, CB_ERR_USER_UNKNOWN, "no user \"%s\"", name);
		goto out;
	}
	/* The user record goes first: a user without a seed can do nothing, and
	 * a seed left behind by a failed vault write is removed on the next try. */
	struct users *saved_users = NULL;
	if ((r = users_load(rq->b->users_path, &saved_users)) < 0)
		goto out;
	users_remove(rq->b->users, name);
	if ((r = save_users(rq)) < 0) {
		users_free(rq->b->users);
		rq->b->users = saved_users;
		goto out;
	}
	users_free(saved_users);
	vault_remove(rq->b->vault, totp_entry);
	vault_remove(rq->b->vault, pw_entry);
	r = save_vault(rq);
out:
	admin_audit(rq, detail, name, r);
	pthread_mutex_unlock(&rq->b->state_lock);
	if (r == 0 && !cJSON_AddStringToObject(rq->out, "name", name))
		r = CB_ERR_NOMEM;
	return r;
}

int admin_user_reset_totp(struct request *rq)
{
	const char *name;
	int r = request_string(rq, "name", USER_NAME_MAX, true, &name);
	if (r < 0)
		return r;
	char totp_entry[VAULT_NAME_MAX + 1], detail[128];
	entry_name(totp_entry, sizeof(totp_entry), TOTP_PREFIX, name);
	snprintf(detail, sizeof(detail), "user reset-totp %s", name);
	uint8_t seed[TOTP_SECRET_BYTES];
	if ((r = totp_secret_new(seed)) < 0)
		return r;
	pthread_mutex_lock(&rq->b->state_lock);
	struct user *usr = users_find(rq->b->users, name);
	if (usr == NULL) {
		r = request_fail(rq, CB_ERR_USER_UNKNOWN, "no user \"%s\"", name);
		goto out;
	}
	/* A new seed also clears the lock; that part is written first, so a
	 * failure leaves the old seed and nothing claimed. The last accepted
	 * step stays: a step is accepted once per user, ever, whatever the seed. */
	struct user saved = *usr;
	usr->failures = 0;
	usr->lock_count = 0;
	usr->locked_until = 0;
	if ((r = save_users(rq)) < 0) {
		usr->failures = saved.failures;
		usr->lock_count = saved.lock_count;
		usr->locked_until = saved.locked_until;
		goto out;
	}
	uint8_t old[TOTP_SECRET_BYTES];
	const uint8_t *cur;
	size_t cur_len = 0;
	bool had = vault_get(rq->b->vault, totp_entry, NULL, &cur, &cur_len) == 0 && cur_len == sizeof(old);
	if (had)
		memcpy(old, cur, sizeof(old));
	if ((r = vault_put(rq->b->vault, totp_entry, NULL, seed, sizeof(seed))) < 0)
		goto out;
	if ((r = save_vault(rq)) < 0) {
		if (had)
			vault_put(rq->b->vault, totp_entry, NULL, old, sizeof(old));
		goto wipe;
	}
	r = add_enrollment(rq, name, seed);
	if (r == 0 && !cJSON_AddStringToObject(rq->out, "name", name))
		r = CB_ERR_NOMEM;
wipe:
	sodium_memzero(old, sizeof(old));
out:
	admin_audit(rq, detail, name, r);
	pthread_mutex_unlock(&rq->b->state_lock);
	sodium_memzero(seed, sizeof(seed));
	return r;
}

/* Copy the long-term key a profile names out of the vault, for a call made
 * without the state lock. Caller holds state_lock; frees with
 * admin_key_release(). */
int admin_key_borrow(struct request *rq, const char *key_name, char **ret_akid, char **ret_secret)
{
	char entry[VAULT_NAME_MAX + 1];
	const char *metatext;
	const uint8_t *secret;
	size_t secret_len;
	if (entry_name(entry, sizeof(entry), KEY_PREFIX, key_name) < 0 ||
	    vault_get(rq->b->vault, entry, &metatext, &secret, &secret_len) < 0)
		return request_fail(rq, CB_ERR_KEY_UNKNOWN,
				    "the profile's key \"%s\" is not in the vault (credbroker admin key add %s)",
				    key_name, key_name);
	cJSON *meta = cJSON_Parse(metatext);
	const cJSON *akid = cJSON_GetObjectItemCaseSensitive(meta, "access_key_id");
	char *a = cJSON_IsString(akid) ? strdup(akid->valuestring) : NULL;
	cJSON_Delete(meta);
	char *s = sodium_malloc(secret_len + 1);
	if (a == NULL || s == NULL) {
		free(a);
		sodium_free(s);
		return CB_ERR_NOMEM;
	}
	memcpy(s, secret, secret_len);
	s[secret_len] = '\0';
	*ret_akid = a;
	*ret_secret = s;
	return 0;
}

void admin_key_release(char *akid, char *secret)
{
	free(akid);
	sodium_free(secret);
}

/* The role name of "arn:aws:iam::123456789012:role/path/Name": "Name". */
static const char *role_name_of(const char *arn)
{
	const char *slash = strrchr(arn, '/');
	return slash ? slash + 1 : NULL;
}

int admin_revoke_sessions(struct request *rq)
{
	const char *profile_name;
	int r = request_string(rq, "profile", 64, true, &profile_name);
	if (r < 0)
		return r;
	const struct config_profile *p = config_profile_find(rq->b->cfg, profile_name);
	if (p == NULL)
		return request_fail(rq, CB_ERR_PROFILE_UNKNOWN, "no profile \"%.64s\"", profile_name);
	char detail[160];
	snprintf(detail, sizeof(detail), "revoke-sessions %s", profile_name);

	char *akid = NULL, *secret = NULL;
	pthread_mutex_lock(&rq->b->state_lock);
	r = admin_key_borrow(rq, p->key, &akid, &secret);
	pthread_mutex_unlock(&rq->b->state_lock);
	if (r < 0)
		goto audit;

	/* AWS's own recipe: deny everything to sessions issued before now. */
	char now_text[CBTIME_RFC3339_LEN];
	cbtime_format_rfc3339(time(NULL), now_text);
	struct buf doc;
	buf_init(&doc, 4096);
	buf_printf(&doc,
		   "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"CredbrokerRevokeOlderSessions\","
		   "\"Effect\":\"Deny\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"DateLessThan\":"
		   "{\"aws:TokenIssueTime\":\"%s\"}}}]}",
		   now_text);
	const struct config *cfg = rq->b->cfg;
	int cerr = 0;
	struct iam_client *iam = iam_client_new(cfg->iam_endpoint, &cerr);
	struct sigv4_creds creds = { .access_key_id = akid, .secret_access_key = secret };
	struct sts_error err = { 0 };
	if (iam == NULL)
		r = request_fail(rq, cerr ? cerr : CB_ERR_NOMEM, "IAM client: %s", cb_strerror(cerr));
	else
		r = iam_put_role_policy(iam, &creds, role_name_of(p->role_arn), "credbroker-revoke-sessions",
					buf_str(&doc), &err);
	iam_client_free(iam);
	buf_free(&doc);
	admin_key_release(akid, secret);
	if (r < 0 && err.code[0] != '\0')
		request_fail(rq, r, "IAM refused: %s: %s", err.code, err.message);
	else if (r < 0 && rq->msg.len == 0)
		request_fail(rq, r, "cannot reach IAM: %s", cb_strerror(r));
	if (r == 0 && (!cJSON_AddStringToObject(rq->out, "role_arn", p->role_arn) ||
		       !cJSON_AddStringToObject(rq->out, "revoked_before", now_text)))
		r = CB_ERR_NOMEM;
audit:
	pthread_mutex_lock(&rq->b->state_lock);
	admin_audit(rq, detail, NULL, r);
	pthread_mutex_unlock(&rq->b->state_lock);
	return r;
}

int admin_audit_verify(struct request *rq)
{
	const uint8_t *key;
	size_t key_len;
	size_t records = 0, bad_line = 0;
	struct buf why;
	buf_init(&why, 1024);
	pthread_mutex_lock(&rq->b->state_lock);
	int r = vault_get(rq->b->vault, "audit/mac", NULL, &key, &key_len);
	if (r == 0 && key_len == AUDIT_KEY_BYTES)
		r = audit_verify(rq->b->audit_path, key, &records, &bad_line, &why);
	else
		r = CB_ERR_INTERNAL;
	pthread_mutex_unlock(&rq->b->state_lock);
	if (r == CB_ERR_AUDIT_BROKEN)
		request_fail(rq, r, "%s: first broken record at line %zu: %s", rq->b->audit_path, bad_line,
			     buf_str(&why));
	else if (r < 0)
		request_fail(rq, r, "%s: %s", rq->b->audit_path, why.len ? buf_str(&why) : cb_strerror(r));
	else if (!cJSON_AddNumberToObject(rq->out, "records", (double)records) ||
		 !cJSON_AddStringToObject(rq->out, "path", rq->b->audit_path))
		r = CB_ERR_NOMEM;
	buf_free(&why);
	return r;
}
