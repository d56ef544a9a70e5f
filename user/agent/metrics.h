/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * /metrics: the stats snapshot JSON (the shape of `/stats` and the `stats`
 * RPC, see docs/observability.md) rendered as Prometheus text exposition
 * format 0.0.4, and the histogram quantile the snapshot's latency_ms uses.
 *
 * Every family is printed with its HELP and TYPE lines, in a fixed order, even
 * when it has no samples (a snapshot without L7 VIPs still lists the L7
 * families), so a scrape always names the same families. Optional parts of the
 * snapshot that are absent (a backend without a breaker, unchecked backends,
 * no l7, no _splice, a null value) produce no samples. Rates and latency_ms
 * are not rendered: Prometheus computes them from the counters and buckets.
 *
 * Pure functions of their arguments; safe from any thread.
 */
#ifndef SLUICED_METRICS_H
#define SLUICED_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/*
 * The text for @snap: malloc'd, NUL-terminated, its length (without the NUL)
 * in @len when @len is not NULL. NULL with errno ENOMEM when out of memory,
 * EINVAL when @snap is not an object. Fields of the wrong type are skipped.
 */
char *sl_metrics_render(const json_t *snap, size_t *len);

/*
 * The @q quantile (0..1) of a histogram with Prometheus' histogram_quantile()
 * semantics: the rank q * count falls in the first bucket whose cumulative
 * count reaches it, and the value is interpolated linearly inside that bucket,
 * the first bucket starting at 0. A rank in the +Inf bucket returns the
 * highest finite bound. NAN when the histogram is empty or malformed,
 * -INFINITY for q < 0 and +INFINITY for q > 1 (as Prometheus). For q == 0 the
 * lower bound of the first non-empty bucket (Prometheus gives NaN when the
 * first bucket is empty).
 *
 * @b: @n bucket counts, NOT cumulative, the last one the +Inf bucket;
 * @le: the n - 1 finite upper bounds, ascending. n >= 2.
 */
double sl_hist_quantile_arr(const uint64_t *b, const double *le, int n, double q);
/* The same over the snapshot's JSON: @buckets (n integers, not cumulative, the
 * last one +Inf) and @le (the n - 1 bounds of "latency_le"); NAN when the
 * sizes do not match. */
double sl_hist_quantile(const json_t *buckets, const json_t *le, double q);

#endif
