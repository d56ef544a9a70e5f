// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * /metrics (user/agent/metrics.c): a fixture snapshot with an L4 VIP (IPv4 and
 * IPv6 backends, health, a breaker) and an L7 VIP (routes, JWT, splice)
 * rendered to Prometheus text: exact lines, escaping, one HELP and TYPE per
 * family ahead of its samples, cumulative histograms, every family of the
 * spec present, promtool's verdict; and the histogram quantile.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include "check.h"
#include "../../user/agent/metrics.h"

/* The route name carries a backslash, a double quote and a newline. */
static const char fixture[] =
	"{\"time\": 1733367000.123, \"window\": null,"
	" \"latency_le\": [0.0005,0.001,0.0025,0.005,0.01,0.025,0.05,0.1,0.25,0.5,1,2.5,5,10],"
	" \"agent\": {\"version\": \"0.7.0\", \"pid\": 123, \"start_time\": 1733366000.0,"
	"   \"uptime\": 1000.1, \"ready\": true, \"restarts\": 3, \"journal_offset\": 42,"
	"   \"events_offset\": 17, \"loop_lag\": {\"last\": 0.0001, \"max\": 0.002},"
	"   \"maps\": [{\"name\": \"sl_ct\", \"entries\": 10, \"capacity\": 1048576},"
	"            {\"name\": \"sl_vips\", \"entries\": 2, \"capacity\": 256}],"
	"   \"counter_cells\": {\"used\": 1200, \"capacity\": 1048576}},"
	" \"vips\": ["
	"  {\"name\": \"web\", \"address\": \"198.18.1.10\", \"port\": 80, \"protocol\": \"tcp\","
	"   \"strategy\": \"rr\", \"forward\": \"nat\", \"l7\": false, \"packets\": 1000,"
	"   \"bytes\": 90000, \"new_flows\": 30, \"active_flows\": 2, \"drops\": 1,"
	"   \"rates\": {\"packets\": 10.5, \"bytes\": 900.0, \"new_flows\": 1.0},"
	"   \"backends\": ["
	"    {\"address\": \"198.18.2.2\", \"port\": 8080, \"weight\": 1, \"state\": \"active\","
	"     \"active_flows\": 1, \"packets\": 600, \"bytes\": 50000, \"new_flows\": 20,"
	"     \"health\": \"up\", \"health_checks\": {\"pass\": 10, \"fail\": 1},"
	"     \"health_latency\": 0.0003, \"rates\": null},"
	"    {\"address\": \"2001:db8::2\", \"port\": 8080, \"weight\": 3, \"state\": \"draining\","
	"     \"active_flows\": 1, \"packets\": 400, \"bytes\": 40000, \"new_flows\": 10,"
	"     \"health\": \"down\", \"circuit\": \"half-open\","
	"     \"health_checks\": {\"pass\": 2, \"fail\": 5}, \"health_latency\": null,"
	"     \"rates\": null},"
	"    {\"address\": \"198.18.2.3\", \"port\": 8081, \"weight\": 1, \"state\": \"idle\","
	"     \"active_flows\": 0, \"packets\": 0, \"bytes\": 0, \"new_flows\": 0,"
	"     \"health\": \"unchecked\", \"rates\": null}]},"
	"  {\"name\": \"web7\", \"address\": \"198.18.1.11\", \"port\": 80, \"protocol\": \"tcp\","
	"   \"strategy\": \"rr\", \"forward\": \"nat\", \"l7\": true, \"packets\": 50,"
	"   \"bytes\": 5000, \"new_flows\": 5, \"active_flows\": 1, \"drops\": 0, \"rates\": null,"
	"   \"backends\": ["
	"    {\"address\": \"198.18.3.2\", \"port\": 80, \"weight\": 1, \"state\": \"active\","
	"     \"active_flows\": 0, \"packets\": 0, \"bytes\": 0, \"new_flows\": 0,"
	"     \"health\": \"up\", \"circuit\": \"open\", \"health_checks\": {\"pass\": 1, \"fail\": 0},"
	"     \"health_latency\": 0.25, \"rates\": null}]}],"
	" \"drops\": {\"fragment\": 4, \"rl_conn\": 7, \"rl_pkt\": 9, \"no_backend\": 0},"
	" \"drop_rates\": null,"
	" \"counters\": {\"pass_not_vip\": 11, \"rl_new_bucket\": 12, \"rl_evict\": 13},"
	" \"l7\": {"
	"  \"web7\": {\"connections\": 6, \"connections_active\": 1, \"requests\": 8,"
	"   \"status_1xx\": 0, \"status_2xx\": 6, \"status_3xx\": 0, \"status_4xx\": 2,"
	"   \"status_5xx\": 0, \"no_route\": 1, \"bad_request\": 0, \"unauthorized\": 1,"
	"   \"rate_limited\": 2, \"cors_preflights\": 3, \"cors_denied\": 0, \"no_backend\": 0,"
	"   \"upstream_errors\": 0, \"timeouts\": 0, \"retries\": 1, \"upstream_reused\": 3,"
	"   \"copied_bytes\": 100, \"spliced_flows\": 1, \"spliced_bytes\": 4096, \"tunnels\": 1,"
	"   \"jwt\": {\"api\": {\"verified\": 3, \"cache_hits\": 2, \"cache_misses\": 1,"
	"     \"jwks_reloads\": 0, \"jwks_reload_errors\": 0, \"keys\": 2,"
	"     \"failed\": {\"expired\": 1, \"bad_signature\": 0}}},"
	"   \"routes\": {"
	"    \"api\": {\"requests\": {\"1xx\": 0, \"2xx\": 6, \"3xx\": 0, \"4xx\": 1, \"5xx\": 0},"
	"     \"latency\": {\"buckets\": [1,2,0,3,0,0,0,0,0,0,0,0,0,0,1], \"sum\": 0.12}},"
	"    \"a\\\\b\\\"c\\nd\": {\"requests\": {\"1xx\": 0, \"2xx\": 0, \"3xx\": 0, \"4xx\": 0,"
	"     \"5xx\": 1}, \"latency\": {\"buckets\": [0,0,0,0,0,0,0,0,0,0,0,0,0,0,1], \"sum\": 30}},"
	"    \"_unrouted\": {\"requests\": {\"1xx\": 0, \"2xx\": 0, \"3xx\": 0, \"4xx\": 1,"
	"     \"5xx\": 0}, \"latency\": {\"buckets\": [1,0,0,0,0,0,0,0,0,0,0,0,0,0,0],"
	"     \"sum\": 0.0001}}},"
	"   \"connect\": {\"buckets\": [5,0,0,0,0,0,0,0,0,0,0,0,0,0,0], \"sum\": 0.001},"
	"   \"rates\": null, \"latency_ms\": null},"
	"  \"_splice\": {\"available\": true, \"flows\": 1, \"active\": 0, \"bytes\": 4096,"
	"   \"kernel_bytes\": 4000, \"pauses\": 0, \"broken\": 0}}}";

