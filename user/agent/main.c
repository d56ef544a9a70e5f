// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluiced: owns the kernel maps, serves the control socket, journals every
 * change, sweeps idle flows and finishes drains. One thread, one epoll loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "agent.h"
#include "../proxy/proxy.h"
#include "breakers.h"
#include "events.h"
#include "dp.h"
#include "admin.h"
#include "metrics.h"
#include "obs.h"
#include "status_page.h"
#include "../lib/cstore.h"
#include "../lib/log.h"

#define MAX_CLIENTS 64
#define MAX_LINE (16 << 20) /* a request line; an apply of a big config fits */

struct opts {
	const char *config;
	const char *state_dir;
	const char *bpffs;
	const char *socket;
	const char *admin;
	int admin_public;
	int verbose;
	int detach_on_exit;
	int workers;
	int no_splice;
};

struct client {
	int fd;
	char *buf;
	size_t len, cap;
};

static struct client clients[MAX_CLIENTS];

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sluiced [--config FILE] [--state-dir DIR] [--bpffs DIR] [--socket PATH]\n"
		"               [--admin ADDR:PORT|none] [--admin-public] [--workers N]\n"
		"               [--no-splice] [--detach-on-exit] [-v]\n"
		"  --config FILE     configuration to start from when the state dir has no journal\n"
		"  --state-dir DIR   journal of changes (default /var/lib/sluice)\n"
		"  --bpffs DIR       where maps and links are pinned (default /sys/fs/bpf/sluice)\n"
		"  --socket PATH     control socket (default /run/sluice/sluiced.sock)\n"
		"  --admin ADDR:PORT admin endpoint: /metrics /stats /healthz and the status page\n"
		"                    (default 127.0.0.1:9100; port 0: any free port; none: off)\n"
		"  --admin-public    allow a non-loopback --admin address\n"
		"  --workers N       L7 proxy threads (default 0: one per CPU)\n"
		"  --no-splice       copy L7 tunnels in user space even where sockmap splice works\n"
		"  --detach-on-exit  detach XDP on SIGTERM/SIGINT (default: keep forwarding)\n"
		"  -v                debug logging\n");
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "bpffs", required_argument, NULL, 'b' },
		{ "socket", required_argument, NULL, 'S' },
		{ "admin", required_argument, NULL, 'a' },
		{ "admin-public", no_argument, NULL, 'P' },
		{ "detach-on-exit", no_argument, NULL, 'd' },
		{ "workers", required_argument, NULL, 'w' },
		{ "no-splice", no_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sl_endpoint ep;
	char err[160];
	size_t alen;
	int c;

	o->state_dir = "/var/lib/sluice";
	o->bpffs = "/sys/fs/bpf/sluice";
	o->socket = "/run/sluice/sluiced.sock";
	o->admin = "127.0.0.1:9100";
	while ((c = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		switch (c) {
		case 'c': o->config = optarg; break;
		case 's': o->state_dir = optarg; break;
		case 'b': o->bpffs = optarg; break;
		case 'S': o->socket = optarg; break;
		case 'a': o->admin = optarg; break;
		case 'P': o->admin_public = 1; break;
		case 'n': o->no_splice = 1; break;
		case 'd': o->detach_on_exit = 1; break;
		case 'w': {
			char *end;
			long n = strtol(optarg, &end, 10);

			if (*end || end == optarg || n < 0 || n > 256) {
				fprintf(stderr, "sluiced: --workers %s: give 0 (one per CPU) to 256\n",
					optarg);
				return -1;
			}
			o->workers = (int)n;
			break;
		}
		case 'v': o->verbose = 1; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sluiced: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return -1;
	}
	/* "none": off; ":0" (any free port) is left to sl_admin_open */
	alen = strlen(o->admin);
	if (strcmp(o->admin, "none") && !(alen > 2 && !strcmp(o->admin + alen - 2, ":0")) &&
	    sl_endpoint_parse(o->admin, &ep, 1, err, sizeof(err))) {
		fprintf(stderr, "sluiced: --admin %s: %s\n", o->admin, err);
		return -1;
	}
	/* refused now, before anything is touched (sl_admin_open checks it too) */
	if (strcmp(o->admin, "none") && !o->admin_public &&
	    !sl_endpoint_parse(o->admin, &ep, 1, err, sizeof(err)) &&
	    !(ep.family == SL_AF_INET ? (ntohl(ep.addr[0]) >> 24) == 127
				      : !ep.addr[0] && !ep.addr[1] && !ep.addr[2] &&
						ep.addr[3] == htonl(1))) {
		fprintf(stderr,
			"sluiced: --admin %s is not a loopback address; pass --admin-public to "
			"serve it on the network\n",
			o->admin);
		return -1;
	}
	if (strlen(o->socket) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		fprintf(stderr, "sluiced: --socket %s: path too long for a unix socket\n", o->socket);
		return -1;
	}
	return 0;
}

static int mkdir_parent(const char *path)
{
	char dir[PATH_MAX], *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = 0;
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

/* Listen on the control socket; refuse if another sluiced answers there. */
static int listen_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, probe;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0 && !connect(probe, (struct sockaddr *)&sa, sizeof(sa))) {
		close(probe);
		pr_err("socket %s: another sluiced is running there", path);
		return -EADDRINUSE;
	}
	if (probe >= 0)
		close(probe);
	if (mkdir_parent(path)) {
		pr_err("socket %s: cannot create its directory: %s", path, strerror(errno));
		return -errno;
	}
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0600) || listen(fd, 16)) {
		int err = -errno;

		pr_err("socket %s: %s", path, strerror(-err));
		close(fd);
		return err;
	}
	return fd;
}

