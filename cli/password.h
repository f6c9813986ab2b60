/* SPDX-License-Identifier: MIT */
#ifndef CREDBROKER_CLI_PASSWORD_H
#define CREDBROKER_CLI_PASSWORD_H

/*
 * The broker password a remote (TLS) user proves who they are with, next to
 * the TOTP code. Read once per process, from stdin (get --password-stdin)
 * or the terminal with echo off; never from argv or the environment.
 */
#define PASSWORD_MAX 1024 /* bytes, as the broker accepts */

/* One line (its newline dropped) from stdin when from_stdin, else asked on
 * /dev/tty as "Broker password for USER: " with echo off. 0 and *ret, a
 * NUL-terminated string in sodium_malloc memory the caller frees with
 * sodium_free; CB_ERR_NOT_FOUND when there is no terminal to ask,
 * CB_ERR_INVALID for an empty answer, CB_ERR_TOO_LARGE over PASSWORD_MAX,
 * CB_ERR_INTERNAL when interrupted (the terminal restored, the signal then
 * delivered), CB_ERR_IO, CB_ERR_NOMEM. */
int password_read(int from_stdin, const char *user, char **ret);

#endif
