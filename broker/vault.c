/* SPDX-License-Identifier: MIT */
/*
 * The vault file (all integers big-endian):
 *
 *   header   magic "CBVAULT\0" (8) | version u16 = 1 | kdf u8 (1 key file,
 *            2 Argon2id) | flags u8 = 0 | salt (16) | opslimit u64 |
 *            memlimit u64 | entry count u32                     = 48 bytes
 *   entry    name_len u16 | name | box_len u32 | nonce (24) | box
 *            box = XChaCha20-Poly1305(meta_len u32 | meta | secret)
 *            AD  = 'E' | header | index u32 | name_len u16 | name
 *   trailer  nonce (24) | tag (16): XChaCha20-Poly1305 of the empty message
 *            with AD = 'T' | every byte before the trailer
 *
 * The trailer makes any change anywhere (header, lengths, a removed,
 * duplicated or reordered entry, truncation) an authentication failure; the
 * per-entry AD binds each secret to its name and position on its own, so an
 * entry cannot be moved even by someone who could forge a trailer. Entries
 * are kept and written sorted by name, and names must be strictly increasing
 * on read.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "credbroker/buf.h"
#include "credbroker/err.h"
#include "credbroker/file.h"
#include "credbroker/vault.h"

#define MAGIC "CBVAULT\0"
#define MAGIC_LEN 8
#define FORMAT_VERSION 1
#define KDF_KEYFILE 1
#define KDF_ARGON2ID 2
#define SALT_LEN 16
#define HEADER_LEN 48
#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES
#define TRAILER_LEN (NONCE_LEN + TAG_LEN)
#define PLAIN_MAX (4 + VAULT_META_MAX + VAULT_SECRET_MAX)
#define BOX_MIN (TAG_LEN + 4)
#define BOX_MAX (TAG_LEN + PLAIN_MAX)
#define ENTRY_MIN (2 + 1 + 4 + NONCE_LEN + BOX_MIN)
#define AD_MAX (1 + HEADER_LEN + 4 + 2 + VAULT_NAME_MAX)
#define PASS_MAX 1024
#define OPSLIMIT_CAP 16
#define MEMLIMIT_CAP (1ull << 30)

_Static_assert(SALT_LEN == crypto_pwhash_SALTBYTES, "salt size");
_Static_assert(VAULT_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "key size");

struct entry {
	char *name;      /* malloc */
	char *meta;      /* malloc, not secret */
	uint8_t *secret; /* sodium_malloc, read-only */
	size_t secret_len;
};

struct vault {
	char *path;   /* NULL for a vault from vault_parse() */
	uint8_t *key; /* sodium_malloc, read-only */
	uint8_t kdf;
	uint8_t salt[SALT_LEN];
	uint64_t opslimit, memlimit;
	struct entry *entries; /* sorted by name */
	size_t n, cap;
};

static _Thread_local int detail_err;
static _Thread_local char detail_text[160];

/* Record why err happened, for vault_strerror_detail(); returns err. */
static int fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail_text, sizeof(detail_text), fmt, ap);
	va_end(ap);
	detail_err = err;
	return err;
}

