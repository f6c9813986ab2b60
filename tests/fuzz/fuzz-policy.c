/* SPDX-License-Identifier: MIT */
/*
 * Policy documents through policy_build, with a confidential bucket. Whatever
 * is accepted must come back as one JSON object that still ends with the
 * broker's Deny; anything else aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "credbroker/buf.h"
#include "credbroker/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const buckets[] = { "payroll-exports" };
	struct buf out, why;
	buf_init(&out, 64 * 1024);
	buf_init(&why, 4096);
	if (policy_build((const char *)data, size, buckets, 1, &out, &why) == 0) {
		cJSON *j = cJSON_Parse((const char *)out.data);
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "Statement");
		int n = cJSON_GetArraySize(st);
		const cJSON *last = cJSON_GetArrayItem(st, n - 1);
		const cJSON *sid = cJSON_GetObjectItemCaseSensitive(last, "Sid");
		if (!cJSON_IsArray(st) || !cJSON_IsString(sid) ||
		    strcmp(sid->valuestring, POLICY_BUCKET_DENY_SID) != 0)
			abort();
		cJSON_Delete(j);
		policy_check_limits(out.len, NULL, 0, &why);
	}
	buf_free(&out);
	buf_free(&why);
	return 0;
}
