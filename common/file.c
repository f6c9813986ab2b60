/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "credbroker/buf.h"
#include "credbroker/err.h"
#include "credbroker/file.h"

static int write_all(int fd, const void *data, size_t len)
{
	const uint8_t *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return CB_ERR_IO;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The directory part of path ("." when it has none), into out. */
static int dir_of(const char *path, char out[static PATH_MAX])
{
	const char *slash = strrchr(path, '/');
	if (slash == NULL) {
		out[0] = '.';
		out[1] = '\0';
		return 0;
	}
	size_t n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= PATH_MAX)
		return CB_ERR_INVALID;
	memcpy(out, path, n);
	out[n] = '\0';
	return 0;
}

int file_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	int r = dir_of(path, dir);
	if (r < 0)
		return r;
	int n = snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return CB_ERR_INVALID;

	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return CB_ERR_IO;
	int saved;
	if (fchmod(fd, mode) < 0 || write_all(fd, data, len) < 0 || fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail;

	/* The rename is durable only once the directory entry is on disk. */
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return CB_ERR_IO;
	r = fsync(dfd) < 0 ? CB_ERR_IO : 0;
	saved = errno;
	close(dfd);
	errno = saved;
	return r;

fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = saved;
	return CB_ERR_IO;
}

static int read_fd(int fd, const struct stat *st, size_t max, struct buf *ret)
{
	if ((uint64_t)st->st_size > max)
		return CB_ERR_TOO_LARGE;
	struct buf b;
	buf_init(&b, max);
	uint8_t chunk[4096];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			buf_free(&b);
			sodium_memzero(chunk, sizeof(chunk));
			return CB_ERR_IO;
		}
		if (n == 0)
			break;
		int r = buf_append(&b, chunk, (size_t)n);
		if (r < 0) {
			buf_free(&b);
			sodium_memzero(chunk, sizeof(chunk));
			return r;
		}
	}
	sodium_memzero(chunk, sizeof(chunk));
	int r = buf_append(ret, b.data ? b.data : (const uint8_t *)"", b.len);
	buf_free(&b);
	return r;
}

static int open_checked(const char *path, struct stat *st)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return CB_ERR_NOT_FOUND;
		if (errno == ELOOP)
			return CB_ERR_PERM;
		return CB_ERR_IO;
	}
	if (fstat(fd, st) < 0) {
		close(fd);
		return CB_ERR_IO;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return CB_ERR_INVALID;
	}
	return fd;
}

int file_read_private(const char *path, size_t max, struct buf *ret)
{
	struct stat st;
	int fd = open_checked(path, &st);
	if (fd < 0)
		return fd;
	int r;
	if (st.st_uid != geteuid() || (st.st_mode & 077) != 0)
		r = CB_ERR_PERM;
	else
		r = read_fd(fd, &st, max, ret);
	close(fd);
	return r;
}

int file_read(const char *path, size_t max, struct buf *ret)
{
	/* Config and policies may legitimately be symlinks (config management),
	 * so only the type and size are checked here. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? CB_ERR_NOT_FOUND : CB_ERR_IO;
	struct stat st;
	int r;
	if (fstat(fd, &st) < 0)
		r = CB_ERR_IO;
	else if (!S_ISREG(st.st_mode))
		r = CB_ERR_INVALID;
	else
		r = read_fd(fd, &st, max, ret);
	close(fd);
	return r;
}

int file_mkdir_private(const char *path)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return CB_ERR_IO;
	struct stat st;
	if (lstat(path, &st) < 0)
		return CB_ERR_IO;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022) != 0)
		return CB_ERR_PERM;
	return 0;
}