static void client_close(struct client *c, int ep)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->buf);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static int write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			/* a slow reader: wait for room, briefly */
			fd_set ws;
			struct timeval tv = { .tv_sec = 5 };

			FD_ZERO(&ws);
			FD_SET(fd, &ws);
			if (select(fd + 1, NULL, &ws, NULL, &tv) <= 0)
				return -1;
			continue;
		}
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

static int reply(int fd, json_t *msg)
{
	char *s = json_dumps(msg, JSON_COMPACT);
	int err;

	if (!s)
		return -1;
	err = write_all(fd, s, strlen(s));
	if (!err)
		err = write_all(fd, "\n", 1);
	free(s);
	return err;
}

/*
 * `events --follow`: the answer line, then the connection belongs to the event
 * store, which streams envelopes on it until the client leaves (or is too slow).
 * Returns 1 when @fd was handed over.
 */
static int follow_events(struct sl_state *st, int fd, json_t *args)
{
	json_t *jf = json_object_get(args, "from"), *jt = json_object_get(args, "type"), *msg;
	long long from = sl_events_next_offset(st->events);
	char err[256];
	const char *k;
	json_t *v;

	json_object_foreach(args, k, v) {
		if (strcmp(k, "from") && strcmp(k, "type") && strcmp(k, "follow")) {
			snprintf(err, sizeof(err), "%s: unknown field", k);
			goto refuse2;
		}
	}
	if (jf && (!json_is_integer(jf) || json_integer_value(jf) < 0)) {
		snprintf(err, sizeof(err), "from: must be an offset (an integer >= 0)");
		goto refuse2;
	}
	if (jt && !json_is_string(jt)) {
		snprintf(err, sizeof(err), "type: must be a string like \"health,circuit\"");
		goto refuse2;
	}
	if (jf)
		from = json_integer_value(jf) ? json_integer_value(jf) : sl_events_earliest(st->events);
	if (sl_events_check_from(st->events, from, err, sizeof(err))) {
		msg = json_pack("{s:b, s:s, s:i}", "ok", 0, "error", err, "exit", 1);
		reply(fd, msg);
		json_decref(msg);
		return 0;
	}
	msg = json_pack("{s:b, s:{s:b, s:I}}", "ok", 1, "result", "following", 1, "from",
			(json_int_t)from);
	if (reply(fd, msg)) {
		json_decref(msg);
		return 0;
	}
	json_decref(msg);
	if (sl_events_follow(st->events, from, jt ? json_string_value(jt) : NULL, fd, err,
			     sizeof(err))) {
		msg = json_pack("{s:s}", "error", err);
		reply(fd, msg);
		json_decref(msg);
		return 0;
	}
	return 1;
refuse2:
	msg = json_pack("{s:b, s:s, s:i}", "ok", 0, "error", err, "exit", 2);
	reply(fd, msg);
	json_decref(msg);
	return 0;
}

