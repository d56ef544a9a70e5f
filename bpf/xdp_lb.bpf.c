// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluice L4 data plane. Per packet:
 *   parse -> fragment? -> VIP? -> rate limit -> connection table -> select
 *   -> rewrite (nat | dsr | ipip) -> FIB -> XDP_TX / redirect
 * Traffic not addressed to a VIP is passed untouched, except NAT replies
 * (backend -> client) and ICMP PMTU errors quoting a VIP flow.
 */
#include "lib/common.h"
#include "lib/maps.h"
#include "lib/tunables.h"
#include "lib/csum.h"
#include "lib/parse.h"
#include "lib/events.h"
#include "lib/ratelimit.h"
#include "lib/lb.h"
#include "lib/fwd.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline struct sl_cfg *sl_cfg_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&sl_cfg, &zero);
}

/* Fragments carry no reliable ports: drop those addressed to a VIP address. */
static __always_inline int sl_handle_frag(const struct sl_pkt *p)
{
	struct sl_addr_key k = {};

	k.family = p->flow.family;
	__builtin_memcpy(k.addr, p->flow.dst, sizeof(k.addr));
	if (bpf_map_lookup_elem(&sl_vip_addrs, &k))
		return sl_drop(SL_DROP_FRAGMENT, NULL);
	sl_count(SL_C_PASS_NOT_VIP);
	return XDP_PASS;
}

/*
 * NAT reply: a packet from a backend to a client of a NAT VIP. Restore the
 * VIP as source and send it to the client.
 */
static __always_inline int sl_handle_nat_reply(struct xdp_md *ctx, const struct sl_pkt *p,
					       struct sl_nat_rev *r)
{
	struct sl_vip_stats *vs;
	struct sl_be_stats *bs;
	__u32 id;

	if (sl_nat_rewrite(ctx, p, r->vip, r->vport, 1))
		return XDP_PASS;
	id = r->vip_id;
	vs = bpf_map_lookup_elem(&sl_vip_stats, &id);
	if (vs) {
		vs->packets++;
		vs->bytes += p->len;
	}
	id = r->be_id;
	bs = bpf_map_lookup_elem(&sl_be_stats, &id);
	if (bs)
		bs->replies++;
	sl_count(SL_C_NAT_REPLY);
	return sl_xmit(ctx, p, (const struct sl_ip *)p->flow.dst, sl_ip_len(p));
}

/*
 * NAT for an ICMP PMTU error quoting a VIP flow: the error was sent to the
 * VIP about a packet the VIP "sent"; the backend must see it as its own.
 * Outer destination and quoted source (address, port) become the backend's,
 * and every checksum involved is fixed: the outer IPv4 header, the quoted
 * IPv4 header, the quoted L4 checksum when the quote reaches it, and the
 * ICMP checksum over all of that.
 */