const char *vault_strerror_detail(int err)
{
	if (err < 0 && err == detail_err)
		return detail_text;
	return cb_strerror(err);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* --- entries in memory ------------------------------------------------- */

static int name_valid(const char *name, size_t len)
{
	if (len < 1 || len > VAULT_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (name[i] < 0x21 || name[i] > 0x7e)
			return 0;
	return 1;
}

static int name_cmp(const char *a, const char *b)
{
	return strcmp(a, b); /* byte order: names are ASCII */
}

static void entry_clear(struct entry *e)
{
	free(e->name);
	free(e->meta);
	sodium_free(e->secret); /* wipes; NULL is a no-op */
	memset(e, 0, sizeof(*e));
}

/* A new entry with copies of its parts; *ret written only on success. */
static int entry_make(const char *name, size_t name_len, const char *meta, size_t meta_len,
		      const uint8_t *secret, size_t secret_len, struct entry *ret)
{
	struct entry e = { 0 };
	e.name = strndup(name, name_len);
	e.meta = strndup(meta, meta_len);
	/* sodium_malloc(0) is allowed, but one byte keeps a real pointer. */
	e.secret = sodium_malloc(secret_len > 0 ? secret_len : 1);
	if (e.name == NULL || e.meta == NULL || e.secret == NULL) {
		entry_clear(&e);
		return CB_ERR_NOMEM;
	}
	if (secret_len > 0)
		memcpy(e.secret, secret, secret_len);
	e.secret_len = secret_len;
	sodium_mprotect_readonly(e.secret);
	*ret = e;
	return 0;
}

/* Index of name, or where it would go (*found = 0). */
static size_t find(const struct vault *v, const char *name, int *found)
{
	size_t lo = 0, hi = v->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = name_cmp(v->entries[mid].name, name);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = 0;
	return lo;
}

static int reserve(struct vault *v, size_t want)
{
	if (want <= v->cap)
		return 0;
	size_t cap = v->cap ? v->cap * 2 : 16;
	if (cap < want)
		cap = want;
	struct entry *p = reallocarray(v->entries, cap, sizeof(*p));
	if (p == NULL)
		return CB_ERR_NOMEM;
	v->entries = p;
	v->cap = cap;
	return 0;
}

static struct vault *vault_new(const char *path, const uint8_t key[static VAULT_KEY_BYTES])
{
	struct vault *v = calloc(1, sizeof(*v));
	if (v == NULL)
		return NULL;
	v->key = sodium_malloc(VAULT_KEY_BYTES);
	if (path != NULL)
		v->path = strdup(path);
	if (v->key == NULL || (path != NULL && v->path == NULL)) {
		vault_free(v);
		return NULL;
	}
	memcpy(v->key, key, VAULT_KEY_BYTES);
	sodium_mprotect_readonly(v->key);
	return v;
}

void vault_free(struct vault *v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < v->n; i++)
		entry_clear(&v->entries[i]);
	free(v->entries);
	sodium_free(v->key);
	free(v->path);
	sodium_memzero(v, sizeof(*v));
	free(v);
}

int vault_put(struct vault *v, const char *name, const char *meta, const void *secret,
	      size_t secret_len)
{
	if (v == NULL || name == NULL || (secret == NULL && secret_len > 0))
		return fail(CB_ERR_INVALID, "invalid argument");
	if (meta == NULL)
		meta = "";
	size_t name_len = strnlen(name, VAULT_NAME_MAX + 1);
	if (!name_valid(name, name_len))
		return fail(CB_ERR_INVALID,
			    "entry names are 1-%d printable ASCII characters without spaces",
			    VAULT_NAME_MAX);
	size_t meta_len = strnlen(meta, VAULT_META_MAX + 1);
	if (meta_len > VAULT_META_MAX || secret_len > VAULT_SECRET_MAX)
		return fail(CB_ERR_TOO_LARGE, "entry metadata and secret are limited to %d bytes each",
			    VAULT_META_MAX);

	int found;
	size_t i = find(v, name, &found);
	if (!found && v->n >= VAULT_ENTRIES_MAX)
		return fail(CB_ERR_TOO_LARGE, "a vault holds at most %d entries", VAULT_ENTRIES_MAX);
	if (!found && reserve(v, v->n + 1) < 0)
		return fail(CB_ERR_NOMEM, "out of memory");
	struct entry e;
	if (entry_make(name, name_len, meta, meta_len, secret, secret_len, &e) < 0)
		return fail(CB_ERR_NOMEM, "out of memory");
	if (found) {
		entry_clear(&v->entries[i]);
	} else {
		memmove(&v->entries[i + 1], &v->entries[i], (v->n - i) * sizeof(*v->entries));
		v->n++;
	}
	v->entries[i] = e;
	return 0;
}

int vault_get(const struct vault *v, const char *name, const char **ret_meta,
	      const uint8_t **ret_secret, size_t *ret_secret_len)
{
	if (v == NULL || name == NULL)
		return fail(CB_ERR_INVALID, "invalid argument");
	int found;
	size_t i = find(v, name, &found);
	if (!found)
		return fail(CB_ERR_NOT_FOUND, "no entry named %.*s", VAULT_NAME_MAX, name);
	if (ret_meta != NULL)
		*ret_meta = v->entries[i].meta;
	if (ret_secret != NULL)
		*ret_secret = v->entries[i].secret;
	if (ret_secret_len != NULL)
		*ret_secret_len = v->entries[i].secret_len;
	return 0;
}

int vault_remove(struct vault *v, const char *name)
{
	if (v == NULL || name == NULL)
		return fail(CB_ERR_INVALID, "invalid argument");
	int found;
	size_t i = find(v, name, &found);
	if (!found)
		return fail(CB_ERR_NOT_FOUND, "no entry named %.*s", VAULT_NAME_MAX, name);
	entry_clear(&v->entries[i]);
	memmove(&v->entries[i], &v->entries[i + 1], (v->n - i - 1) * sizeof(*v->entries));
	v->n--;
	return 0;
}

size_t vault_count(const struct vault *v)
{
	return v == NULL ? 0 : v->n;
}

const char *vault_name_at(const struct vault *v, size_t i)
{
	if (v == NULL || i >= v->n)
		return NULL;
	return v->entries[i].name;
}

/* --- the file format --------------------------------------------------- */

static void header_encode(const struct vault *v, uint32_t count, uint8_t out[static HEADER_LEN])
{
	memcpy(out, MAGIC, MAGIC_LEN);
	put16(out + 8, FORMAT_VERSION);
	out[10] = v->kdf;
	out[11] = 0;
	memcpy(out + 12, v->salt, SALT_LEN);
	put64(out + 28, v->opslimit);
	put64(out + 36, v->memlimit);
	put32(out + 44, count);
}

/* 'E' | header | index | name_len | name, into ad; returns its length. */
static size_t entry_ad(const uint8_t header[static HEADER_LEN], uint32_t index, const uint8_t *name,
		       size_t name_len, uint8_t ad[static AD_MAX])
{
	ad[0] = 'E';
	memcpy(ad + 1, header, HEADER_LEN);
	put32(ad + 1 + HEADER_LEN, index);
	put16(ad + 1 + HEADER_LEN + 4, (uint16_t)name_len);
	memcpy(ad + 1 + HEADER_LEN + 6, name, name_len);
	return 1 + HEADER_LEN + 6 + name_len;
}

static int encode_entry(const struct vault *v, const uint8_t header[static HEADER_LEN],
			uint32_t index, uint8_t *plain, struct buf *out)
{
	const struct entry *e = &v->entries[index];
	size_t name_len = strlen(e->name), meta_len = strlen(e->meta);
	size_t plain_len = 4 + meta_len + e->secret_len;
	put32(plain, (uint32_t)meta_len);
	memcpy(plain + 4, e->meta, meta_len);
	if (e->secret_len > 0)
		memcpy(plain + 4 + meta_len, e->secret, e->secret_len);

	uint8_t ad[AD_MAX], lens[4], nonce[NONCE_LEN], box[BOX_MAX];
	size_t ad_len = entry_ad(header, index, (const uint8_t *)e->name, name_len, ad);
	unsigned long long box_len;
	randombytes_buf(nonce, sizeof(nonce));
	crypto_aead_xchacha20poly1305_ietf_encrypt(box, &box_len, plain, plain_len, ad, ad_len, NULL,
						   nonce, v->key);
	sodium_memzero(plain, plain_len);

	put16(lens, (uint16_t)name_len);
	int r = buf_append(out, lens, 2);
	if (r == 0)
		r = buf_append(out, e->name, name_len);
	put32(lens, (uint32_t)box_len);
	if (r == 0)
		r = buf_append(out, lens, 4);
	if (r == 0)
		r = buf_append(out, nonce, sizeof(nonce));
	if (r == 0)
		r = buf_append(out, box, (size_t)box_len);
	return r;
}

/* The whole file into out (capped at VAULT_FILE_MAX). */
static int encode(const struct vault *v, struct buf *out)
{
	uint8_t *plain = sodium_malloc(PLAIN_MAX);
	if (plain == NULL)
		return CB_ERR_NOMEM;
	uint8_t header[HEADER_LEN];
	header_encode(v, (uint32_t)v->n, header);
	/* The trailer's AD is 'T' followed by the file so far, so the buffer
	 * starts with that byte and the file is out->data + 1. */
	int r = buf_putc(out, 'T');
	if (r == 0)
		r = buf_append(out, header, sizeof(header));
	for (size_t i = 0; r == 0 && i < v->n; i++)
		r = encode_entry(v, header, (uint32_t)i, plain, out);
	sodium_free(plain);
	if (r < 0)
		return r;

	uint8_t trailer[TRAILER_LEN], empty[1] = { 0 };
	randombytes_buf(trailer, NONCE_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt_detached(empty, trailer + NONCE_LEN, NULL, empty, 0,
							    out->data, out->len, NULL, trailer,
							    v->key);
	return buf_append(out, trailer, sizeof(trailer));
}

int vault_save(struct vault *v)
{
	if (v == NULL || v->path == NULL)
		return fail(CB_ERR_INVALID, "this vault has no file to save to");
	struct buf out;
	buf_init(&out, 1 + VAULT_FILE_MAX);
	int r = encode(v, &out);
	if (r == CB_ERR_TOO_LARGE)
		r = fail(r, "the vault would exceed %u bytes", VAULT_FILE_MAX);
	else if (r < 0)
		r = fail(r, "%s", cb_strerror(r));
	else if (file_write_atomic(v->path, out.data + 1, out.len - 1, 0600) < 0)
		r = fail(CB_ERR_IO, "cannot write: %s", strerror(errno));
	buf_free(&out);
	return r;
}

/* Check the fixed header; fills kdf fields of *h. */
static int header_decode(const uint8_t *data, size_t len, struct vault *h, uint32_t *ret_count)
{
	size_t m = len < MAGIC_LEN ? len : MAGIC_LEN;
	if (memcmp(data, MAGIC, m) != 0)
		return fail(CB_ERR_PARSE, "not a credbroker vault");
	if (len < MAGIC_LEN + 2)
		return fail(CB_ERR_PARSE, "truncated inside the header (%zu bytes)", len);
	uint16_t version = get16(data + 8);
	if (version > FORMAT_VERSION)
		return fail(CB_ERR_VERSION, "written by a newer credbroker (format %u)", version);
	if (version != FORMAT_VERSION)
		return fail(CB_ERR_PARSE, "unknown format version %u", version);
	if (len < HEADER_LEN)
		return fail(CB_ERR_PARSE, "truncated inside the header (%zu bytes)", len);

	h->kdf = data[10];
	memcpy(h->salt, data + 12, SALT_LEN);
	h->opslimit = get64(data + 28);
	h->memlimit = get64(data + 36);
	uint32_t count = get32(data + 44);
	if (data[11] != 0)
		return fail(CB_ERR_PARSE, "unknown header flags");
	if (h->kdf == KDF_KEYFILE) {
		static const uint8_t zero[SALT_LEN];
		if (sodium_memcmp(h->salt, zero, SALT_LEN) != 0 || h->opslimit != 0 || h->memlimit != 0)
			return fail(CB_ERR_PARSE, "malformed header");
	} else if (h->kdf == KDF_ARGON2ID) {
		if (h->opslimit < crypto_pwhash_OPSLIMIT_MIN || h->opslimit > OPSLIMIT_CAP ||
		    h->memlimit < crypto_pwhash_MEMLIMIT_MIN || h->memlimit > MEMLIMIT_CAP)
			return fail(CB_ERR_PARSE, "Argon2id limits out of range");
	} else {
		return fail(CB_ERR_PARSE, "unknown key derivation %u", h->kdf);
	}
	if (count > VAULT_ENTRIES_MAX)
		return fail(CB_ERR_PARSE, "too many entries (%u)", count);
	*ret_count = count;
	return 0;
}

struct span {
	size_t name, name_len, nonce, box, box_len;
};

static int decode_entry(struct vault *v, const uint8_t *data, const struct span *s, uint32_t index,
			uint8_t *plain)
{
	const uint8_t *name = data + s->name;
	if (!name_valid((const char *)name, s->name_len))
		return fail(CB_ERR_PARSE, "entry %u has an invalid name", index);
	uint8_t ad[AD_MAX];
	size_t ad_len = entry_ad(data, index, name, s->name_len, ad);
	unsigned long long plain_len;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &plain_len, NULL, data + s->box,
						       s->box_len, ad, ad_len, data + s->nonce,
						       v->key) != 0)
		return fail(CB_ERR_AUTH_FAILED, "authentication failed (wrong key or tampered file)");

	int r = 0;
	uint32_t meta_len = get32(plain);
	if (meta_len > VAULT_META_MAX || meta_len > plain_len - 4 ||
	    plain_len - 4 - meta_len > VAULT_SECRET_MAX || memchr(plain + 4, 0, meta_len) != NULL) {
		r = fail(CB_ERR_PARSE, "entry %u is malformed", index);
		goto out;
	}
	struct entry *prev = index > 0 ? &v->entries[index - 1] : NULL;
	char name_z[VAULT_NAME_MAX + 1];
	memcpy(name_z, name, s->name_len);
	name_z[s->name_len] = '\0';
	if (prev != NULL && name_cmp(prev->name, name_z) >= 0) {
		r = fail(CB_ERR_PARSE, "entries out of order at %u", index);
		goto out;
	}
	r = entry_make(name_z, s->name_len, (const char *)plain + 4, meta_len, plain + 4 + meta_len,
		       (size_t)plain_len - 4 - meta_len, &v->entries[index]);
	if (r < 0)
		r = fail(r, "out of memory");
	else
		v->n++;
out:
	sodium_memzero(plain, (size_t)plain_len);
	return r;
}