static int handle_line(struct sl_state *st, int fd, const char *line)
{
	json_error_t jerr;
	json_t *req = json_loads(line, 0, &jerr), *res = NULL, *msg;
	struct sl_err e = { 0 };

	if (req && st->events && json_is_object(req) &&
	    !strcmp(json_string_value(json_object_get(req, "cmd")) ?: "", "events") &&
	    json_is_true(json_object_get(json_object_get(req, "args"), "follow"))) {
		int handed = follow_events(st, fd, json_object_get(req, "args"));

		json_decref(req);
		return handed;
	}
	if (!req) {
		msg = json_pack("{s:b, s:s+, s:i}", "ok", 0, "error", "request is not JSON: ",
				jerr.text, "exit", 2);
	} else if (sl_state_exec(st, req, sl_now(), &res, &e)) {
		const char *cmd = json_string_value(json_object_get(req, "cmd"));

		pr_info("refused %s: %s", cmd ? cmd : "request", e.msg);
		msg = json_pack("{s:b, s:s, s:i}", "ok", 0, "error", e.msg, "exit", e.exit);
	} else {
		msg = json_pack("{s:b, s:o}", "ok", 1, "result", res);
	}
	json_decref(req);
	if (reply(fd, msg))
		pr_debug("a client went away before its reply");
	json_decref(msg);
	return 0;
}

/* Read what a client sent; run each complete line. Returns -1 to close it. */
static int client_read(struct sl_state *st, struct client *c)
{
	for (;;) {
		ssize_t n;
		char *nl;

		if (c->cap - c->len < 4096) {
			size_t cap = c->cap ? c->cap * 2 : 8192;
			char *nb;

			if (cap > MAX_LINE + 8192)
				return -1; /* no newline in 16 MiB: not a client of ours */
			nb = realloc(c->buf, cap);
			if (!nb)
				return -1;
			c->buf = nb;
			c->cap = cap;
		}
		n = read(c->fd, c->buf + c->len, c->cap - c->len - 1);
		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		if (n == 0)
			return -1;
		c->len += (size_t)n;
		c->buf[c->len] = 0;
		while ((nl = memchr(c->buf, '\n', c->len))) {
			*nl = 0;
			if (nl != c->buf && handle_line(st, c->fd, c->buf))
				return 2; /* the event store has the connection now */
			c->len -= (size_t)(nl + 1 - c->buf);
			memmove(c->buf, nl + 1, c->len);
			c->buf[c->len] = 0;
		}
	}
}

/* Start from --config when there is no journal: run it as one 'apply'. */
static int apply_config_file(struct sl_state *st, const char *file)
{
	json_error_t jerr;
	json_t *cfg = json_load_file(file, JSON_REJECT_DUPLICATES, &jerr), *req, *res = NULL;
	struct sl_err e;
	int err;

	if (!cfg) {
		pr_err("config %s:%d:%d: %s", file, jerr.line, jerr.column, jerr.text);
		return -1;
	}
	req = json_pack("{s:s, s:{s:o}}", "cmd", "apply", "args", "config", cfg);
	err = sl_state_exec(st, req, sl_now(), &res, &e);
	if (err)
		pr_err("config %s: %s", file, e.msg);
	json_decref(res);
	json_decref(req);
	return err;
}

/* The L7 gateway reaches the data plane and the breakers through these. */
static int l7_pick(void *ctx, const struct sl_vip_key *vip, __u32 hash, __u32 *be_id,
		   __u32 *be_gen)
{
	return sl_dp_l7_pick(((struct sl_state *)ctx)->dp, vip, hash, be_id, be_gen);
}

static void l7_release(void *ctx, __u32 be_id, __u32 be_gen)
{
	if (sl_dp_l7_release(((struct sl_state *)ctx)->dp, be_id, be_gen))
		pr_warn("l7: releasing backend %u: %s", be_id, strerror(errno));
}

