// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The L7 gateway's event loops. See proxy.h for the shape; the life of one
 * client connection is:
 *
 *   IDLE ──head──► route ─► CORS preflight ─► JWT ─► limit ─► PROXY ──► IDLE (keep-alive)
 *     │                 └── any refusal: LOCAL answer (404/401/403/429/400) ──┘
 *     └ upgrade / CONNECT / "splice": "after-auth" ─► SPLICE (kernel) or TUNNEL (copy)
 *
 * Every request picks its backend through the data plane (ops.pick) and
 * releases it when the exchange ends; upstream connections are pooled per
 * backend and reused by later requests that pick the same backend.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "proxy.h"
#include "http.h"
#include "l7conf.h"
#include "jwt.h"
#include "cors.h"
#include "limit.h"
#include "splice.h"
#include "../lib/cstore.h"
#include "sluice/select.h"
#include "../lib/log.h"

#define IN_CHUNK (16 * 1024)   /* bytes read from a socket at a time */
#define OUT_HWM (256 * 1024)   /* stop reading the other side above this */
#define POOL_MAX 64	       /* idle upstream connections kept per worker */
#define POOL_IDLE_NS (30ULL * SL_NS_PER_SEC)
#define LOG_PER_SEC 50	       /* refusal log lines per worker per second */
#define TICK_MS 100
#define VNAME_MAX 32

/* ---- counters, per VIP name, for the life of the proxy ---- */

enum vctr {
	V_CONNS, V_CONNS_ACTIVE, V_REQUESTS, V_S1XX, V_S2XX, V_S3XX, V_S4XX, V_S5XX,
	V_NO_ROUTE, V_BAD_REQUEST, V_UNAUTHORIZED, V_LIMITED, V_PREFLIGHT, V_CORS_DENIED,
	V_NO_BACKEND, V_UPSTREAM_ERR, V_TIMEOUT, V_RETRIES, V_POOL_REUSE, V_COPIED_BYTES,
	V_SPLICED_FLOWS, V_SPLICED_BYTES, V_TUNNELS, V__MAX
};
static const char *const vctr_name[V__MAX] = {
	"connections",	  "connections_active", "requests",	 "status_1xx",
	"status_2xx",	  "status_3xx",		"status_4xx",	 "status_5xx",
	"no_route",	  "bad_request",	"unauthorized",	 "rate_limited",
	"cors_preflights", "cors_denied",	"no_backend",	 "upstream_errors",
	"timeouts",	  "retries",		"upstream_reused", "copied_bytes",
	"spliced_flows",  "spliced_bytes",	"tunnels",
};

/*
 * Counters live in the agent's persistent store (cstore.h: they survive a
 * restart of sluiced), found by key: "l7/VIP" (V__MAX cells), "l7c/VIP" (the
 * upstream connect-time histogram), "l7r/VIP/ROUTE" (R_CELLS: requests by
 * status class, then the latency histogram; ROUTE "_unrouted" for requests
 * that matched none), "l7j/VIP/ROUTE" (the route's JWT counters). The one
 * gauge, connections_active, is in process memory.
 */
#define R_CELLS (5 + SL_HIST_CELLS)

struct vstats {
	char name[VNAME_MAX];
	uint64_t *c;	     /* V__MAX */
	uint64_t *connect;   /* SL_HIST_CELLS */
	uint64_t *unrouted;  /* R_CELLS */
	uint64_t active;     /* connections now (atomic) */
};

static void vinc(struct vstats *s, enum vctr k, uint64_t n)
{
	if (!s)
		return;
	if (k == V_CONNS_ACTIVE)
		__atomic_fetch_add(&s->active, n, __ATOMIC_RELAXED);
	else
		sl_ctr_add(&s->c[k], n);
}

/* ---- configuration snapshots ---- */

struct vipconf {
	int refs; /* atomic */
	char name[VNAME_MAX];
	struct sl_vip_key key;
	struct sl_endpoint ep;
	struct sl_l7_conf *conf;
	json_t *json;
	struct vstats *st;
	uint64_t **rc; /* per route (conf->routes[i]): R_CELLS */
};

static struct vipconf *vc_get(struct vipconf *vc)
{
	__atomic_fetch_add(&vc->refs, 1, __ATOMIC_RELAXED);
	return vc;
}

static void vc_put(struct vipconf *vc)
{
	if (!vc || __atomic_sub_fetch(&vc->refs, 1, __ATOMIC_ACQ_REL))
		return;
	sl_l7_conf_free(vc->conf);
	json_decref(vc->json);
	free(vc->rc);
	free(vc);
}

struct snapshot {
	int refs; /* under sl_proxy.lock */
	size_t n;
	struct vipconf *v[];
};

/* ---- buffers ---- */

struct buf {
	char *d;
	size_t off, len, cap; /* bytes d[off, off + len) */
};

static int buf_reserve(struct buf *b, size_t n)
{
	size_t want;
	char *nd;

	if (b->off && b->off + b->len + n > b->cap) {
		memmove(b->d, b->d + b->off, b->len);
		b->off = 0;
	}
	if (b->len + n <= b->cap)
		return 0;
	want = b->cap ? b->cap : 4096;
	while (want < b->len + n)
		want *= 2;
	nd = realloc(b->d, want);
	if (!nd)
		return -1;
	b->d = nd;
	b->cap = want;
	return 0;
}

static int buf_put(struct buf *b, const void *p, size_t n)
{
	if (!n)
		return 0;
	if (buf_reserve(b, n))
		return -1;
	memcpy(b->d + b->off + b->len, p, n);
	b->len += n;
	return 0;
}

static int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_reserve(b, (size_t)n + 1))
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->d + b->off + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

static char *buf_data(struct buf *b)
{
	return b->d + b->off;
}

static void buf_eat(struct buf *b, size_t n)
{
	b->off += n;
	b->len -= n;
	if (!b->len)
		b->off = 0;
}

static void buf_free(struct buf *b)
{
	free(b->d);
	memset(b, 0, sizeof(*b));
}

/* Give memory back when a connection goes idle. */
static void buf_trim(struct buf *b)
{
	if (!b->len && b->cap > IN_CHUNK)
		buf_free(b);
}

/* ---- the proxy, its workers and their objects ---- */

enum tag_kind { T_LSN = 1, T_CLIENT, T_UP, T_POOL, T_WAKE };

struct tag {
	enum tag_kind kind;
	void *obj;
};

struct worker;

struct lsn {
	struct tag tag;
	int fd;
	int refs; /* connections using it, plus one while listed */
	int gone; /* VIP removed: close connections after their request */
	struct vipconf *vc;
	struct worker *w;
	struct lsn *next;
};

struct up {
	struct tag tag;
	int fd;
	__u32 be_id, be_gen;
	struct sl_vip_key vip;
	uint64_t idle_since;
	struct up *next; /* in the pool */
	int in_ep;	 /* registered with the worker's epoll (kept while pooled) */
};

enum cstate { C_IDLE, C_PROXY, C_LOCAL, C_TUNNEL, C_SPLICE, C_CLOSING };

struct conn {
	struct tag tag;
	struct worker *w;
	struct lsn *l;
	struct vipconf *vc; /* during a request */
	int fd;
	enum cstate state;
	struct sockaddr_storage peer;
	char peer_str[INET6_ADDRSTRLEN];
	struct buf cin, cout;
	struct sl_http_parser *req, *resp;

	/* the upstream of the current request */
	struct up *up;
	int connecting, up_reused, up_eof, client_eof;
	struct buf uin, uout;
	int picked;    /* holds an active count on (be_id, be_gen) */
	int admitted;  /* holds a breaker ticket on be_id */
	__u64 ticket;
	uint64_t call_start; /* ns: the request went to this backend */
	__u32 be_id, be_gen, failed_be;
	int retry_left, idempotent, up_sent; /* up_sent: request bytes reached a socket */
	struct buf rehead;		     /* the upstream head, kept for a retry */
	int dead;			     /* closed; freed after this batch of events */
	uint32_t cev, uev;		     /* current epoll interest */
	struct conn *znext;

	/* the current request */
	const struct sl_route *route;
	int req_done, resp_done, resp_started, keep, resp_close_delim, upgrade, connect_method;
	int resp_no_body_req; /* HEAD */
	char reqid[40];
	char subject[128];
	char *origin; /* for CORS on the response */
	uint64_t t_start, header_deadline, req_deadline, idle_deadline, connect_deadline;
	uint64_t t_connect;
	uint64_t last_io; /* ns of the last byte read or written in an exchange */
	int status;

	struct sl_splice_flow *sf;
	int tun_c_shut, tun_u_shut;
	uint64_t splice_next; /* ns; 0 none */

	struct conn *prev, *next;
};

struct worker {
	struct sl_proxy *p;
	int id;
	pthread_t th;
	int epfd, wakefd;
	struct tag waketag;
	int stop;
	struct lsn *lsns;
	struct conn *conns;
	struct up *pool;
	int pool_n;
	struct snapshot *snap;
	struct conn *zombies;
	int splice_pending;
	uint64_t log_sec;
	int log_n, log_dropped;
};

