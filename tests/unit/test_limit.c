// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Request limits (user/proxy/limit.c): token bucket, sliding window, the bounded key table. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "../../user/proxy/limit.h"

#define P "vips[0].l7.routes[0].limit"
#define MS 1000000ULL
#define SEC 1000000000ULL
#define T0 (1000 * SEC) /* an arbitrary monotonic start */

static struct sl_limit *limit_of(const char *text, char *err, size_t errlen)
{
	json_error_t jerr;
	struct sl_limit *l;
	json_t *j = json_loads(text, 0, &jerr);

	if (!j)
		fail_msg("test JSON does not parse: %s: %s", jerr.text, text);
	err[0] = '\0';
	l = sl_limit_from_json(j, P, err, errlen);
	json_decref(j);
	return l;
}

static struct sl_limit *must_limit(const char *text)
{
	char err[512];
	struct sl_limit *l = limit_of(text, err, sizeof(err));

	if (!l)
		fail_msg("limit refused: %s\n  config: %s", err, text);
	return l;
}

static void must_refuse(const char *text, const char *want)
{
	char err[512];
	struct sl_limit *l = limit_of(text, err, sizeof(err));

	if (l) {
		sl_limit_free(l);
		fail_msg("limit accepted, expected an error containing '%s'\n  config: %s", want,
			 text);
	}
	if (!strstr(err, want))
		fail_msg("error '%s' does not contain '%s'", err, want);
}

static struct sl_limit_verdict charge(struct sl_limit *l, const char *key, uint64_t now)
{
	struct sl_limit_verdict v;

	sl_limit_check(l, key, strlen(key), now, &v);
	return v;
}

/* Charge @n requests at @now; how many were admitted. */
static unsigned charge_n(struct sl_limit *l, const char *key, uint64_t now, unsigned n)
{
	unsigned ok = 0;

	while (n--)
		ok += charge(l, key, now).allowed;
	return ok;
}

/* ---- token bucket ---- */

static void test_bucket_admits_burst_then_refuses(void **state)
{
	struct sl_limit *l = must_limit("{\"rate\": 2, \"per_ms\": 1000, \"burst\": 5}");
	struct sl_limit_verdict v;
	unsigned i;

	for (i = 0; i < 5; i++) {
		v = charge(l, "a", T0);
		ASSERT_TRUE(v.allowed, "request %u of the burst refused", i);
		ASSERT_EQ(v.remaining, 4 - i, "remaining after request %u", i);
		ASSERT_EQ(v.limit, 5, "limit");
	}
	v = charge(l, "a", T0);
	ASSERT_TRUE(!v.allowed, "request 6 admitted beyond the burst");
	ASSERT_EQ(v.remaining, 0, "remaining when refused");
	sl_limit_free(l);
}

static void test_bucket_burst_defaults_to_rate(void **state)
{
	struct sl_limit *l = must_limit("{\"rate\": 3}");

	ASSERT_EQ(charge_n(l, "a", T0, 10), 3, "admitted at once");
	sl_limit_free(l);
}

static void test_bucket_refills_at_rate(void **state)
{
	struct sl_limit *l = must_limit("{\"rate\": 10, \"per_ms\": 1000}");

	ASSERT_EQ(charge_n(l, "a", T0, 20), 10, "first burst");
	ASSERT_EQ(charge_n(l, "a", T0 + 99 * MS, 5), 0, "before one interval");
	ASSERT_EQ(charge_n(l, "a", T0 + 100 * MS, 5), 1, "after one interval (100 ms)");
	ASSERT_EQ(charge_n(l, "a", T0 + 350 * MS, 5), 2, "after 350 ms more or less");
	ASSERT_EQ(charge_n(l, "a", T0 + 10 * SEC, 20), 10, "refilled, never past the burst");
	sl_limit_free(l);
}