/* Every family of the spec (docs/observability.md), with its type. */
static const char *const families[][2] = {
	{ "sluice_build_info", "gauge" },
	{ "sluice_agent_start_time_seconds", "gauge" },
	{ "sluice_agent_uptime_seconds", "gauge" },
	{ "sluice_agent_ready", "gauge" },
	{ "sluice_agent_restarts_total", "counter" },
	{ "sluice_journal_offset", "gauge" },
	{ "sluice_events_offset", "gauge" },
	{ "sluice_event_loop_lag_seconds", "gauge" },
	{ "sluice_map_entries", "gauge" },
	{ "sluice_map_capacity", "gauge" },
	{ "sluice_agent_cells_used", "gauge" },
	{ "sluice_agent_cells_capacity", "gauge" },
	{ "sluice_vip_packets_total", "counter" },
	{ "sluice_vip_bytes_total", "counter" },
	{ "sluice_vip_new_flows_total", "counter" },
	{ "sluice_vip_drops_total", "counter" },
	{ "sluice_vip_active_flows", "gauge" },
	{ "sluice_backend_packets_total", "counter" },
	{ "sluice_backend_bytes_total", "counter" },
	{ "sluice_backend_new_flows_total", "counter" },
	{ "sluice_backend_active_flows", "gauge" },
	{ "sluice_backend_weight", "gauge" },
	{ "sluice_backend_up", "gauge" },
	{ "sluice_backend_health", "gauge" },
	{ "sluice_backend_circuit", "gauge" },
	{ "sluice_health_checks_total", "counter" },
	{ "sluice_health_check_latency_seconds", "gauge" },
	{ "sluice_drops_total", "counter" },
	{ "sluice_datapath_total", "counter" },
	{ "sluice_ratelimit_drops_total", "counter" },
	{ "sluice_ratelimit_bucket_evictions_total", "counter" },
	{ "sluice_ratelimit_buckets_created_total", "counter" },
	{ "sluice_l7_connections_total", "counter" },
	{ "sluice_l7_connections_active", "gauge" },
	{ "sluice_l7_requests_total", "counter" },
	{ "sluice_l7_refused_total", "counter" },
	{ "sluice_l7_rate_limited_total", "counter" },
	{ "sluice_l7_cors_preflights_total", "counter" },
	{ "sluice_l7_retries_total", "counter" },
	{ "sluice_l7_upstream_reused_total", "counter" },
	{ "sluice_l7_tunnels_total", "counter" },
	{ "sluice_l7_copied_bytes_total", "counter" },
	{ "sluice_l7_spliced_bytes_total", "counter" },
	{ "sluice_l7_spliced_flows_total", "counter" },
	{ "sluice_l7_request_duration_seconds", "histogram" },
	{ "sluice_l7_upstream_connect_duration_seconds", "histogram" },
	{ "sluice_l7_jwt_verifications_total", "counter" },
	{ "sluice_l7_jwt_cache_hits_total", "counter" },
	{ "sluice_l7_jwt_cache_misses_total", "counter" },
	{ "sluice_l7_jwks_reloads_total", "counter" },
	{ "sluice_l7_jwks_reload_errors_total", "counter" },
	{ "sluice_l7_jwt_keys", "gauge" },
	{ "sluice_splice_available", "gauge" },
	{ "sluice_splice_flows_total", "counter" },
	{ "sluice_splice_bytes_total", "counter" },
	{ "sluice_splice_kernel_bytes_total", "counter" },
	{ "sluice_splice_pauses_total", "counter" },
	{ "sluice_splice_broken_total", "counter" },
	{ "sluice_splice_active", "gauge" },
};

