/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Per-backend circuit breaker. (The rise/fall of active health checks is in health.c.)
 *
 * Circuit breaker (struct sl_circuit), configured per backend by
 *
 *   "circuit": {"failure_threshold": 5,   consecutive failures that open it (closed)
 *               "success_threshold": 3,   trial successes that close it (half-open)
 *               "call_timeout_ms": 5000,  a call that took longer is a failure
 *               "open_ms": 30000,         time open before trials are let through
 *               "half_open_max": 1}       concurrent trial calls while half-open
 *
 *   CLOSED    --failure_threshold consecutive failures-->  OPEN
 *   OPEN      --open_ms elapsed (admit, tick, health)-->   HALF_OPEN
 *   HALF_OPEN --success_threshold successes-->             CLOSED
 *   HALF_OPEN --one failure-->                             OPEN (open_ms starts again)
 *   any       --sl_circuit_reset-->                        CLOSED
 *
 * Threads: every function but init/fini/set_cb may be called from any thread at
 * once (the agent's main thread for health results and the tick, L7 workers for
 * admit/done). Admission while closed, refusal while open, and a success while
 * closed with no failure counted take no lock (atomics only); everything else
 * takes the breaker's own mutex, so each transition happens exactly once.
 *
 * Reporting: each transition calls the breaker's callback exactly once, with the
 * mutex held, so the calls for one breaker arrive in transition order (seq 1, 2,
 * 3, ...) even when the transitions were caused on different threads. The
 * callback must be short and must not call back into the same breaker (queue an
 * event, write the kernel flag). Suggested kernel flag: set SL_BE_OPEN when
 * `to` is OPEN, clear it otherwise (half-open trials are gated here, in user space).
 *
 * Tickets: every admitted call gets a ticket and must be finished with exactly
 * one sl_circuit_done (SL_CALL_ABANDONED when no outcome is known, e.g. the
 * client left), or a half-open trial slot stays taken. The outcome of a call
 * admitted before the latest transition is ignored: a late result from before
 * the breaker opened neither counts as a trial nor frees a trial slot.
 */
#ifndef SLUICE_AGENT_CIRCUIT_H
#define SLUICE_AGENT_CIRCUIT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

enum sl_circuit_state {
	SL_CIRCUIT_CLOSED = 0,	  /* all calls admitted */
	SL_CIRCUIT_OPEN = 1,	  /* no calls until open_ms has elapsed */
	SL_CIRCUIT_HALF_OPEN = 2, /* at most half_open_max trial calls at once */
};

/* Why a transition happened (the rule that fired). */
enum sl_circuit_reason {
	SL_CIRCUIT_R_FAILURES = 0,	/* closed: failure_threshold consecutive failures */
	SL_CIRCUIT_R_TIMER = 1,		/* open: open_ms elapsed */
	SL_CIRCUIT_R_TRIAL_FAILURE = 2, /* half-open: a trial call or health check failed */
	SL_CIRCUIT_R_SUCCESSES = 3,	/* half-open: success_threshold successes */
	SL_CIRCUIT_R_RESET = 4,		/* sl_circuit_reset (operator) */
};

enum sl_call_outcome {
	SL_CALL_SUCCESS = 0,
	SL_CALL_FAILURE = 1,   /* connect error, 5xx, longer than call_timeout_ms */
	SL_CALL_ABANDONED = 2, /* no verdict: frees a trial slot, counts nothing */
};

struct sl_circuit_conf {
	uint32_t failure_threshold; /* >= 1; default 5 */
	uint32_t success_threshold; /* >= 1; default 3 */
	uint32_t call_timeout_ms;   /* >= 1; default 5000 */
	uint32_t open_ms;	    /* >= 1; default 30000 */
	uint32_t half_open_max;	    /* >= 1; default 1 */
};

struct sl_circuit_change {
	enum sl_circuit_state from, to;
	enum sl_circuit_reason reason;
	uint32_t seq;	/* this breaker's transition number, from 1: apply in this order */
	uint64_t at_ms; /* the now_ms of the call that caused it */
};

struct sl_circuit;

/* Called once per transition, with the breaker's mutex held (see above). */
typedef void sl_circuit_cb(void *arg, const struct sl_circuit *c,
			   const struct sl_circuit_change *chg);

/* Proof of admission, handed back to sl_circuit_done. Plain data, copyable. */
struct sl_circuit_ticket {
	uint32_t word;	/* the breaker's state word when admitted */
	uint32_t trial; /* 1: holds a half-open trial slot */
};

