// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The two ends of the real-traffic benchmark (tests/bench/bench_pps.sh),
 * loaded by tests/bench/pktgen.c:
 *
 *   pps_gen   the generator. pktgen runs it with BPF_PROG_RUN in live-frames
 *             mode "on" the client's veth; it returns XDP_TX, which that mode
 *             turns into a transmit out of the veth, towards the balancer.
 *             Each frame's page comes back from the run's page pool as the
 *             balancer left it (NATed, MACs rewritten), so every run writes
 *             the whole Ethernet/IPv4/UDP header again from the template
 *             pktgen put in rodata, then the flow's source address and port.
 *             (pktgen also attaches it to that veth, where nothing arrives,
 *             only to keep it in the kernel's XDP dispatcher.)
 *   pps_sink  attached to the backend's veth: counts the frames that arrive
 *             with the expected destination address and port, and the
 *             others, and drops both.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Ethernet + IPv4 + UDP headers, and 6 bytes of the (zero) payload. */
#define PPS_TMPL_WORDS 6
#define PPS_SPORT_SPAN 32768 /* source ports per source address */

/* ---- generator: set by pktgen between open and load ---- */

/* The frame's first 48 bytes, checksums included: its source address and
 * port are the first flow's; flow N adds N / 32768 to the address and
 * N % 32768 to the port. */
const volatile __u64 gen_tmpl[PPS_TMPL_WORDS];
const volatile __u64 gen_flows = 1; /* flows to cycle through; 0: a new flow per frame */

/*
 * The generator's state; pktgen reads it and sets gap_ns between
 * BPF_PROG_RUN calls (only its one thread runs pps_gen). With gap_ns (pktgen
 * --rate), a run sends a frame only once the clock has reached next_ns and
 * otherwise drops it, which puts the page straight back into the run's page
 * pool: a paced rate.
 */
struct pps_gen_state {
	__u64 sent;    /* frames sent (XDP_TX) so far; numbers the flows */
	__u64 gap_ns;  /* one frame every gap_ns; 0: as fast as it can */
	__u64 next_ns; /* when the next frame may go (bpf_ktime_get_ns) */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pps_gen_state);
} pps_gen_st SEC(".maps");

/* ---- sink ---- */

const volatile __be32 sink_daddr = 0; /* expected destination address */
const volatile __be16 sink_dport = 0; /* expected destination port */

enum pps_sink_idx {
	PPS_SINK_OK = 0,    /* expected destination */
	PPS_SINK_OTHER = 1, /* anything else */
	PPS_SINK__MAX,
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PPS_SINK__MAX);
	__type(key, __u32);
	__type(value, __u64);
} pps_sink_cnt SEC(".maps");

/* One's complement sum folded to 16 bits. */
static __always_inline __u32 pps_fold(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	return (s & 0xffff) + (s >> 16);
}

/* Checksum @sum (as stored) after adding @add to the summed data (RFC 1624). */
static __always_inline __u16 pps_csum_add(__u16 sum, __u32 add)
{
	return (__u16)~pps_fold((__u16)~sum + add);
}

/* What replacing the 32-bit word @from by @to adds to a one's complement sum. */
static __always_inline __u32 pps_diff32(__u32 from, __u32 to)
{
	return (~from & 0xffff) + (~from >> 16) + (to & 0xffff) + (to >> 16);
}

SEC("xdp")
int pps_gen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct iphdr *iph = data + sizeof(struct ethhdr);
	struct udphdr *uh = (void *)(iph + 1);
	struct pps_gen_state *st;
	__u64 *w = data, flow;
	__u32 zero = 0, add;
	__be32 nsaddr;
	__be16 nsport;
	int i;

	st = bpf_map_lookup_elem(&pps_gen_st, &zero);
	if (!st || data + PPS_TMPL_WORDS * sizeof(__u64) > data_end)
		return XDP_ABORTED;
	if (st->gap_ns) {
		__u64 now = bpf_ktime_get_ns();

		if (now < st->next_ns)
			return XDP_DROP;
		/* on schedule; after a stall (> 64 gaps behind), start afresh
		 * rather than send the backlog at once */
		if (now - st->next_ns > 64 * st->gap_ns)
			st->next_ns = now;
		st->next_ns += st->gap_ns;
	}
	flow = st->sent++;
#pragma unroll
	for (i = 0; i < PPS_TMPL_WORDS; i++)
		w[i] = gen_tmpl[i];
	if (gen_flows)
		flow %= gen_flows;
	nsaddr = bpf_htonl(bpf_ntohl(iph->saddr) + (__u32)(flow / PPS_SPORT_SPAN));
	nsport = bpf_htons(bpf_ntohs(uh->source) + (__u16)(flow % PPS_SPORT_SPAN));
	/* Both checksums from the template's, for the new source (the UDP one
	 * also covers the port); the words are summed as they sit in memory. */
	add = pps_diff32(iph->saddr, nsaddr);
	iph->check = pps_csum_add(iph->check, add);
	add += (__u16)~uh->source + (__u16)nsport;
	uh->check = pps_csum_add(uh->check, add) ?: 0xffff;
	iph->saddr = nsaddr;
	uh->source = nsport;
	return XDP_TX;
}

SEC("xdp")
int pps_sink(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);
	struct udphdr *uh = (void *)(iph + 1);
	__u32 idx = PPS_SINK_OTHER;
	__u64 *c;

	/* IPv4 without options: what the generator sends and sluice keeps. */
	if ((void *)(uh + 1) <= data_end && eth->h_proto == bpf_htons(ETH_P_IP) &&
	    iph->ihl == 5 && iph->protocol == IPPROTO_UDP && iph->daddr == sink_daddr &&
	    uh->dest == sink_dport)
		idx = PPS_SINK_OK;
	c = bpf_map_lookup_elem(&pps_sink_cnt, &idx);
	if (c)
		*c += 1;
	return XDP_DROP;
}
