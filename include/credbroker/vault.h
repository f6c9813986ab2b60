/* SPDX-License-Identifier: MIT */
#ifndef CREDBROKER_VAULT_H
#define CREDBROKER_VAULT_H

#include <stddef.h>
#include <stdint.h>

/*
 * The vault: the one file in state_dir that holds every long-term secret
 * (IAM secret keys, TOTP seeds, the audit MAC key), sealed with
 * XChaCha20-Poly1305 under a 32-byte key taken from a key file or derived
 * from a passphrase with Argon2id. The format is in docs/design.md ("Vault").
 *
 * An entry has a name (printable ASCII without spaces, 1-128 bytes, e.g.
 * "key/main", "totp/alice", "audit/mac"), a metadata string (non-secret, no
 * NUL, up to 4 KiB, encrypted and authenticated on disk but kept in ordinary
 * memory) and a secret (0-4096 bytes, kept in sodium_malloc memory).
 *
 * Errors are CB_ERR_* codes; vault_strerror_detail() turns the last one into
 * the sentence a user needs ("truncated inside entry 3", "written by a newer
 * credbroker (format 2)", ...). No secret ever reaches an error text.
 */

#define VAULT_KEY_BYTES 32
#define VAULT_NAME_MAX 128
#define VAULT_META_MAX 4096
#define VAULT_SECRET_MAX 4096
#define VAULT_ENTRIES_MAX 10000
#define VAULT_FILE_MAX (4u << 20)

struct vault;

/* Load the 32-byte key file at path (opened O_NOFOLLOW). With create != 0 and
 * no file there, first make one holding 32 random bytes (O_CREAT|O_EXCL, mode
 * 0600, fsynced). Refuses a symlink, a file not owned by the effective uid or
 * with any group/other permission bit (CB_ERR_PERM), and a size other than 32
 * (CB_ERR_PARSE); CB_ERR_NOT_FOUND when absent and create == 0. On success
 * *ret_key is a read-only sodium_malloc buffer the caller frees with
 * vault_key_free(). */
int vault_keyfile_load(const char *path, int create, uint8_t **ret_key);

/* Wipe and free a key from vault_keyfile_load(); NULL is a no-op. */
void vault_key_free(uint8_t *key);

/* Create a new, empty vault at path sealed with key, written atomically with
 * mode 0600. CB_ERR_EXISTS when something (even a dangling symlink) is
 * already at path. The vault keeps its own copy of the key. *ret is freed
 * with vault_free(). */
int vault_create(const char *path, const uint8_t key[static VAULT_KEY_BYTES], struct vault **ret);

/* As vault_create(), with the key derived by Argon2id from the passphrase
 * (pass, passlen: 1-1024 bytes, need not be NUL-terminated) with a random
 * salt and crypto_pwhash_OPSLIMIT_MODERATE / MEMLIMIT_MODERATE (3 passes,
 * 256 MiB): the vault is unlocked once per daemon start, so about a second
 * is affordable and every guess costs an attacker the same. */
int vault_create_passphrase(const char *path, const char *pass, size_t passlen, struct vault **ret);

/* vault_create_passphrase() with explicit Argon2id limits, for tests and
 * small machines. Limits outside [crypto_pwhash_*_MIN, the caps vault_open
 * accepts: 16 passes, 1 GiB] are refused with CB_ERR_INVALID. */
int vault_create_passphrase_limits(const char *path, const char *pass, size_t passlen,
				   uint64_t opslimit, uint64_t memlimit, struct vault **ret);

/* Open the key-file vault at path: read with O_NOFOLLOW, owner and mode
 * checked (CB_ERR_PERM for a symlink or a group/other-accessible file),
 * at most VAULT_FILE_MAX bytes (CB_ERR_TOO_LARGE), then vault_parse().
 * A passphrase vault is refused with CB_ERR_INVALID. *ret is freed with
 * vault_free(); it remembers path for vault_save(). */
int vault_open(const char *path, const uint8_t key[static VAULT_KEY_BYTES], struct vault **ret);

/* Open a passphrase vault: the key is derived from pass with the salt and
 * limits in the file's header (limits over the caps: CB_ERR_PARSE). A wrong
 * passphrase is CB_ERR_AUTH_FAILED. A key-file vault is CB_ERR_INVALID. */
int vault_open_passphrase(const char *path, const char *pass, size_t passlen, struct vault **ret);

/* Parse and authenticate a key-file vault held in memory (what vault_open()
 * does after reading the file; exposed for the fuzzer). Errors:
 * CB_ERR_VERSION (newer format), CB_ERR_AUTH_FAILED (wrong key or any change
 * to the bytes), CB_ERR_PARSE (not a vault, truncated, trailing data),
 * CB_ERR_INVALID (a passphrase vault). The result has no path, so
 * vault_save() on it fails with CB_ERR_INVALID. */
int vault_parse(const uint8_t *data, size_t len, const uint8_t key[static VAULT_KEY_BYTES],
		struct vault **ret);

/* Wipe every secret and the key, and free v. NULL is a no-op. */
void vault_free(struct vault *v);

/* Add an entry or replace the one with that name, in memory only (see
 * vault_save()). meta may be NULL for "". CB_ERR_INVALID for a bad name or
 * meta, CB_ERR_TOO_LARGE for an over-long meta or secret or the
 * VAULT_ENTRIES_MAX+1st entry, CB_ERR_NOMEM. On failure v is unchanged.
 * Replacing invalidates pointers vault_get() gave for that name. */
int vault_put(struct vault *v, const char *name, const char *meta, const void *secret,
	      size_t secret_len);

/* Look an entry up. The pointers stay valid until the entry is replaced or
 * removed or v is freed; the secret is read-only sodium_malloc memory the
 * caller must not free or copy into ordinary memory for long. Any ret_* may
 * be NULL. CB_ERR_NOT_FOUND. */
int vault_get(const struct vault *v, const char *name, const char **ret_meta,
	      const uint8_t **ret_secret, size_t *ret_secret_len);

/* Remove an entry (its secret wiped), in memory only. CB_ERR_NOT_FOUND. */
int vault_remove(struct vault *v, const char *name);

/* The number of entries, and the name of the i-th in byte order (NULL when
 * i >= vault_count()). Names are valid until the entry is removed. */
size_t vault_count(const struct vault *v);
const char *vault_name_at(const struct vault *v, size_t i);

/* Write the whole vault to its path with fresh nonces, atomically
 * (file_write_atomic: temp file, fsync, rename, fsync directory; mode 0600).
 * On failure (CB_ERR_IO, CB_ERR_TOO_LARGE over VAULT_FILE_MAX, CB_ERR_NOMEM)
 * the file still holds what the last successful save wrote, and v is
 * unchanged, i.e. ahead of the file: a later vault_save() may be retried. */
int vault_save(struct vault *v);

/* A sentence for err as returned by the last failing vault_* call in this
 * thread ("truncated inside entry 3", "written by a newer credbroker (format
 * 2)", "authentication failed (wrong key or tampered file)"); for any other
 * err, cb_strerror(err). Static or thread-local storage, valid until the next
 * vault_* call in this thread. Callers print "vault: PATH: DETAIL". */
const char *vault_strerror_detail(int err);

#endif
