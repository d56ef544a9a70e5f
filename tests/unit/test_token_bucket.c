// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The virtual-time token bucket of include/sluice/select.h (sl_tb_take,
 * sl_tb_interval, sl_tb_tokens), driven by a simulated nanosecond clock.
 */

#include "check.h"
#include "sluice/select.h"

/* A clock far from zero, as CLOCK_MONOTONIC is on a machine that has been up a while. */
#define T0 (1000ull * SL_NS_PER_SEC)

/* One bucket and the clock it is read with. */
struct bucket {
	__u64 tat;
	__u64 interval;
	__u32 burst;
};

static int take(struct bucket *b, __u64 now)
{
	__u64 next = 0xdeadbeefull;

	if (!sl_tb_take(b->tat, now, b->interval, b->burst, &next)) {
		ASSERT_EQ(next, 0xdeadbeefull, "new_tat written on refusal at %llu",
			  (unsigned long long)now);
		return 0;
	}
	b->tat = next;
	return 1;
}

/* Takes at @now until refused; returns how many were admitted. */
static __u32 drain(struct bucket *b, __u64 now)
{
	__u32 got = 0;

	while (take(b, now))
		got++;
	return got;
}

static void test_interval_rounds_up(void **state)
{
	static const __u32 rates[] = { 1,	  2,	      3,	  7,
				       1000,	  999983,     1000000,	  3000000,
				       999999937, 1000000000, 1000000001, 0xffffffffu };
	__u32 i;

	ASSERT_EQ(sl_tb_interval(1), SL_NS_PER_SEC, "rate 1");
	ASSERT_EQ(sl_tb_interval(3), 333333334, "rate 3");
	ASSERT_EQ(sl_tb_interval(7), 142857143, "rate 7");
	for (i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		__u64 r = rates[i], iv = sl_tb_interval(rates[i]);

		/* Smallest interval that never refills faster than the rate. */
		ASSERT_LE(SL_NS_PER_SEC, r * iv, "rate %llu: rate * interval",
			  (unsigned long long)r);
		ASSERT_LE(r * (iv - 1) + 1, SL_NS_PER_SEC, "rate %llu: rate * (interval - 1) + 1",
			  (unsigned long long)r);
	}
}

static void test_fresh_bucket_admits_exactly_burst_at_once(void **state)
{
	static const __u32 bursts[] = { 1, 2, 5, 100, 1000 };
	__u32 i;

	for (i = 0; i < sizeof(bursts) / sizeof(bursts[0]); i++) {
		struct bucket b = { .tat = 0, .interval = sl_tb_interval(10), .burst = bursts[i] };

		ASSERT_EQ(sl_tb_tokens(b.tat, T0, b.interval, b.burst), bursts[i],
			  "tokens of a fresh bucket, burst %u", bursts[i]);
		ASSERT_EQ(drain(&b, T0), bursts[i], "admitted at one instant, burst %u", bursts[i]);
		ASSERT_EQ(sl_tb_tokens(b.tat, T0, b.interval, b.burst), 0,
			  "tokens after draining, burst %u", bursts[i]);
	}
}

static void test_tokens_count_whole_refills(void **state)
{
	struct bucket b = { .tat = 0, .interval = 1000, .burst = 10 };
	__u32 k;

	for (k = 1; k <= 4; k++) {
		take(&b, T0);
		ASSERT_EQ(sl_tb_tokens(b.tat, T0, b.interval, b.burst), 10 - k, "after %u takes",
			  k);
	}
	/* Half an interval is not a token yet; a whole one is. */
	ASSERT_EQ(sl_tb_tokens(b.tat, T0 + 500, b.interval, b.burst), 6, "half an interval later");
	ASSERT_EQ(sl_tb_tokens(b.tat, T0 + 1000, b.interval, b.burst), 7, "one interval later");
	ASSERT_EQ(sl_tb_tokens(b.tat, T0 + 4000, b.interval, b.burst), 10, "refilled");
	ASSERT_EQ(sl_tb_tokens(b.tat, T0 + 999999, b.interval, b.burst), 10, "capped at burst");
}

/*
 * Over [a_i, a_j] for every pair of admissions i < j, the bucket admitted
 * j - i + 1 <= burst + floor((a_j - a_i) / interval). Any window's worst case
 * starts and ends at admissions, so this covers every window [t, t + T].
 */
static void check_window_bound(const __u64 *at, __u32 m, __u64 interval, __u32 burst, __u32 trial)
{
	__u32 i, j;

	for (i = 0; i < m; i++)
		for (j = i; j < m; j++)
			if (j - i + 1 > burst + (at[j] - at[i]) / interval)
				fail_msg(
					"trial %u: %u admitted in [%llu, %llu] (%llu ns), expected "
					"at most %llu (burst %u, interval %llu)",
					trial, j - i + 1, (unsigned long long)at[i],
					(unsigned long long)at[j],
					(unsigned long long)(at[j] - at[i]),
					(unsigned long long)(burst + (at[j] - at[i]) / interval),
					burst, (unsigned long long)interval);
}

