/* SPDX-License-Identifier: MIT */
/*
 * Issuance: the checks in the order SPEC.md gives them (peer bound to the
 * user, user enabled and not expired, profile granted, TOTP single use with
 * lockout), then STS AssumeRole narrowed by the profile, then the audit
 * record, and only then the credentials. Every refusal is audited too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "credbroker/audit.h"
#include "credbroker/cbtime.h"
#include "credbroker/config.h"
#include "credbroker/err.h"
#include "credbroker/sts.h"
#include "credbroker/totp.h"
#include "credbroker/users.h"
#include "credbroker/vault.h"

#include "broker-internal.h"

#define CODE_INPUT_MAX 32

/* Everything a refusal or an issuance leaves in the audit log. */
struct outcome {
	const char *user;
	const char *profile;
	const char *role_arn;
	long duration;
	const char *access_key_id;
	const char *source_identity;
};

static int audit_issue(struct request *rq, const struct outcome *o, int r)
{
	struct audit_record rec = {
		.event = r == 0 ? "issue" : "refuse",
		.user = o->user,
		.profile = o->profile,
		.role_arn = o->role_arn,
		.duration = o->duration,
		.access_key_id = o->access_key_id,
		.source_identity = o->source_identity,
		.outcome = r == 0 ? "ok" : "refused",
		.reason = r == 0 ? NULL : cb_errname(r),
	};
	return request_audit(rq, &rec);
}

/* A TLS peer's password, checked before the state lock is taken: Argon2id
 * takes a noticeable time and memory, and with the lock held a stream of
 * remote guesses would stall every local request. */
struct password_check {
	bool ok;
	char hash[crypto_pwhash_STRBYTES]; /* the hash it was verified against */
};

/* The vault's hash for name into out (NUL-terminated); false when there is
 * none. Caller holds state_lock. */
static bool password_hash(struct request *rq, const char *name, char out[static crypto_pwhash_STRBYTES])
{
	char entry[VAULT_NAME_MAX + 1];
	const uint8_t *hash;
	size_t hash_len;
	snprintf(entry, sizeof(entry), "password/%s", name);
	if (users_find(rq->b->users, name) == NULL ||
	    vault_get(rq->b->vault, entry, NULL, &hash, &hash_len) != 0 ||
	    hash_len >= crypto_pwhash_STRBYTES)
		return false;
	memcpy(out, hash, hash_len);
	out[hash_len] = '\0';
	return true;
}

/* Verify password against name's hash, taking the state lock only to copy
 * the hash. Unknown users spend what a real check spends, so the answer's
 * timing does not tell which user names exist. Not on the unix socket. */
static void password_verify(struct request *rq, const char *name, const char *password,
			    struct password_check *pc)
{
	pc->ok = false;
	if (!rq->peer->tls || password == NULL)
		return;
	pthread_mutex_lock(&rq->b->state_lock);
	bool found = password_hash(rq, name, pc->hash);
	pthread_mutex_unlock(&rq->b->state_lock);
	if (found) {
		pc->ok = crypto_pwhash_str_verify(pc->hash, password, strlen(password)) == 0;
		return;
	}
	uint8_t burn[32], salt[crypto_pwhash_SALTBYTES] = { 0 };
	if (crypto_pwhash(burn, sizeof(burn), password, strlen(password), salt,
			  crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE,
			  crypto_pwhash_ALG_DEFAULT) == 0)
		sodium_memzero(burn, sizeof(burn));
}

/* One more consecutive failure (a wrong code, or a wrong password over TLS);
 * max_failures of them lock the user, each lock twice as long as the last. */
static void count_failure(const struct config *cfg, struct user *usr, time_t now)
{
	if (++usr->failures >= cfg->totp_max_failures) {
		usr->failures = 0;
		usr->lock_count++;
		usr->locked_until = now + totp_lockout_seconds(cfg->totp_lockout_seconds, usr->lock_count);
	}
}

/* The first factor: on the unix socket the kernel-verified uid bound to the
 * user; over TLS the password verified by password_verify(), against the
 * hash the vault still holds now (a password changed meanwhile does not
 * count). Unknown users and wrong passwords get the same answer. Caller
 * holds state_lock. */
