/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Per-client token buckets per VIP. Each bucket is one 64-bit word in
 * virtual-time form (sl_tb_take in select.h), updated with cmpxchg, so two
 * CPUs can never both spend the same token and no lock is taken.
 */
#ifndef SL_BPF_RATELIMIT_H
#define SL_BPF_RATELIMIT_H

#include "lib/maps.h"
#include "lib/tunables.h"
#include "lib/events.h"

#define SL_TB_TRIES 4

/* 1 admitted, 0 over the limit, -1 lost the race SL_TB_TRIES times. */
SL_INLINE int sl_tb_take_atomic(__u64 *tat, __u64 now, __u32 rate, __u32 burst)
{
	__u64 interval = sl_tb_interval(rate);
	int i;

	for (i = 0; i < SL_TB_TRIES; i++) {
		__u64 old = *(volatile __u64 *)tat, next;

		if (!sl_tb_take(old, now, interval, burst, &next))
			return 0;
		if (__sync_val_compare_and_swap(tat, old, next) == old)
			return 1;
	}
	return -1;
}

SL_INLINE struct sl_bucket *sl_bucket_get(const struct sl_vip *vip, const struct sl_flow *f)
{
	struct sl_bucket_key k = {};
	struct sl_bucket *b, fresh = {};

	k.vip_id = vip->id;
	k.family = f->family;
	__builtin_memcpy(k.addr, f->src, sizeof(k.addr));
	if (vip->flags & SL_VIP_RL_PREFIX) {
		if (f->family == SL_AF_INET) {
			k.addr[0] &= bpf_htonl(0xffffff00);
		} else {
			k.addr[2] = 0;
			k.addr[3] = 0;
		}
	}
	b = bpf_map_lookup_elem(&sl_buckets, &k);
	if (b)
		return b;
	/* A new bucket starts full (tat 0): one burst, never more. */
	if (!bpf_map_update_elem(&sl_buckets, &k, &fresh, BPF_NOEXIST)) {
		__u32 zero = 0;
		__u64 *fill = bpf_map_lookup_elem(&sl_bucket_fill, &zero);

		sl_count(SL_C_RL_NEW_BUCKET);
		if (fill && __sync_fetch_and_add(fill, 1) >= rl_buckets_max)
			sl_count(SL_C_RL_EVICT);
	}
	return bpf_map_lookup_elem(&sl_buckets, &k);
}

/*
 * Charge one packet (and, for a new flow, one connection) to the client's
 * buckets on @vip. Global. Returns 0 to admit, or the drop reason.
 */
__noinline __u32 sl_rl_charge(const struct sl_vip *vip, const struct sl_flow *f, __u32 new_flow)
{
	struct sl_bucket *b;
	__u32 reason = 0;
	int want_conn;
	__u64 now;
	int r;

	if (!vip || !f)
		return 0;
	want_conn = new_flow && vip->conn_rate;
	if (!want_conn && !vip->pkt_rate)
		return 0;
	b = sl_bucket_get(vip, f);
	if (!b)
		return 0; /* cannot happen with an LRU map; admit rather than guess */
	now = bpf_ktime_get_ns();
	if (vip->pkt_rate) {
		r = sl_tb_take_atomic(&b->pkt_tat, now, vip->pkt_rate, vip->pkt_burst);
		if (r <= 0)
			reason = r < 0 ? SL_DROP_RL_CONTENDED : SL_DROP_RL_PKT;
	}
	if (!reason && want_conn) {
		r = sl_tb_take_atomic(&b->conn_tat, now, vip->conn_rate, vip->conn_burst);
		if (r <= 0)
			reason = r < 0 ? SL_DROP_RL_CONTENDED : SL_DROP_RL_CONN;
	}
	if (reason && sl_sample(ev_rl_every))
		sl_event(SL_EV_RL_DROP, vip->id, SL_BE_NONE, f);
	return reason;
}

/* The common case (no limits on this VIP) costs no call. */
SL_INLINE __u32 sl_rl_check(const struct sl_vip *vip, const struct sl_flow *f, int new_flow)
{
	if (!vip->pkt_rate && !(new_flow && vip->conn_rate))
		return 0;
	return sl_rl_charge(vip, f, new_flow);
}

#endif