#define NFAM (sizeof(families) / sizeof(families[0]))

static char *render_json(const char *text, size_t *len)
{
	json_error_t e;
	json_t *snap = json_loads(text, 0, &e);
	char *out;

	if (!snap)
		fail_msg("fixture: %s at line %d column %d", e.text, e.line, e.column);
	out = sl_metrics_render(snap, len);
	json_decref(snap);
	ASSERT_TRUE(out, "sl_metrics_render returned NULL");
	ASSERT_EQ(strlen(out), *len, "length returned vs strlen");
	return out;
}

static char *render_fixture(size_t *len)
{
	return render_json(fixture, len);
}

/* 1 when @line is a whole line of @text. */
static int has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p = text;

	while ((p = strstr(p, line))) {
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return 1;
		p++;
	}
	return 0;
}

#define ASSERT_LINE(text, line) ASSERT_TRUE(has_line(text, line), "missing line: %s", line)
#define ASSERT_NO_LINE(text, line) ASSERT_TRUE(!has_line(text, line), "unexpected line: %s", line)

static void test_exact_lines_agent_vip_backend(void **state)
{
	size_t len;
	char *t = render_fixture(&len);

	ASSERT_LINE(t, "sluice_build_info{version=\"0.7.0\"} 1");
	ASSERT_LINE(t, "sluice_agent_start_time_seconds 1733366000");
	ASSERT_LINE(t, "sluice_agent_uptime_seconds 1000.1");
	ASSERT_LINE(t, "sluice_agent_ready 1");
	ASSERT_LINE(t, "sluice_agent_restarts_total 3");
	ASSERT_LINE(t, "sluice_journal_offset 42");
	ASSERT_LINE(t, "sluice_event_loop_lag_seconds 0.002");
	ASSERT_LINE(t, "sluice_map_entries{map=\"sl_ct\"} 10");
	ASSERT_LINE(t, "sluice_map_capacity{map=\"sl_vips\"} 256");
	ASSERT_LINE(t, "sluice_agent_cells_used 1200");
	ASSERT_LINE(t, "sluice_vip_packets_total{vip=\"web\"} 1000");
	ASSERT_LINE(t, "sluice_vip_active_flows{vip=\"web7\"} 1");
	ASSERT_LINE(t, "sluice_backend_packets_total{vip=\"web\",backend=\"198.18.2.2:8080\"} 600");
	ASSERT_LINE(t,
		    "sluice_backend_bytes_total{vip=\"web\",backend=\"[2001:db8::2]:8080\"} 40000");
	ASSERT_LINE(t, "sluice_backend_weight{vip=\"web\",backend=\"[2001:db8::2]:8080\"} 3");
	/* up: health up and no breaker; down; unchecked; health up but circuit open */
	ASSERT_LINE(t, "sluice_backend_up{vip=\"web\",backend=\"198.18.2.2:8080\"} 1");
	ASSERT_LINE(t, "sluice_backend_up{vip=\"web\",backend=\"[2001:db8::2]:8080\"} 0");
	ASSERT_LINE(t, "sluice_backend_up{vip=\"web\",backend=\"198.18.2.3:8081\"} 1");
	ASSERT_LINE(t, "sluice_backend_up{vip=\"web7\",backend=\"198.18.3.2:80\"} 0");
	ASSERT_LINE(
		t,
		"sluice_backend_health{vip=\"web\",backend=\"198.18.2.3:8081\",state=\"unchecked\"} 1");
	ASSERT_LINE(
		t, "sluice_backend_health{vip=\"web\",backend=\"198.18.2.3:8081\",state=\"up\"} 0");
	ASSERT_LINE(
		t,
		"sluice_backend_health{vip=\"web\",backend=\"[2001:db8::2]:8080\",state=\"down\"} 1");
	ASSERT_LINE(
		t,
		"sluice_backend_circuit{vip=\"web\",backend=\"[2001:db8::2]:8080\",state=\"half_open\"} 1");
	ASSERT_LINE(
		t,
		"sluice_backend_circuit{vip=\"web\",backend=\"[2001:db8::2]:8080\",state=\"closed\"} 0");
	/* no breaker, no circuit samples; unchecked, no check samples */
	ASSERT_TRUE(!strstr(t, "sluice_backend_circuit{vip=\"web\",backend=\"198.18.2.2:8080\""),
		    "circuit samples for a backend without a breaker");
	ASSERT_TRUE(
		!strstr(t, "sluice_health_checks_total{vip=\"web\",backend=\"198.18.2.3:8081\""),
		"health check samples for an unchecked backend");
	ASSERT_LINE(
		t,
		"sluice_health_checks_total{vip=\"web\",backend=\"[2001:db8::2]:8080\",result=\"fail\"} 5");
	ASSERT_LINE(
		t,
		"sluice_health_check_latency_seconds{vip=\"web\",backend=\"198.18.2.2:8080\"} 0.0003");
	ASSERT_TRUE(
		!strstr(t,
			"sluice_health_check_latency_seconds{vip=\"web\",backend=\"[2001:db8::2]"),
		"a latency sample for a null health_latency");
	ASSERT_LINE(t, "sluice_drops_total{reason=\"fragment\"} 4");
	ASSERT_LINE(t, "sluice_drops_total{reason=\"no_backend\"} 0");
	ASSERT_LINE(t, "sluice_datapath_total{counter=\"pass_not_vip\"} 11");
	ASSERT_LINE(t, "sluice_ratelimit_drops_total{kind=\"conn\"} 7");
	ASSERT_LINE(t, "sluice_ratelimit_drops_total{kind=\"pkt\"} 9");
	ASSERT_LINE(t, "sluice_ratelimit_bucket_evictions_total 13");
	ASSERT_LINE(t, "sluice_ratelimit_buckets_created_total 12");
	/* rates are not rendered */
	ASSERT_TRUE(!strstr(t, "10.5"), "a rate was rendered");
	free(t);
}