/* The header of data, which must be of kdf kind `kdf`, into *h. */
static int header_check(const uint8_t *data, size_t len, uint8_t kdf, struct vault *h,
			uint32_t *ret_count)
{
	int r = header_decode(data, len, h, ret_count);
	if (r < 0)
		return r;
	if (h->kdf != kdf)
		return fail(CB_ERR_INVALID, kdf == KDF_KEYFILE
						    ? "this vault is unlocked with a passphrase, not a key file"
						    : "this vault is unlocked with a key file, not a passphrase");
	return 0;
}

/* Parse data, a vault of kdf kind `kdf`, with key (the file key or the one
 * derived from the passphrase). */
static int parse(const uint8_t *data, size_t len, uint8_t kdf, const uint8_t *key,
		 const char *path, struct vault **ret)
{
	struct vault h = { 0 };
	uint32_t count;
	int r = header_check(data, len, kdf, &h, &count);
	if (r < 0)
		return r;
	if (len > VAULT_FILE_MAX)
		return fail(CB_ERR_TOO_LARGE, "larger than %u bytes", VAULT_FILE_MAX);

	/* Walk the structure, checking every length against what is left. */
	struct span *spans = count ? calloc(count, sizeof(*spans)) : NULL;
	if (count > 0 && spans == NULL)
		return fail(CB_ERR_NOMEM, "out of memory");
	size_t off = HEADER_LEN;
	for (uint32_t i = 0; i < count; i++) {
		struct span *s = &spans[i];
		if (len - off < 2) {
			r = fail(CB_ERR_PARSE, "truncated inside entry %u", i);
			goto out;
		}
		s->name_len = get16(data + off);
		off += 2;
		if (s->name_len < 1 || s->name_len > VAULT_NAME_MAX) {
			r = fail(CB_ERR_PARSE, "entry %u has an invalid name length", i);
			goto out;
		}
		if (len - off < s->name_len + 4) {
			r = fail(CB_ERR_PARSE, "truncated inside entry %u", i);
			goto out;
		}
		s->name = off;
		off += s->name_len;
		s->box_len = get32(data + off);
		off += 4;
		if (s->box_len < BOX_MIN || s->box_len > BOX_MAX) {
			r = fail(CB_ERR_PARSE, "entry %u has an invalid length", i);
			goto out;
		}
		if (len - off < NONCE_LEN + s->box_len) {
			r = fail(CB_ERR_PARSE, "truncated inside entry %u", i);
			goto out;
		}
		s->nonce = off;
		s->box = off + NONCE_LEN;
		off += NONCE_LEN + s->box_len;
	}
	if (len - off < TRAILER_LEN) {
		r = fail(CB_ERR_PARSE, "truncated (the final authenticator is missing)");
		goto out;
	}
	if (len - off > TRAILER_LEN) {
		r = fail(CB_ERR_PARSE, "unexpected data after the end of the vault");
		goto out;
	}

	/* Authenticate everything at once before looking inside any entry:
	 * the AD is 'T' | data[0..off), built in a copy with the prefix. */
	uint8_t *ad = malloc(off + 1);
	if (ad == NULL) {
		r = fail(CB_ERR_NOMEM, "out of memory");
		goto out;
	}
	ad[0] = 'T';
	memcpy(ad + 1, data, off);
	uint8_t empty[1] = { 0 };
	int bad = crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
		empty, NULL, empty, 0, data + off + NONCE_LEN, ad, off + 1, data + off, key);
	free(ad);
	if (bad) {
		r = fail(CB_ERR_AUTH_FAILED, "authentication failed (wrong key or tampered file)");
		goto out;
	}

	struct vault *v = vault_new(path, key);
	uint8_t *plain = sodium_malloc(PLAIN_MAX);
	if (v == NULL || plain == NULL || (count > 0 && reserve(v, count) < 0)) {
		sodium_free(plain);
		vault_free(v);
		r = fail(CB_ERR_NOMEM, "out of memory");
		goto out;
	}
	v->kdf = h.kdf;
	memcpy(v->salt, h.salt, SALT_LEN);
	v->opslimit = h.opslimit;
	v->memlimit = h.memlimit;
	for (uint32_t i = 0; r == 0 && i < count; i++)
		r = decode_entry(v, data, &spans[i], i, plain);
	sodium_free(plain);
	if (r < 0) {
		vault_free(v);
		goto out;
	}
	*ret = v;
