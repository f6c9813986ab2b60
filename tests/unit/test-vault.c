/* SPDX-License-Identifier: MIT */
/*
 * The vault: round trips with a key file and a passphrase, refusal of every
 * change to the file (each byte flipped, each truncation, entries removed,
 * duplicated, swapped, renamed or transplanted), newer formats, unsafe
 * permissions, and atomicity when the saving process is SIGKILLed.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "credbroker/err.h"
#include "credbroker/vault.h"

#include "check.h"

#define HEADER_LEN 48
#define TRAILER_LEN 40

static char dir[] = "/tmp/cb-test-vault-XXXXXX";

static const char *at(const char *name)
{
	static char paths[8][512];
	static int next;
	char *p = paths[next++ % 8];
	snprintf(p, sizeof(paths[0]), "%s/%s", dir, name);
	return p;
}

static uint8_t *slurp(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	uint8_t *data = malloc(VAULT_FILE_MAX + 2);
	size_t n = data ? fread(data, 1, VAULT_FILE_MAX + 1, f) : 0;
	fclose(f);
	*ret_len = n;
	return data;
}

static int spit(const char *path, const void *data, size_t len, mode_t mode)
{
	unlink(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
	if (fd < 0)
		return -1;
	int ok = write(fd, data, len) == (ssize_t)len && fchmod(fd, mode) == 0;
	close(fd);
	return ok ? 0 : -1;
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Start and length of each entry of a vault file, by the documented format. */
static size_t entries_of(const uint8_t *data, size_t len, size_t start[], size_t size[], size_t max)
{
	size_t n = rd32(data + 44), off = HEADER_LEN;
	for (size_t i = 0; i < n && i < max; i++) {
		size_t nl = (size_t)(data[off] << 8 | data[off + 1]);
		size_t bl = rd32(data + off + 2 + nl);
		start[i] = off;
		size[i] = 2 + nl + 4 + 24 + bl;
		off += size[i];
	}
	return off + TRAILER_LEN == len ? n : 0;
}

/* What only the key holder can do: recompute the final authenticator, to
 * show that the per-entry binding holds on its own. */
static void reseal(uint8_t *data, size_t len, const uint8_t *key)
{
	size_t body = len - TRAILER_LEN;
	uint8_t *ad = malloc(body + 1), empty[1] = { 0 };
	ad[0] = 'T';
	memcpy(ad + 1, data, body);
	crypto_aead_xchacha20poly1305_ietf_encrypt_detached(empty, data + body + 24, NULL, empty, 0,
							    ad, body + 1, NULL, data + body, key);
	free(ad);
}

/* A digest of everything a vault holds, to compare states. */
static void fingerprint(const struct vault *v, uint8_t out[32])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, 32);
	for (size_t i = 0; i < vault_count(v); i++) {
		const char *name = vault_name_at(v, i), *meta;
		const uint8_t *secret;
		size_t slen;
		uint8_t lenbuf[8] = { 0 };
		if (vault_get(v, name, &meta, &secret, &slen) != 0)
			abort();
		wr32(lenbuf + 4, (uint32_t)slen);
		crypto_generichash_update(&st, (const uint8_t *)name, strlen(name) + 1);
		crypto_generichash_update(&st, (const uint8_t *)meta, strlen(meta) + 1);
		crypto_generichash_update(&st, lenbuf, sizeof(lenbuf));
		crypto_generichash_update(&st, secret, slen);
	}
	crypto_generichash_final(&st, out, 32);
}

