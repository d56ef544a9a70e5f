// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* sl_group_build (user/lib/group.c): a VIP's ids, cumulative weights and wrr schedule. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "../../user/lib/group.h"

#define POISON 0xa5

static struct sl_group *poisoned_group(void)
{
	struct sl_group *g = test_malloc(sizeof(*g));

	memset(g, POISON, sizeof(*g));
	return g;
}

static void assert_poisoned(const struct sl_group *g, const char *what)
{
	const unsigned char *p = (const void *)g;
	size_t i;

	for (i = 0; i < sizeof(*g); i++)
		if (p[i] != POISON)
			fail_msg("%s: byte %zu of the group changed to %#x", what, i, p[i]);
}

/* Picks of each index in g->sched. */
static void count_sched(const struct sl_group *g, __u32 *cnt)
{
	__u32 i;

	memset(cnt, 0, SL_GROUP_MAX * sizeof(*cnt));
	for (i = 0; i < g->sched_len; i++) {
		ASSERT_TRUE(g->sched[i] < g->count, "sched[%u] = %u, count %u", i, g->sched[i],
			    g->count);
		cnt[g->sched[i]]++;
	}
}

static void test_errors_leave_group_untouched(void **state)
{
	struct sl_group_member *m = test_calloc(SL_GROUP_MAX + 1, sizeof(*m));
	struct sl_group *g = poisoned_group();
	__u32 i;

	for (i = 0; i <= SL_GROUP_MAX; i++) {
		m[i].id = i;
		m[i].weight = 1;
	}
	ASSERT_EQ(sl_group_build(g, m, SL_GROUP_MAX + 1), -EINVAL, "n = SL_GROUP_MAX + 1");
	assert_poisoned(g, "n = SL_GROUP_MAX + 1");

	m[3].weight = 0;
	ASSERT_EQ(sl_group_build(g, m, 5), -EINVAL, "a weight of 0");
	assert_poisoned(g, "a weight of 0");

	m[3].weight = 0xffffffffu;
	ASSERT_EQ(sl_group_build(g, m, 5), -EINVAL, "weights summing past 2^32 - 1");
	assert_poisoned(g, "weights summing past 2^32 - 1");

	test_free(g);
	test_free(m);
}

static void test_ids_cum_and_total(void **state)
{
	static const struct sl_group_member m[] = {
		{ 40, 3 }, { 41, 1 }, { 7, 4 }, { 1000, 1 }, { 0, 5 },
	};
	static const __u32 cum[] = { 3, 4, 8, 9, 14 };
	struct sl_group *g = poisoned_group();
	__u32 i;

	ASSERT_EQ(sl_group_build(g, m, 5), 0, "build");
	ASSERT_EQ(g->count, 5, "count");
	ASSERT_EQ(g->total_weight, 14, "total_weight");
	ASSERT_EQ(g->pad, 0, "pad");
	for (i = 0; i < 5; i++) {
		ASSERT_EQ(g->ids[i], m[i].id, "ids[%u]", i);
		ASSERT_EQ(g->cum[i], cum[i], "cum[%u]", i);
	}
	/* Unused entries are zeroed, not left over from before. */
	for (i = 5; i < SL_GROUP_MAX; i++) {
		ASSERT_EQ(g->ids[i], 0, "unused ids[%u]", i);
		ASSERT_EQ(g->cum[i], 0, "unused cum[%u]", i);
	}
	for (i = g->sched_len; i < SL_SCHED_MAX; i++)
		ASSERT_EQ(g->sched[i], 0, "unused sched[%u]", i);
	test_free(g);
}

static void test_empty_group_is_valid_and_empty(void **state)
{
	struct sl_group *g = poisoned_group();

	ASSERT_EQ(sl_group_build(g, NULL, 0), 0, "build");
	ASSERT_EQ(g->count, 0, "count");
	ASSERT_EQ(g->sched_len, 0, "sched_len");
	ASSERT_EQ(g->total_weight, 0, "total_weight");
	test_free(g);
}

static void test_sched_3_to_1_is_exact_and_smooth(void **state)
{
	static const struct sl_group_member m[] = { { 10, 3 }, { 11, 1 } };
	static const __u16 want[] = { 0, 0, 1, 0 }; /* nginx smooth wrr for 3:1 */
	struct sl_group *g = poisoned_group();
	__u32 i;

	ASSERT_EQ(sl_group_build(g, m, 2), 0, "build");
	ASSERT_EQ(g->sched_len, 4, "sched_len");
	for (i = 0; i < 4; i++)
		ASSERT_EQ(g->sched[i], want[i], "sched[%u]", i);
	test_free(g);
}

static void test_sched_divides_weights_by_gcd(void **state)
{
	static const struct sl_group_member m[] = { { 1, 100 }, { 2, 300 } };
	static const __u16 want[] = { 1, 0, 1, 1 };
	struct sl_group *g = poisoned_group();
	__u32 i;

	ASSERT_EQ(sl_group_build(g, m, 2), 0, "build");
	ASSERT_EQ(g->sched_len, 4, "sched_len of 100:300");
	for (i = 0; i < 4; i++)
		ASSERT_EQ(g->sched[i], want[i], "sched[%u]", i);
	/* Weighted random still sees the weights as given. */
	ASSERT_EQ(g->total_weight, 400, "total_weight");
	ASSERT_EQ(g->cum[0], 100, "cum[0]");
	ASSERT_EQ(g->cum[1], 400, "cum[1]");
	test_free(g);
}

