/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The data plane's maps. Sizes here are defaults: the loader sets
 * max_entries between open and load. Names stay within 15 characters.
 */
#ifndef SL_BPF_MAPS_H
#define SL_BPF_MAPS_H

#include "lib/common.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_MAX_VIPS);
	__type(key, struct sl_vip_key);
	__type(value, struct sl_vip);
} sl_vips SEC(".maps");

/* Every address that has a VIP, with a count of VIPs on it (fragments, ICMP). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_MAX_VIPS);
	__type(key, struct sl_addr_key);
	__type(value, __u32);
} sl_vip_addrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct sl_backend);
} sl_backends SEC(".maps");

/* Per-VIP backend groups. A hash map, so that replacing a whole group is
 * atomic for readers (an array element would be copied in place). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct sl_group);
} sl_groups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct sl_vip_pos);
} sl_vip_pos SEC(".maps");

/* Maglev tables: one inner array per VIP, swapped whole by the agent. */
struct sl_mg_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_MAGLEV_SIZE);
	__type(key, __u32);
	__type(value, __u32);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, SL_MAX_VIPS);
	__type(key, __u32);
	__array(values, struct sl_mg_inner);
} sl_maglev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_CONNS_DEFAULT);
	__type(key, struct sl_flow);
	__type(value, struct sl_conn);
} sl_conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_CONNS_DEFAULT);
	__type(key, struct sl_flow);
	__type(value, struct sl_nat_rev);
} sl_nat_rev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_BUCKETS_DEFAULT);
	__type(key, struct sl_bucket_key);
	__type(value, struct sl_bucket);
} sl_buckets SEC(".maps");

/* Buckets ever created (index 0); past sl_buckets' size, a new one evicts. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} sl_bucket_fill SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_cfg);
} sl_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct sl_vip_stats);
} sl_vip_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct sl_be_stats);
} sl_be_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct sl_be_active);
} sl_be_active SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_DROP__MAX);
	__type(key, __u32);
	__type(value, __u64);
} sl_drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_C__MAX);
	__type(key, __u32);
	__type(value, __u64);
} sl_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} sl_events SEC(".maps");

/* Interfaces we may redirect to (ifindex -> ifindex). */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} sl_tx_ports SEC(".maps");

/* ---- counters ---- */

SL_INLINE void sl_count(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&sl_counters, &idx);

	if (c)
		*c += 1;
}

/* Count a drop under its reason (and against the VIP, if any) and drop. */
SL_INLINE int sl_drop(__u32 reason, struct sl_vip_stats *vs)
{
	__u64 *c = bpf_map_lookup_elem(&sl_drops, &reason);

	if (c)
		*c += 1;
	if (vs)
		vs->drops += 1;
	return XDP_DROP;
}

#endif
