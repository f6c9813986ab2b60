/* SPDX-License-Identifier: MIT */
#ifndef CREDBROKER_WIPE_H
#define CREDBROKER_WIPE_H

#include <stddef.h>

/*
 * Allocator hooks that wipe memory before giving it back, for the libraries
 * that take hooks and may hold secrets in their own buffers: cJSON (requests,
 * sessions), expat (STS answers), libcurl (the raw response). The block's
 * whole usable size (malloc_usable_size) is wiped, so nothing of a secret
 * survives in the allocator's free lists.
 */

/* free(p) after wiping it; NULL is a no-op. */
void wipe_free(void *p);

/* realloc that never leaves the old block behind unwiped: a new block, the
 * contents copied, the old one wiped and freed. NULL p is malloc(n). NULL on
 * failure, with p untouched. */
void *wipe_realloc(void *p, size_t n);

/* Route cJSON's allocations through wipe_free. Idempotent, call once at start
 * (cJSON_InitHooks is process-wide). */
void wipe_cjson_hooks(void);

#endif
