// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The selection helpers of include/sluice/select.h, as compiled for user
 * space: smooth wrr, weighted random, least connections, round-robin, the
 * flow hash and the Maglev slot.
 */
#include <string.h>

#include "check.h"
#include "sluice/select.h"

static __u32 sum_of(const __u32 *w, __u32 n)
{
	__u32 i, t = 0;

	for (i = 0; i < n; i++)
		t += w[i];
	return t;
}

/* ---- sl_swrr_step ------------------------------------------------------ */

/*
 * Runs @periods * total steps and checks that every window of total
 * consecutive steps (not only the aligned ones) holds w[i] picks of i.
 */
static void check_swrr_windows(const __u32 *w, __u32 n, __u32 periods)
{
	__u32 total = sum_of(w, n), len = total * periods, t, i;
	__s64 cur[SL_GROUP_MAX] = { 0 };
	__u32 cnt[SL_GROUP_MAX] = { 0 };
	int *seq = test_malloc(len * sizeof(*seq));

	for (t = 0; t < len; t++) {
		seq[t] = sl_swrr_step(cur, w, n, total);
		ASSERT_TRUE(seq[t] >= 0 && (__u32)seq[t] < n, "step %u picked %d, n %u", t, seq[t],
			    n);
	}
	for (t = 0; t < len; t++) {
		cnt[seq[t]]++;
		if (t >= total)
			cnt[seq[t - total]]--;
		if (t + 1 < total)
			continue;
		for (i = 0; i < n; i++)
			ASSERT_EQ(cnt[i], w[i], "n %u: picks of %u in window ending at step %u", n,
				  i, t);
	}
	test_free(seq);
}

static void test_swrr_every_window_of_total_steps_matches_weights(void **state)
{
	static const __u32 w1[] = { 5, 1, 1 }, w2[] = { 1, 1, 1, 1 }, w3[] = { 10, 7, 3, 1 };
	static const __u32 w4[] = { 1 }, w5[] = { 100, 1 };
	__u32 w[SL_GROUP_MAX], i, s = 0x5eed;

	check_swrr_windows(w1, 3, 4);
	check_swrr_windows(w2, 4, 4);
	check_swrr_windows(w3, 4, 4);
	check_swrr_windows(w4, 1, 4);
	check_swrr_windows(w5, 2, 4);
	/* A full group: 256 entries of weights 1..16. */
	for (i = 0; i < SL_GROUP_MAX; i++)
		w[i] = rng_next(&s) % 16 + 1;
	check_swrr_windows(w, SL_GROUP_MAX, 3);
}

static void test_swrr_5_1_1_is_the_nginx_sequence(void **state)
{
	static const __u32 w[] = { 5, 1, 1 };
	static const int want[] = { 0, 0, 1, 0, 2, 0, 0 }; /* a a b a c a a */
	__s64 cur[3] = { 0 };
	int i, p;

	for (p = 0; p < 3; p++)
		for (i = 0; i < 7; i++)
			ASSERT_EQ(sl_swrr_step(cur, w, 3, 7), want[i], "period %d step %d", p, i);
	/* Back to the start state, so the sequence repeats as it is. */
	for (i = 0; i < 3; i++)
		ASSERT_EQ(cur[i], 0, "cur[%d] after 3 periods", i);
}

/*
 * No bursts: after every step t, the picks of entry i are within one of the
 * ideal t * w[i] / total. Sending the heavy entry's picks in a block (a a a a
 * a b c) would be 5 - 25/7 = 1.4 ahead after five steps and fail this.
 */
static void check_swrr_prefix_smooth(const __u32 *w, __u32 n)
{
	__u32 total = sum_of(w, n), t, i;
	__s64 cur[SL_GROUP_MAX] = { 0 };
	__s64 cnt[SL_GROUP_MAX] = { 0 };

	for (t = 1; t <= 3 * total; t++) {
		cnt[sl_swrr_step(cur, w, n, total)]++;
		for (i = 0; i < n; i++) {
			__s64 dev = cnt[i] * total - (__s64)t * w[i];

			ASSERT_TRUE(dev > -(__s64)total && dev < (__s64)total,
				    "entry %u (weight %u of %u) picked %lld times after %u steps, "
				    "ideal %.2f",
				    i, w[i], total, (long long)cnt[i], t, (double)t * w[i] / total);
		}
	}
}

