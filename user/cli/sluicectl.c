// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluicectl: the command line of sluiced. Each command is checked here
 * (arguments, addresses, numbers, enum names) before the agent is contacted,
 * turned into one request of the control protocol (docs/api.md), and the
 * result printed for people, or as JSON with --json.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <jansson.h>

#include "ctl.h"
#include "../lib/addr.h"

enum opt {
	OPT_MODE,
	OPT_STRATEGY,
	OPT_FORWARD,
	OPT_WEIGHT,
	OPT_TIMEOUT,
	OPT_CONN_RATE,
	OPT_CONN_BURST,
	OPT_PKT_RATE,
	OPT_PKT_BURST,
	OPT_PER,
	OPT_L7,
	OPT_TYPE,
	OPT_PATH,
	OPT_HOST,
	OPT_EXPECT,
	OPT_INTERVAL,
	OPT_RISE,
	OPT_FALL,
	OPT_FROM,
	OPT_FOLLOW,
	OPT_WATCH,
	OPT__MAX,
};

static const char *const opt_names[OPT__MAX] = {
	"mode",	     "strategy",   "forward",  "weight",    "timeout",
	"conn-rate", "conn-burst", "pkt-rate", "pkt-burst", "per",
	"l7",	     "type",	   "path",     "host",	    "expect",
	"interval",  "rise",	   "fall",     "from",	    "follow",
	"watch",
};

#define O(x) (1u << OPT_##x)
/* Options without a value. */
#define FLAG_OPTS (O(FOLLOW) | O(WATCH))
#define POS_MAX 2
/* Ranges sluiced accepts (docs/api.md, user/agent/state.c), checked here for a usage error. */
#define WEIGHT_MAX 65535ull
#define DRAIN_TIMEOUT_DEFAULT 300
#define DRAIN_TIMEOUT_MAX (7 * 86400ull)
#define CONN_RATE_MAX 100000000ull /* conn_rate and conn_burst */
#define PKT_RATE_MAX 1000000000ull /* pkt_rate and pkt_burst */
/* Health checks (docs/api.md health.set); durations in milliseconds. */
#define HC_INTERVAL_MIN 10ull /* the agent's ranges (user/agent/health.c) */
#define HC_TIMEOUT_MIN 1ull
#define HC_DUR_MAX 3600000ull /* 1 h, for both */
#define HC_RISE_FALL_MAX 100ull
/* A synopsis that an error quotes outside the command table too. */
#define BACKEND_SET_SYNOPSIS "backend set VIP ADDR[:PORT] --weight N"

struct ctl {
	const char *socket; /* --socket, $SLUICE_SOCKET, or the default */
	int json;	    /* --json: print the result as one line of JSON */
};

/* A command line after the command words: its positional arguments and options. */
struct args {
	const char *pos[POS_MAX];
	int npos;
	const char *opt[OPT__MAX]; /* NULL when not given */
};

struct cmd {
	const char *group; /* "vip", "backend", ...; NULL for a one-word command */
	const char *name;
	const char *synopsis;		/* after "sluicectl ", in the usage and its errors */
	const char *pos_names[POS_MAX]; /* for "missing NAME" */
	int min_pos, max_pos;
	unsigned int opts; /* O(...) it accepts */
	int (*run)(struct ctl *c, const struct args *a);
};

static const char *prog_usage_tail =
	"\n"
	"Addresses: 198.18.1.2:8080, [2001:db8::2]:8080; a backend given without a port\n"
	"uses the VIP's. Defaults: /tcp, --strategy wrr, --forward nat, --weight 1\n"
	"(0..65535; 0 takes no new flows), --mode native, --timeout 300 (0..604800).\n"
	"'limit set' changes only the values given; rates are per second and per client\n"
	"address, or per /24 (IPv4) and /64 (IPv6) prefix with --per prefix.\n"
	"'health set' changes only the values given, for the VIP or, with ADDR, for one\n"
	"backend; durations: 500ms, 1s, 1.5s, 2m, 1h, or a number of milliseconds.\n"
	"'events --type' takes event types or families, comma-separated (health,circuit);\n"
	"'events --follow' prints events as they come, until Ctrl-C.\n"
	"'stats --watch' redraws the rates per second every second, until q or Ctrl-C.\n"
	"\n"
	"options:\n"
	"  --socket PATH  sluiced's control socket (default: $SLUICE_SOCKET, else\n"
	"                 " SL_CTL_DEFAULT_SOCKET ")\n"
	"  --json         print the agent's result as JSON, on one line\n"
	"  -h, --help     print this help\n"
	"\n"
	"exit status: 0 done, 1 refused by sluiced, 2 usage error, 3 sluiced not reachable;\n"
	"events --follow: 0 on Ctrl-C, 1 when cut off as too slow, 3 when sluiced closes\n"
	"the stream (it stopped); stats --watch: 0 on q or Ctrl-C\n";

static void usage(FILE *f);

/* ---- checking words and numbers; each prints its error and returns SL_CTL_USAGE ---- */

static int parse_range(const char *what, const char *s, unsigned long long min,
		       unsigned long long max, unsigned long long *out)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9') {
		ctl_err("%s '%s' is not a number: write one in %llu..%llu", what, s, min, max);
		return SL_CTL_USAGE;
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end) {
		ctl_err("%s '%s' is not a number: write one in %llu..%llu", what, s, min, max);
		return SL_CTL_USAGE;
	}
	if (errno == ERANGE || v < min || v > max) {
		ctl_err("%s %s is not in %llu..%llu", what, s, min, max);
		return SL_CTL_USAGE;
	}
	*out = v;
	return SL_CTL_OK;
}

static int parse_num(const char *what, const char *s, unsigned long long max,
		     unsigned long long *out)
{
	return parse_range(what, s, 0, max, out);
}

/* 100 -> "100ms", 3600000 -> "1h": a range bound as people write it. */
static const char *dur_str(unsigned long long ms, char *buf, size_t len)
{
	if (ms && ms % 3600000 == 0)
		snprintf(buf, len, "%lluh", ms / 3600000);
	else if (ms && ms % 60000 == 0)
		snprintf(buf, len, "%llum", ms / 60000);
	else if (ms && ms % 1000 == 0)
		snprintf(buf, len, "%llus", ms / 1000);
	else
		snprintf(buf, len, "%llums", ms);
	return buf;
}

