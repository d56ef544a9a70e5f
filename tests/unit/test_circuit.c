// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The circuit breaker state machine (user/agent/circuit.c): configuration,
 * every transition and its boundary, tickets that outlive a transition, and
 * exact transitions under concurrent callers. (The rise/fall of health checks
 * is tested with the checker, in test_health.c.)
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "../../user/agent/circuit.h"

#define P "vips[0].backends[1].circuit"
#define T0 1000000ull /* an arbitrary monotonic start, ms */

/* ---- transitions seen by the callback ---- */

#define MAX_SEEN 64

struct seen {
	_Atomic unsigned n;  /* transitions reported */
	_Atomic unsigned bad; /* seq not consecutive or from != previous to */
	uint32_t last_seq;
	enum sl_circuit_state last_to;
	struct sl_circuit_change chg[MAX_SEEN];
};

static void on_change(void *arg, const struct sl_circuit *c, const struct sl_circuit_change *chg)
{
	struct seen *s = arg;
	unsigned n = atomic_load(&s->n);

	if (chg->seq != s->last_seq + 1 || chg->from != s->last_to || chg->from == chg->to)
		atomic_fetch_add(&s->bad, 1);
	s->last_seq = chg->seq;
	s->last_to = chg->to;
	if (n < MAX_SEEN)
		s->chg[n] = *chg;
	atomic_store(&s->n, n + 1);
}

static struct sl_circuit_conf conf_of(uint32_t fail, uint32_t succ, uint32_t open_ms,
				      uint32_t half_max)
{
	struct sl_circuit_conf c;

	sl_circuit_conf_default(&c);
	c.failure_threshold = fail;
	c.success_threshold = succ;
	c.open_ms = open_ms;
	c.half_open_max = half_max;
	return c;
}

static void setup(struct sl_circuit *c, struct seen *s, const struct sl_circuit_conf *conf)
{
	memset(s, 0, sizeof(*s));
	ASSERT_EQ(sl_circuit_init(c, conf, on_change, s), 0, "sl_circuit_init");
}

static void expect_change(const struct seen *s, unsigned i, enum sl_circuit_state from,
			  enum sl_circuit_state to, enum sl_circuit_reason why, uint64_t at)
{
	ASSERT_TRUE(atomic_load(&s->n) > i, "transition %u was not reported (%u reported)", i,
		    atomic_load(&s->n));
	ASSERT_EQ(s->chg[i].from, from, "transition %u: from", i);
	ASSERT_EQ(s->chg[i].to, to, "transition %u: to", i);
	ASSERT_EQ(s->chg[i].reason, why, "transition %u: reason", i);
	ASSERT_EQ(s->chg[i].seq, i + 1, "transition %u: seq", i);
	ASSERT_EQ(s->chg[i].at_ms, at, "transition %u: at_ms", i);
	ASSERT_EQ(atomic_load(&s->bad), 0, "out-of-order transitions");
}

/* One call admitted and finished at @now; returns transitions caused, -1 if refused. */
static int call(struct sl_circuit *c, enum sl_call_outcome o, uint64_t now)
{
	struct sl_circuit_ticket t;

	if (!sl_circuit_admit(c, now, &t))
		return -1;
	return sl_circuit_done(c, &t, o, now);
}

/* Drive a fresh breaker to open at @now by failure_threshold failures. */
static void open_it(struct sl_circuit *c, uint64_t now)
{
	while (sl_circuit_state(c) == SL_CIRCUIT_CLOSED)
		ASSERT_TRUE(call(c, SL_CALL_FAILURE, now) >= 0, "closed breaker refused a call");
}

/* ---- configuration ---- */

static int parse(const char *text, struct sl_circuit_conf *out, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr);
	int ret;

	if (!j)
		fail_msg("test JSON does not parse: %s: %s", jerr.text, text);
	err[0] = '\0';
	ret = sl_circuit_conf_from_json(j, P, out, err, errlen);
	json_decref(j);
	return ret;
}

static void test_conf_defaults(void **state)
{
	struct sl_circuit_conf c;
	char err[256];

	memset(&c, 0xff, sizeof(c));
	ASSERT_EQ(sl_circuit_conf_from_json(NULL, P, &c, err, sizeof(err)), 0, "absent object");
	ASSERT_EQ(c.failure_threshold, 5, "failure_threshold");
	ASSERT_EQ(c.success_threshold, 3, "success_threshold");
	ASSERT_EQ(c.call_timeout_ms, 5000, "call_timeout_ms");
	ASSERT_EQ(c.open_ms, 30000, "open_ms");
	ASSERT_EQ(c.half_open_max, 1, "half_open_max");
	memset(&c, 0xff, sizeof(c));
	ASSERT_EQ(parse("{\"open_ms\": 100}", &c, err, sizeof(err)), 0, "partial: %s", err);
	ASSERT_EQ(c.open_ms, 100, "open_ms given");
	ASSERT_EQ(c.failure_threshold, 5, "failure_threshold defaulted");
	ASSERT_EQ(c.half_open_max, 1, "half_open_max defaulted");
}