out:
	free(spans);
	return r;
}

int vault_parse(const uint8_t *data, size_t len, const uint8_t key[static VAULT_KEY_BYTES],
		struct vault **ret)
{
	if (data == NULL || ret == NULL)
		return fail(CB_ERR_INVALID, "invalid argument");
	return parse(data, len, KDF_KEYFILE, key, NULL, ret);
}

static int read_vault(const char *path, struct buf *b)
{
	buf_init(b, VAULT_FILE_MAX);
	int r = file_read_private(path, VAULT_FILE_MAX, b);
	switch (r) {
	case 0:
		return 0;
	case CB_ERR_NOT_FOUND:
		return fail(r, "no such file");
	case CB_ERR_PERM:
		return fail(r, "refused: a symlink, not owned by this user, or accessible to group/others");
	case CB_ERR_TOO_LARGE:
		return fail(r, "larger than %u bytes", VAULT_FILE_MAX);
	case CB_ERR_INVALID:
		return fail(r, "not a regular file");
	default:
		return fail(r, "cannot read: %s", strerror(errno));
	}
}

int vault_open(const char *path, const uint8_t key[static VAULT_KEY_BYTES], struct vault **ret)
{
	if (path == NULL || ret == NULL)
		return fail(CB_ERR_INVALID, "invalid argument");
	struct buf b;
	int r = read_vault(path, &b);
	if (r == 0)
		r = parse(b.data ? b.data : (const uint8_t *)"", b.len, KDF_KEYFILE, key, path, ret);
	buf_free(&b);
	return r;
}