struct sl_proxy {
	struct sl_proxy_ops ops;
	int nworkers;
	struct worker *w;
	pthread_mutex_t lock;
	struct snapshot *snap;
	struct vstats *stats[SL_MAX_VIPS];
	size_t nstats;
	struct sl_cstore *store;
	struct sl_splice *splice;
	uint64_t reqid_seed, reqid_seq;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SL_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

static uint64_t ms_ns(uint32_t ms)
{
	return (uint64_t)ms * 1000000ULL;
}

/* Refusals are logged, but at most LOG_PER_SEC lines a second per worker. */
static void wlog(struct worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void wlog(struct worker *w, const char *fmt, ...)
{
	uint64_t sec = now_ns() / SL_NS_PER_SEC;
	char line[512];
	va_list ap;

	if (sec != w->log_sec) {
		if (w->log_dropped)
			pr_info("l7: %d more refusals in the last second were not logged (see stats)",
				w->log_dropped);
		w->log_sec = sec;
		w->log_n = 0;
		w->log_dropped = 0;
	}
	if (w->log_n >= LOG_PER_SEC) {
		w->log_dropped++;
		return;
	}
	w->log_n++;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	pr_info("%s", line);
}

static struct snapshot *snap_get(struct sl_proxy *p)
{
	struct snapshot *s;

	pthread_mutex_lock(&p->lock);
	s = p->snap;
	if (s)
		s->refs++;
	pthread_mutex_unlock(&p->lock);
	return s;
}

static void snap_put(struct sl_proxy *p, struct snapshot *s)
{
	size_t i;
	int last;

	if (!s)
		return;
	pthread_mutex_lock(&p->lock);
	last = --s->refs == 0;
	pthread_mutex_unlock(&p->lock);
	if (!last)
		return;
	for (i = 0; i < s->n; i++)
		vc_put(s->v[i]);
	free(s);
}

/* ---- sockets ---- */

static socklen_t ep_sockaddr(const struct sl_endpoint *ep, __u16 port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (ep->family == SL_AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, ep->addr, 4);
		return sizeof(*s4);
	}
	{
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, ep->addr, 16);
		return sizeof(*s6);
	}
}

static int listen_on(const struct sl_endpoint *ep)
{
	struct sockaddr_storage ss;
	socklen_t sl = ep_sockaddr(ep, ep->port, &ss);
	int one = 1, fd;

	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* FREEBIND: the listener may exist before the VIP address is configured. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one)) ||
	    (ss.ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) ||
	    bind(fd, (struct sockaddr *)&ss, sl) || listen(fd, 1024)) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static void ep_ctl(struct worker *w, int op, int fd, uint32_t events, struct tag *t)
{
	struct epoll_event ev = { .events = events, .data.ptr = t };

	if (epoll_ctl(w->epfd, op, fd, &ev) && op != EPOLL_CTL_DEL)
		pr_warn("l7: epoll_ctl(%d) on fd %d: %s", op, fd, strerror(errno));
}

/* ---- upstream pool ---- */

