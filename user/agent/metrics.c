// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The stats snapshot as Prometheus text format 0.0.4 (metrics.h). Families are
 * written one after the other, each walking the snapshot for its samples, into
 * one growable buffer; values are formatted straight from the JSON numbers,
 * with no allocation per sample, so 1,000 backends render in milliseconds.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

#define LE_MAX 64    /* histogram bounds taken from latency_le */
#define NUM_LEN 40   /* a formatted value */
#define LABELS_MAX 4 /* labels of a sample, "le" included */

/* The output: on ENOMEM it stops growing and remembers. */
struct sb {
	char *p;
	size_t len;
	size_t cap;
	int oom;
};

struct labels {
	const char *k[LABELS_MAX];
	const char *v[LABELS_MAX];
	int n;
};

#define L1(k1, v1) (&(struct labels){ .k = { k1 }, .v = { v1 }, .n = 1 })
#define L2(k1, v1, k2, v2) (&(struct labels){ .k = { k1, k2 }, .v = { v1, v2 }, .n = 2 })
#define L3(k1, v1, k2, v2, k3, v3) \
	(&(struct labels){ .k = { k1, k2, k3 }, .v = { v1, v2, v3 }, .n = 3 })

struct ctx {
	struct sb b;
	const json_t *snap;
	const json_t *vips;
	const json_t *l7;
	char le[LE_MAX][NUM_LEN]; /* "0.0005", "1", "2.5" */
	int nle;
};