static __always_inline int sl_icmp_nat(struct xdp_md *ctx, const struct sl_pkt *p, __u32 q_l4,
				       __u8 q_proto, const struct sl_backend *be)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	__u8 *icmp = data + (p->l4_off & SL_OFF_MASK);
	__u8 *ql4 = data + (q_l4 & SL_OFF_MASK);
	__be16 *qports = (__be16 *)ql4;
	__u32 diff = 0, qdiff = 0;
	__u16 *isum, *qsum;

	if ((void *)(icmp + 8) > data_end || (void *)(qports + 2) > data_end)
		return -1;
	isum = (__u16 *)(icmp + 2);
	if (p->flow.family == SL_AF_INET) {
		struct iphdr *oh = data + (p->l3_off & SL_OFF_MASK);
		struct iphdr *qh = data + (p->inner_off & SL_OFF_MASK);
		__u16 old_qsum;

		if ((void *)(oh + 1) > data_end || (void *)(qh + 1) > data_end)
			return -1;
		csum_apply(&oh->check, csum_diff32(0, oh->daddr, be->addr[0]));
		oh->daddr = be->addr[0];
		qdiff = csum_diff32(0, qh->saddr, be->addr[0]);
		old_qsum = qh->check;
		csum_apply(&qh->check, qdiff);
		diff = csum_diff16(qdiff, old_qsum, qh->check);
		qh->saddr = be->addr[0];
	} else {
		struct ipv6hdr *oh = data + (p->l3_off & SL_OFF_MASK);
		struct ipv6hdr *qh = data + (p->inner_off & SL_OFF_MASK);

		if ((void *)(oh + 1) > data_end || (void *)(qh + 1) > data_end)
			return -1;
		/* ICMPv6's pseudo-header includes the outer destination */
		diff = csum_diff128(0, (__u32 *)&oh->daddr, be->addr);
		qdiff = csum_diff128(0, (__u32 *)&qh->saddr, be->addr);
		diff += qdiff;
		__builtin_memcpy(&oh->daddr, be->addr, 16);
		__builtin_memcpy(&qh->saddr, be->addr, 16);
	}
	if (be->port && be->port != qports[0]) {
		qdiff = csum_diff16(qdiff, qports[0], be->port);
		diff = csum_diff16(diff, qports[0], be->port);
		qports[0] = be->port;
	}
	/* The quoted TCP/UDP checksum (pseudo-header and port changed). */
	qsum = (__u16 *)(ql4 + (q_proto == IPPROTO_TCP ? 16 : 6));
	if ((void *)(qsum + 1) <= data_end) {
		__u16 old = *qsum;

		if (q_proto == IPPROTO_UDP)
			csum_apply_udp(qsum, qdiff);
		else
			csum_apply(qsum, qdiff);
		diff = csum_diff16(diff, old, *qsum);
	}
	csum_apply(isum, diff);
	return 0;
}

/*
 * ICMP "fragmentation needed" / "packet too big" about a VIP flow. Global.
 * Finds the quoted flow's backend (for NAT VIPs, also rewrites the error for
 * it) and returns (forwarding mode << 24 | backend id), or -1 to pass the
 * packet to the kernel. The caller transmits: keeping the transmit out of
 * here keeps the deepest call chain within the 512-byte stack.
 */
__noinline int sl_icmp_target(struct xdp_md *ctx, const struct sl_pkt *p)
{
	struct sl_backend *be;
	struct sl_flow f = {};
	struct sl_conn *c;
	struct sl_vip *vip;
	void *data, *data_end;
	__u32 q_l4 = 0;

	if (!ctx || !p)
		return -1;
	__u8 q_proto;

	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	/* The quoted packet went VIP -> client: parse it straight into the
	 * client -> VIP flow key, then look the VIP up from the same key. */
	{
		struct sl_flow q = {};

		if (sl_parse_quoted(data, data_end, p, &q, &q_l4))
			return -1;
		__builtin_memcpy(f.src, q.dst, sizeof(f.src));
		__builtin_memcpy(f.dst, q.src, sizeof(f.dst));
		f.sport = q.dport;
		f.dport = q.sport;
		f.proto = q.proto;
		f.family = q.family;
		q_proto = q.proto;
	}
	{
		struct sl_vip_key vk = {};

		__builtin_memcpy(vk.addr, f.dst, sizeof(vk.addr));
		vk.port = f.dport;
		vk.proto = f.proto;
		vk.family = f.family;
		vip = bpf_map_lookup_elem(&sl_vips, &vk);
	}
	if (!vip || (vip->flags & SL_VIP_L7))
		return -1;
	c = bpf_map_lookup_elem(&sl_conns, &f);
	if (!c) {
		sl_count(SL_C_ICMP_NO_FLOW);
		return -1;
	}
	be = sl_backend_get(c->be_id);
	if (!be || be->family != p->flow.family || c->be_id >= (1u << 24))
		return -1;
	if (vip->fwd == SL_FWD_NAT && sl_icmp_nat(ctx, p, q_l4, q_proto, be))
		return -1;
	sl_count(SL_C_ICMP_FWD);
	return (int)((__u32)vip->fwd << 24 | c->be_id);
}

