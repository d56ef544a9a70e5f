/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Minimal test harness for the BPF program tests: tests register themselves,
 * main.c runs them (all, or those whose name contains argv[1]) and prints
 * "N passed, N failed". ASSERT_* print the got and the expected value and
 * fail the current test (they return from the test function).
 */
#ifndef SL_TEST_HARNESS_H
#define SL_TEST_HARNESS_H

#include <stdio.h>
#include <string.h>
#include <inttypes.h>

struct sl_test {
	const char *name;
	void (*fn)(void);
	struct sl_test *next;
};

void sl_test_register(struct sl_test *t);
/* Mark the running test failed (used by the ASSERT macros). */
void sl_test_fail(void);
/* Mark the running test skipped, with a reason. */
void sl_test_skip(const char *why);

#define TEST(name)                                                             \
	static void test_##name(void);                                         \
	static struct sl_test sl_test_##name = { #name, test_##name, NULL };   \
	__attribute__((constructor)) static void sl_test_reg_##name(void)      \
	{                                                                      \
		sl_test_register(&sl_test_##name);                             \
	}                                                                      \
	static void test_##name(void)

#define FAILF(fmt, ...)                                                        \
	do {                                                                   \
		fprintf(stderr, "  %s:%d: " fmt "\n", __FILE__, __LINE__,      \
			##__VA_ARGS__);                                        \
		sl_test_fail();                                                \
	} while (0)

#define ASSERT_EQ(got, exp, what)                                              \
	({                                                                     \
		long long _g = (long long)(got), _e = (long long)(exp);        \
		if (_g != _e)                                                  \
			FAILF("%s: got %lld, expected %lld", (what), _g, _e); \
		_g == _e;                                                      \
	})

#define ASSERT_TRUE(cond, what)                                                \
	({                                                                     \
		int _c = !!(cond);                                             \
		if (!_c)                                                       \
			FAILF("%s: expected true (%s)", (what), #cond);        \
		_c;                                                            \
	})

#define ASSERT_OK(err, what)                                                   \
	({                                                                     \
		long long _r = (long long)(err);                               \
		if (_r)                                                        \
			FAILF("%s: failed with %lld (%s)", (what), _r,         \
			      strerror(_r < 0 ? (int)-_r : (int)_r));          \
		!_r;                                                           \
	})

/* Compare byte buffers; on mismatch print the first differing offset. */
#define ASSERT_MEM(got, glen, exp, elen, what)                                 \
	({                                                                     \
		int _ok = sl_mem_check((got), (glen), (exp), (elen), (what),   \
				       __FILE__, __LINE__);                    \
		if (!_ok)                                                      \
			sl_test_fail();                                        \
		_ok;                                                           \
	})

int sl_mem_check(const void *got, size_t glen, const void *exp, size_t elen, const char *what,
		 const char *file, int line);

#endif