static void test_exact_lines_l7(void **state)
{
	size_t len;
	char *t = render_fixture(&len);

	ASSERT_LINE(t, "sluice_l7_connections_total{vip=\"web7\"} 6");
	ASSERT_LINE(t, "sluice_l7_requests_total{vip=\"web7\",route=\"api\",code=\"2xx\"} 6");
	ASSERT_LINE(t, "sluice_l7_requests_total{vip=\"web7\",route=\"_unrouted\",code=\"4xx\"} 1");
	ASSERT_LINE(t, "sluice_l7_refused_total{vip=\"web7\",reason=\"unauthorized\"} 1");
	ASSERT_LINE(t, "sluice_l7_refused_total{vip=\"web7\",reason=\"timeouts\"} 0");
	ASSERT_LINE(t, "sluice_l7_rate_limited_total{vip=\"web7\"} 2");
	ASSERT_LINE(t, "sluice_l7_spliced_bytes_total{vip=\"web7\"} 4096");
	ASSERT_LINE(
		t,
		"sluice_l7_request_duration_seconds_bucket{vip=\"web7\",route=\"api\",le=\"0.0005\"} 1");
	ASSERT_LINE(
		t,
		"sluice_l7_request_duration_seconds_bucket{vip=\"web7\",route=\"api\",le=\"0.001\"} 3");
	ASSERT_LINE(
		t,
		"sluice_l7_request_duration_seconds_bucket{vip=\"web7\",route=\"api\",le=\"0.0025\"} 3");
	ASSERT_LINE(
		t,
		"sluice_l7_request_duration_seconds_bucket{vip=\"web7\",route=\"api\",le=\"0.005\"} 6");
	ASSERT_LINE(
		t,
		"sluice_l7_request_duration_seconds_bucket{vip=\"web7\",route=\"api\",le=\"1\"} 6");
	ASSERT_LINE(
		t,
		"sluice_l7_request_duration_seconds_bucket{vip=\"web7\",route=\"api\",le=\"2.5\"} 6");
	ASSERT_LINE(
		t,
		"sluice_l7_request_duration_seconds_bucket{vip=\"web7\",route=\"api\",le=\"10\"} 6");
	ASSERT_LINE(
		t,
		"sluice_l7_request_duration_seconds_bucket{vip=\"web7\",route=\"api\",le=\"+Inf\"} 7");
	ASSERT_LINE(t, "sluice_l7_request_duration_seconds_sum{vip=\"web7\",route=\"api\"} 0.12");
	ASSERT_LINE(t, "sluice_l7_request_duration_seconds_count{vip=\"web7\",route=\"api\"} 7");
	ASSERT_LINE(t, "sluice_l7_upstream_connect_duration_seconds_count{vip=\"web7\"} 5");
	ASSERT_LINE(
		t, "sluice_l7_jwt_verifications_total{vip=\"web7\",route=\"api\",result=\"ok\"} 3");
	ASSERT_LINE(
		t,
		"sluice_l7_jwt_verifications_total{vip=\"web7\",route=\"api\",result=\"expired\"} 1");
	ASSERT_LINE(t, "sluice_l7_jwt_keys{vip=\"web7\",route=\"api\"} 2");
	ASSERT_LINE(t, "sluice_splice_available 1");
	ASSERT_LINE(t, "sluice_splice_kernel_bytes_total 4000");
	ASSERT_LINE(t, "sluice_splice_active 0");
	/* "_splice" is not a VIP */
	ASSERT_TRUE(!strstr(t, "vip=\"_splice\""), "_splice rendered as a VIP");
	free(t);
}

