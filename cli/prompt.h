/* SPDX-License-Identifier: MIT */
#ifndef CREDBROKER_CLI_PROMPT_H
#define CREDBROKER_CLI_PROMPT_H

#include <stddef.h>

/* Longest answer accepted, NUL included; a TOTP code is 6 to 8 digits. */
#define PROMPT_CODE_MAX 32

/*
 * Ask on the controlling terminal (/dev/tty) with echo off: never stdin or
 * stdout, which belong to the AWS CLI in credential_process mode. The answer
 * (its newline dropped) goes to out, which the caller wipes.
 * 0; CB_ERR_NOT_FOUND when the process has no terminal; CB_ERR_INVALID for an
 * empty or over-long answer; CB_ERR_IO; CB_ERR_INTERNAL when interrupted
 * (the terminal is restored and the signal then delivered).
 */
int prompt_secret(const char *question, char out[static PROMPT_CODE_MAX]);

#endif
