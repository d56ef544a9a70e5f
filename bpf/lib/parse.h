/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Header parsing: Ethernet, up to two VLAN tags, IPv4 (options allowed),
 * IPv6 (hop-by-hop, routing, destination-options and fragment headers),
 * TCP, UDP, ICMP and ICMPv6. Every read is preceded by a bounds check.
 * The result is a struct on the stack; nothing here writes the packet.
 */
#ifndef SL_BPF_PARSE_H
#define SL_BPF_PARSE_H

#include "lib/common.h"

#define SL_MAX_VLANS 2
#define SL_MAX_EXTHDRS 4

struct sl_pkt {
	struct sl_flow flow; /* 5-tuple as on the wire */
	__u32 l3_off;	     /* offset of the IP header (== L2 length) */
	__u32 l4_off;	     /* offset of the L4 header */
	__u32 len;	     /* frame length */
	__u32 inner_off;     /* ICMP errors: offset of the quoted IP header */
	__u8 tcp_flags;	     /* TCP: the flags byte (FIN 0x01 SYN 0x02 RST 0x04 ACK 0x10) */
	__u8 frag;	     /* non-atomic IP fragment */
	__u8 icmp_err;	     /* ICMP frag-needed / ICMPv6 packet-too-big */
	__u8 vlans;	     /* VLAN tags seen */
};

#define SL_TCP_FIN 0x01
#define SL_TCP_SYN 0x02
#define SL_TCP_RST 0x04
#define SL_TCP_ACK 0x10

/* Is this ICMP type/code one whose quoted packet we route (PMTU errors)? */
SL_INLINE int sl_icmp_is_pmtu(__u8 family, __u8 type, __u8 code)
{
	if (family == SL_AF_INET)
		return type == ICMP_DEST_UNREACH && code == ICMP_FRAG_NEEDED;
	return type == ICMPV6_PKT_TOOBIG;
}

/* Parse the L4 header at @off. Returns 0, or -1 if it is cut short. */
SL_INLINE int sl_parse_l4(void *data, void *data_end, __u32 off, struct sl_pkt *p)
{
	void *l4 = data + (off & SL_OFF_MASK);

	p->l4_off = off;
	if (p->frag)
		return 0; /* ports are not reliably there; the caller drops or passes */
	switch (p->flow.proto) {
	case IPPROTO_TCP: {
		struct tcphdr *th = l4;

		if ((void *)(th + 1) > data_end)
			return -1;
		p->flow.sport = th->source;
		p->flow.dport = th->dest;
		p->tcp_flags = ((__u8 *)th)[13];
		return 0;
	}
	case IPPROTO_UDP: {
		struct udphdr *uh = l4;

		if ((void *)(uh + 1) > data_end)
			return -1;
		p->flow.sport = uh->source;
		p->flow.dport = uh->dest;
		return 0;
	}
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6: {
		__u8 *ic = l4;

		if ((void *)(ic + 8) > data_end)
			return -1;
		if (sl_icmp_is_pmtu(p->flow.family, ic[0], ic[1])) {
			p->icmp_err = 1;
			p->inner_off = off + 8;
		}
		return 0;
	}
	}
	return 0;
}

SL_INLINE int sl_parse_ipv4(void *data, void *data_end, __u32 off, struct sl_pkt *p)
{
	struct iphdr *iph = data + (off & SL_OFF_MASK);
	__u32 hl;

	if ((void *)(iph + 1) > data_end)
		return -1;
	if (iph->version != 4 || iph->ihl < 5)
		return -1;
	hl = iph->ihl * 4;
	if ((void *)iph + hl > data_end)
		return -1;
	p->flow.family = SL_AF_INET;
	p->flow.proto = iph->protocol;
	p->flow.src[0] = iph->saddr;
	p->flow.dst[0] = iph->daddr;
	if (iph->frag_off & bpf_htons(SL_IP_MF | SL_IP_OFFSET))
		p->frag = 1;
	return sl_parse_l4(data, data_end, off + hl, p);
}