/*
 * A duration into milliseconds: digits, an optional fraction, and a unit of
 * ms, s, m or h (none: milliseconds); it must come to whole milliseconds in
 * @min..@max.
 */
static int parse_dur(const char *what, const char *s, unsigned long long min,
		     unsigned long long max, unsigned long long *out)
{
	static const struct {
		const char *unit;
		unsigned long long ms;
	} units[] = { { "", 1 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 } };
	unsigned long long whole = 0, frac = 0, scale = 1, mult = 0, ms;
	const char *p = s;
	char lo[32], hi[32];
	size_t i, nd;

	for (nd = 0; *p >= '0' && *p <= '9'; p++, nd++)
		if (nd < 12)
			whole = whole * 10 + (unsigned long long)(*p - '0');
	if (!nd)
		goto bad;
	if (nd > 12)
		whole = 1000000000000ull; /* out of range whatever the unit, no overflow */
	if (*p == '.') {
		for (p++, nd = 0; *p >= '0' && *p <= '9'; p++, nd++) {
			if (nd >= 9)
				goto bad;
			frac = frac * 10 + (unsigned long long)(*p - '0');
			scale *= 10;
		}
		if (!nd)
			goto bad;
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(p, units[i].unit))
			mult = units[i].ms;
	if (!mult)
		goto bad;
	if ((frac * mult) % scale) {
		ctl_err("%s '%s' is not a whole number of milliseconds", what, s);
		return SL_CTL_USAGE;
	}
	ms = whole * mult + frac * mult / scale;
	if (ms < min || ms > max) {
		ctl_err("%s %s is not in %s..%s", what, s, dur_str(min, lo, sizeof(lo)),
			dur_str(max, hi, sizeof(hi)));
		return SL_CTL_USAGE;
	}
	*out = ms;
	return SL_CTL_OK;

bad:
	ctl_err("%s '%s' is not a duration: write e.g. 500ms, 1s, 1.5s, 2m or a number of milliseconds",
		what, s);
	return SL_CTL_USAGE;
}

/* @s must be one of the '|'-separated words of @names. */
static int parse_word(const char *what, const char *s, const char *names)
{
	size_t n = strlen(s), len;
	const char *p = names;

	for (; *p; p += len + !!p[len]) {
		len = strcspn(p, "|");
		if (len == n && !strncmp(p, s, n))
			return SL_CTL_OK;
	}
	ctl_err("%s '%s' is not one of %s", what, s, names);
	return SL_CTL_USAGE;
}

static int parse_endpoint(const char *what, const char *s, int need_port, struct sl_endpoint *ep)
{
	char err[256];

	if (sl_endpoint_parse(s, ep, need_port, err, sizeof(err))) {
		ctl_err("%s: %s", what, err);
		return SL_CTL_USAGE;
	}
	return SL_CTL_OK;
}

/* What Linux accepts as an interface name (dev_valid_name()). */
static int parse_iface(const char *s)
{
	if (!*s || strlen(s) > 15) {
		ctl_err("interface name '%s' is not 1..15 characters long", s);
		return SL_CTL_USAGE;
	}
	if (!strcmp(s, ".") || !strcmp(s, "..") || strpbrk(s, "/: \t\n")) {
		ctl_err("'%s' is not an interface name (see 'ip link')", s);
		return SL_CTL_USAGE;
	}
	return SL_CTL_OK;
}

/* ---- building requests ---- */

static void set(json_t *o, const char *key, json_t *v)
{
	if (!v || json_object_set_new(o, key, v))
		ctl_oom();
}

static json_t *new_object(void)
{
	json_t *o = json_object();

	if (!o)
		ctl_oom();
	return o;
}

/* {"cmd": @cmd, "args": @args}; "args" left out when NULL. Takes @args. */
static json_t *request(const char *cmd, json_t *args)
{
	json_t *req = new_object();

	set(req, "cmd", json_string(cmd));
	if (args)
		set(req, "args", args);
	return req;
}

/* Address and port of @ep into @args, the address as text without brackets. */
static void set_endpoint(json_t *args, const struct sl_endpoint *ep)
{
	char buf[INET6_ADDRSTRLEN];

	set(args, "address", json_string(sl_addr_str(ep->addr, ep->family, buf, sizeof(buf))));
	set(args, "port", json_integer(ep->port));
}

/*
 * Send @req (consumed) and wait for the reply. Returns an exit status; on 0,
 * *reply is the whole reply (free it) and *result its "result" (may be NULL).
 */
static int call(struct ctl *c, json_t *req, json_t **reply, json_t **result)
{
	int ret = ctl_call(c->socket, req, reply);

	json_decref(req);
	if (!ret)
		*result = json_object_get(*reply, "result");
	return ret;
}

/*
 * --json: the result on one line ("null" if the agent sent none). Reals with
 * 15 significant digits, so that a latency of 0.42 stays 0.42 rather than
 * 0.41999999999999998 (every decimal of up to 15 digits comes back as written).
 */
static void print_json(const json_t *result, size_t flags)
{
	char *s = json_dumps(result ? result : json_null(),
			     flags | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));

	if (!s)
		ctl_oom();
	puts(s);
	free(s);
}

/* A change: nothing to print on success (like ip), the result with --json. */
static int change(struct ctl *c, json_t *req)
{
	json_t *reply, *result;
	int ret;

	ret = call(c, req, &reply, &result);
	if (ret)
		return ret;
	if (c->json)
		print_json(result, JSON_COMPACT);
	json_decref(reply);
	return SL_CTL_OK;
}

/* A query: @human prints the result for people. */
static int query(struct ctl *c, json_t *req, int (*human)(const json_t *result))
{
	json_t *reply, *result;
	int ret;

	ret = call(c, req, &reply, &result);
	if (ret)
		return ret;
	if (c->json)
		print_json(result, JSON_COMPACT);
	else
		ret = human(result);
	json_decref(reply);
	return ret;
}

/* ---- the commands ---- */

static int cmd_help(struct ctl *c, const struct args *a)
{
	usage(stdout);
	return SL_CTL_OK;
}