static void up_close(struct worker *w, struct up *u, int rst)
{
	if (!u)
		return;
	if (rst) {
		struct linger lg = { 1, 0 };

		setsockopt(u->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	epoll_ctl(w->epfd, EPOLL_CTL_DEL, u->fd, NULL);
	close(u->fd);
	free(u);
}

static struct up *pool_take(struct worker *w, const struct sl_vip_key *vip, __u32 id, __u32 gen)
{
	struct up **pp, *u;

	for (pp = &w->pool; (u = *pp); pp = &u->next) {
		if (u->be_id == id && u->be_gen == gen && !memcmp(&u->vip, vip, sizeof(*vip))) {
			/* stays registered: the caller re-points it (one MOD, no DEL + ADD) */
			*pp = u->next;
			w->pool_n--;
			u->next = NULL;
			return u;
		}
	}
	return NULL;
}

static void pool_put(struct worker *w, struct up *u)
{
	if (w->pool_n >= POOL_MAX) {
		struct up **pp = &w->pool, *old;

		while ((*pp)->next) /* the oldest is last */
			pp = &(*pp)->next;
		old = *pp;
		*pp = NULL;
		w->pool_n--;
		up_close(w, old, 0);
	}
	u->idle_since = now_ns();
	u->tag.kind = T_POOL;
	u->tag.obj = u;
	u->next = w->pool;
	w->pool = u;
	w->pool_n++;
	ep_ctl(w, u->in_ep ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, u->fd, EPOLLIN | EPOLLRDHUP, &u->tag);
	u->in_ep = 1;
}

/* A pooled connection spoke or closed: it is no use any more. */
static void pool_drop(struct worker *w, struct up *dead)
{
	struct up **pp, *u;

	for (pp = &w->pool; (u = *pp); pp = &u->next)
		if (u == dead) {
			*pp = u->next;
			w->pool_n--;
			up_close(w, u, 0);
			return;
		}
}

static void pool_expire(struct worker *w, uint64_t now)
{
	struct up **pp = &w->pool, *u;

	while ((u = *pp)) {
		if (now - u->idle_since > POOL_IDLE_NS) {
			*pp = u->next;
			w->pool_n--;
			up_close(w, u, 0);
		} else {
			pp = &u->next;
		}
	}
}

/* ---- connections ---- */

/* The breaker's verdict on the current call (status 0: no verdict). */
static void call_done(struct conn *c, int status, int connect_error)
{
	struct sl_proxy *p = c->w->p;

	if (!c->admitted)
		return;
	c->admitted = 0;
	if (p->ops.done)
		p->ops.done(p->ops.ctx, c->be_id, c->ticket, status, connect_error,
			    (__u32)((now_ns() - c->call_start) / 1000000));
}

static void conn_release_backend(struct conn *c)
{
	struct sl_proxy *p = c->w->p;

	call_done(c, 0, 0);
	if (c->picked) {
		p->ops.release(p->ops.ctx, c->be_id, c->be_gen);
		c->picked = 0;
	}
}

static void conn_drop_up(struct conn *c, int rst)
{
	up_close(c->w, c->up, rst);
	c->up = NULL;
	c->connecting = 0;
	c->up_eof = 0;
	buf_free(&c->uin);
	buf_free(&c->uout);
}

static void conn_end_request(struct conn *c)
{
	conn_release_backend(c);
	vc_put(c->vc);
	c->vc = NULL;
	free(c->origin);
	c->origin = NULL;
	c->route = NULL;
	c->t_start = 0; /* an answer before the next head has no latency to count */
}

static struct vstats *cst(struct conn *c);

/* Close everything now; the struct itself is freed after the event batch. */
static void conn_close(struct conn *c)
{
	struct worker *w = c->w;

	if (c->dead)
		return;
	c->dead = 1;
	if (c->sf) {
		uint64_t a, b;

		sl_splice_flow_bytes(c->sf, &a, &b);
		vinc(cst(c), V_SPLICED_BYTES, a + b);
		sl_splice_end(c->sf);
		c->sf = NULL;
		w->splice_pending -= c->splice_next != 0;
		c->splice_next = 0;
	}
	conn_drop_up(c, c->state == C_PROXY && !c->resp_done);
	if (c->l && c->l->vc)
		vinc(c->l->vc->st, V_CONNS_ACTIVE, (uint64_t)-1);
	conn_end_request(c);
	epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	buf_free(&c->cin);
	buf_free(&c->cout);
	buf_free(&c->rehead);
	sl_http_free(c->req);
	sl_http_free(c->resp);
	c->req = c->resp = NULL;
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->znext = w->zombies;
	w->zombies = c;
}

static void lsn_put(struct lsn *l)
{
	if (l && --l->refs == 0) {
		vc_put(l->vc);
		free(l);
	}
}

static void zombies_free(struct worker *w)
{
	struct conn *c;

	while ((c = w->zombies)) {
		w->zombies = c->znext;
		lsn_put(c->l);
		free(c);
	}
}

static struct vstats *cst(struct conn *c)
{
	return c->vc ? c->vc->st : c->l && c->l->vc ? c->l->vc->st : NULL;
}

/* A request got its answer's head: count its status class and its latency. */
static void count_status(struct conn *c, int status)
{
	struct vstats *st = cst(c);
	uint64_t *rc;

	if (status < 100 || status >= 600)
		return;
	vinc(st, (enum vctr)(V_S1XX + status / 100 - 1), 1);
	if (c->vc && c->route && c->vc->rc)
		rc = c->vc->rc[c->route - c->vc->conf->routes];
	else
		rc = st ? st->unrouted : NULL;
	if (!rc)
		return;
	sl_ctr_add(&rc[status / 100 - 1], 1);
	if (c->t_start)
		sl_hist_observe(rc + 5, (now_ns() - c->t_start) / 1000);
}

/*
 * Answer the current request ourselves. @extra: header lines ("Name: v\r\n").
 * With @close_after (or a request body we will not read), the connection
 * closes after the answer is written.
 */
static void respond(struct conn *c, int status, const char *extra, const char *body, int close_after)
{
	const struct sl_http_head *h = c->req ? sl_http_head(c->req) : NULL;
	const char *rid = c->vc ? c->vc->conf->request_id_header : "X-Request-Id";
	char cors[2048];

	if (h && !c->req_done && (h->chunked || h->content_length > 0))
		close_after = 1; /* its body is still coming: we will not read it */
	if (!c->keep)
		close_after = 1;
	if (status == 204 || status == 304)
		buf_printf(&c->cout, "HTTP/1.1 %d %s\r\n", status, sl_http_reason(status));
	else
		buf_printf(&c->cout,
			   "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n",
			   status, sl_http_reason(status), strlen(body));
	if (extra)
		buf_printf(&c->cout, "%s", extra);
	if (c->origin && c->route && c->route->cors &&
	    sl_cors_actual(c->route->cors, c->origin, cors, sizeof(cors)))
		buf_printf(&c->cout, "%s", cors);
	if (*rid && c->reqid[0])
		buf_printf(&c->cout, "%s: %s\r\n", rid, c->reqid);
	buf_printf(&c->cout, "%s\r\n%s", close_after ? "Connection: close\r\n" : "", body);
	c->status = status;
	count_status(c, status);
	conn_drop_up(c, 1);
	conn_end_request(c);
	c->state = close_after ? C_CLOSING : C_LOCAL;
	c->idle_deadline = now_ns() + ms_ns(60000);
}

static void refuse(struct conn *c, enum vctr why, int status, const char *extra, const char *body,
		   const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void refuse(struct conn *c, enum vctr why, int status, const char *extra, const char *body,
		   const char *fmt, ...)
{
	/* the head is whole once handle_head() took the request (c->vc set) */
	const struct sl_http_head *h = c->req && c->vc ? sl_http_head(c->req) : NULL;
	char reason[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	vinc(cst(c), why, 1);
	wlog(c->w, "l7 %s: %d to %s for %s %.*s (request %s): %s",
	     c->l && c->l->vc ? c->l->vc->name : "?", status, c->peer_str,
	     h && h->method_str ? h->method_str : "-",
	     h && h->target ? (int)(h->target_len > 200 ? 200 : h->target_len) : 1,
	     h && h->target ? h->target : "-", c->reqid[0] ? c->reqid : "-", reason);
	respond(c, status, extra, body, 0);
}

/* ---- upstream: pick, connect, retry ---- */

static __u32 client_hash(const struct conn *c, __u32 salt)
{
	struct sl_flow f = { 0 };

	if (c->peer.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&c->peer;

		memcpy(f.src, &s4->sin_addr, 4);
		f.sport = s4->sin_port;
		f.family = SL_AF_INET;
	} else {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&c->peer;

		memcpy(f.src, &s6->sin6_addr, 16);
		f.sport = s6->sin6_port;
		f.family = SL_AF_INET6;
	}
	f.proto = IPPROTO_TCP;
	return sl_hash_flow(&f, salt);
}

/*
 * Choose a backend and get a connection to it: a pooled one if there is one,
 * else a new non-blocking connect. @avoid: a backend that just failed (the
 * pick is retried a few times to find another). Returns 0, or the HTTP status
 * to answer (503 no eligible backend, 502 cannot connect).
 */
static int up_open(struct conn *c, __u32 avoid)
{
	struct sl_proxy *p = c->w->p;
	const struct sl_vip_key *vk = &c->vc->key;
	struct sockaddr_storage ss;
	struct sl_backend be;
	struct sl_endpoint bep;
	__u32 id = 0, gen = 0;
	int err = 0, tries, fd, one = 1;
	struct up *u;
	socklen_t sl;

	for (tries = 0; tries < 4; tries++) {
		err = p->ops.pick(p->ops.ctx, vk, client_hash(c, (__u32)tries * 0x9e3779b9u), &id, &gen);
		if (err)
			break;
		if (id != avoid && (!p->ops.admit || p->ops.admit(p->ops.ctx, id, &c->ticket)))
			break;
		/* the backend that just failed, or its breaker is not letting calls in */
		p->ops.release(p->ops.ctx, id, gen);
		err = id == avoid ? -EAGAIN : -SL_DROP_NO_BACKEND;
	}
	if (err == -SL_DROP_NO_BACKEND || err == -SL_DROP_NO_GROUP || err == -SL_DROP_FAMILY)
		return 503;
	if (err == -EAGAIN)
		return 502; /* the only eligible backend is the one that failed */
	if (err)
		return 503;
	c->picked = 1;
	c->admitted = p->ops.admit != NULL;
	c->call_start = now_ns();
	c->be_id = id;
	c->be_gen = gen;
	/* a CONNECT tunnel needs a connection of its own */
	u = c->connect_method ? NULL : pool_take(c->w, vk, id, gen);
	if (u) {
		c->up = u;
		c->up_reused = 1;
		c->connecting = 0;
		vinc(cst(c), V_POOL_REUSE, 1);
		goto attach;
	}
	/* the backend's address: only a new connection needs it */
	if (p->ops.backend(p->ops.ctx, id, &be))
		return 502;
	memset(&bep, 0, sizeof(bep));
	memcpy(bep.addr, be.addr, sizeof(bep.addr));
	bep.family = be.family;
	sl = ep_sockaddr(&bep, be.port ? ntohs(be.port) : c->vc->ep.port, &ss);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 502;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&ss, sl) && errno != EINPROGRESS) {
		close(fd);
		return 502;
	}
	u = calloc(1, sizeof(*u));
	if (!u) {
		close(fd);
		return 502;
	}
	u->fd = fd;
	u->be_id = id;
	u->be_gen = gen;
	u->vip = *vk;
	c->up = u;
	c->up_reused = 0;
	c->connecting = 1;
	c->t_connect = now_ns();
	c->connect_deadline = c->t_connect + ms_ns(c->vc->conf->timeouts.connect_ms);
attach:
	u->tag.kind = T_UP;
	u->tag.obj = c;
	/* a pooled connection is writable: the request is written at once
	 * (conn_after), and conn_interest asks for EPOLLOUT only if it must */
	c->uev = c->connecting ? EPOLLOUT | EPOLLIN | EPOLLRDHUP : EPOLLIN | EPOLLRDHUP;
	ep_ctl(c->w, u->in_ep ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, u->fd, c->uev, &u->tag);
	u->in_ep = 1;
	return 0;
}

/*
 * The upstream failed before answering. Idempotent requests whose bytes did
 * not reach a fresh connection get one more try on another backend; a reused
 * pooled connection that was already closed by the backend is retried too.
 */
static void up_failed(struct conn *c, const char *what)
{
	int status;

	call_done(c, 0, 1); /* a failed call for the breaker, retried or not */
	__u32 failed = c->be_id;
	int stale_reuse = c->up_reused && !c->resp_started;

	if (!c->resp_started && c->idempotent && (stale_reuse || (!c->up_sent && c->retry_left))) {
		if (!stale_reuse)
			c->retry_left--;
		up_close(c->w, c->up, 1);
		c->up = NULL;
		conn_release_backend(c);
		buf_free(&c->uin);
		c->up_sent = 0;
		/* idempotent requests have no body: the head is the whole request */
		buf_free(&c->uout);
		buf_put(&c->uout, buf_data(&c->rehead), c->rehead.len);
		status = up_open(c, stale_reuse ? SL_BE_NONE : failed);
		if (!status) {
			vinc(cst(c), V_RETRIES, 1);
			return;
		}
		refuse(c, status == 503 ? V_NO_BACKEND : V_UPSTREAM_ERR, status, NULL,
		       status == 503 ? "no healthy backend\n" : "bad gateway\n",
		       "retry after %s: %s", what, status == 503 ? "no eligible backend" : "no other backend");
		return;
	}
	if (c->resp_started) {
		/* mid-response: nothing to say to the client but the close */
		wlog(c->w, "l7 %s: upstream %s mid-response (request %s): closing",
		     c->vc ? c->vc->name : "?", what, c->reqid);
		vinc(cst(c), V_UPSTREAM_ERR, 1);
		c->state = C_CLOSING;
		conn_drop_up(c, 1);
		conn_end_request(c);
		return;
	}
	refuse(c, V_UPSTREAM_ERR, 502, NULL, "bad gateway\n", "upstream %s", what);
}

/* ---- heads ---- */

static int name_is(const struct sl_http_hdr *hd, const char *name)
{
	return strlen(name) == hd->name_len && !strncasecmp(hd->name, name, hd->name_len);
}

/* Is @hd named in the Connection header's list (which makes it hop-by-hop)? */
static int in_connection_list(const struct sl_http_head *h, const struct sl_http_hdr *hd)
{
	const struct sl_http_hdr *conn = sl_http_find(h, "connection");
	const char *v, *end, *t;
	size_t n;

	if (!conn)
		return 0;
	v = conn->value;
	end = v + conn->value_len;
	while (v < end) {
		while (v < end && (*v == ' ' || *v == '\t' || *v == ','))
			v++;
		t = v;
		while (v < end && *v != ',' && *v != ' ' && *v != '\t')
			v++;
		n = (size_t)(v - t);
		if (n && n == hd->name_len && !strncasecmp(t, hd->name, n))
			return 1;
	}
	return 0;
}

/* Hop-by-hop, except what the proxy forwards on purpose: the framing of a body
 * it passes raw, and the Connection/Upgrade pair of an upgrade. */
static int skip_header(const struct sl_http_head *h, const struct sl_http_hdr *hd, int upgrade)
{
	if (name_is(hd, "transfer-encoding") || name_is(hd, "content-length"))
		return 0;
	if (upgrade && (name_is(hd, "connection") || name_is(hd, "upgrade")))
		return 0;
	return sl_http_is_hop_by_hop(hd->name, hd->name_len) || in_connection_list(h, hd);
}

static void build_up_head(struct conn *c, const struct sl_http_head *h)
{
	const struct sl_l7_conf *cf = c->vc->conf;
	const char *fwd_sub = c->route->jwt ? sl_jwt_forward_header(c->route->jwt) : NULL;
	const struct sl_http_hdr *xff = NULL;
	struct buf *b = &c->uout;
	uint32_t i;

	buf_printf(b, "%s %.*s HTTP/1.%d\r\n", h->method_str, (int)h->target_len, h->target,
		   h->minor);
	for (i = 0; i < h->n_hdr; i++) {
		const struct sl_http_hdr *hd = &h->hdr[i];

		if (skip_header(h, hd, c->upgrade))
			continue;
		if (name_is(hd, "x-forwarded-for")) {
			if (!xff)
				xff = hd;
			continue;
		}
		if (name_is(hd, "x-forwarded-proto") ||
		    (cf->request_id_header[0] && name_is(hd, cf->request_id_header)) ||
		    (fwd_sub && name_is(hd, fwd_sub)))
			continue; /* ours to set: a client may not forge them */
		buf_printf(b, "%.*s: %.*s\r\n", (int)hd->name_len, hd->name, (int)hd->value_len,
			   hd->value);
	}
	if (xff)
		buf_printf(b, "X-Forwarded-For: %.*s, %s\r\n", (int)xff->value_len, xff->value,
			   c->peer_str);
	else
		buf_printf(b, "X-Forwarded-For: %s\r\n", c->peer_str);
	buf_printf(b, "X-Forwarded-Proto: %s\r\n", cf->proto);
	if (cf->request_id_header[0])
		buf_printf(b, "%s: %s\r\n", cf->request_id_header, c->reqid);
	if (fwd_sub && c->subject[0])
		buf_printf(b, "%s: %s\r\n", fwd_sub, c->subject);
	buf_printf(b, "\r\n");
}

static void build_client_head(struct conn *c, const struct sl_http_head *h)
{
	const struct sl_l7_conf *cf = c->vc->conf;
	struct buf *b = &c->cout;
	int upgrade = h->status == 101;
	int has_rid = 0;
	char cors[2048];
	uint32_t i;

	buf_printf(b, "HTTP/1.1 %d %s\r\n", h->status, sl_http_reason(h->status));
	for (i = 0; i < h->n_hdr; i++) {
		const struct sl_http_hdr *hd = &h->hdr[i];

		if (skip_header(h, hd, upgrade))
			continue;
		if (cf->request_id_header[0] && name_is(hd, cf->request_id_header))
			has_rid = 1;
		buf_printf(b, "%.*s: %.*s\r\n", (int)hd->name_len, hd->name, (int)hd->value_len,
			   hd->value);
	}
	if (c->origin && c->route && c->route->cors &&
	    sl_cors_actual(c->route->cors, c->origin, cors, sizeof(cors)))
		buf_printf(b, "%s", cors);
	if (cf->request_id_header[0] && !has_rid)
		buf_printf(b, "%s: %s\r\n", cf->request_id_header, c->reqid);
	if (!c->keep && !upgrade && h->status >= 200)
		buf_printf(b, "Connection: close\r\n");
	buf_printf(b, "\r\n");
}

/* ---- the request's decisions ---- */

static int method_idempotent(int m)
{
	return m == HTTP_GET || m == HTTP_HEAD || m == HTTP_OPTIONS || m == HTTP_TRACE ||
	       m == HTTP_PUT || m == HTTP_DELETE;
}

static void go_tunnel(struct conn *c);

/*
 * Routes match the path as received, so a path a backend would read
 * differently is refused: dot-segments ("/./", "/../"), encoded dots and
 * slashes ("%2e", "%2f", "%5c") and backslashes. Otherwise "/open/../admin"
 * could match an open route and reach a protected one.
 */
static const char *ambiguous_path(const char *t, size_t len)
{
	size_t i, seg = 0;

	for (i = 0; i < len && t[i] != '?' && t[i] != '#'; i++) {
		char c = t[i];

		if (c == '\\')
			return "a backslash";
		if (c == '%' && i + 2 < len &&
		    ((t[i + 1] == '2' && strchr("eEfF", t[i + 2])) ||
		     (t[i + 1] == '5' && strchr("cC", t[i + 2]))))
			return "an encoded '.', '/' or '\\'";
		if (c == '/') {
			size_t n = i - seg;

			if ((n == 1 && t[seg] == '.') || (n == 2 && t[seg] == '.' && t[seg + 1] == '.'))
				return "a '.' or '..' segment";
			seg = i + 1;
		}
	}
	if ((i - seg == 1 && t[seg] == '.') || (i - seg == 2 && t[seg] == '.' && t[seg + 1] == '.'))
		return "a '.' or '..' segment";
	return NULL;
}

static void handle_head(struct conn *c, int upgrade)
{
	const struct sl_http_head *h = sl_http_head(c->req);
	struct sl_proxy *p = c->w->p;
	const struct sl_http_hdr *host, *origin, *hd;
	const struct sl_l7_conf *cf;
	const struct sl_route *r;
	uint64_t now = now_ns();
	int status;

	c->vc = vc_get(c->l->vc);
	cf = c->vc->conf;
	snprintf(c->reqid, sizeof(c->reqid), "%016llx-%llu", (unsigned long long)p->reqid_seed,
		 (unsigned long long)__atomic_add_fetch(&p->reqid_seq, 1, __ATOMIC_RELAXED));
	vinc(c->vc->st, V_REQUESTS, 1);
	c->t_start = now;
	c->last_io = now;
	c->req_deadline = now + ms_ns(cf->timeouts.request_ms);
	c->header_deadline = 0;
	c->keep = h->keep_alive && !c->l->gone;
	c->req_done = h->no_body || upgrade;
	c->resp_done = c->resp_started = c->resp_close_delim = 0;
	c->upgrade = upgrade && h->method != HTTP_CONNECT;
	c->connect_method = h->method == HTTP_CONNECT;
	c->subject[0] = 0;
	c->status = 0;

	if (!c->connect_method) {
		const char *why = ambiguous_path(h->target, h->target_len);

		if (why) {
			c->keep = c->keep && c->req_done;
			refuse(c, V_BAD_REQUEST, 400, NULL, "bad request\n",
			       "the path has %s (routes match the path as sent)", why);
			return;
		}
	}
	host = sl_http_find(h, "host");
	if (c->connect_method) /* authority-form "host:port": route by that host, path "/" */
		r = sl_route_match(cf, h->target, h->target_len, "/", 1);
	else
		r = sl_route_match(cf, host ? host->value : NULL, host ? host->value_len : 0,
				   h->target, h->target_len);
	if (!r) {
		c->keep = c->keep && c->req_done;
		refuse(c, V_NO_ROUTE, 404, NULL, "no route\n", "no route for host %.*s",
		       host ? (int)(host->value_len > 100 ? 100 : host->value_len) : 1,
		       host ? host->value : "-");
		return;
	}
	c->route = r;
	origin = sl_http_find(h, "origin");
	if (origin)
		c->origin = strndup(origin->value, origin->value_len);

	if (r->cors && c->origin && h->method == HTTP_OPTIONS &&
	    (hd = sl_http_find(h, "access-control-request-method"))) {
		const struct sl_http_hdr *acrh = sl_http_find(h, "access-control-request-headers");
		char m[32], *rh = acrh ? strndup(acrh->value, acrh->value_len) : NULL;
		char out[2048];
		int ok;

		snprintf(m, sizeof(m), "%.*s", (int)hd->value_len, hd->value);
		vinc(c->vc->st, V_PREFLIGHT, 1);
		ok = sl_cors_preflight(r->cors, c->origin, m, rh, out, sizeof(out));
		free(rh);
		free(c->origin);
		c->origin = NULL; /* the preflight answer carries its own CORS headers */
		if (ok)
			respond(c, 204, out, "", 0);
		else
			refuse(c, V_CORS_DENIED, 403, NULL, "CORS preflight refused\n",
			       "route %s: CORS preflight refused (origin, method or headers not allowed)",
			       r->name);
		return;
	}
	if (r->jwt) {
		const struct sl_http_hdr *az = sl_http_find(h, "authorization");
		enum sl_jwt_result jr;

		jr = sl_jwt_verify(r->jwt, az ? az->value : NULL, az ? az->value_len : 0, time(NULL),
				   c->subject, sizeof(c->subject));
		if (jr != SL_JWT_OK) {
			refuse(c, V_UNAUTHORIZED, 401,
			       jr == SL_JWT_MISSING ?
				       "WWW-Authenticate: Bearer\r\n" :
				       "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n",
			       "unauthorized\n", "route %s: token refused: %s", r->name,
			       sl_jwt_result_name(jr));
			return;
		}
	}
	if (r->limit) {
		struct sl_limit_verdict v;
		char hdrs[256];
		const void *key;
		size_t klen;

		if (sl_limit_keyed_by(r->limit) == SL_LIMIT_BY_SUBJECT) {
			key = c->subject;
			klen = strlen(c->subject);
		} else if (c->peer.ss_family == AF_INET) {
			key = &((struct sockaddr_in *)&c->peer)->sin_addr;
			klen = 4;
		} else {
			key = &((struct sockaddr_in6 *)&c->peer)->sin6_addr;
			klen = 16;
		}
		sl_limit_check(r->limit, key, klen, now, &v);
		if (!v.allowed) {
			if (sl_limit_headers(&v, hdrs, sizeof(hdrs)) < 0)
				hdrs[0] = 0;
			refuse(c, V_LIMITED, 429, hdrs, "too many requests\n",
			       "route %s: request limit reached, retry after %us", r->name,
			       v.retry_after_s);
			return;
		}
	}

	c->idempotent = method_idempotent(h->method) && h->no_body;
	c->retry_left = 1;
	c->up_sent = 0;
	buf_free(&c->rehead);
	if (!c->connect_method) {
		build_up_head(c, h);
		if (c->idempotent)
			buf_put(&c->rehead, buf_data(&c->uout), c->uout.len);
	}
	sl_http_reset(c->resp);
	sl_http_set_request_method(c->resp, h->method);
	status = up_open(c, SL_BE_NONE);
	if (status) {
		c->keep = c->keep && c->req_done;
		refuse(c, status == 503 ? V_NO_BACKEND : V_UPSTREAM_ERR, status, NULL,
		       status == 503 ? "no healthy backend\n" : "bad gateway\n", "upstream: %s",
		       status == 503 ? "no eligible backend" : "cannot connect");
		return;
	}
	c->state = C_PROXY;
	if (r->splice == SL_SPLICE_AFTER_AUTH && !c->connect_method) {
		/* authorized: the rest of this connection is bytes, both ways */
		go_tunnel(c);
	}
}

/* ---- tunnels: upgrades, CONNECT, after-auth routes ---- */

static void go_tunnel(struct conn *c)
{
	c->state = C_TUNNEL;
	c->keep = 0;
	vinc(cst(c), V_TUNNELS, 1);
	c->tun_c_shut = c->tun_u_shut = 0;
}

static int try_splice(struct conn *c)
{
	struct sl_proxy *p = c->w->p;
	struct epoll_event ev;

	if (!p->splice || c->connecting || !c->up || c->cin.len || c->uin.len || c->cout.len ||
	    c->uout.len || c->client_eof || c->up_eof)
		return 0;
	c->sf = sl_splice_start(p->splice, c->fd, c->up->fd);
	if (!c->sf)
		return 0;
	c->state = C_SPLICE;
	vinc(cst(c), V_SPLICED_FLOWS, 1);
	/* edge-triggered from now on: we never read these sockets again */
	ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
	ev.data.ptr = &c->tag;
	epoll_ctl(c->w->epfd, EPOLL_CTL_MOD, c->fd, &ev);
	ev.data.ptr = &c->up->tag;
	epoll_ctl(c->w->epfd, EPOLL_CTL_MOD, c->up->fd, &ev);
	c->cev = c->uev = ev.events;
	return 1;
}

static void splice_schedule(struct conn *c, int next_ms)
{
	int had = c->splice_next != 0;

	c->splice_next = next_ms < 0 ? 0 : now_ns() + ms_ns((uint32_t)next_ms);
	c->w->splice_pending += (c->splice_next != 0) - had;
}

static void pump_tunnel(struct conn *c)
{
	size_t n;

	if (c->connecting)
		return;
	n = c->cin.len;
	if (n && c->uout.len < OUT_HWM) {
		buf_put(&c->uout, buf_data(&c->cin), n);
		buf_eat(&c->cin, n);
	}
	n = c->uin.len;
	if (n && c->cout.len < OUT_HWM) {
		buf_put(&c->cout, buf_data(&c->uin), n);
		buf_eat(&c->uin, n);
	}
	if (c->client_eof && !c->cin.len && !c->uout.len && !c->tun_u_shut) {
		shutdown(c->up->fd, SHUT_WR);
		c->tun_u_shut = 1;
	}
	if (c->up_eof && !c->uin.len && !c->cout.len && !c->tun_c_shut) {
		shutdown(c->fd, SHUT_WR);
		c->tun_c_shut = 1;
	}
	if (c->tun_c_shut && c->tun_u_shut) {
		conn_close(c);
		return;
	}
	if (!c->sf)
		try_splice(c);
}

/* ---- one exchange ---- */

static void finish_exchange(struct conn *c)
{
	int reuse = c->up && !c->up_eof && !c->resp_close_delim && c->req_done && !c->uin.len &&
		    !c->uout.len && !c->connecting && c->status >= 200;
	const struct sl_http_head *rh = sl_http_head(c->resp);

	reuse = reuse && rh && rh->keep_alive;
	count_status(c, c->status);
	call_done(c, c->status, 0);
	if (c->up) {
		if (reuse) {
			c->up->tag.obj = NULL;
			pool_put(c->w, c->up); /* re-pointed at the pool by one MOD */
			c->up = NULL;
		}
		conn_drop_up(c, 0);
	}
	conn_end_request(c);
	if (!c->req_done)
		c->keep = 0; /* the rest of the request body is unread */
	c->state = c->keep ? C_LOCAL : C_CLOSING;
	c->idle_deadline = now_ns() + ms_ns(60000);
}

/* Client bytes while waiting for a head. Returns 1 when the state changed. */
static int pump_idle(struct conn *c)
{
	enum sl_http_event ev;
	size_t used = 0;

	if (!c->cin.len)
		return 0;
	if (!c->header_deadline && c->l->vc)
		c->header_deadline = now_ns() + ms_ns(c->l->vc->conf->timeouts.header_ms);
	ev = sl_http_feed(c->req, buf_data(&c->cin), c->cin.len, &used);
	buf_eat(&c->cin, used);
	switch (ev) {
	case SL_HTTP_NEED_MORE:
		return 0;
	case SL_HTTP_HEAD:
	case SL_HTTP_UPGRADE:
		handle_head(c, ev == SL_HTTP_UPGRADE);
		return 1;
	default:
		c->keep = 0;
		c->reqid[0] = 0;
		refuse(c, V_BAD_REQUEST, ev == SL_HTTP_ERROR ? sl_http_error_status(c->req) : 400,
		       NULL, "bad request\n", "refused request: %s",
		       ev == SL_HTTP_ERROR ? sl_http_error(c->req) : "unexpected parser state");
		return 1;
	}
}

/* Request body to the upstream, response to the client. Returns 1 on progress. */
static int pump_proxy(struct conn *c)
{
	enum sl_http_event ev;
	size_t used, n;
	int progress = 0;

	if (!c->req_done && c->uout.len < OUT_HWM) {
		n = c->cin.len < OUT_HWM - c->uout.len ? c->cin.len : OUT_HWM - c->uout.len;
		used = 0;
		ev = sl_http_feed(c->req, buf_data(&c->cin), n, &used);
		if (ev == SL_HTTP_ERROR) {
			if (c->resp_started) {
				wlog(c->w, "l7 %s: bad request body from %s (request %s): %s",
				     c->vc->name, c->peer_str, c->reqid, sl_http_error(c->req));
				vinc(cst(c), V_BAD_REQUEST, 1);
				conn_close(c);
				return 0;
			}
			c->keep = 0;
			refuse(c, V_BAD_REQUEST, sl_http_error_status(c->req), NULL, "bad request\n",
			       "refused request body: %s", sl_http_error(c->req));
			return 1;
		}
		if (used) {
			buf_put(&c->uout, buf_data(&c->cin), used);
			buf_eat(&c->cin, used);
			progress = 1;
		}
		if (ev == SL_HTTP_DONE) {
			c->req_done = 1;
			progress = 1;
		}
	}
	while (c->up && !c->resp_done && (c->uin.len || (c->up_eof && !c->connecting)) &&
	       c->cout.len < OUT_HWM) {
		if (!c->uin.len) {
			ev = sl_http_finish(c->resp);
			if (ev == SL_HTTP_DONE && c->resp_started) {
				c->resp_done = 1;
				c->keep = 0;
				c->resp_close_delim = 1;
			} else {
				up_failed(c, c->resp_started ? "closed mid-response" :
							  "closed the connection before answering");
				return 1;
			}
			break;
		}
		n = c->uin.len < OUT_HWM - c->cout.len ? c->uin.len : OUT_HWM - c->cout.len;
		used = 0;
		ev = sl_http_feed(c->resp, buf_data(&c->uin), n, &used);
		if (ev == SL_HTTP_ERROR) {
			if (!c->resp_started) {
				c->keep = 0;
				call_done(c, 502, 0);
				refuse(c, V_UPSTREAM_ERR, 502, NULL, "bad gateway\n",
				       "bad response from backend: %s", sl_http_error(c->resp));
				return 1;
			}
			wlog(c->w, "l7 %s: bad response body from backend (request %s): %s",
			     c->vc->name, c->reqid, sl_http_error(c->resp));
			vinc(cst(c), V_UPSTREAM_ERR, 1);
			conn_close(c);
			return 0;
		}
		if (ev == SL_HTTP_HEAD || ev == SL_HTTP_UPGRADE) {
			const struct sl_http_head *h = sl_http_head(c->resp);

			buf_eat(&c->uin, used);
			progress = 1;
			if (h->status < 200 && ev != SL_HTTP_UPGRADE) {
				/* interim (100 Continue ...): pass on; the final one follows */
				build_client_head(c, h);
				sl_http_reset(c->resp);
				sl_http_set_request_method(c->resp, sl_http_head(c->req)->method);
				continue;
			}
			c->resp_started = 1;
			c->status = h->status;
			if (!h->keep_alive || (h->content_length < 0 && !h->chunked && !h->no_body &&
					       ev != SL_HTTP_UPGRADE))
				c->keep = 0;
			if (ev == SL_HTTP_UPGRADE) {
				/* the backend stays counted (and picked) while the tunnel lives */
				build_client_head(c, h);
				count_status(c, c->status);
				call_done(c, c->status, 0);
				go_tunnel(c);
				return 1;
			}
			build_client_head(c, h);
			if (h->no_body) {
				c->resp_done = 1;
				break;
			}
			continue;
		}
		if (used) {
			buf_put(&c->cout, buf_data(&c->uin), used);
			buf_eat(&c->uin, used);
			progress = 1;
		}
		if (ev == SL_HTTP_DONE)
			c->resp_done = 1;
		if (!used && ev != SL_HTTP_DONE)
			break;
	}
	if (c->resp_done && (c->req_done || !c->keep)) {
		finish_exchange(c);
		return 1;
	}
	if (c->resp_done && !c->req_done) {
		/* answered before the body ended: close once written */
		c->keep = 0;
		finish_exchange(c);
		return 1;
	}
	return progress;
}

static void conn_pump(struct conn *c)
{
	int guard;

	for (guard = 0; guard < 64 && !c->dead; guard++) {
		switch (c->state) {
		case C_IDLE:
			if (!pump_idle(c))
				return;
			break;
		case C_PROXY:
			if (!pump_proxy(c))
				return;
			break;
		case C_LOCAL:
			if (c->cout.len)
				return;
			/* answered and written: ready for the next (pipelined) request */
			sl_http_reset(c->req);
			c->state = C_IDLE;
			c->header_deadline = 0;
			c->reqid[0] = 0; /* a refusal of the next head must not name this one */
			c->idle_deadline = now_ns() + ms_ns(c->l->vc ? c->l->vc->conf->timeouts.idle_ms :
								       60000);
			if (c->l->gone) {
				conn_close(c);
				return;
			}
			buf_trim(&c->cin);
			buf_trim(&c->cout);
			break;
		case C_TUNNEL:
			pump_tunnel(c);
			return;
		case C_SPLICE:
			return;
		case C_CLOSING:
			if (!c->cout.len)
				conn_close(c);
			return;
		}
	}
}

/* ---- socket I/O ---- */

/* Returns bytes read, 0 on EOF, -1 on EAGAIN, -2 on error. */
static ssize_t read_into(int fd, struct buf *b, uint64_t *last_io)
{
	ssize_t n;

	if (buf_reserve(b, IN_CHUNK))
		return -2;
	n = recv(fd, b->d + b->off + b->len, IN_CHUNK, 0);
	if (n > 0) {
		b->len += (size_t)n;
		*last_io = now_ns();
		return n;
	}
	if (n == 0)
		return 0;
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -1 : -2;
}

/* Returns 0, or -1 when the socket failed. */
static int write_from(struct conn *c, int fd, struct buf *b, int *sent)
{
	while (b->len) {
		ssize_t n = send(fd, buf_data(b), b->len, MSG_NOSIGNAL);

		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
		vinc(cst(c), V_COPIED_BYTES, (uint64_t)n);
		buf_eat(b, (size_t)n);
		c->last_io = now_ns();
		if (sent)
			*sent = 1;
	}
	return 0;
}

static void conn_flush(struct conn *c)
{
	if (c->dead)
		return;
	if (c->cout.len && write_from(c, c->fd, &c->cout, NULL)) {
		conn_close(c);
		return;
	}
	if (c->up && !c->connecting && c->uout.len &&
	    write_from(c, c->up->fd, &c->uout, &c->up_sent)) {
		if (c->state == C_PROXY)
			up_failed(c, "write failed");
		else
			conn_close(c);
	}
}

static void conn_interest(struct conn *c)
{
	uint32_t ce = 0, ue = 0;
	int want_in;

	if (c->dead || c->state == C_SPLICE)
		return;
	switch (c->state) {
	case C_IDLE:
		want_in = 1;
		break;
	case C_PROXY:
		want_in = !c->req_done && c->uout.len < OUT_HWM;
		break;
	case C_TUNNEL:
		want_in = c->uout.len < OUT_HWM;
		break;
	default:
		want_in = 0;
	}
	if (want_in && !c->client_eof && c->cin.len < IN_CHUNK)
		ce |= EPOLLIN | EPOLLRDHUP;
	if (c->cout.len)
		ce |= EPOLLOUT;
	if (ce != c->cev) {
		ep_ctl(c->w, EPOLL_CTL_MOD, c->fd, ce, &c->tag);
		c->cev = ce;
	}
	if (!c->up)
		return;
	if (c->connecting)
		ue = EPOLLOUT;
	else {
		if (!c->up_eof && c->uin.len < IN_CHUNK && c->cout.len < OUT_HWM)
			ue |= EPOLLIN | EPOLLRDHUP;
		if (c->uout.len)
			ue |= EPOLLOUT;
	}
	if (ue != c->uev) {
		ep_ctl(c->w, EPOLL_CTL_MOD, c->up->fd, ue, &c->up->tag);
		c->uev = ue;
	}
}

static void conn_after(struct conn *c)
{
	int i;

	for (i = 0; i < 4 && !c->dead; i++) {
		size_t before = c->cout.len + c->uout.len + c->cin.len + c->uin.len;
		enum cstate st = c->state;

		conn_pump(c);
		conn_flush(c);
		if (c->dead || (st == c->state &&
				before == c->cout.len + c->uout.len + c->cin.len + c->uin.len))
			break;
	}
	if (!c->dead && c->state == C_CLOSING && !c->cout.len)
		conn_close(c);
	conn_interest(c);
}

static void on_client(struct conn *c, uint32_t events)
{
	ssize_t n;

	if (c->state == C_SPLICE) {
		int nx = -1;

		if (sl_splice_event(c->sf, c->fd, events) == 1 || sl_splice_poll(c->sf, &nx) == 1) {
			conn_close(c);
			return;
		}
		splice_schedule(c, nx);
		return;
	}
	if (events & EPOLLOUT)
		conn_flush(c);
	if (c->dead)
		return;
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
		n = read_into(c->fd, &c->cin, &c->last_io);
		if (n == 0) {
			c->client_eof = 1;
		} else if (n == -2) {
			conn_close(c);
			return;
		}
	}
	if (c->client_eof) {
		if (c->state == C_IDLE && !c->cin.len) {
			conn_close(c);
			return;
		}
		if (c->state == C_PROXY && !c->req_done) {
			conn_close(c); /* the client gave up mid-request */
			return;
		}
		c->keep = 0;
	}
	conn_after(c);
}

static void on_up(struct conn *c, uint32_t events)
{
	ssize_t n;

	if (c->state == C_SPLICE) {
		int nx = -1;

		if (sl_splice_event(c->sf, c->up->fd, events) == 1 ||
		    sl_splice_poll(c->sf, &nx) == 1) {
			conn_close(c);
			return;
		}
		splice_schedule(c, nx);
		return;
	}
	if (!c->up)
		return;
	if (c->connecting) {
		int err = 0;
		socklen_t l = sizeof(err);

		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		getsockopt(c->up->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err) {
			char what[96];

			snprintf(what, sizeof(what), "connect failed: %s", strerror(err));
			up_failed(c, what);
			conn_after(c);
			return;
		}
		c->connecting = 0;
		if (c->vc && c->vc->st)
			sl_hist_observe(c->vc->st->connect, (now_ns() - c->t_connect) / 1000);
		c->uev = 0xffffffffu; /* force a re-arm */
		if (c->connect_method) {
			buf_printf(&c->cout, "HTTP/1.1 200 Connection Established\r\n\r\n");
			c->status = 200;
			count_status(c, 200);
			call_done(c, 200, 0);
			go_tunnel(c);
		}
	}
	if (events & EPOLLOUT)
		conn_flush(c);
	if (c->dead || !c->up)
		return;
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
		n = read_into(c->up->fd, &c->uin, &c->last_io);
		if (n == 0 || n == -2)
			c->up_eof = 1;
	}
	conn_after(c);
}