static __always_inline int sl_handle_icmp_err(struct xdp_md *ctx, const struct sl_pkt *p)
{
	struct sl_backend *be;
	int t = sl_icmp_target(ctx, p);

	if (t < 0)
		goto pass;
	be = sl_backend_get(t & 0xffffff);
	if (!be)
		goto pass;
	if ((t >> 24) == SL_FWD_IPIP)
		return sl_encap_xmit(ctx, p, be, sl_hash_flow(&p->flow, 0));
	return sl_xmit(ctx, p, (const struct sl_ip *)be->addr, sl_ip_len(p));
pass:
	sl_count(SL_C_PASS_NOT_VIP);
	return XDP_PASS;
}

/* Not addressed to a VIP: ICMP errors, NAT replies, or none of our business. */
static __always_inline int sl_handle_other(struct xdp_md *ctx, const struct sl_pkt *p)
{
	struct sl_cfg *cfg;

	if (p->icmp_err)
		return sl_handle_icmp_err(ctx, p);
	if (p->flow.proto == IPPROTO_TCP || p->flow.proto == IPPROTO_UDP) {
		cfg = sl_cfg_get();
		if (cfg && cfg->nat_vips) {
			struct sl_nat_rev *r = bpf_map_lookup_elem(&sl_nat_rev, &p->flow);

			if (r)
				return sl_handle_nat_reply(ctx, p, r);
		}
	}
	sl_count(SL_C_PASS_NOT_VIP);
	return XDP_PASS;
}

/* Record a NAT flow's reply tuple so replies get the VIP back as source. Global. */
__noinline int sl_nat_remember(const struct sl_pkt *p, const struct sl_vip *vip,
			       const struct sl_backend *be, __u32 be_id)
{
	struct sl_nat_rev r = {};
	struct sl_flow k = {};

	if (!p || !vip || !be)
		return -1;
	__builtin_memcpy(k.src, be->addr, sizeof(k.src));
	__builtin_memcpy(k.dst, p->flow.src, sizeof(k.dst));
	k.sport = be->port ? be->port : p->flow.dport;
	k.dport = p->flow.sport;
	k.proto = p->flow.proto;
	k.family = p->flow.family;
	__builtin_memcpy(r.vip, p->flow.dst, sizeof(r.vip));
	r.vport = p->flow.dport;
	r.vip_id = vip->id;
	r.be_id = be_id;
	r.last_ns = bpf_ktime_get_coarse_ns();
	return bpf_map_update_elem(&sl_nat_rev, &k, &r, BPF_ANY);
}

