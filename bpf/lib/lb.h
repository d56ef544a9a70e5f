/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Backend selection over the kernel maps, using the shared algorithms in
 * include/sluice/select.h, and the connection table.
 */
#ifndef SL_BPF_LB_H
#define SL_BPF_LB_H

#include "lib/maps.h"
#include "lib/tunables.h"

#define SL_PICK_TRIES 4

SL_INLINE struct sl_backend *sl_backend_get(__u32 id)
{
	return bpf_map_lookup_elem(&sl_backends, &id);
}

/* May @be take a new flow of @family? */
SL_INLINE int sl_be_eligible(const struct sl_backend *be, __u8 family)
{
	return be && !(be->flags & SL_BE_NO_NEW) && be->family == family && be->weight;
}

SL_INLINE __s64 sl_be_flows(__u32 id)
{
	struct sl_be_active *a = bpf_map_lookup_elem(&sl_be_active, &id);

	return a ? a->flows : 0;
}

struct sl_lc_ctx {
	const struct sl_group *g;
	__s64 best_flows;
	__u32 n;
	__u32 start;
	__u32 best;	/* SL_BE_NONE until an eligible backend is seen */
	__u32 best_w;
	__u32 family;
};

static long sl_lc_step(__u32 i, struct sl_lc_ctx *c)
{
	const struct sl_group *g = c->g;
	struct sl_backend *be;
	__u32 id;
	__s64 fl;

	if (!g || !c->n)
		return 1;
	id = g->ids[SL_BOUND((c->start + i) % c->n, SL_GROUP_MAX - 1)];
	be = sl_backend_get(id);
	if (!be || !sl_be_eligible(be, c->family))
		return 0;
	fl = sl_be_flows(id);
	if (c->best == SL_BE_NONE || sl_lc_better(fl, be->weight, c->best_flows, c->best_w)) {
		c->best = id;
		c->best_flows = fl;
		c->best_w = be->weight;
	}
	return 0;
}

/*
 * Least-connections scan of @g, starting at @start so ties rotate. Also the
 * fallback of the other strategies when their picks are not eligible. A
 * bpf_loop callback: verified once, whatever the group size. Its context
 * holds scalars only, besides the group.
 */
SL_INLINE __u32 sl_pick_leastconn(const struct sl_group *g, __u32 n, __u32 start, __u8 family)
{
	struct sl_lc_ctx c = {
		.g = g, .n = n, .start = start, .best = SL_BE_NONE, .family = family,
	};

	bpf_loop(n, sl_lc_step, &c, 0);
	return c.best;
}

SL_INLINE __u32 sl_pick_maglev(const struct sl_vip *vip, __u32 hash, __u8 family,
			       struct sl_backend **bep, __u32 *reason)
{
	__u32 vid = vip->id, slot, i;
	void *table;

	table = bpf_map_lookup_elem(&sl_maglev, &vid);
	if (!table) {
		*reason = SL_DROP_NO_GROUP;
		return SL_BE_NONE;
	}
	slot = sl_maglev_slot(hash, maglev_size);
	/* A slot whose backend just left is skipped until the agent rebuilds. */
	for (i = 0; i < SL_PICK_TRIES; i++) {
		__u32 *idp = bpf_map_lookup_elem(table, &slot);
		struct sl_backend *be;

		if (!idp)
			break;
		be = sl_backend_get(*idp);
		if (be && sl_be_eligible(be, family)) {
			*bep = be;
			return *idp;
		}
		slot = slot + 1 >= maglev_size ? 0 : slot + 1;
	}
	*reason = SL_DROP_NO_BACKEND;
	return SL_BE_NONE;
}

/*
 * Choose a backend for a new flow of @vip. Returns its id, or minus the drop
 * reason. A global function: the verifier checks it once, on its own, instead
 * of once per path through the caller.
 */
__noinline int sl_select(const struct sl_vip *vip, __u32 hash, __u32 family)
{
	struct sl_backend *be;
	struct sl_group *g;
	struct sl_vip_pos *pos;
	__u32 vid, n, i, id, reason = 0;
	__u64 start = 0;

	if (!vip)
		return -SL_DROP_NO_GROUP;
	vid = vip->id;
	if (vip->strategy == SL_STRAT_MAGLEV) {
		id = sl_pick_maglev(vip, hash, family, &be, &reason);
		return id == SL_BE_NONE ? -(int)reason : (int)id;
	}

	g = bpf_map_lookup_elem(&sl_groups, &vid);
	if (!g)
		return -SL_DROP_NO_GROUP;
	n = g->count;
	if (!n || n > SL_GROUP_MAX)
		return -SL_DROP_NO_BACKEND;
	if (vip->strategy == SL_STRAT_RR || vip->strategy == SL_STRAT_WRR) {
		pos = bpf_map_lookup_elem(&sl_vip_pos, &vid);
		if (pos)
			start = __sync_fetch_and_add(&pos->next, 1);
	} else {
		start = bpf_get_prandom_u32();
	}

	if (vip->strategy != SL_STRAT_LEASTCONN) {
		__u32 slen = g->sched_len;

		for (i = 0; i < SL_PICK_TRIES; i++) {
			__u32 idx;

			if (vip->strategy == SL_STRAT_RR) {
				idx = sl_rr_index(start + i, n);
			} else if (vip->strategy == SL_STRAT_WRR) {
				if (!slen || slen > SL_SCHED_MAX)
					break;
				idx = g->sched[SL_BOUND(sl_rr_index(start + i, slen), SL_SCHED_MAX - 1)];
			} else {
				__u32 r = sl_random_scale(bpf_get_prandom_u32(), g->total_weight);

				idx = sl_wrandom_pick(g->cum, n, r);
			}
			if (idx >= n)
				continue;
			id = g->ids[SL_BOUND(idx, SL_GROUP_MAX - 1)];
			be = sl_backend_get(id);
			if (be && sl_be_eligible(be, family))
				return (int)id;
		}
	}
	id = sl_pick_leastconn(g, n, (__u32)start, family);
	return id == SL_BE_NONE ? -SL_DROP_NO_BACKEND : (int)id;
}

/* ---- connection table ---- */

SL_INLINE void sl_active_add(__u32 be_id, __s64 delta)
{
	struct sl_be_active *a = bpf_map_lookup_elem(&sl_be_active, &be_id);

	if (a)
		__sync_fetch_and_add(&a->flows, delta);
}

/*
 * End a flow's claim on its backend's active count, exactly once whoever
 * (this packet, another CPU, the sweeper) gets there first.
 */
SL_INLINE int sl_ct_release(struct sl_conn *c)
{
	if (__sync_val_compare_and_swap(&c->state, SL_CT_ACTIVE, SL_CT_CLOSED) != SL_CT_ACTIVE)
		return 0;
	sl_active_add(c->be_id, -1);
	return 1;
}

/* Idle limit of an entry: short after FIN/RST, else by protocol. */
SL_INLINE __u64 sl_ct_idle_limit(const struct sl_conn *c, __u8 proto)
{
	if (c->closed_ns)
		return fin_grace_ns;
	return proto == IPPROTO_TCP ? tcp_idle_ns : udp_idle_ns;
}

/*
 * Has the entry been idle past its limit at @now? A packet on another CPU may
 * have stamped last_ns a tick after @now was read: that is fresh, not an
 * unsigned underflow that looks idle for centuries.
 */
SL_INLINE int sl_ct_idle(const struct sl_conn *c, __u8 proto, __u64 now)
{
	__u64 last = c->last_ns;

	return now > last && now - last > sl_ct_idle_limit(c, proto);
}

#endif