static void test_keyfile(uint8_t **ret_key)
{
	char kpath[512];
	snprintf(kpath, sizeof(kpath), "%s/vault.key", dir);
	uint8_t *key = NULL, *again = NULL;
	CHECK_INT(vault_keyfile_load(kpath, 0, &key), CB_ERR_NOT_FOUND);
	CHECK(key == NULL);
	CHECK_INT(vault_keyfile_load(kpath, 1, &key), 0);
	struct stat st;
	CHECK(stat(kpath, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size == 32);
	/* Loading again (create or not) gives the same key, never a new one. */
	CHECK_INT(vault_keyfile_load(kpath, 1, &again), 0);
	CHECK(key && again && sodium_memcmp(key, again, 32) == 0);
	vault_key_free(again);
	again = NULL;

	uint8_t raw[33] = { 0 };
	char bad[512];
	snprintf(bad, sizeof(bad), "%s/bad.key", dir);
	CHECK(spit(bad, raw, 31, 0600) == 0);
	CHECK_INT(vault_keyfile_load(bad, 1, &again), CB_ERR_PARSE);
	CHECK(strstr(vault_strerror_detail(CB_ERR_PARSE), "exactly 32 bytes") != NULL);
	CHECK(spit(bad, raw, 33, 0600) == 0);
	CHECK_INT(vault_keyfile_load(bad, 0, &again), CB_ERR_PARSE);
	CHECK(spit(bad, raw, 0, 0600) == 0);
	CHECK_INT(vault_keyfile_load(bad, 0, &again), CB_ERR_PARSE);
	CHECK(spit(bad, raw, 32, 0640) == 0);
	CHECK_INT(vault_keyfile_load(bad, 0, &again), CB_ERR_PERM);
	CHECK(spit(bad, raw, 32, 0602) == 0);
	CHECK_INT(vault_keyfile_load(bad, 0, &again), CB_ERR_PERM);
	/* Once fixed, it loads. */
	CHECK(chmod(bad, 0600) == 0);
	CHECK_INT(vault_keyfile_load(bad, 0, &again), 0);
	vault_key_free(again);
	again = NULL;
	/* A symlink is refused, even to a good key file, and create does not
	 * follow a dangling one. */
	CHECK(symlink(kpath, at("link.key")) == 0);
	CHECK_INT(vault_keyfile_load(at("link.key"), 0, &again), CB_ERR_PERM);
	CHECK(symlink(at("nowhere"), at("dangling.key")) == 0);
	CHECK(vault_keyfile_load(at("dangling.key"), 1, &again) < 0);
	CHECK(access(at("nowhere"), F_OK) != 0);
	CHECK(again == NULL);
	unlink(at("link.key"));
	unlink(at("dangling.key"));
	unlink(bad);
	*ret_key = key;
}

static void test_round_trip(const uint8_t *key)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/vault", dir);
	struct vault *v = NULL;
	CHECK_INT(vault_create(path, key, &v), 0);
	CHECK_INT((long long)vault_count(v), 0);
	struct vault *v2 = NULL;
	CHECK_INT(vault_create(path, key, &v2), CB_ERR_EXISTS);
	CHECK(v2 == NULL);

	/* An empty vault is a valid vault. */
	CHECK_INT(vault_open(path, key, &v2), 0);
	CHECK_INT((long long)vault_count(v2), 0);
	vault_free(v2);

	const char aws[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
	uint8_t seed[20], mac[32], seed2[20];
	randombytes_buf(seed, sizeof(seed));
	randombytes_buf(mac, sizeof(mac));
	randombytes_buf(seed2, sizeof(seed2));
	CHECK_INT(vault_put(v, "key/main", "{\"id\":\"AKIAEXAMPLE\"}", aws, strlen(aws)), 0);
	CHECK_INT(vault_put(v, "totp/alice", NULL, seed, sizeof(seed)), 0);
	CHECK_INT(vault_put(v, "audit/mac", "", mac, sizeof(mac)), 0);
	CHECK_INT(vault_put(v, "totp/alice", "v2", seed2, sizeof(seed2)), 0); /* replaces */
	CHECK_INT(vault_put(v, "empty", "meta only", NULL, 0), 0);

	/* Bad names and sizes are refused and change nothing. */
	char longname[130];
	memset(longname, 'n', 129);
	longname[129] = '\0';
	static char bigmeta[VAULT_META_MAX + 2];
	memset(bigmeta, 'm', VAULT_META_MAX + 1);
	static uint8_t bigsecret[VAULT_SECRET_MAX + 1];
	CHECK_INT(vault_put(v, "", "", seed, 1), CB_ERR_INVALID);
	CHECK_INT(vault_put(v, "a b", "", seed, 1), CB_ERR_INVALID);
	CHECK_INT(vault_put(v, "tab\t", "", seed, 1), CB_ERR_INVALID);
	CHECK_INT(vault_put(v, longname, "", seed, 1), CB_ERR_INVALID);
	CHECK_INT(vault_put(v, "key/x", bigmeta, seed, 1), CB_ERR_TOO_LARGE);
	CHECK_INT(vault_put(v, "key/x", "", bigsecret, sizeof(bigsecret)), CB_ERR_TOO_LARGE);
	longname[128] = '\0';
	CHECK_INT(vault_put(v, longname, bigmeta + 1, bigsecret, VAULT_SECRET_MAX), 0);
	CHECK_INT((long long)vault_count(v), 5);
	CHECK_INT(vault_save(v), 0);
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	uint8_t before[32], after[32];
	fingerprint(v, before);
	vault_free(v);

	CHECK_INT(vault_open(path, key, &v), 0);
	CHECK_INT((long long)vault_count(v), 5);
	CHECK_STR(vault_name_at(v, 0), "audit/mac");
	CHECK_STR(vault_name_at(v, 1), "empty");
	CHECK_STR(vault_name_at(v, 2), "key/main");
	CHECK_STR(vault_name_at(v, 3), longname);
	CHECK_STR(vault_name_at(v, 4), "totp/alice");
	CHECK(vault_name_at(v, 5) == NULL);
	const char *meta = NULL;
	const uint8_t *secret = NULL;
	size_t slen = 0;
	CHECK_INT(vault_get(v, "key/main", &meta, &secret, &slen), 0);
	CHECK_STR(meta, "{\"id\":\"AKIAEXAMPLE\"}");
	CHECK(slen == strlen(aws) && memcmp(secret, aws, slen) == 0);
	CHECK_INT(vault_get(v, "totp/alice", &meta, &secret, &slen), 0);
	CHECK_STR(meta, "v2");
	CHECK(slen == sizeof(seed2) && memcmp(secret, seed2, slen) == 0);
	CHECK_INT(vault_get(v, "audit/mac", &meta, &secret, &slen), 0);
	CHECK(slen == sizeof(mac) && memcmp(secret, mac, slen) == 0);
	CHECK_INT(vault_get(v, "empty", &meta, &secret, &slen), 0);
	CHECK_STR(meta, "meta only");
	CHECK_INT((long long)slen, 0);
	CHECK_INT(vault_get(v, longname, &meta, &secret, &slen), 0);
	CHECK_INT((long long)strlen(meta), VAULT_META_MAX);
	CHECK_INT((long long)slen, VAULT_SECRET_MAX);
	fingerprint(v, after);
	CHECK(memcmp(before, after, 32) == 0);
	CHECK_INT(vault_get(v, "totp/bob", &meta, &secret, &slen), CB_ERR_NOT_FOUND);

	CHECK_INT(vault_remove(v, "key/main"), 0);
	CHECK_INT(vault_remove(v, "key/main"), CB_ERR_NOT_FOUND);
	CHECK_INT(vault_remove(v, longname), 0);
	CHECK_INT(vault_get(v, "key/main", NULL, NULL, NULL), CB_ERR_NOT_FOUND);
	CHECK_INT(vault_save(v), 0);
	vault_free(v);
	CHECK_INT(vault_open(path, key, &v), 0);
	CHECK_INT((long long)vault_count(v), 3);
	CHECK_INT(vault_get(v, "key/main", NULL, NULL, NULL), CB_ERR_NOT_FOUND);
	CHECK_INT(vault_get(v, "totp/alice", NULL, &secret, &slen), 0);
	CHECK(slen == sizeof(seed2) && memcmp(secret, seed2, slen) == 0);

	/* A failed save leaves the file as it was and the vault ahead of it;
	 * once the cause is gone, the retried save writes everything. */
	char moved[512];
	snprintf(moved, sizeof(moved), "%s.moved", dir);
	CHECK_INT(vault_put(v, "key/second", "{}", aws, 10), 0);
	CHECK(rename(dir, moved) == 0);
	CHECK_INT(vault_save(v), CB_ERR_IO);
	CHECK(strstr(vault_strerror_detail(CB_ERR_IO), "cannot write") != NULL);
	CHECK(rename(moved, dir) == 0);
	CHECK_INT(vault_get(v, "key/second", NULL, NULL, NULL), 0);
	v2 = NULL;
	CHECK_INT(vault_open(path, key, &v2), 0);
	CHECK_INT((long long)vault_count(v2), 3);
	vault_free(v2);
	CHECK_INT(vault_save(v), 0);
	CHECK_INT(vault_open(path, key, &v2), 0);
	CHECK_INT((long long)vault_count(v2), 4);
	CHECK_INT(vault_get(v2, "key/second", NULL, NULL, NULL), 0);
	vault_free(v2);

	/* The wrong key is refused, with the message a user needs, and the
	 * right one still opens it afterwards. */
	uint8_t wrong[32];
	randombytes_buf(wrong, sizeof(wrong));
	v2 = NULL;
	CHECK_INT(vault_open(path, wrong, &v2), CB_ERR_AUTH_FAILED);
	CHECK(v2 == NULL);
	CHECK_STR(vault_strerror_detail(CB_ERR_AUTH_FAILED),
		  "authentication failed (wrong key or tampered file)");
	CHECK_INT(vault_open(path, key, &v2), 0);
	vault_free(v2);

	/* A key-file vault is not opened with a passphrase. */
	CHECK_INT(vault_open_passphrase(path, "pw", 2, &v2), CB_ERR_INVALID);
	CHECK(strstr(vault_strerror_detail(CB_ERR_INVALID), "key file") != NULL);
	vault_free(v);
}

static void test_passphrase(void)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/pvault", dir);
	const char pass[] = "correct horse battery staple";
	uint64_t ops = crypto_pwhash_OPSLIMIT_MIN, mem = crypto_pwhash_MEMLIMIT_MIN;
	struct vault *v = NULL;
	CHECK_INT(vault_create_passphrase_limits(path, pass, 0, ops, mem, &v), CB_ERR_INVALID);
	CHECK_INT(vault_create_passphrase_limits(path, pass, strlen(pass), 0, mem, &v),
		  CB_ERR_INVALID);
	CHECK_INT(vault_create_passphrase_limits(path, pass, strlen(pass), ops, 1ull << 31, &v),
		  CB_ERR_INVALID);
	CHECK(access(path, F_OK) != 0);
	CHECK_INT(vault_create_passphrase_limits(path, pass, strlen(pass), ops, mem, &v), 0);
	CHECK_INT(vault_put(v, "key/main", "{}", "secret-access-key", 17), 0);
	CHECK_INT(vault_put(v, "totp/bob", "", "seed", 4), 0);
	CHECK_INT(vault_save(v), 0);
	vault_free(v);
	v = NULL;

	CHECK_INT(vault_open_passphrase(path, "wrong", 5, &v), CB_ERR_AUTH_FAILED);
	CHECK(strstr(vault_strerror_detail(CB_ERR_AUTH_FAILED), "wrong passphrase") != NULL);
	CHECK_INT(vault_open_passphrase(path, pass, strlen(pass) - 1, &v), CB_ERR_AUTH_FAILED);
	CHECK(v == NULL);
	uint8_t key[32] = { 0 };
	CHECK_INT(vault_open(path, key, &v), CB_ERR_INVALID);
	CHECK(strstr(vault_strerror_detail(CB_ERR_INVALID), "passphrase") != NULL);
	CHECK_INT(vault_open_passphrase(path, pass, strlen(pass), &v), 0);
	const uint8_t *secret;
	size_t slen;
	CHECK_INT(vault_get(v, "key/main", NULL, &secret, &slen), 0);
	CHECK(slen == 17 && memcmp(secret, "secret-access-key", 17) == 0);
	/* Saving keeps the passphrase: the re-saved file opens with it. */
	CHECK_INT(vault_remove(v, "totp/bob"), 0);
	CHECK_INT(vault_save(v), 0);
	vault_free(v);
	v = NULL;
	CHECK_INT(vault_open_passphrase(path, pass, strlen(pass), &v), 0);
	CHECK_INT((long long)vault_count(v), 1);
	vault_free(v);
	v = NULL;

	/* Every byte of a passphrase vault matters too (salt, limits, ...). */
	size_t len;
	uint8_t *data = slurp(path, &len);
	char flipped[512];
	snprintf(flipped, sizeof(flipped), "%s/pflip", dir);
	int refused = 0;
	for (size_t i = 0; data && i < len; i++) {
		data[i] ^= 0x01;
		CHECK(spit(flipped, data, len, 0600) == 0);
		int r = vault_open_passphrase(flipped, pass, strlen(pass), &v);
		CHECK(r < 0);
		refused += r < 0;
		data[i] ^= 0x01;
	}
	CHECK_INT(refused, (long long)len);
	CHECK(spit(flipped, data, len, 0600) == 0);
	CHECK_INT(vault_open_passphrase(flipped, pass, strlen(pass), &v), 0);
	vault_free(v);
	fprintf(stderr, "passphrase vault: %zu single-byte flips refused\n", len);
	free(data);
	unlink(flipped);
}

