// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Rates and percentiles between snapshots (user/agent/obs.c): no window on
 * the first sample, per-second rates over the window from the newest kept
 * sample old enough, a counter that went down (a backend re-added) as rate
 * 0, backends matched by address and port, p50/p95/p99 from the difference
 * of the latency histograms of every route, and samples forgotten after
 * SL_OBS_KEEP seconds.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "../../user/agent/obs.h"

#define NB 15

static const double le[NB - 1] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
				   0.1,	   0.25,  0.5,	  1,	 2.5,  5,    10 };

/* A snapshot: VIP "web" with @pk packets and backend 198.18.2.2:80 with
 * @bpk; L7 VIP "api" with @req requests, @e5 5xx, and @n10ms requests in the
 * le 0.01 bucket of route "r1" plus @n1s in the le 1 bucket of "_unrouted". */
static json_t *snap(long pk, long bpk, long req, long e5, long n10ms, long n1s)
{
	json_t *lea = json_array(), *b1 = json_array(), *b2 = json_array();
	int i;

	for (i = 0; i < NB - 1; i++)
		json_array_append_new(lea, json_real(le[i]));
	for (i = 0; i < NB; i++) {
		json_array_append_new(b1, json_integer(i == 4 ? n10ms : 0));
		json_array_append_new(b2, json_integer(i == 10 ? n1s : 0));
	}
	return json_pack(
		"{s:o, s:[{s:s, s:I, s:I, s:I, s:[{s:s, s:i, s:I, s:I, s:I}]}], s:{s:I, s:I},"
		" s:{s:{s:I, s:I, s:{s:{s:{s:o, s:f}}, s:{s:{s:o, s:f}}}}}}",
		"latency_le", lea, "vips", "name", "web", "packets", (json_int_t)pk, "bytes",
		(json_int_t)(pk * 100), "new_flows", (json_int_t)0, "backends", "address",
		"198.18.2.2", "port", 80, "packets", (json_int_t)bpk, "bytes", (json_int_t)0,
		"new_flows", (json_int_t)0, "drops", "fragment", (json_int_t)pk, "rl_conn",
		(json_int_t)0, "l7", "api", "requests", (json_int_t)req, "status_5xx",
		(json_int_t)e5, "routes", "r1", "latency", "buckets", b1, "sum", 0.0, "_unrouted",
		"latency", "buckets", b2, "sum", 0.0);
}

static double rate_of(const json_t *o, const char *k)
{
	const json_t *r = json_object_get(o, "rates");

	return json_is_object(r) ? json_number_value(json_object_get(r, k)) : -1;
}

static void first_sample_has_no_window(void **state)
{
	struct sl_obs *o = sl_obs_new();
	json_t *s = snap(10, 5, 0, 0, 0, 0);

	(void)state;
	sl_obs_add(o, s, 100.0);
	ASSERT_TRUE(json_is_null(json_object_get(s, "window")), "window is null");
	ASSERT_TRUE(json_is_null(json_object_get(json_array_get(json_object_get(s, "vips"), 0),
						 "rates")),
		    "a VIP's rates are null");
	ASSERT_TRUE(json_is_null(json_object_get(s, "drop_rates")), "drop rates are null");
	ASSERT_TRUE(json_is_null(json_object_get(json_object_get(json_object_get(s, "l7"), "api"),
						 "latency_ms")),
		    "latency is null");
	json_decref(s);
	sl_obs_free(o);
}

static void rates_per_second_over_the_window(void **state)
{
	struct sl_obs *o = sl_obs_new();
	json_t *a = snap(10, 5, 100, 0, 0, 0), *b = snap(30, 15, 140, 4, 0, 0), *v, *api;

	(void)state;
	sl_obs_add(o, a, 100.0);
	sl_obs_add(o, b, 102.0);
	ASSERT_TRUE(fabs(json_real_value(json_object_get(b, "window")) - 2.0) < 1e-9, "window 2 s");
	v = json_array_get(json_object_get(b, "vips"), 0);
	ASSERT_TRUE(fabs(rate_of(v, "packets") - 10.0) < 1e-9, "20 packets in 2 s: %f",
		    rate_of(v, "packets"));
	ASSERT_TRUE(fabs(rate_of(v, "bytes") - 1000.0) < 1e-9, "bytes/s");
	ASSERT_TRUE(fabs(rate_of(json_array_get(json_object_get(v, "backends"), 0), "packets") -
			 5.0) < 1e-9,
		    "the backend's 10 packets in 2 s");
	ASSERT_TRUE(fabs(json_number_value(json_object_get(json_object_get(b, "drop_rates"),
							   "fragment")) -
			 10.0) < 1e-9,
		    "drop rate by reason");
	api = json_object_get(json_object_get(b, "l7"), "api");
	ASSERT_TRUE(fabs(rate_of(api, "requests") - 20.0) < 1e-9, "requests/s");
	ASSERT_TRUE(fabs(rate_of(api, "errors") - 2.0) < 1e-9, "5xx/s");
	ASSERT_TRUE(json_is_null(json_object_get(api, "latency_ms")),
		    "no request finished in the window: latency null");
	json_decref(a);
	json_decref(b);
	sl_obs_free(o);
}

