/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Forwarding: NAT rewrite, IPIP encapsulation, and the next hop from
 * bpf_fib_lookup(). A packet whose neighbour is unknown goes to the kernel
 * (XDP_PASS), which resolves it and forwards; it is never dropped for that.
 */
#ifndef SL_BPF_FWD_H
#define SL_BPF_FWD_H

#include "lib/maps.h"
#include "lib/csum.h"
#include "lib/parse.h"

/* An address as a type of its own, so global functions can take one. */
struct sl_ip {
	__be32 a[4];
};

/*
 * Send the frame at ctx towards @dst (family of @p) using the FIB: set both
 * MACs, then XDP_TX when the egress is the ingress interface, else redirect.
 * Global (verified once); returns an XDP verdict.
 */
__noinline int sl_xmit(struct xdp_md *ctx, const struct sl_pkt *p, const struct sl_ip *dst,
		       __u32 ip_len)
{
	struct bpf_fib_lookup fib = {};
	void *data, *data_end;
	struct ethhdr *eth;
	long rc;

	if (!ctx || !p || !dst)
		return XDP_PASS;
	fib.ifindex = ctx->ingress_ifindex;
	fib.tot_len = ip_len;
	if (p->flow.family == SL_AF_INET) {
		fib.family = AF_INET;
		fib.ipv4_dst = dst->a[0];
	} else {
		fib.family = AF_INET6;
		__builtin_memcpy(fib.ipv6_dst, dst->a, 16);
	}
	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS) {
		sl_count(SL_C_PASS_FIB);
		return XDP_PASS;
	}
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	__builtin_memcpy(eth->h_dest, fib.dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, fib.smac, ETH_ALEN);
	if (fib.ifindex == ctx->ingress_ifindex) {
		sl_count(SL_C_TX);
		return XDP_TX;
	}
	rc = bpf_redirect_map(&sl_tx_ports, fib.ifindex, XDP_PASS);
	sl_count(rc == XDP_REDIRECT ? SL_C_REDIRECT : SL_C_PASS_FIB);
	return rc;
}

/* Length of the IP packet (header included) of a frame not resized. */
SL_INLINE __u32 sl_ip_len(const struct sl_pkt *p)
{
	return p->len - p->l3_off;
}

/*
 * Rewrite the destination (@src == 0) or source (@src == 1) address and port
 * of a TCP/UDP packet, fixing the IPv4 header and L4 checksums incrementally.
 * @port 0 keeps the port. Returns 0, or -1 if the headers are not there.
 */
SL_INLINE int sl_nat_rewrite(struct xdp_md *ctx, const struct sl_pkt *p, const __be32 *addr,
			     __be16 port, int src)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	void *l4 = data + (p->l4_off & SL_OFF_MASK);
	__u16 *l4sum, *portp;
	__u32 diff = 0;

	if (p->flow.proto == IPPROTO_TCP) {
		struct tcphdr *th = l4;

		if ((void *)(th + 1) > data_end)
			return -1;
		l4sum = &th->check;
		portp = src ? &th->source : &th->dest;
	} else {
		struct udphdr *uh = l4;

		if ((void *)(uh + 1) > data_end)
			return -1;
		l4sum = &uh->check;
		portp = src ? &uh->source : &uh->dest;
	}

	if (p->flow.family == SL_AF_INET) {
		struct iphdr *iph = data + (p->l3_off & SL_OFF_MASK);
		__be32 *ap;
		__u32 ipdiff;

		if ((void *)(iph + 1) > data_end)
			return -1;
		ap = src ? &iph->saddr : &iph->daddr;
		ipdiff = csum_diff32(0, *ap, addr[0]);
		*ap = addr[0];
		csum_apply(&iph->check, ipdiff);
		diff = ipdiff;
	} else {
		struct ipv6hdr *ip6 = data + (p->l3_off & SL_OFF_MASK);
		__u32 *ap;

		if ((void *)(ip6 + 1) > data_end)
			return -1;
		ap = src ? (__u32 *)&ip6->saddr : (__u32 *)&ip6->daddr;
		diff = csum_diff128(0, ap, addr);
		__builtin_memcpy(ap, addr, 16);
	}
	if (port && port != *portp) {
		diff = csum_diff16(diff, *portp, port);
		*portp = port;
	}
	if (p->flow.proto == IPPROTO_UDP)
		csum_apply_udp(l4sum, diff);
	else
		csum_apply(l4sum, diff);
	return 0;
}

/* Copy the L2 header (Ethernet and up to two VLAN tags) from @from to @to. */
SL_INLINE int sl_move_l2(void *data, void *data_end, __u32 from, __u32 vlans)
{
	__u8 l2[ETH_HLEN + 4 * 2];
	__u8 *src = data + (from & 0xff);

	if (vlans == 0) {
		if ((void *)(src + ETH_HLEN) > data_end)
			return -1;
		__builtin_memcpy(l2, src, ETH_HLEN);
		__builtin_memcpy(data, l2, ETH_HLEN);
	} else if (vlans == 1) {
		if ((void *)(src + ETH_HLEN + 4) > data_end)
			return -1;
		__builtin_memcpy(l2, src, ETH_HLEN + 4);
		__builtin_memcpy(data, l2, ETH_HLEN + 4);
	} else {
		if ((void *)(src + ETH_HLEN + 8) > data_end)
			return -1;
		__builtin_memcpy(l2, src, ETH_HLEN + 8);
		__builtin_memcpy(data, l2, ETH_HLEN + 8);
	}
	return 0;
}

