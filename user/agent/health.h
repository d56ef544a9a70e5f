/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Active health checks: one non-blocking epoll loop that checks many backends
 * (TCP connect or an HTTP status line), spread over each interval, and reports
 * up/down transitions after `rise` / `fall` consecutive results.
 *
 * Self-contained: it knows backends only by an opaque u64 key the caller
 * chooses (e.g. slot << 32 | gen) and the address to check (the backend's real
 * address, never the VIP, so DSR and IPIP backends are checked too).
 *
 * Use from a main loop:
 *
 *	h = sl_health_new(on_change, ctx);
 *	sl_health_add(h, key, &backend_addr, &conf, 1);
 *	loop: poll sl_health_fd(h) for reading with timeout sl_health_next_ms(h, now),
 *	      then sl_health_run(h, sl_health_now_ms()).
 *
 * Times are CLOCK_MONOTONIC milliseconds (sl_health_now_ms()). Not thread-safe:
 * one thread owns an instance. on_change is called from sl_health_run() only,
 * exactly once per transition, and may call add/update/remove/get on @h.
 *
 * Every check socket is closed with SO_LINGER 0 (an RST), so the checker never
 * holds TIME_WAIT sockets: 10,000 checks a second would otherwise keep ~600,000
 * of them. Local failures to start a check (no fds, no local port, no memory)
 * are not held against the backend: the check counts as skipped, not failed.
 */
#ifndef SLUICE_HEALTH_H
#define SLUICE_HEALTH_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "../lib/addr.h"

enum sl_health_type {
	SL_HEALTH_TCP,	/* a TCP connect that completes within the timeout */
	SL_HEALTH_HTTP, /* GET path; the status line must carry expect_status */
};

#define SL_HEALTH_STR_MAX 256 /* path and host, with the NUL */

struct sl_health_conf {
	uint32_t type;	       /* enum sl_health_type */
	uint32_t interval_ms;  /* one check per interval; 10..3600000 */
	uint32_t timeout_ms;   /* a check not done by then failed; 1..interval_ms - 1 */
	uint32_t rise;	       /* consecutive passes that bring a down backend up; 1..100 */
	uint32_t fall;	       /* consecutive failures that take an up backend down; 1..100 */
	uint32_t expect_status; /* http: the status code that passes; 100..599 */
	char path[SL_HEALTH_STR_MAX]; /* http: request target, starts with '/' */
	char host[SL_HEALTH_STR_MAX]; /* http: Host header; "" = the backend's "addr:port" */
};

/* Defaults: tcp, 1000 ms interval, 500 ms timeout, rise 2, fall 3, "/", 200. */
void sl_health_conf_default(struct sl_health_conf *c);

/*
 * A "health" JSON object into @out, over @base (the VIP's conf when parsing a
 * backend's override; NULL for the defaults). Every field is optional.
 * @path names the object in errors ("vips[0].health"). Returns 0, or -EINVAL
 * with @err saying which field is wrong and how to fix it; @out is untouched
 * on failure.
 */
int sl_health_conf_parse(const json_t *obj, const struct sl_health_conf *base,
			 struct sl_health_conf *out, const char *path, char *err, size_t errlen);
/* The normalized JSON form, every field that applies to the type (host only when set). */
json_t *sl_health_conf_json(const struct sl_health_conf *c);
/* 1 when two confs check the same way, else 0. */
int sl_health_conf_equal(const struct sl_health_conf *a, const struct sl_health_conf *b);
/* "tcp" / "http"; sl_health_type_from returns the type or -1. */
const char *sl_health_type_name(uint32_t type);
int sl_health_type_from(const char *s);

/* Called once per transition. @reason: "connect refused", "timeout after 500 ms
 * (connecting)", "status 503, expected 200", "passed 2 checks in a row". */
typedef void (*sl_health_change_fn)(void *ctx, uint64_t key, int up, const char *reason);

struct sl_health;

/* NULL with errno set on failure. @on_change may be NULL. */
struct sl_health *sl_health_new(sl_health_change_fn on_change, void *ctx);
/* Closes every socket; no callback. NULL is fine. Not from inside on_change. */
void sl_health_free(struct sl_health *h);

/* The epoll fd to watch for reading; readable when sockets need sl_health_run(). */
int sl_health_fd(const struct sl_health *h);
/* Handle ready sockets, time out late checks, start due ones. Never blocks. */
void sl_health_run(struct sl_health *h, uint64_t now_ms);
/* Milliseconds until sl_health_run() has timed work (0 = now), or -1 with no targets. */
int sl_health_next_ms(const struct sl_health *h, uint64_t now_ms);
/* CLOCK_MONOTONIC in milliseconds. */
uint64_t sl_health_now_ms(void);

/*
 * Start checking @addr (port must be set) under @key, starting in state @up
 * (1: up until `fall` failures; 0: down until `rise` passes; no callback for
 * it). The first check is at a random time within one interval, so targets
 * added together spread out. 0, -EEXIST (key taken), -EINVAL (bad address
 * or conf: see sl_health_conf_parse for ranges), -ENOMEM.
 */
int sl_health_add(struct sl_health *h, uint64_t key, const struct sl_endpoint *addr,
		  const struct sl_health_conf *conf, int up);
/*
 * New address or conf for @key. Identical ones change nothing. Otherwise an
 * in-flight check is abandoned (not counted), the next check is scheduled at a
 * random time within the new interval, and the up/down state is kept; a new
 * address also clears the consecutive counts. 0, -ENOENT, -EINVAL.
 */
int sl_health_update(struct sl_health *h, uint64_t key, const struct sl_endpoint *addr,
		     const struct sl_health_conf *conf);
/* Stop checking @key; an in-flight check is dropped and never reported. 0 or -ENOENT. */
int sl_health_remove(struct sl_health *h, uint64_t key);
/* Number of targets. */
size_t sl_health_count(const struct sl_health *h);

struct sl_health_status {
	int up;			/* current state */
	int in_flight;		/* a check is running now */
	uint32_t ok_streak;	/* consecutive passes (0 after a failure) */
	uint32_t fail_streak;	/* consecutive failures (0 after a pass) */
	uint64_t checks;	/* checks completed (passed + failed) */
	uint64_t failures;	/* checks that failed */
	uint64_t skipped;	/* checks not started for a local reason (no fd, no port) */
	uint32_t last_latency_us; /* start to result of the last completed check */
	int last_ok;		/* the last completed check passed */
	uint64_t next_ms;	/* next check starts (or the running one times out) then */
	uint64_t last_change_ms; /* last transition, 0 = none yet */
	char last_error[128];	/* why the last check failed or was skipped; "" if it passed */
};

/* Also count @key's passes and failures into @cells[0] and [1] (e.g. a
 * persistent block from cstore.h; NULL: stop). 0 or -ENOENT. */
int sl_health_bind_counters(struct sl_health *h, uint64_t key, uint64_t *cells);

/* 0 and *@st, or -ENOENT. */
int sl_health_get(const struct sl_health *h, uint64_t key, struct sl_health_status *st);

#endif