static void on_accept(struct worker *w, struct lsn *l)
{
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		const struct sl_l7_conf *cf = l->vc->conf;
		struct conn *c;
		int one = 1;

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				wlog(w, "l7 %s: accept: %s", l->vc->name, strerror(errno));
			return;
		}
		c = calloc(1, sizeof(*c));
		if (c) {
			c->req = sl_http_new(SL_HTTP_REQUEST, &cf->limits);
			c->resp = sl_http_new(SL_HTTP_RESPONSE, &cf->limits);
		}
		if (!c || !c->req || !c->resp) {
			if (c) {
				sl_http_free(c->req);
				sl_http_free(c->resp);
			}
			free(c);
			close(fd);
			wlog(w, "l7 %s: out of memory for a new connection", l->vc->name);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->tag.kind = T_CLIENT;
		c->tag.obj = c;
		c->w = w;
		c->l = l;
		l->refs++;
		c->fd = fd;
		c->peer = ss;
		if (ss.ss_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, c->peer_str,
				  sizeof(c->peer_str));
		else
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, c->peer_str,
				  sizeof(c->peer_str));
		c->state = C_IDLE;
		c->failed_be = SL_BE_NONE;
		c->idle_deadline = now_ns() + ms_ns(cf->timeouts.idle_ms);
		c->next = w->conns;
		if (w->conns)
			w->conns->prev = c;
		w->conns = c;
		vinc(l->vc->st, V_CONNS, 1);
		vinc(l->vc->st, V_CONNS_ACTIVE, 1);
		c->cev = EPOLLIN | EPOLLRDHUP;
		ep_ctl(w, EPOLL_CTL_ADD, fd, c->cev, &c->tag);
	}
}

