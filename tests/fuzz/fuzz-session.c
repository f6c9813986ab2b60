/* SPDX-License-Identifier: MIT */
/*
 * The CLI's side of a session: bytes as they come from a cache file or the
 * broker's `issue` answer, parsed with cJSON, checked by session_from_json,
 * then printed in every format the CLI has (to /dev/null). A session that
 * passes must print without tripping anything, since its values end up in
 * shell `export` lines and the AWS CLI's JSON.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "cli/session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *null;
	if (null == NULL)
		null = fopen("/dev/null", "w");
	cJSON *json = cJSON_ParseWithLength((const char *)data, size);
	struct session s;
	if (json == NULL)
		return 0;
	if (session_from_json(json, &s) < 0) {
		cJSON_Delete(json);
		return 0;
	}
	session_print(&s, SESSION_FORMAT_PROCESS, null);
	session_print(&s, SESSION_FORMAT_ENV, null);
	session_print(&s, SESSION_FORMAT_JSON, null);
	session_free(&s);
	return 0;
}