static int derive(const char *pass, size_t passlen, const struct vault *h, uint8_t *key)
{
	if (crypto_pwhash(key, VAULT_KEY_BYTES, pass, passlen, h->salt, h->opslimit,
			  (size_t)h->memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0)
		return fail(CB_ERR_NOMEM, "Argon2id failed (not enough memory for %llu MiB?)",
			    (unsigned long long)(h->memlimit >> 20));
	return 0;
}

int vault_open_passphrase(const char *path, const char *pass, size_t passlen, struct vault **ret)
{
	if (path == NULL || ret == NULL || pass == NULL || passlen < 1 || passlen > PASS_MAX)
		return fail(CB_ERR_INVALID, "invalid argument");
	struct buf b;
	int r = read_vault(path, &b);
	if (r < 0)
		goto out;
	const uint8_t *data = b.data ? b.data : (const uint8_t *)"";
	struct vault h = { 0 };
	uint32_t count;
	r = header_check(data, b.len, KDF_ARGON2ID, &h, &count);
	if (r < 0)
		goto out;
	uint8_t *key = sodium_malloc(VAULT_KEY_BYTES);
	if (key == NULL) {
		r = fail(CB_ERR_NOMEM, "out of memory");
		goto out;
	}
	r = derive(pass, passlen, &h, key);
	if (r == 0) {
		r = parse(data, b.len, KDF_ARGON2ID, key, path, ret);
		if (r == CB_ERR_AUTH_FAILED)
			r = fail(r, "authentication failed (wrong passphrase or tampered file)");
	}
	sodium_free(key);
out:
	buf_free(&b);
	return r;
}

/* --- creating ---------------------------------------------------------- */

/* Claim path with an empty placeholder so that two creators cannot both
 * succeed; the atomic save then replaces it. */
static int claim(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return fail(CB_ERR_EXISTS, "already exists");
		return fail(CB_ERR_IO, "cannot create: %s", strerror(errno));
	}
	close(fd);
	return 0;
}

