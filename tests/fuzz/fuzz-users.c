/* SPDX-License-Identifier: MIT */
/*
 * users.json bytes through users_parse, the path users_load takes after
 * reading the file: the daemon must refuse, never crash on, a damaged or
 * hand-edited users file. What parses is saved back to memory-only checks.
 */
#include <stddef.h>
#include <stdint.h>

#include "credbroker/users.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct users *u = NULL;
	if (users_parse(data, size, "/nonexistent-credbroker-fuzz/users.json", &u) == 0) {
		for (size_t i = 0; i < users_count(u); i++) {
			struct user *usr = users_at(u, i);
			users_has_profile(usr, "ro");
			users_find(u, usr->name);
		}
		users_free(u);
	}
	return 0;
}