static void test_swrr_picks_stay_within_one_of_ideal(void **state)
{
	static const __u32 w1[] = { 5, 1, 1 }, w2[] = { 4, 2, 1 }, w3[] = { 3, 1 };
	static const __u32 w4[] = { 98, 2, 2 }, w5[] = { 10, 5, 3, 2, 1 };

	check_swrr_prefix_smooth(w1, 3);
	check_swrr_prefix_smooth(w2, 3);
	check_swrr_prefix_smooth(w3, 2);
	check_swrr_prefix_smooth(w4, 3);
	check_swrr_prefix_smooth(w5, 5);
}

static void test_swrr_longest_run_5_1_1_is_four(void **state)
{
	/* Cyclically a a b a c a a | a a ...: a runs 4 across the period edge, b and c 1. */
	static const __u32 w[] = { 5, 1, 1 };
	static const int max_run[] = { 4, 1, 1 };
	int got[3] = { 0 }, last = -1, run = 0, i;
	__s64 cur[3] = { 0 };

	for (i = 0; i < 70; i++) {
		int p = sl_swrr_step(cur, w, 3, 7);

		run = p == last ? run + 1 : 1;
		last = p;
		if (run > got[p])
			got[p] = run;
	}
	for (i = 0; i < 3; i++)
		ASSERT_EQ(got[i], max_run[i], "longest run of entry %d", i);
}

static void test_swrr_empty_returns_minus_one_and_keeps_state(void **state)
{
	__s64 cur[2] = { 7, -7 };
	__u32 w[2] = { 1, 1 };

	ASSERT_EQ(sl_swrr_step(cur, w, 0, 0), -1, "n 0");
	ASSERT_EQ(cur[0], 7, "cur[0] after n 0");
	ASSERT_EQ(cur[1], -7, "cur[1] after n 0");
}

/* ---- sl_wrandom_pick ---------------------------------------------------- */

static void test_wrandom_boundaries(void **state)
{
	static const __u32 cum[] = { 3, 4, 8, 9, 14 }; /* weights 3 1 4 1 5 */
	__u32 i;

	ASSERT_EQ(sl_wrandom_pick(cum, 5, 0), 0, "r 0");
	for (i = 0; i < 5; i++) {
		ASSERT_EQ(sl_wrandom_pick(cum, 5, cum[i] - 1), i, "r cum[%u]-1 = %u", i,
			  cum[i] - 1);
		if (i + 1 < 5)
			ASSERT_EQ(sl_wrandom_pick(cum, 5, cum[i]), i + 1, "r cum[%u] = %u", i,
				  cum[i]);
	}
	ASSERT_EQ(sl_wrandom_pick(cum, 1, 2), 0, "n 1");
	ASSERT_EQ(sl_wrandom_pick(cum, 0, 0), 0, "n 0");
}

/* Every r in [0, total) once: entry i must come out exactly w[i] times. */
static void check_wrandom_distribution(const __u32 *w, __u32 n)
{
	__u32 cum[SL_GROUP_MAX], cnt[SL_GROUP_MAX] = { 0 }, i, r;

	for (i = 0; i < n; i++)
		cum[i] = (i ? cum[i - 1] : 0) + w[i];
	for (r = 0; r < cum[n - 1]; r++) {
		__u32 p = sl_wrandom_pick(cum, n, r);

		ASSERT_TRUE(p < n, "n %u r %u picked %u", n, r, p);
		cnt[p]++;
	}
	for (i = 0; i < n; i++)
		ASSERT_EQ(cnt[i], w[i], "n %u: picks of entry %u over every r", n, i);
}

static void test_wrandom_every_r_gives_weights_exactly(void **state)
{
	static const __u32 w1[] = { 3, 1, 4, 1, 5 }, w2[] = { 1, 1000, 1 };
	__u32 w[SL_GROUP_MAX], i, s = 0xfeed;

	check_wrandom_distribution(w1, 5);
	check_wrandom_distribution(w2, 3);
	/* 256 entries need all 8 halvings of the bounded search. */
	for (i = 0; i < SL_GROUP_MAX; i++)
		w[i] = rng_next(&s) % 50 + 1;
	check_wrandom_distribution(w, SL_GROUP_MAX);
	check_wrandom_distribution(w, SL_GROUP_MAX - 1);
	check_wrandom_distribution(w, 129);
	for (i = 0; i < SL_GROUP_MAX; i++)
		w[i] = 1;
	check_wrandom_distribution(w, SL_GROUP_MAX);
}

/* ---- sl_random_scale ----------------------------------------------------- */

