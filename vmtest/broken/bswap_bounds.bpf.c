// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A test-only XDP program that the 6.1 verifier rejects and 6.18 accepts:
 * vmtest's proof that a kernel-specific verifier failure fails the run
 * (`vmtest/run.sh -b`). Never part of sluice.
 *
 * The IPv4 total length is read with bpf_ntohs() and masked to 16 bits before
 * it is added to a packet pointer. clang drops the mask (a 16-bit byte swap
 * cannot set higher bits), and the 6.1 verifier forgets every bound of a
 * register after a byte swap (BPF_END), so it sees "packet pointer + unknown
 * scalar" and refuses. Newer verifiers keep the 16-bit bound. sluice's own
 * programs hide the mask behind an optimisation barrier instead
 * (sl_ntohs_bounded() in bpf/decap.bpf.c).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("xdp")
int bswap_bounds(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct iphdr *iph = data + sizeof(struct ethhdr);
	__u64 len;

	if ((void *)(iph + 1) > data_end)
		return XDP_PASS;
	len = bpf_ntohs(iph->tot_len) & 0xffff;
	/* the whole IPv4 packet must be in the frame */
	if ((void *)iph + len > data_end)
		return XDP_DROP;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