static int cmd_attach(struct ctl *c, const struct args *a)
{
	const char *mode = a->opt[OPT_MODE] ? a->opt[OPT_MODE] : "native";
	json_t *args;

	if (parse_iface(a->pos[0]) || parse_word("mode", mode, "native|generic"))
		return SL_CTL_USAGE;
	args = new_object();
	set(args, "iface", json_string(a->pos[0]));
	set(args, "mode", json_string(mode));
	return change(c, request("attach", args));
}

static int cmd_detach(struct ctl *c, const struct args *a)
{
	json_t *args;

	if (parse_iface(a->pos[0]))
		return SL_CTL_USAGE;
	args = new_object();
	set(args, "iface", json_string(a->pos[0]));
	return change(c, request("detach", args));
}

static int check_strategy_forward(const struct args *a)
{
	if (a->opt[OPT_STRATEGY] && sl_strategy_from(a->opt[OPT_STRATEGY]) < 0) {
		ctl_err("strategy '%s' is not one of " SL_STRATEGY_NAMES, a->opt[OPT_STRATEGY]);
		return SL_CTL_USAGE;
	}
	if (a->opt[OPT_FORWARD] && sl_fwd_from(a->opt[OPT_FORWARD]) < 0) {
		ctl_err("forward '%s' is not one of " SL_FWD_NAMES, a->opt[OPT_FORWARD]);
		return SL_CTL_USAGE;
	}
	return SL_CTL_OK;
}

static int cmd_vip_add(struct ctl *c, const struct args *a)
{
	const char *strategy = a->opt[OPT_STRATEGY] ? a->opt[OPT_STRATEGY] : "wrr";
	const char *forward = a->opt[OPT_FORWARD] ? a->opt[OPT_FORWARD] : "nat";
	const char *proto = "tcp", *slash;
	struct sl_endpoint ep;
	json_t *args;
	char *addr;
	int ret;

	/* ADDR:PORT[/tcp|/udp]: no address has a '/', so the last one starts the protocol. */
	slash = strrchr(a->pos[1], '/');
	if (slash) {
		proto = slash + 1;
		if (sl_proto_from(proto) < 0) {
			ctl_err("protocol '%s' in '%s' is not one of tcp|udp", proto, a->pos[1]);
			return SL_CTL_USAGE;
		}
	}
	addr = strndup(a->pos[1], slash ? (size_t)(slash - a->pos[1]) : strlen(a->pos[1]));
	if (!addr)
		ctl_oom();
	ret = parse_endpoint("VIP address", addr, 1, &ep);
	free(addr);
	if (ret || check_strategy_forward(a))
		return SL_CTL_USAGE;
	args = new_object();
	set(args, "name", json_string(a->pos[0]));
	set_endpoint(args, &ep);
	set(args, "protocol", json_string(proto));
	set(args, "strategy", json_string(strategy));
	set(args, "forward", json_string(forward));
	if (a->opt[OPT_L7]) {
		json_t *l7;

		if (!strcmp(a->opt[OPT_L7], "default")) {
			l7 = json_true();
		} else {
			json_error_t je;

			l7 = json_load_file(a->opt[OPT_L7], JSON_REJECT_DUPLICATES, &je);
			if (!l7) {
				ctl_err("--l7 %s: %s (line %d): give a JSON file holding the \"l7\" "
					"object, or 'default'",
					a->opt[OPT_L7], je.text, je.line);
				json_decref(args);
				return SL_CTL_USAGE;
			}
		}
		set(args, "l7", l7);
	}
	return change(c, request("vip.add", args));
}

static int cmd_vip_set(struct ctl *c, const struct args *a)
{
	json_t *args;

	if (!a->opt[OPT_STRATEGY] && !a->opt[OPT_FORWARD]) {
		ctl_err("vip set %s: nothing to change: give --strategy and/or --forward",
			a->pos[0]);
		return SL_CTL_USAGE;
	}
	if (check_strategy_forward(a))
		return SL_CTL_USAGE;
	args = new_object();
	set(args, "name", json_string(a->pos[0]));
	if (a->opt[OPT_STRATEGY])
		set(args, "strategy", json_string(a->opt[OPT_STRATEGY]));
	if (a->opt[OPT_FORWARD])
		set(args, "forward", json_string(a->opt[OPT_FORWARD]));
	return change(c, request("vip.set", args));
}

static int cmd_vip_del(struct ctl *c, const struct args *a)
{
	json_t *args = new_object();

	set(args, "name", json_string(a->pos[0]));
	return change(c, request("vip.del", args));
}

static int cmd_vip_list(struct ctl *c, const struct args *a)
{
	return query(c, request("vip.list", NULL), ctl_print_vips);
}

/* "VIP ADDR[:PORT]" of the backend commands into new args. Returns NULL after a usage error. */
static json_t *backend_args(const struct args *a, struct sl_endpoint *ep)
{
	json_t *args;

	if (parse_endpoint("backend address", a->pos[1], 0, ep))
		return NULL;
	args = new_object();
	set(args, "vip", json_string(a->pos[0]));
	set_endpoint(args, ep);
	return args;
}

static int backend_weight(struct ctl *c, const struct args *a, const char *cmd)
{
	unsigned long long weight = 1;
	struct sl_endpoint ep;
	json_t *args;

	if (a->opt[OPT_WEIGHT] && parse_num("weight", a->opt[OPT_WEIGHT], WEIGHT_MAX, &weight))
		return SL_CTL_USAGE;
	args = backend_args(a, &ep);
	if (!args)
		return SL_CTL_USAGE;
	set(args, "weight", json_integer((json_int_t)weight));
	return change(c, request(cmd, args));
}

static int cmd_backend_add(struct ctl *c, const struct args *a)
{
	return backend_weight(c, a, "backend.add");
}

static int cmd_backend_set(struct ctl *c, const struct args *a)
{
	if (!a->opt[OPT_WEIGHT]) {
		ctl_err("backend set: --weight is required (usage: sluicectl " BACKEND_SET_SYNOPSIS
			")");
		return SL_CTL_USAGE;
	}
	return backend_weight(c, a, "backend.set");
}

