/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The L7 gateway: an HTTP/1.1 reverse proxy in sluiced for VIPs marked L7.
 * One worker thread per core, each with its own epoll loop and its own
 * SO_REUSEPORT listener per VIP; non-blocking sockets throughout. XDP rate-limits
 * the VIP's packets and passes them to the local stack, where these listeners
 * accept them (the VIP address must be local: `ip addr add VIP/32 dev lo`).
 *
 * The upstream backend of every new upstream connection comes from the data
 * plane's own selection code over the same kernel maps (struct sl_proxy_ops:
 * sl_dp_l7_pick in the agent), so one VIP's policy holds for L4 and L7 alike.
 */
#ifndef SLUICE_PROXY_PROXY_H
#define SLUICE_PROXY_PROXY_H

#include <stdint.h>
#include <jansson.h>

#include "sluice/abi.h"
#include "../lib/addr.h"

/* How the proxy reaches the data plane; every function is called from workers. */
struct sl_proxy_ops {
	/* 0 and a backend, or -enum sl_drop_reason / -errno */
	int (*pick)(void *ctx, const struct sl_vip_key *vip, __u32 hash, __u32 *be_id,
		    __u32 *be_gen);
	void (*release)(void *ctx, __u32 be_id, __u32 be_gen);
	int (*backend)(void *ctx, __u32 be_id, struct sl_backend *out);
	/*
	 * Circuit breakers (optional, NULL: none). admit: may a request go to
	 * @be_id now (1) or not (0: its breaker is open or half-open and full);
	 * fills @ticket. done: that request ended: the HTTP @status (0 when there
	 * is no verdict, the client left), @connect_error (could not connect, or
	 * the backend closed before answering), its duration in ms. Exactly one
	 * done() per admitted request.
	 */
	int (*admit)(void *ctx, __u32 be_id, __u64 *ticket);
	void (*done)(void *ctx, __u32 be_id, __u64 ticket, int status, int connect_error, __u32 ms);
	void *ctx;
};

/* One L7 VIP as the agent sees it. */
struct sl_proxy_vip {
	const char *name;
	struct sl_vip_key key;	/* the data plane's key (for the pick) */
	struct sl_endpoint ep;	/* where to listen */
	const json_t *l7;	/* the normalized "l7" object (l7conf.h) */
};

struct sl_proxy;

struct sl_cstore;

/* Start @workers threads (0: one per online CPU). Splice is used when the
 * kernel has it (said once in the log either way). Counters go into @store
 * (cstore.h; keys described in proxy.c); the splice byte counters are pinned
 * under @pin_dir (NULL: not pinned). NULL on failure. */
#define SL_PROXY_NO_SPLICE 1 /* @flags: copy tunnels in user space even if splice works */
struct sl_proxy *sl_proxy_new(const struct sl_proxy_ops *ops, int workers,
			      struct sl_cstore *store, const char *pin_dir, unsigned flags);
void sl_proxy_free(struct sl_proxy *p);

/*
 * Make the listeners and configurations match @vips (called by the agent after
 * every change). A VIP whose "l7" is unchanged keeps its compiled
 * configuration (JWT caches and key sets stay warm). Returns 0, or -1 with the
 * first failure in @err (that VIP keeps its previous state; the others apply).
 */
int sl_proxy_sync(struct sl_proxy *p, const struct sl_proxy_vip *vips, size_t n, char *err,
		  size_t errlen);

/* Per-VIP counters as JSON ({"vip": {...}}), for `sluicectl stats`. */
json_t *sl_proxy_stats(struct sl_proxy *p);

#endif