/* ---- timers ---- */

static void conn_timers(struct conn *c, uint64_t now)
{
	if (c->state == C_SPLICE) {
		int nx = -1;

		if (c->splice_next && now >= c->splice_next) {
			if (sl_splice_poll(c->sf, &nx) == 1) {
				conn_close(c);
				return;
			}
			splice_schedule(c, nx);
		}
		return;
	}
	switch (c->state) {
	case C_IDLE:
		if (c->header_deadline && now > c->header_deadline) {
			c->keep = 0;
			refuse(c, V_TIMEOUT, 408, NULL, "request timeout\n",
			       "no complete request head within the header timeout");
			conn_after(c);
		} else if (!c->header_deadline && !c->cin.len && now > c->idle_deadline) {
			conn_close(c);
		}
		return;
	case C_PROXY:
		if (c->connecting && now > c->connect_deadline) {
			up_failed(c, "connect timed out");
			conn_after(c);
		} else if (!c->resp_started && now > c->req_deadline) {
			c->keep = 0;
			call_done(c, 504, 0);
			refuse(c, V_TIMEOUT, 504, NULL, "gateway timeout\n",
			       "no response within the request timeout");
			conn_after(c);
		} else if (c->resp_started && now > c->req_deadline &&
			   now - c->last_io > ms_ns(c->vc->conf->timeouts.idle_ms)) {
			/* a body on its way may take longer than the request timeout, but
			 * not stall for longer than the idle timeout */
			vinc(cst(c), V_TIMEOUT, 1);
			wlog(c->w, "l7 %s: request %s: no bytes either way for the idle timeout "
				   "mid-response: closing",
			     c->vc->name, c->reqid);
			conn_close(c);
		}
		return;
	case C_LOCAL:
	case C_CLOSING:
		if (now > c->idle_deadline) /* a reader that never reads its answer */
			conn_close(c);
		return;
	default:
		return;
	}
}

