// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * fwd_floor: the floor of the real-traffic benchmark (tests/bench/bench_pps.sh).
 * The least a program can do to forward a frame from the client's veth to
 * the backend's: write both MAC addresses and redirect it through a devmap
 * (as sluice does, through sl_tx_ports) to one fixed interface. No parsing,
 * no lookup, no rewrite of the IP packet. pktgen sets the addresses and the
 * egress between open and load, and puts the egress into fl_tx_ports.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Destination then source MAC, as they go on the wire (12 bytes). */
const volatile __u32 fl_macs[3];
const volatile __u32 fl_egress = 0; /* egress ifindex: the key in fl_tx_ports */

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} fl_tx_ports SEC(".maps");

SEC("xdp")
int fwd_floor(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	__u32 *w = data;

	if (data + sizeof(struct ethhdr) > data_end)
		return XDP_PASS;
	w[0] = fl_macs[0];
	w[1] = fl_macs[1];
	w[2] = fl_macs[2];
	return bpf_redirect_map(&fl_tx_ports, fl_egress, XDP_PASS);
}