static int create_with(const char *path, struct vault *v, struct vault **ret)
{
	int r = claim(path);
	if (r == 0) {
		r = vault_save(v);
		if (r < 0)
			unlink(path);
	}
	if (r < 0) {
		vault_free(v);
		return r;
	}
	*ret = v;
	return 0;
}

int vault_create(const char *path, const uint8_t key[static VAULT_KEY_BYTES], struct vault **ret)
{
	if (path == NULL || ret == NULL)
		return fail(CB_ERR_INVALID, "invalid argument");
	struct vault *v = vault_new(path, key);
	if (v == NULL)
		return fail(CB_ERR_NOMEM, "out of memory");
	v->kdf = KDF_KEYFILE;
	return create_with(path, v, ret);
}

int vault_create_passphrase_limits(const char *path, const char *pass, size_t passlen,
				   uint64_t opslimit, uint64_t memlimit, struct vault **ret)
{
	if (path == NULL || ret == NULL || pass == NULL || passlen < 1 || passlen > PASS_MAX ||
	    opslimit < crypto_pwhash_OPSLIMIT_MIN || opslimit > OPSLIMIT_CAP ||
	    memlimit < crypto_pwhash_MEMLIMIT_MIN || memlimit > MEMLIMIT_CAP)
		return fail(CB_ERR_INVALID, "invalid argument");
	struct vault h = { .kdf = KDF_ARGON2ID, .opslimit = opslimit, .memlimit = memlimit };
	randombytes_buf(h.salt, SALT_LEN);
	uint8_t *key = sodium_malloc(VAULT_KEY_BYTES);
	if (key == NULL)
		return fail(CB_ERR_NOMEM, "out of memory");
	int r = derive(pass, passlen, &h, key);
	struct vault *v = r == 0 ? vault_new(path, key) : NULL;
	sodium_free(key);
	if (r < 0)
		return r;
	if (v == NULL)
		return fail(CB_ERR_NOMEM, "out of memory");
	v->kdf = h.kdf;
	memcpy(v->salt, h.salt, SALT_LEN);
	v->opslimit = opslimit;
	v->memlimit = memlimit;
	return create_with(path, v, ret);
}