static int cmd_backend_drain(struct ctl *c, const struct args *a)
{
	unsigned long long timeout = DRAIN_TIMEOUT_DEFAULT;
	json_t *args, *reply, *result, *active;
	struct sl_endpoint ep;
	char buf[80];
	json_int_t n;
	int ret;

	if (a->opt[OPT_TIMEOUT] &&
	    parse_num("timeout", a->opt[OPT_TIMEOUT], DRAIN_TIMEOUT_MAX, &timeout))
		return SL_CTL_USAGE;
	args = backend_args(a, &ep);
	if (!args)
		return SL_CTL_USAGE;
	set(args, "timeout", json_integer((json_int_t)timeout));
	ret = call(c, request("backend.drain", args), &reply, &result);
	if (ret)
		return ret;
	active = json_object_get(result, "active");
	n = json_integer_value(active);
	sl_endpoint_str(&ep, buf, sizeof(buf));
	if (c->json)
		print_json(result, JSON_COMPACT);
	else if (!json_is_integer(active))
		printf("draining %s in %s; removed when its flows end or in %llu s\n", buf,
		       a->pos[0], timeout);
	else if (n == 0)
		printf("draining %s in %s: no active flows; removed shortly\n", buf, a->pos[0]);
	else
		printf("draining %s in %s: %" JSON_INTEGER_FORMAT
		       " active flow%s; removed when %s or in %llu s\n",
		       buf, a->pos[0], n, n == 1 ? "" : "s", n == 1 ? "it ends" : "they end",
		       timeout);
	json_decref(reply);
	return SL_CTL_OK;
}

static int cmd_backend_del(struct ctl *c, const struct args *a)
{
	struct sl_endpoint ep;
	json_t *args;

	args = backend_args(a, &ep);
	if (!args)
		return SL_CTL_USAGE;
	return change(c, request("backend.del", args));
}

/* A query with an optional VIP name: {"vip": NAME} or no args. */
static json_t *vip_filter(const struct args *a)
{
	json_t *args;

	if (!a->npos)
		return NULL;
	args = new_object();
	set(args, "vip", json_string(a->pos[0]));
	return args;
}

static int cmd_backend_list(struct ctl *c, const struct args *a)
{
	return query(c, request("backend.list", vip_filter(a)), ctl_print_backends);
}

/* --conn-rate/--conn-burst or --pkt-rate/--pkt-burst: those given, into @args. */
static int limit_pair(const struct args *a, int rate_opt, int burst_opt, unsigned long long max,
		      json_t *args)
{
	const char *rate_s = a->opt[rate_opt], *burst_s = a->opt[burst_opt];
	unsigned long long rate = 0, burst = 0;

	if ((rate_s && parse_num(opt_names[rate_opt], rate_s, max, &rate)) ||
	    (burst_s && parse_num(opt_names[burst_opt], burst_s, max, &burst)))
		return SL_CTL_USAGE;
	/* Given alone, either half is checked against the other's current value by sluiced. */
	if (rate_s && burst_s && rate && !burst) {
		ctl_err("%s 0 cannot admit anything at %s %llu: give a burst of at least 1",
			opt_names[burst_opt], opt_names[rate_opt], rate);
		return SL_CTL_USAGE;
	}
	/* The protocol's names: conn_rate, conn_burst, pkt_rate, pkt_burst. */
	if (rate_s)
		set(args, rate_opt == OPT_CONN_RATE ? "conn_rate" : "pkt_rate",
		    json_integer((json_int_t)rate));
	if (burst_s)
		set(args, rate_opt == OPT_CONN_RATE ? "conn_burst" : "pkt_burst",
		    json_integer((json_int_t)burst));
	return SL_CTL_OK;
}

/*
 * sluiced merges limit.set into the VIP's current limit ("unnamed fields keep
 * their values"), so only what was given is sent: a --per left out stays as
 * it is (addr for a VIP that never had one) instead of being reset to addr.
 */
static int cmd_limit_set(struct ctl *c, const struct args *a)
{
	const char *per = a->opt[OPT_PER];
	json_t *args;

	if (!a->opt[OPT_CONN_RATE] && !a->opt[OPT_CONN_BURST] && !a->opt[OPT_PKT_RATE] &&
	    !a->opt[OPT_PKT_BURST] && !per) {
		ctl_err("limit set %s: nothing to set: give --conn-rate N --conn-burst N, --pkt-rate N --pkt-burst N and/or --per addr|prefix ('limit clear' removes the limits)",
			a->pos[0]);
		return SL_CTL_USAGE;
	}
	if (per && parse_word("per", per, "addr|prefix"))
		return SL_CTL_USAGE;
	args = new_object();
	set(args, "vip", json_string(a->pos[0]));
	if (limit_pair(a, OPT_CONN_RATE, OPT_CONN_BURST, CONN_RATE_MAX, args) ||
	    limit_pair(a, OPT_PKT_RATE, OPT_PKT_BURST, PKT_RATE_MAX, args)) {
		json_decref(args);
		return SL_CTL_USAGE;
	}
	if (per)
		set(args, "per", json_string(per));
	return change(c, request("limit.set", args));
}

static int cmd_limit_clear(struct ctl *c, const struct args *a)
{
	json_t *args = new_object();

	set(args, "vip", json_string(a->pos[0]));
	return change(c, request("limit.clear", args));
}

/* "VIP [ADDR[:PORT]]" of the health commands into new args. Returns NULL after a usage error. */
static json_t *health_target(const struct args *a)
{
	struct sl_endpoint ep;
	json_t *args;

	if (a->npos > 1)
		return backend_args(a, &ep);
	args = new_object();
	set(args, "vip", json_string(a->pos[0]));
	return args;
}

/* Visible ASCII only: a blank or control character would break the request line. */
static int check_visible(const char *what, const char *s, const char *fix)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p; p++) {
		if (*p <= 0x20 || *p == 0x7f) {
			ctl_err("%s '%s' has a blank or control character: %s", what, s, fix);
			return SL_CTL_USAGE;
		}
	}
	return SL_CTL_OK;
}

