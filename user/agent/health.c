// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Active health checks (health.h). Every target sits in one min-heap keyed by
 * its next deadline: the start of its next check when idle, the timeout of the
 * running one otherwise. A key -> target hash serves add/update/remove/get.
 * A target's check slots stay at fixed phase (first slot random within one
 * interval, then every interval after it), so targets stay spread out, even
 * after the loop stalls: missed slots are skipped, not run all at once.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "health.h"
#include "sluice/abi.h"
#include "../proxy/cfg.h"

#define INTERVAL_MIN 10
#define INTERVAL_MAX 3600000
#define STREAK_MAX 100
#define STATUS_LINE 13 /* "HTTP/1.1 200" and the byte after it */
#define EVENTS_BATCH 256

enum phase { PH_IDLE, PH_CONNECT, PH_SEND, PH_RECV };

struct target {
	struct target *hnext; /* hash chain, or graveyard list once dead */
	uint64_t key;
	struct sl_endpoint ep;
	struct sl_health_conf conf;
	char *req; /* http: the request, built once */
	uint32_t req_len;
	uint32_t sent;
	uint32_t heap_idx;
	int fd;
	uint8_t phase; /* enum phase */
	uint8_t registered; /* fd is in the epoll set */
	uint8_t dead; /* removed during sl_health_run(); freed at its end */
	uint8_t rlen;
	char rbuf[STATUS_LINE];
	uint64_t due_ms; /* heap key */
	uint64_t slot_ms; /* scheduled start of the running (or last) check */
	uint64_t start_us; /* monotonic start of the running check, for latency */
	struct sl_health_status st;
	uint64_t *pc; /* bound counters: passes, failures (or NULL) */
};

struct sl_health {
	sl_health_change_fn on_change;
	void *ctx;
	int epfd;
	int in_run;
	uint64_t rng;
	struct target **buckets;
	size_t nbuckets; /* power of two */
	size_t count;
	struct target **heap;
	size_t heap_cap;
	struct target *graveyard;
};

/* ---- configuration ---- */

void sl_health_conf_default(struct sl_health_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->type = SL_HEALTH_TCP;
	c->interval_ms = 1000;
	c->timeout_ms = 500;
	c->rise = 2;
	c->fall = 3;
	c->expect_status = 200;
	strcpy(c->path, "/");
}

const char *sl_health_type_name(uint32_t type)
{
	return type == SL_HEALTH_HTTP ? "http" : type == SL_HEALTH_TCP ? "tcp" : "?";
}

int sl_health_type_from(const char *s)
{
	return !strcmp(s, "tcp") ? SL_HEALTH_TCP : !strcmp(s, "http") ? SL_HEALTH_HTTP : -1;
}

/* Visible ASCII only: no space, CR or LF can split the request. */
static int visible(const char *s)
{
	for (; *s; s++)
		if (*s < 0x21 || *s > 0x7e)
			return 0;
	return 1;
}

/* The ranges and cross-field rules; @path names the object in @err. 0 or -EINVAL. */
static int conf_check(const struct sl_health_conf *c, const char *path, char *err, size_t errlen)
{
	if (c->type != SL_HEALTH_TCP && c->type != SL_HEALTH_HTTP)
		snprintf(err, errlen, "%s.type: %u is not a check type; use \"tcp\" or \"http\"",
			 path, c->type);
	else if (c->interval_ms < INTERVAL_MIN || c->interval_ms > INTERVAL_MAX)
		snprintf(err, errlen, "%s.interval_ms: %u is out of range; use %u..%u", path,
			 c->interval_ms, INTERVAL_MIN, INTERVAL_MAX);
	else if (!c->timeout_ms || c->timeout_ms >= c->interval_ms)
		snprintf(err, errlen,
			 "%s.timeout_ms: %u must be 1 or more and below interval_ms (%u); "
			 "lower timeout_ms or raise interval_ms",
			 path, c->timeout_ms, c->interval_ms);
	else if (c->rise < 1 || c->rise > STREAK_MAX)
		snprintf(err, errlen, "%s.rise: %u is out of range; use 1..%u", path, c->rise,
			 STREAK_MAX);
	else if (c->fall < 1 || c->fall > STREAK_MAX)
		snprintf(err, errlen, "%s.fall: %u is out of range; use 1..%u", path, c->fall,
			 STREAK_MAX);
	else if (c->expect_status < 100 || c->expect_status > 599)
		snprintf(err, errlen, "%s.expect_status: %u is out of range; use 100..599", path,
			 c->expect_status);
	else if (strnlen(c->path, SL_HEALTH_STR_MAX) == SL_HEALTH_STR_MAX ||
		 c->path[0] != '/' || !visible(c->path))
		snprintf(err, errlen,
			 "%s.path: must start with '/' and hold up to %d visible ASCII "
			 "characters (no spaces; percent-encode them), like \"/healthz\"",
			 path, SL_HEALTH_STR_MAX - 1);
	else if (strnlen(c->host, SL_HEALTH_STR_MAX) == SL_HEALTH_STR_MAX || !visible(c->host))
		snprintf(err, errlen,
			 "%s.host: must hold up to %d visible ASCII characters, like "
			 "\"api.example.com\" (leave it out to send the backend's address)",
			 path, SL_HEALTH_STR_MAX - 1);
	else
		return 0;
	return -EINVAL;
}

