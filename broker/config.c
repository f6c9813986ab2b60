/* SPDX-License-Identifier: MIT */
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "credbroker/buf.h"
#include "credbroker/cbtime.h"
#include "credbroker/config.h"
#include "credbroker/err.h"
#include "credbroker/file.h"
#include "credbroker/policy.h"

#include "config-syntax.h"

#define MAX_PROBLEM_LINES 100
#define FIELD_MAX 160
#define NAME_RULE "1 to 64 of A-Z a-z 0-9 . _ -, starting with a letter or digit"

/* One load: where problems go and how many there were. */
struct ctx {
	const char *file;     /* the config path, as given */
	char base_dir[PATH_MAX];
	struct buf *problems; /* may be NULL */
	unsigned nproblems;
	bool nomem;
};

/* Append "FILE: FIELD: what\n" (or "FILE: what" when field is NULL). */
__attribute__((format(printf, 4, 5)))
static void problem_in(struct ctx *x, const char *file, const char *field, const char *fmt, ...)
{
	x->nproblems++;
	if (x->problems == NULL || x->nproblems > MAX_PROBLEM_LINES)
		return;
	va_list ap;
	va_start(ap, fmt);
	buf_printf(x->problems, "%s: ", file);
	if (field != NULL)
		buf_printf(x->problems, "%s: ", field);
	buf_vprintf(x->problems, fmt, ap);
	buf_putc(x->problems, '\n');
	va_end(ap);
}

#define problem(x, field, ...) problem_in((x), (x)->file, (field), __VA_ARGS__)

static char *dup(struct ctx *x, const char *s)
{
	char *d = strdup(s);
	if (d == NULL)
		x->nomem = true;
	return d;
}

/* "prefix.key" into out; keys are shown only when they are tame. */
static const char *field(char out[static FIELD_MAX], const char *prefix, const char *key)
{
	bool tame = strlen(key) <= CONFIG_NAME_MAX;
	for (const char *p = key; *p != '\0' && tame; p++)
		tame = *p > 0x20 && *p < 0x7f;
	snprintf(out, FIELD_MAX, "%s%s%s", prefix, prefix[0] != '\0' ? "." : "",
		 tame ? key : "(unprintable key)");
	return out;
}

/* Every key of obj must be in allowed (NULL-terminated, at most 16) and
 * given once. */
static void check_keys(struct ctx *x, const cJSON *obj, const char *prefix, const char *const *allowed)
{
	char f[FIELD_MAX];
	bool seen[16] = { false };
	for (const cJSON *c = obj->child; c != NULL; c = c->next) {
		size_t i;
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(c->string, allowed[i]) == 0)
				break;
		if (allowed[i] == NULL)
			problem(x, field(f, prefix, c->string), "unknown key");
		else if (seen[i])
			problem(x, field(f, prefix, c->string), "given twice");
		else
			seen[i] = true;
	}
}

static bool printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* The typed getters: each returns the value (borrowed from the tree) or
 * NULL / the default when the key is absent or wrong, reporting why. */

static const cJSON *get_object(struct ctx *x, const cJSON *obj, const char *key, const char *prefix,
			       bool required)
{
	char f[FIELD_MAX];
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (v == NULL) {
		if (required)
			problem(x, field(f, prefix, key), "missing (required)");
		return NULL;
	}
	if (!cJSON_IsObject(v)) {
		problem(x, field(f, prefix, key), "not an object");
		return NULL;
	}
	return v;
}

static const char *string_value(struct ctx *x, const cJSON *v, const char *f, size_t max)
{
	if (!cJSON_IsString(v)) {
		problem(x, f, "not a string");
		return NULL;
	}
	if (v->valuestring[0] == '\0') {
		problem(x, f, "empty");
		return NULL;
	}
	if (strlen(v->valuestring) > max) {
		problem(x, f, "longer than %zu characters", max);
		return NULL;
	}
	if (!printable(v->valuestring)) {
		problem(x, f, "contains control characters");
		return NULL;
	}
	return v->valuestring;
}

static const char *get_string(struct ctx *x, const cJSON *obj, const char *key, const char *prefix,
			      bool required, size_t max)
{
	char f[FIELD_MAX];
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (v == NULL) {
		if (required)
			problem(x, field(f, prefix, key), "missing (required)");
		return NULL;
	}
	return string_value(x, v, field(f, prefix, key), max);
}