static void test_conf_reads_every_field(void **state)
{
	struct sl_circuit_conf c;
	char err[256];

	ASSERT_EQ(parse("{\"failure_threshold\": 7, \"success_threshold\": 2, "
			"\"call_timeout_ms\": 1500, \"open_ms\": 250, \"half_open_max\": 4}",
			&c, err, sizeof(err)),
		  0, "parse: %s", err);
	ASSERT_EQ(c.failure_threshold, 7, "failure_threshold");
	ASSERT_EQ(c.success_threshold, 2, "success_threshold");
	ASSERT_EQ(c.call_timeout_ms, 1500, "call_timeout_ms");
	ASSERT_EQ(c.open_ms, 250, "open_ms");
	ASSERT_EQ(c.half_open_max, 4, "half_open_max");
}

static void test_conf_errors_name_the_field_and_fix(void **state)
{
	static const struct {
		const char *json, *want; /* want: a substring of the message */
		int ret;
	} cases[] = {
		{ "{\"failure_threshold\": 0}", P ".failure_threshold: 0 is out of range; use 1..",
		  -ERANGE },
		{ "{\"success_threshold\": 0}", P ".success_threshold: 0 is out of range; use 1..",
		  -ERANGE },
		{ "{\"call_timeout_ms\": 0}", P ".call_timeout_ms: 0 is out of range; use 1..",
		  -ERANGE },
		{ "{\"open_ms\": -5}", P ".open_ms: -5 is out of range; use 1..", -ERANGE },
		{ "{\"half_open_max\": 0}", P ".half_open_max: 0 is out of range; use 1..",
		  -ERANGE },
		{ "{\"open_ms\": 86400001}", P ".open_ms: 86400001 is out of range; use 1..86400000",
		  -ERANGE },
		{ "{\"open_ms\": \"30s\"}", P ".open_ms: must be an integer", -EINVAL },
		{ "{\"open_ms\": 1.5}", P ".open_ms: must be an integer", -EINVAL },
		{ "{\"failure_treshold\": 5}",
		  P ": unknown key \"failure_treshold\"; known keys: failure_threshold, "
		    "success_threshold, call_timeout_ms, open_ms, half_open_max",
		  -EINVAL },
		{ "[5]", P ": must be an object like {\"failure_threshold\": 5", -EINVAL },
		{ "true", P ": must be an object like", -EINVAL },
	};
	struct sl_circuit_conf c, before;
	char err[512];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&c, 0x5a, sizeof(c));
		before = c;
		ASSERT_EQ(parse(cases[i].json, &c, err, sizeof(err)), cases[i].ret, "%s",
			  cases[i].json);
		ASSERT_TRUE(strstr(err, cases[i].want), "%s: message \"%s\" lacks \"%s\"",
			    cases[i].json, err, cases[i].want);
		ASSERT_TRUE(!memcmp(&c, &before, sizeof(c)), "%s: conf written on refusal",
			    cases[i].json);
	}
}

static void test_conf_json_round_trip(void **state)
{
	static const char *const texts[] = {
		"{}",
		"{\"failure_threshold\": 1, \"success_threshold\": 1, \"call_timeout_ms\": 1, "
		"\"open_ms\": 1, \"half_open_max\": 1}",
		"{\"failure_threshold\": 9, \"open_ms\": 86400000, \"half_open_max\": 1000000}",
	};
	struct sl_circuit_conf a, b;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		json_t *j, *k;

		ASSERT_EQ(parse(texts[i], &a, err, sizeof(err)), 0, "%s: %s", texts[i], err);
		j = sl_circuit_conf_to_json(&a);
		ASSERT_TRUE(j, "to_json returned NULL");
		/* normalized: every field present, nothing else */
		ASSERT_EQ(json_object_size(j), 5, "%s: fields in the normalized object", texts[i]);
		ASSERT_EQ(json_integer_value(json_object_get(j, "failure_threshold")),
			  a.failure_threshold, "%s: failure_threshold", texts[i]);
		ASSERT_EQ(json_integer_value(json_object_get(j, "success_threshold")),
			  a.success_threshold, "%s: success_threshold", texts[i]);
		ASSERT_EQ(json_integer_value(json_object_get(j, "call_timeout_ms")),
			  a.call_timeout_ms, "%s: call_timeout_ms", texts[i]);
		ASSERT_EQ(json_integer_value(json_object_get(j, "open_ms")), a.open_ms,
			  "%s: open_ms", texts[i]);
		ASSERT_EQ(json_integer_value(json_object_get(j, "half_open_max")),
			  a.half_open_max, "%s: half_open_max", texts[i]);
		ASSERT_EQ(sl_circuit_conf_from_json(j, P, &b, err, sizeof(err)), 0,
			  "%s: reparse: %s", texts[i], err);
		ASSERT_TRUE(!memcmp(&a, &b, sizeof(a)), "%s: conf changed by the round trip",
			    texts[i]);
		k = sl_circuit_conf_to_json(&b);
		ASSERT_TRUE(json_equal(j, k), "%s: JSON changed by the round trip", texts[i]);
		json_decref(k);
		json_decref(j);
	}
}

/* ---- the breaker, one thread ---- */