static void test_label_value_escaping(void **state)
{
	size_t len;
	char *t = render_fixture(&len);

	/* route a\b"c<newline>d */
	ASSERT_LINE(
		t,
		"sluice_l7_requests_total{vip=\"web7\",route=\"a\\\\b\\\"c\\nd\",code=\"5xx\"} 1");
	ASSERT_LINE(
		t,
		"sluice_l7_request_duration_seconds_sum{vip=\"web7\",route=\"a\\\\b\\\"c\\nd\"} 30");
	free(t);
}

static int family_index(const char *name, size_t n)
{
	size_t i;

	for (i = 0; i < NFAM; i++)
		if (strlen(families[i][0]) == n && !strncmp(families[i][0], name, n))
			return (int)i;
	return -1;
}

/* The family a sample line belongs to: its name, less _bucket/_sum/_count for histograms. */
static int sample_family(const char *line, size_t n)
{
	static const char *const sfx[] = { "_bucket", "_sum", "_count" };
	int f = family_index(line, n);
	size_t i;

	for (i = 0; f < 0 && i < 3; i++) {
		size_t sl = strlen(sfx[i]);

		if (n > sl && !strncmp(line + n - sl, sfx[i], sl)) {
			f = family_index(line, n - sl);
			if (f >= 0 && strcmp(families[f][1], "histogram"))
				f = -1;
		}
	}
	return f;
}

