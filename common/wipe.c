/* SPDX-License-Identifier: MIT */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "credbroker/wipe.h"

void wipe_free(void *p)
{
	if (p != NULL) {
		sodium_memzero(p, malloc_usable_size(p));
		free(p);
	}
}

void *wipe_realloc(void *p, size_t n)
{
	if (p == NULL)
		return malloc(n);
	void *q = malloc(n ? n : 1);
	if (q == NULL)
		return NULL;
	size_t old = malloc_usable_size(p);
	memcpy(q, p, old < n ? old : n);
	wipe_free(p);
	return q;
}

void wipe_cjson_hooks(void)
{
	/* cJSON uses realloc only with the default hooks; with these it
	 * allocates anew and frees, so every freed block is wiped. */
	static cJSON_Hooks hooks = { .malloc_fn = malloc, .free_fn = wipe_free };
	cJSON_InitHooks(&hooks);
}