static int check_identity(struct request *rq, struct user *usr, const char *name,
			  const struct password_check *pc, time_t now)
{
	if (!rq->peer->tls) {
		/* "No such user" and "not yours" get the same answer, as in
		 * status: any local uid may ask, and names are not to be probed. */
		if (usr == NULL || usr->uid < 0 || (uid_t)usr->uid != rq->peer->uid)
			return request_fail(rq, CB_ERR_UNAUTHORIZED, "uid %ld is not bound to broker user \"%s\"",
					    (long)rq->peer->uid, name);
		return 0;
	}
	/* Over TLS a password can be guessed online: guesses count against the
	 * same lockout as wrong codes, and a locked user's password is not even
	 * looked at. One answer for all three cases, so that neither a name nor
	 * a lock can be probed. */
	static const char refusal[] = "wrong user name or password, or the user is locked (ask an admin)";
	if (usr != NULL && usr->locked_until > now)
		return request_fail(rq, CB_ERR_UNAUTHORIZED, refusal);
	char stored[crypto_pwhash_STRBYTES];
	bool ok = pc->ok && usr != NULL && password_hash(rq, name, stored) &&
		  strlen(stored) == strlen(pc->hash) && sodium_memcmp(stored, pc->hash, strlen(stored)) == 0;
	sodium_memzero(stored, sizeof(stored));
	if (!ok) {
		/* Only users who can log in over TLS have their count raised:
		 * otherwise anyone could lock a local-only user out remotely. */
		if (usr != NULL && usr->has_password) {
			struct user saved = *usr;
			count_failure(rq->b->cfg, usr, now);
			if (users_save(rq->b->users) < 0) {
				*usr = saved;
				return request_fail(rq, CB_ERR_IO, "cannot record the failed login");
			}
		}
		return request_fail(rq, CB_ERR_UNAUTHORIZED, refusal);
	}
	return 0;
}

/* The grant checks. Caller holds state_lock. */
static int check_user(struct request *rq, const struct user *usr, const char *name, time_t now)
{
	if (usr->disabled)
		return request_fail(rq, CB_ERR_USER_DISABLED, "broker user \"%s\" is disabled", name);
	if (usr->expires != 0 && usr->expires <= now) {
		char t[CBTIME_RFC3339_LEN];
		cbtime_format_rfc3339(usr->expires, t);
		return request_fail(rq, CB_ERR_GRANT_EXPIRED, "access for \"%s\" expired at %s", name, t);
	}
	return 0;
}

/* The second factor. Updates and persists the user's TOTP state before
 * returning, whatever the outcome. Caller holds state_lock. */
static int check_totp(struct request *rq, struct user *usr, const char *code_input, time_t now)
{
	const struct config *cfg = rq->b->cfg;
	if (usr->locked_until > now)
		return request_fail(rq, CB_ERR_LOCKED,
				    "too many wrong codes; locked for %ld more seconds (an admin can run "
				    "'credbroker admin user unlock %s')",
				    (long)(usr->locked_until - now), usr->name);

	char entry[VAULT_NAME_MAX + 1];
	const uint8_t *seed;
	size_t seed_len;
	snprintf(entry, sizeof(entry), "totp/%s", usr->name);
	if (vault_get(rq->b->vault, entry, NULL, &seed, &seed_len) < 0)
		return request_fail(rq, CB_ERR_INTERNAL, "no TOTP secret for \"%s\" (admin user reset-totp)",
				    usr->name);

	char code[TOTP_CODE_LEN];
	int64_t step = -1;
	int r = totp_normalize(code_input, code);
	if (r == 0)
		r = totp_verify(seed, seed_len, code, now, cfg->totp_skew_steps, usr->last_step, &step);
	sodium_memzero(code, sizeof(code));

	struct user saved = *usr;
	if (r == 0) {
		usr->last_step = step;
		usr->failures = 0;
		usr->lock_count = 0;
	} else {
		count_failure(cfg, usr, now);
	}
	/* The accepted step must be on disk before the code is acted on, or a
	 * crash and restart would accept the same code again. */
	int sr = users_save(rq->b->users);
	if (sr < 0) {
		*usr = saved;
		return request_fail(rq, CB_ERR_IO, "cannot record the TOTP state: %s", cb_strerror(sr));
	}
	if (r == CB_ERR_TOTP_REPLAYED)
		return request_fail(rq, r, "that code was already used; wait for the next one");
	if (r < 0 && usr->locked_until > now)
		return request_fail(rq, CB_ERR_LOCKED,
				    "wrong code; too many wrong codes, locked for %ld seconds",
				    (long)(usr->locked_until - now));
	if (r < 0)
		return request_fail(rq, CB_ERR_TOTP_INVALID, "wrong code");
	return 0;
}