static int l7_backend(void *ctx, __u32 be_id, struct sl_backend *out)
{
	return sl_dp_backend_get(((struct sl_state *)ctx)->dp, be_id, out);
}

/* st->breakers never changes while the workers run (made before, freed after). */
static int l7_admit(void *ctx, __u32 be_id, __u64 *ticket)
{
	return sl_breakers_admit(((struct sl_state *)ctx)->breakers, be_id, (uint64_t *)ticket);
}

static void l7_done(void *ctx, __u32 be_id, __u64 ticket, int status, int connect_error,
		    __u32 ms)
{
	sl_breakers_done(((struct sl_state *)ctx)->breakers, be_id, ticket, status, connect_error,
			 ms);
}

/* Sampled rate-limit drops from the ring buffer, into per-client-per-second events. */
static struct sl_rl_agg *rl_agg;
static __u32 rl_every = 1;

static void on_dp_event(void *ctx, const struct sl_event *e)
{
	struct sl_state *st = ctx;
	__u32 i;

	if (e->type != SL_EV_RL_DROP || !rl_agg)
		return;
	for (i = 0; i < st->n_vips; i++)
		if (st->vips[i]->id == e->vip_id) {
			sl_rl_agg_add(rl_agg, st->vips[i]->name, e->src, e->family, rl_every,
				      sl_now());
			return;
		}
}

/* ---- the admin endpoint ---- */

struct ev_collect {
	json_t *arr;
};

static int ev_collect(void *ctx, long long offset, const char *type, const char *line,
		      size_t len)
{
	json_t *o = json_loadb(line, len, 0, NULL);

	(void)offset;
	(void)type;
	if (o)
		json_array_append_new(((struct ev_collect *)ctx)->arr, o);
	return 0;
}

/* The newest @limit events, oldest first. */
static json_t *recent_events(struct sl_state *st, long long limit)
{
	struct ev_collect c = { json_array() };
	long long next = sl_events_next_offset(st->events), from = next - limit, earliest = 0;

	if (from < 1)
		from = 1;
	if (next > 1 && sl_events_read(st->events, from, NULL, ev_collect, &c, &earliest) == -ERANGE &&
	    earliest > from)
		sl_events_read(st->events, earliest, NULL, ev_collect, &c, NULL);
	return json_pack("{s:o}", "events", c.arr);
}

static void reply_json(struct sl_admin_reply *r, int status, json_t *o)
{
	r->status = status;
	r->type = "application/json";
	r->body = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15));
	r->len = r->body ? strlen(r->body) : 0;
	json_decref(o);
}

static void reply_text(struct sl_admin_reply *r, int status, const char *text)
{
	r->status = status;
	r->type = "text/plain; charset=utf-8";
	r->body = strdup(text);
	r->len = r->body ? strlen(r->body) : 0;
}

/* A query parameter's value (up to @n bytes), or NULL. */
static const char *query_get(const char *q, const char *name, char *buf, size_t n)
{
	size_t nl = strlen(name);

	while (q && *q) {
		const char *amp = strchr(q, '&'), *end = amp ? amp : q + strlen(q);

		if ((size_t)(end - q) > nl && !strncmp(q, name, nl) && q[nl] == '=') {
			snprintf(buf, n, "%.*s", (int)(end - q - nl - 1), q + nl + 1);
			return buf;
		}
		q = amp ? amp + 1 : NULL;
	}
	return NULL;
}