/* The options of 'health set', checked, into @args (only those given). */
static int health_opts(const struct args *a, json_t *args)
{
	static const int http_only[] = { OPT_PATH, OPT_HOST, OPT_EXPECT };
	unsigned long long interval = 0, timeout = 0, expect = 0, rise = 0, fall = 0;
	const char *type = a->opt[OPT_TYPE], *path = a->opt[OPT_PATH], *host = a->opt[OPT_HOST];
	size_t i;

	if (type && parse_word("type", type, "tcp|http"))
		return SL_CTL_USAGE;
	for (i = 0; type && !strcmp(type, "tcp") && i < sizeof(http_only) / sizeof(int); i++) {
		if (a->opt[http_only[i]]) {
			ctl_err("--%s is for http checks, not --type tcp: drop it or use --type http",
				opt_names[http_only[i]]);
			return SL_CTL_USAGE;
		}
	}
	if (path && path[0] != '/') {
		ctl_err("path '%s' does not start with '/': write e.g. /healthz", path);
		return SL_CTL_USAGE;
	}
	if (path && check_visible("path", path, "percent-encode it (a blank is %20)"))
		return SL_CTL_USAGE;
	if (host && !*host) {
		ctl_err("host is empty: give the Host header to send, e.g. api.example.com");
		return SL_CTL_USAGE;
	}
	if (host && check_visible("host", host, "give a host name like api.example.com"))
		return SL_CTL_USAGE;
	if ((a->opt[OPT_EXPECT] && parse_range("expect", a->opt[OPT_EXPECT], 100, 599, &expect)) ||
	    (a->opt[OPT_INTERVAL] && parse_dur("interval", a->opt[OPT_INTERVAL], HC_INTERVAL_MIN,
					       HC_DUR_MAX, &interval)) ||
	    (a->opt[OPT_TIMEOUT] && parse_dur("timeout", a->opt[OPT_TIMEOUT], HC_TIMEOUT_MIN,
					      HC_DUR_MAX, &timeout)) ||
	    (a->opt[OPT_RISE] &&
	     parse_range("rise", a->opt[OPT_RISE], 1, HC_RISE_FALL_MAX, &rise)) ||
	    (a->opt[OPT_FALL] && parse_range("fall", a->opt[OPT_FALL], 1, HC_RISE_FALL_MAX, &fall)))
		return SL_CTL_USAGE;
	/* Given alone, either is checked against the other's current value by sluiced. */
	if (interval && timeout && timeout >= interval) {
		ctl_err("timeout %s is not shorter than interval %s: a check must end before the next one starts",
			a->opt[OPT_TIMEOUT], a->opt[OPT_INTERVAL]);
		return SL_CTL_USAGE;
	}
	if (type)
		set(args, "type", json_string(type));
	if (path)
		set(args, "path", json_string(path));
	if (host)
		set(args, "host", json_string(host));
	if (expect)
		set(args, "expect_status", json_integer((json_int_t)expect));
	if (interval)
		set(args, "interval_ms", json_integer((json_int_t)interval));
	if (timeout)
		set(args, "timeout_ms", json_integer((json_int_t)timeout));
	if (rise)
		set(args, "rise", json_integer((json_int_t)rise));
	if (fall)
		set(args, "fall", json_integer((json_int_t)fall));
	return SL_CTL_OK;
}

/*
 * sluiced merges health.set into the current check (or the defaults), so only
 * what was given is sent; with no option at all, it turns checks on with the
 * current or default settings.
 */
static int cmd_health_set(struct ctl *c, const struct args *a)
{
	json_t *args = health_target(a);

	if (!args)
		return SL_CTL_USAGE;
	if (health_opts(a, args)) {
		json_decref(args);
		return SL_CTL_USAGE;
	}
	return change(c, request("health.set", args));
}

static int cmd_health_clear(struct ctl *c, const struct args *a)
{
	json_t *args = health_target(a);

	if (!args)
		return SL_CTL_USAGE;
	return change(c, request("health.clear", args));
}

static int cmd_health_show(struct ctl *c, const struct args *a)
{
	json_t *args = vip_filter(a);

	/* "args" is always sent, {} for every VIP, as the protocol describes health.show. */
	return query(c, request("health.show", args ? args : new_object()), ctl_print_health);
}

static int cmd_circuit_reset(struct ctl *c, const struct args *a)
{
	struct sl_endpoint ep;
	json_t *args;

	args = backend_args(a, &ep);
	if (!args)
		return SL_CTL_USAGE;
	return change(c, request("circuit.reset", args));
}

/* --type of events: comma-separated types or families, e.g. "health" or "circuit,config.apply". */
static int check_event_types(const char *s)
{
	const char *p;

	for (p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || strchr("._-", *p) ||
		      (*p == ',' && p != s && p[-1] != ',' && p[1])))
			break;
	if (!*s || *p) {
		ctl_err("type '%s' is not a list of event types: write e.g. health or circuit,config (a-z, '.', '_', '-', separated by commas)",
			s);
		return SL_CTL_USAGE;
	}
	return SL_CTL_OK;
}

/* An event on stdout, at once: a follower reads it while it is news. */
static int put_event(struct ctl *c, const json_t *ev)
{
	if (c->json)
		print_json(ev, JSON_COMPACT);
	else
		ctl_print_event(ev);
	if (fflush(stdout)) {
		ctl_err("cannot write to standard output: %s", strerror(errno));
		return SL_CTL_REFUSED;
	}
	return SL_CTL_OK;
}

/*
 * events --follow: the first reply says where the stream starts; then one
 * envelope a line until sluiced closes (it stopped: exit 3), cuts us off as
 * too slow ({"error": ...}: exit 1), or Ctrl-C (exit 0).
 */
static int events_follow(struct ctl *c, json_t *req)
{
	struct ctl_stream *s;
	json_t *reply, *ev;
	const json_t *error;
	int ret;

	ret = ctl_stream_open(c->socket, req, &reply, &s);
	json_decref(req);
	if (ret == CTL_STREAM_SIGNAL)
		return SL_CTL_OK;
	if (ret)
		return ret;
	if (!json_is_true(json_object_get(json_object_get(reply, "result"), "following"))) {
		ctl_err("sluiced's answer to events --follow does not say \"following\": true (is sluicectl newer than sluiced?)");
		ret = SL_CTL_UNREACHABLE;
	}
	json_decref(reply);
	while (!ret) {
		ret = ctl_stream_next(s, &ev);
		if (ret)
			break;
		error = json_object_get(ev, "error");
		if (error) {
			ctl_err("%s", json_is_string(error) ? json_string_value(error)
							    : "sluiced ended the event stream with an error");
			ret = SL_CTL_REFUSED;
		} else {
			ret = put_event(c, ev);
		}
		json_decref(ev);
	}
	ctl_stream_close(s);
	if (ret == CTL_STREAM_SIGNAL)
		return SL_CTL_OK;
	if (ret == CTL_STREAM_END) {
		ctl_err("the agent closed the event stream");
		return SL_CTL_UNREACHABLE;
	}
	return ret;
}