/* An absolute path, copied; NULL when absent or bad. */
static char *get_abs_path(struct ctx *x, const cJSON *obj, const char *key, const char *prefix,
			  bool required)
{
	char f[FIELD_MAX];
	const char *s = get_string(x, obj, key, prefix, required, PATH_MAX - 1);
	if (s == NULL)
		return NULL;
	if (s[0] != '/') {
		problem(x, field(f, prefix, key), "not an absolute path");
		return NULL;
	}
	return dup(x, s);
}

/* An integer in min..max, or def when absent. */
static long get_integer(struct ctx *x, const cJSON *obj, const char *key, const char *prefix,
			long min, long max, long def)
{
	char f[FIELD_MAX];
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (v == NULL)
		return def;
	if (!cJSON_IsNumber(v)) {
		problem(x, field(f, prefix, key), "not a number");
		return def;
	}
	/* Range first: converting an out-of-range double is undefined. */
	if (!(v->valuedouble >= (double)min && v->valuedouble <= (double)max) ||
	    (double)(long)v->valuedouble != v->valuedouble) {
		problem(x, field(f, prefix, key), "not a whole number in %ld..%ld", min, max);
		return def;
	}
	return (long)v->valuedouble;
}

/* A duration: whole seconds as a number, or "900", "15m", "1h", "12h". */
static long get_duration(struct ctx *x, const cJSON *obj, const char *key, const char *prefix,
			 long min, long max, long def)
{
	char f[FIELD_MAX];
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (v == NULL)
		return def;
	field(f, prefix, key);
	long secs;
	if (cJSON_IsNumber(v)) {
		if (!(v->valuedouble >= 0 && v->valuedouble <= 1e9) ||
		    (double)(long)v->valuedouble != v->valuedouble) {
			problem(x, f, "not a whole number of seconds");
			return def;
		}
		secs = (long)v->valuedouble;
	} else if (cJSON_IsString(v)) {
		if (cbtime_parse_duration(v->valuestring, &secs) < 0) {
			problem(x, f, "not a duration (seconds, or a number with s, m or h: 15m, 1h, 12h)");
			return def;
		}
	} else {
		problem(x, f, "not a duration (seconds, or a number with s, m or h: 15m, 1h, 12h)");
		return def;
	}
	if (secs < min || secs > max) {
		problem(x, f, "%ld seconds is outside %ld..%ld", secs, min, max);
		return def;
	}
	return secs;
}

/* A list of strings (at most max), each checked by valid; copied into
 * *ret_list. what describes one element for the error message. */
static void get_string_list(struct ctx *x, const cJSON *obj, const char *key, const char *prefix,
			    size_t max, bool (*valid)(const char *), const char *what,
			    char ***ret_list, size_t *ret_n)
{
	char f[FIELD_MAX], ef[FIELD_MAX + 16];
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (v == NULL)
		return;
	field(f, prefix, key);
	if (!cJSON_IsArray(v)) {
		problem(x, f, "not a list of strings");
		return;
	}
	size_t n = (size_t)cJSON_GetArraySize(v);
	if (n > max) {
		problem(x, f, "%zu entries, at most %zu allowed", n, max);
		return;
	}
	char **list = calloc(n ? n : 1, sizeof(*list));
	if (list == NULL) {
		x->nomem = true;
		return;
	}
	size_t i = 0;
	for (const cJSON *e = v->child; e != NULL; e = e->next, i++) {
		snprintf(ef, sizeof(ef), "%s[%zu]", f, i);
		const char *s = string_value(x, e, ef, 2048);
		if (s == NULL)
			continue;
		if (!valid(s)) {
			problem(x, ef, "not %s", what);
			continue;
		}
		list[i] = dup(x, s);
	}
	*ret_list = list;
	*ret_n = n;
}

static void free_list(char **list, size_t n)
{
	for (size_t i = 0; list != NULL && i < n; i++)
		free(list[i]);
	free(list);
}

/* True when the built session policy has an Allow statement. Session
 * policies only narrow: with no Allow in them and no managed policy ARNs,
 * every request of the session is denied, which is never what was meant. */