static __always_inline int sl_handle_vip(struct xdp_md *ctx, struct sl_pkt *p,
					 const struct sl_vip *vip)
{
	__u8 fl = p->tcp_flags, tcp = p->flow.proto == IPPROTO_TCP;
	int syn = tcp && (fl & (SL_TCP_SYN | SL_TCP_ACK)) == SL_TCP_SYN;
	int fin = tcp && (fl & (SL_TCP_FIN | SL_TCP_RST));
	struct sl_backend *be = NULL;
	struct sl_vip_stats *vs;
	struct sl_be_stats *bs;
	struct sl_conn *c;
	__u32 vid = vip->id, be_id = SL_BE_NONE, reason = 0, hash;
	int replace = 0, reselect = 0;
	__u64 now;

	vs = bpf_map_lookup_elem(&sl_vip_stats, &vid);
	if (vs) {
		vs->packets++;
		vs->bytes += p->len;
	}

	if (vip->flags & SL_VIP_L7) {
		reason = sl_rl_check(vip, &p->flow, syn);
		if (reason)
			return sl_drop(reason, vs);
		sl_count(SL_C_PASS_L7);
		return XDP_PASS;
	}

	now = bpf_ktime_get_coarse_ns();
	c = bpf_map_lookup_elem(&sl_conns, &p->flow);
	if (c) {
		if (sl_ct_idle(c, p->flow.proto, now)) {
			if (sl_ct_release(c))
				sl_count(SL_C_CT_EXPIRED);
			c = NULL;
		} else if (c->state == SL_CT_CLOSED && syn) {
			c = NULL; /* the client reuses the tuple for a new connection */
		} else {
			be_id = c->be_id;
			be = sl_backend_get(be_id);
			if (!be || be->gen != c->be_gen || (be->flags & SL_BE_MOVE)) {
				sl_ct_release(c);
				sl_count(SL_C_CT_RESELECT);
				reselect = 1;
				c = NULL;
			}
		}
		replace = 1;
	}

	reason = sl_rl_check(vip, &p->flow, !c && !reselect);
	if (reason)
		return sl_drop(reason, vs);

	if (!c) {
		struct sl_conn nc = {};
		int err;

		int sel;

		hash = sl_hash_flow(&p->flow, 0);
		sel = sl_select(vip, hash, p->flow.family);
		if (sel < 0)
			return sl_drop(-sel, vs);
		be_id = (__u32)sel;
		be = sl_backend_get(be_id);
		if (!be)
			return sl_drop(SL_DROP_NO_BACKEND, vs);
		nc.last_ns = now;
		nc.be_id = be_id;
		nc.be_gen = be->gen;
		nc.vip_id = vid;
		if (fin) {
			nc.state = SL_CT_CLOSED;
			nc.closed_ns = now;
		} else {
			nc.state = SL_CT_ACTIVE;
			sl_active_add(be_id, 1);
		}
		err = bpf_map_update_elem(&sl_conns, &p->flow, &nc, replace ? BPF_ANY : BPF_NOEXIST);
		if (err) {
			if (nc.state == SL_CT_ACTIVE)
				sl_active_add(be_id, -1);
			/* Another CPU created the flow first: follow its choice. */
			c = err == -17 /* EEXIST */ ? bpf_map_lookup_elem(&sl_conns, &p->flow) : NULL;
			if (!c)
				return sl_drop(SL_DROP_CT_INSERT, vs);
			be_id = c->be_id;
			be = sl_backend_get(be_id);
			if (!be)
				return sl_drop(SL_DROP_NO_BACKEND, vs);
		} else {
			if (vip->fwd == SL_FWD_NAT)
				sl_nat_remember(p, vip, be, be_id);
			if (vs)
				vs->new_flows++;
			bs = bpf_map_lookup_elem(&sl_be_stats, &be_id);
			if (bs)
				bs->new_flows++;
			sl_count(SL_C_CT_NEW);
			if (sl_sample(ev_new_every))
				sl_event(SL_EV_NEW_FLOW, vid, be_id, &p->flow);
		}
	} else {
		if (c->last_ns != now)
			c->last_ns = now;
		if (fin && c->state == SL_CT_ACTIVE) {
			c->closed_ns = now;
			if (sl_ct_release(c))
				sl_count(SL_C_CT_CLOSED);
		}
	}

	bs = bpf_map_lookup_elem(&sl_be_stats, &be_id);
	if (bs) {
		bs->packets++;
		bs->bytes += p->len;
	}
	if (be->family != p->flow.family)
		return sl_drop(SL_DROP_FAMILY, vs);

	switch (vip->fwd) {
	case SL_FWD_NAT:
		if (sl_nat_rewrite(ctx, p, be->addr, be->port, 0))
			return XDP_PASS;
		return sl_xmit(ctx, p, (const struct sl_ip *)be->addr, sl_ip_len(p));
	case SL_FWD_IPIP:
		return sl_encap_xmit(ctx, p, be, sl_hash_flow(&p->flow, 0));
	default: /* SL_FWD_DSR */
		return sl_xmit(ctx, p, (const struct sl_ip *)be->addr, sl_ip_len(p));
	}
}

