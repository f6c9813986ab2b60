/* SPDX-License-Identifier: MIT */
#ifndef CREDBROKER_BROKER_INTERNAL_H
#define CREDBROKER_BROKER_INTERNAL_H

/*
 * What broker.c shares with the operations it dispatches to (admin.c,
 * issue.c). Not a public interface.
 */
#include <pthread.h>
#include <stdbool.h>

#include <cjson/cJSON.h>

#include "credbroker/broker.h"
#include "credbroker/buf.h"
#include "credbroker/server.h"

/* Longest password a user may have (bytes). */
#define BROKER_PASSWORD_MAX 1024

struct config;
struct vault;
struct users;
struct audit;

struct broker {
	/* The config is read by every request and replaced by a reload: a
	 * read lock for the whole request, the write lock to swap it. */
	pthread_rwlock_t cfg_lock;
	struct config *cfg;
	char *config_path;

	/* Vault, users and the audit chain change together: one mutex, held
	 * only for in-memory work and the state-file writes, never across a
	 * network call. */
	pthread_mutex_t state_lock;
	struct vault *vault;
	struct users *users;
	struct audit *audit;
	char *audit_path;
	char *users_path;
	int state_lock_fd;  /* flock on <state_dir>/lock: one daemon per state */
};

/* One request in flight. */
struct request {
	struct broker *b;
	const struct server_peer *peer;
	const cJSON *in;   /* the request object */
	cJSON *out;        /* the response object; "ok" is added by the dispatcher */
	struct buf msg;    /* the error message when an op fails; cb_strerror() when empty */
};

/* Field access with the checks every op needs. Each returns 0 or
 * CB_ERR_INVALID with a message in rq->msg naming the field. */
int request_string(struct request *rq, const char *field, size_t maxlen, bool required,
		   const char **ret);
int request_number(struct request *rq, const char *field, double lo, double hi, bool required,
		   double *ret);

/* Set rq->msg (printf-style) and return err, for "return fail(rq, ...)". */
int request_fail(struct request *rq, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Is the peer an admin (its uid listed in admins)? */
bool request_is_admin(const struct request *rq);

/* Append an audit record with the peer filled in; returns the audit
 * result (CB_ERR_AUDIT_UNAVAILABLE). Caller holds state_lock. */
struct audit_record;
int request_audit(struct request *rq, struct audit_record *rec);

/* Copy the long-term key key_name out of the vault for a call made without
 * the state lock (caller holds state_lock while borrowing). The secret is in
 * sodium_malloc memory; give both back with admin_key_release(). */
int admin_key_borrow(struct request *rq, const char *key_name, char **ret_akid, char **ret_secret);
void admin_key_release(char *akid, char *secret);

/* The operations. */
int admin_key_add(struct request *rq);
int admin_key_list(struct request *rq);
int admin_key_remove(struct request *rq);
int admin_user_add(struct request *rq);
int admin_user_list(struct request *rq);
int admin_user_disable(struct request *rq);
int admin_user_enable(struct request *rq);
int admin_user_remove(struct request *rq);
int admin_user_unlock(struct request *rq);
int admin_user_reset_totp(struct request *rq);
int admin_revoke_sessions(struct request *rq);
int admin_audit_verify(struct request *rq);
int issue_session(struct request *rq);
int issue_status(struct request *rq);

#endif
