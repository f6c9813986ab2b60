/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "credbroker/buf.h"
#include "credbroker/err.h"
#include "credbroker/file.h"
#include "credbroker/users.h"

#define USERS_FILE_MAX (16u * 1024u * 1024u)
#define USERS_FORMAT 1

struct users {
	char *path;
	struct user **v;
	size_t n;
};

bool users_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n < 2 || n > USER_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      strchr("+=,.@_-", c) != NULL))
			return false;
	}
	return true;
}

static void user_free(struct user *usr)
{
	if (usr == NULL)
		return;
	for (size_t i = 0; i < usr->nprofiles; i++)
		free(usr->profiles[i]);
	free(usr->profiles);
	free(usr);
}

void users_free(struct users *u)
{
	if (u == NULL)
		return;
	for (size_t i = 0; i < u->n; i++)
		user_free(u->v[i]);
	free(u->v);
	free(u->path);
	free(u);
}

static struct user *user_new(const char *name, const char *const *profiles, size_t nprofiles)
{
	struct user *usr = calloc(1, sizeof(*usr));
	if (usr == NULL)
		return NULL;
	memcpy(usr->name, name, strlen(name) + 1);
	usr->uid = -1;
	usr->last_step = -1;
	usr->profiles = calloc(nprofiles ? nprofiles : 1, sizeof(char *));
	if (usr->profiles == NULL) {
		free(usr);
		return NULL;
	}
	for (; usr->nprofiles < nprofiles; usr->nprofiles++) {
		usr->profiles[usr->nprofiles] = strdup(profiles[usr->nprofiles]);
		if (usr->profiles[usr->nprofiles] == NULL) {
			user_free(usr);
			return NULL;
		}
	}
	return usr;
}

/* Keep the store sorted by name: lookups stay cheap and the file diffs well. */
static size_t position(const struct users *u, const char *name, bool *found)
{
	size_t lo = 0, hi = u->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(u->v[mid]->name, name);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static int insert(struct users *u, struct user *usr)
{
	bool found;
	size_t at = position(u, usr->name, &found);
	if (found)
		return CB_ERR_EXISTS;
	if (u->n >= USERS_MAX)
		return CB_ERR_TOO_LARGE;
	struct user **v = realloc(u->v, (u->n + 1) * sizeof(*v));
	if (v == NULL)
		return CB_ERR_NOMEM;
	u->v = v;
	memmove(v + at + 1, v + at, (u->n - at) * sizeof(*v));
	v[at] = usr;
	u->n++;
	return 0;
}

static bool get_number(const cJSON *o, const char *key, double lo, double hi, double *ret)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!cJSON_IsNumber(x) || x->valuedouble < lo || x->valuedouble > hi)
		return false;
	*ret = x->valuedouble;
	return true;
}

/* One record from the file; NULL when it does not hold together. */
static struct user *parse_user(const cJSON *o)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
	const cJSON *profiles = cJSON_GetObjectItemCaseSensitive(o, "profiles");
	if (!cJSON_IsObject(o) || !cJSON_IsString(name) || !users_name_valid(name->valuestring) ||
	    !cJSON_IsArray(profiles) || cJSON_GetArraySize(profiles) > USER_PROFILES_MAX)
		return NULL;
	const char *pv[USER_PROFILES_MAX];
	size_t np = 0;
	const cJSON *p;
	cJSON_ArrayForEach(p, profiles) {
		if (!cJSON_IsString(p) || strlen(p->valuestring) == 0 || strlen(p->valuestring) > 64)
			return NULL;
		pv[np++] = p->valuestring;
	}
	struct user *usr = user_new(name->valuestring, pv, np);
	if (usr == NULL)
		return NULL;
	double uid, expires, created, last_step, failures, lock_count, locked_until;
	const cJSON *disabled = cJSON_GetObjectItemCaseSensitive(o, "disabled");
	const cJSON *has_password = cJSON_GetObjectItemCaseSensitive(o, "has_password");
	if (!get_number(o, "uid", -1, 4294967294.0, &uid) ||
	    !get_number(o, "expires", 0, (double)USERS_TIME_MAX, &expires) ||
	    !get_number(o, "created", 0, (double)USERS_TIME_MAX, &created) ||
	    !get_number(o, "last_step", -1, 1e15, &last_step) ||
	    !get_number(o, "failures", 0, 1e6, &failures) ||
	    !get_number(o, "lock_count", 0, 1e6, &lock_count) ||
	    !get_number(o, "locked_until", 0, (double)USERS_TIME_MAX, &locked_until) ||
	    !cJSON_IsBool(disabled) || !cJSON_IsBool(has_password)) {
		user_free(usr);
		return NULL;
	}
	usr->uid = (long)uid;
	usr->expires = (time_t)expires;
	usr->created = (time_t)created;
	usr->last_step = (int64_t)last_step;
	usr->failures = (unsigned)failures;
	usr->lock_count = (unsigned)lock_count;
	usr->locked_until = (time_t)locked_until;
	usr->disabled = cJSON_IsTrue(disabled);
	usr->has_password = cJSON_IsTrue(has_password);
	return usr;
}