static bool session_policy_allows(struct ctx *x, const char *policy)
{
	cJSON *j = cJSON_Parse(policy);
	if (j == NULL) {
		x->nomem = true; /* policy_build's own output: only memory can fail */
		return true;
	}
	bool allows = false;
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "Statement");
	const cJSON *s = cJSON_IsObject(st) ? st : st != NULL ? st->child : NULL;
	for (; s != NULL && !allows; s = cJSON_IsObject(st) ? NULL : s->next)
		allows = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(s, "Effect")) &&
			 strcmp(cJSON_GetObjectItemCaseSensitive(s, "Effect")->valuestring, "Allow") == 0;
	cJSON_Delete(j);
	return allows;
}

/* Load the profile's policy file and build its session policy; check it
 * and the ARNs against STS's limits. */
static void profile_policy(struct ctx *x, struct config_profile *p, const char *field_prefix,
			   const char *policy_label)
{
	struct buf doc, out, why;
	buf_init(&doc, CONFIG_POLICY_MAX_BYTES);
	buf_init(&out, CONFIG_POLICY_MAX_BYTES);
	buf_init(&why, 4096);
	char f[FIELD_MAX];
	field(f, field_prefix, "policy");

	if (p->policy_path != NULL) {
		int r = file_read(p->policy_path, CONFIG_POLICY_MAX_BYTES, &doc);
		if (r == CB_ERR_NOT_FOUND) {
			problem(x, f, "%s: no such file", policy_label);
			goto out;
		} else if (r == CB_ERR_TOO_LARGE) {
			problem(x, f, "%s: larger than %u bytes", policy_label, CONFIG_POLICY_MAX_BYTES);
			goto out;
		} else if (r == CB_ERR_INVALID) {
			problem(x, f, "%s: not a regular file", policy_label);
			goto out;
		} else if (r < 0) {
			problem(x, f, "%s: cannot be read", policy_label);
			goto out;
		}
	}
	if (p->policy_path != NULL || p->nconfidential_buckets > 0) {
		int r = policy_build(p->policy_path != NULL ? buf_str(&doc) : NULL, doc.len,
				     (const char *const *)p->confidential_buckets,
				     p->nconfidential_buckets, &out, &why);
		if (r == CB_ERR_NOMEM) {
			x->nomem = true;
			goto out;
		}
		if (r < 0) {
			/* One problem per line policy_build gave. */
			const char *s = buf_str(&why);
			while (*s != '\0') {
				size_t n = strcspn(s, "\n");
				problem_in(x, policy_label, NULL, "%.*s", (int)n, s);
				s += n + (s[n] == '\n');
			}
			goto out;
		}
		p->session_policy = buf_steal(&out);
		if (p->session_policy == NULL) {
			x->nomem = true;
			goto out;
		}
	}
	if (p->session_policy != NULL && p->npolicy_arns == 0 &&
	    !session_policy_allows(x, p->session_policy))
		problem(x, field_prefix, "the session policy allows nothing and there are no policy_arns: "
			"every request would be denied (add policy_arns or an Allow statement)");
	buf_reset(&why);
	if (policy_check_limits(p->session_policy ? strlen(p->session_policy) : 0,
				(const char *const *)p->policy_arns, p->npolicy_arns, &why) < 0) {
		const char *s = buf_str(&why);
		while (*s != '\0') {
			size_t n = strcspn(s, "\n");
			problem(x, field_prefix, "%.*s", (int)n, s);
			s += n + (s[n] == '\n');
		}
	}
out:
	buf_free(&doc);
	buf_free(&out);
	buf_free(&why);
}