/* Every flipped byte and every truncation of a vault held in memory. */
static void test_tamper(const uint8_t *key)
{
	size_t len;
	uint8_t *data = slurp(at("vault"), &len);
	CHECK(data != NULL && len > HEADER_LEN + TRAILER_LEN);
	if (data == NULL)
		return;
	struct vault *v = NULL;
	CHECK_INT(vault_parse(data, len, key, &v), 0);
	vault_free(v);

	int codes[3] = { 0 }; /* AUTH_FAILED, PARSE, VERSION */
	size_t flips = 0;
	static const uint8_t masks[] = { 0x01, 0x80, 0xff };
	for (size_t i = 0; i < len; i++) {
		for (size_t m = 0; m < sizeof(masks); m++) {
			data[i] ^= masks[m];
			v = NULL;
			int r = vault_parse(data, len, key, &v);
			CHECK(r < 0 && v == NULL);
			codes[0] += r == CB_ERR_AUTH_FAILED;
			codes[1] += r == CB_ERR_PARSE;
			codes[2] += r == CB_ERR_VERSION;
			if (r == 0)
				fprintf(stderr, "flip 0x%02x at %zu accepted\n", masks[m], i);
			vault_free(v);
			data[i] ^= masks[m];
			flips++;
		}
	}
	CHECK_INT(codes[0] + codes[1] + codes[2], (long long)flips);
	fprintf(stderr, "%zu flips over %zu bytes: %d auth failed, %d malformed, %d version\n", flips,
		len, codes[0], codes[1], codes[2]);

	/* Every truncation is refused and reads as one. */
	size_t truncs = 0;
	for (size_t n = 0; n < len; n++) {
		v = NULL;
		int r = vault_parse(data, n, key, &v);
		CHECK_INT(r, CB_ERR_PARSE);
		CHECK(strstr(vault_strerror_detail(r), "truncated") != NULL);
		truncs += r == CB_ERR_PARSE;
	}
	CHECK_INT((long long)truncs, (long long)len);
	fprintf(stderr, "%zu truncation lengths refused as truncated\n", truncs);

	/* Data after the end is refused; the intact file still parses. */
	uint8_t *longer = malloc(len + 1);
	memcpy(longer, data, len);
	longer[len] = 0;
	CHECK_INT(vault_parse(longer, len + 1, key, &v), CB_ERR_PARSE);
	free(longer);
	CHECK_INT(vault_parse(data, len, key, &v), 0);
	/* A vault parsed from bytes has no file to save to. */
	CHECK_INT(vault_save(v), CB_ERR_INVALID);
	vault_free(v);

	/* A newer format is named as such, even before anything else. */
	data[8] = 0;
	data[9] = 2;
	CHECK_INT(vault_parse(data, len, key, &v), CB_ERR_VERSION);
	CHECK_STR(vault_strerror_detail(CB_ERR_VERSION), "written by a newer credbroker (format 2)");
	data[9] = 1;

	static const char junk[] = "not a vault at all, just some text in a file";
	CHECK_INT(vault_parse((const uint8_t *)junk, sizeof(junk), key, &v), CB_ERR_PARSE);
	CHECK_STR(vault_strerror_detail(CB_ERR_PARSE), "not a credbroker vault");
	free(data);
}