static void test_opens_at_exactly_failure_threshold(void **state)
{
	struct sl_circuit_conf conf = conf_of(5, 3, 1000, 1);
	struct sl_circuit c;
	struct seen s;
	int i;

	setup(&c, &s, &conf);
	for (i = 1; i < 5; i++) {
		ASSERT_EQ(call(&c, SL_CALL_FAILURE, T0 + i), 0, "failure %d of 5", i);
		ASSERT_EQ(sl_circuit_state(&c), SL_CIRCUIT_CLOSED, "after %d failures", i);
	}
	ASSERT_EQ(atomic_load(&s.n), 0, "transitions before the threshold");
	ASSERT_EQ(call(&c, SL_CALL_FAILURE, T0 + 5), 1, "failure 5 of 5");
	ASSERT_EQ(sl_circuit_state(&c), SL_CIRCUIT_OPEN, "after 5 failures");
	ASSERT_EQ(atomic_load(&s.n), 1, "transitions reported");
	expect_change(&s, 0, SL_CIRCUIT_CLOSED, SL_CIRCUIT_OPEN, SL_CIRCUIT_R_FAILURES, T0 + 5);
	ASSERT_EQ(call(&c, SL_CALL_SUCCESS, T0 + 6), -1, "an open breaker admitted a call");
	sl_circuit_fini(&c);
}

static void test_success_restarts_failure_count(void **state)
{
	struct sl_circuit_conf conf = conf_of(3, 1, 1000, 1);
	struct sl_circuit c;
	struct seen s;

	setup(&c, &s, &conf);
	call(&c, SL_CALL_FAILURE, T0);
	call(&c, SL_CALL_FAILURE, T0);
	ASSERT_EQ(call(&c, SL_CALL_SUCCESS, T0), 0, "success");
	call(&c, SL_CALL_FAILURE, T0);
	call(&c, SL_CALL_FAILURE, T0);
	ASSERT_EQ(sl_circuit_state(&c), SL_CIRCUIT_CLOSED, "2 + success + 2 failures");
	ASSERT_EQ(call(&c, SL_CALL_FAILURE, T0), 1, "third failure in a row");
	ASSERT_EQ(sl_circuit_state(&c), SL_CIRCUIT_OPEN, "3 failures in a row");
	sl_circuit_fini(&c);
}

static void test_open_refuses_until_open_ms_then_admits_a_trial(void **state)
{
	struct sl_circuit_conf conf = conf_of(1, 2, 1000, 1);
	struct sl_circuit_ticket t;
	struct sl_circuit c;
	struct seen s;

	setup(&c, &s, &conf);
	open_it(&c, T0);
	ASSERT_TRUE(!sl_circuit_admit(&c, T0 + 999, &t), "admitted at open_ms - 1");
	ASSERT_EQ(sl_circuit_state(&c), SL_CIRCUIT_OPEN, "state at open_ms - 1");
	ASSERT_TRUE(sl_circuit_admit(&c, T0 + 1000, &t), "refused at open_ms");
	ASSERT_EQ(t.trial, 1, "the first call after open_ms is a trial");
	ASSERT_EQ(sl_circuit_state(&c), SL_CIRCUIT_HALF_OPEN, "state at open_ms");
	expect_change(&s, 1, SL_CIRCUIT_OPEN, SL_CIRCUIT_HALF_OPEN, SL_CIRCUIT_R_TIMER,
		      T0 + 1000);
	sl_circuit_fini(&c);
}

static void test_half_open_admits_at_most_half_open_max(void **state)
{
	struct sl_circuit_conf conf = conf_of(1, 100, 10, 3);
	struct sl_circuit_ticket t[4];
	struct sl_circuit c;
	struct seen s;
	int i;

	setup(&c, &s, &conf);
	open_it(&c, T0);
	for (i = 0; i < 3; i++)
		ASSERT_TRUE(sl_circuit_admit(&c, T0 + 10, &t[i]), "trial %d of 3 refused", i + 1);
	ASSERT_TRUE(!sl_circuit_admit(&c, T0 + 10, &t[3]), "a 4th concurrent trial admitted");
	ASSERT_EQ(sl_circuit_done(&c, &t[0], SL_CALL_SUCCESS, T0 + 11), 0, "trial 1 succeeds");
	ASSERT_TRUE(sl_circuit_admit(&c, T0 + 11, &t[3]), "a finished trial's slot not freed");
	ASSERT_TRUE(!sl_circuit_admit(&c, T0 + 11, &t[0]), "4 in flight after one finished");
	ASSERT_EQ(sl_circuit_done(&c, &t[1], SL_CALL_ABANDONED, T0 + 12), 0, "abandoned");
	ASSERT_TRUE(sl_circuit_admit(&c, T0 + 12, &t[1]), "an abandoned trial's slot not freed");
	ASSERT_EQ(sl_circuit_state(&c), SL_CIRCUIT_HALF_OPEN, "an abandoned trial counts nothing");
	sl_circuit_fini(&c);
}