static void too_recent_a_sample_is_not_a_window(void **state)
{
	struct sl_obs *o = sl_obs_new();
	json_t *a = snap(0, 0, 0, 0, 0, 0), *b = snap(10, 0, 0, 0, 0, 0), *c = snap(40, 0, 0, 0, 0, 0);

	(void)state;
	sl_obs_add(o, a, 100.0);
	sl_obs_add(o, b, 101.0);
	sl_obs_add(o, c, 101.2); /* b is only 0.2 s old: compared with a */
	ASSERT_TRUE(fabs(json_real_value(json_object_get(c, "window")) - 1.2) < 1e-9,
		    "window from the newest sample at least %.1f s old", SL_OBS_MIN_WINDOW);
	json_decref(a);
	json_decref(b);
	json_decref(c);
	sl_obs_free(o);
}

static void a_counter_that_went_down_is_rate_zero(void **state)
{
	struct sl_obs *o = sl_obs_new();
	json_t *a = snap(50, 40, 0, 0, 0, 0), *b = snap(60, 3, 0, 0, 0, 0), *v;

	(void)state;
	sl_obs_add(o, a, 100.0);
	sl_obs_add(o, b, 101.0);
	v = json_array_get(json_object_get(b, "vips"), 0);
	ASSERT_TRUE(rate_of(json_array_get(json_object_get(v, "backends"), 0), "packets") == 0.0,
		    "a re-added backend's counter restarted: rate 0, never negative");
	json_decref(a);
	json_decref(b);
	sl_obs_free(o);
}

static void percentiles_from_every_route_in_the_window(void **state)
{
	struct sl_obs *o = sl_obs_new();
	/* before: 1000 old requests at 1 s, which must not count */
	json_t *a = snap(0, 0, 1000, 0, 0, 1000), *b = snap(0, 0, 1100, 0, 99, 1001);
	const json_t *lat;
	double p50, p99;

	(void)state;
	sl_obs_add(o, a, 100.0);
	sl_obs_add(o, b, 101.0);
	lat = json_object_get(json_object_get(json_object_get(b, "l7"), "api"), "latency_ms");
	ASSERT_TRUE(json_is_object(lat), "latency computed");
	p50 = json_number_value(json_object_get(lat, "p50"));
	p99 = json_number_value(json_object_get(lat, "p99"));
	/* 99 in (5 ms, 10 ms], 1 in (0.5 s, 1 s]: p50 interpolated in the first */
	ASSERT_TRUE(p50 > 5.0 && p50 <= 10.0, "p50 in the 5..10 ms bucket: %f", p50);
	ASSERT_TRUE(fabs(p99 - 10.0) < 1e-6, "p99 at the top of the 10 ms bucket: %f", p99);
	json_decref(a);
	json_decref(b);
	sl_obs_free(o);
}

static void old_samples_are_forgotten(void **state)
{
	struct sl_obs *o = sl_obs_new();
	json_t *a = snap(0, 0, 0, 0, 0, 0), *b = snap(10, 0, 0, 0, 0, 0);

	(void)state;
	sl_obs_add(o, a, 100.0);
	sl_obs_add(o, b, 100.0 + SL_OBS_KEEP + 1);
	ASSERT_TRUE(json_is_null(json_object_get(b, "window")),
		    "a sample older than %.0f s gives no window", SL_OBS_KEEP);
	json_decref(a);
	json_decref(b);
	sl_obs_free(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(first_sample_has_no_window),
		cmocka_unit_test(rates_per_second_over_the_window),
		cmocka_unit_test(too_recent_a_sample_is_not_a_window),
		cmocka_unit_test(a_counter_that_went_down_is_rate_zero),
		cmocka_unit_test(percentiles_from_every_route_in_the_window),
		cmocka_unit_test(old_samples_are_forgotten),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