int vault_create_passphrase(const char *path, const char *pass, size_t passlen, struct vault **ret)
{
	return vault_create_passphrase_limits(path, pass, passlen, crypto_pwhash_OPSLIMIT_MODERATE,
					      crypto_pwhash_MEMLIMIT_MODERATE, ret);
}

/* --- the key file ------------------------------------------------------ */

static int fsync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t n = slash == NULL ? 0 : slash == path ? 1 : (size_t)(slash - path);
	if (n >= sizeof(dir))
		return CB_ERR_INVALID;
	if (n == 0)
		dir[n++] = '.';
	else
		memcpy(dir, path, n);
	dir[n] = '\0';
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return CB_ERR_IO;
	int r = fsync(fd) < 0 ? CB_ERR_IO : 0;
	close(fd);
	return r;
}

static int keyfile_create(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return 0; /* someone made it meanwhile: load theirs */
		return fail(CB_ERR_IO, "cannot create the key file: %s", strerror(errno));
	}
	uint8_t *key = sodium_malloc(VAULT_KEY_BYTES);
	int r = key == NULL ? CB_ERR_NOMEM : 0;
	if (r == 0) {
		randombytes_buf(key, VAULT_KEY_BYTES);
		/* A regular file takes 32 bytes in one write or fails. */
		if (write(fd, key, VAULT_KEY_BYTES) != VAULT_KEY_BYTES || fsync(fd) < 0)
			r = CB_ERR_IO;
	}
	int saved = errno;
	sodium_free(key);
	if (close(fd) < 0 && r == 0)
		r = CB_ERR_IO;
	if (r == 0)
		r = fsync_dir_of(path);
	if (r < 0) {
		unlink(path);
		return fail(r, "cannot write the key file: %s", strerror(saved));
	}
	return 0;
}

