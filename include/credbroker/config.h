/* SPDX-License-Identifier: MIT */
#ifndef CREDBROKER_CONFIG_H
#define CREDBROKER_CONFIG_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
/*
 * The broker's JSON configuration (SPEC "Broker configuration"), parsed and
 * validated in full at load: every field, every referenced policy file, and
 * STS's session-policy limits. A loaded struct config is a plain read-only
 * record; every string in it is owned by it and freed by config_free().
 */
struct buf;

#define CONFIG_MAX_BYTES (1024u * 1024u)  /* a config file larger than this is refused */
#define CONFIG_POLICY_MAX_BYTES (64u * 1024u)
#define CONFIG_MAX_PROFILES 1000
#define CONFIG_MAX_ADMINS 64
#define CONFIG_MAX_BUCKETS 100
#define CONFIG_MIN_DURATION 900L          /* STS AssumeRole's DurationSeconds range */
#define CONFIG_MAX_DURATION 43200L

struct config_profile {
	char *name;                  /* [A-Za-z0-9._-]{1,64} */
	char *role_arn;              /* arn:<partition>:iam::<12 digits>:role/<path/name> */
	char *key;                   /* name of the vault key used to call STS */
	char **policy_arns;          /* managed session policies, at most 10 */
	size_t npolicy_arns;
	char *policy_path;           /* resolved relative to the config file's directory; NULL when absent */
	char **confidential_buckets;
	size_t nconfidential_buckets;
	char *session_policy;        /* the inline policy sent to STS: the file plus the
	                              * bucket Deny, minified; NULL when neither */
	long max_duration;           /* seconds, 900..43200, default 3600 */
	bool source_identity;        /* send the user's name as SourceIdentity; default true */
	char *external_id;           /* NULL when absent */
	char *region;                /* AWS_REGION for the session's user; NULL when absent */
};

struct config {
	char *path;                  /* the file it was loaded from */
	char *state_dir;             /* absolute */
	char *socket;                /* default /run/credbroker/broker.sock */
	uid_t *admins;               /* default {0} */
	size_t nadmins;
	char *vault_key_file;        /* NULL: the vault is unlocked with a passphrase */
	char *aws_region;            /* default us-east-1 */
	char *sts_endpoint;          /* default https://sts.<region>.amazonaws.com */
	char *iam_endpoint;          /* default https://iam.amazonaws.com (per partition) */
	char *audit_path;            /* default <state_dir>/audit.jsonl */
	unsigned totp_skew_steps;    /* default 1, at most 10 */
	unsigned totp_max_failures;  /* default 5 */
	unsigned totp_lockout_seconds; /* default 900 */
	char *tls_listen;            /* "HOST:PORT"; the three are all set or all NULL */
	char *tls_cert;
	char *tls_key;
	struct config_profile *profiles; /* in file order */
	size_t nprofiles;
};

/* Read path (at most CONFIG_MAX_BYTES) and every policy file it references,
 * and validate everything. 0 and *ret (free with config_free), or
 * CB_ERR_CONFIG with one line per problem appended to problems (may be
 * NULL), each "FILE: FIELD: what is wrong", all problems rather than the
 * first (at most 100 lines, then a count of the rest). */
int config_load(const char *path, struct config **ret, struct buf *problems);

/* The same from memory: json is len bytes (need not be NUL-terminated);
 * path names the file in problem lines and relative policy paths are
 * resolved against its directory. Same returns as config_load. */
int config_parse(const char *json, size_t len, const char *path, struct config **ret,
		 struct buf *problems);

/* Free c and everything in it; NULL is fine. */
void config_free(struct config *c);

/* The profile called name, or NULL. Borrowed from c. */
const struct config_profile *config_profile_find(const struct config *c, const char *name);

/* The session duration granted for a request of requested seconds: 0 means
 * the profile's max_duration, above max_duration is lowered to it, below
 * 900 (STS's minimum) is raised to 900. */
long config_profile_clamp_duration(const struct config_profile *p, long requested);
#endif
