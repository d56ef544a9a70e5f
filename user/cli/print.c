// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Human output: aligned tables with a header line (like ipvsadm and ip), two
 * spaces between columns, numbers right-aligned and printed in full, a field
 * the agent left out printed as "-". Endpoints as sl_endpoint_str() writes them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "../lib/addr.h"

struct table {
	const char *align; /* 'l' or 'r' per column; its length is the number of columns */
	char **cells;	   /* row after row; the first row is the header */
	size_t n, cap;
};

static void table_addf(struct table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void table_addf(struct table *t, const char *fmt, ...)
{
	va_list ap;
	char **tmp;
	int r;

	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 64;
		tmp = realloc(t->cells, t->cap * sizeof(*tmp));
		if (!tmp)
			ctl_oom();
		t->cells = tmp;
	}
	va_start(ap, fmt);
	r = vasprintf(&t->cells[t->n], fmt, ap);
	va_end(ap);
	if (r < 0)
		ctl_oom();
	t->n++;
}

static void table_print(const struct table *t)
{
	size_t ncols = strlen(t->align), i, c, w, linelen = 0, off;
	size_t width[16] = { 0 };
	char *line;

	if (ncols > sizeof(width) / sizeof(width[0]))
		ncols = sizeof(width) / sizeof(width[0]);
	for (i = 0; i < t->n; i++) {
		w = strlen(t->cells[i]);
		if (w > width[i % ncols])
			width[i % ncols] = w;
	}
	for (c = 0; c < ncols; c++)
		linelen += width[c] + 2;
	line = malloc(linelen + 1);
	if (!line)
		ctl_oom();
	for (i = 0; i + ncols <= t->n; i += ncols) {
		off = 0;
		for (c = 0; c < ncols; c++) {
			const char *s = t->cells[i + c];
			int pad = (int)(width[c] - strlen(s));

			if (c) {
				memcpy(line + off, "  ", 2);
				off += 2;
			}
			if (t->align[c] == 'r')
				off += sprintf(line + off, "%*s%s", pad, "", s);
			else
				off += sprintf(line + off, "%s%*s", s, pad, "");
		}
		while (off && line[off - 1] == ' ')
			off--; /* no trailing blanks */
		line[off] = 0;
		puts(line);
	}
	free(line);
}

static void table_free(struct table *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		free(t->cells[i]);
	free(t->cells);
}

static const char *str(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : "-";
}

/* An integer field as text, "-" when it is missing. */
static const char *num(const json_t *o, const char *key, char *buf, size_t len)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_integer(v))
		return "-";
	snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	return buf;
}

static json_int_t int_or_0(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? json_integer_value(v) : 0;
}

/* "address" and "port" of @o as "198.18.1.2:8080" / "[2001:db8::2]:8080". */
static const char *endpoint(const json_t *o, char *buf, size_t len)
{
	json_int_t port = int_or_0(o, "port");
	const char *addr = str(o, "address");
	struct sl_endpoint ep = { .port = 0 };

	if (sl_addr_parse(addr, ep.addr, &ep.family) || port < 0 || port > 65535) {
		/* Not an address we know how to write: show what the agent sent. */
		snprintf(buf, len, "%s:%" JSON_INTEGER_FORMAT, addr, port);
		return buf;
	}
	ep.port = (__u16)port;
	return sl_endpoint_str(&ep, buf, len);
}

/* The LIMIT column: "-", or e.g. "conn 100/s burst 200, pkt 5000/s burst 10000, per addr". */
static void limit_text(const json_t *limit, char *buf, size_t len)
{
	json_int_t conn = int_or_0(limit, "conn_rate"), pkt = int_or_0(limit, "pkt_rate");
	size_t off = 0;

	if (!json_is_object(limit) || (!conn && !pkt)) {
		snprintf(buf, len, "-");
		return;
	}
	buf[0] = 0;
	if (conn)
		off += snprintf(buf + off, len - off,
				"conn %" JSON_INTEGER_FORMAT "/s burst %" JSON_INTEGER_FORMAT ", ",
				conn, int_or_0(limit, "conn_burst"));
	if (pkt && off < len)
		off += snprintf(buf + off, len - off,
				"pkt %" JSON_INTEGER_FORMAT "/s burst %" JSON_INTEGER_FORMAT ", ",
				pkt, int_or_0(limit, "pkt_burst"));
	if (off < len)
		snprintf(buf + off, len - off, "per %s", str(limit, "per"));
}

