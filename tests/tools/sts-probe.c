/* SPDX-License-Identifier: MIT */
/*
 * sts-probe: drive the STS/IAM client from the command line, for the
 * end-to-end tests and the demo. The key comes from the environment
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, optional AWS_SESSION_TOKEN),
 * never from argv, which other users can read.
 *
 *   sts-probe [OPTIONS] caller-identity
 *   sts-probe [OPTIONS] assume-role --role-arn ARN --session-name NAME [...]
 *   sts-probe [OPTIONS] put-role-policy --role-name N --policy-name N --policy JSON
 *
 * Prints key=value lines on stdout; never a secret, only its length. On
 * failure prints error=<wire name>, http_status=, aws_code=, aws_message=
 * and exits 3 (sts_denied), 4 (sts_unavailable), 5 (sts_bad_response),
 * 2 (usage) or 1 (anything else).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "credbroker/cbtime.h"
#include "credbroker/err.h"
#include "credbroker/iam.h"
#include "credbroker/sts.h"

#define MAX_LIST 64

static void usage(void)
{
	fprintf(stderr,
		"usage: sts-probe [--endpoint URL] [--region R] [--json] [--connect-timeout-ms N]\n"
		"                 [--timeout-ms N] [--attempts N] [--backoff-ms N]\n"
		"                 caller-identity | assume-role | put-role-policy [OPTIONS]\n"
		"assume-role: --role-arn ARN --session-name NAME [--duration S] [--policy JSON]\n"
		"             [--policy-arn ARN]... [--external-id ID] [--serial-number ARN]\n"
		"             [--token-code CODE] [--source-identity ID] [--tag KEY=VALUE]...\n"
		"             [--transitive-tag-key KEY]... [--then-caller-identity]\n"
		"put-role-policy: --role-name NAME --policy-name NAME --policy JSON\n"
		"Key from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN.\n");
}

static int exit_code(int r)
{
	switch (r) {
	case 0:
		return 0;
	case CB_ERR_STS_DENIED:
		return 3;
	case CB_ERR_STS_UNAVAILABLE:
		return 4;
	case CB_ERR_STS_BAD_RESPONSE:
		return 5;
	case CB_ERR_INVALID:
		return 2;
	default:
		return 1;
	}
}

static int fail(int r, const struct sts_error *e)
{
	printf("error=%s\n", cb_errname(r));
	printf("http_status=%ld\n", e->http_status);
	printf("aws_code=%s\n", e->code);
	printf("aws_message=%s\n", e->message);
	fprintf(stderr, "sts-probe: %s%s%s%s%s\n", cb_strerror(r), e->code[0] ? ": " : "", e->code,
		e->message[0] ? ": " : "", e->message);
	return exit_code(r);
}

static void print_identity(const char *prefix, const struct sts_identity *id)
{
	printf("%sarn=%s\n", prefix, id->arn);
	printf("%saccount=%s\n", prefix, id->account);
	printf("%suser_id=%s\n", prefix, id->user_id);
}

enum {
	OPT_ENDPOINT = 256, OPT_REGION, OPT_JSON, OPT_CONNECT, OPT_TIMEOUT, OPT_ATTEMPTS,
	OPT_BACKOFF, OPT_ROLE_ARN, OPT_SESSION, OPT_DURATION, OPT_POLICY, OPT_POLICY_ARN,
	OPT_EXTERNAL, OPT_SERIAL, OPT_TOKEN, OPT_SOURCE, OPT_TAG, OPT_TRANSITIVE, OPT_THEN,
	OPT_ROLE_NAME, OPT_POLICY_NAME,
};

static const struct option options[] = {
	{ "endpoint", required_argument, NULL, OPT_ENDPOINT },
	{ "region", required_argument, NULL, OPT_REGION },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "connect-timeout-ms", required_argument, NULL, OPT_CONNECT },
	{ "timeout-ms", required_argument, NULL, OPT_TIMEOUT },
	{ "attempts", required_argument, NULL, OPT_ATTEMPTS },
	{ "backoff-ms", required_argument, NULL, OPT_BACKOFF },
	{ "role-arn", required_argument, NULL, OPT_ROLE_ARN },
	{ "session-name", required_argument, NULL, OPT_SESSION },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "policy", required_argument, NULL, OPT_POLICY },
	{ "policy-arn", required_argument, NULL, OPT_POLICY_ARN },
	{ "external-id", required_argument, NULL, OPT_EXTERNAL },
	{ "serial-number", required_argument, NULL, OPT_SERIAL },
	{ "token-code", required_argument, NULL, OPT_TOKEN },
	{ "source-identity", required_argument, NULL, OPT_SOURCE },
	{ "tag", required_argument, NULL, OPT_TAG },
	{ "transitive-tag-key", required_argument, NULL, OPT_TRANSITIVE },
	{ "then-caller-identity", no_argument, NULL, OPT_THEN },
	{ "role-name", required_argument, NULL, OPT_ROLE_NAME },
	{ "policy-name", required_argument, NULL, OPT_POLICY_NAME },
	{ NULL, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
	const char *endpoint = NULL, *region = "us-east-1", *role_name = NULL, *policy_name = NULL;
	long connect_ms = 0, total_ms = 0, backoff_ms = 200, v;
	int attempts = 3, json = 0, then = 0, opt, r;
	const char *policy_arns[MAX_LIST], *transitive[MAX_LIST];
	struct sts_tag tags[MAX_LIST];
	char *tagbuf[MAX_LIST];
	size_t ntagbuf = 0;
	struct sts_assume_role_params p = { .policy_arns = policy_arns, .tags = tags,
					    .transitive_tag_keys = transitive };
	char *end;

	if (sodium_init() < 0)
		return 1;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case OPT_ENDPOINT: endpoint = optarg; break;
		case OPT_REGION: region = optarg; break;
		case OPT_JSON: json = 1; break;
		case OPT_CONNECT:
		case OPT_TIMEOUT:
		case OPT_ATTEMPTS:
		case OPT_BACKOFF:
		case OPT_DURATION:
			v = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || v < 0) {
				usage();
				return 2;
			}
			if (opt == OPT_CONNECT)
				connect_ms = v;
			else if (opt == OPT_TIMEOUT)
				total_ms = v;
			else if (opt == OPT_ATTEMPTS)
				attempts = (int)v;
			else if (opt == OPT_BACKOFF)
				backoff_ms = v;
			else
				p.duration_seconds = v;
			break;
		case OPT_ROLE_ARN: p.role_arn = optarg; break;
		case OPT_SESSION: p.role_session_name = optarg; break;
		case OPT_POLICY: p.policy = optarg; break;
		case OPT_EXTERNAL: p.external_id = optarg; break;
		case OPT_SERIAL: p.serial_number = optarg; break;
		case OPT_TOKEN: p.token_code = optarg; break;
		case OPT_SOURCE: p.source_identity = optarg; break;
		case OPT_THEN: then = 1; break;
		case OPT_ROLE_NAME: role_name = optarg; break;
		case OPT_POLICY_NAME: policy_name = optarg; break;
		case OPT_POLICY_ARN:
			if (p.npolicy_arns == MAX_LIST)
				return 2;
			policy_arns[p.npolicy_arns++] = optarg;
			break;
		case OPT_TRANSITIVE:
			if (p.ntransitive_tag_keys == MAX_LIST)
				return 2;
			transitive[p.ntransitive_tag_keys++] = optarg;
			break;
		case OPT_TAG: {
			char *eq = strchr(optarg, '=');
			if (eq == NULL || p.ntags == MAX_LIST) {
				usage();
				return 2;
			}
			char *k = strndup(optarg, (size_t)(eq - optarg));
			if (k == NULL)
				return 1;
			tagbuf[ntagbuf++] = k;
			tags[p.ntags].key = k;
			tags[p.ntags].value = eq + 1;
			p.ntags++;
			break;
		}
		default:
			usage();
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage();
		return 2;
	}
	const char *cmd = argv[optind];
	struct sigv4_creds key = {
		.access_key_id = getenv("AWS_ACCESS_KEY_ID"),
		.secret_access_key = getenv("AWS_SECRET_ACCESS_KEY"),
		.session_token = getenv("AWS_SESSION_TOKEN"),
	};
	if (key.session_token != NULL && key.session_token[0] == '\0')
		key.session_token = NULL;
	if (key.access_key_id == NULL || key.secret_access_key == NULL) {
		fprintf(stderr, "sts-probe: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY\n");
		return 2;
	}

	struct sts_error e = { 0 };
	if (strcmp(cmd, "put-role-policy") == 0) {
		struct iam_client *ic = iam_client_new(endpoint, &r);
		if (ic == NULL) {
			fprintf(stderr, "sts-probe: bad endpoint: %s\n", cb_strerror(r));
			return 2;
		}
		iam_client_set_timeouts(ic, connect_ms, total_ms);
		iam_client_set_retries(ic, attempts, backoff_ms);
		r = iam_put_role_policy(ic, &key, role_name, policy_name, p.policy, &e);
		iam_client_free(ic);
		if (r < 0)
			return fail(r, &e);
		printf("ok=put-role-policy\n");
		return 0;
	}

	struct sts_client *c = sts_client_new(region, endpoint, &r);
	if (c == NULL) {
		fprintf(stderr, "sts-probe: bad endpoint or region: %s\n", cb_strerror(r));
		printf("error=%s\n", cb_errname(r));
		return 2;
	}
	sts_client_set_timeouts(c, connect_ms, total_ms);
	sts_client_set_retries(c, attempts, backoff_ms);
	sts_client_set_json(c, json);
	int status = 0;
	if (strcmp(cmd, "caller-identity") == 0) {
		struct sts_identity id;
		r = sts_get_caller_identity(c, &key, &id, &e);
		if (r < 0) {
			status = fail(r, &e);
		} else {
			printf("ok=caller-identity\n");
			print_identity("", &id);
		}
	} else if (strcmp(cmd, "assume-role") == 0) {
		struct sts_credentials *cr = NULL;
		r = sts_assume_role(c, &key, &p, &cr, &e);
		if (r < 0) {
			status = fail(r, &e);
		} else {
			char exp[CBTIME_RFC3339_LEN];
			cbtime_format_rfc3339(cr->expiration, exp);
			printf("ok=assume-role\n");
			printf("access_key_id=%s\n", cr->access_key_id);
			printf("secret_access_key_length=%zu\n", strlen(cr->secret_access_key));
			printf("session_token_length=%zu\n", strlen(cr->session_token));
			printf("expiration=%s\n", exp);
			printf("assumed_role_arn=%s\n", cr->assumed_role_arn ? cr->assumed_role_arn : "");
			printf("assumed_role_id=%s\n", cr->assumed_role_id ? cr->assumed_role_id : "");
			printf("source_identity=%s\n", cr->source_identity ? cr->source_identity : "");
			if (then) {
				/* Prove the temporary credentials work without showing them. */
				struct sigv4_creds tmp = { cr->access_key_id, cr->secret_access_key,
							   cr->session_token };
				struct sts_identity id;
				r = sts_get_caller_identity(c, &tmp, &id, &e);
				if (r < 0)
					status = fail(r, &e);
				else
					print_identity("session_", &id);
			}
			sts_credentials_free(cr);
		}
	} else {
		usage();
		status = 2;
	}
	sts_client_free(c);
	for (size_t i = 0; i < ntagbuf; i++)
		free(tagbuf[i]);
	return status;
}
