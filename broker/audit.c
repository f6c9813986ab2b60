/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "credbroker/audit.h"
#include "credbroker/buf.h"
#include "credbroker/cbtime.h"
#include "credbroker/err.h"
#include "credbroker/file.h"

#define MAC_BYTES crypto_auth_BYTES
#define MAC_HEX (MAC_BYTES * 2)
/* Every line ends with exactly this, the MAC in lower-case hex between. */
#define MAC_HEAD ",\"mac\":\""
#define MAC_TAIL "\"}"
#define MAC_SUFFIX_LEN (sizeof(MAC_HEAD) - 1 + MAC_HEX + sizeof(MAC_TAIL) - 1)
/* seq is a JSON number: keep it where a double is exact. */
#define SEQ_MAX ((double)(1ULL << 53))

struct audit {
	pthread_mutex_t lock;
	int fd;
	char *path;
	dev_t dev;
	ino_t ino;
	off_t end;          /* where the last complete record ends */
	bool dirty;         /* a failed append may have left bytes past end */
	uint64_t seq;       /* of the last record; 0 when the log is empty */
	uint8_t mac[MAC_BYTES];
	uint8_t *key;       /* sodium_malloc'd */
};

/* What a line says about itself once its MAC has been checked. */
struct audit_line {
	uint64_t seq;
	uint8_t prev[MAC_BYTES];
	uint8_t mac[MAC_BYTES];
};