/* @a must be an array of objects: anything else means sluiced and sluicectl disagree. */
static int check_array(const json_t *a, const char *cmd)
{
	const json_t *e;
	size_t i;

	if (!json_is_array(a)) {
		ctl_err("sluiced's answer to %s is not a list (is sluicectl older than sluiced?)",
			cmd);
		return SL_CTL_UNREACHABLE;
	}
	json_array_foreach(a, i, e) {
		if (!json_is_object(e)) {
			ctl_err("sluiced's answer to %s has an item that is not an object (is sluicectl older than sluiced?)",
				cmd);
			return SL_CTL_UNREACHABLE;
		}
	}
	return SL_CTL_OK;
}

int ctl_print_vips(const json_t *result)
{
	struct table t = { .align = "lllllrl" };
	char ep[80], n[32], lim[160];
	const json_t *v;
	size_t i;
	int ret;

	ret = check_array(result, "vip.list");
	if (ret)
		return ret;
	table_addf(&t, "NAME");
	table_addf(&t, "ADDRESS");
	table_addf(&t, "PROTO");
	table_addf(&t, "STRATEGY");
	table_addf(&t, "FORWARD");
	table_addf(&t, "BACKENDS");
	table_addf(&t, "LIMIT");
	json_array_foreach(result, i, v) {
		limit_text(json_object_get(v, "limit"), lim, sizeof(lim));
		table_addf(&t, "%s", str(v, "name"));
		table_addf(&t, "%s", endpoint(v, ep, sizeof(ep)));
		table_addf(&t, "%s", str(v, "protocol"));
		table_addf(&t, "%s", str(v, "strategy"));
		/* an L7 VIP's traffic goes through the gateway, not a forwarding mode */
		table_addf(&t, "%s", json_object_get(v, "l7") ? "l7" : str(v, "forward"));
		table_addf(&t, "%s", num(v, "backends", n, sizeof(n)));
		table_addf(&t, "%s", lim);
	}
	table_print(&t);
	table_free(&t);
	return SL_CTL_OK;
}

/*
 * PACKETS and BYTES (in 'stats' and --json) make room for HEALTH and CIRCUIT,
 * so that a row stays within 100 columns.
 */
int ctl_print_backends(const json_t *result)
{
	struct table t = { .align = "llrlllrr" };
	char ep[80], n[32];
	const json_t *b;
	size_t i;
	int ret;

	ret = check_array(result, "backend.list");
	if (ret)
		return ret;
	table_addf(&t, "VIP");
	table_addf(&t, "BACKEND");
	table_addf(&t, "WEIGHT");
	table_addf(&t, "STATE");
	table_addf(&t, "HEALTH");
	table_addf(&t, "CIRCUIT");
	table_addf(&t, "ACTIVE");
	table_addf(&t, "NEW");
	json_array_foreach(result, i, b) {
		const char *state = str(b, "state");

		table_addf(&t, "%s", str(b, "vip"));
		table_addf(&t, "%s", endpoint(b, ep, sizeof(ep)));
		table_addf(&t, "%s", num(b, "weight", n, sizeof(n)));
		/* One word, so that the columns after it stay easy to cut. */
		if (!strcmp(state, "draining") && json_is_integer(json_object_get(b, "drain_left")))
			table_addf(&t, "draining(%" JSON_INTEGER_FORMAT "s)",
				   int_or_0(b, "drain_left"));
		else
			table_addf(&t, "%s", state);
		/* "-" from an agent older than health checks and breakers */
		table_addf(&t, "%s", str(b, "health"));
		table_addf(&t, "%s", str(b, "circuit"));
		table_addf(&t, "%s", num(b, "active_flows", n, sizeof(n)));
		table_addf(&t, "%s", num(b, "new_flows", n, sizeof(n)));
	}
	table_print(&t);
	table_free(&t);
	return SL_CTL_OK;
}

