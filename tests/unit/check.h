/* SPDX-License-Identifier: MIT */
#ifndef CREDBROKER_TEST_CHECK_H
#define CREDBROKER_TEST_CHECK_H

/*
 * The smallest test harness that says where it failed. A test program
 * returns check_status(): 0 when every CHECK held, 1 otherwise.
 */
#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond)                                                                  \
	do {                                                                         \
		check_count++;                                                       \
		if (!(cond)) {                                                       \
			check_failures++;                                            \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
				#cond);                                              \
		}                                                                    \
	} while (0)

#define CHECK_STR(a, b)                                                              \
	do {                                                                         \
		const char *check_a_ = (a), *check_b_ = (b);                         \
		check_count++;                                                       \
		if (check_a_ == NULL || check_b_ == NULL || strcmp(check_a_, check_b_) != 0) { \
			check_failures++;                                            \
			fprintf(stderr, "%s:%d: %s == %s failed:\n  got:  %s\n  want: %s\n", \
				__FILE__, __LINE__, #a, #b, check_a_ ? check_a_ : "(null)", \
				check_b_ ? check_b_ : "(null)");                      \
		}                                                                    \
	} while (0)

#define CHECK_INT(a, b)                                                              \
	do {                                                                         \
		long long check_a_ = (a), check_b_ = (b);                            \
		check_count++;                                                       \
		if (check_a_ != check_b_) {                                          \
			check_failures++;                                            \
			fprintf(stderr, "%s:%d: %s == %s failed: got %lld, want %lld\n", \
				__FILE__, __LINE__, #a, #b, check_a_, check_b_);      \
		}                                                                    \
	} while (0)

static inline int check_status(void)
{
	fprintf(stderr, "%d checks, %d failed\n", check_count, check_failures);
	return check_failures == 0 && check_count > 0 ? 0 : 1;
}

#endif
