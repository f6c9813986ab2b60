/* SPDX-License-Identifier: MIT */
/*
 * Arbitrary bytes as a vault file, through vault_parse() with a fixed key
 * (the seed corpus in corpus/vault/ was written under it). Each input is
 * parsed twice: as it is, and with its final authenticator recomputed under
 * the key, so that mutations also reach the entry walk and the per-entry
 * checks behind the trailer, not only the trailer's refusal.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "credbroker/vault.h"

#define TRAILER_LEN 40

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_vault(struct vault *v)
{
	const char *prev = NULL;
	for (size_t i = 0; i < vault_count(v); i++) {
		const char *name = vault_name_at(v, i), *meta;
		const uint8_t *secret;
		size_t len;
		if (name == NULL || vault_get(v, name, &meta, &secret, &len) != 0 ||
		    len > VAULT_SECRET_MAX || strlen(meta) > VAULT_META_MAX)
			abort();
		if (prev != NULL && strcmp(prev, name) >= 0)
			abort();
		prev = name;
	}
	if (vault_name_at(v, vault_count(v)) != NULL)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	if (!ready) {
		if (sodium_init() < 0)
			abort();
		ready = 1;
	}
	uint8_t key[VAULT_KEY_BYTES];
	memset(key, 0x42, sizeof(key));

	struct vault *v = NULL;
	if (vault_parse(data, size, key, &v) == 0) {
		check_vault(v);
		vault_free(v);
	}
	if (size < TRAILER_LEN || size > VAULT_FILE_MAX)
		return 0;

	/* The trailer is 'T' | everything before it, sealed: recompute it. */
	size_t body = size - TRAILER_LEN;
	uint8_t *copy = malloc(size), *ad = malloc(body + 1), empty[1] = { 0 };
	if (copy == NULL || ad == NULL)
		abort();
	memcpy(copy, data, size);
	ad[0] = 'T';
	memcpy(ad + 1, data, body);
	crypto_aead_xchacha20poly1305_ietf_encrypt_detached(empty, copy + body + 24, NULL, empty, 0,
							    ad, body + 1, NULL, copy + body, key);
	v = NULL;
	if (vault_parse(copy, size, key, &v) == 0) {
		check_vault(v);
		vault_free(v);
	}
	free(ad);
	free(copy);
	return 0;
}