/* ---- workers ---- */

static int ep_equal(const struct sl_endpoint *a, const struct sl_endpoint *b)
{
	return a->family == b->family && a->port == b->port &&
	       !memcmp(a->addr, b->addr, sizeof(a->addr));
}

/* Make this worker's listeners match the current snapshot. */
static void worker_resync(struct worker *w)
{
	struct snapshot *s = snap_get(w->p);
	struct lsn **pp, *l;
	size_t i;

	for (pp = &w->lsns; (l = *pp);) {
		struct vipconf *nv = NULL;

		for (i = 0; s && i < s->n; i++)
			if (ep_equal(&s->v[i]->ep, &l->vc->ep) && !strcmp(s->v[i]->name, l->vc->name))
				nv = s->v[i];
		if (nv) {
			if (nv != l->vc) {
				vc_put(l->vc);
				l->vc = vc_get(nv);
			}
			pp = &l->next;
			continue;
		}
		/* the VIP is gone: stop accepting; connections end after their request */
		*pp = l->next;
		l->gone = 1;
		epoll_ctl(w->epfd, EPOLL_CTL_DEL, l->fd, NULL);
		close(l->fd);
		l->fd = -1;
		lsn_put(l);
	}
	for (i = 0; s && i < s->n; i++) {
		for (l = w->lsns; l; l = l->next)
			if (l->vc == s->v[i])
				break;
		if (l)
			continue;
		l = calloc(1, sizeof(*l));
		if (!l)
			continue;
		l->fd = listen_on(&s->v[i]->ep);
		if (l->fd < 0) {
			char a[64];

			pr_err("l7 %s: worker %d cannot listen on %s: %s", s->v[i]->name, w->id,
			       sl_endpoint_str(&s->v[i]->ep, a, sizeof(a)), strerror(errno));
			free(l);
			continue;
		}
		l->tag.kind = T_LSN;
		l->tag.obj = l;
		l->refs = 1;
		l->w = w;
		l->vc = vc_get(s->v[i]);
		l->next = w->lsns;
		w->lsns = l;
		ep_ctl(w, EPOLL_CTL_ADD, l->fd, EPOLLIN, &l->tag);
	}
	snap_put(w->p, w->snap);
	w->snap = s;
}