/* Each family: one HELP then one TYPE (of the right type), then all its samples together. */
static void check_structure(const char *t, size_t *nsamples)
{
	int help[NFAM] = { 0 }, type[NFAM] = { 0 };
	const char *p = t, *nl;
	int cur = -1;
	size_t i;

	*nsamples = 0;
	for (; *p; p = nl + 1) {
		char line[512];
		size_t n;
		int f;

		nl = strchr(p, '\n');
		ASSERT_TRUE(nl, "the text does not end in a newline");
		snprintf(line, sizeof(line), "%.*s", (int)(nl - p), p);
		if (!strncmp(line, "# HELP ", 7) || !strncmp(line, "# TYPE ", 7)) {
			n = strcspn(line + 7, " ");
			f = family_index(line + 7, n);
			ASSERT_TRUE(f >= 0, "a family not in the spec: %s", line);
			if (line[2] == 'H') {
				ASSERT_EQ(help[f]++, 0, "HELP lines of %s", families[f][0]);
				cur = f;
			} else {
				ASSERT_EQ(type[f]++, 0, "TYPE lines of %s", families[f][0]);
				ASSERT_TRUE(cur == f && help[f],
					    "TYPE of %s not right after its HELP", families[f][0]);
				ASSERT_TRUE(!strcmp(line + 7 + n + 1, families[f][1]),
					    "%s: type '%s', expected %s", families[f][0],
					    line + 7 + n + 1, families[f][1]);
			}
			continue;
		}
		ASSERT_TRUE(line[0] != '#', "a comment that is neither HELP nor TYPE: %s", line);
		n = strcspn(line, "{ ");
		f = sample_family(line, n);
		ASSERT_TRUE(f >= 0, "a sample of no family: %s", line);
		ASSERT_TRUE(f == cur && type[f], "sample outside its family's block: %s", line);
		(*nsamples)++;
	}
	for (i = 0; i < NFAM; i++)
		ASSERT_TRUE(help[i] == 1 && type[i] == 1, "%s: %d HELP and %d TYPE lines",
			    families[i][0], help[i], type[i]);
}

static void test_one_help_and_type_per_family_before_samples(void **state)
{
	size_t len, n;
	char *t = render_fixture(&len);

	check_structure(t, &n);
	ASSERT_TRUE(n > 100, "only %zu samples", n);
	free(t);
}

/* Every histogram series: buckets never decrease, the last is +Inf, and _count equals it. */
static void test_histograms_cumulative_count_is_inf(void **state)
{
	unsigned long long last = 0;
	char series[512] = "", le_last[64] = "";
	int series_seen = 0, counts_seen = 0;
	const char *p, *nl;
	size_t len;
	char *t = render_fixture(&len);

	for (p = t; *p; p = nl + 1) {
		char line[512], key[512], *b, *le, *sp;
		unsigned long long v;

		nl = strchr(p, '\n');
		snprintf(line, sizeof(line), "%.*s", (int)(nl - p), p);
		sp = strrchr(line, ' ');
		if (line[0] == '#' || !sp)
			continue;
		v = strtoull(sp + 1, NULL, 10);
		if ((b = strstr(line, "_bucket{"))) {
			/* the series: name without _bucket, labels without le */
			le = strstr(line, ",le=\"");
			ASSERT_TRUE(le, "a bucket without le: %s", line);
			snprintf(key, sizeof(key), "%.*s%.*s}", (int)(b - line), line,
				 (int)(le - b - 7), b + 7);
			if (strcmp(key, series)) {
				ASSERT_TRUE(!series[0] || !strcmp(le_last, "+Inf"),
					    "%s: last bucket le=%s, expected +Inf", series,
					    le_last);
				snprintf(series, sizeof(series), "%s", key);
				last = 0;
				series_seen++;
			}
			snprintf(le_last, sizeof(le_last), "%.*s", (int)strcspn(le + 5, "\""),
				 le + 5);
			ASSERT_TRUE(v >= last, "%s: bucket le=%s has %llu < %llu before it", key,
				    le_last, v, last);
			last = v;
		} else if ((b = strstr(line, "_count{"))) {
			snprintf(key, sizeof(key), "%.*s%.*s", (int)(b - line), line,
				 (int)(sp - b - 6), b + 6);
			ASSERT_TRUE(!strcmp(key, series), "%s follows the buckets of %s", line,
				    series);
			ASSERT_TRUE(!strcmp(le_last, "+Inf"), "%s: last bucket le=%s", series,
				    le_last);
			ASSERT_EQ(v, last, "%s vs its +Inf bucket", line);
			counts_seen++;
		}
	}
	ASSERT_EQ(series_seen, 4, "histogram series (3 routes and one connect)");
	ASSERT_EQ(counts_seen, 4, "_count samples");
	free(t);
}

