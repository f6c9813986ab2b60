/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "credbroker/cbtime.h"
#include "credbroker/err.h"
#include "cli/cache.h"
#include "cli/session.h"

#include "check.h"

/* A session for (broker, user, profile) expiring at exp, as session_obtain
 * would store it. */
static int make_session(const char *broker, const char *user, const char *profile, time_t exp,
			const char *akid, struct session *ret)
{
	char when[CBTIME_RFC3339_LEN];
	cbtime_format_rfc3339(exp, when);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "broker", broker);
	cJSON_AddStringToObject(o, "user", user);
	cJSON_AddStringToObject(o, "profile", profile);
	cJSON_AddStringToObject(o, "access_key_id", akid);
	cJSON_AddStringToObject(o, "secret_access_key", "c2VjcmV0/c2VjcmV0+c2VjcmV0");
	cJSON_AddStringToObject(o, "session_token", "FwoGZXIvYXdzEJr//////////wEaDA==");
	cJSON_AddStringToObject(o, "expiration", when);
	cJSON_AddStringToObject(o, "region", "eu-west-1");
	int r = session_from_json(o, ret);
	if (r < 0)
		cJSON_Delete(o);
	return r;
}

static int file_mode(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

int main(void)
{
	CHECK(sodium_init() >= 0);
	char dir[] = "/tmp/cb-test-cache-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	setenv("XDG_RUNTIME_DIR", dir, 1);
	time_t now = time(NULL);

	struct cache_entry e, other_user, other_profile, other_broker;
	CHECK_INT(cache_entry_init(&e, "/run/credbroker/broker.sock", "alice", "ro"), 0);
	CHECK_INT(cache_entry_init(&other_user, "/run/credbroker/broker.sock", "bob", "ro"), 0);
	CHECK_INT(cache_entry_init(&other_profile, "/run/credbroker/broker.sock", "alice", "billing"), 0);
	CHECK_INT(cache_entry_init(&other_broker, "/tmp/other.sock", "alice", "ro"), 0);
	char cdir[PATH_MAX];
	CHECK_INT(cache_dir(cdir), 0);
	CHECK_INT(file_mode(cdir), 0700);
	/* Different (broker, user, profile), different files, all inside. */
	CHECK(strcmp(e.path, other_user.path) != 0 && strcmp(e.path, other_profile.path) != 0 &&
	      strcmp(e.path, other_broker.path) != 0);
	CHECK(strncmp(e.path, cdir, strlen(cdir)) == 0);

	/* Absent: not found. */
	struct session s, got;
	CHECK_INT(cache_read(&e, now, SESSION_MIN_LEFT, &got), CB_ERR_NOT_FOUND);

	/* Write, read back: same fields; the file is 0600. */
	CHECK_INT(make_session(e.broker, e.user, e.profile, now + 3600, "ASIAFIRST", &s), 0);
	CHECK_INT(cache_write(&e, &s), 0);
	session_free(&s);
	CHECK_INT(file_mode(e.path), 0600);
	CHECK_INT(cache_read(&e, now, SESSION_MIN_LEFT, &got), 0);
	CHECK_STR(got.access_key_id, "ASIAFIRST");
	CHECK_STR(got.secret_access_key, "c2VjcmV0/c2VjcmV0+c2VjcmV0");
	CHECK_STR(got.region, "eu-west-1");
	CHECK_INT((long long)got.expires, (long long)(now + 3600));
	session_free(&got);

	/* Another user's or profile's or broker's entry does not see it, and a
	 * file copied under the wrong name is not served either. */
	CHECK_INT(cache_read(&other_user, now, SESSION_MIN_LEFT, &got), CB_ERR_NOT_FOUND);
	CHECK_INT(cache_read(&other_profile, now, SESSION_MIN_LEFT, &got), CB_ERR_NOT_FOUND);
	CHECK(link(e.path, other_user.path) == 0);
	CHECK_INT(cache_read(&other_user, now, SESSION_MIN_LEFT, &got), CB_ERR_NOT_FOUND);
	CHECK(unlink(other_user.path) == 0);

	/* The threshold: 11 minutes left is served, 9 minutes is refetched. */
	CHECK_INT(make_session(e.broker, e.user, e.profile, now + 11 * 60, "ASIAELEVEN", &s), 0);
	CHECK_INT(cache_write(&e, &s), 0);
	session_free(&s);
	CHECK_INT(cache_read(&e, now, SESSION_MIN_LEFT, &got), 0);
	CHECK_STR(got.access_key_id, "ASIAELEVEN");
	session_free(&got);
	CHECK_INT(make_session(e.broker, e.user, e.profile, now + 9 * 60, "ASIANINE", &s), 0);
	CHECK_INT(cache_write(&e, &s), 0);
	session_free(&s);
	CHECK_INT(cache_read(&e, now, SESSION_MIN_LEFT, &got), CB_ERR_NOT_FOUND);
	/* ... which is the clock, not the file: with 0 required it is there. */
	CHECK_INT(cache_read(&e, now, 0, &got), 0);
	session_free(&got);

	/* Atomic replace: a new inode, never a partly written old one, and no
	 * temp file left behind. */
	struct stat before, after;
	CHECK(stat(e.path, &before) == 0);
	CHECK_INT(make_session(e.broker, e.user, e.profile, now + 7200, "ASIASECOND", &s), 0);
	CHECK_INT(cache_write(&e, &s), 0);
	session_free(&s);
	CHECK(stat(e.path, &after) == 0);
	CHECK(before.st_ino != after.st_ino);
	CHECK_INT(cache_read(&e, now, SESSION_MIN_LEFT, &got), 0);
	CHECK_STR(got.access_key_id, "ASIASECOND");
	session_free(&got);
	char cmd[PATH_MAX + 64];
	snprintf(cmd, sizeof(cmd), "test $(ls -A %s | grep -c tmp) -eq 0", cdir);
	CHECK(system(cmd) == 0);

	/* Wrong mode: refused, not trusted; fixed by a rewrite. */
	CHECK(chmod(e.path, 0644) == 0);
	CHECK_INT(cache_read(&e, now, SESSION_MIN_LEFT, &got), CB_ERR_PERM);
	CHECK_INT(make_session(e.broker, e.user, e.profile, now + 7200, "ASIATHIRD", &s), 0);
	CHECK_INT(cache_write(&e, &s), 0);
	session_free(&s);
	CHECK_INT(file_mode(e.path), 0600);
	CHECK_INT(cache_read(&e, now, SESSION_MIN_LEFT, &got), 0);
	session_free(&got);

	/* Wrong owner (needs root to arrange): refused. */
	if (geteuid() == 0) {
		CHECK(chown(e.path, 65534, 65534) == 0);
		CHECK_INT(cache_read(&e, now, SESSION_MIN_LEFT, &got), CB_ERR_PERM);
		CHECK(chown(e.path, 0, 0) == 0);
		CHECK_INT(cache_read(&e, now, SESSION_MIN_LEFT, &got), 0);
		session_free(&got);
	} else {
		fprintf(stderr, "note: not root, the wrong-owner case is not exercised\n");
	}

	/* A symlink in place of the entry (to a perfectly good session file):
	 * refused; a write replaces the link, not its target. */
	char target[PATH_MAX + 16];
	snprintf(target, sizeof(target), "%s/elsewhere", dir);
	CHECK(rename(e.path, target) == 0);
	CHECK(symlink(target, e.path) == 0);
	CHECK_INT(cache_read(&e, now, SESSION_MIN_LEFT, &got), CB_ERR_PERM);
	CHECK_INT(make_session(e.broker, e.user, e.profile, now + 7200, "ASIAFOURTH", &s), 0);
	CHECK_INT(cache_write(&e, &s), 0);
	session_free(&s);
	struct stat lst;
	CHECK(lstat(e.path, &lst) == 0 && S_ISREG(lst.st_mode));
	CHECK_INT(cache_read(&e, now, SESSION_MIN_LEFT, &got), 0);
	CHECK_STR(got.access_key_id, "ASIAFOURTH");
	session_free(&got);

	/* A file that does not parse, or holds a value a shell could misread. */
	CHECK(unlink(target) == 0);
	int fd = open(target, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0 && write(fd, "{\"broker\":", 10) == 10);
	close(fd);
	CHECK(rename(target, e.path) == 0);
	CHECK_INT(cache_read(&e, now, SESSION_MIN_LEFT, &got), CB_ERR_PARSE);
	CHECK_INT(make_session(e.broker, e.user, e.profile, now + 7200, "ASIA'; rm -rf ~'", &s),
		  CB_ERR_PARSE);

	/* The lock excludes a second holder until released. */
	CHECK_INT(cache_lock(&e), 0);
	int other = open(e.lock_path, O_RDWR | O_CLOEXEC);
	CHECK(other >= 0);
	CHECK(flock(other, LOCK_EX | LOCK_NB) < 0);
	CHECK_INT(file_mode(e.lock_path), 0600);
	cache_unlock(&e);
	CHECK(flock(other, LOCK_EX | LOCK_NB) == 0);
	close(other);
	/* A symlinked lock file is refused. */
	CHECK(unlink(e.lock_path) == 0);
	CHECK(symlink(target, e.lock_path) == 0);
	CHECK_INT(cache_lock(&e), CB_ERR_PERM);
	CHECK(unlink(e.lock_path) == 0);

	/* Wipe: gone; the second time, nothing there. */
	CHECK_INT(make_session(e.broker, e.user, e.profile, now + 7200, "ASIAFIFTH", &s), 0);
	CHECK_INT(cache_write(&e, &s), 0);
	session_free(&s);
	CHECK_INT(cache_wipe(e.path), 0);
	CHECK(access(e.path, F_OK) < 0);
	CHECK_INT(cache_wipe(e.path), CB_ERR_NOT_FOUND);

	/* An unsafe cache directory is refused rather than used. */
	CHECK(chmod(cdir, 0777) == 0);
	CHECK_INT(cache_entry_init(&e, "/run/credbroker/broker.sock", "alice", "ro"), CB_ERR_PERM);
	CHECK(chmod(cdir, 0700) == 0);

	/* Without XDG_RUNTIME_DIR: ~/.cache/credbroker. */
	unsetenv("XDG_RUNTIME_DIR");
	setenv("HOME", dir, 1);
	CHECK_INT(cache_dir(cdir), 0);
	char want[PATH_MAX];
	snprintf(want, sizeof(want), "%s/.cache/credbroker", dir);
	CHECK_STR(cdir, want);
	CHECK_INT(file_mode(cdir), 0700);

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
	return check_status();
}