static void admin_serve(void *ctx, const char *path, const char *query, struct sl_admin_reply *r)
{
	struct sl_state *st = ctx;
	char buf[64];

	if (!strcmp(path, "/metrics")) {
		json_t *snap = sl_state_snapshot(st, sl_now());

		r->status = 200;
		r->type = "text/plain; version=0.0.4; charset=utf-8";
		r->body = sl_metrics_render(snap, &r->len);
		json_decref(snap);
		if (!r->body)
			reply_text(r, 500, "out of memory\n");
	} else if (!strcmp(path, "/stats")) {
		const char *vip = query_get(query, "vip", buf, sizeof(buf));
		__u32 i;

		if (vip) {
			for (i = 0; i < st->n_vips && strcmp(st->vips[i]->name, vip); i++)
				;
			if (i == st->n_vips) {
				reply_json(r, 404, json_pack("{s:s}", "error", "no such vip"));
				return;
			}
		}
		reply_json(r, 200, sl_state_stats(st, vip));
	} else if (!strcmp(path, "/healthz")) {
		reply_json(r, st->ready ? 200 : 503,
			   json_pack("{s:b, s:b, s:f, s:I, s:i}", "live", 1, "ready", st->ready,
				     "uptime", sl_now() - st->start_time, "vips",
				     (json_int_t)st->n_vips, "pid", (int)getpid()));
	} else if (!strcmp(path, "/events")) {
		const char *l = query_get(query, "limit", buf, sizeof(buf));
		char *end;
		long n = l ? strtol(l, &end, 10) : 20;

		if (l && (*end || end == l || n < 1 || n > 1000)) {
			reply_json(r, 400, json_pack("{s:s}", "error", "limit: give 1 to 1000"));
			return;
		}
		reply_json(r, 200, recent_events(st, n));
	} else if (!strcmp(path, "/")) {
		const char *page = sl_status_page(&r->len);

		r->status = 200;
		r->type = "text/html; charset=utf-8";
		r->body = malloc(r->len + 1);
		if (r->body)
			memcpy(r->body, page, r->len + 1);
		else
			reply_text(r, 500, "out of memory\n");
	} else {
		reply_text(r, 404, "not found: try /metrics, /stats, /healthz, /events or /\n");
	}
}

/* Event-loop lag: how late the 100 ms timer fires; the max is over 10 s. */
struct lag {
	double next, max_cur, max_prev, window_start;
};

static void lag_tick(struct sl_state *st, struct lag *l, __u64 ticks)
{
	double now = sl_obs_mono(), late = now - l->next;

	if (late < 0)
		late = 0;
	st->lag_last = late;
	if (now - l->window_start >= 10) {
		l->max_prev = l->max_cur;
		l->max_cur = 0;
		l->window_start = now;
	}
	if (late > l->max_cur)
		l->max_cur = late;
	st->lag_max = l->max_cur > l->max_prev ? l->max_cur : l->max_prev;
	l->next += 0.1 * (double)ticks;
	if (l->next < now - 1)
		l->next = now + 0.1; /* a long stall: start over */
}