/* A sentence that helps with the STS refusals people actually hit. */
static void explain_sts(struct request *rq, int r, const struct sts_error *err,
			const struct config_profile *p)
{
	if (err->code[0] == '\0') {
		request_fail(rq, r, "STS: %s", cb_strerror(r));
		return;
	}
	const char *hint = "";
	if (strcmp(err->code, "AccessDenied") == 0 && p->source_identity)
		hint = " (both the broker's IAM user policy (policies/broker-user-policy.json) and the role's "
		       "trust policy (policies/trust-same-account.json) must allow sts:AssumeRole, "
		       "sts:SetSourceIdentity and sts:TagSession on this role for the broker's IAM user)";
	else if (strcmp(err->code, "InvalidClientTokenId") == 0 ||
		 strcmp(err->code, "SignatureDoesNotMatch") == 0)
		hint = " (the broker's IAM key was rejected: re-add it with 'credbroker admin key add')";
	request_fail(rq, r, "STS refused AssumeRole: %s: %s%s", err->code, err->message, hint);
}

static int add_credentials(struct request *rq, const struct sts_credentials *c, long duration,
			   const struct config_profile *p)
{
	char exp[CBTIME_RFC3339_LEN];
	cbtime_format_rfc3339(c->expiration, exp);
	cJSON *o = rq->out;
	if (!cJSON_AddStringToObject(o, "access_key_id", c->access_key_id) ||
	    !cJSON_AddStringToObject(o, "secret_access_key", c->secret_access_key) ||
	    !cJSON_AddStringToObject(o, "session_token", c->session_token) ||
	    !cJSON_AddStringToObject(o, "expiration", exp) ||
	    !cJSON_AddNumberToObject(o, "duration", (double)duration) ||
	    !cJSON_AddStringToObject(o, "profile", p->name) ||
	    !cJSON_AddStringToObject(o, "role_arn", p->role_arn))
		return CB_ERR_NOMEM;
	if (c->assumed_role_arn && !cJSON_AddStringToObject(o, "assumed_role_arn", c->assumed_role_arn))
		return CB_ERR_NOMEM;
	if (c->source_identity && !cJSON_AddStringToObject(o, "source_identity", c->source_identity))
		return CB_ERR_NOMEM;
	if (p->region && !cJSON_AddStringToObject(o, "region", p->region))
		return CB_ERR_NOMEM;
	return 0;
}

int issue_session(struct request *rq)
{
	const char *name, *profile_name, *code_input, *password = NULL;
	double requested = 0;
	int r;
	struct outcome o = { .duration = -1 };
	if ((r = request_string(rq, "user", USER_NAME_MAX, true, &name)) < 0 ||
	    (r = request_string(rq, "password", BROKER_PASSWORD_MAX, rq->peer->tls, &password)) < 0 ||
	    (r = request_string(rq, "profile", 64, true, &profile_name)) < 0 ||
	    (r = request_string(rq, "code", CODE_INPUT_MAX, true, &code_input)) < 0 ||
	    (r = request_number(rq, "duration", 0, 43200, false, &requested)) < 0) {
		pthread_mutex_lock(&rq->b->state_lock);
		audit_issue(rq, &o, r);
		pthread_mutex_unlock(&rq->b->state_lock);
		return r;
	}
	o.user = name;
	o.profile = profile_name;

	const struct config_profile *p = config_profile_find(rq->b->cfg, profile_name);
	time_t now = time(NULL);
	char *akid = NULL, *secret = NULL;

	struct password_check pc;
	password_verify(rq, name, password, &pc);
	pthread_mutex_lock(&rq->b->state_lock);
	struct user *usr = users_find(rq->b->users, name);
	r = check_identity(rq, usr, name, &pc, now);
	sodium_memzero(&pc, sizeof(pc));
	if (r < 0 || (r = check_user(rq, usr, name, now)) < 0)
		goto refuse;
	if (p == NULL) {
		r = request_fail(rq, CB_ERR_PROFILE_UNKNOWN, "no profile \"%.64s\"", profile_name);
		goto refuse;
	}
	o.role_arn = p->role_arn;
	if (!users_has_profile(usr, profile_name)) {
		r = request_fail(rq, CB_ERR_NOT_GRANTED, "profile \"%s\" is not granted to \"%s\"",
				 profile_name, name);
		goto refuse;
	}
	if ((r = check_totp(rq, usr, code_input, now)) < 0)
		goto refuse;
	if ((r = admin_key_borrow(rq, p->key, &akid, &secret)) < 0)
		goto refuse;
	pthread_mutex_unlock(&rq->b->state_lock);

	/* The network call runs without the state lock. */
	long duration = config_profile_clamp_duration(p, (long)requested);
	o.duration = duration;
	struct sts_tag tags[] = { { "credbroker-user", name }, { "credbroker-profile", p->name } };
	const char *transitive[] = { "credbroker-user" };
	struct sts_assume_role_params params = {
		.role_arn = p->role_arn,
		.role_session_name = name,
		.duration_seconds = duration,
		.policy = p->session_policy,
		.policy_arns = (const char *const *)p->policy_arns,
		.npolicy_arns = p->npolicy_arns,
		.external_id = p->external_id,
		.source_identity = p->source_identity ? name : NULL,
		.tags = tags,
		.ntags = 2,
		.transitive_tag_keys = transitive,
		.ntransitive_tag_keys = 1,
	};
	struct sigv4_creds key = { .access_key_id = akid, .secret_access_key = secret };
	struct sts_credentials *creds = NULL;
	struct sts_error err = { 0 };
	const struct config *cfg = rq->b->cfg;
	int cerr = 0;
	struct sts_client *sts = sts_client_new(cfg->aws_region, cfg->sts_endpoint, &cerr);
	if (sts == NULL)
		r = request_fail(rq, cerr ? cerr : CB_ERR_NOMEM, "STS client: %s", cb_strerror(cerr));
	else if ((r = sts_assume_role(sts, &key, &params, &creds, &err)) < 0)
		explain_sts(rq, r, &err, p);
	sts_client_free(sts);
	admin_key_release(akid, secret);

	pthread_mutex_lock(&rq->b->state_lock);
	if (r < 0)
		goto refuse;
	o.access_key_id = creds->access_key_id;
	o.source_identity = params.source_identity;
	/* No record, no credentials. */
	if ((r = audit_issue(rq, &o, 0)) < 0) {
		request_fail(rq, CB_ERR_AUDIT_UNAVAILABLE,
			     "the audit log cannot be written; no credentials are issued until it can");
		r = CB_ERR_AUDIT_UNAVAILABLE;
		pthread_mutex_unlock(&rq->b->state_lock);
		sts_credentials_free(creds);
		return r;
	}
	pthread_mutex_unlock(&rq->b->state_lock);
	r = add_credentials(rq, creds, duration, p);
	sts_credentials_free(creds);
	return r;

refuse:
	audit_issue(rq, &o, r);
	pthread_mutex_unlock(&rq->b->state_lock);
	return r;
}