/* Outer source for a flow: the configured base with the host part from the
 * flow hash, so a backend's receive queues see many sources. Without a base,
 * the client's own address. */
SL_INLINE void sl_encap_src(const struct sl_cfg *cfg, const struct sl_pkt *p, __u32 hash,
			    __be32 *out)
{
	if (p->flow.family == SL_AF_INET) {
		__u32 len = cfg ? cfg->ipip_src4_len : 0;

		if (!cfg || !cfg->ipip_src4 || len > 32) {
			out[0] = p->flow.src[0];
			return;
		}
		if (len == 32) {
			out[0] = cfg->ipip_src4;
			return;
		}
		{
			__u32 host = 0xffffffffu >> len;

			out[0] = (cfg->ipip_src4 & bpf_htonl(~host)) | bpf_htonl(hash & host);
		}
		return;
	}
	if (!cfg || !(cfg->ipip_src6[0] | cfg->ipip_src6[1] | cfg->ipip_src6[2] |
		      cfg->ipip_src6[3]) || cfg->ipip_src6_len < 96 || cfg->ipip_src6_len > 128) {
		__builtin_memcpy(out, p->flow.src, 16);
		return;
	}
	__builtin_memcpy(out, cfg->ipip_src6, 16);
	if (cfg->ipip_src6_len < 128) {
		__u32 host = 0xffffffffu >> (cfg->ipip_src6_len - 96);

		out[3] = (out[3] & bpf_htonl(~host)) | bpf_htonl(hash & host);
	}
}

/*
 * Encapsulate in IPv4 (IPv4 packets) or IPv6 (IPv6 packets) towards @be.
 * Global. Returns the new IP length to transmit with, or -1 when the frame
 * could not grow (the drop is counted; the caller returns XDP_DROP).
 */
__noinline int sl_encap(struct xdp_md *ctx, const struct sl_pkt *p, const struct sl_backend *be,
			__u32 hash)
{
	__u32 zero = 0, l2, inner_len;
	void *data, *data_end;
	__be32 src[4] = {};

	if (!ctx || !p || !be)
		return -1;
	l2 = p->l3_off & 0xff;
	inner_len = p->len - p->l3_off;
	sl_encap_src(bpf_map_lookup_elem(&sl_cfg, &zero), p, hash, src);
	if (p->flow.family == SL_AF_INET) {
		struct iphdr *oh;

		if (bpf_xdp_adjust_head(ctx, -(int)sizeof(struct iphdr)))
			goto fail;
		data = (void *)(long)ctx->data;
		data_end = (void *)(long)ctx->data_end;
		if (sl_move_l2(data, data_end, sizeof(struct iphdr), p->vlans))
			goto fail;
		oh = data + l2;
		if ((void *)(oh + 1) > data_end)
			goto fail;
		oh->version = 4;
		oh->ihl = 5;
		oh->tos = 0;
		oh->tot_len = bpf_htons(inner_len + sizeof(*oh));
		oh->id = 0;
		oh->frag_off = 0;
		oh->ttl = 64;
		oh->protocol = IPPROTO_IPIP;
		oh->check = 0;
		oh->saddr = src[0];
		oh->daddr = be->addr[0];
		oh->check = csum_ipv4_hdr20(oh);
		return inner_len + sizeof(*oh);
	} else {
		struct ipv6hdr *oh;
		__u32 fl = hash & 0xfffff;

		if (bpf_xdp_adjust_head(ctx, -(int)sizeof(struct ipv6hdr)))
			goto fail;
		data = (void *)(long)ctx->data;
		data_end = (void *)(long)ctx->data_end;
		if (sl_move_l2(data, data_end, sizeof(struct ipv6hdr), p->vlans))
			goto fail;
		oh = data + l2;
		if ((void *)(oh + 1) > data_end)
			goto fail;
		/* version 6, traffic class 0, flow label from the flow hash */
		*(__be32 *)oh = bpf_htonl(0x60000000u | fl);
		oh->payload_len = bpf_htons(inner_len);
		oh->nexthdr = IPPROTO_IPV6;
		oh->hop_limit = 64;
		__builtin_memcpy(&oh->saddr, src, 16);
		__builtin_memcpy(&oh->daddr, be->addr, 16);
		return inner_len + sizeof(*oh);
	}
fail:
	sl_drop(SL_DROP_ENCAP, NULL);
	return -1;
}

/* Encapsulate towards @be and transmit; an XDP verdict. */
SL_INLINE int sl_encap_xmit(struct xdp_md *ctx, const struct sl_pkt *p,
			    const struct sl_backend *be, __u32 hash)
{
	int len = sl_encap(ctx, p, be, hash);

	if (len < 0)
		return XDP_DROP;
	return sl_xmit(ctx, p, (const struct sl_ip *)be->addr, len);
}

#endif