int vault_keyfile_load(const char *path, int create, uint8_t **ret_key)
{
	if (path == NULL || ret_key == NULL)
		return fail(CB_ERR_INVALID, "invalid argument");
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 && errno == ENOENT && create) {
		int r = keyfile_create(path);
		if (r < 0)
			return r;
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	}
	if (fd < 0) {
		if (errno == ENOENT)
			return fail(CB_ERR_NOT_FOUND, "no such key file");
		if (errno == ELOOP)
			return fail(CB_ERR_PERM, "the key file is a symlink");
		return fail(CB_ERR_IO, "cannot open the key file: %s", strerror(errno));
	}

	struct stat st;
	uint8_t *key = NULL;
	int r = 0;
	if (fstat(fd, &st) < 0)
		r = fail(CB_ERR_IO, "cannot stat the key file: %s", strerror(errno));
	else if (!S_ISREG(st.st_mode))
		r = fail(CB_ERR_PERM, "the key file is not a regular file");
	else if (st.st_uid != geteuid() || (st.st_mode & 077) != 0)
		r = fail(CB_ERR_PERM, "the key file must be owned by uid %u and mode 0600",
			 (unsigned)geteuid());
	else if (st.st_size != VAULT_KEY_BYTES)
		r = fail(CB_ERR_PARSE, "the key file must hold exactly %d bytes (it has %lld)",
			 VAULT_KEY_BYTES, (long long)st.st_size);
	else if ((key = sodium_malloc(VAULT_KEY_BYTES + 1)) == NULL)
		r = fail(CB_ERR_NOMEM, "out of memory");
	size_t got = 0;
	while (r == 0) {
		/* Read one byte more than the key to notice a file that grew. */
		ssize_t n = read(fd, key + got, VAULT_KEY_BYTES + 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			r = fail(CB_ERR_IO, "cannot read the key file: %s", strerror(errno));
		else if (n == 0)
			break;
		else if ((got += (size_t)n) > VAULT_KEY_BYTES)
			r = fail(CB_ERR_PARSE, "the key file must hold exactly %d bytes",
				 VAULT_KEY_BYTES);
	}
	if (r == 0 && got != VAULT_KEY_BYTES)
		r = fail(CB_ERR_PARSE, "the key file must hold exactly %d bytes", VAULT_KEY_BYTES);
	close(fd);
	if (r < 0) {
		sodium_free(key);
		return r;
	}
	sodium_mprotect_readonly(key);
	*ret_key = key;
	return 0;
}

void vault_key_free(uint8_t *key)
{
	sodium_free(key);
}
