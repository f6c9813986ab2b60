/* SPDX-License-Identifier: MIT */
/*
 * Pulling values out of AWS answers: XML (expat) or JSON (cJSON), both
 * untrusted. Every value is length-capped, secrets are gathered in
 * sodium_malloc'd memory, and expat's own buffers are wiped when it frees
 * them. DTDs and entity declarations are refused outright (no billion
 * laughs, no external entities).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <expat.h>
#include <sodium.h>

#include "credbroker/awsapi.h"
#include "credbroker/err.h"
#include "credbroker/wipe.h"

#define MAX_DEPTH 32
#define MAX_PATH 512
#define ERR_FIELD_MAX 1024

/* Where AWS puts its error code and message: the Query-API XML (STS, IAM),
 * the same with an Errors wrapper (moto, some services), the EC2-style XML,
 * the Query API's JSON and the JSON protocols. */
static const char *const error_code_paths[] = {
	"ErrorResponse/Error/Code",
	"ErrorResponse/Errors/Error/Code",
	"Response/Errors/Error/Code",
	"Error/Code",
	"__type",
};
static const char *const error_message_paths[] = {
	"ErrorResponse/Error/Message",
	"ErrorResponse/Errors/Error/Message",
	"Response/Errors/Error/Message",
	"Error/Message",
	"message",
	"Message",
};
#define NCODE (sizeof(error_code_paths) / sizeof(error_code_paths[0]))
#define NMSG (sizeof(error_message_paths) / sizeof(error_message_paths[0]))
#define NERRF (NCODE + NMSG)

void awsapi_value_free(char *value, bool secret)
{
	if (value == NULL)
		return;
	if (secret) {
		sodium_free(value);
	} else {
		sodium_memzero(value, strlen(value));
		free(value);
	}
}

void awsapi_fields_free(struct awsapi_field *fields, size_t nfields)
{
	for (size_t i = 0; i < nfields; i++) {
		awsapi_value_free(fields[i].value, fields[i].secret);
		fields[i].value = NULL;
		fields[i].len = 0;
	}
}

/* The parse in progress: the caller's fields followed by the error fields,
 * which truncate instead of failing. */
struct parse {
	struct awsapi_field *f;
	size_t n;      /* all fields */
	size_t nuser;  /* the caller's, first */
	int err;
};

static int field_open(struct parse *ps, size_t i)
{
	struct awsapi_field *f = &ps->f[i];
	if (f->value != NULL)
		return CB_ERR_STS_BAD_RESPONSE; /* a value given twice */
	f->value = f->secret ? sodium_malloc(f->max + 1) : malloc(f->max + 1);
	if (f->value == NULL)
		return CB_ERR_NOMEM;
	f->value[0] = '\0';
	f->len = 0;
	return 0;
}

static int field_append(struct parse *ps, size_t i, const char *s, size_t n)
{
	struct awsapi_field *f = &ps->f[i];
	if (n > f->max - f->len) {
		if (i < ps->nuser)
			return CB_ERR_STS_BAD_RESPONSE;
		n = f->max - f->len; /* error text: keep what fits */
	}
	memcpy(f->value + f->len, s, n);
	f->len += n;
	f->value[f->len] = '\0';
	return 0;
}

/* Trim ASCII white space; refuse control characters in the caller's values,
 * since they end up in logs and on terminals. */
static int field_finish(struct parse *ps, size_t i)
{
	struct awsapi_field *f = &ps->f[i];
	size_t a = 0, b = f->len;
	while (a < b && (f->value[a] == ' ' || f->value[a] == '\t' || f->value[a] == '\r' ||
			 f->value[a] == '\n'))
		a++;
	while (b > a && (f->value[b - 1] == ' ' || f->value[b - 1] == '\t' ||
			 f->value[b - 1] == '\r' || f->value[b - 1] == '\n'))
		b--;
	if (a > 0)
		memmove(f->value, f->value + a, b - a);
	if (b - a < f->len)
		sodium_memzero(f->value + (b - a), f->len - (b - a));
	f->len = b - a;
	f->value[f->len] = '\0';
	if (i < ps->nuser)
		for (size_t k = 0; k < f->len; k++)
			if ((unsigned char)f->value[k] < 0x20 || f->value[k] == 0x7f)
				return CB_ERR_STS_BAD_RESPONSE;
	return 0;
}

/* ---- XML ---- */

struct xml {
	struct parse *ps;
	XML_Parser p;
	char path[MAX_PATH];
	size_t pathlen[MAX_DEPTH + 1];
	int depth;
	long cur; /* the field being gathered, or -1 */
};

static void xml_fail(struct xml *x, int err)
{
	if (x->ps->err == 0)
		x->ps->err = err;
	XML_StopParser(x->p, XML_FALSE);
}

