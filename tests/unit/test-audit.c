/* SPDX-License-Identifier: MIT */
/*
 * The audit log: a chain verifies; every kind of tampering is reported at
 * the right line; a restart continues the chain; records hold exactly the
 * documented keys; and an append that cannot reach the disk (full
 * filesystem, file size limit, file removed or replaced) is refused while
 * the chain stays intact, and works again once the cause is gone.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "credbroker/audit.h"
#include "credbroker/buf.h"
#include "credbroker/err.h"

#include "check.h"

#define NREC 6

static uint8_t key[AUDIT_KEY_BYTES];
static char dir[] = "/tmp/test-audit-XXXXXX";

static void path_in(char out[static 512], const char *name)
{
	snprintf(out, 512, "%s/%s", dir, name);
}

static struct audit_record rec(int i)
{
	static char user[32];
	snprintf(user, sizeof(user), "user%d", i);
	return (struct audit_record){
		.time = 1700000000 + i, .event = "issue", .user = user, .uid = 1000 + i,
		.pid = 4242, .peer = "unix", .profile = "consultant-readonly",
		.role_arn = "arn:aws:iam::123456789012:role/ConsultantReadOnly", .duration = 3600,
		.access_key_id = "ASIAEXAMPLE", .source_identity = user, .outcome = "ok",
		.reason = NULL, .detail = NULL,
	};
}

static int make_log(const char *path, const uint8_t *k, int n, int first)
{
	struct audit *a = NULL;
	int r = audit_open(path, k, &a);
	for (int i = 0; r == 0 && i < n; i++) {
		struct audit_record x = rec(first + i);
		r = audit_append(a, &x);
	}
	audit_close(a);
	return r;
}

/* The file's lines, newlines kept; *ret_n of them. */
static char **read_lines(const char *path, int *ret_n)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return NULL;
	char **lines = calloc(64, sizeof(char *));
	char buf[AUDIT_LINE_MAX + 2];
	int n = 0;
	while (n < 64 && fgets(buf, sizeof(buf), f) != NULL)
		lines[n++] = strdup(buf);
	fclose(f);
	*ret_n = n;
	return lines;
}