static void test_bucket_retry_after_and_reset(void **state)
{
	/* one token per 10 s, two in the bucket */
	struct sl_limit *l = must_limit("{\"rate\": 1, \"per_ms\": 10000, \"burst\": 2}");
	struct sl_limit_verdict v;

	v = charge(l, "a", T0);
	ASSERT_TRUE(v.allowed && v.remaining == 1, "first: allowed %d remaining %u", v.allowed,
		    v.remaining);
	ASSERT_EQ(v.reset_s, 10, "reset after one");
	charge(l, "a", T0);
	v = charge(l, "a", T0);
	ASSERT_TRUE(!v.allowed, "third admitted");
	ASSERT_EQ(v.retry_after_s, 10, "retry-after at 0 s");
	ASSERT_EQ(v.reset_s, 20, "reset at 0 s");
	v = charge(l, "a", T0 + 2500 * MS);
	ASSERT_EQ(v.retry_after_s, 8, "retry-after at 2.5 s (7.5 s rounded up)");
	ASSERT_EQ(v.reset_s, 18, "reset at 2.5 s (17.5 s rounded up)");
	v = charge(l, "a", T0 + 9999 * MS);
	ASSERT_EQ(v.retry_after_s, 1, "retry-after 1 ms before a token (never 0)");
	v = charge(l, "a", T0 + 10 * SEC);
	ASSERT_TRUE(v.allowed, "refused when the token is back");
	sl_limit_free(l);
}

static void test_keys_are_independent(void **state)
{
	struct sl_limit *l = must_limit("{\"rate\": 2}");

	ASSERT_EQ(charge_n(l, "a", T0, 5), 2, "key a");
	ASSERT_EQ(charge_n(l, "b", T0, 5), 2, "key b after a is spent");
	ASSERT_EQ(charge_n(l, "ab", T0, 5), 2, "key ab");
	ASSERT_EQ(charge_n(l, "", T0, 5), 2, "the empty key");
	sl_limit_free(l);
}

static void test_long_keys_are_distinguished(void **state)
{
	struct sl_limit *l = must_limit("{\"rate\": 1}");
	char a[400], b[400];

	memset(a, 'x', sizeof(a) - 1);
	a[sizeof(a) - 1] = '\0';
	memcpy(b, a, sizeof(b));
	b[sizeof(b) - 2] = 'y'; /* differ only past the stored prefix */
	ASSERT_EQ(charge_n(l, a, T0, 3), 1, "key a");
	ASSERT_EQ(charge_n(l, b, T0, 3), 1, "key b");
	sl_limit_free(l);
}

/* ---- sliding window ---- */

static void test_window_boundary_keeps_previous_weight(void **state)
{
	/* 10 per 100 s: all 10 at 90 s; at 100 s the previous window still counts whole */
	struct sl_limit *l = must_limit("{\"algorithm\": \"sliding_window\", \"rate\": 10,"
					" \"per_ms\": 100000}");
	uint64_t base = 1000 * 100 * SEC; /* a window start */

	ASSERT_EQ(charge_n(l, "a", base + 90 * SEC, 15), 10, "window 0");
	ASSERT_EQ(charge_n(l, "a", base + 100 * SEC, 3), 0, "start of window 1");
	ASSERT_EQ(charge_n(l, "a", base + 150 * SEC, 10), 5, "half way: previous counts half");
	ASSERT_EQ(charge_n(l, "a", base + 160 * SEC, 10), 1, "at 60%: one more");
	ASSERT_EQ(charge_n(l, "a", base + 400 * SEC, 20), 10, "two windows later: whole");
	sl_limit_free(l);
}

static void test_window_retry_after(void **state)
{
	struct sl_limit *l = must_limit("{\"algorithm\": \"sliding_window\", \"rate\": 10,"
					" \"per_ms\": 100000}");
	uint64_t base = 1000 * 100 * SEC;
	struct sl_limit_verdict v;

	charge_n(l, "a", base + 90 * SEC, 10);
	v = charge(l, "a", base + 90 * SEC);
	ASSERT_TRUE(!v.allowed, "11th admitted");
	/* the next window starts in 10 s; 10 * (1 - t) <= 9 from t = 10 s into it */
	ASSERT_EQ(v.retry_after_s, 20, "retry-after with a full current window");
	ASSERT_EQ(v.limit, 10, "limit");
	ASSERT_EQ(v.remaining, 0, "remaining");
	ASSERT_EQ(v.reset_s, 110, "reset: the end of the next window");
	charge_n(l, "a", base + 150 * SEC, 5);
	v = charge(l, "a", base + 150 * SEC);
	ASSERT_TRUE(!v.allowed, "admitted past the estimate");
	/* 10 * (1 - t) + 5 <= 9 from t = 60 s */
	ASSERT_EQ(v.retry_after_s, 10, "retry-after within the window");
	ASSERT_TRUE(!charge(l, "a", base + 159 * SEC).allowed, "admitted before retry-after");
	ASSERT_TRUE(charge(l, "a", base + 160 * SEC).allowed, "refused at retry-after");
	sl_limit_free(l);
}

