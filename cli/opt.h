/* SPDX-License-Identifier: MIT */
#ifndef CREDBROKER_CLI_OPT_H
#define CREDBROKER_CLI_OPT_H

/*
 * A verb's options, parsed by hand so that "--" and the command after it
 * stay exactly as typed (exec). Accepts "--name VALUE" and "--name=VALUE".
 */

/* 1 and *ret when argv[*i] is option name (advancing *i past its value),
 * 0 when it is not, CB_ERR_INVALID when the value is missing (the error is
 * printed). */
int opt_value(int argc, char **argv, int *i, const char *name, const char **ret);

/* The one-line usage error for an unknown option or extra argument, and
 * CLIENT_EXIT_USAGE to return. */
int opt_usage_error(const char *verb, const char *what, const char *arg);

#endif