static int get_str(const json_t *obj, const char *name, char *out, const char *path, char *err,
		   size_t errlen)
{
	const json_t *v = json_object_get(obj, name);

	if (!v)
		return 0;
	if (!json_is_string(v) || json_string_length(v) >= SL_HEALTH_STR_MAX) {
		snprintf(err, errlen, "%s.%s: must be a string of at most %d characters", path,
			 name, SL_HEALTH_STR_MAX - 1);
		return -EINVAL;
	}
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

int sl_health_conf_parse(const json_t *obj, const struct sl_health_conf *base,
			 struct sl_health_conf *out, const char *path, char *err, size_t errlen)
{
	static const char *const known[] = { "type",	   "path",	 "host", "expect_status",
					     "interval_ms", "timeout_ms", "rise", "fall" };
	static const char *const http_only[] = { "path", "host", "expect_status" };
	struct sl_health_conf c;
	const json_t *v;
	size_t i;
	int t;

	if (base)
		c = *base;
	else
		sl_health_conf_default(&c);
	if (!json_is_object(obj)) {
		snprintf(err, errlen,
			 "%s: must be an object, like {\"type\": \"http\", \"path\": \"/healthz\"}",
			 path);
		return -EINVAL;
	}
	if (sl_cfg_keys(obj, known, sizeof(known) / sizeof(known[0]), path, err, errlen))
		return -EINVAL;
	v = json_object_get(obj, "type");
	if (v) {
		t = json_is_string(v) ? sl_health_type_from(json_string_value(v)) : -1;
		if (t < 0) {
			snprintf(err, errlen, "%s.type: must be \"tcp\" or \"http\"", path);
			return -EINVAL;
		}
		c.type = (uint32_t)t;
	}
	if (get_str(obj, "path", c.path, path, err, errlen) ||
	    get_str(obj, "host", c.host, path, err, errlen))
		return -EINVAL;
	if (sl_cfg_u32(obj, "interval_ms", INTERVAL_MIN, INTERVAL_MAX, &c.interval_ms, path, err,
		       errlen) ||
	    sl_cfg_u32(obj, "timeout_ms", 1, INTERVAL_MAX - 1, &c.timeout_ms, path, err, errlen) ||
	    sl_cfg_u32(obj, "rise", 1, STREAK_MAX, &c.rise, path, err, errlen) ||
	    sl_cfg_u32(obj, "fall", 1, STREAK_MAX, &c.fall, path, err, errlen) ||
	    sl_cfg_u32(obj, "expect_status", 100, 599, &c.expect_status, path, err, errlen))
		return -EINVAL;
	if (c.type == SL_HEALTH_TCP)
		for (i = 0; i < sizeof(http_only) / sizeof(http_only[0]); i++)
			if (json_object_get(obj, http_only[i])) {
				snprintf(err, errlen,
					 "%s.%s: only http checks send a request; set \"type\": "
					 "\"http\" or remove %s",
					 path, http_only[i], http_only[i]);
				return -EINVAL;
			}
	if (conf_check(&c, path, err, errlen))
		return -EINVAL;
	*out = c;
	return 0;
}

json_t *sl_health_conf_json(const struct sl_health_conf *c)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "type", json_string(sl_health_type_name(c->type)));
	if (c->type == SL_HEALTH_HTTP) {
		json_object_set_new(o, "path", json_string(c->path));
		if (c->host[0])
			json_object_set_new(o, "host", json_string(c->host));
		json_object_set_new(o, "expect_status", json_integer(c->expect_status));
	}
	json_object_set_new(o, "interval_ms", json_integer(c->interval_ms));
	json_object_set_new(o, "timeout_ms", json_integer(c->timeout_ms));
	json_object_set_new(o, "rise", json_integer(c->rise));
	json_object_set_new(o, "fall", json_integer(c->fall));
	return o;
}

