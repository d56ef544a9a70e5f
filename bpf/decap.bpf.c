// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sl_decap: the IPIP decapsulation program sluice ships for backends whose
 * kernel has no IPIP module. It strips the outer header of IPv4-in-IPv4 and
 * IPv6-in-IPv6 packets addressed to one of the addresses in sl_decap_dst and
 * hands the inner packet, byte for byte, to the local stack behind the
 * original Ethernet/VLAN header. Everything else goes to the stack untouched.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "sluice/abi.h"

/* Not in the UAPI headers allowed here (linux/in.h, linux/if_vlan.h). */
#define SL_IPPROTO_IPIP 4
#define SL_IPPROTO_IPV6 41
#define SL_IP_MF 0x2000
#define SL_IP_OFFSET 0x1fff

struct sl_vlan_hdr {
	__be16 tci;
	__be16 proto; /* EtherType of what follows */
};

/* The longest Ethernet header we move: two VLAN tags. Read as 16-bit words. */
#define SL_L2_MAX (sizeof(struct ethhdr) + 2 * sizeof(struct sl_vlan_hdr))
#define SL_L2_WORDS (SL_L2_MAX / 2)

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct sl_addr_key);
	__type(value, __u32);
} sl_decap_dst SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_C__MAX);
	__type(key, __u32);
	__type(value, __u64);
} sl_dcounters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_DROP__MAX);
	__type(key, __u32);
	__type(value, __u64);
} sl_ddrops SEC(".maps");

/*
 * A 16-bit field in host order that the verifier knows is below 65536. The
 * 6.1 verifier forgets all bounds after a byte swap, and clang drops a plain
 * "& 0xffff" after bswap16 as redundant; the empty asm hides the value from
 * clang so the mask is emitted and the verifier sees it.
 */
static __always_inline __u32 sl_ntohs_bounded(__be16 v)
{
	__u32 h = bpf_ntohs(v);

	asm volatile("" : "+r"(h));
	return h & 0xffff;
}

static __always_inline void sl_count(void *map, __u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(map, &idx);

	if (v)
		*v += 1; /* per-CPU slot: no other writer */
}

/*
 * Length of the outer header to strip when this is a tunnel packet for one of
 * our addresses, else 0. Every read is bounds-checked first; a malformed,
 * fragmented or foreign packet yields 0 and is passed untouched.
 */
static __always_inline __u32 sl_outer_len(void *data, void *data_end, __u32 l2_len, __be16 proto)
{
	struct sl_addr_key key = {};
	void *l3 = data + l2_len;
	__u8 *inner;

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = l3;
		__u32 hlen, tot;

		if ((void *)(iph + 1) > data_end)
			return 0;
		if (iph->version != 4 || iph->ihl < 5 || iph->protocol != SL_IPPROTO_IPIP)
			return 0;
		/* A fragment holds only part of the inner packet: the stack reassembles. */
		if (iph->frag_off & bpf_htons(SL_IP_MF | SL_IP_OFFSET))
			return 0;
		hlen = iph->ihl * 4;
		tot = sl_ntohs_bounded(iph->tot_len);
		/* The datagram must hold the outer header and an inner IPv4 header, and
		 * must not claim more bytes than the frame has (truncated frames). */
		if (tot < hlen + sizeof(struct iphdr) || l3 + tot > data_end)
			return 0;
		inner = l3 + hlen;
		if ((void *)(inner + sizeof(struct iphdr)) > data_end)
			return 0;
		if (inner[0] >> 4 != 4)
			return 0;
		key.family = SL_AF_INET;
		key.addr[0] = iph->daddr;
		if (!bpf_map_lookup_elem(&sl_decap_dst, &key))
			return 0;
		return hlen;
	}
	if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6h = l3;
		__u32 plen;

		if ((void *)(ip6h + 1) > data_end)
			return 0;
		/* Outer extension headers are not needed by our encapsulator: pass them. */
		if (ip6h->version != 6 || ip6h->nexthdr != SL_IPPROTO_IPV6)
			return 0;
		plen = sl_ntohs_bounded(ip6h->payload_len);
		if (plen < sizeof(struct ipv6hdr) || (void *)(ip6h + 1) + plen > data_end)
			return 0;
		inner = (__u8 *)(ip6h + 1);
		if ((void *)(inner + sizeof(struct ipv6hdr)) > data_end)
			return 0;
		if (inner[0] >> 4 != 6)
			return 0;
		key.family = SL_AF_INET6;
		__builtin_memcpy(key.addr, &ip6h->daddr, sizeof(key.addr));
		if (!bpf_map_lookup_elem(&sl_decap_dst, &key))
			return 0;
		return sizeof(struct ipv6hdr);
	}
	return 0;
}

SEC("xdp")
int sl_decap(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;
	__u16 l2[SL_L2_WORDS];
	__u32 l2_len, hlen, i;
	__u16 *w;
	__be16 proto;

	/* Every tunnel packet is longer than SL_L2_MAX, so shorter frames are not ours;
	 * checking once lets the header copy below use constant offsets. */
	if (data + SL_L2_MAX > data_end)
		return XDP_PASS;
	proto = eth->h_proto;
	l2_len = sizeof(*eth);
	/* 802.1ad may only be the outer tag; 802.1Q either. At most two tags. */
	if (proto == bpf_htons(ETH_P_8021AD) || proto == bpf_htons(ETH_P_8021Q)) {
		struct sl_vlan_hdr *vh = data + l2_len;

		proto = vh->proto;
		l2_len += sizeof(*vh);
		if (proto == bpf_htons(ETH_P_8021Q)) {
			vh = data + l2_len;
			proto = vh->proto;
			l2_len += sizeof(*vh);
		}
	}

	hlen = sl_outer_len(data, data_end, l2_len, proto);
	if (!hlen)
		return XDP_PASS;

	/* Save the Ethernet/VLAN header, drop the outer IP header from the front,
	 * then write the saved header back just before the inner packet. */
	w = data;
#pragma unroll
	for (i = 0; i < SL_L2_WORDS; i++)
		l2[i] = w[i];
	if (bpf_xdp_adjust_head(ctx, (int)hlen)) {
		sl_count(&sl_ddrops, SL_DROP_DECAP);
		return XDP_DROP;
	}
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	/* Cannot fail: the frame still holds the L2 header and the inner IP header. */
	if (data + SL_L2_MAX > data_end) {
		sl_count(&sl_ddrops, SL_DROP_DECAP);
		return XDP_DROP;
	}
	w = data;
#pragma unroll
	for (i = 0; i < SL_L2_WORDS; i++)
		if (i * 2 < l2_len)
			w[i] = l2[i];
	sl_count(&sl_dcounters, SL_C_DECAP);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