static int cmd_events(struct ctl *c, const struct args *a)
{
	json_t *args, *reply, *result, *events, *ev;
	unsigned long long from = 0;
	size_t i;
	int ret;

	if (a->opt[OPT_FROM] && parse_num("from", a->opt[OPT_FROM], LLONG_MAX, &from))
		return SL_CTL_USAGE;
	if (a->opt[OPT_TYPE] && check_event_types(a->opt[OPT_TYPE]))
		return SL_CTL_USAGE;
	args = new_object();
	if (a->opt[OPT_FROM])
		set(args, "from", json_integer((json_int_t)from));
	if (a->opt[OPT_TYPE])
		set(args, "type", json_string(a->opt[OPT_TYPE]));
	if (a->opt[OPT_FOLLOW]) {
		set(args, "follow", json_true());
		return events_follow(c, request("events", args));
	}
	ret = call(c, request("events", args), &reply, &result);
	if (ret)
		return ret;
	events = json_object_get(result, "events");
	if (!json_is_array(events)) {
		ctl_err("sluiced's answer to events has no \"events\" list (is sluicectl older than sluiced?)");
		ret = SL_CTL_UNREACHABLE;
	}
	/* --json too: one envelope a line, not the wrapper, so that jq reads a stream. */
	json_array_foreach(events, i, ev) {
		if (ret)
			break;
		if (!json_is_object(ev)) {
			ctl_err("sluiced's answer to events has an item that is not an object (is sluicectl older than sluiced?)");
			ret = SL_CTL_UNREACHABLE;
			break;
		}
		ret = put_event(c, ev);
	}
	json_decref(reply);
	return ret;
}

static int cmd_stats(struct ctl *c, const struct args *a)
{
	if (!a->opt[OPT_WATCH])
		return query(c, request("stats", vip_filter(a)), ctl_print_stats);
	if (c->json) {
		ctl_err("--json and --watch do not go together: --watch is a live view for people; "
			"use 'sluicectl --json stats' for the snapshot as JSON");
		return SL_CTL_USAGE;
	}
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		ctl_err("stats --watch needs a terminal; use 'sluicectl --json stats' in scripts");
		return SL_CTL_USAGE;
	}
	return ctl_watch(c->socket, a->npos ? a->pos[0] : NULL);
}

/* The whole of @path into *out (NUL-terminated, free it). Returns 0 or a negative errno. */
static int read_file(const char *path, char **out, size_t *len)
{
	size_t cap = 65536, used = 0, n;
	char *buf = NULL, *tmp;
	int err = 0;
	FILE *f;

	f = fopen(path, "r");
	if (!f)
		return -errno;
	for (;;) {
		tmp = realloc(buf, cap + 1);
		if (!tmp)
			ctl_oom();
		buf = tmp;
		n = fread(buf + used, 1, cap - used, f);
		used += n;
		if (used < cap)
			break;
		cap *= 2;
	}
	if (ferror(f))
		err = errno ? -errno : -EIO;
	fclose(f);
	if (err) {
		free(buf);
		return err;
	}
	buf[used] = 0;
	*out = buf;
	*len = used;
	return 0;
}