static void test_half_open_closes_at_exactly_success_threshold(void **state)
{
	struct sl_circuit_conf conf = conf_of(1, 3, 10, 1);
	struct sl_circuit c;
	struct seen s;
	int i;

	setup(&c, &s, &conf);
	open_it(&c, T0);
	for (i = 1; i < 3; i++) {
		ASSERT_EQ(call(&c, SL_CALL_SUCCESS, T0 + 10 + i), 0, "trial success %d of 3", i);
		ASSERT_EQ(sl_circuit_state(&c), SL_CIRCUIT_HALF_OPEN, "after %d successes", i);
	}
	ASSERT_EQ(call(&c, SL_CALL_SUCCESS, T0 + 20), 1, "trial success 3 of 3");
	ASSERT_EQ(sl_circuit_state(&c), SL_CIRCUIT_CLOSED, "after 3 successes");
	ASSERT_EQ(atomic_load(&s.n), 3, "transitions: opened, half-open, closed");
	expect_change(&s, 2, SL_CIRCUIT_HALF_OPEN, SL_CIRCUIT_CLOSED, SL_CIRCUIT_R_SUCCESSES,
		      T0 + 20);
	sl_circuit_fini(&c);
}

static void test_half_open_failure_reopens_and_restarts_open_ms(void **state)
{
	struct sl_circuit_conf conf = conf_of(1, 3, 100, 1);
	struct sl_circuit_ticket t;
	struct sl_circuit c;
	struct seen s;

	setup(&c, &s, &conf);
	open_it(&c, T0);
	ASSERT_EQ(call(&c, SL_CALL_SUCCESS, T0 + 100), 0, "first trial succeeds");
	ASSERT_EQ(call(&c, SL_CALL_FAILURE, T0 + 150), 1, "second trial fails");
	ASSERT_EQ(sl_circuit_state(&c), SL_CIRCUIT_OPEN, "after a trial failure");
	expect_change(&s, 2, SL_CIRCUIT_HALF_OPEN, SL_CIRCUIT_OPEN, SL_CIRCUIT_R_TRIAL_FAILURE,
		      T0 + 150);
	/* open_ms counts from the reopening, not from the first opening */
	ASSERT_TRUE(!sl_circuit_admit(&c, T0 + 249, &t), "admitted before open_ms since reopening");
	ASSERT_TRUE(sl_circuit_admit(&c, T0 + 250, &t), "refused at open_ms since reopening");
	/* and the earlier trial success was forgotten: 3 more are needed */
	sl_circuit_done(&c, &t, SL_CALL_SUCCESS, T0 + 250);
	call(&c, SL_CALL_SUCCESS, T0 + 251);
	ASSERT_EQ(sl_circuit_state(&c), SL_CIRCUIT_HALF_OPEN, "2 successes after reopening");
	call(&c, SL_CALL_SUCCESS, T0 + 252);
	ASSERT_EQ(sl_circuit_state(&c), SL_CIRCUIT_CLOSED, "3 successes after reopening");
	sl_circuit_fini(&c);
}

static void test_classify_timeouts_5xx_and_connect_errors_as_failures(void **state)
{
	static const struct {
		int status, connect_error;
		uint64_t ms;
		enum sl_call_outcome want;
	} cases[] = {
		{ 200, 0, 5000, SL_CALL_SUCCESS }, /* exactly call_timeout_ms: in time */
		{ 200, 0, 5001, SL_CALL_FAILURE }, /* over it: a timeout */
		{ 404, 0, 1, SL_CALL_SUCCESS },	   /* the client's fault */
		{ 499, 0, 1, SL_CALL_SUCCESS },	   { 101, 0, 1, SL_CALL_SUCCESS },
		{ 500, 0, 1, SL_CALL_FAILURE },	   { 503, 0, 1, SL_CALL_FAILURE },
		{ 599, 0, 1, SL_CALL_FAILURE },	   { 0, 0, 1, SL_CALL_FAILURE }, /* no response */
		{ 99, 0, 1, SL_CALL_FAILURE },	   { 600, 0, 1, SL_CALL_FAILURE },
		{ 0, 1, 1, SL_CALL_FAILURE },	   { 200, 1, 1, SL_CALL_FAILURE },
	};
	struct sl_circuit_conf conf = conf_of(3, 1, 10, 1);
	struct sl_circuit c;
	struct seen s;
	size_t i;
	int j;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ASSERT_EQ(sl_circuit_classify(&conf, cases[i].status, cases[i].connect_error,
					      cases[i].ms),
			  cases[i].want, "status %d, connect error %d, %llu ms (timeout 5000)",
			  cases[i].status, cases[i].connect_error, (unsigned long long)cases[i].ms);
	/* three slow 200s open the breaker like three 5xx would */
	setup(&c, &s, &conf);
	for (j = 0; j < 3; j++)
		call(&c, sl_circuit_classify(&conf, 200, false, 5001), T0);
	ASSERT_EQ(sl_circuit_state(&c), SL_CIRCUIT_OPEN, "after 3 timed-out calls");
	sl_circuit_fini(&c);
}