static void test_sched_of_full_group_of_small_weights_is_exact(void **state)
{
	struct sl_group_member m[SL_GROUP_MAX];
	__u32 cnt[SL_GROUP_MAX], i, sum = 0;
	struct sl_group *g = poisoned_group();

	for (i = 0; i < SL_GROUP_MAX; i++) {
		m[i].id = 1000 + i;
		m[i].weight = i % 16 + 1; /* sum 2176: fits without scaling */
		sum += m[i].weight;
	}
	ASSERT_EQ(sl_group_build(g, m, SL_GROUP_MAX), 0, "build");
	ASSERT_EQ(g->sched_len, sum, "sched_len");
	count_sched(g, cnt);
	for (i = 0; i < SL_GROUP_MAX; i++)
		ASSERT_EQ(cnt[i], m[i].weight, "picks of entry %u", i);
	test_free(g);
}

/*
 * Weights summing past SL_SCHED_MAX: the schedule fits SL_SCHED_MAX, everyone
 * is in it, and each entry's picks are within 2 of its exact share of the
 * schedule's length.
 */
static void check_oversized(const struct sl_group_member *m, __u32 n)
{
	struct sl_group *g = poisoned_group();
	__u32 cnt[SL_GROUP_MAX], i;
	__u64 sum = 0;

	for (i = 0; i < n; i++)
		sum += m[i].weight;
	ASSERT_EQ(sl_group_build(g, m, n), 0, "build, n %u", n);
	ASSERT_TRUE(g->sched_len <= SL_SCHED_MAX, "n %u: sched_len %u > SL_SCHED_MAX", n,
		    g->sched_len);
	ASSERT_TRUE(g->sched_len >= SL_SCHED_MAX / 2, "n %u: sched_len %u wastes the schedule", n,
		    g->sched_len);
	count_sched(g, cnt);
	for (i = 0; i < n; i++) {
		double want = (double)m[i].weight * g->sched_len / (double)sum;

		ASSERT_TRUE(cnt[i] >= 1, "n %u: entry %u (weight %u) never scheduled", n, i,
			    m[i].weight);
		ASSERT_TRUE(cnt[i] <= want + 2 && cnt[i] + 2 >= want,
			    "n %u: entry %u (weight %u) got %u of %u picks, expected %.1f", n, i,
			    m[i].weight, cnt[i], g->sched_len, want);
	}
	test_free(g);
}

static void test_sched_oversized_fits_and_keeps_ratios(void **state)
{
	static const struct sl_group_member two[] = { { 1, 4001 }, { 2, 1999 } };
	struct sl_group_member m[SL_GROUP_MAX];
	__u32 i, s = 12345;

	check_oversized(two, 2);
	for (i = 0; i < 100; i++) {
		m[i].id = i;
		m[i].weight = i + 1; /* sum 5050 */
	}
	check_oversized(m, 100);
	for (i = 0; i < SL_GROUP_MAX; i++) {
		s = s * 1103515245u + 12345u;
		m[i].id = i;
		m[i].weight = (s >> 8) % 100000 + 1;
	}
	check_oversized(m, SL_GROUP_MAX);
}

/*
 * One giant weight among 255 weights of 1: exact ratios would leave the ones
 * out of the schedule, so each keeps exactly one pick and the giant gets the
 * rest.
 */
static void test_sched_oversized_keeps_every_member(void **state)
{
	struct sl_group_member m[SL_GROUP_MAX];
	struct sl_group *g = poisoned_group();
	__u32 cnt[SL_GROUP_MAX], i;

	for (i = 0; i < SL_GROUP_MAX; i++) {
		m[i].id = i;
		m[i].weight = 1;
	}
	m[17].weight = 1000000;
	ASSERT_EQ(sl_group_build(g, m, SL_GROUP_MAX), 0, "build");
	ASSERT_TRUE(g->sched_len <= SL_SCHED_MAX, "sched_len %u > SL_SCHED_MAX", g->sched_len);
	count_sched(g, cnt);
	for (i = 0; i < SL_GROUP_MAX; i++)
		if (i != 17)
			ASSERT_EQ(cnt[i], 1, "picks of weight-1 entry %u", i);
	ASSERT_EQ(cnt[17], g->sched_len - (SL_GROUP_MAX - 1), "picks of the giant");
	ASSERT_TRUE(cnt[17] >= SL_SCHED_MAX - 2 * SL_GROUP_MAX, "giant got only %u of %u picks",
		    cnt[17], g->sched_len);
	test_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errors_leave_group_untouched),
		cmocka_unit_test(test_ids_cum_and_total),
		cmocka_unit_test(test_empty_group_is_valid_and_empty),
		cmocka_unit_test(test_sched_3_to_1_is_exact_and_smooth),
		cmocka_unit_test(test_sched_divides_weights_by_gcd),
		cmocka_unit_test(test_sched_of_full_group_of_small_weights_is_exact),
		cmocka_unit_test(test_sched_oversized_fits_and_keeps_ratios),
		cmocka_unit_test(test_sched_oversized_keeps_every_member),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