int sl_health_conf_equal(const struct sl_health_conf *a, const struct sl_health_conf *b)
{
	return a->type == b->type && a->interval_ms == b->interval_ms &&
	       a->timeout_ms == b->timeout_ms && a->rise == b->rise && a->fall == b->fall &&
	       a->expect_status == b->expect_status && !strcmp(a->path, b->path) &&
	       !strcmp(a->host, b->host);
}

/* ---- time, randomness ---- */

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t sl_health_now_ms(void)
{
	return now_us() / 1000u;
}

/* xorshift64*: jitter needs spread, not secrecy. */
static uint64_t rng_next(struct sl_health *h)
{
	h->rng ^= h->rng >> 12;
	h->rng ^= h->rng << 25;
	h->rng ^= h->rng >> 27;
	return h->rng * 0x2545f4914f6cdd1dull;
}

/* ---- the heap of deadlines ---- */

static void heap_set(struct sl_health *h, size_t i, struct target *t)
{
	h->heap[i] = t;
	t->heap_idx = (uint32_t)i;
}

static void heap_up(struct sl_health *h, size_t i)
{
	struct target *t = h->heap[i];

	while (i) {
		size_t p = (i - 1) / 2;

		if (h->heap[p]->due_ms <= t->due_ms)
			break;
		heap_set(h, i, h->heap[p]);
		i = p;
	}
	heap_set(h, i, t);
}

static void heap_down(struct sl_health *h, size_t i)
{
	struct target *t = h->heap[i];
	size_t n = h->count, c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && h->heap[c + 1]->due_ms < h->heap[c]->due_ms)
			c++;
		if (h->heap[c]->due_ms >= t->due_ms)
			break;
		heap_set(h, i, h->heap[c]);
		i = c;
	}
	heap_set(h, i, t);
}

/* Take @t out of the heap, which then holds h->count - 1 targets. */
static void heap_remove(struct sl_health *h, struct target *t)
{
	size_t i = t->heap_idx, last = --h->count;
	struct target *m = h->heap[last];

	if (i == last)
		return;
	heap_set(h, i, m);
	heap_down(h, i);
	heap_up(h, m->heap_idx);
}

static void reschedule(struct sl_health *h, struct target *t, uint64_t due_ms)
{
	uint64_t old = t->due_ms;

	t->due_ms = due_ms;
	t->st.next_ms = due_ms;
	if (due_ms < old)
		heap_up(h, t->heap_idx);
	else
		heap_down(h, t->heap_idx);
}

/* ---- the key hash ---- */

static size_t hash_key(uint64_t key, size_t nbuckets)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdull;
	key ^= key >> 33;
	return (size_t)key & (nbuckets - 1);
}

static size_t bucket_of(const struct sl_health *h, uint64_t key)
{
	return hash_key(key, h->nbuckets);
}

static struct target *lookup(const struct sl_health *h, uint64_t key)
{
	struct target *t;

	for (t = h->buckets[bucket_of(h, key)]; t; t = t->hnext)
		if (t->key == key)
			return t;
	return NULL;
}

static int grow(struct sl_health *h)
{
	size_t n = h->nbuckets * 2, i;
	struct target **b, *t, *next;

	b = calloc(n, sizeof(*b));
	if (!b)
		return -ENOMEM;
	for (i = 0; i < h->nbuckets; i++)
		for (t = h->buckets[i]; t; t = next) {
			next = t->hnext;
			t->hnext = b[hash_key(t->key, n)];
			b[hash_key(t->key, n)] = t;
		}
	free(h->buckets);
	h->buckets = b;
	h->nbuckets = n;
	return 0;
}

static void unlink_target(struct sl_health *h, struct target *t)
{
	struct target **pp = &h->buckets[bucket_of(h, t->key)];

	while (*pp != t)
		pp = &(*pp)->hnext;
	*pp = t->hnext;
	t->hnext = NULL;
}