static int sb_reserve(struct sb *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->oom)
		return -1;
	if (b->len + n + 1 <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 16384;
	while (cap < b->len + n + 1)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->oom = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

static void sb_put(struct sb *b, const char *s, size_t n)
{
	if (sb_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void sb_puts(struct sb *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

/* A label value: backslash, double quote and newline escaped. */
static void sb_label_value(struct sb *b, const char *s)
{
	const char *run = s;

	for (; *s; s++) {
		const char *rep = *s == '\\' ? "\\\\" :
				  *s == '"'  ? "\\\"" :
				  *s == '\n' ? "\\n" :
					       NULL;

		if (!rep)
			continue;
		sb_put(b, run, s - run);
		sb_put(b, rep, 2);
		run = s + 1;
	}
	sb_put(b, run, s - run);
}

/* The shortest of %.15g..%.17g that reads back as @d: "0.0005", "1", "2.5". */
static const char *fmt_double(double d, char *buf, size_t len)
{
	int prec;

	if (isnan(d))
		return "NaN";
	if (isinf(d))
		return d > 0 ? "+Inf" : "-Inf";
	for (prec = 15; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	return buf;
}

/* The text of a JSON number or boolean; NULL (no sample) for anything else. */
static const char *val_str(const json_t *v, char *buf, size_t len)
{
	if (json_is_integer(v)) {
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf;
	}
	if (json_is_real(v))
		return fmt_double(json_real_value(v), buf, len);
	if (json_is_boolean(v))
		return json_is_true(v) ? "1" : "0";
	return NULL;
}

/* "a.b.c" in nested objects; NULL when any step is missing. */
static const json_t *jget(const json_t *o, const char *path)
{
	const char *dot;
	char key[64];

	while (o && (dot = strchr(path, '.'))) {
		size_t n = dot - path;

		if (n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = 0;
		o = json_object_get(o, key);
		path = dot + 1;
	}
	return o ? json_object_get(o, path) : NULL;
}

static void family(struct ctx *c, const char *name, const char *type, const char *help)
{
	sb_puts(&c->b, "# HELP ");
	sb_puts(&c->b, name);
	sb_put(&c->b, " ", 1);
	sb_puts(&c->b, help);
	sb_puts(&c->b, "\n# TYPE ");
	sb_puts(&c->b, name);
	sb_put(&c->b, " ", 1);
	sb_puts(&c->b, type);
	sb_put(&c->b, "\n", 1);
}

static void put_sample(struct ctx *c, const char *name, const char *suffix, const struct labels *l,
		       const char *val)
{
	struct sb *b = &c->b;
	int i;

	sb_puts(b, name);
	if (suffix)
		sb_puts(b, suffix);
	if (l && l->n) {
		sb_put(b, "{", 1);
		for (i = 0; i < l->n; i++) {
			if (i)
				sb_put(b, ",", 1);
			sb_puts(b, l->k[i]);
			sb_put(b, "=\"", 2);
			sb_label_value(b, l->v[i]);
			sb_put(b, "\"", 1);
		}
		sb_put(b, "}", 1);
	}
	sb_put(b, " ", 1);
	sb_puts(b, val);
	sb_put(b, "\n", 1);
}

/* A sample whose value is a JSON number or boolean; nothing for null or missing. */
static void sample(struct ctx *c, const char *name, const struct labels *l, const json_t *v)
{
	char buf[NUM_LEN];
	const char *s = val_str(v, buf, sizeof(buf));

	if (s)
		put_sample(c, name, NULL, l, s);
}

static void sample_u64(struct ctx *c, const char *name, const char *suffix, const struct labels *l,
		       unsigned long long v)
{
	char buf[NUM_LEN];

	snprintf(buf, sizeof(buf), "%llu", v);
	put_sample(c, name, suffix, l, buf);
}

static unsigned long long count_of(const json_t *v)
{
	json_int_t n = json_integer_value(v);

	return n > 0 ? (unsigned long long)n : 0;
}

/* A histogram from {"buckets": [non-cumulative counts, the last one +Inf], "sum": s}. */
static void histogram(struct ctx *c, const char *name, const struct labels *l, const json_t *h)
{
	const json_t *bk = json_object_get(h, "buckets");
	const json_t *sum = json_object_get(h, "sum");
	unsigned long long cum = 0;
	struct labels ll = *l;
	char buf[NUM_LEN];
	size_t i, n;

	if (!json_is_array(bk))
		return;
	n = json_array_size(bk);
	ll.k[ll.n++] = "le";
	for (i = 0; i < (size_t)c->nle; i++) {
		cum += i < n ? count_of(json_array_get(bk, i)) : 0;
		ll.v[l->n] = c->le[i];
		sample_u64(c, name, "_bucket", &ll, cum);
	}
	for (; i < n; i++) /* the +Inf bucket, and any beyond the known bounds */
		cum += count_of(json_array_get(bk, i));
	ll.v[l->n] = "+Inf";
	sample_u64(c, name, "_bucket", &ll, cum);
	/* a histogram without its sum would not parse as one: 0 rather than nothing */
	put_sample(c, name, "_sum", l, json_is_number(sum) ? val_str(sum, buf, sizeof(buf)) : "0");
	sample_u64(c, name, "_count", l, cum);
}

/* ---- walking the snapshot ---- */

/* Each backend of each VIP, with its "vip" name and "backend" label ADDR:PORT / [ADDR]:PORT. */
struct be_iter {
	size_t vi;
	size_t bi;
	const char *vip;
	const json_t *be;
	char label[96];
};

static int be_next(const struct ctx *c, struct be_iter *it)
{
	for (;;) {
		const json_t *v = json_array_get(c->vips, it->vi);
		const json_t *be;
		const char *a;

		if (!v)
			return 0;
		be = json_array_get(json_object_get(v, "backends"), it->bi++);
		if (!be) {
			it->vi++;
			it->bi = 0;
			continue;
		}
		it->vip = json_string_value(json_object_get(v, "name"));
		a = json_string_value(json_object_get(be, "address"));
		if (!it->vip || !a)
			continue;
		snprintf(it->label, sizeof(it->label),
			 strchr(a, ':') ? "[%s]:%" JSON_INTEGER_FORMAT : "%s:%" JSON_INTEGER_FORMAT,
			 a, json_integer_value(json_object_get(be, "port")));
		it->be = be;
		return 1;
	}
}

/* Each L7 VIP's object (keys starting with '_', like "_splice", are not VIPs). */
static const char *l7_next(const struct ctx *c, void **iter, const json_t **v)
{
	json_t *l7 = (json_t *)c->l7;

	for (*iter = *iter ? json_object_iter_next(l7, *iter) : json_object_iter(l7); *iter;
	     *iter = json_object_iter_next(l7, *iter)) {
		const char *k = json_object_iter_key(*iter);

		*v = json_object_iter_value(*iter);
		if (k[0] != '_' && json_is_object(*v))
			return k;
	}
	return NULL;
}

struct fam {
	const char *name;
	const char *type;
	const char *key; /* the JSON field, a dotted path for the agent ones */
	const char *help;
};

static const struct fam agent_fams[] = {
	{ "sluice_agent_start_time_seconds", "gauge", "agent.start_time",
	  "Unix time at which sluiced started." },
	{ "sluice_agent_uptime_seconds", "gauge", "agent.uptime",
	  "Seconds since sluiced started." },
	{ "sluice_agent_ready", "gauge", "agent.ready",
	  "1 when sluiced is ready (as /healthz reports), else 0." },
	{ "sluice_agent_restarts_total", "counter", "agent.restarts",
	  "Times sluiced started over these pinned maps." },
	{ "sluice_journal_offset", "gauge", "agent.journal_offset",
	  "Offset of the last record in the configuration journal." },
	{ "sluice_events_offset", "gauge", "agent.events_offset",
	  "Offset of the last event in the event stream." },
	{ "sluice_event_loop_lag_seconds", "gauge", "agent.loop_lag.max",
	  "Longest delay of sluiced's main loop over the last 10 seconds." },
};

static const struct fam vip_fams[] = {
	{ "sluice_vip_packets_total", "counter", "packets",
	  "Packets to the VIP the data plane handled (L7 VIPs: passed to the proxy)." },
	{ "sluice_vip_bytes_total", "counter", "bytes", "Bytes of those packets." },
	{ "sluice_vip_new_flows_total", "counter", "new_flows",
	  "Flows the VIP assigned to a backend (L7 VIPs: one per request)." },
	{ "sluice_vip_drops_total", "counter", "drops",
	  "Packets to the VIP the data plane dropped." },
	{ "sluice_vip_active_flows", "gauge", "active_flows",
	  "Flows of the VIP in the connection table." },
};

static const struct fam backend_fams[] = {
	{ "sluice_backend_packets_total", "counter", "packets",
	  "Packets forwarded to the backend." },
	{ "sluice_backend_bytes_total", "counter", "bytes", "Bytes forwarded to the backend." },
	{ "sluice_backend_new_flows_total", "counter", "new_flows",
	  "New flows assigned to the backend." },
	{ "sluice_backend_active_flows", "gauge", "active_flows",
	  "Flows of the backend in the connection table." },
	{ "sluice_backend_weight", "gauge", "weight", "Configured weight of the backend." },
};

static const struct fam l7_fams_a[] = {
	{ "sluice_l7_connections_total", "counter", "connections",
	  "Client connections the L7 VIP accepted." },
	{ "sluice_l7_connections_active", "gauge", "connections_active",
	  "Client connections open on the L7 VIP." },
};

static const struct fam l7_fams_b[] = {
	{ "sluice_l7_rate_limited_total", "counter", "rate_limited",
	  "Requests answered 429 by the rate limit." },
	{ "sluice_l7_cors_preflights_total", "counter", "cors_preflights",
	  "CORS preflights answered at the edge, allowed or not." },
	{ "sluice_l7_retries_total", "counter", "retries",
	  "Requests tried again on a new connection." },
	{ "sluice_l7_upstream_reused_total", "counter", "upstream_reused",
	  "Requests sent over a pooled backend connection." },
	{ "sluice_l7_tunnels_total", "counter", "tunnels",
	  "Connections that became tunnels (upgrades, CONNECT, after-auth routes)." },
	{ "sluice_l7_copied_bytes_total", "counter", "copied_bytes",
	  "Bytes the proxy wrote to sockets itself, both directions." },
	{ "sluice_l7_spliced_bytes_total", "counter", "spliced_bytes",
	  "Bytes of spliced tunnels, both directions, added when a tunnel ends." },
	{ "sluice_l7_spliced_flows_total", "counter", "spliced_flows",
	  "Tunnels handed to the kernel (sockmap splice)." },
};

static const struct fam jwt_fams[] = {
	{ "sluice_l7_jwt_cache_hits_total", "counter", "cache_hits",
	  "Tokens accepted from the verified-token cache." },
	{ "sluice_l7_jwt_cache_misses_total", "counter", "cache_misses",
	  "Signature checks made (one per key tried)." },
	{ "sluice_l7_jwks_reloads_total", "counter", "jwks_reloads",
	  "JWKS files read successfully after the start." },
	{ "sluice_l7_jwks_reload_errors_total", "counter", "jwks_reload_errors",
	  "JWKS reads that failed (the previous keys were kept)." },
	{ "sluice_l7_jwt_keys", "gauge", "keys", "Keys in use now." },
};

static const struct fam splice_fams[] = {
	{ "sluice_splice_available", "gauge", "available",
	  "1 when kernel splicing (sockmap) is available." },
	{ "sluice_splice_flows_total", "counter", "flows", "Tunnels spliced by the kernel." },
	{ "sluice_splice_bytes_total", "counter", "bytes",
	  "Bytes moved for spliced tunnels, both directions." },
	{ "sluice_splice_kernel_bytes_total", "counter", "kernel_bytes",
	  "Of the spliced bytes, those the kernel redirected itself." },
	{ "sluice_splice_pauses_total", "counter", "pauses",
	  "Spliced directions paused by the backlog cap." },
	{ "sluice_splice_broken_total", "counter", "broken",
	  "Spliced streams that lost bytes to a pause and were reset." },
	{ "sluice_splice_active", "gauge", "active", "Spliced tunnels open now." },
};

static const char *const refused_reasons[] = { "no_route",	  "bad_request", "unauthorized",
					       "rate_limited",	  "cors_denied", "no_backend",
					       "upstream_errors", "timeouts" };
static const char *const status_classes[] = { "1xx", "2xx", "3xx", "4xx", "5xx" };
static const char *const health_states[] = { "unchecked", "up", "down" };
/* as in the snapshot, and as the label (Prometheus label values conventionally use '_') */
static const char *const circuit_states[][2] = { { "closed", "closed" },
						 { "open", "open" },
						 { "half-open", "half_open" } };

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void render_agent(struct ctx *c)
{
	const json_t *ver = jget(c->snap, "agent.version");
	const json_t *maps = jget(c->snap, "agent.maps");
	size_t i;

	family(c, "sluice_build_info", "gauge", "Always 1; the version of sluiced in a label.");
	if (json_is_string(ver))
		put_sample(c, "sluice_build_info", NULL, L1("version", json_string_value(ver)),
			   "1");
	for (i = 0; i < N(agent_fams); i++) {
		family(c, agent_fams[i].name, agent_fams[i].type, agent_fams[i].help);
		sample(c, agent_fams[i].name, NULL, jget(c->snap, agent_fams[i].key));
	}
	family(c, "sluice_map_entries", "gauge", "Entries in a BPF map.");
	for (i = 0; i < json_array_size(maps); i++) {
		const char *m = json_string_value(json_object_get(json_array_get(maps, i), "name"));

		if (m)
			sample(c, "sluice_map_entries", L1("map", m),
			       json_object_get(json_array_get(maps, i), "entries"));
	}
	family(c, "sluice_map_capacity", "gauge", "Maximum entries of a BPF map.");
	for (i = 0; i < json_array_size(maps); i++) {
		const char *m = json_string_value(json_object_get(json_array_get(maps, i), "name"));

		if (m)
			sample(c, "sluice_map_capacity", L1("map", m),
			       json_object_get(json_array_get(maps, i), "capacity"));
	}
	family(c, "sluice_agent_cells_used", "gauge",
	       "Cells of the pinned counter store (sl_agent_ctrs) in use.");
	sample(c, "sluice_agent_cells_used", NULL, jget(c->snap, "agent.counter_cells.used"));
	family(c, "sluice_agent_cells_capacity", "gauge",
	       "Cells of the pinned counter store (sl_agent_ctrs).");
	sample(c, "sluice_agent_cells_capacity", NULL,
	       jget(c->snap, "agent.counter_cells.capacity"));
}

static void render_vips(struct ctx *c)
{
	size_t i, v;

	for (i = 0; i < N(vip_fams); i++) {
		family(c, vip_fams[i].name, vip_fams[i].type, vip_fams[i].help);
		for (v = 0; v < json_array_size(c->vips); v++) {
			const json_t *vip = json_array_get(c->vips, v);
			const char *name = json_string_value(json_object_get(vip, "name"));

			if (name)
				sample(c, vip_fams[i].name, L1("vip", name),
				       json_object_get(vip, vip_fams[i].key));
		}
	}
}

static void render_backends(struct ctx *c)
{
	struct be_iter it;
	size_t i, s;

	for (i = 0; i < N(backend_fams); i++) {
		family(c, backend_fams[i].name, backend_fams[i].type, backend_fams[i].help);
		for (it = (struct be_iter){ 0 }; be_next(c, &it);)
			sample(c, backend_fams[i].name, L2("vip", it.vip, "backend", it.label),
			       json_object_get(it.be, backend_fams[i].key));
	}

	family(c, "sluice_backend_up", "gauge",
	       "0 when the backend's health is down or its circuit is open, else 1.");
	for (it = (struct be_iter){ 0 }; be_next(c, &it);) {
		const char *h = json_string_value(json_object_get(it.be, "health"));
		const char *cb = json_string_value(json_object_get(it.be, "circuit"));
		int up = !(h && !strcmp(h, "down")) && !(cb && !strcmp(cb, "open"));

		put_sample(c, "sluice_backend_up", NULL, L2("vip", it.vip, "backend", it.label),
			   up ? "1" : "0");
	}

	family(c, "sluice_backend_health", "gauge",
	       "1 for the backend's current health state (unchecked, up, down), 0 for the others.");
	for (it = (struct be_iter){ 0 }; be_next(c, &it);) {
		const char *h = json_string_value(json_object_get(it.be, "health"));

		for (s = 0; h && s < N(health_states); s++)
			put_sample(
				c, "sluice_backend_health", NULL,
				L3("vip", it.vip, "backend", it.label, "state", health_states[s]),
				strcmp(h, health_states[s]) ? "0" : "1");
	}

	family(c, "sluice_backend_circuit", "gauge",
	       "1 for the circuit breaker's current state (closed, open, half_open), 0 for the others.");
	for (it = (struct be_iter){ 0 }; be_next(c, &it);) {
		const char *cb = json_string_value(json_object_get(it.be, "circuit"));

		for (s = 0; cb && s < N(circuit_states); s++)
			put_sample(c, "sluice_backend_circuit", NULL,
				   L3("vip", it.vip, "backend", it.label, "state",
				      circuit_states[s][1]),
				   strcmp(cb, circuit_states[s][0]) ? "0" : "1");
	}

	family(c, "sluice_health_checks_total", "counter",
	       "Health checks of the backend by result.");
	for (it = (struct be_iter){ 0 }; be_next(c, &it);) {
		const json_t *hc = json_object_get(it.be, "health_checks");

		if (!json_is_object(hc))
			continue;
		sample(c, "sluice_health_checks_total",
		       L3("vip", it.vip, "backend", it.label, "result", "pass"),
		       json_object_get(hc, "pass"));
		sample(c, "sluice_health_checks_total",
		       L3("vip", it.vip, "backend", it.label, "result", "fail"),
		       json_object_get(hc, "fail"));
	}

	family(c, "sluice_health_check_latency_seconds", "gauge",
	       "Duration of the backend's last passed health check.");
	for (it = (struct be_iter){ 0 }; be_next(c, &it);)
		sample(c, "sluice_health_check_latency_seconds",
		       L2("vip", it.vip, "backend", it.label),
		       json_object_get(it.be, "health_latency"));
}

static void render_datapath(struct ctx *c)
{
	const json_t *drops = json_object_get(c->snap, "drops");
	const json_t *ctrs = json_object_get(c->snap, "counters");
	const char *k;
	json_t *v;

	family(c, "sluice_drops_total", "counter", "Packets the data plane dropped, by reason.");
	json_object_foreach((json_t *)drops, k, v)
		sample(c, "sluice_drops_total", L1("reason", k), v);
	family(c, "sluice_datapath_total", "counter", "Data plane event counters.");
	json_object_foreach((json_t *)ctrs, k, v)
		sample(c, "sluice_datapath_total", L1("counter", k), v);
	family(c, "sluice_ratelimit_drops_total", "counter",
	       "Packets dropped by the per-client rate limits (conn: new connections, pkt: packets).");
	sample(c, "sluice_ratelimit_drops_total", L1("kind", "conn"),
	       json_object_get(drops, "rl_conn"));
	sample(c, "sluice_ratelimit_drops_total", L1("kind", "pkt"),
	       json_object_get(drops, "rl_pkt"));
	family(c, "sluice_ratelimit_bucket_evictions_total", "counter",
	       "Rate-limit buckets evicted from the full bucket table.");
	sample(c, "sluice_ratelimit_bucket_evictions_total", NULL,
	       json_object_get(ctrs, "rl_evict"));
	family(c, "sluice_ratelimit_buckets_created_total", "counter",
	       "Rate-limit buckets created for new clients.");
	sample(c, "sluice_ratelimit_buckets_created_total", NULL,
	       json_object_get(ctrs, "rl_new_bucket"));
}

static void render_l7_fams(struct ctx *c, const struct fam *f, size_t n)
{
	const json_t *v;
	const char *vip;
	void *iter;
	size_t i;

	for (i = 0; i < n; i++) {
		family(c, f[i].name, f[i].type, f[i].help);
		for (iter = NULL; (vip = l7_next(c, &iter, &v));)
			sample(c, f[i].name, L1("vip", vip), json_object_get(v, f[i].key));
	}
}

static void render_l7(struct ctx *c)
{
	const char *vip, *route, *k;
	const json_t *v;
	json_t *r, *x;
	void *iter;
	size_t i;

	render_l7_fams(c, l7_fams_a, N(l7_fams_a));

	family(c, "sluice_l7_requests_total", "counter",
	       "Final answers sent, by route and status class (route _unrouted: matched no route).");
	for (iter = NULL; (vip = l7_next(c, &iter, &v));)
		json_object_foreach(json_object_get(v, "routes"), route,
				    r) for (i = 0; i < N(status_classes); i++)
			sample(c, "sluice_l7_requests_total",
			       L3("vip", vip, "route", route, "code", status_classes[i]),
			       json_object_get(json_object_get(r, "requests"), status_classes[i]));

	family(c, "sluice_l7_refused_total", "counter",
	       "Requests the gateway refused or that failed, by reason (404 no_route, 502 upstream_errors, ...).");
	for (iter = NULL; (vip = l7_next(c, &iter, &v));)
		for (i = 0; i < N(refused_reasons); i++)
			sample(c, "sluice_l7_refused_total",
			       L2("vip", vip, "reason", refused_reasons[i]),
			       json_object_get(v, refused_reasons[i]));

	render_l7_fams(c, l7_fams_b, N(l7_fams_b));

	family(c, "sluice_l7_request_duration_seconds", "histogram",
	       "Time from a request's head read whole to its answer's head, by route.");
	for (iter = NULL; (vip = l7_next(c, &iter, &v));)
		json_object_foreach(json_object_get(v, "routes"), route, r)
			histogram(c, "sluice_l7_request_duration_seconds",
				  L2("vip", vip, "route", route), json_object_get(r, "latency"));

	family(c, "sluice_l7_upstream_connect_duration_seconds", "histogram",
	       "Time to connect to a backend (connects that succeeded).");
	for (iter = NULL; (vip = l7_next(c, &iter, &v));)
		histogram(c, "sluice_l7_upstream_connect_duration_seconds", L1("vip", vip),
			  json_object_get(v, "connect"));

	family(c, "sluice_l7_jwt_verifications_total", "counter",
	       "Bearer tokens checked, by result (ok, or why it was refused).");
	for (iter = NULL; (vip = l7_next(c, &iter, &v));)
		json_object_foreach(json_object_get(v, "jwt"), route, r)
		{
			sample(c, "sluice_l7_jwt_verifications_total",
			       L3("vip", vip, "route", route, "result", "ok"),
			       json_object_get(r, "verified"));
			json_object_foreach(json_object_get(r, "failed"), k, x)
				sample(c, "sluice_l7_jwt_verifications_total",
				       L3("vip", vip, "route", route, "result", k), x);
		}

	for (i = 0; i < N(jwt_fams); i++) {
		family(c, jwt_fams[i].name, jwt_fams[i].type, jwt_fams[i].help);
		for (iter = NULL; (vip = l7_next(c, &iter, &v));)
			json_object_foreach(json_object_get(v, "jwt"), route, r)
				sample(c, jwt_fams[i].name, L2("vip", vip, "route", route),
				       json_object_get(r, jwt_fams[i].key));
	}

	for (i = 0; i < N(splice_fams); i++) {
		family(c, splice_fams[i].name, splice_fams[i].type, splice_fams[i].help);
		sample(c, splice_fams[i].name, NULL,
		       json_object_get(json_object_get(c->l7, "_splice"), splice_fams[i].key));
	}
}

char *sl_metrics_render(const json_t *snap, size_t *len)
{
	const json_t *le = json_object_get(snap, "latency_le");
	struct ctx *c;
	char *out;
	size_t i;

	if (!json_is_object(snap)) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		errno = ENOMEM;
		return NULL;
	}
	c->snap = snap;
	c->vips = json_object_get(snap, "vips");
	c->l7 = json_object_get(snap, "l7");
	for (i = 0; i < json_array_size(le) && c->nle < LE_MAX; i++) {
		const json_t *b = json_array_get(le, i);

		if (!json_is_number(b))
			break;
		fmt_double(json_number_value(b), c->le[c->nle++], NUM_LEN);
	}

	render_agent(c);
	render_vips(c);
	render_backends(c);
	render_datapath(c);
	render_l7(c);

	out = c->b.p;
	if (c->b.oom) {
		free(out);
		out = NULL;
		errno = ENOMEM;
	} else if (len) {
		*len = c->b.len;
	}
	free(c);
	return out;
}

double sl_hist_quantile_arr(const uint64_t *b, const double *le, int n, double q)
{
	double total = 0, cum = 0, prev = 0, rank, start;
	int i;

	if (!b || !le || n < 2 || isnan(q))
		return NAN;
	if (q < 0)
		return -INFINITY;
	if (q > 1)
		return INFINITY;
	for (i = 0; i < n; i++)
		total += (double)b[i];
	if (total == 0)
		return NAN;
	rank = q * total;
	/* the first finite bucket whose cumulative count reaches the rank (and holds any) */
	for (i = 0; i < n - 1; i++) {
		prev = cum;
		cum += (double)b[i];
		if (cum >= rank && cum > 0)
			break;
	}
	if (i == n - 1)
		return le[n - 2];
	if (i == 0 && le[0] <= 0)
		return le[0];
	start = i ? le[i - 1] : 0;
	/* prev < rank <= cum, or rank == 0 and prev == 0 < cum: never a division by 0 */
	return start + (le[i] - start) * ((rank - prev) / (cum - prev));
}

double sl_hist_quantile(const json_t *buckets, const json_t *le, double q)
{
	uint64_t b[LE_MAX + 1];
	double bound[LE_MAX];
	size_t i, n = json_array_size(buckets);

	if (n < 2 || n > LE_MAX + 1 || json_array_size(le) != n - 1)
		return NAN;
	for (i = 0; i < n; i++) {
		b[i] = count_of(json_array_get(buckets, i));
		if (i < n - 1)
			bound[i] = json_number_value(json_array_get(le, i));
	}
	return sl_hist_quantile_arr(b, bound, (int)n, q);
}