/* A free-text cell on one line: control characters become blanks. */
static char *one_line(const char *s)
{
	char *d = strdup(s), *p;

	if (!d)
		ctl_oom();
	for (p = d; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return d;
}

/* "2026-12-05T00:01:02.123456789Z" as "2026-12-05T00:01:02Z": seconds are enough here. */
static void since_text(const json_t *v, char *buf, size_t len)
{
	const char *s, *dot;
	size_t frac;

	if (!json_is_string(v)) {
		snprintf(buf, len, "-");
		return;
	}
	s = json_string_value(v);
	dot = strchr(s, '.');
	frac = dot ? strspn(dot + 1, "0123456789") : 0;
	if (dot && frac && dot - s == 19)
		snprintf(buf, len, "%.*s%s", (int)(dot - s), s, dot + 1 + frac);
	else
		snprintf(buf, len, "%s", s);
}

/* latency_ms: "0.42ms", "12.3ms", "1500ms"; "-" when null or missing. */
static void latency_text(const json_t *v, char *buf, size_t len)
{
	double ms;

	if (!json_is_number(v)) {
		snprintf(buf, len, "-");
		return;
	}
	ms = json_number_value(v);
	snprintf(buf, len, ms < 10 ? "%.2fms" : ms < 1000 ? "%.1fms" : "%.0fms", ms);
}

int ctl_print_health(const json_t *result)
{
	struct table t = { .align = "lllllrrl" };
	char n[32], since[64], lat[64];
	const json_t *h;
	size_t i;
	int ret;

	ret = check_array(result, "health.show");
	if (ret)
		return ret;
	table_addf(&t, "VIP");
	table_addf(&t, "BACKEND");
	table_addf(&t, "TYPE");
	table_addf(&t, "STATE");
	table_addf(&t, "SINCE");
	table_addf(&t, "CHECKS");
	table_addf(&t, "LATENCY");
	table_addf(&t, "LAST-ERROR");
	json_array_foreach(result, i, h) {
		char *err;

		since_text(json_object_get(h, "since"), since, sizeof(since));
		latency_text(json_object_get(h, "latency_ms"), lat, sizeof(lat));
		err = one_line(str(h, "last_error"));
		table_addf(&t, "%s", str(h, "vip"));
		table_addf(&t, "%s", str(h, "backend"));
		table_addf(&t, "%s", str(h, "type"));
		table_addf(&t, "%s", str(h, "state"));
		table_addf(&t, "%s", since);
		table_addf(&t, "%s", num(h, "checks", n, sizeof(n)));
		table_addf(&t, "%s", lat);
		table_addf(&t, "%s", err);
		free(err);
	}
	table_print(&t);
	table_free(&t);
	return SL_CTL_OK;
}

/* A word of an event line: as it is when it is plain, else as a JSON string (quoted, escaped). */
static void put_word(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	json_t *j;
	char *q;

	for (; *p; p++)
		if (*p <= 0x20 || *p == 0x7f || *p == '"' || *p == '\\')
			break;
	if (*s && !*p) {
		fputs(s, stdout);
		return;
	}
	j = json_string(s);
	q = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
	json_decref(j);
	if (!q)
		ctl_oom();
	fputs(q, stdout);
	free(q);
}

/* " key=value" for each leaf of @data; nested objects as dotted keys, arrays as JSON. */
static void put_data(const char *prefix, const json_t *data)
{
	const char *key;
	json_t *v;
	char *k, *q;

	json_object_foreach((json_t *)data, key, v) {
		if (asprintf(&k, "%s%s%s", prefix, *prefix ? "." : "", key) < 0)
			ctl_oom();
		if (json_is_object(v) && json_object_size(v)) {
			put_data(k, v);
			free(k);
			continue;
		}
		putchar(' ');
		put_word(k);
		putchar('=');
		if (json_is_string(v)) {
			put_word(json_string_value(v));
		} else {
			q = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
			if (!q)
				ctl_oom();
			fputs(q, stdout);
			free(q);
		}
		free(k);
	}
}

static void put_field(const json_t *ev, const char *key)
{
	const json_t *v = json_object_get(ev, key);

	fputs("  ", stdout);
	if (json_is_string(v))
		put_word(json_string_value(v));
	else
		putchar('-');
}

void ctl_print_event(const json_t *ev)
{
	const json_t *data = json_object_get(ev, "data");
	const json_t *off = json_object_get(ev, "offset");

	if (json_is_integer(off))
		printf("%" JSON_INTEGER_FORMAT, json_integer_value(off));
	else
		putchar('-');
	put_field(ev, "ts");
	put_field(ev, "type");
	put_field(ev, "vip");
	put_field(ev, "backend");
	if (json_is_object(data) && json_object_size(data)) {
		putchar(' ');
		put_data("", data);
	}
	putchar('\n');
}

/* "LABEL: name N, name N" for the non-zero integers of @o, or "LABEL: none". */
static void print_nonzero(const char *label, const json_t *o)
{
	const char *key, *sep = " ";
	const json_t *v;

	if (!json_is_object(o))
		return; /* the agent did not send this part */
	printf("%s:", label);
	json_object_foreach((json_t *)o, key, v) {
		if (!json_is_integer(v) || !json_integer_value(v))
			continue;
		printf("%s%s %" JSON_INTEGER_FORMAT, sep, key, json_integer_value(v));
		sep = ", ";
	}
	if (*sep == ' ')
		printf(" none");
	putchar('\n');
}

/* The L7 gateway's per-VIP counters (docs/gateway.md), when there are L7 VIPs. */
static void print_l7(const json_t *l7)
{
	static const char *const cols[] = { "requests",	    "status_2xx",   "status_4xx",
					    "status_5xx",   "unauthorized", "rate_limited",
					    "copied_bytes", "spliced_bytes" };
	struct table t = { .align = "lrrrrrrrr" };
	const char *name;
	const json_t *v;
	char n[32];
	size_t i;

	if (!json_is_object(l7))
		return;
	table_addf(&t, "L7 VIP");
	table_addf(&t, "REQUESTS");
	table_addf(&t, "2XX");
	table_addf(&t, "4XX");
	table_addf(&t, "5XX");
	table_addf(&t, "401");
	table_addf(&t, "429");
	table_addf(&t, "COPIED");
	table_addf(&t, "SPLICED");
	json_object_foreach((json_t *)l7, name, v) {
		if (name[0] == '_')
			continue;
		table_addf(&t, "%s", name);
		for (i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
			table_addf(&t, "%s", num(v, cols[i], n, sizeof(n)));
	}
	if (t.n > 9) {
		printf("\n");
		table_print(&t);
	}
	table_free(&t);
}

int ctl_print_stats(const json_t *result)
{
	struct table t = { .align = "lrrrrr" };
	const json_t *vips = json_object_get(result, "vips");
	const json_t *v, *b, *bes;
	char ep[80], n[32];
	size_t i, j;
	int ret;

	if (!json_is_object(result)) {
		ctl_err("sluiced's answer to stats is not an object (is sluicectl older than sluiced?)");
		return SL_CTL_UNREACHABLE;
	}
	ret = check_array(vips, "stats");
	if (ret)
		return ret;
	table_addf(&t, "VIP");
	table_addf(&t, "PACKETS");
	table_addf(&t, "BYTES");
	table_addf(&t, "NEW");
	table_addf(&t, "ACTIVE");
	table_addf(&t, "DROPS");
	json_array_foreach(vips, i, v) {
		table_addf(&t, "%s", str(v, "name"));
		table_addf(&t, "%s", num(v, "packets", n, sizeof(n)));
		table_addf(&t, "%s", num(v, "bytes", n, sizeof(n)));
		table_addf(&t, "%s", num(v, "new_flows", n, sizeof(n)));
		table_addf(&t, "%s", num(v, "active_flows", n, sizeof(n)));
		table_addf(&t, "%s", num(v, "drops", n, sizeof(n)));
		bes = json_object_get(v, "backends");
		json_array_foreach(bes, j, b) {
			table_addf(&t, "  %s", endpoint(b, ep, sizeof(ep)));
			table_addf(&t, "%s", num(b, "packets", n, sizeof(n)));
			table_addf(&t, "%s", num(b, "bytes", n, sizeof(n)));
			table_addf(&t, "%s", num(b, "new_flows", n, sizeof(n)));
			table_addf(&t, "%s", num(b, "active_flows", n, sizeof(n)));
			table_addf(&t, "%s", ""); /* drops are counted per VIP */
		}
	}
	table_print(&t);
	table_free(&t);
	print_nonzero("drops", json_object_get(result, "drops"));
	print_nonzero("counters", json_object_get(result, "counters"));
	print_l7(json_object_get(result, "l7"));
	return SL_CTL_OK;
}