static void worker_tick(struct worker *w)
{
	uint64_t now = now_ns();
	struct conn *c, *next;

	for (c = w->conns; c; c = next) {
		next = c->next;
		conn_timers(c, now);
	}
	pool_expire(w, now);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[64];
	uint64_t last_tick = now_ns();
	int i, n;

	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		n = epoll_wait(w->epfd, evs, 64, w->splice_pending ? 5 : TICK_MS);
		for (i = 0; i < n; i++) {
			struct tag *t = evs[i].data.ptr;
			struct conn *c;

			switch (t->kind) {
			case T_WAKE: {
				uint64_t v;

				if (read(w->wakefd, &v, sizeof(v)) < 0 && errno != EAGAIN)
					pr_warn("l7: worker %d wake: %s", w->id, strerror(errno));
				worker_resync(w);
				break;
			}
			case T_LSN:
				on_accept(w, t->obj);
				break;
			case T_CLIENT:
				c = t->obj;
				if (!c->dead)
					on_client(c, evs[i].events);
				break;
			case T_UP:
				c = t->obj;
				if (c && !c->dead)
					on_up(c, evs[i].events);
				break;
			case T_POOL:
				pool_drop(w, t->obj);
				break;
			}
		}
		if (w->splice_pending || now_ns() - last_tick >= ms_ns(TICK_MS)) {
			worker_tick(w);
			last_tick = now_ns();
		}
		zombies_free(w);
	}
	while (w->conns)
		conn_close(w->conns);
	zombies_free(w);
	while (w->pool) {
		struct up *u = w->pool;

		w->pool = u->next;
		up_close(w, u, 0);
	}
	while (w->lsns) {
		struct lsn *l = w->lsns;

		w->lsns = l->next;
		close(l->fd);
		lsn_put(l);
	}
	snap_put(w->p, w->snap);
	w->snap = NULL;
	return NULL;
}

/* ---- the agent's side ---- */