static void parse_profile(struct ctx *x, const cJSON *v, const char *prefix, struct config_profile *p)
{
	static const char *const keys[] = { "role_arn", "key", "policy_arns", "policy",
		"confidential_buckets", "max_duration", "source_identity", "external_id", "region", NULL };
	char f[FIELD_MAX];
	if (!cJSON_IsObject(v)) {
		problem(x, prefix, "not an object");
		return;
	}
	unsigned before = x->nproblems;
	check_keys(x, v, prefix, keys);

	const char *partition = NULL;
	const char *s = get_string(x, v, "role_arn", prefix, true, 2048);
	if (s != NULL && !config_role_arn_valid(s, &partition))
		problem(x, field(f, prefix, "role_arn"),
			"not an IAM role ARN (arn:aws:iam::<12 digits>:role/NAME)");
	else if (s != NULL)
		p->role_arn = dup(x, s);

	s = get_string(x, v, "key", prefix, true, CONFIG_NAME_MAX);
	if (s != NULL && !config_name_valid(s))
		problem(x, field(f, prefix, "key"), "not a key name (" NAME_RULE ")");
	else if (s != NULL)
		p->key = dup(x, s);

	get_string_list(x, v, "policy_arns", prefix, SIZE_MAX, config_policy_arn_valid,
			"an IAM policy ARN (arn:aws:iam::aws|<12 digits>:policy/NAME)",
			&p->policy_arns, &p->npolicy_arns);
	get_string_list(x, v, "confidential_buckets", prefix, CONFIG_MAX_BUCKETS, policy_bucket_name_valid,
			"an S3 bucket name (3 to 63 of a-z, 0-9, '.', '-')",
			&p->confidential_buckets, &p->nconfidential_buckets);
	/* STS refuses managed policies from another partition than the role's. */
	for (size_t i = 0; partition != NULL && i < p->npolicy_arns; i++) {
		size_t n = strlen(partition);
		if (p->policy_arns[i] != NULL && (strncmp(p->policy_arns[i] + 4, partition, n) != 0 ||
						  p->policy_arns[i][4 + n] != ':')) {
			char ef[FIELD_MAX + 16];
			snprintf(ef, sizeof(ef), "%s[%zu]", field(f, prefix, "policy_arns"), i);
			problem(x, ef, "not in the role's partition (%s)", partition);
		}
	}
	if (p->nconfidential_buckets > 0 && partition != NULL && strcmp(partition, "aws") != 0)
		problem(x, field(f, prefix, "confidential_buckets"),
			"supported only for roles in the aws partition (the Deny names arn:aws:s3:::)");

	const char *rel = get_string(x, v, "policy", prefix, false, PATH_MAX - 1);
	char path[PATH_MAX];
	if (rel != NULL) {
		int n = rel[0] == '/' || strcmp(x->base_dir, ".") == 0
			? snprintf(path, sizeof(path), "%s", rel)
			: snprintf(path, sizeof(path), "%s/%s", x->base_dir, rel);
		if (n < 0 || (size_t)n >= sizeof(path))
			problem(x, field(f, prefix, "policy"), "path too long");
		else
			p->policy_path = dup(x, path);
	}

	p->max_duration = get_duration(x, v, "max_duration", prefix, CONFIG_MIN_DURATION,
				       CONFIG_MAX_DURATION, 3600);
	p->source_identity = true;
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(v, "source_identity");
	if (b != NULL && !cJSON_IsBool(b))
		problem(x, field(f, prefix, "source_identity"), "not true or false");
	else if (b != NULL)
		p->source_identity = cJSON_IsTrue(b);

	s = get_string(x, v, "external_id", prefix, false, 1224);
	if (s != NULL && !config_external_id_valid(s))
		problem(x, field(f, prefix, "external_id"),
			"not an external ID (2 to 1224 of A-Z a-z 0-9 _+=,.@:/-)");
	else if (s != NULL)
		p->external_id = dup(x, s);

	s = get_string(x, v, "region", prefix, false, 32);
	if (s != NULL && !config_region_valid(s))
		problem(x, field(f, prefix, "region"), "not an AWS region (like eu-west-1)");
	else if (s != NULL)
		p->region = dup(x, s);

	/* The session policy only from fields that are themselves right. */
	if (x->nproblems == before && !x->nomem)
		profile_policy(x, p, prefix, p->policy_path != NULL ? p->policy_path : x->file);
}

static void parse_profiles(struct ctx *x, const cJSON *root, struct config *c)
{
	char f[FIELD_MAX];
	const cJSON *profiles = get_object(x, root, "profiles", "", true);
	if (profiles == NULL)
		return;
	size_t n = (size_t)cJSON_GetArraySize(profiles);
	if (n == 0) {
		problem(x, "profiles", "no profiles defined");
		return;
	}
	if (n > CONFIG_MAX_PROFILES) {
		problem(x, "profiles", "%zu profiles, at most %d allowed", n, CONFIG_MAX_PROFILES);
		return;
	}
	c->profiles = calloc(n, sizeof(*c->profiles));
	if (c->profiles == NULL) {
		x->nomem = true;
		return;
	}
	c->nprofiles = n;
	size_t i = 0;
	for (const cJSON *v = profiles->child; v != NULL; v = v->next, i++) {
		if (!config_name_valid(v->string)) {
			snprintf(f, sizeof(f), "profiles[%zu]", i);
			problem(x, f, "not a profile name (" NAME_RULE ")");
			continue;
		}
		field(f, "profiles", v->string);
		bool twice = false;
		for (const cJSON *d = profiles->child; d != v && !twice; d = d->next)
			twice = strcmp(d->string, v->string) == 0;
		if (twice) {
			problem(x, f, "given twice");
			continue;
		}
		c->profiles[i].name = dup(x, v->string);
		parse_profile(x, v, f, &c->profiles[i]);
	}
}

