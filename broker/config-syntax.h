/* SPDX-License-Identifier: MIT */
#ifndef CREDBROKER_CONFIG_SYNTAX_H
#define CREDBROKER_CONFIG_SYNTAX_H
#include <stdbool.h>
/*
 * The syntax of single config values, for config.c and its tests. Each
 * takes a NUL-terminated string and only looks at it.
 */

#define CONFIG_NAME_MAX 64

/* Profile and key names: 1..64 of [A-Za-z0-9._-], starting with a letter or
 * digit, so a name is never ".", "..", a hidden file or an option when a
 * client puts it in a path or on a command line. */
bool config_name_valid(const char *s);

/* arn:<aws|aws-cn|aws-us-gov>:iam::<12 digits>:role/[PATH/]NAME, NAME 1..64
 * of [\w+=,.@-]. On true, *ret_partition is the partition (static string). */
bool config_role_arn_valid(const char *s, const char **ret_partition);

/* arn:<partition>:iam::(aws|<12 digits>):policy/[PATH/]NAME, NAME 1..128. */
bool config_policy_arn_valid(const char *s);

/* An AWS region name: "eu-west-1", "us-gov-west-1", "ap-southeast-2". */
bool config_region_valid(const char *s);

/* An STS ExternalId: 2..1224 of [\w+=,.@:/-]. */
bool config_external_id_valid(const char *s);

/* NULL when url is acceptable as an AWS endpoint, else a static sentence
 * saying what is wrong: https://HOST[:PORT][/PATH] with no user, query or
 * fragment; plain http:// only to a loopback host (127.0.0.0/8 as a dotted
 * quad, [::1], localhost). */
const char *config_endpoint_problem(const char *url);

/* A TLS listen address: "HOST:PORT" or "[V6]:PORT", PORT 1..65535. */
bool config_listen_valid(const char *s);
#endif
