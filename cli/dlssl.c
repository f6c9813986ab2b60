/* SPDX-License-Identifier: MIT */
#include <dlfcn.h>
#include <stdio.h>

#include <openssl/opensslv.h>

#include "credbroker/err.h"
#define DLSSL_REAL_NAMES
#include "dlssl.h"

/* The soname the build was compiled against ("libssl.so.3"): the same
 * library, from the same search path, the dynamic linker would load. */
#define DLSSL_SONAME "libssl.so." OPENSSL_MSTR(OPENSSL_SHLIB_VERSION)

#define DLSSL_DEFINE(f) __typeof__(f) *dlssl_##f;
DLSSL_FUNCTIONS(DLSSL_DEFINE)
#undef DLSSL_DEFINE

int dlssl_load(char why[static DLSSL_WHY_MAX])
{
	static void *lib;
	if (lib != NULL)
		return 0;
	void *h = dlopen(DLSSL_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		snprintf(why, DLSSL_WHY_MAX, "remote brokers need %s: %s", DLSSL_SONAME, dlerror());
		return CB_ERR_NOT_FOUND;
	}
	/* dlsym on libssl's handle also searches libcrypto, its dependency. */
	/* ISO C has no object-to-function pointer cast; POSIX blesses this
	 * store through a void * (see dlsym(3)). */
#define DLSSL_RESOLVE(f)                                                                  \
	{                                                                                 \
		void *sym = dlsym(h, #f);                                                 \
		if (sym == NULL) {                                                        \
			snprintf(why, DLSSL_WHY_MAX, "remote brokers need %s: it lacks %s", \
				 DLSSL_SONAME, #f);                                       \
			dlclose(h);                                                       \
			return CB_ERR_NOT_FOUND;                                          \
		}                                                                         \
		*(void **)&dlssl_##f = sym;                                               \
	}
	DLSSL_FUNCTIONS(DLSSL_RESOLVE)
#undef DLSSL_RESOLVE
	lib = h;
	return 0;
}