/* ---- the key table ---- */

static void test_table_is_bounded(void **state)
{
	struct sl_limit *l = must_limit("{\"rate\": 1, \"max_keys\": 8}");
	char key[32];
	unsigned i;

	for (i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "198.18.%u.%u", i / 256, i % 256);
		charge(l, key, T0);
		ASSERT_LE(sl_limit_keys(l), 8, "keys after %u clients", i + 1);
	}
	ASSERT_EQ(sl_limit_keys(l), 8, "keys at the end");
	sl_limit_free(l);

	l = must_limit("{\"rate\": 1, \"max_keys\": 65536}");
	for (i = 0; i < 70000; i++) {
		snprintf(key, sizeof(key), "k%u", i);
		charge(l, key, T0);
	}
	ASSERT_EQ(sl_limit_keys(l), 65536, "keys of a sharded table at the end");
	sl_limit_free(l);
}

static void test_table_forgets_least_recently_used(void **state)
{
	struct sl_limit *l = must_limit("{\"rate\": 1, \"per_ms\": 1000000, \"max_keys\": 4}");

	charge(l, "k0", T0);
	charge(l, "k1", T0);
	charge(l, "k2", T0);
	charge(l, "k3", T0);
	ASSERT_TRUE(!charge(l, "k0", T0).allowed, "k0 admitted twice"); /* k0 most recent */
	charge(l, "k4", T0);
	charge(l, "k5", T0);
	charge(l, "k6", T0); /* forget k1, k2, k3 */
	ASSERT_TRUE(!charge(l, "k0", T0).allowed, "recently used k0 was forgotten");
	ASSERT_TRUE(charge(l, "k1", T0).allowed, "least recently used k1 was remembered");
	sl_limit_free(l);
}

/* ---- threads ---- */

struct race {
	struct sl_limit *l;
	_Atomic uint64_t clock;
	_Atomic unsigned admitted;
};

#define RACE_THREADS 4
#define RACE_ITERS 20000
#define RACE_STEP_NS 1000ULL

static void *race_thread(void *arg)
{
	struct race *r = arg;
	struct sl_limit_verdict v;
	unsigned i, ok = 0;

	for (i = 0; i < RACE_ITERS; i++) {
		uint64_t now = atomic_fetch_add(&r->clock, RACE_STEP_NS);

		sl_limit_check(r->l, "one", 3, now, &v);
		ok += v.allowed;
	}
	atomic_fetch_add(&r->admitted, ok);
	return NULL;
}

static void test_threads_never_admit_more_than_burst_plus_rate(void **state)
{
	/*
	 * One token per 2 us, burst 50, and the threads' clock steps 1 us a call over
	 * 80 ms: at most 50 + 40000, with half the calls admitted so that a lost
	 * update would show.
	 */
	struct race r = { .l = must_limit("{\"rate\": 500000, \"per_ms\": 1000, \"burst\": 50}"),
			  .clock = T0 };
	pthread_t t[RACE_THREADS];
	uint64_t elapsed;
	unsigned i;

	for (i = 0; i < RACE_THREADS; i++)
		ASSERT_EQ(pthread_create(&t[i], NULL, race_thread, &r), 0, "pthread_create");
	for (i = 0; i < RACE_THREADS; i++)
		pthread_join(t[i], NULL);
	elapsed = atomic_load(&r.clock) - T0;
	ASSERT_EQ(elapsed, RACE_THREADS * RACE_ITERS * RACE_STEP_NS, "clock");
	ASSERT_LE(atomic_load(&r.admitted), 50 + 500000 * elapsed / SEC, "admitted");
	/* and the limit is not simply refusing everything */
	ASSERT_TRUE(atomic_load(&r.admitted) >= 50 + 1000, "admitted only %u",
		    atomic_load(&r.admitted));
	sl_limit_free(r.l);
}