static void test_random_scale_stays_below_total(void **state)
{
	static const __u32 totals[] = { 1, 2, 7, 1000, 65537, 0x80000000u, 0xffffffffu };
	__u32 s = 0xabcdef, i, k;

	for (i = 0; i < sizeof(totals) / sizeof(totals[0]); i++) {
		__u32 t = totals[i];

		ASSERT_EQ(sl_random_scale(0, t), 0, "rnd 0, total %u", t);
		ASSERT_EQ(sl_random_scale(0xffffffffu, t), t - 1, "rnd max, total %u", t);
		for (k = 0; k < 10000; k++) {
			__u32 rnd = rng_next(&s), v = sl_random_scale(rnd, t);

			ASSERT_TRUE(v < t, "rnd %u total %u scaled to %u", rnd, t, v);
		}
	}
}

/*
 * Even spacing: value v first appears at rnd = ceil(v * 2^32 / total), so
 * every value gets floor or ceil of 2^32 / total inputs and none is favoured.
 */
static void test_random_scale_spreads_inputs_evenly(void **state)
{
	static const __u32 totals[] = { 3, 7, 10, 1000 };
	__u32 i, v;

	for (i = 0; i < sizeof(totals) / sizeof(totals[0]); i++) {
		__u32 t = totals[i];

		for (v = 1; v < t; v++) {
			__u64 first = (((__u64)v << 32) + t - 1) / t;

			ASSERT_EQ(sl_random_scale((__u32)first, t), v, "total %u, rnd %llu", t,
				  (unsigned long long)first);
			ASSERT_EQ(sl_random_scale((__u32)first - 1, t), v - 1, "total %u, rnd %llu",
				  t, (unsigned long long)first - 1);
		}
	}
}

/* ---- sl_lc_better --------------------------------------------------------- */

static void test_lc_better_compares_flows_per_weight(void **state)
{
	ASSERT_EQ(sl_lc_better(1, 1, 2, 1), 1, "1/1 vs 2/1");
	ASSERT_EQ(sl_lc_better(2, 1, 1, 1), 0, "2/1 vs 1/1");
	ASSERT_EQ(sl_lc_better(10, 10, 2, 1), 1, "10/10 vs 2/1: weight counts");
	ASSERT_EQ(sl_lc_better(3, 2, 1, 1), 0, "3/2 vs 1/1");
	ASSERT_EQ(sl_lc_better(0, 1, 0, 5), 0, "0/1 vs 0/5: idle ties");
	/* Equal load is not better either way, so the first candidate keeps its place. */
	ASSERT_EQ(sl_lc_better(4, 2, 2, 1), 0, "4/2 vs 2/1");
	ASSERT_EQ(sl_lc_better(2, 1, 4, 2), 0, "2/1 vs 4/2");
	/* Large counts and weights: products need 64 bits, and they have them. */
	ASSERT_EQ(sl_lc_better(0x7fffffffLL, 0xffffffffu, 0x80000000LL, 0xffffffffu), 1,
		  "2^31-1 vs 2^31 flows at weight 2^32-1");
	ASSERT_EQ(sl_lc_better(0x80000000LL, 0xffffffffu, 0x7fffffffLL, 0xffffffffu), 0,
		  "2^31 vs 2^31-1 flows at weight 2^32-1");
}

/* ---- sl_rr_index ------------------------------------------------------------ */

static void test_rr_index_cycles_over_n(void **state)
{
	__u64 pos;

	for (pos = 0; pos < 30; pos++)
		ASSERT_EQ(sl_rr_index(pos, 7), pos % 7, "pos %llu n 7", (unsigned long long)pos);
	ASSERT_EQ(sl_rr_index(12345, 1), 0, "n 1");
	/* The 64-bit position keeps cycling when it passes 2^32. */
	ASSERT_EQ(sl_rr_index(0x100000000ull, 3), 0x100000000ull % 3, "pos 2^32");
	ASSERT_EQ(sl_rr_index(~0ull, 10), 5, "pos 2^64-1");
}

/* ---- sl_hash_flow --------------------------------------------------------------- */

static struct sl_flow kat_flow(void)
{
	struct sl_flow f = {
		.src = { 0x01020304, 0x05060708, 0x090a0b0c, 0x0d0e0f10 },
		.dst = { 0x11121314, 0x15161718, 0x191a1b1c, 0x1d1e1f20 },
		.sport = 0x2122,
		.dport = 0x2324,
		.proto = 17,
		.family = SL_AF_INET6,
	};
	return f;
}

/*
 * Known answers from an independent (Python) implementation of the same
 * murmur3 steps: all nodes, of any build, must agree on every flow's hash.
 */
static void test_hash_flow_known_answers(void **state)
{
	struct sl_flow f = kat_flow();

	ASSERT_EQ(sl_hash_flow(&f, 0), 0x45d3c8a9u, "seed 0");
	ASSERT_EQ(sl_hash_flow(&f, 0x12345678), 0xa8a529a4u, "seed 0x12345678");
}