/* Embeddable; fields are private (read them with sl_circuit_info). */
struct sl_circuit {
	_Atomic uint32_t word;	      /* seq << 2 | state; changes only under lock */
	_Atomic uint32_t failures;    /* consecutive failures while closed; written under lock */
	_Atomic uint64_t open_until;  /* ms: while open, refuse before this; written under lock */
	pthread_mutex_t lock;
	struct sl_circuit_conf conf;  /* under lock */
	uint32_t successes;	      /* half-open successes; under lock */
	uint32_t trials;	      /* half-open trials in flight; under lock */
	uint64_t since_ms;	      /* when the current state began; under lock */
	sl_circuit_cb *cb;
	void *cb_arg;
};

/* A snapshot for `backend list`. */
struct sl_circuit_info {
	enum sl_circuit_state state;
	uint32_t seq;	     /* transitions so far */
	uint32_t failures;   /* consecutive failures (closed) */
	uint32_t successes;  /* successes toward success_threshold (half-open) */
	uint32_t trials;     /* trial calls in flight (half-open) */
	uint64_t since_ms;   /* when the current state began (0: never changed) */
	uint64_t open_until; /* open: when trials begin; else 0 */
};

/* ---- configuration ---- */

void sl_circuit_conf_default(struct sl_circuit_conf *conf);

/* Parse the "circuit" object at @path (NULL @obj: all defaults). Unknown keys and
 * out-of-range values are refused with a message naming the field and the fix.
 * 0, or -EINVAL/-ERANGE with @err set and *@conf untouched. */
int sl_circuit_conf_from_json(const json_t *obj, const char *path, struct sl_circuit_conf *conf,
			      char *err, size_t errlen);

/* The normalized object, every field present (new reference; NULL on ENOMEM). */
json_t *sl_circuit_conf_to_json(const struct sl_circuit_conf *conf);

/* ---- the breaker ---- */

/* Closed, no failures, seq 0. @cb may be NULL. 0 or a negative errno (mutex). */
int sl_circuit_init(struct sl_circuit *c, const struct sl_circuit_conf *conf, sl_circuit_cb *cb,
		    void *cb_arg);
void sl_circuit_fini(struct sl_circuit *c);

/* New thresholds from the next event on; the state and counts are kept (an open
 * breaker's open_ms is counted again from when it opened). */
void sl_circuit_set_conf(struct sl_circuit *c, const struct sl_circuit_conf *conf);

/* May one call go to this backend now? true fills *@t. Closed: yes. Open: no,
 * unless open_ms has elapsed: then it becomes half-open and this call is a trial.
 * Half-open: yes while fewer than half_open_max trials are in flight. */
bool sl_circuit_admit(struct sl_circuit *c, uint64_t now_ms, struct sl_circuit_ticket *t);

/* Finish an admitted call. Returns the number of transitions it caused (0 or 1). */
int sl_circuit_done(struct sl_circuit *c, const struct sl_circuit_ticket *t,
		    enum sl_call_outcome outcome, uint64_t now_ms);

/* An active health-check result as a breaker signal, without a ticket. First the
 * open_ms timer is applied (as by sl_circuit_tick); then a failure counts like a
 * failed call (closed: one more consecutive failure; half-open: reopens) and a
 * success like a successful call (closed: clears the failures; half-open: one
 * toward success_threshold, taking no trial slot). Ignored while open.
 * Meant for L4 backends, whose checks are the only signal; for an L7 backend pass
 * only failures unless the check is as representative as real calls.
 * Returns the number of transitions (0..2). */
int sl_circuit_health(struct sl_circuit *c, bool ok, uint64_t now_ms);

/* Open and open_ms elapsed: become half-open without waiting for a call. 0 or 1. */
int sl_circuit_tick(struct sl_circuit *c, uint64_t now_ms);

/* Back to closed with no failures (operator `circuit reset`). Tickets of calls in
 * flight from before an actual transition become stale. 0 or 1 transitions. */
int sl_circuit_reset(struct sl_circuit *c, uint64_t now_ms);

enum sl_circuit_state sl_circuit_state(const struct sl_circuit *c);
void sl_circuit_info(struct sl_circuit *c, struct sl_circuit_info *out);

/* How an L7 call ended, as the breaker counts it: a connect error, no valid
 * response head (@status below 100, e.g. 0), a 5xx (or above), or @duration_ms
 * over call_timeout_ms is a failure; 1xx..4xx within the timeout is a success
 * (a 4xx is the client's fault, not the backend's). */
enum sl_call_outcome sl_circuit_classify(const struct sl_circuit_conf *conf, int status,
					 bool connect_error, uint64_t duration_ms);

const char *sl_circuit_state_name(enum sl_circuit_state s);   /* "closed", "open", "half-open" */
const char *sl_circuit_reason_name(enum sl_circuit_reason r); /* "failures", "timer", ... */

#endif