static void XMLCALL xml_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	struct xml *x = ud;
	if (x->ps->err != 0)
		return;
	if (x->cur >= 0 || x->depth >= MAX_DEPTH) {
		xml_fail(x, CB_ERR_STS_BAD_RESPONSE); /* a leaf with children, or too deep */
		return;
	}
	size_t len = x->pathlen[x->depth];
	size_t nl = strlen(name);
	size_t need = len + (x->depth > 0 ? 1 : 0) + nl;
	if (need >= sizeof(x->path)) {
		xml_fail(x, CB_ERR_STS_BAD_RESPONSE);
		return;
	}
	if (x->depth > 0)
		x->path[len++] = '/';
	memcpy(x->path + len, name, nl);
	x->path[need] = '\0';
	x->depth++;
	x->pathlen[x->depth] = need;
	for (size_t i = 0; i < x->ps->n; i++) {
		if (strcmp(x->ps->f[i].path, x->path) == 0) {
			int r = field_open(x->ps, i);
			if (r < 0) {
				xml_fail(x, r);
				return;
			}
			x->cur = (long)i;
			break;
		}
	}
}

static void XMLCALL xml_end(void *ud, const XML_Char *name)
{
	struct xml *x = ud;
	if (x->ps->err != 0)
		return;
	if (x->cur >= 0) {
		int r = field_finish(x->ps, (size_t)x->cur);
		x->cur = -1;
		if (r < 0) {
			xml_fail(x, r);
			return;
		}
	}
	x->depth--;
	x->path[x->pathlen[x->depth]] = '\0';
}

static void XMLCALL xml_text(void *ud, const XML_Char *s, int n)
{
	struct xml *x = ud;
	if (x->ps->err != 0 || x->cur < 0 || n <= 0)
		return;
	int r = field_append(x->ps, (size_t)x->cur, s, (size_t)n);
	if (r < 0)
		xml_fail(x, r);
}

static void XMLCALL xml_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
				const XML_Char *pubid, int has_internal_subset)
{
	xml_fail(ud, CB_ERR_STS_BAD_RESPONSE);
}

static void XMLCALL xml_entity(void *ud, const XML_Char *name, int is_param,
			       const XML_Char *value, int value_len, const XML_Char *base,
			       const XML_Char *sysid, const XML_Char *pubid, const XML_Char *notation)
{
	xml_fail(ud, CB_ERR_STS_BAD_RESPONSE);
}

/* expat's buffers hold the answer, secrets included: wipe them on free. */
static const XML_Memory_Handling_Suite xml_mem = { malloc, wipe_realloc, wipe_free };

static int parse_xml(struct parse *ps, const char *body, size_t len)
{
	if (len > (size_t)AWSAPI_MAX_RESPONSE)
		return CB_ERR_STS_BAD_RESPONSE;
	struct xml x = { .ps = ps, .cur = -1 };
	x.p = XML_ParserCreate_MM(NULL, &xml_mem, NULL);
	if (x.p == NULL)
		return CB_ERR_NOMEM;
	XML_SetUserData(x.p, &x);
	XML_SetElementHandler(x.p, xml_start, xml_end);
	XML_SetCharacterDataHandler(x.p, xml_text);
	XML_SetStartDoctypeDeclHandler(x.p, xml_doctype);
	XML_SetEntityDeclHandler(x.p, xml_entity);
	XML_SetParamEntityParsing(x.p, XML_PARAM_ENTITY_PARSING_NEVER);
	enum XML_Status st = XML_Parse(x.p, body, (int)len, XML_TRUE);
	if (st != XML_STATUS_OK && ps->err == 0)
		ps->err = CB_ERR_STS_BAD_RESPONSE;
	XML_ParserFree(x.p);
	return ps->err;
}

/* ---- JSON ---- */

static const cJSON *json_find(const cJSON *root, const char *path)
{
	const cJSON *node = root;
	const char *p = path;
	while (node != NULL) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		char name[128];
		if (n >= sizeof(name) || !cJSON_IsObject(node))
			return NULL;
		memcpy(name, p, n);
		name[n] = '\0';
		node = cJSON_GetObjectItemCaseSensitive(node, name);
		if (slash == NULL)
			return node;
		p = slash + 1;
	}
	return NULL;
}

static int json_take(struct parse *ps, size_t i, cJSON *node)
{
	char num[32];
	const char *s;
	if (cJSON_IsString(node) && node->valuestring != NULL) {
		s = node->valuestring;
	} else if (cJSON_IsNumber(node)) {
		double d = node->valuedouble;
		/* Epoch seconds (Expiration) arrive as numbers, often 1.7E9. */
		if (!(d > -1e15 && d < 1e15))
			return i < ps->nuser ? CB_ERR_STS_BAD_RESPONSE : 0;
		snprintf(num, sizeof(num), "%.0f", d);
		s = num;
	} else if (cJSON_IsNull(node)) {
		return 0;
	} else {
		return i < ps->nuser ? CB_ERR_STS_BAD_RESPONSE : 0;
	}
	int r = field_open(ps, i);
	if (r == 0)
		r = field_append(ps, i, s, strlen(s));
	if (r == 0)
		r = field_finish(ps, i);
	if (ps->f[i].secret && cJSON_IsString(node))
		sodium_memzero(node->valuestring, strlen(node->valuestring));
	return r;
}