/* ---- one check ---- */

/* Close the check socket with an RST: the checker keeps no TIME_WAIT. */
static void close_check(struct sl_health *h, struct target *t)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (t->fd >= 0) {
		setsockopt(t->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(t->fd); /* leaves the epoll set with it */
	}
	t->fd = -1;
	t->registered = 0;
	t->phase = PH_IDLE;
}

/* The first slot after the running one that is still ahead of @now_ms. */
static uint64_t next_slot(const struct target *t, uint64_t now_ms)
{
	uint64_t iv = t->conf.interval_ms, next = t->slot_ms + iv;

	if (next <= now_ms)
		next += ((now_ms - next) / iv + 1) * iv;
	return next;
}

/* The check could not start for a reason of ours, not the backend's. */
static void skip_check(struct sl_health *h, struct target *t, uint64_t now_ms, const char *what,
		       int err)
{
	close_check(h, t);
	t->st.skipped++;
	snprintf(t->st.last_error, sizeof(t->st.last_error), "check not started: %s: %s", what,
		 strerror(err));
	reschedule(h, t, next_slot(t, now_ms));
}

/*
 * A check's result: counts, streaks, the next slot, and the callback last of
 * all (it may update or remove @t). @reason: why it failed (NULL if passed).
 */
static void finish_check(struct sl_health *h, struct target *t, uint64_t now_ms,
			 const char *reason)
{
	struct sl_health_status *st = &t->st;
	uint64_t lat = now_us() - t->start_us;
	char why[sizeof(st->last_error)];
	int changed = 0;

	close_check(h, t);
	st->checks++;
	st->last_latency_us = lat > UINT32_MAX ? UINT32_MAX : (uint32_t)lat;
	st->last_ok = !reason;
	if (t->pc)
		__atomic_fetch_add(&t->pc[reason ? 1 : 0], 1, __ATOMIC_RELAXED);
	if (reason) {
		snprintf(st->last_error, sizeof(st->last_error), "%s", reason);
		st->failures++;
		st->ok_streak = 0;
		if (st->fail_streak < UINT32_MAX)
			st->fail_streak++;
		if (st->up && st->fail_streak >= t->conf.fall) {
			st->up = 0;
			changed = 1;
			snprintf(why, sizeof(why), "%s", reason);
		}
	} else {
		st->last_error[0] = 0;
		st->fail_streak = 0;
		if (st->ok_streak < UINT32_MAX)
			st->ok_streak++;
		if (!st->up && st->ok_streak >= t->conf.rise) {
			st->up = 1;
			changed = 1;
			snprintf(why, sizeof(why), "passed %u check%s in a row", st->ok_streak,
				 st->ok_streak == 1 ? "" : "s");
		}
	}
	if (changed)
		st->last_change_ms = now_ms ? now_ms : 1;
	reschedule(h, t, next_slot(t, now_ms));
	if (changed && h->on_change)
		h->on_change(h->ctx, t->key, st->up, why);
}

static void fail_errno(struct sl_health *h, struct target *t, uint64_t now_ms, const char *op,
		       int err)
{
	char buf[96];

	switch (err) {
	case ECONNREFUSED:
		finish_check(h, t, now_ms, "connect refused");
		return;
	case ECONNRESET:
		finish_check(h, t, now_ms, "connection reset");
		return;
	case ENETUNREACH:
		finish_check(h, t, now_ms, "network unreachable");
		return;
	case EHOSTUNREACH:
		finish_check(h, t, now_ms, "host unreachable");
		return;
	}
	snprintf(buf, sizeof(buf), "%s: %s", op, strerror(err));
	finish_check(h, t, now_ms, buf);
}

/* Watch @t->fd for @events. 0, or the check was skipped and -1. */
static int watch(struct sl_health *h, struct target *t, uint64_t now_ms, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = t };

	if (!epoll_ctl(h->epfd, t->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, t->fd, &ev)) {
		t->registered = 1;
		return 0;
	}
	skip_check(h, t, now_ms, "epoll_ctl", errno);
	return -1;
}