/* Entries removed, duplicated, swapped, renamed or brought in from another
 * vault under the same key. */
static void test_entries_moved(const uint8_t *key)
{
	size_t len;
	uint8_t *data = slurp(at("vault"), &len);
	size_t start[8], size[8];
	size_t n = data ? entries_of(data, len, start, size, 8) : 0;
	CHECK(n >= 3);
	if (n < 3) {
		free(data);
		return;
	}
	uint8_t *out = malloc(len * 2);
	struct vault *v = NULL;
	size_t olen;

	for (int resealed = 0; resealed < 2; resealed++) {
		/* Entry 1 removed, count lowered to match. */
		memcpy(out, data, start[1]);
		memcpy(out + start[1], data + start[1] + size[1], len - start[1] - size[1]);
		olen = len - size[1];
		wr32(out + 44, (uint32_t)(n - 1));
		if (resealed)
			reseal(out, olen, key);
		CHECK_INT(vault_parse(out, olen, key, &v), CB_ERR_AUTH_FAILED);

		/* Entry 0 duplicated. */
		memcpy(out, data, start[1]);
		memcpy(out + start[1], data + start[0], size[0]);
		memcpy(out + start[1] + size[0], data + start[1], len - start[1]);
		olen = len + size[0];
		wr32(out + 44, (uint32_t)(n + 1));
		if (resealed)
			reseal(out, olen, key);
		CHECK_INT(vault_parse(out, olen, key, &v), CB_ERR_AUTH_FAILED);

		/* Entries 0 and 1 swapped. */
		memcpy(out, data, len);
		memcpy(out + start[0], data + start[1], size[1]);
		memcpy(out + start[0] + size[1], data + start[0], size[0]);
		if (resealed)
			reseal(out, len, key);
		CHECK_INT(vault_parse(out, len, key, &v), CB_ERR_AUTH_FAILED);

		/* An entry renamed: "audit/mac" becomes "audit/mad". */
		memcpy(out, data, len);
		CHECK(memcmp(out + start[0] + 2, "audit/mac", 9) == 0);
		out[start[0] + 2 + 8] = 'd';
		if (resealed)
			reseal(out, len, key);
		CHECK_INT(vault_parse(out, len, key, &v), CB_ERR_AUTH_FAILED);
	}
	CHECK(v == NULL);

	/* An entry from another vault under the same key, same name, same
	 * place: refused, because the trailer covers every byte. */
	struct vault *other = NULL;
	CHECK_INT(vault_create(at("other"), key, &other), 0);
	CHECK_INT(vault_put(other, "audit/mac", "", "0123456789abcdef0123456789abcdef", 32), 0);
	CHECK_INT(vault_save(other), 0);
	vault_free(other);
	size_t xlen;
	uint8_t *x = slurp(at("other"), &xlen);
	size_t xs[1], xz[1];
	CHECK(x != NULL && entries_of(x, xlen, xs, xz, 1) == 1);
	if (x != NULL) {
		memcpy(out, data, start[0]);
		memcpy(out + start[0], x + xs[0], xz[0]);
		memcpy(out + start[0] + xz[0], data + start[1], len - start[1]);
		olen = len - size[0] + xz[0];
		CHECK_INT(vault_parse(out, olen, key, &v), CB_ERR_AUTH_FAILED);
	}
	free(x);
	unlink(at("other"));

	/* And the original still opens. */
	CHECK_INT(vault_parse(data, len, key, &v), 0);
	CHECK_INT((long long)vault_count(v), (long long)n);
	vault_free(v);
	free(out);
	free(data);
}