static void free_lines(char **lines, int n)
{
	for (int i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
}

static void write_file(const char *path, const char *const *parts, int n)
{
	FILE *f = fopen(path, "w");
	for (int i = 0; i < n; i++)
		fputs(parts[i], f);
	fclose(f);
	chmod(path, 0600);
}

/* Verify path; the result, and the bad line and reason through ret_*. */
static int verify(const char *path, size_t *ret_records, size_t *ret_line, char why[static 128])
{
	struct buf w;
	buf_init(&w, 127);
	size_t recs = 9999, line = 9999;
	int r = audit_verify(path, key, &recs, &line, &w);
	snprintf(why, 128, "%s", buf_str(&w));
	buf_free(&w);
	if (ret_records)
		*ret_records = recs;
	if (ret_line)
		*ret_line = line;
	return r;
}

#define CHECK_BROKEN(path, want_line, want_why)                                  \
	do {                                                                     \
		size_t bad_ = 0;                                                 \
		char why_[128];                                                  \
		CHECK_INT(verify(path, NULL, &bad_, why_), CB_ERR_AUDIT_BROKEN); \
		CHECK_INT(bad_, want_line);                                      \
		CHECK_STR(why_, want_why);                                       \
	} while (0)

static void test_chain_and_tampering(void)
{
	char log[512], bad[512], other[512];
	path_in(log, "chain.jsonl");
	path_in(bad, "bad.jsonl");
	path_in(other, "other.jsonl");
	CHECK_INT(make_log(log, key, NREC, 1), 0);

	size_t recs = 0, line = 0;
	char why[128];
	CHECK_INT(verify(log, &recs, &line, why), 0);
	CHECK_INT(recs, NREC);

	int n = 0;
	char **l = read_lines(log, &n);
	CHECK_INT(n, NREC);
	if (l == NULL || n != NREC)
		return;

	/* A changed byte in a field. */
	char *changed = strdup(l[2]);
	char *u = strstr(changed, "\"user\":\"user3\"");
	CHECK(u != NULL);
	if (u != NULL)
		u[11] = 'f';
	write_file(bad, (const char *[]){ l[0], l[1], changed, l[3], l[4], l[5] }, 6);
	CHECK_BROKEN(bad, 3, "MAC mismatch");
	free(changed);

	/* A record removed from the middle, or the first one. */
	write_file(bad, (const char *[]){ l[0], l[1], l[3], l[4], l[5] }, 5);
	CHECK_BROKEN(bad, 3, "sequence gap: expected 3, found 4");
	write_file(bad, (const char *[]){ l[1], l[2], l[3], l[4], l[5] }, 5);
	CHECK_BROKEN(bad, 1, "sequence gap: expected 1, found 2");

	/* Two records swapped. */
	write_file(bad, (const char *[]){ l[0], l[1], l[3], l[2], l[4], l[5] }, 6);
	CHECK_BROKEN(bad, 3, "sequence gap: expected 3, found 4");

	/* A record inserted: a replayed copy, a forgery, a blank line. */
	write_file(bad, (const char *[]){ l[0], l[1], l[2], l[3], l[1], l[4], l[5] }, 7);
	CHECK_BROKEN(bad, 5, "sequence out of order: expected 5, found 2");
	char *forged = strdup(l[3]);
	char *s4 = strstr(forged, "\"seq\":4");
	CHECK(s4 != NULL);
	if (s4 != NULL)
		s4[6] = '5';
	write_file(bad, (const char *[]){ l[0], l[1], l[2], l[3], forged, l[4], l[5] }, 7);
	CHECK_BROKEN(bad, 5, "MAC mismatch");
	free(forged);
	write_file(bad, (const char *[]){ l[0], l[1], "\n", l[2], l[3], l[4], l[5] }, 7);
	CHECK_BROKEN(bad, 3, "not JSON");

	/* A record from another chain under the same key: its MAC and seq are
	 * fine, its link to the previous record is not. */
	CHECK_INT(make_log(other, key, 3, 100), 0);
	int on = 0;
	char **ol = read_lines(other, &on);
	CHECK_INT(on, 3);
	if (ol != NULL && on == 3) {
		write_file(bad, (const char *[]){ l[0], l[1], ol[2], l[3], l[4], l[5] }, 6);
		CHECK_BROKEN(bad, 3, "previous-MAC mismatch");
	}
	free_lines(ol, on);

	/* The last record cut short, even by its newline only. */
	char *cut = strndup(l[5], strlen(l[5]) / 2);
	write_file(bad, (const char *[]){ l[0], l[1], l[2], l[3], l[4], cut }, 6);
	CHECK_BROKEN(bad, 6, "truncated record (no final newline)");
	free(cut);
	cut = strndup(l[5], strlen(l[5]) - 1);
	write_file(bad, (const char *[]){ l[0], l[1], l[2], l[3], l[4], cut }, 6);
	CHECK_BROKEN(bad, 6, "truncated record (no final newline)");
	free(cut);
	/* ... and audit_open refuses to continue such a chain. */
	struct audit *a = NULL;
	CHECK_INT(audit_open(bad, key, &a), CB_ERR_AUDIT_BROKEN);
	CHECK(a == NULL);

	/* Any single byte of the file changed is caught, at its line. */
	size_t total = 0, caught = 0;
	for (int li = 0; li < n; li++) {
		size_t len = strlen(l[li]);
		for (size_t off = 0; off + 1 < len; off++) { /* not the newline */
			char *m = strdup(l[li]);
			m[off] ^= 0x01;
			const char *parts[NREC];
			for (int k = 0; k < n; k++)
				parts[k] = k == li ? m : l[k];
			write_file(bad, parts, n);
			size_t bl = 0;
			if (verify(bad, NULL, &bl, why) == CB_ERR_AUDIT_BROKEN && bl == (size_t)li + 1)
				caught++;
			total++;
			free(m);
		}
	}
	fprintf(stderr, "single-byte changes caught at the right line: %zu/%zu\n", caught, total);
	CHECK(total > 1000);
	CHECK_INT(caught, total);

	/* The wrong key verifies nothing. */
	uint8_t wrong[AUDIT_KEY_BYTES];
	memcpy(wrong, key, sizeof(wrong));
	wrong[0] ^= 1;
	size_t bl = 0;
	CHECK_INT(audit_verify(log, wrong, NULL, &bl, NULL), CB_ERR_AUDIT_BROKEN);
	CHECK_INT(bl, 1);
	CHECK_INT(audit_open(log, wrong, &a), CB_ERR_AUDIT_BROKEN);

	/* A restart continues the chain where it ended. */
	CHECK_INT(make_log(log, key, 2, 7), 0);
	CHECK_INT(verify(log, &recs, NULL, why), 0);
	CHECK_INT(recs, NREC + 2);
	int n2 = 0;
	char **l2 = read_lines(log, &n2);
	CHECK(n2 == NREC + 2 && strstr(l2[NREC + 1], "\"seq\":8,") != NULL);
	free_lines(l2, n2);
	free_lines(l, n);

	/* Not through a symlink, not a missing file. */
	char link[512];
	path_in(link, "link.jsonl");
	CHECK_INT(symlink(log, link), 0);
	CHECK_INT(audit_open(link, key, &a), CB_ERR_PERM);
	CHECK_INT(audit_verify(link, key, NULL, NULL, NULL), CB_ERR_PERM);
	path_in(link, "missing.jsonl");
	CHECK_INT(audit_verify(link, key, NULL, NULL, NULL), CB_ERR_NOT_FOUND);
}

static void test_record_keys(void)
{
	char log[512];
	path_in(log, "keys.jsonl");
	struct audit *a = NULL;
	CHECK_INT(audit_open(log, key, &a), 0);
	struct audit_record full = rec(1);
	full.reason = "totp_invalid";
	full.detail = "key add main";
	full.user = "eve\n{\"seq\":99}"; /* cannot start a line of its own */
	struct audit_record bare = { .time = 0, .event = "admin", .uid = -1, .pid = -1,
				     .duration = -1 };
	CHECK_INT(audit_append(a, &full), 0);
	CHECK_INT(audit_append(a, &bare), 0);
	struct audit_record none = bare;
	none.event = NULL;
	CHECK_INT(audit_append(a, &none), CB_ERR_INVALID);
	audit_close(a);

	int n = 0;
	char **l = read_lines(log, &n);
	CHECK_INT(n, 2);
	if (l == NULL || n != 2)
		return;
	static const char *const want_full[] = { "seq", "time", "event", "user", "uid", "pid",
		"peer", "profile", "role_arn", "duration", "access_key_id", "source_identity",
		"outcome", "reason", "detail", "prev", "mac", NULL };
	static const char *const want_bare[] = { "seq", "time", "event", "prev", "mac", NULL };
	const char *const *wants[] = { want_full, want_bare };
	for (int i = 0; i < 2; i++) {
		cJSON *j = cJSON_Parse(l[i]);
		CHECK(j != NULL);
		if (j == NULL)
			continue;
		int k = 0, same = 1;
		for (const cJSON *c = j->child; c != NULL; c = c->next, k++)
			same = same && wants[i][k] != NULL && strcmp(c->string, wants[i][k]) == 0;
		CHECK(same && wants[i][k] == NULL);
		if (i == 0) {
			CHECK_STR(cJSON_GetObjectItem(j, "user")->valuestring, "eve\n{\"seq\":99}");
			CHECK_STR(cJSON_GetObjectItem(j, "time")->valuestring, "2023-11-14T22:13:21Z");
			CHECK_INT(cJSON_GetObjectItem(j, "uid")->valuedouble, 1001);
			CHECK_STR(cJSON_GetObjectItem(j, "prev")->valuestring,
				  "0000000000000000000000000000000000000000000000000000000000000000");
		}
		cJSON_Delete(j);
	}
	/* The key itself appears nowhere. */
	char hex[2 * AUDIT_KEY_BYTES + 1];
	for (size_t i = 0; i < AUDIT_KEY_BYTES; i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	CHECK(strstr(l[0], hex) == NULL && strstr(l[1], hex) == NULL);
	free_lines(l, n);

	/* Over the line cap: refused, and the chain goes on. */
	CHECK_INT(audit_open(log, key, &a), 0);
	char *huge = malloc(AUDIT_LINE_MAX);
	memset(huge, 'x', AUDIT_LINE_MAX - 1);
	huge[AUDIT_LINE_MAX - 1] = '\0';
	full.detail = huge;
	CHECK_INT(audit_append(a, &full), CB_ERR_TOO_LARGE);
	free(huge);
	CHECK_INT(audit_append(a, &bare), 0);
	audit_close(a);
	size_t recs = 0;
	char why[128];
	CHECK_INT(verify(log, &recs, NULL, why), 0);
	CHECK_INT(recs, 3);
}

static void test_removed_or_replaced(void)
{
	char log[512], repl[512];
	path_in(log, "gone.jsonl");
	path_in(repl, "replacement.jsonl");
	struct audit_record x = rec(1);
	struct audit *a = NULL;

	CHECK_INT(audit_open(log, key, &a), 0);
	CHECK_INT(audit_append(a, &x), 0);
	CHECK_INT(unlink(log), 0);
	CHECK_INT(audit_append(a, &x), CB_ERR_AUDIT_UNAVAILABLE);
	CHECK_INT(audit_append(a, &x), CB_ERR_AUDIT_UNAVAILABLE);
	audit_close(a);
	/* The removed log's head still names its record 1: a fresh, empty log
	 * beside it is a log that lost its records, and is refused... */
	char head[600], repl_head[600];
	snprintf(head, sizeof(head), "%s.head", log);
	snprintf(repl_head, sizeof(repl_head), "%s.head", repl);
	CHECK_INT(audit_open(log, key, &a), CB_ERR_AUDIT_BROKEN);
	/* ...until the administrator moves the head aside with the old log. */
	CHECK_INT(unlink(head), 0);

	CHECK_INT(audit_open(log, key, &a), 0);
	CHECK_INT(audit_append(a, &x), 0);
	CHECK_INT(make_log(repl, key, 1, 1), 0);
	CHECK_INT(rename(repl, log), 0);
	CHECK_INT(rename(repl_head, head), 0);
	CHECK_INT(audit_append(a, &x), CB_ERR_AUDIT_UNAVAILABLE);
	audit_close(a);

	/* Someone else appended to the log behind the daemon's back. */
	CHECK_INT(audit_open(log, key, &a), 0);
	int fd = open(log, O_WRONLY | O_APPEND);
	CHECK(fd >= 0 && write(fd, "junk\n", 5) == 5);
	close(fd);
	CHECK_INT(audit_append(a, &x), CB_ERR_AUDIT_UNAVAILABLE);
	audit_close(a);
}

static off_t size_of(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* RLIMIT_FSIZE makes write(2) fail with EFBIG for root too: a real failed
 * write, part of the line written first. Raising the limit again is the
 * recovery. */
static void test_file_size_limit(void)
{
	char log[512];
	path_in(log, "fsize.jsonl");
	CHECK_INT(make_log(log, key, 2, 1), 0);
	struct audit *a = NULL;
	CHECK_INT(audit_open(log, key, &a), 0);
	off_t before = size_of(log);

	struct rlimit old, low;
	CHECK_INT(getrlimit(RLIMIT_FSIZE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)before + 100; /* room for part of a line */
	signal(SIGXFSZ, SIG_IGN);
	CHECK_INT(setrlimit(RLIMIT_FSIZE, &low), 0);
	struct audit_record x = rec(3);
	CHECK_INT(audit_append(a, &x), CB_ERR_AUDIT_UNAVAILABLE);
	CHECK_INT(audit_append(a, &x), CB_ERR_AUDIT_UNAVAILABLE);
	CHECK_INT(setrlimit(RLIMIT_FSIZE, &old), 0);
	CHECK_INT(size_of(log), before); /* the partial line was cut off */

	CHECK_INT(audit_append(a, &x), 0);
	audit_close(a);
	size_t recs = 0;
	char why[128];
	CHECK_INT(verify(log, &recs, NULL, why), 0);
	CHECK_INT(recs, 3);
}

/* A full filesystem (ENOSPC) on a 16 KiB tmpfs, mounted in a mount
 * namespace of this process only so nothing outlives the test. */
static void test_disk_full(void)
{
	char mnt[512], log[600], filler[600];
	path_in(mnt, "small");
	CHECK_INT(mkdir(mnt, 0700), 0);
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", mnt, "tmpfs", 0, "size=16k,mode=0700") < 0) {
		/* Not root or no CAP_SYS_ADMIN: the RLIMIT_FSIZE test above
		 * still exercises a real failed write. */
		fprintf(stderr, "SKIP disk-full test: cannot mount a tmpfs: %s\n", strerror(errno));
		rmdir(mnt);
		return;
	}
	snprintf(log, sizeof(log), "%s/audit.jsonl", mnt);
	snprintf(filler, sizeof(filler), "%s/filler", mnt);

	struct audit *a = NULL;
	CHECK_INT(audit_open(log, key, &a), 0);
	struct audit_record x = rec(1);
	CHECK_INT(audit_append(a, &x), 0);

	/* Fill what is left, then append until the log's last page is full. */
	int fd = open(filler, O_WRONLY | O_CREAT, 0600);
	CHECK(fd >= 0);
	char page[4096] = { 0 };
	while (write(fd, page, sizeof(page)) > 0)
		;
	while (write(fd, page, 1) > 0)
		;
	close(fd);
	int ok = 1, r = 0;
	while ((r = audit_append(a, &x)) == 0 && ok < 100)
		ok++;
	fprintf(stderr, "disk full after %d records\n", ok);
	CHECK_INT(r, CB_ERR_AUDIT_UNAVAILABLE);
	CHECK_INT(audit_append(a, &x), CB_ERR_AUDIT_UNAVAILABLE);

	/* What is on disk is still a whole, valid chain. */
	size_t recs = 0;
	char why[128];
	CHECK_INT(verify(log, &recs, NULL, why), 0);
	CHECK_INT(recs, ok);

	/* Space freed: appends work again and the chain still verifies. */
	CHECK_INT(unlink(filler), 0);
	CHECK_INT(audit_append(a, &x), 0);
	CHECK_INT(audit_append(a, &x), 0);
	audit_close(a);
	CHECK_INT(verify(log, &recs, NULL, why), 0);
	CHECK_INT(recs, ok + 2);

	unlink(log);
	umount2(mnt, MNT_DETACH);
	rmdir(mnt);
}

struct worker {
	struct audit *a;
	int failures;
};

static void *append_many(void *arg)
{
	struct worker *w = arg;
	struct audit_record x = { .event = "refuse", .outcome = "refused",
				  .reason = "totp_invalid", .uid = -1, .pid = -1, .duration = -1 };
	for (int i = 0; i < 50; i++)
		w->failures += audit_append(w->a, &x) != 0;
	return NULL;
}

static void test_threads(void)
{
	char log[512];
	path_in(log, "threads.jsonl");
	struct audit *a = NULL;
	CHECK_INT(audit_open(log, key, &a), 0);
	pthread_t t[4];
	struct worker w[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ .a = a };
		CHECK_INT(pthread_create(&t[i], NULL, append_many, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECK_INT(w[i].failures, 0);
	}
	audit_close(a);
	size_t recs = 0;
	char why[128];
	CHECK_INT(verify(log, &recs, NULL, why), 0);
	CHECK_INT(recs, 200);
}

/* Copy a whole small file (the head) from one path to another, 0600. */
static int copy_file(const char *from, const char *to)
{
	char buf[1024];
	int in = open(from, O_RDONLY);
	if (in < 0)
		return -1;
	ssize_t n = read(in, buf, sizeof(buf));
	close(in);
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (n < 0 || out < 0)
		return -1;
	int r = write(out, buf, (size_t)n) == n ? 0 : -1;
	close(out);
	return r;
}

/* The head file vouches for the end of the log: records cut off at the end,
 * a missing or forged head, and a log rewritten under an old head are all
 * caught; a head one record behind (a crash between a record and its head)
 * is accepted and brought up to date. */
static void test_head(void)
{
	char log[512], head[600], saved[700], other[512], other_head[600], why[128];
	path_in(log, "head.jsonl");
	path_in(other, "rewritten.jsonl");
	snprintf(head, sizeof(head), "%s.head", log);
	snprintf(saved, sizeof(saved), "%s.saved", head);
	snprintf(other_head, sizeof(other_head), "%s.head", other);
	size_t recs = 0;
	struct audit *a = NULL;

	CHECK_INT(make_log(log, key, 5, 1), 0);
	CHECK(size_of(head) > 0);
	CHECK_INT(verify(log, &recs, NULL, why), 0);
	CHECK_INT(recs, 5);

	/* The last record cut off: a shorter chain is still a chain, the head
	 * says otherwise; the daemon refuses to go on from there too. */
	int n = 0;
	char **l = read_lines(log, &n);
	CHECK(l != NULL && n == 5);
	off_t full = size_of(log);
	CHECK_INT(truncate(log, full - (off_t)strlen(l[4])), 0);
	CHECK_BROKEN(log, 5, "records removed at the end: the head file names record 5, the log ends at 4");
	CHECK_INT(audit_open(log, key, &a), CB_ERR_AUDIT_BROKEN);
	int fd = open(log, O_WRONLY | O_APPEND);
	CHECK(fd >= 0 && write(fd, l[4], strlen(l[4])) == (ssize_t)strlen(l[4]));
	close(fd);
	free_lines(l, n);
	CHECK_INT(verify(log, &recs, NULL, why), 0);

	/* No head: the end cannot be vouched for. A forged one: likewise. */
	CHECK_INT(rename(head, saved), 0);
	CHECK_BROKEN(log, 6, "the head file is missing: the end of the log cannot be checked");
	CHECK_INT(audit_open(log, key, &a), CB_ERR_AUDIT_BROKEN);
	CHECK_INT(copy_file(saved, head), 0);
	fd = open(head, O_WRONLY);
	CHECK(fd >= 0 && pwrite(fd, "9", 1, 7) == 1); /* "seq":5 becomes "seq":9 */
	close(fd);
	CHECK_BROKEN(log, 6, "the head file is altered or not this log's");
	CHECK_INT(rename(saved, head), 0);
	CHECK_INT(verify(log, &recs, NULL, why), 0);

	/* One record behind, as a crash between record and head leaves it. */
	CHECK_INT(copy_file(head, saved), 0);
	CHECK_INT(make_log(log, key, 1, 6), 0);
	CHECK_INT(rename(saved, head), 0);
	CHECK_INT(verify(log, &recs, NULL, why), 0);
	CHECK_INT(recs, 6);
	CHECK_INT(audit_open(log, key, &a), 0);
	audit_close(a);
	l = read_lines(head, &n);
	CHECK(l != NULL && n == 1 && strncmp(l[0], "{\"seq\":6,", 9) == 0);
	free_lines(l, n);

	/* The log rewritten from record 6 on under the old head: another
	 * chain's head names a record 6 with another MAC. */
	CHECK_INT(make_log(other, key, 6, 100), 0);
	CHECK_INT(copy_file(other_head, head), 0);
	CHECK_BROKEN(log, 6, "not the record the head file names (the log was rewritten from here)");
}

int main(void)
{
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(0xa0 + i);
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_chain_and_tampering();
	test_record_keys();
	test_removed_or_replaced();
	test_head();
	test_file_size_limit();
	test_threads();
	test_disk_full();

	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return check_status();
}