static void parse_admins(struct ctx *x, const cJSON *root, struct config *c)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "admins");
	size_t n = v != NULL && cJSON_IsArray(v) ? (size_t)cJSON_GetArraySize(v) : 1;
	if (v != NULL && !cJSON_IsArray(v)) {
		problem(x, "admins", "not a list of uids");
		return;
	}
	if (n == 0 || n > CONFIG_MAX_ADMINS) {
		problem(x, "admins", "%zu uids; give 1 to %d (or leave admins out for [0])", n,
			CONFIG_MAX_ADMINS);
		return;
	}
	c->admins = calloc(n, sizeof(*c->admins));
	if (c->admins == NULL) {
		x->nomem = true;
		return;
	}
	c->nadmins = n;
	if (v == NULL)
		return; /* the default: root */
	size_t i = 0;
	for (const cJSON *e = v->child; e != NULL; e = e->next, i++) {
		/* (uid_t)-1 is not a uid: it means "unchanged" to chown(2). */
		if (!cJSON_IsNumber(e) || !(e->valuedouble >= 0 && e->valuedouble <= 4294967294.0) ||
		    (double)(long)e->valuedouble != e->valuedouble) {
			char f[FIELD_MAX];
			snprintf(f, sizeof(f), "admins[%zu]", i);
			problem(x, f, "not a uid (a whole number 0..4294967294)");
			continue;
		}
		c->admins[i] = (uid_t)e->valuedouble;
	}
}

static void parse_aws(struct ctx *x, const cJSON *root, struct config *c)
{
	static const char *const keys[] = { "region", "sts_endpoint", "iam_endpoint", NULL };
	const cJSON *aws = get_object(x, root, "aws", "", false);
	if (aws != NULL)
		check_keys(x, aws, "aws", keys);
	const char *region = aws ? get_string(x, aws, "region", "aws", false, 32) : NULL;
	if (region != NULL && !config_region_valid(region)) {
		problem(x, "aws.region", "not an AWS region (like eu-west-1)");
		region = NULL;
	}
	if (region == NULL)
		region = "us-east-1";
	c->aws_region = dup(x, region);

	char url[128];
	static const char *const names[] = { "sts_endpoint", "iam_endpoint" };
	char **outs[] = { &c->sts_endpoint, &c->iam_endpoint };
	for (size_t i = 0; i < 2; i++) {
		char f[FIELD_MAX];
		const char *e = aws ? get_string(x, aws, names[i], "aws", false, 1024) : NULL;
		if (e != NULL) {
			const char *why = config_endpoint_problem(e);
			if (why != NULL)
				problem(x, field(f, "aws", names[i]), "%s", why);
			else
				*outs[i] = dup(x, e);
			continue;
		}
		/* The partition's public endpoints. */
		bool cn = strncmp(region, "cn-", 3) == 0, gov = strncmp(region, "us-gov-", 7) == 0;
		if (i == 0)
			snprintf(url, sizeof(url), "https://sts.%s.amazonaws.com%s", region, cn ? ".cn" : "");
		else
			snprintf(url, sizeof(url), "%s", cn ? "https://iam.cn-north-1.amazonaws.com.cn"
						   : gov ? "https://iam.us-gov.amazonaws.com"
							 : "https://iam.amazonaws.com");
		*outs[i] = dup(x, url);
	}
}

