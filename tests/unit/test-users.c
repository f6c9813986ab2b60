/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "credbroker/err.h"
#include "credbroker/file.h"
#include "credbroker/users.h"

#include "check.h"

int main(void)
{
	/* Names become STS session names: 2-64 of [A-Za-z0-9+=,.@_-]. */
	const char *good[] = { "al", "alice", "bob.smith@example.com", "a+b=c,d", "x_y-z",
			       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL };
	const char *bad[] = { "", "a", "alice smith", "alice/x", "al:ice", "élise", "a\tb",
			      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL };
	for (int i = 0; good[i]; i++)
		CHECK(users_name_valid(good[i]));
	for (int i = 0; bad[i]; i++)
		CHECK(!users_name_valid(bad[i]));

	char dir[] = "/tmp/cb-test-users-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char path[256];
	snprintf(path, sizeof(path), "%s/users.json", dir);

	/* A missing file is an empty store. */
	struct users *u;
	CHECK_INT(users_load(path, &u), 0);
	CHECK_INT((long long)users_count(u), 0);
	const char *p1[] = { "consultant-readonly" };
	const char *p2[] = { "engineer-readonly", "consultant-billing" };
	CHECK_INT(users_add(u, "zed", p1, 1, 1001, false, 2000000000, 1700000000), 0);
	CHECK_INT(users_add(u, "alice", p2, 2, -1, true, 0, 1700000000), 0);
	CHECK_INT(users_add(u, "alice", p1, 1, 7, false, 0, 0), CB_ERR_EXISTS);
	CHECK_INT(users_add(u, "a", p1, 1, 7, false, 0, 0), CB_ERR_INVALID);
	struct user *z = users_find(u, "zed");
	CHECK(z != NULL && z->last_step == -1 && z->uid == 1001);
	z->last_step = 56666666;
	z->failures = 2;
	z->lock_count = 1;
	z->locked_until = 1700000900;
	CHECK_INT(users_save(u), 0);
	users_free(u);

	/* Everything comes back, in name order, and the file is 0600. */
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK_INT(users_load(path, &u), 0);
	CHECK_INT((long long)users_count(u), 2);
	CHECK_STR(users_at(u, 0)->name, "alice");
	struct user *a = users_find(u, "alice");
	CHECK(a != NULL && a->has_password && a->uid == -1 && a->nprofiles == 2);
	CHECK(users_has_profile(a, "consultant-billing") && !users_has_profile(a, "consultant-readonly"));
	z = users_find(u, "zed");
	CHECK(z != NULL && z->last_step == 56666666 && z->failures == 2 && z->lock_count == 1 &&
	      z->locked_until == 1700000900 && z->expires == 2000000000 && z->created == 1700000000);
	CHECK_INT(users_remove(u, "alice"), 0);
	CHECK_INT(users_remove(u, "alice"), CB_ERR_USER_UNKNOWN);
	CHECK(users_find(u, "alice") == NULL);
	users_free(u);

	/* A users file others can read is refused, and so is garbage. */
	CHECK(chmod(path, 0644) == 0);
	CHECK_INT(users_load(path, &u), CB_ERR_PERM);
	CHECK(chmod(path, 0600) == 0);
	const char *broken[] = {
		"", "not json", "[]", "{\"format\":1}", "{\"format\":1,\"users\":{}}",
		"{\"format\":1,\"users\":[{\"name\":\"alice\",\"profiles\":[\"ro\"]}]}",
		"{\"format\":1,\"users\":[]}garbage",
		NULL,
	};
	for (int i = 0; broken[i]; i++) {
		u = NULL;
		CHECK_INT(users_parse((const uint8_t *)broken[i], strlen(broken[i]), path, &u), CB_ERR_PARSE);
		CHECK(u == NULL);
	}
	const char *newer = "{\"format\":2,\"users\":[]}";
	CHECK_INT(users_parse((const uint8_t *)newer, strlen(newer), path, &u), CB_ERR_VERSION);
	const char *ok = "{\"format\":1,\"users\":[]}\n";
	CHECK_INT(users_parse((const uint8_t *)ok, strlen(ok), path, &u), 0);
	users_free(u);

	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
	return check_status();
}