SL_INLINE int sl_parse_ipv6(void *data, void *data_end, __u32 off, struct sl_pkt *p)
{
	struct ipv6hdr *ip6 = data + (off & SL_OFF_MASK);
	__u8 nexthdr;
	int i;

	if ((void *)(ip6 + 1) > data_end)
		return -1;
	if (ip6->version != 6)
		return -1;
	p->flow.family = SL_AF_INET6;
	__builtin_memcpy(p->flow.src, &ip6->saddr, 16);
	__builtin_memcpy(p->flow.dst, &ip6->daddr, 16);
	nexthdr = ip6->nexthdr;
	off += sizeof(*ip6);

#pragma unroll
	for (i = 0; i < SL_MAX_EXTHDRS; i++) {
		__u8 *eh = data + (off & SL_OFF_MASK);

		if (nexthdr != IPPROTO_HOPOPTS && nexthdr != IPPROTO_ROUTING &&
		    nexthdr != IPPROTO_DSTOPTS && nexthdr != SL_IPV6_NEXTHDR_FRAG)
			break;
		if ((void *)(eh + 8) > data_end)
			return -1;
		if (nexthdr == SL_IPV6_NEXTHDR_FRAG) {
			/* offset (13 bits) and M flag; an atomic fragment (both 0) is whole */
			if ((eh[2] << 8 | eh[3]) & 0xfff9)
				p->frag = 1;
			nexthdr = eh[0];
			off += 8;
		} else {
			nexthdr = eh[0];
			off += (eh[1] + 1) * 8;
		}
	}
	p->flow.proto = nexthdr;
	return sl_parse_l4(data, data_end, off, p);
}

/*
 * Parse a frame. Returns 0 when the IP header was found and understood
 * (p->flow filled), -1 for anything else (the caller passes it untouched).
 */
SL_INLINE int sl_parse(void *data, void *data_end, struct sl_pkt *p)
{
	struct ethhdr *eth = data;
	__u16 proto;
	__u32 off;
	int i;

	if ((void *)(eth + 1) > data_end)
		return -1;
	p->len = data_end - data;
	proto = eth->h_proto;
	off = sizeof(*eth);

#pragma unroll
	for (i = 0; i < SL_MAX_VLANS; i++) {
		__be16 *tag = data + off;

		if (proto != bpf_htons(SL_ETH_P_8021Q) && proto != bpf_htons(SL_ETH_P_8021AD))
			break;
		if ((void *)(tag + 2) > data_end)
			return -1;
		proto = tag[1];
		off += 4;
		p->vlans++;
	}
	p->l3_off = off;
	if (proto == bpf_htons(ETH_P_IP))
		return sl_parse_ipv4(data, data_end, off, p);
	if (proto == bpf_htons(ETH_P_IPV6))
		return sl_parse_ipv6(data, data_end, off, p);
	return -1;
}

/*
 * Parse the IP and L4 headers quoted in an ICMP error, at p->inner_off, into
 * @q (addresses and ports as the quoted packet carried them). The quote has
 * at least 8 bytes of L4 header, enough for the ports. Returns 0 or -1.
 */
SL_INLINE int sl_parse_quoted(void *data, void *data_end, const struct sl_pkt *p,
			      struct sl_flow *q, __u32 *q_l4_off)
{
	__u32 off = p->inner_off & SL_OFF_MASK;
	__be16 *ports;

	if (p->flow.family == SL_AF_INET) {
		struct iphdr *iph = data + off;

		if ((void *)(iph + 1) > data_end || iph->version != 4 || iph->ihl < 5)
			return -1;
		q->family = SL_AF_INET;
		q->proto = iph->protocol;
		q->src[0] = iph->saddr;
		q->dst[0] = iph->daddr;
		off += iph->ihl * 4;
	} else {
		struct ipv6hdr *ip6 = data + off;

		if ((void *)(ip6 + 1) > data_end || ip6->version != 6)
			return -1;
		q->family = SL_AF_INET6;
		q->proto = ip6->nexthdr;
		__builtin_memcpy(q->src, &ip6->saddr, 16);
		__builtin_memcpy(q->dst, &ip6->daddr, 16);
		off += sizeof(*ip6);
	}
	if (q->proto != IPPROTO_TCP && q->proto != IPPROTO_UDP)
		return -1;
	ports = data + (off & SL_OFF_MASK);
	if ((void *)(ports + 2) > data_end)
		return -1;
	q->sport = ports[0];
	q->dport = ports[1];
	*q_l4_off = off;
	return 0;
}

#endif