static void parse_tls(struct ctx *x, const cJSON *root, struct config *c)
{
	static const char *const keys[] = { "listen", "cert", "key", NULL };
	const cJSON *tls = get_object(x, root, "tls", "", false);
	if (tls == NULL)
		return;
	check_keys(x, tls, "tls", keys);
	const char *listen = get_string(x, tls, "listen", "tls", false, 300);
	if (listen != NULL && !config_listen_valid(listen))
		problem(x, "tls.listen", "not HOST:PORT");
	else if (listen != NULL)
		c->tls_listen = dup(x, listen);
	c->tls_cert = get_abs_path(x, tls, "cert", "tls", false);
	c->tls_key = get_abs_path(x, tls, "key", "tls", false);
	bool have[3] = { cJSON_HasObjectItem(tls, "listen"), cJSON_HasObjectItem(tls, "cert"),
			 cJSON_HasObjectItem(tls, "key") };
	if ((have[0] || have[1] || have[2]) && !(have[0] && have[1] && have[2]))
		problem(x, "tls", "listen, cert and key must be given together (missing:%s%s%s)",
			have[0] ? "" : " listen", have[1] ? "" : " cert", have[2] ? "" : " key");
}

static void parse_root(struct ctx *x, const cJSON *root, struct config *c)
{
	static const char *const keys[] = { "state_dir", "socket", "admins", "vault", "aws", "audit",
		"totp", "tls", "profiles", NULL };
	check_keys(x, root, "", keys);

	c->state_dir = get_abs_path(x, root, "state_dir", "", true);
	c->socket = get_abs_path(x, root, "socket", "", false);
	if (c->socket == NULL)
		c->socket = dup(x, "/run/credbroker/broker.sock");
	parse_admins(x, root, c);

	static const char *const vault_keys[] = { "key_file", NULL };
	const cJSON *vault = get_object(x, root, "vault", "", true);
	if (vault != NULL) {
		check_keys(x, vault, "vault", vault_keys);
		c->vault_key_file = get_abs_path(x, vault, "key_file", "vault", false);
	}

	parse_aws(x, root, c);

	static const char *const audit_keys[] = { "path", NULL };
	const cJSON *audit = get_object(x, root, "audit", "", false);
	if (audit != NULL) {
		check_keys(x, audit, "audit", audit_keys);
		c->audit_path = get_abs_path(x, audit, "path", "audit", false);
	}
	if (c->audit_path == NULL && c->state_dir != NULL) {
		struct buf b;
		buf_init(&b, PATH_MAX + 16);
		size_t n = strlen(c->state_dir);
		if (buf_append(&b, c->state_dir, n > 1 && c->state_dir[n - 1] == '/' ? n - 1 : n) < 0 ||
		    buf_puts(&b, "/audit.jsonl") < 0)
			x->nomem = true;
		else if ((c->audit_path = buf_steal(&b)) == NULL)
			x->nomem = true;
		buf_free(&b);
	}

	static const char *const totp_keys[] = { "skew_steps", "max_failures", "lockout_seconds", NULL };
	const cJSON *totp = get_object(x, root, "totp", "", false);
	if (totp != NULL)
		check_keys(x, totp, "totp", totp_keys);
	c->totp_skew_steps = (unsigned)get_integer(x, totp, "skew_steps", "totp", 0, 10, 1);
	c->totp_max_failures = (unsigned)get_integer(x, totp, "max_failures", "totp", 1, 100, 5);
	c->totp_lockout_seconds =
		(unsigned)get_duration(x, totp, "lockout_seconds", "totp", 1, 7L * 24 * 3600, 900);

	parse_tls(x, root, c);
	parse_profiles(x, root, c);
}

/* 1-based line of offset off in s. */
static unsigned line_of(const char *s, size_t off)
{
	unsigned line = 1;
	for (size_t i = 0; i < off; i++)
		line += s[i] == '\n';
	return line;
}

static cJSON *parse_json(struct ctx *x, const char *json, size_t len)
{
	if (len > CONFIG_MAX_BYTES) {
		problem(x, NULL, "larger than %u bytes", CONFIG_MAX_BYTES);
		return NULL;
	}
	if (memchr(json, '\0', len) != NULL) {
		problem(x, NULL, "not JSON (contains a NUL byte)");
		return NULL;
	}
	/* cJSON would cut the string at a \u0000 and validate the prefix. */
	if (memmem(json, len, "\\u0000", 6) != NULL) {
		problem(x, NULL, "contains a \\u0000 escape");
		return NULL;
	}
	char *copy = malloc(len + 1);
	if (copy == NULL) {
		x->nomem = true;
		return NULL;
	}
	memcpy(copy, json, len);
	copy[len] = '\0';
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(copy, len + 1, &end, false);
	if (root == NULL) {
		size_t off = end != NULL && end >= copy && end <= copy + len ? (size_t)(end - copy) : len;
		problem(x, NULL, "not JSON (line %u)", line_of(copy, off));
	} else {
		size_t off = (size_t)(end - copy);
		while (off < len && strchr(" \t\r\n", copy[off]) != NULL)
			off++;
		if (off < len) {
			problem(x, NULL, "not JSON (line %u: data after the document)", line_of(copy, off));
			cJSON_Delete(root);
			root = NULL;
		} else if (!cJSON_IsObject(root)) {
			problem(x, NULL, "not a JSON object");
			cJSON_Delete(root);
			root = NULL;
		}
	}
	free(copy);
	return root;
}

