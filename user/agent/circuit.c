// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Circuit breaker (circuit.h). The state word (seq << 2 | state)
 * is what makes the lock-free paths safe: it changes on every transition and
 * only under the mutex, so a ticket that still matches it was issued in the
 * current state, and a reader that sees the same word before and after reading
 * open_until saw one consistent open period.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "circuit.h"
#include "../proxy/cfg.h"

#define STATE_MASK 3u
#define MAX_MS 86400000u /* one day */
#define MAX_COUNT 1000000u

static inline enum sl_circuit_state state_of(uint32_t w)
{
	return (enum sl_circuit_state)(w & STATE_MASK);
}

void sl_circuit_conf_default(struct sl_circuit_conf *conf)
{
	conf->failure_threshold = 5;
	conf->success_threshold = 3;
	conf->call_timeout_ms = 5000;
	conf->open_ms = 30000;
	conf->half_open_max = 1;
}

int sl_circuit_conf_from_json(const json_t *obj, const char *path, struct sl_circuit_conf *conf,
			      char *err, size_t errlen)
{
	static const char *const known[] = { "failure_threshold", "success_threshold",
					     "call_timeout_ms", "open_ms", "half_open_max" };
	struct sl_circuit_conf c;
	int ret;

	sl_circuit_conf_default(&c);
	if (!obj)
		goto out;
	if (!json_is_object(obj)) {
		snprintf(err, errlen,
			 "%s: must be an object like {\"failure_threshold\": 5, "
			 "\"success_threshold\": 3, \"call_timeout_ms\": 5000, "
			 "\"open_ms\": 30000, \"half_open_max\": 1}",
			 path);
		return -EINVAL;
	}
	ret = sl_cfg_keys(obj, known, sizeof(known) / sizeof(known[0]), path, err, errlen);
	if (!ret)
		ret = sl_cfg_u32(obj, "failure_threshold", 1, MAX_COUNT, &c.failure_threshold,
				 path, err, errlen);
	if (!ret)
		ret = sl_cfg_u32(obj, "success_threshold", 1, MAX_COUNT, &c.success_threshold,
				 path, err, errlen);
	if (!ret)
		ret = sl_cfg_u32(obj, "call_timeout_ms", 1, MAX_MS, &c.call_timeout_ms, path, err,
				 errlen);
	if (!ret)
		ret = sl_cfg_u32(obj, "open_ms", 1, MAX_MS, &c.open_ms, path, err, errlen);
	if (!ret)
		ret = sl_cfg_u32(obj, "half_open_max", 1, MAX_COUNT, &c.half_open_max, path, err,
				 errlen);
	if (ret)
		return ret;
out:
	*conf = c;
	return 0;
}

json_t *sl_circuit_conf_to_json(const struct sl_circuit_conf *conf)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I}", "failure_threshold",
			 (json_int_t)conf->failure_threshold, "success_threshold",
			 (json_int_t)conf->success_threshold, "call_timeout_ms",
			 (json_int_t)conf->call_timeout_ms, "open_ms", (json_int_t)conf->open_ms,
			 "half_open_max", (json_int_t)conf->half_open_max);
}

int sl_circuit_init(struct sl_circuit *c, const struct sl_circuit_conf *conf, sl_circuit_cb *cb,
		    void *cb_arg)
{
	int ret;

	memset(c, 0, sizeof(*c));
	ret = pthread_mutex_init(&c->lock, NULL);
	if (ret)
		return -ret;
	atomic_init(&c->word, SL_CIRCUIT_CLOSED);
	atomic_init(&c->failures, 0);
	atomic_init(&c->open_until, 0);
	c->conf = *conf;
	c->cb = cb;
	c->cb_arg = cb_arg;
	return 0;
}

void sl_circuit_fini(struct sl_circuit *c)
{
	if (c)
		pthread_mutex_destroy(&c->lock);
}

static uint64_t add_ms(uint64_t now, uint32_t ms)
{
	return now > UINT64_MAX - ms ? UINT64_MAX : now + ms;
}