static void test_file_checks(const uint8_t *key)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/vault", dir);
	struct vault *v = NULL;
	CHECK(chmod(path, 0640) == 0);
	CHECK_INT(vault_open(path, key, &v), CB_ERR_PERM);
	CHECK(strstr(vault_strerror_detail(CB_ERR_PERM), "group/others") != NULL);
	CHECK(chmod(path, 0604) == 0);
	CHECK_INT(vault_open(path, key, &v), CB_ERR_PERM);
	CHECK(chmod(path, 0600) == 0);
	CHECK(symlink(path, at("vault.link")) == 0);
	CHECK_INT(vault_open(at("vault.link"), key, &v), CB_ERR_PERM);
	CHECK_INT(vault_create(at("vault.link"), key, &v), CB_ERR_EXISTS);
	CHECK(v == NULL);
	CHECK_INT(vault_open(path, key, &v), 0);
	vault_free(v);
	v = NULL;
	unlink(at("vault.link"));

	CHECK_INT(vault_open(at("absent"), key, &v), CB_ERR_NOT_FOUND);
	uint8_t *big = calloc(1, VAULT_FILE_MAX + 1);
	CHECK(big && spit(at("big"), big, VAULT_FILE_MAX + 1, 0600) == 0);
	CHECK_INT(vault_open(at("big"), key, &v), CB_ERR_TOO_LARGE);
	free(big);
	unlink(at("big"));
	CHECK(v == NULL);
}