static int cmd_apply(struct ctl *c, const struct args *a)
{
	const char *path = a->pos[0];
	json_t *config, *args, *reply, *result, *changes;
	json_error_t jerr;
	char *text = NULL;
	size_t len = 0;
	int ret;

	errno = 0;
	ret = read_file(path, &text, &len);
	if (ret) {
		ctl_err("cannot read %s: %s", path, strerror(-ret));
		return SL_CTL_REFUSED;
	}
	/* A key given twice is a mistake to show, not a choice to make. */
	config = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	if (!config) {
		ctl_err("%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
		return SL_CTL_REFUSED;
	}
	if (!json_is_object(config)) {
		ctl_err("%s: the configuration must be a JSON object { ... }, not an array", path);
		json_decref(config);
		return SL_CTL_REFUSED;
	}
	args = new_object();
	set(args, "config", config);
	ret = call(c, request("apply", args), &reply, &result);
	if (ret)
		return ret;
	changes = json_object_get(result, "changes");
	if (c->json)
		print_json(result, JSON_COMPACT);
	else if (json_is_integer(changes))
		printf("applied %" JSON_INTEGER_FORMAT " change%s\n", json_integer_value(changes),
		       json_integer_value(changes) == 1 ? "" : "s");
	else
		printf("applied %s\n", path);
	json_decref(reply);
	return SL_CTL_OK;
}

static int cmd_show_config(struct ctl *c, const struct args *a)
{
	json_t *reply, *result;
	int ret;

	ret = call(c, request("config.show", NULL), &reply, &result);
	if (ret)
		return ret;
	/* JSON either way: indented for people, one line with --json. */
	print_json(result, c->json ? JSON_COMPACT : JSON_INDENT(2));
	json_decref(reply);
	return SL_CTL_OK;
}

static const struct cmd cmds[] = {
	{ .name = "attach",
	  .synopsis = "attach IFACE [--mode native|generic]",
	  .pos_names = { "IFACE" },
	  .min_pos = 1,
	  .max_pos = 1,
	  .opts = O(MODE),
	  .run = cmd_attach },
	{ .name = "detach",
	  .synopsis = "detach IFACE",
	  .pos_names = { "IFACE" },
	  .min_pos = 1,
	  .max_pos = 1,
	  .run = cmd_detach },
	{ .group = "vip",
	  .name = "add",
	  .synopsis = "vip add NAME ADDR:PORT[/tcp|/udp] [--strategy " SL_STRATEGY_NAMES
		      "] [--forward " SL_FWD_NAMES "] [--l7 default|FILE]",
	  .pos_names = { "NAME", "ADDR:PORT" },
	  .min_pos = 2,
	  .max_pos = 2,
	  .opts = O(STRATEGY) | O(FORWARD) | O(L7),
	  .run = cmd_vip_add },
	{ .group = "vip",
	  .name = "set",
	  .synopsis = "vip set NAME [--strategy S] [--forward F]",
	  .pos_names = { "NAME" },
	  .min_pos = 1,
	  .max_pos = 1,
	  .opts = O(STRATEGY) | O(FORWARD),
	  .run = cmd_vip_set },
	{ .group = "vip",
	  .name = "del",
	  .synopsis = "vip del NAME",
	  .pos_names = { "NAME" },
	  .min_pos = 1,
	  .max_pos = 1,
	  .run = cmd_vip_del },
	{ .group = "vip", .name = "list", .synopsis = "vip list", .run = cmd_vip_list },
	{ .group = "backend",
	  .name = "add",
	  .synopsis = "backend add VIP ADDR[:PORT] [--weight N]",
	  .pos_names = { "VIP", "ADDR[:PORT]" },
	  .min_pos = 2,
	  .max_pos = 2,
	  .opts = O(WEIGHT),
	  .run = cmd_backend_add },
	{ .group = "backend",
	  .name = "set",
	  .synopsis = BACKEND_SET_SYNOPSIS,
	  .pos_names = { "VIP", "ADDR[:PORT]" },
	  .min_pos = 2,
	  .max_pos = 2,
	  .opts = O(WEIGHT),
	  .run = cmd_backend_set },
	{ .group = "backend",
	  .name = "drain",
	  .synopsis = "backend drain VIP ADDR[:PORT] [--timeout SECONDS]",
	  .pos_names = { "VIP", "ADDR[:PORT]" },
	  .min_pos = 2,
	  .max_pos = 2,
	  .opts = O(TIMEOUT),
	  .run = cmd_backend_drain },
	{ .group = "backend",
	  .name = "del",
	  .synopsis = "backend del VIP ADDR[:PORT]",
	  .pos_names = { "VIP", "ADDR[:PORT]" },
	  .min_pos = 2,
	  .max_pos = 2,
	  .run = cmd_backend_del },
	{ .group = "backend",
	  .name = "list",
	  .synopsis = "backend list [VIP]",
	  .max_pos = 1,
	  .run = cmd_backend_list },
	{ .group = "limit",
	  .name = "set",
	  .synopsis =
		  "limit set VIP [--conn-rate N --conn-burst N] [--pkt-rate N --pkt-burst N] [--per addr|prefix]",
	  .pos_names = { "VIP" },
	  .min_pos = 1,
	  .max_pos = 1,
	  .opts = O(CONN_RATE) | O(CONN_BURST) | O(PKT_RATE) | O(PKT_BURST) | O(PER),
	  .run = cmd_limit_set },
	{ .group = "limit",
	  .name = "clear",
	  .synopsis = "limit clear VIP",
	  .pos_names = { "VIP" },
	  .min_pos = 1,
	  .max_pos = 1,
	  .run = cmd_limit_clear },
	{ .group = "health",
	  .name = "set",
	  .synopsis = "health set VIP [ADDR[:PORT]] [--type tcp|http] [--path P] [--host H] "
		      "[--expect STATUS] [--interval DUR] [--timeout DUR] [--rise N] [--fall N]",
	  .pos_names = { "VIP", "ADDR[:PORT]" },
	  .min_pos = 1,
	  .max_pos = 2,
	  .opts = O(TYPE) | O(PATH) | O(HOST) | O(EXPECT) | O(INTERVAL) | O(TIMEOUT) | O(RISE) |
		  O(FALL),
	  .run = cmd_health_set },
	{ .group = "health",
	  .name = "clear",
	  .synopsis = "health clear VIP [ADDR[:PORT]]",
	  .pos_names = { "VIP", "ADDR[:PORT]" },
	  .min_pos = 1,
	  .max_pos = 2,
	  .run = cmd_health_clear },
	{ .group = "health",
	  .name = "show",
	  .synopsis = "health show [VIP]",
	  .max_pos = 1,
	  .run = cmd_health_show },
	{ .group = "circuit",
	  .name = "reset",
	  .synopsis = "circuit reset VIP ADDR[:PORT]",
	  .pos_names = { "VIP", "ADDR[:PORT]" },
	  .min_pos = 2,
	  .max_pos = 2,
	  .run = cmd_circuit_reset },
	{ .name = "events",
	  .synopsis = "events [--from OFFSET] [--type T[,T...]] [--follow]",
	  .opts = O(FROM) | O(TYPE) | O(FOLLOW),
	  .run = cmd_events },
	{ .name = "stats",
	  .synopsis = "stats [VIP] [--watch]",
	  .max_pos = 1,
	  .opts = O(WATCH),
	  .run = cmd_stats },
	{ .name = "apply",
	  .synopsis = "apply FILE",
	  .pos_names = { "FILE" },
	  .min_pos = 1,
	  .max_pos = 1,
	  .run = cmd_apply },
	{ .group = "show", .name = "config", .synopsis = "show config", .run = cmd_show_config },
	{ .name = "help", .synopsis = "help", .max_pos = INT_MAX, .run = cmd_help },
	{ .name = NULL },
};

static void usage(FILE *f)
{
	const struct cmd *cmd;

	fprintf(f, "usage: sluicectl [--socket PATH] [--json] COMMAND\n\ncommands:\n");
	for (cmd = cmds; cmd->name; cmd++)
		fprintf(f, "  %s\n", cmd->synopsis);
	fputs(prog_usage_tail, f);
}

/* "add, set, del or list": the commands of @group, for "use ..." hints. */
static void group_words(const char *group, char *buf, size_t len)
{
	const struct cmd *cmd, *last = NULL;
	size_t off = 0;

	buf[0] = 0;
	for (cmd = cmds; cmd->name; cmd++) {
		if (!cmd->group || strcmp(cmd->group, group))
			continue;
		if (last && off < len)
			off += snprintf(buf + off, len - off, "%s%s", off ? ", " : "", last->name);
		last = cmd;
	}
	if (last && off < len)
		snprintf(buf + off, len - off, "%s%s", off ? " or " : "", last->name);
}

/* Find the command named by argv[*i] (and argv[*i + 1] for a group); advance *i past it. */
static const struct cmd *find_cmd(int argc, char **argv, int *i)
{
	const char *word = argv[*i], *sub;
	const struct cmd *cmd;
	char words[128];
	int is_group = 0;

	for (cmd = cmds; cmd->name; cmd++) {
		if (!cmd->group && !strcmp(cmd->name, word)) {
			(*i)++;
			return cmd;
		}
		if (cmd->group && !strcmp(cmd->group, word))
			is_group = 1;
	}
	if (!is_group) {
		ctl_err("unknown command '%s' (see 'sluicectl --help')", word);
		return NULL;
	}
	group_words(word, words, sizeof(words));
	if (*i + 1 >= argc) {
		ctl_err("%s: missing command: use %s %s", word, word, words);
		return NULL;
	}
	sub = argv[*i + 1];
	for (cmd = cmds; cmd->name; cmd++) {
		if (cmd->group && !strcmp(cmd->group, word) && !strcmp(cmd->name, sub)) {
			*i += 2;
			return cmd;
		}
	}
	ctl_err("unknown %s command '%s': use %s %s", word, sub, word, words);
	return NULL;
}

/*
 * A global option at argv[*i]: --json, --socket PATH (or --socket=PATH),
 * -h/--help. Returns 1 if it was one (and advances *i past its value), 0 if
 * not, or -1 after a usage error.
 */
static int global_opt(struct ctl *c, int argc, char **argv, int *i, int *socket_given)
{
	const char *arg = argv[*i], *val;

	if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
		usage(stdout);
		exit(SL_CTL_OK);
	}
	if (!strcmp(arg, "--json")) {
		c->json = 1;
		return 1;
	}
	if (strcmp(arg, "--socket") && strncmp(arg, "--socket=", 9))
		return 0;
	if (arg[8] == '=') {
		val = arg + 9;
	} else if (*i + 1 < argc) {
		val = argv[++*i];
	} else {
		ctl_err("--socket needs a value: --socket PATH");
		return -1;
	}
	if (*socket_given) {
		ctl_err("--socket is given twice: give it once");
		return -1;
	}
	if (!*val) {
		ctl_err("--socket is empty: give the path of sluiced's socket");
		return -1;
	}
	*socket_given = 1;
	c->socket = val;
	return 1;
}