static int run(struct opts *o)
{
	struct epoll_event ev, evs[16];
	struct sl_state st;
	sigset_t mask;
	int ep = -1, lfd = -1, sfd = -1, tfd = -1, efd = -1, i, rc = 1, replayed, stop = 0;
	int lagfd = -1, adopted = 0;
	struct itimerspec tick = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
	struct itimerspec tick100 = { .it_interval = { 0, 100000000 },
				      .it_value = { 0, 100000000 } };
	struct sl_admin *admin = NULL;
	struct lag lag = { 0 };
	char err[256];

	sl_state_init(&st);
	st.check_ifaces = 1;
	for (i = 0; i < MAX_CLIENTS; i++)
		clients[i].fd = -1;

	/* Before anything is touched: is another sluiced already here? */
	lfd = listen_socket(o->socket);
	if (lfd < 0)
		goto out;
	st.journal = sl_journal_open(o->state_dir);
	if (!st.journal)
		goto out;
	replayed = sl_journal_replay(st.journal, &st);
	if (replayed < 0) {
		pr_err("journal: cannot read it: %s", strerror(-replayed));
		goto out;
	}
	st.dp = sl_dp_open(o->bpffs);
	if (!st.dp)
		goto out;
	st.start_time = sl_now();
	st.cstore = sl_cstore_open(o->bpffs, &adopted, err, sizeof(err));
	st.obs = sl_obs_new();
	if (!st.cstore || !st.obs) {
		pr_err("%s", st.cstore ? "out of memory" : err);
		goto out;
	}
	st.agent_cells = sl_cstore_get(st.cstore, "agent", 4);
	if (adopted)
		sl_ctr_add(&st.agent_cells[0], 1);
	{
		char evdir[PATH_MAX];

		snprintf(evdir, sizeof(evdir), "%s/events", o->state_dir);
		st.events = sl_events_open(evdir, NULL);
		if (!st.events) {
			pr_err("events: cannot open %s: %s", evdir, strerror(errno));
			goto out;
		}
	}
	st.health = sl_health_new(sl_state_health_change, &st);
	st.breakers = sl_breakers_new();
	rl_agg = sl_rl_agg_new(1024, sl_rl_emit_event, st.events);
	if (!st.health || !st.breakers || !rl_agg) {
		pr_err("cannot start health checks, breakers or the event stream: %s",
		       strerror(errno));
		goto out;
	}
	rl_every = sl_dp_rl_sample_every(st.dp);
	if (!rl_every)
		rl_every = 1;
	sl_dp_on_event(st.dp, on_dp_event, &st);
	{
		struct sl_proxy_ops ops = { .pick = l7_pick, .release = l7_release,
					    .backend = l7_backend, .admit = l7_admit,
					    .done = l7_done, .ctx = &st };

		st.proxy = sl_proxy_new(&ops, o->workers, st.cstore, o->bpffs,
					o->no_splice ? SL_PROXY_NO_SPLICE : 0);
		if (!st.proxy) {
			pr_err("l7: cannot start the proxy workers: %s", strerror(errno));
			goto out;
		}
	}
	if (replayed || sl_dp_adopted(st.dp))
		pr_info("state: %d changes replayed from %s/journal; %u VIPs, %u interfaces",
			replayed, o->state_dir, st.n_vips, st.n_ifaces);
	if (sl_state_reconcile(&st))
		pr_warn("reconcile: some of the state could not be written (see above)");
	if (o->config) {
		if (sl_journal_offset(st.journal) > 0)
			pr_info("config %s: not loaded: the journal already holds the state (use "
				"'sluicectl apply %s' to load it)",
				o->config, o->config);
		else if (apply_config_file(&st, o->config))
			goto out;
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	lagfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	efd = sl_dp_events_fd(st.dp);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || tfd < 0 || lagfd < 0 || ep < 0)
		goto out;
	timerfd_settime(tfd, 0, &tick, NULL);
	timerfd_settime(lagfd, 0, &tick100, NULL);
	lag.next = sl_obs_mono() + 0.1;
	lag.window_start = sl_obs_mono();
	if (strcmp(o->admin, "none")) {
		admin = sl_admin_open(o->admin, o->admin_public, admin_serve, &st, err, sizeof(err));
		if (!admin) {
			pr_err("%s", err);
			goto out;
		}
		ev.events = EPOLLIN;
		ev.data.fd = sl_admin_fd(admin);
		epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev);
	}
	ev.events = EPOLLIN;
	ev.data.fd = lagfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lagfd, &ev);
	ev.events = EPOLLIN;
	ev.data.fd = sfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	ev.data.fd = tfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
	ev.data.fd = lfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	if (efd >= 0) {
		ev.data.fd = efd;
		epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev);
	} else {
		pr_warn("events: cannot read the ring buffer; sampled events will be lost");
	}
	ev.data.fd = sl_health_fd(st.health);
	epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev);
	ev.data.fd = sl_breakers_fd(st.breakers);
	epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev);
	ev.data.fd = sl_events_fd(st.events);
	epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev);
	{
		long long gfrom, gto;

		sl_state_emit(&st, "agent.start",
			      json_pack("{s:i, s:i, s:i}", "pid", (int)getpid(), "replayed", replayed,
					"vips", (int)st.n_vips));
		if (sl_events_skipped(st.events, &gfrom, &gto))
			pr_warn("events: offsets %lld..%lld were lost with the last boot", gfrom, gto);
	}
	pr_info("ready: control socket %s, state %s, maps %s", o->socket, o->state_dir, o->bpffs);
	st.ready = 1;

	while (!stop) {
		int n = epoll_wait(ep, evs, 16, sl_health_next_ms(st.health, sl_health_now_ms()));

		if (n < 0 && errno == EINTR)
			continue;
		for (i = 0; i < n; i++) {
			int fd = evs[i].data.fd, k;

			if (fd == sfd) {
				struct signalfd_siginfo si;

				if (read(sfd, &si, sizeof(si)) == sizeof(si) && si.ssi_signo != SIGHUP) {
					pr_info("signal %d: stopping", (int)si.ssi_signo);
					stop = 1;
				}
			} else if (fd == tfd) {
				__u64 ticks;

				if (read(tfd, &ticks, sizeof(ticks)) < 0)
					continue;
				if (sl_dp_sweep(st.dp))
					pr_warn("sweeper: test_run failed: %s", strerror(errno));
				sl_state_tick(&st, sl_now());
				sl_breakers_tick(st.breakers);
				sl_state_breakers_drain(&st);
				sl_rl_agg_flush(rl_agg, sl_now());
				sl_events_pump(st.events);
				sl_events_sync(st.events);
			} else if (fd == lagfd) {
				__u64 ticks;

				if (read(lagfd, &ticks, sizeof(ticks)) == sizeof(ticks))
					lag_tick(&st, &lag, ticks);
				if (admin)
					sl_admin_run(admin);
			} else if (admin && fd == sl_admin_fd(admin)) {
				sl_admin_run(admin);
			} else if (fd == efd) {
				sl_dp_events_drain(st.dp);
			} else if (fd == sl_health_fd(st.health)) {
				/* run below */
			} else if (fd == sl_breakers_fd(st.breakers)) {
				sl_state_breakers_drain(&st);
			} else if (fd == sl_events_fd(st.events)) {
				sl_events_pump(st.events);
			} else if (fd == lfd) {
				int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

				if (cfd < 0)
					continue;
				for (k = 0; k < MAX_CLIENTS && clients[k].fd >= 0; k++)
					;
				if (k == MAX_CLIENTS) {
					pr_warn("control socket: %d clients already; refusing one",
						MAX_CLIENTS);
					close(cfd);
					continue;
				}
				clients[k].fd = cfd;
				ev.events = EPOLLIN;
				ev.data.fd = cfd;
				epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev);
			} else {
				for (k = 0; k < MAX_CLIENTS && clients[k].fd != fd; k++)
					;
				if (k < MAX_CLIENTS) {
					int r = client_read(&st, &clients[k]);

					if (r == 2) { /* following events: not ours to close */
						epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
						free(clients[k].buf);
						memset(&clients[k], 0, sizeof(clients[k]));
						clients[k].fd = -1;
					} else if (r) {
						client_close(&clients[k], ep);
					}
				}
			}
		}
		sl_health_run(st.health, sl_health_now_ms());
	}
	rc = 0;