/* Wipe every string in the tree: the caller's secrets are in there. */
static void json_wipe(cJSON *node)
{
	for (; node != NULL; node = node->next) {
		if (cJSON_IsString(node) && node->valuestring != NULL)
			sodium_memzero(node->valuestring, strlen(node->valuestring));
		json_wipe(node->child);
	}
}

static int json_depth_ok(const cJSON *node, int depth)
{
	if (depth > MAX_DEPTH)
		return 0;
	for (; node != NULL; node = node->next)
		if (node->child != NULL && !json_depth_ok(node->child, depth + 1))
			return 0;
	return 1;
}

static int parse_json(struct parse *ps, const char *body, size_t len)
{
	cJSON *root = cJSON_ParseWithLength(body, len);
	if (root == NULL)
		return CB_ERR_STS_BAD_RESPONSE;
	int r = 0;
	if (!cJSON_IsObject(root) || !json_depth_ok(root, 0))
		r = CB_ERR_STS_BAD_RESPONSE;
	for (size_t i = 0; r == 0 && i < ps->n; i++) {
		cJSON *node = (cJSON *)json_find(root, ps->f[i].path);
		if (node != NULL)
			r = json_take(ps, i, node);
	}
	json_wipe(root);
	cJSON_Delete(root);
	return r;
}

/* ---- both ---- */

/* Copy error text into a fixed field: cut at the first line break (AWS's
 * SignatureDoesNotMatch message goes on to quote the canonical request,
 * signed headers and all), other control characters become '?'. */
static void copy_text(char *dst, size_t size, const char *src)
{
	size_t i = 0;
	for (; src != NULL && src[i] != '\0' && src[i] != '\n' && src[i] != '\r' && i + 1 < size;
	     i++) {
		unsigned char ch = (unsigned char)src[i];
		dst[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	dst[i] = '\0';
}

/* "com.amazonaws.sts#ExpiredTokenException" or "Name:http://..." -> the name. */
static const char *bare_type(const char *t)
{
	const char *h = strrchr(t, '#');
	return h != NULL ? h + 1 : t;
}

int awsapi_parse(const char *body, size_t len, struct awsapi_field *fields, size_t nfields,
		 struct awsapi_error *err)
{
	if (body == NULL || (fields == NULL && nfields > 0) || nfields > 64)
		return CB_ERR_INVALID;
	if (sodium_init() < 0)
		return CB_ERR_INTERNAL;
	for (size_t i = 0; i < nfields; i++) {
		fields[i].value = NULL;
		fields[i].len = 0;
		if (fields[i].path == NULL || fields[i].max == 0 || fields[i].max > AWSAPI_MAX_RESPONSE)
			return CB_ERR_INVALID;
	}

	struct parse ps = { .n = nfields + NERRF, .nuser = nfields };
	ps.f = calloc(ps.n, sizeof(*ps.f));
	if (ps.f == NULL)
		return CB_ERR_NOMEM;
	for (size_t i = 0; i < nfields; i++)
		ps.f[i] = fields[i];
	for (size_t i = 0; i < NERRF; i++) {
		ps.f[nfields + i].path = i < NCODE ? error_code_paths[i] : error_message_paths[i - NCODE];
		ps.f[nfields + i].max = ERR_FIELD_MAX;
	}

	size_t k = 0;
	while (k < len && (body[k] == ' ' || body[k] == '\t' || body[k] == '\r' || body[k] == '\n'))
		k++;
	int r;
	if (k < len && body[k] == '<')
		r = parse_xml(&ps, body, len);
	else if (k < len && body[k] == '{')
		r = parse_json(&ps, body, len);
	else
		r = CB_ERR_STS_BAD_RESPONSE;

	if (r == 0) {
		const char *code = NULL, *msg = NULL;
		for (size_t i = 0; i < NCODE && code == NULL; i++)
			if (ps.f[nfields + i].value != NULL && ps.f[nfields + i].len > 0)
				code = ps.f[nfields + i].value;
		for (size_t i = 0; i < NMSG && msg == NULL; i++)
			if (ps.f[nfields + NCODE + i].value != NULL)
				msg = ps.f[nfields + NCODE + i].value;
		if (code != NULL) {
			if (err != NULL) {
				code = bare_type(code);
				char tmp[sizeof(err->code)];
				copy_text(tmp, sizeof(tmp), code);
				tmp[strcspn(tmp, ":")] = '\0';
				/* A refusal stays a refusal even when its code is mangled. */
				if (tmp[0] == '\0')
					snprintf(tmp, sizeof(tmp), "UnknownError");
				memcpy(err->code, tmp, sizeof(tmp));
				copy_text(err->message, sizeof(err->message), msg);
			}
			r = CB_ERR_STS_DENIED;
		}
	}
	awsapi_fields_free(ps.f + nfields, NERRF);
	for (size_t i = 0; i < nfields; i++)
		fields[i] = ps.f[i];
	if (r != 0)
		awsapi_fields_free(fields, nfields);
	free(ps.f);
	return r;
}