/* "HTTP/1.x NNN" then a space or the line end: the status code, or -1. */
static int status_code(const char *b, size_t n)
{
	if (n < STATUS_LINE || memcmp(b, "HTTP/1.", 7) || b[7] < '0' || b[7] > '9' ||
	    b[8] != ' ' || b[9] < '1' || b[9] > '9' || b[10] < '0' || b[10] > '9' ||
	    b[11] < '0' || b[11] > '9' || (b[12] != ' ' && b[12] != '\r' && b[12] != '\n'))
		return -1;
	return (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
}

static void do_recv(struct sl_health *h, struct target *t, uint64_t now_ms)
{
	char buf[64];
	ssize_t n;
	int code;

	while (t->rlen < STATUS_LINE) {
		n = recv(t->fd, t->rbuf + t->rlen, STATUS_LINE - t->rlen, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) {
			fail_errno(h, t, now_ms, "recv", errno);
			return;
		}
		if (!n) {
			finish_check(h, t, now_ms,
				     t->rlen ? "connection closed inside the status line"
					     : "connection closed before the status line");
			return;
		}
		t->rlen += (uint8_t)n;
	}
	code = status_code(t->rbuf, t->rlen);
	if (code < 0) {
		finish_check(h, t, now_ms, "the reply is not an HTTP/1.x status line");
	} else if ((uint32_t)code != t->conf.expect_status) {
		snprintf(buf, sizeof(buf), "status %d, expected %u", code, t->conf.expect_status);
		finish_check(h, t, now_ms, buf);
	} else {
		finish_check(h, t, now_ms, NULL);
	}
}

static void do_send(struct sl_health *h, struct target *t, uint64_t now_ms)
{
	ssize_t n;

	t->phase = PH_SEND;
	while (t->sent < t->req_len) {
		n = send(t->fd, t->req + t->sent, t->req_len - t->sent, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			watch(h, t, now_ms, EPOLLOUT);
			return;
		}
		if (n < 0) {
			fail_errno(h, t, now_ms, "send", errno);
			return;
		}
		t->sent += (uint32_t)n;
	}
	t->phase = PH_RECV;
	if (!watch(h, t, now_ms, EPOLLIN))
		do_recv(h, t, now_ms);
}

/* Connected: a tcp check has passed, an http one sends its request. */
static void connected(struct sl_health *h, struct target *t, uint64_t now_ms)
{
	if (t->conf.type == SL_HEALTH_TCP)
		finish_check(h, t, now_ms, NULL);
	else
		do_send(h, t, now_ms);
}

static void start_check(struct sl_health *h, struct target *t, uint64_t now_ms)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in s4 = { .sin_family = AF_INET };
	struct sockaddr *sa;
	socklen_t salen;
	int fd;

	t->slot_ms = t->due_ms;
	t->start_us = now_us();
	t->sent = 0;
	t->rlen = 0;
	if (t->ep.family == SL_AF_INET) {
		s4.sin_port = htons(t->ep.port);
		memcpy(&s4.sin_addr, t->ep.addr, 4);
		sa = (struct sockaddr *)&s4;
		salen = sizeof(s4);
	} else {
		s6.sin6_port = htons(t->ep.port);
		memcpy(&s6.sin6_addr, t->ep.addr, 16);
		sa = (struct sockaddr *)&s6;
		salen = sizeof(s6);
	}
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		skip_check(h, t, now_ms, "socket", errno);
		return;
	}
	t->fd = fd;
	t->phase = PH_CONNECT;
	/* the deadline first: every path below may reschedule to the next slot */
	reschedule(h, t, now_ms + t->conf.timeout_ms);
	if (!connect(fd, sa, salen)) {
		connected(h, t, now_ms);
		return;
	}
	switch (errno) {
	case EINPROGRESS:
		watch(h, t, now_ms, EPOLLOUT);
		return;
	case EADDRNOTAVAIL: /* no local port free */
	case EAGAIN:
	case ENOBUFS:
	case ENOMEM:
		skip_check(h, t, now_ms, "connect", errno);
		return;
	}
	fail_errno(h, t, now_ms, "connect", errno);
}