out:
	for (i = 0; i < MAX_CLIENTS; i++)
		if (clients[i].fd >= 0)
			client_close(&clients[i], ep);
	if (lfd >= 0) {
		close(lfd);
		unlink(o->socket);
	}
	if (o->detach_on_exit && st.dp)
		for (i = 0; i < (int)st.n_ifaces; i++)
			sl_dp_detach(st.dp, st.ifaces[i].name);
	if (st.dp && !o->detach_on_exit && st.n_ifaces)
		pr_info("XDP stays attached to %u interface(s); maps stay pinned under %s",
			st.n_ifaces, o->bpffs);
	if (ep >= 0)
		close(ep);
	if (sfd >= 0)
		close(sfd);
	if (tfd >= 0)
		close(tfd);
	if (lagfd >= 0)
		close(lagfd);
	if (admin)
		sl_admin_close(admin);
	sl_proxy_free(st.proxy); /* first: its workers use the breakers */
	if (st.events)
		sl_state_emit(&st, "agent.stop", json_pack("{s:i}", "pid", (int)getpid()));
	sl_health_free(st.health);
	sl_breakers_free(st.breakers);
	sl_rl_agg_free(rl_agg);
	sl_events_close(st.events);
	sl_dp_close(st.dp);
	sl_obs_free(st.obs);
	sl_cstore_close(st.cstore); /* after the proxy: its workers count into it */
	sl_journal_close(st.journal);
	sl_state_free(&st);
	return rc;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };

	if (parse_opts(argc, argv, &o))
		return 2;
	sl_log_init("sluiced", o.verbose ? SL_LOG_DEBUG : SL_LOG_INFO);
	return run(&o);
}
