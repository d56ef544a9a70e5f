// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Rates and percentiles between two snapshots (obs.h). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "obs.h"
#include "metrics.h"

#define KEEP_MAX 32

struct sample {
	double mono;
	json_t *snap;
};

struct sl_obs {
	struct sample s[KEEP_MAX];
	int n; /* oldest first */
};

double sl_obs_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct sl_obs *sl_obs_new(void)
{
	return calloc(1, sizeof(struct sl_obs));
}

void sl_obs_free(struct sl_obs *o)
{
	int i;

	if (!o)
		return;
	for (i = 0; i < o->n; i++)
		json_decref(o->s[i].snap);
	free(o);
}

static double num(const json_t *o, const char *k)
{
	return json_number_value(json_object_get(o, k));
}

/* max(0, new - old) / w: a counter that went down (a backend re-added) is a 0 rate. */
static json_t *rate(const json_t *cur, const json_t *old, const char *k, double w)
{
	double d = num(cur, k) - num(old, k);

	return json_real(d > 0 ? d / w : 0.0);
}

static json_t *rates3(const json_t *cur, const json_t *old, double w)
{
	if (!old)
		return json_null();
	return json_pack("{s:o, s:o, s:o}", "packets", rate(cur, old, "packets", w), "bytes",
			 rate(cur, old, "bytes", w), "new_flows", rate(cur, old, "new_flows", w));
}

static const json_t *find_named(const json_t *arr, const char *name)
{
	size_t i;
	json_t *x;

	json_array_foreach(arr, i, x)
		if (!strcmp(json_string_value(json_object_get(x, "name")) ?: "", name))
			return x;
	return NULL;
}

static const json_t *find_backend(const json_t *arr, const json_t *b)
{
	const char *a = json_string_value(json_object_get(b, "address"));
	json_int_t port = json_integer_value(json_object_get(b, "port"));
	size_t i;
	json_t *x;

	json_array_foreach(arr, i, x)
		if (!strcmp(json_string_value(json_object_get(x, "address")) ?: "", a ?: "") &&
		    json_integer_value(json_object_get(x, "port")) == port)
			return x;
	return NULL;
}

/* Add the latency deltas of every route of @cur (against @old) into @d. */
static void latency_delta(const json_t *cur, const json_t *old, uint64_t *d, int n)
{
	const json_t *rc = json_object_get(cur, "routes"), *ro = json_object_get(old, "routes");
	const char *name;
	json_t *r;

	json_object_foreach((json_t *)rc, name, r) {
		const json_t *bc = json_object_get(json_object_get(r, "latency"), "buckets");
		const json_t *bo = json_object_get(
			json_object_get(json_object_get(ro, name), "latency"), "buckets");
		int i;

		for (i = 0; i < n && i < (int)json_array_size(bc); i++) {
			json_int_t v = json_integer_value(json_array_get(bc, i)) -
				       json_integer_value(json_array_get(bo, i));

			d[i] += v > 0 ? (uint64_t)v : 0;
		}
	}
}

static void l7_rates(json_t *l7, const json_t *ol7, const json_t *le, double w)
{
	double lev[32];
	uint64_t d[33];
	int n = (int)json_array_size(le) + 1, i;
	const char *name;
	json_t *v;

	if (n > 33)
		n = 33;
	for (i = 0; i < n - 1; i++)
		lev[i] = json_number_value(json_array_get(le, i));
	json_object_foreach(l7, name, v) {
		const json_t *ov = ol7 ? json_object_get(ol7, name) : NULL;
		double p50, p95, p99;

		if (name[0] == '_')
			continue;
		if (!ov) {
			json_object_set_new(v, "rates", json_null());
			json_object_set_new(v, "latency_ms", json_null());
			continue;
		}
		json_object_set_new(v, "rates",
				    json_pack("{s:o, s:o}", "requests", rate(v, ov, "requests", w),
					      "errors", rate(v, ov, "status_5xx", w)));
		memset(d, 0, sizeof(d));
		latency_delta(v, ov, d, n);
		p50 = sl_hist_quantile_arr(d, lev, n, 0.50);
		p95 = sl_hist_quantile_arr(d, lev, n, 0.95);
		p99 = sl_hist_quantile_arr(d, lev, n, 0.99);
		json_object_set_new(v, "latency_ms",
				    isnan(p50) ? json_null()
					       : json_pack("{s:f, s:f, s:f}", "p50", p50 * 1e3, "p95",
							   p95 * 1e3, "p99", p99 * 1e3));
	}
}

void sl_obs_add(struct sl_obs *o, json_t *snap, double mono)
{
	const json_t *old = NULL, *ovips = NULL;
	double w = 0;
	json_t *vips = json_object_get(snap, "vips"), *v, *dr;
	const char *k;
	size_t i, j;
	int x;

	/* forget samples too old to use */
	while (o->n && mono - o->s[0].mono > SL_OBS_KEEP) {
		json_decref(o->s[0].snap);
		memmove(o->s, o->s + 1, (size_t)--o->n * sizeof(o->s[0]));
	}
	for (x = o->n - 1; x >= 0; x--)
		if (mono - o->s[x].mono >= SL_OBS_MIN_WINDOW) {
			old = o->s[x].snap;
			w = mono - o->s[x].mono;
			break;
		}
	ovips = old ? json_object_get(old, "vips") : NULL;
	json_object_set_new(snap, "window", old ? json_real(w) : json_null());
	json_array_foreach(vips, i, v) {
		const json_t *ov = old ? find_named(ovips, json_string_value(json_object_get(v, "name")))
				       : NULL;
		json_t *b;

		json_object_set_new(v, "rates", rates3(v, ov, w));
		json_array_foreach(json_object_get(v, "backends"), j, b)
			json_object_set_new(
				b, "rates",
				rates3(b, ov ? find_backend(json_object_get(ov, "backends"), b) : NULL,
				       w));
	}
	if (old) {
		const json_t *od = json_object_get(old, "drops");
		json_t *d;

		dr = json_object();
		json_object_foreach(json_object_get(snap, "drops"), k, d)
			json_object_set_new(dr, k, rate(json_object_get(snap, "drops"), od, k, w));
	} else {
		dr = json_null();
	}
	json_object_set_new(snap, "drop_rates", dr);
	if (json_object_get(snap, "l7"))
		l7_rates(json_object_get(snap, "l7"), old ? json_object_get(old, "l7") : NULL,
			 json_object_get(snap, "latency_le"), w);
	/* keep it; a full ring drops its oldest */
	if (o->n == KEEP_MAX) {
		json_decref(o->s[0].snap);
		memmove(o->s, o->s + 1, (size_t)--o->n * sizeof(o->s[0]));
	}
	o->s[o->n].mono = mono;
	o->s[o->n].snap = json_incref(snap);
	o->n++;
}