static void on_event(struct sl_health *h, struct target *t, uint32_t events, uint64_t now_ms)
{
	socklen_t len = sizeof(int);
	int err = 0;

	if (t->dead || t->phase == PH_IDLE)
		return; /* removed or updated by a callback earlier in this batch */
	switch (t->phase) {
	case PH_CONNECT:
		if (events & (EPOLLERR | EPOLLHUP)) {
			if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &len) || !err)
				err = ECONNRESET;
			fail_errno(h, t, now_ms, "connect", err);
		} else {
			connected(h, t, now_ms);
		}
		break;
	case PH_SEND:
		do_send(h, t, now_ms);
		break;
	case PH_RECV:
		do_recv(h, t, now_ms);
		break;
	}
}

static void time_out(struct sl_health *h, struct target *t, uint64_t now_ms)
{
	static const char *const phase[] = {
		[PH_CONNECT] = "connecting",
		[PH_SEND] = "sending the request",
		[PH_RECV] = "waiting for the status line",
	};
	char buf[96];

	snprintf(buf, sizeof(buf), "timeout after %u ms (%s)", t->conf.timeout_ms,
		 phase[t->phase]);
	finish_check(h, t, now_ms, buf);
}

/* ---- the instance ---- */

struct sl_health *sl_health_new(sl_health_change_fn on_change, void *ctx)
{
	struct sl_health *h = calloc(1, sizeof(*h));
	int err = ENOMEM;

	if (!h)
		goto fail;
	h->on_change = on_change;
	h->ctx = ctx;
	h->nbuckets = 64;
	h->buckets = calloc(h->nbuckets, sizeof(*h->buckets));
	if (!h->buckets)
		goto free_h;
	h->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (h->epfd < 0) {
		err = errno;
		goto free_buckets;
	}
	if (getrandom(&h->rng, sizeof(h->rng), GRND_NONBLOCK) != sizeof(h->rng))
		h->rng = now_us() ^ ((uint64_t)getpid() << 32);
	h->rng |= 1;
	return h;

free_buckets:
	free(h->buckets);
free_h:
	free(h);
fail:
	errno = err;
	return NULL;
}

static void free_target(struct target *t)
{
	free(t->req);
	free(t);
}

static void bury(struct sl_health *h)
{
	struct target *t;

	while ((t = h->graveyard)) {
		h->graveyard = t->hnext;
		free_target(t);
	}
}

void sl_health_free(struct sl_health *h)
{
	size_t i;

	if (!h)
		return;
	for (i = 0; i < h->count; i++) {
		close_check(h, h->heap[i]);
		free_target(h->heap[i]);
	}
	bury(h);
	free(h->heap);
	free(h->buckets);
	close(h->epfd);
	free(h);
}

int sl_health_fd(const struct sl_health *h)
{
	return h->epfd;
}

size_t sl_health_count(const struct sl_health *h)
{
	return h->count;
}

int sl_health_next_ms(const struct sl_health *h, uint64_t now_ms)
{
	uint64_t due;

	if (!h->count)
		return -1;
	due = h->heap[0]->due_ms;
	if (due <= now_ms)
		return 0;
	return due - now_ms > INT_MAX ? INT_MAX : (int)(due - now_ms);
}

void sl_health_run(struct sl_health *h, uint64_t now_ms)
{
	struct epoll_event ev[EVENTS_BATCH];
	struct target *t;
	int n, i, rounds;

	h->in_run = 1;
	/* sockets first, so a reply that came in before its deadline counts */
	for (rounds = 0; rounds < 64; rounds++) {
		n = epoll_wait(h->epfd, ev, EVENTS_BATCH, 0);
		for (i = 0; i < n; i++)
			on_event(h, ev[i].data.ptr, ev[i].events, now_ms);
		if (n < EVENTS_BATCH)
			break;
	}
	/* every step moves the top's deadline past now_ms, so this ends */
	while (h->count && (t = h->heap[0])->due_ms <= now_ms) {
		if (t->phase == PH_IDLE)
			start_check(h, t, now_ms);
		else
			time_out(h, t, now_ms);
	}
	h->in_run = 0;
	bury(h);
}

/* Build the http request for @t. 0 or -ENOMEM. */
static int build_request(struct target *t)
{
	char host[SL_HEALTH_STR_MAX + 64];
	char *req = NULL;
	int n;

	if (t->conf.type != SL_HEALTH_HTTP) {
		free(t->req);
		t->req = NULL;
		t->req_len = 0;
		return 0;
	}
	if (t->conf.host[0])
		snprintf(host, sizeof(host), "%s", t->conf.host);
	else
		sl_endpoint_str(&t->ep, host, sizeof(host));
	n = asprintf(&req,
		     "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
		     "User-Agent: sluice-health\r\n\r\n",
		     t->conf.path, host);
	if (n < 0)
		return -ENOMEM;
	free(t->req);
	t->req = req;
	t->req_len = (uint32_t)n;
	return 0;
}

