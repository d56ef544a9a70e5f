/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Rates and percentiles for /stats and `sluicectl stats`: each snapshot asked
 * for is kept for SL_OBS_KEEP seconds, and a new one is compared with the
 * newest kept one at least SL_OBS_MIN_WINDOW old. Nothing runs in between, so
 * an agent nobody watches does no work for it.
 */
#ifndef SLUICED_OBS_H
#define SLUICED_OBS_H

#include <jansson.h>

#define SL_OBS_KEEP 10.0
#define SL_OBS_MIN_WINDOW 0.5

struct sl_obs;

struct sl_obs *sl_obs_new(void);
void sl_obs_free(struct sl_obs *o);

/*
 * Add "window", per-object "rates", "drop_rates" and per-L7-VIP "latency_ms"
 * to @snap (sl_state_snapshot's totals, taken at monotonic time @mono) and
 * keep a reference to it. Without an old enough sample they are null.
 */
void sl_obs_add(struct sl_obs *o, json_t *snap, double mono);

/* CLOCK_MONOTONIC in seconds. */
double sl_obs_mono(void);

#endif