int issue_status(struct request *rq)
{
	const char *name, *password = NULL;
	int r = request_string(rq, "user", USER_NAME_MAX, true, &name);
	if (r == 0)
		r = request_string(rq, "password", BROKER_PASSWORD_MAX, rq->peer->tls, &password);
	if (r < 0)
		return r;
	time_t now = time(NULL);
	struct password_check pc;
	password_verify(rq, name, password, &pc);
	pthread_mutex_lock(&rq->b->state_lock);
	struct user *usr = users_find(rq->b->users, name);
	if (rq->peer->tls) {
		r = check_identity(rq, usr, name, &pc, now);
		sodium_memzero(&pc, sizeof(pc));
		if (r < 0)
			goto out;
	} else if (usr == NULL || ((usr->uid < 0 || (uid_t)usr->uid != rq->peer->uid) && !request_is_admin(rq))) {
		/* The same answer for "no such user" and "not yours": names are
		 * not to be probed. */
		r = request_fail(rq, CB_ERR_UNAUTHORIZED, "uid %ld is not bound to broker user \"%s\"",
				 (long)rq->peer->uid, name);
		goto out;
	}
	char t[CBTIME_RFC3339_LEN];
	cJSON *grants = cJSON_AddArrayToObject(rq->out, "grants");
	r = CB_ERR_NOMEM;
	if (grants == NULL || !cJSON_AddStringToObject(rq->out, "user", usr->name) ||
	    !cJSON_AddBoolToObject(rq->out, "disabled", usr->disabled))
		goto out;
	if (usr->expires) {
		cbtime_format_rfc3339(usr->expires, t);
		if (!cJSON_AddStringToObject(rq->out, "expires", t))
			goto out;
	}
	if (usr->locked_until > now) {
		cbtime_format_rfc3339(usr->locked_until, t);
		if (!cJSON_AddStringToObject(rq->out, "locked_until", t))
			goto out;
	}
	for (size_t i = 0; i < usr->nprofiles; i++) {
		const struct config_profile *p = config_profile_find(rq->b->cfg, usr->profiles[i]);
		cJSON *g = cJSON_CreateObject();
		if (g == NULL || !cJSON_AddItemToArray(grants, g) ||
		    !cJSON_AddStringToObject(g, "profile", usr->profiles[i]))
			goto out;
		if (p != NULL && (!cJSON_AddStringToObject(g, "role_arn", p->role_arn) ||
				  !cJSON_AddNumberToObject(g, "max_duration", (double)p->max_duration)))
			goto out;
		if (p == NULL && !cJSON_AddBoolToObject(g, "missing", true))
			goto out;
	}
	r = 0;
out:
	pthread_mutex_unlock(&rq->b->state_lock);
	return r;
}
