/* SPDX-License-Identifier: MIT */
#ifndef CREDBROKER_FILE_H
#define CREDBROKER_FILE_H

#include <stddef.h>
#include <sys/types.h>

struct buf;

/*
 * State files: written atomically and read defensively. Used by the vault,
 * the user store, the TOTP state and the CLI's session cache.
 */

/* Replace path with data, atomically: a temp file in the same directory
 * (O_EXCL, mode), write, fsync, rename over path, fsync the directory. After
 * a crash at any point path holds either the old or the new contents.
 * 0, or CB_ERR_IO with errno set. */
int file_write_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* Read a private state file: opened O_NOFOLLOW, must be a regular file owned
 * by the effective uid and not readable or writable by group or others.
 * CB_ERR_NOT_FOUND when absent, CB_ERR_PERM on owner/mode/symlink,
 * CB_ERR_TOO_LARGE over max bytes, CB_ERR_IO. Appends to ret on success. */
int file_read_private(const char *path, size_t max, struct buf *ret);

/* Read a regular file (config, policy) of at most max bytes. */
int file_read(const char *path, size_t max, struct buf *ret);

/* Create directory path with mode 0700 if missing; refuse an existing one
 * that is not a directory, not owned by the effective uid, or writable by
 * group or others (CB_ERR_PERM). */
int file_mkdir_private(const char *path);

#endif