/* A vault that would pass the file cap is not written; dropping entries
 * lets the next save through. */
static void test_too_large(const uint8_t *key)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/lvault", dir);
	static char meta[VAULT_META_MAX + 1];
	static uint8_t secret[VAULT_SECRET_MAX];
	memset(meta, 'm', VAULT_META_MAX);
	struct vault *v = NULL, *check = NULL;
	CHECK_INT(vault_create(path, key, &v), 0);
	int n = (int)(VAULT_FILE_MAX / (VAULT_META_MAX + VAULT_SECRET_MAX)) + 1;
	for (int i = 0; v && i < n; i++) {
		char name[32];
		snprintf(name, sizeof(name), "big/%04d", i);
		CHECK_INT(vault_put(v, name, meta, secret, sizeof(secret)), 0);
	}
	CHECK_INT(vault_save(v), CB_ERR_TOO_LARGE);
	CHECK(strstr(vault_strerror_detail(CB_ERR_TOO_LARGE), "exceed") != NULL);
	CHECK_INT((long long)vault_count(v), n);
	CHECK_INT(vault_open(path, key, &check), 0);
	CHECK_INT((long long)vault_count(check), 0);
	vault_free(check);
	check = NULL;
	/* Each entry takes a little more than meta + secret on disk. */
	for (int i = 0; i < 10; i++) {
		char name[32];
		snprintf(name, sizeof(name), "big/%04d", i);
		CHECK_INT(vault_remove(v, name), 0);
	}
	CHECK_INT(vault_save(v), 0);
	CHECK_INT(vault_open(path, key, &check), 0);
	CHECK_INT((long long)vault_count(check), n - 10);
	vault_free(check);
	vault_free(v);
	unlink(path);
}