static void test_ticket_from_before_a_transition_is_ignored(void **state)
{
	struct sl_circuit_conf conf = conf_of(2, 1, 10, 1);
	struct sl_circuit_ticket old_ok, old_bad, trial, t;
	struct sl_circuit c;
	struct seen s;

	setup(&c, &s, &conf);
	ASSERT_TRUE(sl_circuit_admit(&c, T0, &old_ok), "closed refused");
	ASSERT_TRUE(sl_circuit_admit(&c, T0, &old_bad), "closed refused");
	open_it(&c, T0);
	ASSERT_TRUE(sl_circuit_admit(&c, T0 + 10, &trial), "half-open refused the trial");
	/* a success admitted while closed is not a trial success... */
	ASSERT_EQ(sl_circuit_done(&c, &old_ok, SL_CALL_SUCCESS, T0 + 11), 0, "late success");
	ASSERT_EQ(sl_circuit_state(&c), SL_CIRCUIT_HALF_OPEN, "late success closed the breaker");
	/* ...nor does it free the trial's slot */
	ASSERT_TRUE(!sl_circuit_admit(&c, T0 + 11, &t), "late call freed the trial slot");
	/* and a late failure does not reopen it */
	ASSERT_EQ(sl_circuit_done(&c, &old_bad, SL_CALL_FAILURE, T0 + 11), 0, "late failure");
	ASSERT_EQ(sl_circuit_state(&c), SL_CIRCUIT_HALF_OPEN, "late failure reopened");
	ASSERT_EQ(sl_circuit_done(&c, &trial, SL_CALL_SUCCESS, T0 + 12), 1, "trial success");
	ASSERT_EQ(sl_circuit_state(&c), SL_CIRCUIT_CLOSED, "closed by its trial");
	/* a trial ticket finishing after the close counts nothing in the new closed state */
	ASSERT_EQ(sl_circuit_done(&c, &trial, SL_CALL_FAILURE, T0 + 13), 0, "stale trial");
	ASSERT_EQ(call(&c, SL_CALL_FAILURE, T0 + 13), 0, "one fresh failure");
	ASSERT_EQ(sl_circuit_state(&c), SL_CIRCUIT_CLOSED, "stale failure was counted");
	sl_circuit_fini(&c);
}

static void test_reset_closes_and_clears(void **state)
{
	struct sl_circuit_conf conf = conf_of(2, 1, 1000, 1);
	struct sl_circuit_ticket before;
	struct sl_circuit_info info;
	struct sl_circuit c;
	struct seen s;

	setup(&c, &s, &conf);
	call(&c, SL_CALL_FAILURE, T0);
	ASSERT_EQ(sl_circuit_reset(&c, T0), 0, "reset while closed is no transition");
	ASSERT_EQ(atomic_load(&s.n), 0, "reset while closed reported a transition");
	call(&c, SL_CALL_FAILURE, T0);
	ASSERT_EQ(sl_circuit_state(&c), SL_CIRCUIT_CLOSED, "reset did not clear the failures");
	ASSERT_TRUE(sl_circuit_admit(&c, T0, &before), "closed refused");
	call(&c, SL_CALL_FAILURE, T0);
	ASSERT_EQ(sl_circuit_state(&c), SL_CIRCUIT_OPEN, "two failures");
	ASSERT_EQ(sl_circuit_reset(&c, T0 + 5), 1, "reset while open");
	ASSERT_EQ(sl_circuit_state(&c), SL_CIRCUIT_CLOSED, "after reset");
	expect_change(&s, 1, SL_CIRCUIT_OPEN, SL_CIRCUIT_CLOSED, SL_CIRCUIT_R_RESET, T0 + 5);
	sl_circuit_info(&c, &info);
	ASSERT_EQ(info.failures, 0, "failures after reset");
	ASSERT_EQ(info.open_until, 0, "open_until after reset");
	/* a call admitted before the reset does not count after it */
	ASSERT_EQ(sl_circuit_done(&c, &before, SL_CALL_FAILURE, T0 + 6), 0, "pre-reset failure");
	ASSERT_EQ(call(&c, SL_CALL_FAILURE, T0 + 6), 0, "first failure after reset");
	ASSERT_EQ(sl_circuit_state(&c), SL_CIRCUIT_CLOSED, "pre-reset failure counted");
	/* from half-open too */
	call(&c, SL_CALL_FAILURE, T0 + 6);
	ASSERT_EQ(sl_circuit_tick(&c, T0 + 1006), 1, "tick at open_ms");
	ASSERT_EQ(sl_circuit_reset(&c, T0 + 1007), 1, "reset while half-open");
	expect_change(&s, 4, SL_CIRCUIT_HALF_OPEN, SL_CIRCUIT_CLOSED, SL_CIRCUIT_R_RESET,
		      T0 + 1007);
	sl_circuit_fini(&c);
}

static void test_tick_half_opens_without_traffic(void **state)
{
	struct sl_circuit_conf conf = conf_of(1, 1, 500, 1);
	struct sl_circuit c;
	struct seen s;

	setup(&c, &s, &conf);
	ASSERT_EQ(sl_circuit_tick(&c, T0), 0, "tick while closed");
	open_it(&c, T0);
	ASSERT_EQ(sl_circuit_tick(&c, T0 + 499), 0, "tick before open_ms");
	ASSERT_EQ(sl_circuit_state(&c), SL_CIRCUIT_OPEN, "state before open_ms");
	ASSERT_EQ(sl_circuit_tick(&c, T0 + 500), 1, "tick at open_ms");
	ASSERT_EQ(sl_circuit_state(&c), SL_CIRCUIT_HALF_OPEN, "state at open_ms");
	ASSERT_EQ(sl_circuit_tick(&c, T0 + 501), 0, "a second tick");
	ASSERT_EQ(atomic_load(&s.n), 2, "transitions: opened, half-open");
	expect_change(&s, 1, SL_CIRCUIT_OPEN, SL_CIRCUIT_HALF_OPEN, SL_CIRCUIT_R_TIMER, T0 + 500);
	sl_circuit_fini(&c);
}