static int hex_to_mac(const char *hex, size_t len, uint8_t out[static MAC_BYTES])
{
	size_t n = 0;
	const char *end = NULL;
	if (len != MAC_HEX)
		return CB_ERR_PARSE;
	/* Lower case only, as written: "AB" would decode like "ab" and let a
	 * byte of the line change unnoticed. */
	for (size_t i = 0; i < len; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
			return CB_ERR_PARSE;
	if (sodium_hex2bin(out, MAC_BYTES, hex, len, NULL, &n, &end) != 0 || n != MAC_BYTES ||
	    end != hex + len)
		return CB_ERR_PARSE;
	return 0;
}

/* The MAC of a record: over the line's bytes before ",\"mac\"" plus the
 * closing brace, i.e. the JSON object without its "mac" member. */
static void line_mac(const uint8_t *key, const char *head, size_t head_len,
		     uint8_t out[static MAC_BYTES])
{
	crypto_auth_hmacsha512256_state st;
	crypto_auth_hmacsha512256_init(&st, key, AUDIT_KEY_BYTES);
	crypto_auth_hmacsha512256_update(&st, (const unsigned char *)head, head_len);
	crypto_auth_hmacsha512256_update(&st, (const unsigned char *)"}", 1);
	crypto_auth_hmacsha512256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

/* Check one line (without its newline) against key and read its seq, prev
 * and mac. A reason goes to why on CB_ERR_AUDIT_BROKEN. */
static int line_check(const uint8_t *key, const char *line, size_t len, struct audit_line *ret,
		      struct buf *why)
{
	const char *reason = NULL;
	struct audit_line l;
	cJSON *j = NULL;
	const char *parse_end = NULL;

	j = cJSON_ParseWithLengthOpts(line, len, &parse_end, false);
	if (j == NULL || !cJSON_IsObject(j) || parse_end != line + len) {
		reason = "not JSON";
		goto out;
	}
	const char *tail = len > MAC_SUFFIX_LEN ? line + len - MAC_SUFFIX_LEN : line;
	if (len <= MAC_SUFFIX_LEN || memcmp(tail, MAC_HEAD, sizeof(MAC_HEAD) - 1) != 0 ||
	    memcmp(line + len - (sizeof(MAC_TAIL) - 1), MAC_TAIL, sizeof(MAC_TAIL) - 1) != 0 ||
	    hex_to_mac(tail + sizeof(MAC_HEAD) - 1, MAC_HEX, l.mac) < 0) {
		reason = "no MAC at the end of the record";
		goto out;
	}
	uint8_t want[MAC_BYTES];
	line_mac(key, line, (size_t)(tail - line), want);
	int differ = sodium_memcmp(want, l.mac, MAC_BYTES);
	sodium_memzero(want, sizeof(want));
	if (differ != 0) {
		reason = "MAC mismatch";
		goto out;
	}
	/* From here the content is the key holder's own. */
	const cJSON *seq = cJSON_GetObjectItemCaseSensitive(j, "seq");
	const cJSON *prev = cJSON_GetObjectItemCaseSensitive(j, "prev");
	if (!cJSON_IsNumber(seq) || seq->valuedouble < 1 || seq->valuedouble > SEQ_MAX ||
	    seq->valuedouble != (double)(uint64_t)seq->valuedouble) {
		reason = "no valid seq";
		goto out;
	}
	if (!cJSON_IsString(prev) || hex_to_mac(prev->valuestring, strlen(prev->valuestring), l.prev) < 0) {
		reason = "no valid prev";
		goto out;
	}
	l.seq = (uint64_t)seq->valuedouble;
	*ret = l;
out:
	cJSON_Delete(j);
	if (reason == NULL)
		return 0;
	if (why != NULL)
		buf_puts(why, reason);
	return CB_ERR_AUDIT_BROKEN;
}

/*
 * The head file, <log>.head: the seq and MAC of the last record, sealed with
 * the key. A chain alone cannot show that its last records were cut off; the
 * head can, since only the key holder can seal a head for a shorter chain.
 * It is rewritten (atomically) after every append, so it may lag the log by
 * the record a crash interrupted, never run ahead of it.
 */
#define HEAD_SUFFIX ".head"
#define HEAD_FILE_MAX 512

struct head {
	uint64_t seq;
	uint8_t mac[MAC_BYTES];
};

static void head_seal(const uint8_t *key, const struct head *h, uint8_t out[static MAC_BYTES])
{
	static const char label[] = "credbroker audit head v1";
	uint8_t seq[8];
	for (int i = 0; i < 8; i++)
		seq[i] = (uint8_t)(h->seq >> (56 - 8 * i));
	crypto_auth_hmacsha512256_state st;
	crypto_auth_hmacsha512256_init(&st, key, AUDIT_KEY_BYTES);
	crypto_auth_hmacsha512256_update(&st, (const unsigned char *)label, sizeof(label));
	crypto_auth_hmacsha512256_update(&st, seq, sizeof(seq));
	crypto_auth_hmacsha512256_update(&st, h->mac, MAC_BYTES);
	crypto_auth_hmacsha512256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

static char *head_path(const char *log_path)
{
	struct buf b;
	buf_init(&b, 4096);
	if (buf_printf(&b, "%s" HEAD_SUFFIX, log_path) < 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

/* Write h as the head of the log at log_path. */
static int head_write(const char *log_path, const uint8_t *key, const struct head *h)
{
	char mac_hex[MAC_HEX + 1], seal_hex[MAC_HEX + 1];
	uint8_t seal[MAC_BYTES];
	head_seal(key, h, seal);
	sodium_bin2hex(mac_hex, sizeof(mac_hex), h->mac, MAC_BYTES);
	sodium_bin2hex(seal_hex, sizeof(seal_hex), seal, MAC_BYTES);
	struct buf text;
	buf_init(&text, HEAD_FILE_MAX);
	char *path = head_path(log_path);
	int r = path == NULL ? CB_ERR_NOMEM
			     : buf_printf(&text, "{\"seq\":%llu,\"mac\":\"%s\",\"seal\":\"%s\"}\n",
					  (unsigned long long)h->seq, mac_hex, seal_hex);
	if (r == 0)
		r = file_write_atomic(path, text.data, text.len, 0600);
	free(path);
	buf_free(&text);
	return r;
}

/* Read and check the head of the log at log_path: 0, CB_ERR_NOT_FOUND, or
 * CB_ERR_AUDIT_BROKEN (unreadable, malformed or not sealed with key). */
static int head_read(const char *log_path, const uint8_t *key, struct head *ret)
{
	char *path = head_path(log_path);
	if (path == NULL)
		return CB_ERR_NOMEM;
	struct buf b;
	buf_init(&b, HEAD_FILE_MAX);
	int r = file_read_private(path, HEAD_FILE_MAX, &b);
	free(path);
	if (r == CB_ERR_NOT_FOUND) {
		buf_free(&b);
		return r;
	}
	cJSON *j = r == 0 ? cJSON_ParseWithLength((const char *)b.data, b.len) : NULL;
	const cJSON *seq = cJSON_GetObjectItemCaseSensitive(j, "seq");
	const cJSON *mac = cJSON_GetObjectItemCaseSensitive(j, "mac");
	const cJSON *seal = cJSON_GetObjectItemCaseSensitive(j, "seal");
	struct head h;
	uint8_t got[MAC_BYTES], want[MAC_BYTES];
	r = CB_ERR_AUDIT_BROKEN;
	if (cJSON_IsNumber(seq) && seq->valuedouble >= 0 && seq->valuedouble <= SEQ_MAX &&
	    seq->valuedouble == (double)(uint64_t)seq->valuedouble && cJSON_IsString(mac) &&
	    cJSON_IsString(seal) && hex_to_mac(mac->valuestring, strlen(mac->valuestring), h.mac) == 0 &&
	    hex_to_mac(seal->valuestring, strlen(seal->valuestring), got) == 0) {
		h.seq = (uint64_t)seq->valuedouble;
		head_seal(key, &h, want);
		if (sodium_memcmp(got, want, MAC_BYTES) == 0) {
			*ret = h;
			r = 0;
		}
	}
	cJSON_Delete(j);
	buf_free(&b);
	return r;
}

static int add_string(cJSON *o, const char *name, const char *value)
{
	if (value == NULL)
		return 0;
	return cJSON_AddStringToObject(o, name, value) ? 0 : CB_ERR_NOMEM;
}

static int add_number(cJSON *o, const char *name, long value)
{
	if (value < 0)
		return 0;
	return cJSON_AddNumberToObject(o, name, (double)value) ? 0 : CB_ERR_NOMEM;
}

/* The complete line for r with sequence number seq after prev, newline
 * included, into out; its MAC into ret_mac. */
static int line_build(const uint8_t *key, const struct audit_record *r, uint64_t seq,
		      const uint8_t prev[static MAC_BYTES], struct buf *out,
		      uint8_t ret_mac[static MAC_BYTES])
{
	char when[CBTIME_RFC3339_LEN], prev_hex[MAC_HEX + 1], mac_hex[MAC_HEX + 1];
	uint8_t mac[MAC_BYTES];
	char *json = NULL;
	int rc = CB_ERR_NOMEM;

	cbtime_format_rfc3339(r->time != 0 ? r->time : time(NULL), when);
	sodium_bin2hex(prev_hex, sizeof(prev_hex), prev, MAC_BYTES);

	cJSON *o = cJSON_CreateObject();
	if (o == NULL)
		return CB_ERR_NOMEM;
	if (cJSON_AddNumberToObject(o, "seq", (double)seq) == NULL ||
	    add_string(o, "time", when) < 0 || add_string(o, "event", r->event) < 0 ||
	    add_string(o, "user", r->user) < 0 || add_number(o, "uid", r->uid) < 0 ||
	    add_number(o, "pid", r->pid) < 0 || add_string(o, "peer", r->peer) < 0 ||
	    add_string(o, "profile", r->profile) < 0 || add_string(o, "role_arn", r->role_arn) < 0 ||
	    add_number(o, "duration", r->duration) < 0 ||
	    add_string(o, "access_key_id", r->access_key_id) < 0 ||
	    add_string(o, "source_identity", r->source_identity) < 0 ||
	    add_string(o, "outcome", r->outcome) < 0 || add_string(o, "reason", r->reason) < 0 ||
	    add_string(o, "detail", r->detail) < 0 || add_string(o, "prev", prev_hex) < 0)
		goto out;
	json = cJSON_PrintUnformatted(o);
	if (json == NULL)
		goto out;
	/* cJSON escapes control characters, so a value cannot end the line. */
	size_t n = strlen(json);
	if (n < 2 || json[n - 1] != '}')
		goto out;
	line_mac(key, json, n - 1, mac);
	sodium_bin2hex(mac_hex, sizeof(mac_hex), mac, MAC_BYTES);
	if (n - 1 + MAC_SUFFIX_LEN + 1 > AUDIT_LINE_MAX) {
		rc = CB_ERR_TOO_LARGE;
		goto out;
	}
	rc = buf_append(out, json, n - 1);
	if (rc == 0)
		rc = buf_puts(out, MAC_HEAD);
	if (rc == 0)
		rc = buf_append(out, mac_hex, MAC_HEX);
	if (rc == 0)
		rc = buf_puts(out, MAC_TAIL "\n");
	if (rc == 0)
		memcpy(ret_mac, mac, MAC_BYTES);
out:
	free(json);
	cJSON_Delete(o);
	sodium_memzero(mac, sizeof(mac));
	return rc;
}

/* Pick up the chain from the last line of an open log of size bytes. */
static int tail_read(struct audit *a, off_t size)
{
	if (size == 0) {
		a->seq = 0;
		memset(a->mac, 0, sizeof(a->mac));
		return 0;
	}
	size_t want = (uint64_t)size < AUDIT_LINE_MAX ? (size_t)size : AUDIT_LINE_MAX;
	char *tail = malloc(want);
	if (tail == NULL)
		return CB_ERR_NOMEM;
	size_t got = 0;
	while (got < want) {
		ssize_t n = pread(a->fd, tail + got, want - got, size - (off_t)want + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(tail);
			return CB_ERR_AUDIT_UNAVAILABLE;
		}
		got += (size_t)n;
	}
	int r = CB_ERR_AUDIT_BROKEN;
	if (tail[want - 1] == '\n') {
		size_t start = want - 1;
		while (start > 0 && tail[start - 1] != '\n')
			start--;
		/* A line start is known unless the window began mid-line. */
		if (start > 0 || (uint64_t)size == want) {
			struct audit_line l;
			r = line_check(a->key, tail + start, want - 1 - start, &l, NULL);
			if (r == 0) {
				a->seq = l.seq;
				memcpy(a->mac, l.mac, MAC_BYTES);
			}
		}
	}
	free(tail);
	return r;
}

static void audit_free(struct audit *a)
{
	if (a->fd >= 0)
		close(a->fd);
	sodium_free(a->key);
	sodium_memzero(a->mac, sizeof(a->mac));
	free(a->path);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

int audit_open(const char *path, const uint8_t key[static AUDIT_KEY_BYTES], struct audit **ret)
{
	if (path == NULL || ret == NULL)
		return CB_ERR_INVALID;
	if (sodium_init() < 0)
		return CB_ERR_CRYPTO;
	struct audit *a = calloc(1, sizeof(*a));
	if (a == NULL)
		return CB_ERR_NOMEM;
	if (pthread_mutex_init(&a->lock, NULL) != 0) {
		free(a);
		return CB_ERR_NOMEM;
	}
	a->fd = -1;
	int r = CB_ERR_NOMEM;
	a->path = strdup(path);
	a->key = sodium_malloc(AUDIT_KEY_BYTES);
	if (a->path == NULL || a->key == NULL)
		goto fail;
	memcpy(a->key, key, AUDIT_KEY_BYTES);

	/* O_NONBLOCK: a FIFO planted at path must not hang the daemon. */
	a->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);
	if (a->fd < 0) {
		r = errno == ELOOP ? CB_ERR_PERM : CB_ERR_AUDIT_UNAVAILABLE;
		goto fail;
	}
	struct stat st;
	if (fstat(a->fd, &st) < 0) {
		r = CB_ERR_AUDIT_UNAVAILABLE;
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022) != 0) {
		r = CB_ERR_PERM;
		goto fail;
	}
	a->dev = st.st_dev;
	a->ino = st.st_ino;
	a->end = st.st_size;
	r = tail_read(a, st.st_size);
	if (r < 0)
		goto fail;
	/* The head may lag the log by one interrupted append (then it is
	 * brought up to date), never run ahead of it or go missing. */
	struct head h;
	r = head_read(path, a->key, &h);
	if (r == CB_ERR_NOT_FOUND && a->seq > 0)
		r = CB_ERR_AUDIT_BROKEN;
	else if (r == 0 && (h.seq > a->seq ||
			    (h.seq == a->seq && sodium_memcmp(h.mac, a->mac, MAC_BYTES) != 0)))
		r = CB_ERR_AUDIT_BROKEN;
	else if (r == 0 && h.seq == a->seq)
		r = 0;
	else if (r == 0 || r == CB_ERR_NOT_FOUND) {
		struct head now = { .seq = a->seq };
		memcpy(now.mac, a->mac, MAC_BYTES);
		r = head_write(path, a->key, &now) < 0 ? CB_ERR_AUDIT_UNAVAILABLE : 0;
	}
	if (r < 0)
		goto fail;
	*ret = a;
	return 0;

fail:
	audit_free(a);
	return r;
}

void audit_close(struct audit *a)
{
	if (a != NULL)
		audit_free(a);
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return CB_ERR_IO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Is the open file still the log at path, whole and ours to extend? Cuts
 * off what an earlier failed append left behind. */
static int still_there(struct audit *a)
{
	struct stat st, here;
	if (fstat(a->fd, &st) < 0 || st.st_nlink == 0)
		return CB_ERR_AUDIT_UNAVAILABLE;
	if (lstat(a->path, &here) < 0 || here.st_dev != a->dev || here.st_ino != a->ino)
		return CB_ERR_AUDIT_UNAVAILABLE;
	if (st.st_size == a->end)
		return 0;
	/* Someone else changed the file: appending would hide it. */
	if (!a->dirty || st.st_size < a->end)
		return CB_ERR_AUDIT_UNAVAILABLE;
	if (ftruncate(a->fd, a->end) < 0)
		return CB_ERR_AUDIT_UNAVAILABLE;
	a->dirty = false;
	return 0;
}

int audit_append(struct audit *a, const struct audit_record *r)
{
	if (a == NULL || r == NULL || r->event == NULL)
		return CB_ERR_INVALID;
	struct buf line;
	buf_init(&line, AUDIT_LINE_MAX);
	uint8_t mac[MAC_BYTES];

	pthread_mutex_lock(&a->lock);
	int rc = still_there(a);
	if (rc < 0)
		goto out;
	rc = line_build(a->key, r, a->seq + 1, a->mac, &line, mac);
	if (rc < 0)
		goto out;
	if (write_all(a->fd, line.data, line.len) < 0 || fsync(a->fd) < 0) {
		/* Whatever reached the file is cut off again; if even that
		 * fails, the next append retries before writing. */
		a->dirty = ftruncate(a->fd, a->end) < 0;
		if (!a->dirty)
			(void)fsync(a->fd);
		rc = CB_ERR_AUDIT_UNAVAILABLE;
		goto out;
	}
	a->end += (off_t)line.len;
	a->seq++;
	memcpy(a->mac, mac, MAC_BYTES);
	/* The record is on disk: that is what counts. A head that cannot be
	 * written lags by this record until the next append updates it. */
	struct head h = { .seq = a->seq };
	memcpy(h.mac, a->mac, MAC_BYTES);
	(void)head_write(a->path, a->key, &h);
out:
	pthread_mutex_unlock(&a->lock);
	sodium_memzero(mac, sizeof(mac));
	buf_free(&line);
	return rc;
}

/* The running state of a verification. */
struct verifier {
	const uint8_t *key;
	const struct head *head; /* the record it names must be in the chain; NULL: none */
	size_t line_no;   /* of the line being checked, 1-based */
	size_t records;   /* good ones so far */
	uint64_t seq;     /* of the last good record */
	uint8_t mac[MAC_BYTES];
};

static int verifier_line(struct verifier *v, const char *line, size_t len, struct buf *why)
{
	struct audit_line l;
	int r = line_check(v->key, line, len, &l, why);
	if (r < 0)
		return r;
	if (l.seq != v->seq + 1) {
		if (why != NULL)
			buf_printf(why, "sequence %s: expected %llu, found %llu",
				   l.seq > v->seq + 1 ? "gap" : "out of order",
				   (unsigned long long)(v->seq + 1), (unsigned long long)l.seq);
		return CB_ERR_AUDIT_BROKEN;
	}
	if (sodium_memcmp(l.prev, v->mac, MAC_BYTES) != 0) {
		if (why != NULL)
			buf_puts(why, "previous-MAC mismatch");
		return CB_ERR_AUDIT_BROKEN;
	}
	if (v->head != NULL && l.seq == v->head->seq && sodium_memcmp(l.mac, v->head->mac, MAC_BYTES) != 0) {
		if (why != NULL)
			buf_puts(why, "not the record the head file names (the log was rewritten from here)");
		return CB_ERR_AUDIT_BROKEN;
	}
	v->seq = l.seq;
	memcpy(v->mac, l.mac, MAC_BYTES);
	v->records++;
	return 0;
}

static int verify_fd(int fd, const uint8_t key[static AUDIT_KEY_BYTES], const struct head *head,
		     size_t *ret_records, size_t *ret_bad_line, struct buf *ret_why)
{
	struct verifier v = { .key = key, .head = head, .line_no = 1 };
	struct buf line;
	/* A line longer than this, newline included, is refused. */
	buf_init(&line, AUDIT_LINE_MAX - 1);
	uint8_t chunk[8192];
	int r = 0;

	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = CB_ERR_IO;
			goto out;
		}
		if (n == 0)
			break;
		const uint8_t *p = chunk, *end = chunk + n;
		while (p < end) {
			const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
			size_t take = (size_t)((nl ? nl : end) - p);
			if (buf_append(&line, p, take) < 0) {
				if (ret_why != NULL)
					buf_puts(ret_why, "record too long");
				r = CB_ERR_AUDIT_BROKEN;
				goto out;
			}
			if (nl == NULL)
				break;
			r = verifier_line(&v, buf_str(&line), line.len, ret_why);
			if (r < 0)
				goto out;
			buf_reset(&line);
			v.line_no++;
			p = nl + 1;
		}
	}
	if (line.len > 0) {
		if (ret_why != NULL)
			buf_puts(ret_why, "truncated record (no final newline)");
		r = CB_ERR_AUDIT_BROKEN;
	} else if (head != NULL && head->seq > v.seq) {
		if (ret_why != NULL)
			buf_printf(ret_why, "records removed at the end: the head file names record %llu, "
				   "the log ends at %llu", (unsigned long long)head->seq,
				   (unsigned long long)v.seq);
		r = CB_ERR_AUDIT_BROKEN;
	}
out:
	if (r == 0 || r == CB_ERR_AUDIT_BROKEN) {
		if (ret_records != NULL)
			*ret_records = v.records;
		if (r < 0 && ret_bad_line != NULL)
			*ret_bad_line = v.line_no;
	}
	buf_free(&line);
	sodium_memzero(&v, sizeof(v));
	return r;
}

int audit_verify_fd(int fd, const uint8_t key[static AUDIT_KEY_BYTES], size_t *ret_records,
		    size_t *ret_bad_line, struct buf *ret_why)
{
	return verify_fd(fd, key, NULL, ret_records, ret_bad_line, ret_why);
}

int audit_verify(const char *path, const uint8_t key[static AUDIT_KEY_BYTES], size_t *ret_records,
		 size_t *ret_bad_line, struct buf *ret_why)
{
	if (path == NULL)
		return CB_ERR_INVALID;
	if (sodium_init() < 0)
		return CB_ERR_CRYPTO;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? CB_ERR_NOT_FOUND : errno == ELOOP ? CB_ERR_PERM : CB_ERR_IO;
	struct stat st;
	int r;
	if (fstat(fd, &st) < 0)
		r = CB_ERR_IO;
	else if (!S_ISREG(st.st_mode))
		r = CB_ERR_INVALID;
	else {
		struct head h;
		r = head_read(path, key, &h);
		if (r == 0 || (r == CB_ERR_NOT_FOUND && st.st_size == 0)) {
			r = verify_fd(fd, key, r == 0 ? &h : NULL, ret_records, ret_bad_line, ret_why);
		} else if (r == CB_ERR_NOT_FOUND || r == CB_ERR_AUDIT_BROKEN) {
			/* Without a sealed head the end of the log cannot be
			 * vouched for: say which, and where the chain itself ends. */
			size_t records = 0;
			int chain = verify_fd(fd, key, NULL, &records, ret_bad_line, ret_why);
			if (chain == 0) {
				if (ret_why != NULL)
					buf_puts(ret_why, r == CB_ERR_NOT_FOUND
								  ? "the head file is missing: the end of the log cannot be checked"
								  : "the head file is altered or not this log's");
				if (ret_bad_line != NULL)
					*ret_bad_line = records + 1;
				if (ret_records != NULL)
					*ret_records = records;
			}
			r = CB_ERR_AUDIT_BROKEN;
		}
	}
	close(fd);
	return r;
}
