/* SPDX-License-Identifier: MIT */
#ifndef CREDBROKER_AUDIT_H
#define CREDBROKER_AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct buf;

/*
 * The tamper-evident audit log: one JSON object per line, each carrying
 * "seq" (1, 2, 3, ...), "prev" (the previous record's MAC in hex, 64 zeros
 * for the first) and, last, "mac": HMAC-SHA-512-256 (libsodium crypto_auth)
 * under the 32-byte audit key over the exact bytes of the object without
 * its "mac" member. Changing, removing, reordering or inserting a record, or
 * cutting the last one short, breaks the chain at the first affected line.
 *
 * The end of the log: a shorter chain is still a valid chain, so after each
 * append the last seq and MAC are also written, sealed with the key, to
 * "<path>.head" (atomically; a crash may leave it one record behind, never
 * ahead). audit_open() and audit_verify() require the record it names to be
 * in the chain; a missing or forged head is a broken log. Rolling back both
 * the log and the head to an older pair kept aside is not detected.
 *
 * The key is not logged and not stored in the file; records hold no secret
 * (no TOTP code, no secret key), only the fields of struct audit_record.
 */

#define AUDIT_KEY_BYTES 32
#define AUDIT_LINE_MAX (16 * 1024) /* longest record, newline included */

struct audit;

/* One record. NULL strings and negative numbers are left out of the line. */
struct audit_record {
	time_t time;                 /* 0: now */
	const char *event;           /* "issue", "refuse", "admin"; required */
	const char *user;
	long uid, pid;               /* the peer's; -1 when unknown */
	const char *peer;            /* "unix", "tls:1.2.3.4" */
	const char *profile, *role_arn;
	long duration;               /* seconds granted; -1 when none */
	const char *access_key_id, *source_identity;
	const char *outcome;         /* "ok", "refused", "error" */
	const char *reason;          /* stable code, "totp_invalid" */
	const char *detail;          /* admin action, "key add main" */
};

/* Open path for appending (created 0600, never through a symlink; an
 * existing file must be a regular file of the effective uid that group and
 * others cannot write) and continue its chain: the last record is checked
 * against key and its seq and MAC picked up. The key is copied into locked
 * memory. *ret is freed with audit_close(). CB_ERR_AUDIT_UNAVAILABLE when
 * the file cannot be opened or read, CB_ERR_PERM on an unsafe file,
 * CB_ERR_AUDIT_BROKEN when the last record does not verify (a torn or
 * altered tail: run audit_verify() and move the log aside), CB_ERR_NOMEM. */
int audit_open(const char *path, const uint8_t key[static AUDIT_KEY_BYTES], struct audit **ret);

/* Append r as one line, write(2) and fsync(2) it. Safe from several threads.
 * Fails with CB_ERR_AUDIT_UNAVAILABLE on any write or flush error (disk full,
 * I/O error) and when the file was removed or replaced since audit_open();
 * a partial line is cut off again and the chain does not advance, so a
 * later successful append still verifies. A caller must not hand out
 * credentials unless this returned 0. CB_ERR_INVALID without r->event,
 * CB_ERR_TOO_LARGE over AUDIT_LINE_MAX. */
int audit_append(struct audit *a, const struct audit_record *r);

/* Close the file and wipe the key. NULL is fine. */
void audit_close(struct audit *a);

/* Walk the whole log at path (opened without following a symlink) and
 * check every record: 0 when the chain is intact, with *ret_records the
 * number of records. CB_ERR_AUDIT_BROKEN when it is not, with *ret_records
 * the number of good records before it, *ret_bad_line the 1-based line of
 * the first bad record and a reason appended to ret_why ("MAC mismatch",
 * "sequence gap: expected 5, found 6", "not JSON", "previous-MAC mismatch",
 * "truncated record (no final newline)", ...). CB_ERR_NOT_FOUND,
 * CB_ERR_PERM (a symlink), CB_ERR_IO. Every ret_ pointer may be NULL. */
int audit_verify(const char *path, const uint8_t key[static AUDIT_KEY_BYTES], size_t *ret_records,
		 size_t *ret_bad_line, struct buf *ret_why);

/* audit_verify() on an open file descriptor, read from its current offset
 * to the end (a pipe or memfd is fine). */
int audit_verify_fd(int fd, const uint8_t key[static AUDIT_KEY_BYTES], size_t *ret_records,
		    size_t *ret_bad_line, struct buf *ret_why);

#endif