static int parse(struct users *u, const uint8_t *data, size_t len)
{
	const char *end = NULL;
	int r = CB_ERR_PARSE;
	if (len == 0 || memchr(data, '\0', len) != NULL)
		return r;
	cJSON *root = cJSON_ParseWithLengthOpts((const char *)data, len, &end, false);
	while (end != NULL && end < (const char *)data + len &&
	       (*end == ' ' || *end == '\n' || *end == '\t' || *end == '\r'))
		end++;
	if (root == NULL || end != (const char *)data + len)
		goto out;
	double format;
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "users");
	if (!get_number(root, "format", 0, 1e6, &format))
		goto out;
	if (format > USERS_FORMAT) {
		r = CB_ERR_VERSION;
		goto out;
	}
	if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) > USERS_MAX)
		goto out;
	const cJSON *o;
	cJSON_ArrayForEach(o, list) {
		struct user *usr = parse_user(o);
		if (usr == NULL)
			goto out;
		int ir = insert(u, usr);
		if (ir < 0) {
			user_free(usr);
			r = ir == CB_ERR_EXISTS ? CB_ERR_PARSE : ir;
			goto out;
		}
	}
	r = 0;
out:
	cJSON_Delete(root);
	return r;
}

static struct users *users_new(const char *path)
{
	struct users *u = calloc(1, sizeof(*u));
	if (u == NULL || (u->path = strdup(path)) == NULL) {
		users_free(u);
		return NULL;
	}
	return u;
}

int users_parse(const uint8_t *data, size_t len, const char *path, struct users **ret)
{
	if (len > USERS_FILE_MAX)
		return CB_ERR_TOO_LARGE;
	struct users *u = users_new(path);
	if (u == NULL)
		return CB_ERR_NOMEM;
	int r = parse(u, data, len);
	if (r < 0) {
		users_free(u);
		return r;
	}
	*ret = u;
	return 0;
}

int users_load(const char *path, struct users **ret)
{
	struct buf b;
	buf_init(&b, USERS_FILE_MAX);
	int r = file_read_private(path, USERS_FILE_MAX, &b);
	if (r == CB_ERR_NOT_FOUND) {
		/* No users yet. */
		struct users *u = users_new(path);
		if (u == NULL)
			return CB_ERR_NOMEM;
		*ret = u;
		return 0;
	}
	if (r == 0)
		r = users_parse(b.data, b.len, path, ret);
	buf_free(&b);
	return r;
}

static cJSON *user_json(const struct user *usr)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *profiles = cJSON_AddArrayToObject(o, "profiles");
	if (o == NULL || profiles == NULL)
		goto fail;
	for (size_t i = 0; i < usr->nprofiles; i++) {
		cJSON *s = cJSON_CreateString(usr->profiles[i]);
		if (s == NULL || !cJSON_AddItemToArray(profiles, s))
			goto fail;
	}
	if (!cJSON_AddStringToObject(o, "name", usr->name) ||
	    !cJSON_AddNumberToObject(o, "uid", (double)usr->uid) ||
	    !cJSON_AddBoolToObject(o, "has_password", usr->has_password) ||
	    !cJSON_AddNumberToObject(o, "expires", (double)usr->expires) ||
	    !cJSON_AddNumberToObject(o, "created", (double)usr->created) ||
	    !cJSON_AddBoolToObject(o, "disabled", usr->disabled) ||
	    !cJSON_AddNumberToObject(o, "last_step", (double)usr->last_step) ||
	    !cJSON_AddNumberToObject(o, "failures", usr->failures) ||
	    !cJSON_AddNumberToObject(o, "lock_count", usr->lock_count) ||
	    !cJSON_AddNumberToObject(o, "locked_until", (double)usr->locked_until))
		goto fail;
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

int users_save(struct users *u)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *list = cJSON_AddArrayToObject(root, "users");
	int r = CB_ERR_NOMEM;
	if (root == NULL || list == NULL || !cJSON_AddNumberToObject(root, "format", USERS_FORMAT))
		goto out;
	for (size_t i = 0; i < u->n; i++) {
		cJSON *o = user_json(u->v[i]);
		if (o == NULL || !cJSON_AddItemToArray(list, o)) {
			cJSON_Delete(o);
			goto out;
		}
	}
	char *text = cJSON_Print(root);
	if (text == NULL)
		goto out;
	r = file_write_atomic(u->path, text, strlen(text), 0600);
	free(text);
out:
	cJSON_Delete(root);
	return r;
}

struct user *users_find(struct users *u, const char *name)
{
	bool found;
	size_t at = position(u, name, &found);
	return found ? u->v[at] : NULL;
}

size_t users_count(const struct users *u)
{
	return u->n;
}

struct user *users_at(struct users *u, size_t i)
{
	return i < u->n ? u->v[i] : NULL;
}

int users_add(struct users *u, const char *name, const char *const *profiles, size_t nprofiles,
	      long uid, bool has_password, time_t expires, time_t now)
{
	if (!users_name_valid(name) || nprofiles > USER_PROFILES_MAX)
		return CB_ERR_INVALID;
	struct user *usr = user_new(name, profiles, nprofiles);
	if (usr == NULL)
		return CB_ERR_NOMEM;
	usr->uid = uid;
	usr->has_password = has_password;
	usr->expires = expires;
	usr->created = now;
	int r = insert(u, usr);
	if (r < 0)
		user_free(usr);
	return r;
}

int users_remove(struct users *u, const char *name)
{
	bool found;
	size_t at = position(u, name, &found);
	if (!found)
		return CB_ERR_USER_UNKNOWN;
	user_free(u->v[at]);
	memmove(u->v + at, u->v + at + 1, (u->n - at - 1) * sizeof(*u->v));
	u->n--;
	return 0;
}

bool users_has_profile(const struct user *usr, const char *profile)
{
	for (size_t i = 0; i < usr->nprofiles; i++)
		if (strcmp(usr->profiles[i], profile) == 0)
			return true;
	return false;
}