/* Under the lock: enter @to, clear the counts, report. */
static void go(struct sl_circuit *c, enum sl_circuit_state to, enum sl_circuit_reason why,
	       uint64_t now)
{
	uint32_t w = atomic_load(&c->word);
	struct sl_circuit_change chg = {
		.from = state_of(w),
		.to = to,
		.reason = why,
		.seq = ((w >> 2) + 1) & (UINT32_MAX >> 2),
		.at_ms = now,
	};

	atomic_store(&c->failures, 0);
	c->successes = 0;
	c->trials = 0;
	c->since_ms = now;
	/* open_until before the word: a reader that sees the new word sees it too */
	atomic_store(&c->open_until, to == SL_CIRCUIT_OPEN ? add_ms(now, c->conf.open_ms) : 0);
	atomic_store(&c->word, chg.seq << 2 | to);
	if (c->cb)
		c->cb(c->cb_arg, c, &chg);
}

/* Under the lock: open and open_ms elapsed -> half-open. Transitions made. */
static int apply_timer(struct sl_circuit *c, uint64_t now)
{
	if (state_of(atomic_load(&c->word)) != SL_CIRCUIT_OPEN ||
	    now < atomic_load(&c->open_until))
		return 0;
	go(c, SL_CIRCUIT_HALF_OPEN, SL_CIRCUIT_R_TIMER, now);
	return 1;
}

/* Under the lock: one failure (of the current state's calls or a health check). */
static int count_failure(struct sl_circuit *c, uint64_t now)
{
	uint32_t f;

	switch (state_of(atomic_load(&c->word))) {
	case SL_CIRCUIT_CLOSED:
		f = atomic_load(&c->failures) + 1;
		atomic_store(&c->failures, f);
		if (f < c->conf.failure_threshold)
			return 0;
		go(c, SL_CIRCUIT_OPEN, SL_CIRCUIT_R_FAILURES, now);
		return 1;
	case SL_CIRCUIT_HALF_OPEN:
		go(c, SL_CIRCUIT_OPEN, SL_CIRCUIT_R_TRIAL_FAILURE, now);
		return 1;
	default:
		return 0;
	}
}

/* Under the lock: one success. */
static int count_success(struct sl_circuit *c, uint64_t now)
{
	switch (state_of(atomic_load(&c->word))) {
	case SL_CIRCUIT_CLOSED:
		atomic_store(&c->failures, 0);
		return 0;
	case SL_CIRCUIT_HALF_OPEN:
		if (++c->successes < c->conf.success_threshold)
			return 0;
		go(c, SL_CIRCUIT_CLOSED, SL_CIRCUIT_R_SUCCESSES, now);
		return 1;
	default:
		return 0;
	}
}

void sl_circuit_set_conf(struct sl_circuit *c, const struct sl_circuit_conf *conf)
{
	pthread_mutex_lock(&c->lock);
	c->conf = *conf;
	if (state_of(atomic_load(&c->word)) == SL_CIRCUIT_OPEN)
		atomic_store(&c->open_until, add_ms(c->since_ms, conf->open_ms));
	pthread_mutex_unlock(&c->lock);
}

bool sl_circuit_admit(struct sl_circuit *c, uint64_t now_ms, struct sl_circuit_ticket *t)
{
	uint32_t w = atomic_load(&c->word);
	bool ok = false;

	if (state_of(w) == SL_CIRCUIT_CLOSED) {
		t->word = w;
		t->trial = 0;
		return true;
	}
	if (state_of(w) == SL_CIRCUIT_OPEN && now_ms < atomic_load(&c->open_until) &&
	    atomic_load(&c->word) == w)
		return false;

	pthread_mutex_lock(&c->lock);
	apply_timer(c, now_ms);
	w = atomic_load(&c->word);
	switch (state_of(w)) {
	case SL_CIRCUIT_CLOSED:
		t->word = w;
		t->trial = 0;
		ok = true;
		break;
	case SL_CIRCUIT_HALF_OPEN:
		if (c->trials >= c->conf.half_open_max)
			break;
		c->trials++;
		t->word = w;
		t->trial = 1;
		ok = true;
		break;
	default:
		break;
	}
	pthread_mutex_unlock(&c->lock);
	return ok;
}