static int args_check(const struct sl_endpoint *addr, const struct sl_health_conf *conf)
{
	char err[256];

	if (!addr || !conf || (addr->family != SL_AF_INET && addr->family != SL_AF_INET6) ||
	    !addr->port)
		return -EINVAL;
	return conf_check(conf, "health", err, sizeof(err));
}

/* A random first slot within one interval from now. */
static uint64_t first_slot(struct sl_health *h, const struct target *t)
{
	return sl_health_now_ms() + rng_next(h) % t->conf.interval_ms;
}

int sl_health_add(struct sl_health *h, uint64_t key, const struct sl_endpoint *addr,
		  const struct sl_health_conf *conf, int up)
{
	struct target *t, **heap;
	int err;

	err = args_check(addr, conf);
	if (err)
		return err;
	if (lookup(h, key))
		return -EEXIST;
	if (h->count == h->heap_cap) {
		size_t cap = h->heap_cap ? h->heap_cap * 2 : 64;

		heap = realloc(h->heap, cap * sizeof(*heap));
		if (!heap)
			return -ENOMEM;
		h->heap = heap;
		h->heap_cap = cap;
	}
	if (h->count >= h->nbuckets && grow(h))
		return -ENOMEM;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->key = key;
	t->ep = *addr;
	t->conf = *conf;
	t->fd = -1;
	t->st.up = !!up;
	if (build_request(t)) {
		free(t);
		return -ENOMEM;
	}
	t->due_ms = first_slot(h, t);
	t->st.next_ms = t->due_ms;
	t->hnext = h->buckets[bucket_of(h, key)];
	h->buckets[bucket_of(h, key)] = t;
	h->heap[h->count] = t;
	t->heap_idx = (uint32_t)h->count;
	h->count++;
	heap_up(h, t->heap_idx);
	return 0;
}

static int same_endpoint(const struct sl_endpoint *a, const struct sl_endpoint *b)
{
	return a->family == b->family && a->port == b->port &&
	       !memcmp(a->addr, b->addr, a->family == SL_AF_INET ? 4 : 16);
}

int sl_health_update(struct sl_health *h, uint64_t key, const struct sl_endpoint *addr,
		     const struct sl_health_conf *conf)
{
	struct sl_health_conf old_conf;
	struct sl_endpoint old_ep;
	struct target *t;
	int err, moved;

	err = args_check(addr, conf);
	if (err)
		return err;
	t = lookup(h, key);
	if (!t)
		return -ENOENT;
	moved = !same_endpoint(&t->ep, addr);
	if (!moved && sl_health_conf_equal(&t->conf, conf))
		return 0;
	old_conf = t->conf;
	old_ep = t->ep;
	t->conf = *conf;
	t->ep = *addr;
	if (build_request(t)) {
		t->conf = old_conf;
		t->ep = old_ep;
		return -ENOMEM;
	}
	close_check(h, t);
	if (moved) {
		t->st.ok_streak = 0;
		t->st.fail_streak = 0;
	}
	reschedule(h, t, first_slot(h, t));
	return 0;
}

int sl_health_remove(struct sl_health *h, uint64_t key)
{
	struct target *t = lookup(h, key);

	if (!t)
		return -ENOENT;
	unlink_target(h, t);
	heap_remove(h, t);
	close_check(h, t);
	if (h->in_run) {
		/* events already read in this batch may still point at it */
		t->dead = 1;
		t->hnext = h->graveyard;
		h->graveyard = t;
	} else {
		free_target(t);
	}
	return 0;
}

int sl_health_get(const struct sl_health *h, uint64_t key, struct sl_health_status *st)
{
	const struct target *t = lookup(h, key);

	if (!t)
		return -ENOENT;
	*st = t->st;
	st->in_flight = t->phase != PH_IDLE;
	return 0;
}

int sl_health_bind_counters(struct sl_health *h, uint64_t key, uint64_t *cells)
{
	struct target *t = lookup(h, key);

	if (!t)
		return -ENOENT;
	t->pc = cells;
	return 0;
}
