// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Floors for the XDP per-packet cost benchmark (tests/bench/xdp_cost.c),
 * measured in the same run and the same way as the real xdp_lb object:
 *   floor_pass  returns XDP_PASS: the harness's own cost per packet;
 *   floor_tx    swaps the Ethernet addresses and returns XDP_TX: the
 *               cheapest program that sends a packet back out;
 *   floor_fib   what sl_xmit() does and nothing else: one bpf_fib_lookup()
 *               towards the packet's destination, both MACs from its answer,
 *               XDP_TX. Not a goal floor: it shows how much of sluice's cost
 *               is the next-hop lookup every forwarding program needs.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define FLOOR_AF_INET 2
#define FLOOR_AF_INET6 10

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int floor_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp")
int floor_tx(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u8 tmp[ETH_ALEN];

	if ((void *)(eth + 1) > data_end)
		return XDP_ABORTED;
	__builtin_memcpy(tmp, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, tmp, ETH_ALEN);
	return XDP_TX;
}

SEC("xdp")
int floor_fib(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct bpf_fib_lookup fib = {};
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return XDP_ABORTED;
	fib.ifindex = ctx->ingress_ifindex;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = (void *)(eth + 1);

		if ((void *)(iph + 1) > data_end)
			return XDP_ABORTED;
		fib.family = FLOOR_AF_INET;
		fib.tot_len = bpf_ntohs(iph->tot_len);
		fib.ipv4_dst = iph->daddr;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > data_end)
			return XDP_ABORTED;
		fib.family = FLOOR_AF_INET6;
		fib.tot_len = bpf_ntohs(ip6->payload_len) + sizeof(*ip6);
		__builtin_memcpy(fib.ipv6_dst, &ip6->daddr, 16);
	} else {
		return XDP_PASS;
	}
	if (bpf_fib_lookup(ctx, &fib, sizeof(fib), 0) != BPF_FIB_LKUP_RET_SUCCESS)
		return XDP_PASS;
	__builtin_memcpy(eth->h_dest, fib.dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, fib.smac, ETH_ALEN);
	return XDP_TX;
}
