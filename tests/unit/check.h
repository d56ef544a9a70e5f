/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* What every cmocka unit test here includes: cmocka, and checks that print got/expected. */
#ifndef SL_UNIT_CHECK_H
#define SL_UNIT_CHECK_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <linux/types.h>

/* Fail printing what was checked, the value got and the value expected. */
#define ASSERT_EQ(got, exp, fmt, ...)                                                         \
	do {                                                                                  \
		long long got_ = (long long)(got), exp_ = (long long)(exp);                   \
		if (got_ != exp_)                                                             \
			fail_msg(fmt ": got %lld, expected %lld", ##__VA_ARGS__, got_, exp_); \
	} while (0)

#define ASSERT_LE(got, max, fmt, ...)                                                          \
	do {                                                                                   \
		unsigned long long got_ = (got), max_ = (max);                                 \
		if (got_ > max_)                                                               \
			fail_msg(fmt ": got %llu, expected at most %llu", ##__VA_ARGS__, got_, \
				 max_);                                                        \
	} while (0)

#define ASSERT_TRUE(cond, fmt, ...)                   \
	do {                                          \
		if (!(cond))                          \
			fail_msg(fmt, ##__VA_ARGS__); \
	} while (0)

/* Deterministic xorshift32, so every run sees the same "random" cases. */
static inline __u32 rng_next(__u32 *s)
{
	__u32 x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

#endif