/* A state whose save takes a while: many entries with large secrets. */
static int put_big_state(struct vault *v)
{
	static uint8_t secret[2048];
	for (int i = 0; i < 300; i++) {
		char name[32], meta[64];
		snprintf(name, sizeof(name), "key/k%03d", i);
		snprintf(meta, sizeof(meta), "{\"n\":%d}", i);
		memset(secret, i & 0xff, sizeof(secret));
		if (vault_put(v, name, meta, secret, sizeof(secret)) < 0)
			return -1;
	}
	return 0;
}

/* SIGKILL a process in the middle of saving, at many points: the vault
 * must always open, holding the old state or the new one. */
static void test_kill(const uint8_t *key)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/kvault", dir);
	struct vault *old = NULL, *big = NULL;
	CHECK_INT(vault_create(path, key, &old), 0);
	CHECK_INT(vault_put(old, "key/main", "{}", "old-secret", 10), 0);
	CHECK_INT(vault_put(old, "totp/alice", "", "old-seed", 8), 0);
	/* The child opens the old state and adds the big one to it. */
	CHECK_INT(vault_create(at("kbig"), key, &big), 0);
	CHECK_INT(vault_put(big, "key/main", "{}", "old-secret", 10), 0);
	CHECK_INT(vault_put(big, "totp/alice", "", "old-seed", 8), 0);
	CHECK(big && put_big_state(big) == 0);
	uint8_t fp_old[32], fp_new[32], fp[32];
	fingerprint(old, fp_old);
	fingerprint(big, fp_new);
	/* How long one save of the big state takes here, to spread the kills
	 * across it. The assertions hold wherever a kill lands. */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_INT(vault_save(big), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long long save_ns = (t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
	vault_free(big);
	unlink(at("kbig"));

	enum { ROUNDS = 120 };
	int saw_old = 0, saw_new = 0, stale = 0, bad = 0;
	for (int round = 0; round < ROUNDS; round++) {
		CHECK_INT(vault_save(old), 0);
		int pipefd[2];
		CHECK(pipe(pipefd) == 0);
		pid_t pid = fork();
		if (pid == 0) {
			close(pipefd[0]);
			struct vault *v = NULL;
			if (vault_open(path, key, &v) < 0 || put_big_state(v) < 0)
				_exit(2);
			/* 'R' when ready, then 'S' after every completed save. */
			if (write(pipefd[1], "R", 1) != 1)
				_exit(3);
			for (;;) {
				if (vault_save(v) < 0)
					_exit(4);
				if (write(pipefd[1], "S", 1) != 1)
					_exit(5);
			}
		}
		close(pipefd[1]);
		char c = 0;
		CHECK(read(pipefd[0], &c, 1) == 1 && c == 'R');
		/* Mostly kill during the first save, at points spread from its
		 * start to past its end; every fourth round, during a later one. */
		int completed = round % 4 == 3;
		if (completed)
			CHECK(read(pipefd[0], &c, 1) == 1 && c == 'S');
		long long delay = save_ns * 3 / 2 * (round % 40) / 40, now;
		struct timespec start, t;
		clock_gettime(CLOCK_MONOTONIC, &start);
		do {
			clock_gettime(CLOCK_MONOTONIC, &t);
			now = (t.tv_sec - start.tv_sec) * 1000000000LL + (t.tv_nsec - start.tv_nsec);
		} while (now < delay);
		kill(pid, SIGKILL);
		int status;
		CHECK(waitpid(pid, &status, 0) == pid);
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		close(pipefd[0]);

		struct vault *v = NULL;
		int r = vault_open(path, key, &v);
		CHECK_INT(r, 0);
		if (r == 0) {
			fingerprint(v, fp);
			/* Once a save has returned, its state is the file's. */
			if (memcmp(fp, fp_old, 32) == 0 && !completed)
				saw_old++;
			else if (memcmp(fp, fp_new, 32) == 0)
				saw_new++;
			else
				bad++;
			vault_free(v);
		}
		/* Nothing but the vault and stale temp files is left. */
		DIR *d = opendir(dir);
		struct dirent *e;
		while (d && (e = readdir(d)) != NULL) {
			if (strncmp(e->d_name, "kvault.tmp.", 11) == 0) {
				stale++;
				unlink(at(e->d_name));
			} else if (strncmp(e->d_name, "kvault", 6) == 0) {
				CHECK_STR(e->d_name, "kvault");
			}
		}
		if (d)
			closedir(d);
	}
	CHECK_INT(bad, 0);
	CHECK_INT(saw_old + saw_new, ROUNDS);
	fprintf(stderr, "kill: %d kill points over a %lld us save, %d old, %d new, %d stale temp files\n",
		ROUNDS, save_ns / 1000, saw_old, saw_new, stale);
	vault_free(old);
}

int main(void)
{
	CHECK(sodium_init() >= 0);
	CHECK(mkdtemp(dir) != NULL);
	uint8_t *key = NULL;
	test_keyfile(&key);
	if (key != NULL) {
		test_round_trip(key);
		test_tamper(key);
		test_entries_moved(key);
		test_file_checks(key);
		test_too_large(key);
		test_kill(key);
	}
	test_passphrase();
	vault_key_free(key);

	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
	return check_status();
}
