/* SPDX-License-Identifier: MIT */
/*
 * Arbitrary bytes as one request frame's payload, through the daemon's own
 * handler (broker_handle: JSON parse, op dispatch, field checks, the ops).
 * The broker is opened once on a temporary state directory with a fixed
 * vault key. Its STS and IAM endpoints are a closed loopback port, so ops
 * that would reach AWS fail at once (sts_unavailable) and nothing leaves the
 * machine. The peer is uid 0, an admin, so the admin ops are reached too;
 * every answer must be one JSON object with a boolean "ok".
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "credbroker/broker.h"
#include "credbroker/buf.h"
#include "credbroker/frame.h"
#include "credbroker/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct broker *the_broker;
static char dir[] = "/tmp/cb-fuzz-request-XXXXXX";

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void cleanup(void)
{
	broker_free(the_broker);
	the_broker = NULL;
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static struct broker *setup(void)
{
	if (sodium_init() < 0 || mkdtemp(dir) == NULL)
		abort();
	char config[512];
	struct buf text;
	buf_init(&text, 8192);
	snprintf(config, sizeof(config), "%s/config.json", dir);
	/* Port 9 (discard) on loopback: nothing listens there in a test box. */
	buf_printf(&text,
		   "{\"state_dir\":\"%s/state\",\"socket\":\"%s/broker.sock\",\"admins\":[0],"
		   "\"vault\":{},\"aws\":{\"region\":\"us-east-1\",\"sts_endpoint\":\"http://127.0.0.1:9\","
		   "\"iam_endpoint\":\"http://127.0.0.1:9\"},\"audit\":{\"path\":\"%s/audit.jsonl\"},"
		   "\"totp\":{\"max_failures\":3,\"lockout_seconds\":60},"
		   "\"profiles\":{\"p\":{\"role_arn\":\"arn:aws:iam::123456789012:role/R\",\"key\":\"main\","
		   "\"policy_arns\":[\"arn:aws:iam::aws:policy/ReadOnlyAccess\"],"
		   "\"confidential_buckets\":[\"payroll-exports\"],\"max_duration\":\"1h\","
		   "\"source_identity\":true}}}",
		   dir, dir, dir);
	FILE *f = fopen(config, "w");
	if (f == NULL || fwrite(text.data, 1, text.len, f) != text.len || fclose(f) != 0)
		abort();
	buf_free(&text);

	uint8_t key[32];
	memset(key, 0x5a, sizeof(key));
	struct broker_unlock u = { .key = key };
	struct buf why;
	buf_init(&why, 8192);
	struct broker *b = NULL;
	if (broker_init_state(config, &u, &why) < 0 || broker_open(config, &u, &b, &why) < 0) {
		fprintf(stderr, "fuzz-request: cannot open a broker: %s\n", buf_str(&why));
		abort();
	}
	buf_free(&why);
	atexit(cleanup);
	return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (the_broker == NULL)
		the_broker = setup();
	/* The server never hands over more than a frame may hold. */
	if (size == 0 || size > FRAME_MAX_REQUEST)
		return 0;
	struct server_peer peer = { .uid = 0, .gid = 0, .pid = 1, .tls = false, .addr = "unix" };
	struct buf resp;
	buf_init(&resp, FRAME_MAX_RESPONSE);
	broker_handle(the_broker, &peer, data, size, &resp);
	cJSON *r = cJSON_ParseWithLength((const char *)resp.data, resp.len);
	if (!cJSON_IsObject(r) || !cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(r, "ok")))
		abort(); /* every request gets a well-formed answer */
	cJSON_Delete(r);
	buf_free(&resp);
	return 0;
}