/* The arguments after the command words. Returns 0 or SL_CTL_USAGE. */
static int parse_args(struct ctl *c, const struct cmd *cmd, int argc, char **argv, int i,
		      int *socket_given, struct args *a)
{
	const char *arg, *val, *eq;
	int o, r, only_pos = 0;
	size_t n;

	for (; i < argc; i++) {
		arg = argv[i];
		if (!only_pos && !strcmp(arg, "--")) {
			only_pos = 1;
			continue;
		}
		if (!only_pos && arg[0] == '-' && arg[1]) {
			r = global_opt(c, argc, argv, &i, socket_given);
			if (r < 0)
				return SL_CTL_USAGE;
			if (r)
				continue;
			eq = strchr(arg, '=');
			n = eq ? (size_t)(eq - arg) : strlen(arg);
			for (o = 0; o < OPT__MAX; o++)
				if (arg[1] == '-' && n - 2 == strlen(opt_names[o]) &&
				    !strncmp(arg + 2, opt_names[o], n - 2) &&
				    (cmd->opts & (1u << o)))
					break;
			if (o == OPT__MAX) {
				ctl_err("unknown option '%.*s' (usage: sluicectl %s)", (int)n, arg,
					cmd->synopsis);
				return SL_CTL_USAGE;
			}
			if ((1u << o) & FLAG_OPTS) {
				if (eq) {
					ctl_err("--%s takes no value (usage: sluicectl %s)",
						opt_names[o], cmd->synopsis);
					return SL_CTL_USAGE;
				}
				val = "";
			} else if (eq) {
				val = eq + 1;
			} else if (i + 1 < argc) {
				val = argv[++i];
			} else {
				ctl_err("--%s needs a value (usage: sluicectl %s)", opt_names[o],
					cmd->synopsis);
				return SL_CTL_USAGE;
			}
			if (a->opt[o]) {
				ctl_err("--%s is given twice: give it once", opt_names[o]);
				return SL_CTL_USAGE;
			}
			a->opt[o] = val;
			continue;
		}
		if (a->npos == cmd->max_pos) {
			ctl_err("unexpected argument '%s' (usage: sluicectl %s)", arg,
				cmd->synopsis);
			return SL_CTL_USAGE;
		}
		if (a->npos < POS_MAX)
			a->pos[a->npos] = arg;
		a->npos++;
	}
	if (a->npos < cmd->min_pos) {
		ctl_err("missing %s (usage: sluicectl %s)", cmd->pos_names[a->npos], cmd->synopsis);
		return SL_CTL_USAGE;
	}
	return SL_CTL_OK;
}

int main(int argc, char **argv)
{
	struct ctl c = { .socket = SL_CTL_DEFAULT_SOCKET };
	const char *env = getenv("SLUICE_SOCKET");
	struct args a = { .npos = 0 };
	int i = 1, socket_given = 0, r;
	const struct cmd *cmd;

	if (env && *env)
		c.socket = env;
	/* Global options before the command; parse_args() takes them after it too. */
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		}
		r = global_opt(&c, argc, argv, &i, &socket_given);
		if (r < 0)
			return SL_CTL_USAGE;
		if (!r) {
			ctl_err("unknown option '%s' (see 'sluicectl --help')", argv[i]);
			return SL_CTL_USAGE;
		}
	}
	if (i >= argc) {
		ctl_err("no command given (see 'sluicectl --help')");
		return SL_CTL_USAGE;
	}
	cmd = find_cmd(argc, argv, &i);
	if (!cmd)
		return SL_CTL_USAGE;
	r = parse_args(&c, cmd, argc, argv, i, &socket_given, &a);
	if (!r)
		r = cmd->run(&c, &a);
	if (fflush(stdout) || ferror(stdout)) {
		ctl_err("cannot write to standard output: %s", strerror(errno));
		return r ? r : SL_CTL_REFUSED;
	}
	return r;
}