static void test_health_checks_drive_an_l4_breaker(void **state)
{
	struct sl_circuit_conf conf = conf_of(3, 2, 1000, 1);
	struct sl_circuit_ticket t;
	struct sl_circuit c;
	struct seen s;

	setup(&c, &s, &conf);
	sl_circuit_health(&c, false, T0);
	sl_circuit_health(&c, false, T0);
	sl_circuit_health(&c, true, T0);
	sl_circuit_health(&c, false, T0);
	sl_circuit_health(&c, false, T0);
	ASSERT_EQ(sl_circuit_state(&c), SL_CIRCUIT_CLOSED, "a passing check clears the failures");
	ASSERT_EQ(sl_circuit_health(&c, false, T0), 1, "third failed check in a row");
	ASSERT_EQ(sl_circuit_state(&c), SL_CIRCUIT_OPEN, "after 3 failed checks");
	/* while open, checks change nothing */
	ASSERT_EQ(sl_circuit_health(&c, true, T0 + 999), 0, "passing check while open");
	ASSERT_EQ(sl_circuit_health(&c, false, T0 + 999), 0, "failed check while open");
	ASSERT_EQ(sl_circuit_state(&c), SL_CIRCUIT_OPEN, "state before open_ms");
	/* after open_ms a check half-opens it and counts as its first success */
	ASSERT_EQ(sl_circuit_health(&c, true, T0 + 1000), 1, "passing check at open_ms");
	ASSERT_EQ(sl_circuit_state(&c), SL_CIRCUIT_HALF_OPEN, "state at open_ms");
	/* a check takes no trial slot */
	ASSERT_TRUE(sl_circuit_admit(&c, T0 + 1001, &t), "checks took the trial slot");
	sl_circuit_done(&c, &t, SL_CALL_ABANDONED, T0 + 1001);
	ASSERT_EQ(sl_circuit_health(&c, false, T0 + 1002), 1, "failed check while half-open");
	ASSERT_EQ(sl_circuit_state(&c), SL_CIRCUIT_OPEN, "a failed check reopens");
	ASSERT_EQ(sl_circuit_health(&c, true, T0 + 2002), 1, "check at open_ms again");
	ASSERT_EQ(sl_circuit_health(&c, true, T0 + 2003), 1, "second passing check");
	ASSERT_EQ(sl_circuit_state(&c), SL_CIRCUIT_CLOSED, "2 passing checks close it");
	/* one call: open -> half-open -> open (timer, then the failure) */
	open_it(&c, T0 + 3000);
	ASSERT_EQ(sl_circuit_health(&c, false, T0 + 4000), 2, "failed check at open_ms");
	ASSERT_EQ(sl_circuit_state(&c), SL_CIRCUIT_OPEN, "reopened by the same check");
	ASSERT_EQ(atomic_load(&s.bad), 0, "out-of-order transitions");
	sl_circuit_fini(&c);
}

static void test_set_conf_applies_to_an_open_breaker(void **state)
{
	struct sl_circuit_conf conf = conf_of(1, 1, 1000, 1);
	struct sl_circuit_ticket t;
	struct sl_circuit c;
	struct seen s;

	setup(&c, &s, &conf);
	open_it(&c, T0);
	conf.open_ms = 100;
	sl_circuit_set_conf(&c, &conf);
	ASSERT_TRUE(!sl_circuit_admit(&c, T0 + 99, &t), "admitted before the new open_ms");
	ASSERT_TRUE(sl_circuit_admit(&c, T0 + 100, &t), "refused at the new open_ms");
	sl_circuit_fini(&c);
}

/* ---- the breaker, many threads ---- */

#define THREADS 8

struct race {
	struct sl_circuit c;
	struct seen s;
	pthread_barrier_t go, done;
	_Atomic int in_flight, max_in_flight, admitted, transitions, stop;
	struct sl_circuit_ticket ticket[THREADS];
	enum sl_call_outcome outcome;
	int mixed; /* odd threads report a failure instead */
	int rounds;
};

static void *flood_thread(void *arg)
{
	struct race *r = arg;
	struct sl_circuit_ticket t;
	int i, n, m;

	while (!atomic_load(&r->stop)) {
		if (!sl_circuit_admit(&r->c, T0 + 10, &t)) {
			sched_yield();
			continue;
		}
		n = atomic_fetch_add(&r->in_flight, 1) + 1;
		m = atomic_load(&r->max_in_flight);
		while (n > m && !atomic_compare_exchange_weak(&r->max_in_flight, &m, n))
			;
		atomic_fetch_add(&r->admitted, 1);
		for (i = 0; i < 3; i++) /* hold the slot a moment */
			sched_yield();
		atomic_fetch_sub(&r->in_flight, 1);
		sl_circuit_done(&r->c, &t, SL_CALL_SUCCESS, T0 + 10);
	}
	return NULL;
}