static void test_missing_optional_parts_give_no_samples(void **state)
{
	static const char minimal[] =
		"{\"time\": 1, \"window\": null, \"latency_le\": [0.5, 1],"
		" \"agent\": {\"version\": \"0.7.0\", \"ready\": false},"
		" \"vips\": [{\"name\": \"v\", \"packets\": 1, \"backends\": ["
		"   {\"address\": \"198.18.2.2\", \"port\": 80, \"health\": \"unchecked\"}]}],"
		" \"drops\": {}, \"counters\": {}}";
	size_t len, n;
	char *t = render_json(minimal, &len);

	check_structure(t, &n);
	ASSERT_LINE(t, "sluice_agent_ready 0");
	ASSERT_LINE(t, "sluice_backend_up{vip=\"v\",backend=\"198.18.2.2:80\"} 1");
	ASSERT_TRUE(!strstr(t, "sluice_l7_connections_total{"), "l7 samples without l7");
	ASSERT_TRUE(!strstr(t, "\nsluice_splice_available "), "splice samples without _splice");
	ASSERT_TRUE(!strstr(t, "\nsluice_backend_circuit{"), "circuit samples without a breaker");
	ASSERT_TRUE(!strstr(t, "\nsluice_agent_uptime_seconds "), "a sample for a missing field");
	/* build_info, ready, vip packets, backend up and 3 health states */
	ASSERT_EQ(n, 7, "samples");
	free(t);
}

/* Numbers: integers as integers, reals shortest and exact, no exponent for 0.0005. */
static void test_number_formatting(void **state)
{
	static const char snap[] =
		"{\"agent\": {\"uptime\": 0.1, \"start_time\": 1e21, \"journal_offset\": 9007199254740993,"
		" \"loop_lag\": {\"max\": 0.30000000000000004}}, \"latency_le\": [0.0005, 0.00001, 100]}";
	size_t len;
	char *t = render_json(snap, &len);

	ASSERT_LINE(t, "sluice_agent_uptime_seconds 0.1");
	ASSERT_LINE(t, "sluice_agent_start_time_seconds 1e+21");
	ASSERT_LINE(t, "sluice_journal_offset 9007199254740993");
	ASSERT_LINE(t, "sluice_event_loop_lag_seconds 0.30000000000000004");
	free(t);
}

static void run_promtool(const char *text, size_t len, const char *what)
{
	char path[] = "/tmp/sl-test-metrics-XXXXXX", cmd[128], out[4096];
	size_t got;
	FILE *f;
	int fd, rc;

	if (system("command -v promtool >/dev/null 2>&1") != 0) {
		print_message(
			"promtool not installed (Debian package prometheus): check skipped\n");
		skip();
	}
	fd = mkstemp(path);
	ASSERT_TRUE(fd >= 0, "mkstemp");
	ASSERT_EQ(write(fd, text, len), len, "writing %s", path);
	close(fd);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
	f = popen(cmd, "r");
	ASSERT_TRUE(f, "popen %s", cmd);
	got = fread(out, 1, sizeof(out) - 1, f);
	out[got] = 0;
	rc = pclose(f);
	unlink(path);
	ASSERT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0 && got == 0,
		    "promtool check metrics on %s: status %d, output:\n%s", what, rc, out);
}

static void test_promtool_accepts_fixture(void **state)
{
	size_t len;
	char *t = render_fixture(&len);

	run_promtool(t, len, "the fixture");
	free(t);
}

