/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * sluiced's handle on the kernel: the loaded xdp_lb object with its maps
 * pinned under a bpffs directory (adopted when they already exist), XDP
 * links pinned per interface, and typed accessors for every map.
 */
#ifndef SLUICED_DP_H
#define SLUICED_DP_H

#include <stddef.h>
#include "sluice/abi.h"

struct sl_dp;

/* Load the programs; reuse pinned maps under @bpffs or create and pin them.
 * Returns NULL with errno set (and a logged reason). */
struct sl_dp *sl_dp_open(const char *bpffs);
void sl_dp_close(struct sl_dp *dp);
/* True if the maps were adopted from a previous run. */
int sl_dp_adopted(const struct sl_dp *dp);

int sl_dp_vip_put(struct sl_dp *dp, const struct sl_vip_key *k, const struct sl_vip *v);
int sl_dp_vip_del(struct sl_dp *dp, const struct sl_vip_key *k);
/* Calls @fn for every VIP key in the map (for reconciling). */
void sl_dp_vip_each(struct sl_dp *dp, void (*fn)(const struct sl_vip_key *k, void *ctx), void *ctx);
int sl_dp_addr_put(struct sl_dp *dp, const struct sl_addr_key *k, __u32 count);
void sl_dp_addr_each(struct sl_dp *dp, void (*fn)(const struct sl_addr_key *k, void *ctx),
		     void *ctx);
int sl_dp_addr_del(struct sl_dp *dp, const struct sl_addr_key *k);
int sl_dp_backend_put(struct sl_dp *dp, __u32 slot, const struct sl_backend *b);
int sl_dp_backend_get(struct sl_dp *dp, __u32 slot, struct sl_backend *b);
int sl_dp_group_put(struct sl_dp *dp, __u32 vip_id, const struct sl_group *g);
int sl_dp_group_del(struct sl_dp *dp, __u32 vip_id);
/* Build a fresh inner table from @table and swap it in whole. */
int sl_dp_maglev_put(struct sl_dp *dp, __u32 vip_id, const __u32 *table);
int sl_dp_maglev_del(struct sl_dp *dp, __u32 vip_id);
int sl_dp_cfg_put(struct sl_dp *dp, const struct sl_cfg *cfg);

/* Attach to an interface (mode 0 native, 1 generic) through a pinned link;
 * an existing pinned link is adopted and moved to the newly loaded program.
 * On failure writes a one-line reason into @err. */
int sl_dp_attach(struct sl_dp *dp, const char *ifname, int generic, char *err, size_t errlen);
int sl_dp_detach(struct sl_dp *dp, const char *ifname);
int sl_dp_attached(struct sl_dp *dp, const char *ifname);

__s64 sl_dp_active(struct sl_dp *dp, __u32 slot);
void sl_dp_vip_stats(struct sl_dp *dp, __u32 vip_id, struct sl_vip_stats *out);
void sl_dp_be_stats(struct sl_dp *dp, __u32 slot, struct sl_be_stats *out);
__u64 sl_dp_drop(struct sl_dp *dp, __u32 reason);
__u64 sl_dp_counter(struct sl_dp *dp, __u32 idx);
/* Zero a backend slot's per-CPU stats (the slot got a new backend). */
void sl_dp_be_stats_reset(struct sl_dp *dp, __u32 slot);
/* Epoll-able fd of the event ring buffer, and draining it (counts by type). */
int sl_dp_events_fd(struct sl_dp *dp);
void sl_dp_events_drain(struct sl_dp *dp);
/* Each sampled event drained is also given to @fn (the event stream). */
void sl_dp_on_event(struct sl_dp *dp, void (*fn)(void *ctx, const struct sl_event *e), void *ctx);
/* 1 in how many rate-limit drops is sampled into the ring buffer. */
__u32 sl_dp_rl_sample_every(const struct sl_dp *dp);
/* Fill levels of the data plane's hash maps (entries counted by batch
 * lookups: ~1 ms per 10,000 entries; -1 when the kernel cannot tell). */
struct sl_map_usage {
	const char *name;
	long long entries, capacity;
};
int sl_dp_map_usage(struct sl_dp *dp, struct sl_map_usage *out, int max);
/* Run the sweeper once: idle flows release their backends. */
int sl_dp_sweep(struct sl_dp *dp);
/*
 * The L7 proxy's upstream choice, by the data plane's own selection code
 * (sl_l7_pick): 0 with the backend id and gen (counted as one active flow), or
 * -enum sl_drop_reason (SL_DROP_NO_BACKEND: none eligible), or -errno.
 * Thread-safe. Every successful pick is paired with one release.
 */
int sl_dp_l7_pick(struct sl_dp *dp, const struct sl_vip_key *vip, __u32 hash, __u32 *be_id,
		  __u32 *be_gen);
int sl_dp_l7_release(struct sl_dp *dp, __u32 be_id, __u32 be_gen);

#endif