int sl_circuit_done(struct sl_circuit *c, const struct sl_circuit_ticket *t,
		    enum sl_call_outcome outcome, uint64_t now_ms)
{
	uint32_t w = atomic_load(&c->word);
	int n = 0;

	/* stale: the state changed since admission; the word never comes back */
	if (t->word != w)
		return 0;
	if (state_of(w) == SL_CIRCUIT_CLOSED &&
	    (outcome == SL_CALL_ABANDONED ||
	     (outcome == SL_CALL_SUCCESS && !atomic_load(&c->failures))))
		return 0;

	pthread_mutex_lock(&c->lock);
	if (t->word != atomic_load(&c->word))
		goto unlock;
	if (t->trial)
		c->trials--;
	if (outcome == SL_CALL_FAILURE)
		n = count_failure(c, now_ms);
	else if (outcome == SL_CALL_SUCCESS)
		n = count_success(c, now_ms);
unlock:
	pthread_mutex_unlock(&c->lock);
	return n;
}

int sl_circuit_health(struct sl_circuit *c, bool ok, uint64_t now_ms)
{
	int n;

	pthread_mutex_lock(&c->lock);
	n = apply_timer(c, now_ms);
	n += ok ? count_success(c, now_ms) : count_failure(c, now_ms);
	pthread_mutex_unlock(&c->lock);
	return n;
}

int sl_circuit_tick(struct sl_circuit *c, uint64_t now_ms)
{
	uint32_t w = atomic_load(&c->word);
	int n;

	if (state_of(w) != SL_CIRCUIT_OPEN ||
	    (now_ms < atomic_load(&c->open_until) && atomic_load(&c->word) == w))
		return 0;
	pthread_mutex_lock(&c->lock);
	n = apply_timer(c, now_ms);
	pthread_mutex_unlock(&c->lock);
	return n;
}

int sl_circuit_reset(struct sl_circuit *c, uint64_t now_ms)
{
	int n = 0;

	pthread_mutex_lock(&c->lock);
	if (state_of(atomic_load(&c->word)) == SL_CIRCUIT_CLOSED) {
		atomic_store(&c->failures, 0);
	} else {
		go(c, SL_CIRCUIT_CLOSED, SL_CIRCUIT_R_RESET, now_ms);
		n = 1;
	}
	pthread_mutex_unlock(&c->lock);
	return n;
}

enum sl_circuit_state sl_circuit_state(const struct sl_circuit *c)
{
	return state_of(atomic_load(&((struct sl_circuit *)c)->word));
}

void sl_circuit_info(struct sl_circuit *c, struct sl_circuit_info *out)
{
	uint32_t w;

	pthread_mutex_lock(&c->lock);
	w = atomic_load(&c->word);
	out->state = state_of(w);
	out->seq = w >> 2;
	out->failures = atomic_load(&c->failures);
	out->successes = c->successes;
	out->trials = c->trials;
	out->since_ms = c->since_ms;
	out->open_until = atomic_load(&c->open_until);
	pthread_mutex_unlock(&c->lock);
}

enum sl_call_outcome sl_circuit_classify(const struct sl_circuit_conf *conf, int status,
					 bool connect_error, uint64_t duration_ms)
{
	if (connect_error || status < 100 || status >= 500)
		return SL_CALL_FAILURE;
	if (duration_ms > conf->call_timeout_ms)
		return SL_CALL_FAILURE;
	return SL_CALL_SUCCESS;
}

const char *sl_circuit_state_name(enum sl_circuit_state s)
{
	switch (s) {
	case SL_CIRCUIT_CLOSED:
		return "closed";
	case SL_CIRCUIT_OPEN:
		return "open";
	case SL_CIRCUIT_HALF_OPEN:
		return "half-open";
	}
	return "?";
}

const char *sl_circuit_reason_name(enum sl_circuit_reason r)
{
	switch (r) {
	case SL_CIRCUIT_R_FAILURES:
		return "failures";
	case SL_CIRCUIT_R_TIMER:
		return "timer";
	case SL_CIRCUIT_R_TRIAL_FAILURE:
		return "trial_failure";
	case SL_CIRCUIT_R_SUCCESSES:
		return "successes";
	case SL_CIRCUIT_R_RESET:
		return "reset";
	}
	return "?";
}
