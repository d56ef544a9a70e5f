/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The agent's circuit breakers: one struct sl_circuit per backend slot, made
 * once and never freed while sluiced runs, so L7 workers can use a slot's
 * breaker while the main thread reconfigures it. Transitions (reported by
 * the breakers on whatever thread caused them) are queued here and handed
 * to the main thread through an eventfd, which writes the kernel flag
 * (SL_BE_OPEN) and the event.
 */
#ifndef SLUICE_AGENT_BREAKERS_H
#define SLUICE_AGENT_BREAKERS_H

#include <stdbool.h>
#include <stdint.h>

#include "circuit.h"

struct sl_breakers;

struct sl_breakers *sl_breakers_new(void);
void sl_breakers_free(struct sl_breakers *b);
/* Readable when transitions wait for sl_breakers_drain(). */
int sl_breakers_fd(const struct sl_breakers *b);

/*
 * Slot @slot gets a breaker with @conf, or none (NULL: it is also reset, so a
 * backend that later takes the slot starts closed). A new @conf for a slot
 * that has a breaker keeps its state and counts.
 */
void sl_breakers_set(struct sl_breakers *b, uint32_t slot, const struct sl_circuit_conf *conf);
/* Is there a breaker on @slot; its state and counts. */
bool sl_breakers_info(struct sl_breakers *b, uint32_t slot, struct sl_circuit_info *out);
/* Close it again (operator). Returns false when @slot has no breaker. */
bool sl_breakers_reset(struct sl_breakers *b, uint32_t slot);
/* A health-check result for the breaker: a failure always counts; a pass only
 * with @count_passes. (The agent reports falls only: see sl_state_health_change.) */
void sl_breakers_health(struct sl_breakers *b, uint32_t slot, bool ok, bool count_passes);
/* Once a second: open breakers whose open_ms has passed become half-open. */
void sl_breakers_tick(struct sl_breakers *b);

/*
 * Any thread (L7 workers): may a call go to @slot now? Fills an opaque
 * @ticket to hand back to sl_breakers_done() exactly once. No breaker:
 * always true.
 */
bool sl_breakers_admit(struct sl_breakers *b, uint32_t slot, uint64_t *ticket);
/*
 * The call ended: @status is the HTTP status (0 when there was no verdict: the
 * client left), @connect_error a connect failure or a backend that closed
 * before answering, @ms its duration (compared with call_timeout_ms).
 */
void sl_breakers_done(struct sl_breakers *b, uint32_t slot, uint64_t ticket, int status,
		      bool connect_error, uint32_t ms);

/* Main thread: hand every queued transition to @fn, in order per breaker. */
typedef void (*sl_breakers_fn)(void *ctx, uint32_t slot, const struct sl_circuit_change *chg);
int sl_breakers_drain(struct sl_breakers *b, sl_breakers_fn fn, void *ctx);

#endif