static void test_random_arrivals_never_exceed_burst_plus_refills(void **state)
{
	static const __u32 rates[] = { 1, 3, 7, 1000, 999983, 999999937 };
	enum { ARRIVALS = 4000, MAX_ADMIT = 1500 };
	__u64 *at = test_malloc(MAX_ADMIT * sizeof(*at));
	__u32 s = 0x7b7b7b, trial;

	for (trial = 0; trial < 48; trial++) {
		struct bucket b = { .tat = 0 };
		__u64 now = T0 + rng_next(&s);
		__u32 m = 0, k;

		b.interval = sl_tb_interval(rates[trial % 6]);
		b.burst = rng_next(&s) % 20 + 1;
		for (k = 0; k < ARRIVALS && m < MAX_ADMIT; k++) {
			__u32 r = rng_next(&s);

			/* Bursts at one instant, gaps shorter and longer than an interval. */
			switch (r % 4) {
			case 0:
				break;
			case 1:
				now += (r >> 2) % b.interval;
				break;
			case 2:
				now += b.interval + (r >> 2) % (3 * b.interval);
				break;
			default:
				now += (r >> 2) % (b.interval / 4 + 1);
				break;
			}
			if (take(&b, now))
				at[m++] = now;
		}
		assert_true(m > b.burst); /* the trial exercised refills */
		check_window_bound(at, m, b.interval, b.burst, trial);
	}
	test_free(at);
}

/*
 * A sender that always has something to send, looking every interval, gets
 * exactly burst + k tokens over [t0, t0 + k * interval]: the bound above is
 * reached, so the bucket is not stricter than it says either.
 */
static void test_saturating_sender_gets_exactly_burst_plus_refills(void **state)
{
	static const __u32 rates[] = { 1, 3, 7, 1000, 999983, 1000000000 };
	__u32 i, k;

	for (i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		struct bucket b = { .tat = 0, .interval = sl_tb_interval(rates[i]), .burst = 8 };
		__u64 total = 0;

		for (k = 0; k <= 1000; k++) {
			total += drain(&b, T0 + k * b.interval);
			ASSERT_EQ(total, b.burst + k, "rate %u: admitted by step %u", rates[i], k);
		}
	}
}

/*
 * Rates that do not divide 1e9: over a span a saturating sender gets
 * burst + floor(span / interval), which never exceeds burst + rate * span.
 */
static void test_rates_not_dividing_1e9_stay_at_or_below_rate(void **state)
{
	static const struct {
		__u32 rate;
		__u64 span; /* ns; short for fast rates to keep the loop small */
	} cases[] = {
		{ 3, 10 * SL_NS_PER_SEC },	   { 7, 10 * SL_NS_PER_SEC },
		{ 13, 10 * SL_NS_PER_SEC },	   { 999983, SL_NS_PER_SEC / 100 },
		{ 33333333, SL_NS_PER_SEC / 100 },
	};
	__u32 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		__u64 iv = sl_tb_interval(cases[i].rate), span = cases[i].span, total = 0, now;
		struct bucket b = { .tat = 0, .interval = iv, .burst = 4 };

		/* Look 4 times an interval, at instants that do not line up with refills. */
		for (now = T0; now <= T0 + span; now += iv / 4 + 1)
			total += drain(&b, now);
		total += drain(&b, T0 + span);
		ASSERT_EQ(total, b.burst + span / iv, "rate %u over %llu ns", cases[i].rate,
			  (unsigned long long)span);
		ASSERT_LE(total, b.burst + cases[i].rate * span / SL_NS_PER_SEC,
			  "rate %u over %llu ns", cases[i].rate, (unsigned long long)span);
	}
}

static void test_rate_1_survives_huge_idle_gaps(void **state)
{
	const __u64 iv = sl_tb_interval(1);
	struct bucket b = { .tat = 0, .interval = iv, .burst = 10 };
	__u64 now = T0;
	int gap;

	/* Drain, then sleep for ever longer gaps, from 17 s to 2^62 ns (146 years). */
	for (gap = 34; gap <= 62; gap += 4) {
		ASSERT_EQ(drain(&b, now), 10, "admitted after a 2^%d ns gap", gap);
		ASSERT_EQ(b.tat, now + 10 * iv, "tat after draining, gap 2^%d", gap);
		now += 1ull << gap;
		ASSERT_EQ(sl_tb_tokens(b.tat, now, iv, b.burst), 10, "tokens after 2^%d ns", gap);
	}

	/* The deepest bucket at rate 1: burst * interval is 4.3e18 ns and still fits. */
	b.burst = 0xffffffffu;
	now = 1ull << 62;
	b.tat = now + (__u64)b.burst * iv; /* empty */
	ASSERT_EQ(sl_tb_tokens(b.tat, now, iv, b.burst), 0, "tokens of an empty deep bucket");
	ASSERT_EQ(take(&b, now), 0, "take from an empty deep bucket");
	ASSERT_EQ(take(&b, now + iv - 1), 0, "take one ns before the refill");
	ASSERT_EQ(take(&b, now + iv), 1, "take at the refill");
	ASSERT_EQ(sl_tb_tokens(0, now, iv, b.burst), 0xffffffffu, "tokens of a fresh deep bucket");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_interval_rounds_up),
		cmocka_unit_test(test_fresh_bucket_admits_exactly_burst_at_once),
		cmocka_unit_test(test_tokens_count_whole_refills),
		cmocka_unit_test(test_random_arrivals_never_exceed_burst_plus_refills),
		cmocka_unit_test(test_saturating_sender_gets_exactly_burst_plus_refills),
		cmocka_unit_test(test_rates_not_dividing_1e9_stay_at_or_below_rate),
		cmocka_unit_test(test_rate_1_survives_huge_idle_gaps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
