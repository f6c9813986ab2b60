/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "credbroker/err.h"
#include "cli.h"
#include "client.h"
#include "opt.h"

int opt_value(int argc, char **argv, int *i, const char *name, const char **ret)
{
	size_t n = strlen(name);
	if (strncmp(argv[*i], name, n) != 0)
		return 0;
	if (argv[*i][n] == '=') {
		*ret = argv[*i] + n + 1;
		return 1;
	}
	if (argv[*i][n] != '\0')
		return 0;
	if (*i + 1 >= argc) {
		cli_error("%s needs a value", name);
		return CB_ERR_INVALID;
	}
	*ret = argv[++*i];
	return 1;
}

int opt_usage_error(const char *verb, const char *what, const char *arg)
{
	cli_error("%s: %s '%s' (see 'credbroker %s --help')", verb, what, arg, verb);
	return CLIENT_EXIT_USAGE;
}
