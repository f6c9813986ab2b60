/* SPDX-License-Identifier: MIT */
/*
 * Config bytes through config_parse, the path config_load takes after
 * reading the file. Relative policy paths resolve under a directory that
 * does not exist, so the harness reads no files of its own.
 */
#include <stddef.h>
#include <stdint.h>

#include "credbroker/buf.h"
#include "credbroker/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf problems;
	buf_init(&problems, 64 * 1024);
	struct config *c = NULL;
	if (config_parse((const char *)data, size, "/nonexistent-credbroker-fuzz/broker.json", &c,
			 &problems) == 0) {
		for (size_t i = 0; i < c->nprofiles; i++)
			config_profile_clamp_duration(&c->profiles[i], 0);
		config_free(c);
	}
	buf_free(&problems);
	return 0;
}
