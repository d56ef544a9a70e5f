/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Fixture helpers for tests of the real xdp_lb object: load it, fill its maps
 * the way the agent will, run packets through it, read its counters.
 */
#ifndef SL_TEST_LB_H
#define SL_TEST_LB_H

#include <linux/types.h>
#include "sluice/abi.h"
#include "xdp_lb.skel.h"

/* The test namespace (tests/bpf/netns.sh). */
#define LB_MAC_SLC0 "02:5c:00:00:00:01"
#define LB_MAC_SLB0 "02:5c:00:00:01:01"
#define LB_MAC_ROUTER "02:c1:00:00:00:02"

struct lb_opts {
	__u64 tcp_idle_ns;   /* 0 = program default */
	__u64 udp_idle_ns;
	__u64 fin_grace_ns;
	__u32 ev_new_every;
	__u32 ev_rl_every;   /* 0 = program default */
	__u32 buckets;	     /* sl_buckets size; 0 = default */
};

struct lb {
	struct xdp_lb_bpf *skel;
	int prog_fd;
	int sweep_fd;
	__u32 if_client;  /* slc0: where packets arrive */
	__u32 if_backend; /* slb0 */
};

int lb_open(struct lb *lb, const struct lb_opts *o);
void lb_close(struct lb *lb);

/* Add VIP @id at ADDR:PORT/proto. */
int lb_vip(struct lb *lb, __u32 id, const char *addr, __u16 port, __u8 proto, __u8 strategy,
	   __u8 fwd, __u8 flags);
/* Set a VIP's limits (rates per second). */
int lb_vip_limits(struct lb *lb, const char *addr, __u16 port, __u8 proto, __u32 conn_rate,
		  __u32 conn_burst, __u32 pkt_rate, __u32 pkt_burst);
/* Write backend slot @id. */
int lb_backend(struct lb *lb, __u32 id, const char *addr, __u16 port, __u32 weight, __u32 vip_id,
	       __u8 flags, __u32 gen);
/* Publish the group (and Maglev table) of @vip_id from backend slots @ids. */
int lb_group(struct lb *lb, __u32 vip_id, const __u32 *ids, __u32 n);

/* Run one frame in from slc0. Returns 0 or a negative errno. */
int lb_run(struct lb *lb, const void *in, size_t len, void *out, size_t *out_len, __u32 *verdict);
/* The same, arriving on interface @ifindex. */
int lb_run_if(struct lb *lb, __u32 ifindex, const void *in, size_t len, void *out,
	      size_t *out_len, __u32 *verdict);
/* Run the sweeper once. */
int lb_sweep(struct lb *lb);

__u64 lb_counter(struct lb *lb, __u32 idx);
__u64 lb_drops(struct lb *lb, __u32 reason);
__s64 lb_active(struct lb *lb, __u32 be_id);
struct sl_be_stats lb_be_stats(struct lb *lb, __u32 be_id);
struct sl_vip_stats lb_vip_stats(struct lb *lb, __u32 vip_id);

#endif