static void test_half_open_limit_holds_under_threads(void **state)
{
	struct sl_circuit_conf conf = conf_of(1, 1000000, 10, 3);
	struct race *r = calloc(1, sizeof(*r));
	pthread_t th[THREADS];
	int i;

	ASSERT_TRUE(r, "calloc");
	setup(&r->c, &r->s, &conf);
	open_it(&r->c, T0);
	for (i = 0; i < THREADS; i++)
		ASSERT_EQ(pthread_create(&th[i], NULL, flood_thread, r), 0, "pthread_create");
	while (atomic_load(&r->admitted) < 1000)
		sched_yield();
	atomic_store(&r->stop, 1);
	for (i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	ASSERT_LE(atomic_load(&r->max_in_flight), 3, "trials in flight at once (half_open_max 3)");
	ASSERT_EQ(atomic_load(&r->max_in_flight), 3, "the limit was never reached: a weak test");
	ASSERT_EQ(sl_circuit_state(&r->c), SL_CIRCUIT_HALF_OPEN, "state");
	ASSERT_EQ(atomic_load(&r->s.n), 2, "transitions: opened, half-open");
	sl_circuit_fini(&r->c);
	free(r);
}

struct finisher {
	struct race *r;
	int id;
};

/* Each round, THREADS callers finish their ticket at the same moment. */
static void *finish_thread(void *arg)
{
	struct finisher *f = arg;
	struct race *r = f->r;
	int id = f->id, i;

	for (i = 0; i < r->rounds; i++) {
		pthread_barrier_wait(&r->go);
		atomic_fetch_add(&r->transitions,
				 sl_circuit_done(&r->c, &r->ticket[id],
						 r->mixed && id % 2 ? SL_CALL_FAILURE : r->outcome,
						 T0 + 10));
		pthread_barrier_wait(&r->done);
	}
	return NULL;
}

/* Rounds of THREADS concurrent outcomes from @from; each round must make exactly one
 * transition to @to (mixed: half successes, half failures, to whichever comes first,
 * and the outcomes that lost count nothing in the new state). */
static void race_rounds(enum sl_circuit_state from, enum sl_call_outcome o,
			enum sl_circuit_state to, int mixed)
{
	/* closed: 2 failures open it; half-open: 2 successes close it, 1 failure opens it */
	struct sl_circuit_conf conf = conf_of(2, 2, 10, THREADS);
	struct race *r = calloc(1, sizeof(*r));
	struct finisher f[THREADS];
	pthread_t th[THREADS];
	int i, k, closed = 0;

	ASSERT_TRUE(r, "calloc");
	r->rounds = 2000;
	r->outcome = o;
	r->mixed = mixed;
	ASSERT_EQ(pthread_barrier_init(&r->go, NULL, THREADS + 1), 0, "barrier");
	ASSERT_EQ(pthread_barrier_init(&r->done, NULL, THREADS + 1), 0, "barrier");
	setup(&r->c, &r->s, &conf);
	for (i = 0; i < THREADS; i++) {
		f[i] = (struct finisher){ .r = r, .id = i };
		ASSERT_EQ(pthread_create(&th[i], NULL, finish_thread, &f[i]), 0, "pthread_create");
	}
	for (i = 0; i < r->rounds; i++) {
		unsigned n0;

		sl_circuit_reset(&r->c, T0);
		if (from == SL_CIRCUIT_HALF_OPEN) {
			open_it(&r->c, T0);
			sl_circuit_tick(&r->c, T0 + 10);
		}
		for (k = 0; k < THREADS; k++)
			ASSERT_TRUE(sl_circuit_admit(&r->c, T0 + 10, &r->ticket[k]),
				    "round %d: call %d refused", i, k);
		n0 = atomic_load(&r->s.n);
		atomic_store(&r->transitions, 0);
		pthread_barrier_wait(&r->go);
		pthread_barrier_wait(&r->done);
		ASSERT_EQ(atomic_load(&r->s.n) - n0, 1, "round %d: transitions reported", i);
		ASSERT_EQ(atomic_load(&r->transitions), 1, "round %d: transitions returned", i);
		if (!mixed) {
			ASSERT_EQ(sl_circuit_state(&r->c), to, "round %d: state", i);
		} else {
			struct sl_circuit_info info;

			sl_circuit_info(&r->c, &info);
			ASSERT_EQ(info.failures, 0, "round %d: late failures counted after closing",
				  i);
			closed += info.state == SL_CIRCUIT_CLOSED;
		}
	}
	if (mixed)
		ASSERT_TRUE(closed > 0 && closed < r->rounds,
			    "closed in %d of %d rounds: the race was never (or always) won by "
			    "successes, a weak test",
			    closed, r->rounds);
	for (i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	ASSERT_EQ(atomic_load(&r->s.bad), 0, "out-of-order transitions");
	pthread_barrier_destroy(&r->go);
	pthread_barrier_destroy(&r->done);
	sl_circuit_fini(&r->c);
	free(r);
}

static void test_concurrent_last_successes_close_once(void **state)
{
	race_rounds(SL_CIRCUIT_HALF_OPEN, SL_CALL_SUCCESS, SL_CIRCUIT_CLOSED, 0);
}

static void test_concurrent_trial_failures_reopen_once(void **state)
{
	race_rounds(SL_CIRCUIT_HALF_OPEN, SL_CALL_FAILURE, SL_CIRCUIT_OPEN, 0);
}

static void test_concurrent_mixed_trials_make_one_transition(void **state)
{
	race_rounds(SL_CIRCUIT_HALF_OPEN, SL_CALL_SUCCESS, SL_CIRCUIT_CLOSED, 1);
}

static void test_concurrent_failures_open_once(void **state)
{
	race_rounds(SL_CIRCUIT_CLOSED, SL_CALL_FAILURE, SL_CIRCUIT_OPEN, 0);
}

/* Random callers, a clock and the tick at once: the transitions reported form one
 * chain (consecutive seq, each from the previous to), and trials stay within the limit. */
struct mix {
	struct sl_circuit c;
	struct seen s;
	_Atomic uint64_t clock;
	_Atomic int max_trials, stop, calls;
	_Atomic int trials[1 << 16]; /* trials in flight per half-open period (by seq) */
};

static void *mix_thread(void *arg)
{
	struct mix *m = arg;
	__u32 rng = 0x9e3779b9u ^ (__u32)(uintptr_t)&rng;
	struct sl_circuit_ticket t;
	int n, mx;

	while (!atomic_load(&m->stop)) {
		uint64_t now = atomic_load(&m->clock);
		__u32 x = rng_next(&rng);

		if (!sl_circuit_admit(&m->c, now, &t)) {
			sched_yield();
			continue;
		}
		if (t.trial) {
			_Atomic int *in = &m->trials[(t.word >> 2) & 0xffff];

			n = atomic_fetch_add(in, 1) + 1;
			mx = atomic_load(&m->max_trials);
			while (n > mx && !atomic_compare_exchange_weak(&m->max_trials, &mx, n))
				;
			sched_yield();
			atomic_fetch_sub(in, 1);
		}
		atomic_fetch_add(&m->calls, 1);
		sl_circuit_done(&m->c, &t,
				x % 10 < 3 ? SL_CALL_FAILURE :
				x % 10 < 9 ? SL_CALL_SUCCESS : SL_CALL_ABANDONED,
				atomic_load(&m->clock));
	}
	return NULL;
}

static void test_stress_transitions_form_one_chain(void **state)
{
	struct sl_circuit_conf conf = conf_of(3, 2, 5, 2);
	struct mix *m = calloc(1, sizeof(*m));
	pthread_t th[THREADS];
	struct sl_circuit_info info;
	int i;

	ASSERT_TRUE(m, "calloc");
	setup(&m->c, &m->s, &conf);
	atomic_store(&m->clock, T0);
	for (i = 0; i < THREADS; i++)
		ASSERT_EQ(pthread_create(&th[i], NULL, mix_thread, m), 0, "pthread_create");
	for (i = 0; i < 3000; i++) {
		atomic_fetch_add(&m->clock, 1);
		sl_circuit_tick(&m->c, atomic_load(&m->clock));
		if (i % 7 == 0)
			sl_circuit_health(&m->c, i % 3, atomic_load(&m->clock));
		if (i % 1000 == 999)
			sl_circuit_reset(&m->c, atomic_load(&m->clock));
		sched_yield();
	}
	atomic_store(&m->stop, 1);
	for (i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	sl_circuit_info(&m->c, &info);
	ASSERT_EQ(atomic_load(&m->s.bad), 0, "transitions out of order or repeated");
	ASSERT_EQ(info.seq, atomic_load(&m->s.n), "seq vs transitions reported");
	ASSERT_TRUE(atomic_load(&m->s.n) > 10, "only %u transitions: a weak test",
		    atomic_load(&m->s.n));
	ASSERT_LE(atomic_load(&m->max_trials), 2, "trials of one half-open period in flight at once (half_open_max 2)");
	ASSERT_EQ(info.trials, 0, "trial slots still taken after every call finished");
	sl_circuit_fini(&m->c);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conf_defaults),
		cmocka_unit_test(test_conf_reads_every_field),
		cmocka_unit_test(test_conf_errors_name_the_field_and_fix),
		cmocka_unit_test(test_conf_json_round_trip),
		cmocka_unit_test(test_opens_at_exactly_failure_threshold),
		cmocka_unit_test(test_success_restarts_failure_count),
		cmocka_unit_test(test_open_refuses_until_open_ms_then_admits_a_trial),
		cmocka_unit_test(test_half_open_admits_at_most_half_open_max),
		cmocka_unit_test(test_half_open_closes_at_exactly_success_threshold),
		cmocka_unit_test(test_half_open_failure_reopens_and_restarts_open_ms),
		cmocka_unit_test(test_classify_timeouts_5xx_and_connect_errors_as_failures),
		cmocka_unit_test(test_ticket_from_before_a_transition_is_ignored),
		cmocka_unit_test(test_reset_closes_and_clears),
		cmocka_unit_test(test_tick_half_opens_without_traffic),
		cmocka_unit_test(test_health_checks_drive_an_l4_breaker),
		cmocka_unit_test(test_set_conf_applies_to_an_open_breaker),
		cmocka_unit_test(test_half_open_limit_holds_under_threads),
		cmocka_unit_test(test_concurrent_last_successes_close_once),
		cmocka_unit_test(test_concurrent_trial_failures_reopen_once),
		cmocka_unit_test(test_concurrent_mixed_trials_make_one_transition),
		cmocka_unit_test(test_concurrent_failures_open_once),
		cmocka_unit_test(test_stress_transitions_form_one_chain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
