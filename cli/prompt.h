/* SPDX-License-Identifier: MIT */
#ifndef CREDBROKER_CLI_PROMPT_H
#define CREDBROKER_CLI_PROMPT_H

#include <stddef.h>

/* Longest answer accepted, NUL included; a TOTP code is 6 to 8 digits. */
#define PROMPT_CODE_MAX 32
/* Longest password, in bytes, as the broker accepts. */
#define PROMPT_PASSWORD_MAX 1024

/*
 * Ask on the controlling terminal (/dev/tty) with echo off: never stdin or
 * stdout, which belong to the AWS CLI in credential_process mode. The answer
 * (its newline dropped) goes to out, which the caller wipes.
 * 0; CB_ERR_NOT_FOUND when the process has no terminal; CB_ERR_INVALID for an
 * empty or over-long answer; CB_ERR_IO; CB_ERR_INTERNAL when interrupted
 * (the terminal is restored and the signal then delivered).
 */
int prompt_secret(const char *question, char out[static PROMPT_CODE_MAX]);

/*
 * A password: one line (its newline dropped) from stdin when question is
 * NULL, else asked on /dev/tty as prompt_secret() does; never from argv or
 * the environment. 0 and *ret, a NUL-terminated string in sodium_malloc
 * memory the caller frees with sodium_free; CB_ERR_NOT_FOUND when there is
 * no terminal to ask, CB_ERR_INVALID for an empty answer, CB_ERR_TOO_LARGE
 * over PROMPT_PASSWORD_MAX, CB_ERR_INTERNAL when interrupted, CB_ERR_IO,
 * CB_ERR_NOMEM, CB_ERR_CRYPTO (libsodium would not start).
 */
int prompt_password(const char *question, char **ret);

#endif