static void summarize(struct ctx *x)
{
	if (x->problems != NULL && x->nproblems > MAX_PROBLEM_LINES)
		buf_printf(x->problems, "%s: %u more problems not shown\n", x->file,
			   x->nproblems - MAX_PROBLEM_LINES);
}

int config_parse(const char *json, size_t len, const char *path, struct config **ret,
		 struct buf *problems)
{
	struct ctx x = { .file = path, .problems = problems };
	const char *slash = strrchr(path, '/');
	if (slash == NULL)
		snprintf(x.base_dir, sizeof(x.base_dir), ".");
	else
		snprintf(x.base_dir, sizeof(x.base_dir), "%.*s", slash == path ? 1 : (int)(slash - path),
			 path);

	cJSON *root = parse_json(&x, json, len);
	if (root == NULL) {
		summarize(&x);
		return x.nomem ? CB_ERR_NOMEM : CB_ERR_CONFIG;
	}
	struct config *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		cJSON_Delete(root);
		return CB_ERR_NOMEM;
	}
	c->path = dup(&x, path);
	parse_root(&x, root, c);
	cJSON_Delete(root);
	if (x.nomem || x.nproblems > 0) {
		config_free(c);
		summarize(&x);
		return x.nomem ? CB_ERR_NOMEM : CB_ERR_CONFIG;
	}
	*ret = c;
	return 0;
}

int config_load(const char *path, struct config **ret, struct buf *problems)
{
	struct buf b;
	buf_init(&b, CONFIG_MAX_BYTES);
	int r = file_read(path, CONFIG_MAX_BYTES, &b);
	if (r < 0) {
		if (problems != NULL)
			buf_printf(problems, "%s: %s\n", path,
				   r == CB_ERR_NOT_FOUND   ? "no such file"
				   : r == CB_ERR_TOO_LARGE ? "larger than 1048576 bytes"
				   : r == CB_ERR_INVALID   ? "not a regular file"
							   : "cannot be read");
		buf_free(&b);
		return r == CB_ERR_NOMEM ? r : CB_ERR_CONFIG;
	}
	r = config_parse(buf_str(&b), b.len, path, ret, problems);
	buf_free(&b);
	return r;
}

static void profile_free(struct config_profile *p)
{
	free(p->name);
	free(p->role_arn);
	free(p->key);
	free_list(p->policy_arns, p->npolicy_arns);
	free(p->policy_path);
	free_list(p->confidential_buckets, p->nconfidential_buckets);
	free(p->session_policy);
	free(p->external_id);
	free(p->region);
}

void config_free(struct config *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nprofiles; i++)
		profile_free(&c->profiles[i]);
	free(c->profiles);
	free(c->path);
	free(c->state_dir);
	free(c->socket);
	free(c->admins);
	free(c->vault_key_file);
	free(c->aws_region);
	free(c->sts_endpoint);
	free(c->iam_endpoint);
	free(c->audit_path);
	free(c->tls_listen);
	free(c->tls_cert);
	free(c->tls_key);
	free(c);
}

const struct config_profile *config_profile_find(const struct config *c, const char *name)
{
	for (size_t i = 0; i < c->nprofiles; i++)
		if (strcmp(c->profiles[i].name, name) == 0)
			return &c->profiles[i];
	return NULL;
}

long config_profile_clamp_duration(const struct config_profile *p, long requested)
{
	if (requested == 0 || requested > p->max_duration)
		return p->max_duration;
	if (requested < CONFIG_MIN_DURATION)
		return CONFIG_MIN_DURATION;
	return requested;
}