SEC("xdp")
int sl_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct sl_vip_key vk = {};
	struct sl_pkt p = {};
	struct sl_vip *vip;

	if (sl_parse(data, data_end, &p)) {
		sl_count(SL_C_PASS_UNPARSED);
		return XDP_PASS;
	}
	if (p.frag)
		return sl_handle_frag(&p);
	__builtin_memcpy(vk.addr, p.flow.dst, sizeof(vk.addr));
	vk.port = p.flow.dport;
	vk.proto = p.flow.proto;
	vk.family = p.flow.family;
	vip = bpf_map_lookup_elem(&sl_vips, &vk);
	if (!vip)
		return sl_handle_other(ctx, &p);
	return sl_handle_vip(ctx, &p, vip);
}

struct bpf_map;

/* ---- sweeper: run by the agent with BPF_PROG_TEST_RUN, never attached ---- */

struct sl_sweep_ctx {
	__u64 now;
	__u64 expired;
};

static long sl_sweep_one(struct bpf_map *map, struct sl_flow *key, struct sl_conn *c,
			 struct sl_sweep_ctx *sc)
{
	if (c->state != SL_CT_ACTIVE)
		return 0;
	if (!sl_ct_idle(c, key->proto, sc->now))
		return 0;
	if (sl_ct_release(c)) {
		sl_count(SL_C_CT_EXPIRED);
		sc->expired++;
	}
	return 0;
}

/*
 * Ends idle flows nobody sends on any more, so their backends' active counts
 * come back down. Returns XDP_PASS; the count swept is in SL_C_CT_EXPIRED.
 */
SEC("xdp")
int sl_sweep(struct xdp_md *ctx)
{
	struct sl_sweep_ctx sc = { .now = bpf_ktime_get_coarse_ns() };

	bpf_for_each_map_elem(&sl_conns, sl_sweep_one, &sc, 0);
	return XDP_PASS;
}

/* ---- L7 upstream choice: run by the agent with BPF_PROG_TEST_RUN, never attached ---- */

/*
 * The packet is a struct sl_l7_pick (see abi.h). PICK runs the same sl_select()
 * as a new L4 flow and counts the upstream connection in the backend's active
 * flows and new-flow stats; RELEASE gives the active count back. Returns XDP_TX
 * so the rewritten record comes back in data_out.
 */
SEC("xdp")
int sl_l7_pick(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct sl_l7_pick *r = data;
	struct sl_vip_stats *vs;
	struct sl_be_stats *bs;
	struct sl_backend *be;
	struct sl_vip *vip;
	__u32 be_id;
	int id;

	if ((void *)(r + 1) > end)
		return XDP_ABORTED;
	if (r->op == SL_L7_RELEASE) {
		be_id = r->be_id;
		be = sl_backend_get(be_id);
		if (be && be->gen == r->be_gen)
			sl_active_add(be_id, -1);
		r->result = 0;
		return XDP_TX;
	}
	vip = bpf_map_lookup_elem(&sl_vips, &r->vip);
	if (!vip) {
		r->result = -SL_DROP_NO_GROUP;
		return XDP_TX;
	}
	id = sl_select(vip, r->hash, r->vip.family);
	if (id < 0) {
		r->result = id;
		return XDP_TX;
	}
	be_id = (__u32)id;
	be = sl_backend_get(be_id);
	if (!be) {
		r->result = -SL_DROP_NO_BACKEND;
		return XDP_TX;
	}
	sl_active_add(be_id, 1);
	vs = bpf_map_lookup_elem(&sl_vip_stats, &vip->id);
	if (vs)
		vs->new_flows++;
	bs = bpf_map_lookup_elem(&sl_be_stats, &be_id);
	if (bs)
		bs->new_flows++;
	r->be_id = be_id;
	r->be_gen = be->gen;
	r->result = 0;
	return XDP_TX;
}