/* ---- headers and configuration ---- */

static void test_headers_format(void **state)
{
	struct sl_limit_verdict ok = { .allowed = true, .limit = 10, .remaining = 3, .reset_s = 7 };
	struct sl_limit_verdict no = { .allowed = false, .limit = 10, .remaining = 0, .reset_s = 9,
				       .retry_after_s = 2 };
	char out[256];
	int n;

	n = sl_limit_headers(&ok, out, sizeof(out));
	ASSERT_EQ(n, strlen(out), "length returned");
	ASSERT_TRUE(!strcmp(out, "RateLimit-Limit: 10\r\nRateLimit-Remaining: 3\r\n"
				 "RateLimit-Reset: 7\r\n"),
		    "allowed: %s", out);
	n = sl_limit_headers(&no, out, sizeof(out));
	ASSERT_TRUE(n > 0 && !strcmp(out, "RateLimit-Limit: 10\r\nRateLimit-Remaining: 0\r\n"
					  "RateLimit-Reset: 9\r\nRetry-After: 2\r\n"),
		    "refused: %s", out);
	ASSERT_EQ(sl_limit_headers(&no, out, 20), -1, "too small");
}

static void test_config_errors_name_fields(void **state)
{
	must_refuse("[]", P ": must be an object");
	must_refuse("{\"rate\": 1, \"burts\": 2}", P ": unknown key \"burts\"");
	must_refuse("{\"per_ms\": 1000}", P ".rate: required");
	must_refuse("{\"rate\": 0}", P ".rate: 0 is out of range");
	must_refuse("{\"rate\": \"10\"}", P ".rate: must be an integer");
	must_refuse("{\"rate\": 1, \"per_ms\": 0}", P ".per_ms: 0 is out of range");
	must_refuse("{\"rate\": 1, \"max_keys\": 0}", P ".max_keys: 0 is out of range");
	must_refuse("{\"rate\": 1, \"key\": \"ip\"}", P ".key: must be \"client\" or \"subject\"");
	must_refuse("{\"rate\": 1, \"algorithm\": \"leaky\"}", P ".algorithm: must be");
	must_refuse("{\"rate\": 1, \"algorithm\": \"sliding_window\", \"burst\": 2}",
		    P ".burst: only for \"token_bucket\"");
}

static void test_to_json_fills_defaults(void **state)
{
	struct sl_limit *l = must_limit("{\"rate\": 7, \"key\": \"subject\"}");
	json_t *j = sl_limit_to_json(l);
	json_t *w = json_loads("{\"key\": \"subject\", \"algorithm\": \"token_bucket\", \"rate\": 7,"
			       " \"per_ms\": 1000, \"burst\": 7, \"max_keys\": 65536}",
			       0, NULL);
	char *s = json_dumps(j, 0);

	ASSERT_TRUE(json_equal(j, w), "to_json: %s", s);
	ASSERT_EQ(sl_limit_keyed_by(l), SL_LIMIT_BY_SUBJECT, "keyed by");
	free(s);
	json_decref(w);
	json_decref(j);
	sl_limit_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_admits_burst_then_refuses),
		cmocka_unit_test(test_bucket_burst_defaults_to_rate),
		cmocka_unit_test(test_bucket_refills_at_rate),
		cmocka_unit_test(test_bucket_retry_after_and_reset),
		cmocka_unit_test(test_keys_are_independent),
		cmocka_unit_test(test_long_keys_are_distinguished),
		cmocka_unit_test(test_window_boundary_keeps_previous_weight),
		cmocka_unit_test(test_window_retry_after),
		cmocka_unit_test(test_table_is_bounded),
		cmocka_unit_test(test_table_forgets_least_recently_used),
		cmocka_unit_test(test_threads_never_admit_more_than_burst_plus_rate),
		cmocka_unit_test(test_headers_format),
		cmocka_unit_test(test_config_errors_name_fields),
		cmocka_unit_test(test_to_json_fills_defaults),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