static uint64_t *cells(struct sl_proxy *p, uint32_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static uint64_t *cells(struct sl_proxy *p, uint32_t n, const char *fmt, ...)
{
	char key[SL_CSTORE_KEY_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(key, sizeof(key), fmt, ap);
	va_end(ap);
	return sl_cstore_get(p->store, key, n);
}

/* Bind a new configuration's routes to their counters. */
static int vc_bind(struct sl_proxy *p, struct vipconf *vc)
{
	uint32_t r;

	vc->rc = calloc(vc->conf->n_routes ? vc->conf->n_routes : 1, sizeof(*vc->rc));
	if (!vc->rc)
		return -1;
	for (r = 0; r < vc->conf->n_routes; r++) {
		const struct sl_route *rt = &vc->conf->routes[r];

		vc->rc[r] = cells(p, R_CELLS, "l7r/%s/%s", vc->name, rt->name);
		if (rt->jwt)
			sl_jwt_bind_counters(rt->jwt,
					     cells(p, SL_JWT_CELLS, "l7j/%s/%s", vc->name, rt->name));
	}
	return 0;
}

static struct vstats *stats_for(struct sl_proxy *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->nstats; i++)
		if (!strcmp(p->stats[i]->name, name))
			return p->stats[i];
	if (p->nstats >= SL_MAX_VIPS)
		return NULL;
	p->stats[p->nstats] = calloc(1, sizeof(struct vstats));
	if (!p->stats[p->nstats])
		return NULL;
	snprintf(p->stats[p->nstats]->name, VNAME_MAX, "%s", name);
	p->stats[p->nstats]->c = cells(p, V__MAX, "l7/%s", name);
	p->stats[p->nstats]->connect = cells(p, SL_HIST_CELLS, "l7c/%s", name);
	p->stats[p->nstats]->unrouted = cells(p, R_CELLS, "l7r/%s/_unrouted", name);
	return p->stats[p->nstats++];
}

int sl_proxy_sync(struct sl_proxy *p, const struct sl_proxy_vip *vips, size_t n, char *err,
		  size_t errlen)
{
	struct snapshot *old, *s = calloc(1, sizeof(*s) + n * sizeof(s->v[0]));
	uint64_t one = 1;
	int rc = 0, i;
	size_t k, j;

	if (!s) {
		snprintf(err, errlen, "l7: out of memory");
		return -1;
	}
	old = snap_get(p);
	for (k = 0; k < n; k++) {
		const struct sl_proxy_vip *pv = &vips[k];
		struct vipconf *prev = NULL, *vc;
		char path[64], e[512];
		int fd;

		for (j = 0; old && j < old->n; j++)
			if (!strcmp(old->v[j]->name, pv->name))
				prev = old->v[j];
		if (prev && ep_equal(&prev->ep, &pv->ep) && json_equal(prev->json, (json_t *)pv->l7) &&
		    !memcmp(&prev->key, &pv->key, sizeof(pv->key))) {
			s->v[s->n++] = vc_get(prev);
			continue;
		}
		if (!prev || !ep_equal(&prev->ep, &pv->ep)) {
			/* a new address: can we listen there at all? */
			fd = listen_on(&pv->ep);
			if (fd < 0) {
				char a[64];

				if (!rc)
					snprintf(err, errlen, "vip %s: cannot listen on %s: %s", pv->name,
						 sl_endpoint_str(&pv->ep, a, sizeof(a)), strerror(errno));
				rc = -1;
				continue;
			}
			close(fd);
		}
		vc = calloc(1, sizeof(*vc));
		snprintf(path, sizeof(path), "vip %s: l7", pv->name);
		if (vc)
			vc->conf = sl_l7_conf_from_json(pv->l7, path, e, sizeof(e));
		if (!vc || !vc->conf) {
			if (!rc)
				snprintf(err, errlen, "%s", vc ? e : "l7: out of memory");
			rc = -1;
			free(vc);
			if (prev) /* keep what worked */
				s->v[s->n++] = vc_get(prev);
			continue;
		}
		vc->refs = 1;
		snprintf(vc->name, sizeof(vc->name), "%s", pv->name);
		vc->key = pv->key;
		vc->ep = pv->ep;
		vc->json = json_deep_copy(pv->l7);
		vc->st = stats_for(p, pv->name);
		if (!vc->st || vc_bind(p, vc)) {
			if (!rc)
				snprintf(err, errlen, "vip %s: l7: out of memory", pv->name);
			rc = -1;
			vc_put(vc);
			if (prev)
				s->v[s->n++] = vc_get(prev);
			continue;
		}
		s->v[s->n++] = vc;
	}
	snap_put(p, old);
	s->refs = 1;
	pthread_mutex_lock(&p->lock);
	old = p->snap;
	p->snap = s;
	pthread_mutex_unlock(&p->lock);
	snap_put(p, old);
	for (i = 0; i < p->nworkers; i++)
		if (write(p->w[i].wakefd, &one, sizeof(one)) < 0)
			pr_warn("l7: waking worker %d: %s", i, strerror(errno));
	return rc;
}

static json_t *hist_json(const uint64_t *h)
{
	json_t *b = json_array();
	int i;

	for (i = 0; i < SL_HIST_BUCKETS; i++)
		json_array_append_new(b, json_integer((json_int_t)sl_ctr_get(&h[i])));
	return json_pack("{s:o, s:f}", "buckets", b, "sum",
			 (double)sl_ctr_get(&h[SL_HIST_BUCKETS]) / 1e6);
}

static json_t *route_json(const uint64_t *rc)
{
	return json_pack("{s:{s:I, s:I, s:I, s:I, s:I}, s:o}", "requests", "1xx",
			 (json_int_t)sl_ctr_get(&rc[0]), "2xx", (json_int_t)sl_ctr_get(&rc[1]),
			 "3xx", (json_int_t)sl_ctr_get(&rc[2]), "4xx", (json_int_t)sl_ctr_get(&rc[3]),
			 "5xx", (json_int_t)sl_ctr_get(&rc[4]), "latency", hist_json(rc + 5));
}

json_t *sl_proxy_stats(struct sl_proxy *p)
{
	struct snapshot *s = snap_get(p);
	json_t *o = json_object();
	size_t i, k;
	int j;

	for (i = 0; i < p->nstats; i++) {
		json_t *v = json_object();

		struct vstats *st = p->stats[i];
		json_t *rts = json_object();

		for (j = 0; j < V__MAX; j++)
			json_object_set_new(v, vctr_name[j],
					    json_integer((json_int_t)(j == V_CONNS_ACTIVE
									  ? sl_ctr_get(&st->active)
									  : sl_ctr_get(&st->c[j]))));
		json_object_set_new(v, "connect", hist_json(st->connect));
		json_object_set_new(rts, "_unrouted", route_json(st->unrouted));
		for (k = 0; s && k < s->n; k++) {
			const struct sl_l7_conf *cf = s->v[k]->conf;
			json_t *routes;
			uint32_t r;

			if (strcmp(s->v[k]->name, p->stats[i]->name))
				continue;
			routes = json_object();
			for (r = 0; r < cf->n_routes; r++) {
				struct sl_jwt_stats js;
				json_t *jr, *fails;
				int f;

				json_object_set_new(rts, cf->routes[r].name,
						    route_json(s->v[k]->rc[r]));
				if (!cf->routes[r].jwt)
					continue;
				sl_jwt_get_stats(cf->routes[r].jwt, &js);
				fails = json_object();
				for (f = 1; f < SL_JWT__MAX; f++)
					json_object_set_new(fails, sl_jwt_result_name(f),
							    json_integer((json_int_t)js.failed[f]));
				jr = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "verified",
					       (json_int_t)js.verified, "cache_hits",
					       (json_int_t)js.cache_hits, "cache_misses",
					       (json_int_t)js.cache_misses, "jwks_reloads",
					       (json_int_t)js.reloads, "jwks_reload_errors",
					       (json_int_t)js.reload_errors, "keys", (json_int_t)js.keys,
					       "failed", fails);
				json_object_set_new(routes, cf->routes[r].name, jr);
			}
			json_object_set_new(v, "jwt", routes);
		}
		json_object_set_new(v, "routes", rts);
		json_object_set_new(o, p->stats[i]->name, v);
	}
	snap_put(p, s);
	if (p->splice) {
		struct sl_splice_stats ss;

		sl_splice_get_stats(p->splice, &ss);
		json_object_set_new(o, "_splice",
				    json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I}", "available", 1,
					      "flows", (json_int_t)ss.flows, "active",
					      (json_int_t)ss.active, "bytes", (json_int_t)ss.bytes,
					      "kernel_bytes", (json_int_t)ss.kernel_bytes, "pauses",
					      (json_int_t)ss.pauses, "broken", (json_int_t)ss.broken));
	} else {
		json_object_set_new(o, "_splice", json_pack("{s:b}", "available", 0));
	}
	return o;
}

struct sl_proxy *sl_proxy_new(const struct sl_proxy_ops *ops, int workers,
			      struct sl_cstore *store, const char *pin_dir, unsigned flags)
{
	struct sl_proxy *p = calloc(1, sizeof(*p));
	char err[256];
	int i;

	if (!p)
		return NULL;
	p->ops = *ops;
	pthread_mutex_init(&p->lock, NULL);
	if (getrandom(&p->reqid_seed, sizeof(p->reqid_seed), 0) != sizeof(p->reqid_seed))
		p->reqid_seed = (uint64_t)time(NULL) ^ (uint64_t)getpid();
	p->store = store;
	if (flags & SL_PROXY_NO_SPLICE)
		snprintf(err, sizeof(err), "turned off by --no-splice");
	else
		p->splice = sl_splice_open(pin_dir, err, sizeof(err));
	if (p->splice)
		sl_splice_bind_counters(p->splice, sl_cstore_get(store, "l7s", SL_SPLICE_CELLS));
	if (p->splice)
		pr_info("l7: sockmap splice available: authorized tunnels are moved by the kernel");
	else
		pr_warn("l7: sockmap splice unavailable (%s): tunnels are copied in user space",
			err);
	if (workers <= 0)
		workers = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (workers <= 0)
		workers = 1;
	p->w = calloc((size_t)workers, sizeof(*p->w));
	if (!p->w)
		goto fail;
	for (i = 0; i < workers; i++) {
		struct worker *w = &p->w[i];

		w->p = p;
		w->id = i;
		w->epfd = epoll_create1(EPOLL_CLOEXEC);
		w->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (w->epfd < 0 || w->wakefd < 0)
			goto fail_started;
		w->waketag.kind = T_WAKE;
		ep_ctl(w, EPOLL_CTL_ADD, w->wakefd, EPOLLIN, &w->waketag);
		if (pthread_create(&w->th, NULL, worker_main, w)) {
			close(w->epfd);
			close(w->wakefd);
			goto fail_started;
		}
		p->nworkers++;
	}
	return p;
fail_started:
	sl_proxy_free(p);
	return NULL;
fail:
	sl_splice_close(p->splice);
	free(p);
	return NULL;
}

void sl_proxy_free(struct sl_proxy *p)
{
	size_t i;
	int k;

	if (!p)
		return;
	for (k = 0; k < p->nworkers; k++) {
		uint64_t one = 1;

		__atomic_store_n(&p->w[k].stop, 1, __ATOMIC_RELEASE);
		if (write(p->w[k].wakefd, &one, sizeof(one)) < 0)
			pr_warn("l7: stopping worker %d: %s", k, strerror(errno));
	}
	for (k = 0; k < p->nworkers; k++) {
		pthread_join(p->w[k].th, NULL);
		close(p->w[k].epfd);
		close(p->w[k].wakefd);
	}
	free(p->w);
	snap_put(p, p->snap);
	for (i = 0; i < p->nstats; i++)
		free(p->stats[i]);
	sl_splice_close(p->splice);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
