/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "credbroker/buf.h"
#include "credbroker/err.h"
#include "credbroker/file.h"

#include "check.h"

int main(void)
{
	char dir[] = "/tmp/cb-test-file-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char path[256], link[256], sub[256];
	snprintf(path, sizeof(path), "%s/state", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	snprintf(sub, sizeof(sub), "%s/sub", dir);

	struct buf b;
	buf_init(&b, 64);
	CHECK_INT(file_read_private(path, 64, &b), CB_ERR_NOT_FOUND);
	CHECK_INT(file_write_atomic(path, "one", 3, 0600), 0);
	CHECK_INT(file_write_atomic(path, "two!", 4, 0600), 0);
	CHECK_INT(file_read_private(path, 64, &b), 0);
	CHECK_STR(buf_str(&b), "two!");
	buf_reset(&b);
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);

	/* Too large, group-readable, and a symlink: each refused. */
	CHECK_INT(file_read_private(path, 3, &b), CB_ERR_TOO_LARGE);
	CHECK(chmod(path, 0640) == 0);
	CHECK_INT(file_read_private(path, 64, &b), CB_ERR_PERM);
	CHECK(chmod(path, 0600) == 0);
	CHECK(symlink(path, link) == 0);
	CHECK_INT(file_read_private(link, 64, &b), CB_ERR_PERM);
	CHECK_INT(file_read(link, 64, &b), 0);
	CHECK_STR(buf_str(&b), "two!");

	/* No temp file is left behind. */
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "test $(ls %s | wc -l) -eq 2", dir);
	CHECK(system(cmd) == 0);

	CHECK_INT(file_mkdir_private(sub), 0);
	CHECK_INT(file_mkdir_private(sub), 0);
	CHECK(chmod(sub, 0777) == 0);
	CHECK_INT(file_mkdir_private(sub), CB_ERR_PERM);
	CHECK_INT(file_mkdir_private(path), CB_ERR_PERM);

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
	buf_free(&b);
	return check_status();
}