static void test_hash_flow_deterministic_and_ignores_pad(void **state)
{
	struct sl_flow a = kat_flow(), b;

	memcpy(&b, &a, sizeof(b));
	b.pad = 0xffff;
	ASSERT_EQ(sl_hash_flow(&a, 7), sl_hash_flow(&a, 7), "same flow twice");
	ASSERT_EQ(sl_hash_flow(&b, 7), sl_hash_flow(&a, 7), "copy with pad set");
}

static void test_hash_flow_changes_with_every_field_and_seed(void **state)
{
	struct sl_flow base = kat_flow(), f;
	__u32 h = sl_hash_flow(&base, 0);
	int i, bit;

	/* One flipped bit anywhere in an address word, port, proto or family. */
	for (bit = 0; bit < 32; bit++) {
		for (i = 0; i < 4; i++) {
			f = base;
			f.src[i] ^= 1u << bit;
			ASSERT_TRUE(sl_hash_flow(&f, 0) != h, "src[%d] bit %d ignored", i, bit);
			f = base;
			f.dst[i] ^= 1u << bit;
			ASSERT_TRUE(sl_hash_flow(&f, 0) != h, "dst[%d] bit %d ignored", i, bit);
		}
	}
	for (bit = 0; bit < 16; bit++) {
		f = base;
		f.sport ^= (__u16)(1u << bit);
		ASSERT_TRUE(sl_hash_flow(&f, 0) != h, "sport bit %d ignored", bit);
		f = base;
		f.dport ^= (__u16)(1u << bit);
		ASSERT_TRUE(sl_hash_flow(&f, 0) != h, "dport bit %d ignored", bit);
	}
	for (bit = 0; bit < 8; bit++) {
		f = base;
		f.proto ^= (__u8)(1u << bit);
		ASSERT_TRUE(sl_hash_flow(&f, 0) != h, "proto bit %d ignored", bit);
		f = base;
		f.family ^= (__u8)(1u << bit);
		ASSERT_TRUE(sl_hash_flow(&f, 0) != h, "family bit %d ignored", bit);
	}
	/* Swapping ports must not collide: direction matters. */
	f = base;
	f.sport = base.dport;
	f.dport = base.sport;
	ASSERT_TRUE(sl_hash_flow(&f, 0) != h, "swapped ports hash the same");
	ASSERT_TRUE(sl_hash_flow(&base, 1) != h, "seed ignored");
}

/* ---- sl_maglev_slot ---------------------------------------------------------- */

static void test_maglev_slot_is_hash_mod_size(void **state)
{
	static const __u32 sizes[] = { 2, 251, SL_MAGLEV_SIZE };
	static const __u32 hashes[] = { 0,     1,     250,	   251,	       65536,
					65537, 65538, 0xfffffffeu, 0xffffffffu };
	__u32 i, j;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (j = 0; j < sizeof(hashes) / sizeof(hashes[0]); j++)
			ASSERT_EQ(sl_maglev_slot(hashes[j], sizes[i]), hashes[j] % sizes[i],
				  "hash %u size %u", hashes[j], sizes[i]);
	ASSERT_EQ(sl_maglev_slot(SL_MAGLEV_SIZE - 1, SL_MAGLEV_SIZE), SL_MAGLEV_SIZE - 1,
		  "last slot");
	ASSERT_EQ(sl_maglev_slot(SL_MAGLEV_SIZE, SL_MAGLEV_SIZE), 0, "wraps to 0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_swrr_every_window_of_total_steps_matches_weights),
		cmocka_unit_test(test_swrr_5_1_1_is_the_nginx_sequence),
		cmocka_unit_test(test_swrr_picks_stay_within_one_of_ideal),
		cmocka_unit_test(test_swrr_longest_run_5_1_1_is_four),
		cmocka_unit_test(test_swrr_empty_returns_minus_one_and_keeps_state),
		cmocka_unit_test(test_wrandom_boundaries),
		cmocka_unit_test(test_wrandom_every_r_gives_weights_exactly),
		cmocka_unit_test(test_random_scale_stays_below_total),
		cmocka_unit_test(test_random_scale_spreads_inputs_evenly),
		cmocka_unit_test(test_lc_better_compares_flows_per_weight),
		cmocka_unit_test(test_rr_index_cycles_over_n),
		cmocka_unit_test(test_hash_flow_known_answers),
		cmocka_unit_test(test_hash_flow_deterministic_and_ignores_pad),
		cmocka_unit_test(test_hash_flow_changes_with_every_field_and_seed),
		cmocka_unit_test(test_maglev_slot_is_hash_mod_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