/* 1,000 backends: every one rendered, still one block per family; the time is printed. */
static void test_thousand_backends(void **state)
{
	json_error_t e;
	json_t *snap = json_loads(fixture, 0, &e);
	json_t *bes = json_array();
	struct timespec a, b;
	size_t len, n, i, count = 0;
	char *t;
	const char *p;

	assert_non_null(snap);
	for (i = 0; i < 1000; i++) {
		char addr[64];

		snprintf(addr, sizeof(addr), i % 2 ? "198.18.%zu.%zu" : "2001:db8::%zx:%zx",
			 i / 250, i % 250 + 1);
		json_array_append_new(
			bes, json_pack("{s:s, s:i, s:i, s:I, s:I, s:I, s:i, s:s, s:s,"
				       " s:{s:i, s:i}, s:f}",
				       "address", addr, "port", 8080, "weight", 1, "packets",
				       (json_int_t)i * 1000, "bytes", (json_int_t)i * 100000,
				       "new_flows", (json_int_t)i, "active_flows", 0, "health",
				       "up", "circuit", "closed", "health_checks", "pass", 5,
				       "fail", 0, "health_latency", 0.0002));
	}
	json_object_set_new(json_array_get(json_object_get(snap, "vips"), 0), "backends", bes);
	clock_gettime(CLOCK_MONOTONIC, &a);
	t = sl_metrics_render(snap, &len);
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_non_null(t);
	print_message("1,000 backends: %zu bytes in %.2f ms\n", len,
		      (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6);
	for (p = t; (p = strstr(p, "\nsluice_backend_packets_total{vip=\"web\",")); p++)
		count++;
	ASSERT_EQ(count, 1000, "backend packet samples of vip web");
	check_structure(t, &n);
	run_promtool(t, len, "1,000 backends");
	free(t);
	json_decref(snap);
}

static void assert_close(double got, double exp, const char *what)
{
	if (isnan(exp) ? !isnan(got) : !(fabs(got - exp) <= 1e-12 * fmax(1, fabs(exp))))
		fail_msg("%s: got %.17g, expected %.17g", what, got, exp);
}

static void test_quantile_hand_computed(void **state)
{
	/* le 1, 2, 4, +Inf; counts 2, 2, 4, 0 (8 in all) */
	const uint64_t b[] = { 2, 2, 4, 0 };
	const double le[] = { 1, 2, 4 };
	const uint64_t empty[] = { 0, 0, 0, 0 };
	const uint64_t inf_only[] = { 0, 0, 0, 5 };
	const uint64_t some_inf[] = { 1, 0, 0, 1 };

	assert_close(sl_hist_quantile_arr(b, le, 4, 0.1), 0.4, "q0.1: rank 0.8 of 2 in [0,1]");
	assert_close(sl_hist_quantile_arr(b, le, 4, 0.25), 1.0, "q0.25: rank 2, end of [0,1]");
	assert_close(sl_hist_quantile_arr(b, le, 4, 0.5), 2.0, "q0.5: rank 4, end of (1,2]");
	assert_close(sl_hist_quantile_arr(b, le, 4, 0.75), 3.0, "q0.75: rank 6, 2 of 4 in (2,4]");
	assert_close(sl_hist_quantile_arr(b, le, 4, 1.0), 4.0, "q1: rank 8, end of (2,4]");
	assert_close(sl_hist_quantile_arr(empty, le, 4, 0.5), NAN, "empty");
	assert_close(sl_hist_quantile_arr(inf_only, le, 4, 0.5), 4.0, "all in +Inf");
	assert_close(sl_hist_quantile_arr(some_inf, le, 4, 0.99), 4.0, "rank in +Inf");
	assert_close(sl_hist_quantile_arr(some_inf, le, 4, 0.5), 1.0, "rank 1 of 1 in [0,1]");
	assert_close(sl_hist_quantile_arr(b, le, 4, 0), 0.0, "q0: start of the first bucket");
	assert_close(sl_hist_quantile_arr(some_inf, le, 1, 0.5), NAN, "one bucket");
	ASSERT_TRUE(isinf(sl_hist_quantile_arr(b, le, 4, -0.1)) &&
			    sl_hist_quantile_arr(b, le, 4, -0.1) < 0,
		    "q < 0 is -Inf");
	ASSERT_TRUE(isinf(sl_hist_quantile_arr(b, le, 4, 1.1)), "q > 1 is +Inf");
}

static void test_quantile_json_fixture(void **state)
{
	json_error_t e;
	json_t *snap = json_loads(fixture, 0, &e);
	const json_t *le = json_object_get(snap, "latency_le");
	const json_t *api = json_object_get(
		json_object_get(
			json_object_get(json_object_get(json_object_get(snap, "l7"), "web7"),
					"routes"),
			"api"),
		"latency");
	json_t *short_b = json_pack("[i, i]", 1, 1);

	assert_non_null(api);
	/* buckets 1,2,0,3,...,1 (7): p50 rank 3.5, cumulative 3 at 0.0025, 6 at 0.005 */
	assert_close(sl_hist_quantile(json_object_get(api, "buckets"), le, 0.5),
		     0.0025 + 0.0025 * (0.5 / 3), "p50");
	/* p99 rank 6.93 falls in +Inf: the highest finite bound */
	assert_close(sl_hist_quantile(json_object_get(api, "buckets"), le, 0.99), 10, "p99");
	assert_close(sl_hist_quantile(short_b, le, 0.5), NAN, "15 bounds for 2 buckets");
	json_decref(short_b);
	json_decref(snap);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_lines_agent_vip_backend),
		cmocka_unit_test(test_exact_lines_l7),
		cmocka_unit_test(test_label_value_escaping),
		cmocka_unit_test(test_one_help_and_type_per_family_before_samples),
		cmocka_unit_test(test_histograms_cumulative_count_is_inf),
		cmocka_unit_test(test_missing_optional_parts_give_no_samples),
		cmocka_unit_test(test_number_formatting),
		cmocka_unit_test(test_promtool_accepts_fixture),
		cmocka_unit_test(test_thousand_backends),
		cmocka_unit_test(test_quantile_hand_computed),
		cmocka_unit_test(test_quantile_json_fixture),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
