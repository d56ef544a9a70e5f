/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The ABI between the XDP data plane and user space: map keys and values,
 * enums and constants. Compiled by both clang -target bpf and the host cc;
 * the _Static_asserts at the bottom make a layout mismatch a build error.
 *
 * Conventions: addresses are always 16 bytes (__be32 addr[4]); an IPv4
 * address sits in addr[0] with addr[1..3] zero. Ports are network order.
 */
#ifndef SLUICE_ABI_H
#define SLUICE_ABI_H

#include <linux/types.h>

/* Address families as stored in maps (not AF_*, which BPF does not have). */
enum sl_family {
	SL_AF_INET = 4,
	SL_AF_INET6 = 6,
};

enum sl_strategy {
	SL_STRAT_RR = 0,	/* round-robin over eligible backends */
	SL_STRAT_WRR = 1,	/* smooth weighted round-robin (schedule in sl_groups) */
	SL_STRAT_RANDOM = 2,	/* weighted random */
	SL_STRAT_LEASTCONN = 3, /* fewest active flows per unit of weight */
	SL_STRAT_MAGLEV = 4,	/* weighted Maglev consistent hashing */
	SL_STRAT__MAX,
};

enum sl_fwd_mode {
	SL_FWD_NAT = 0,	 /* destination NAT; replies come back through us */
	SL_FWD_DSR = 1,	 /* L2 direct server return: MAC rewrite only */
	SL_FWD_IPIP = 2, /* IPv4-in-IPv4 / IPv6-in-IPv6 encapsulation */
	SL_FWD__MAX,
};

/* struct sl_vip.flags */
enum sl_vip_flags {
	SL_VIP_L7 = 1 << 0,	   /* pass to the local stack (after rate limiting) */
	SL_VIP_RL_PREFIX = 1 << 1, /* rate-limit key is the /24 (v4) or /64 (v6) */
};

/* struct sl_backend.flags */
enum sl_backend_flags {
	SL_BE_DOWN = 1 << 0,	/* failed health checks */
	SL_BE_OPEN = 1 << 1,	/* circuit breaker open */
	SL_BE_DRAIN = 1 << 2,	/* draining: existing flows stay, no new ones */
	SL_BE_REMOVED = 1 << 3, /* slot no longer in use */
};
/* Flags that forbid new flows, and flags that move existing flows away. */
#define SL_BE_NO_NEW (SL_BE_DOWN | SL_BE_OPEN | SL_BE_DRAIN | SL_BE_REMOVED)
#define SL_BE_MOVE (SL_BE_DOWN | SL_BE_REMOVED)

/* Why a packet was dropped: one per-CPU counter each in sl_drops. */
enum sl_drop_reason {
	SL_DROP_NONE = 0,	  /* unused: index 0 stays zero */
	SL_DROP_FRAGMENT = 1,	  /* IP fragment addressed to a VIP address */
	SL_DROP_RL_CONN = 2,	  /* client over its new-connection rate */
	SL_DROP_RL_PKT = 3,	  /* client over its packet rate */
	SL_DROP_NO_BACKEND = 4,	  /* VIP has no eligible backend */
	SL_DROP_NO_GROUP = 5,	  /* VIP has no backend group/table (agent bug) */
	SL_DROP_CT_INSERT = 6,	  /* connection table insert failed */
	SL_DROP_ENCAP = 7,	  /* could not grow the packet for IPIP */
	SL_DROP_FAMILY = 8,	  /* backend family differs from the packet's */
	SL_DROP_RL_CONTENDED = 9, /* token bucket update lost its race too often */
	SL_DROP_DECAP = 10,	  /* decap: could not shrink the packet */
	SL_DROP__MAX,
};

/* Non-drop events counted per CPU in sl_counters. */
enum sl_counter {
	SL_C_PASS_NOT_VIP = 0, /* not addressed to a VIP: passed untouched */
	SL_C_PASS_UNPARSED,    /* headers not understood: passed untouched */
	SL_C_PASS_L7,	       /* L7 VIP traffic handed to the local stack */
	SL_C_PASS_FIB,	       /* rewritten, but no neighbour: kernel forwards */
	SL_C_TX,	       /* XDP_TX (same interface) */
	SL_C_REDIRECT,	       /* redirected to another interface */
	SL_C_CT_NEW,	       /* connection table entries created */
	SL_C_CT_RESELECT,      /* flows moved because their backend left */
	SL_C_CT_CLOSED,	       /* flows ended by FIN/RST */
	SL_C_CT_EXPIRED,       /* flows ended by idle timeout */
	SL_C_NAT_REPLY,	       /* NAT replies rewritten back to the VIP */
	SL_C_ICMP_FWD,	       /* ICMP errors sent to the quoted flow's backend */
	SL_C_ICMP_NO_FLOW,     /* ICMP error for a VIP with no matching flow */
	SL_C_RL_NEW_BUCKET,    /* client token buckets created */
	SL_C_RL_EVICT,	       /* buckets created while the bucket map was full */
	SL_C_EVENT_LOST,       /* ring buffer full: event not delivered */
	SL_C_DECAP,	       /* decap program: tunnels stripped */
	SL_C__MAX,
};

enum sl_event_type {
	SL_EV_NEW_FLOW = 1, /* sampled: a new flow got a backend */
	SL_EV_RL_DROP = 2,  /* sampled: a packet dropped by a token bucket */
};

enum sl_ct_state {
	SL_CT_ACTIVE = 1, /* counted in sl_be_active */
	SL_CT_CLOSED = 2, /* FIN/RST seen or expired; no longer counted */
};

/* Sizes. Map sizes below are defaults; the loader may change max_entries. */
#define SL_GROUP_MAX 256	  /* backends per VIP */
#define SL_SCHED_MAX 4096	  /* slots in a VIP's wrr schedule */
#define SL_MAGLEV_SIZE 65537	  /* Maglev table size (prime) */
#define SL_MAX_VIPS 256		  /* default sl_vips / per-VIP arrays size */
#define SL_MAX_BACKENDS 4096	  /* default sl_backends size */
#define SL_CONNS_DEFAULT 262144	  /* default connection table size */
#define SL_BUCKETS_DEFAULT 65536  /* default token-bucket map size */
#define SL_NS_PER_SEC 1000000000ULL
#define SL_BE_NONE 0xffffffffu	  /* empty Maglev slot / no backend */

/* sl_vips key. */
struct sl_vip_key {
	__be32 addr[4]; /* VIP address, network order */
	__be16 port;	/* VIP port, network order */
	__u8 proto;	/* IPPROTO_TCP or IPPROTO_UDP */
	__u8 family;	/* enum sl_family */
};

/* sl_vips value. */
struct sl_vip {
	__u32 id;	  /* index into per-VIP maps, < max VIPs */
	__u8 strategy;	  /* enum sl_strategy */
	__u8 fwd;	  /* enum sl_fwd_mode */
	__u8 flags;	  /* enum sl_vip_flags */
	__u8 pad;
	__u32 conn_rate;  /* new flows per second per client key; 0 = no limit */
	__u32 conn_burst; /* new flows admitted at once per client key */
	__u32 pkt_rate;	  /* packets per second per client key; 0 = no limit */
	__u32 pkt_burst;  /* packets admitted at once per client key */
};

/* sl_vip_addrs key: every address that has at least one VIP (fragments). */
struct sl_addr_key {
	__be32 addr[4]; /* network order */
	__u8 family;	/* enum sl_family */
	__u8 pad[3];
};

/* sl_backends value, indexed by backend id. */
struct sl_backend {
	__be32 addr[4]; /* backend address, network order */
	__be16 port;	/* backend port, network order; 0 = the VIP's port */
	__u8 family;	/* enum sl_family; must equal the VIP's */
	__u8 flags;	/* enum sl_backend_flags */
	__u32 weight;	/* relative weight, >= 1 while in a group */
	__u32 gen;	/* bumped when the slot is reused; flows check it */
	__u32 vip_id;	/* owning VIP */
};

/* sl_groups value, keyed by VIP id: the eligible backends of one VIP. */
struct sl_group {
	__u32 count;		   /* valid entries in ids[] and cum[] */
	__u32 sched_len;	   /* valid entries in sched[] */
	__u32 total_weight;	   /* sum of weights == cum[count - 1] */
	__u32 pad;
	__u32 ids[SL_GROUP_MAX];   /* backend ids */
	__u32 cum[SL_GROUP_MAX];   /* cumulative weights, for weighted random */
	__u16 sched[SL_SCHED_MAX]; /* smooth-wrr order, as indexes into ids[] */
};

/* sl_vip_pos value, indexed by VIP id: shared round-robin position. */
struct sl_vip_pos {
	__u64 next; /* atomically incremented per new rr/wrr flow */
};

/* sl_conns key (and sl_nat_rev key): a flow 5-tuple as seen on the wire. */
struct sl_flow {
	__be32 src[4]; /* source address, network order */
	__be32 dst[4]; /* destination address, network order */
	__be16 sport;  /* network order; ICMP: 0 */
	__be16 dport;  /* network order; ICMP: 0 */
	__u8 proto;    /* IPPROTO_* */
	__u8 family;   /* enum sl_family */
	__u16 pad;
};

/* sl_conns value. */
struct sl_conn {
	__u64 last_ns;	 /* coarse monotonic ns of the last packet */
	__u64 closed_ns; /* monotonic ns when FIN/RST was seen, 0 if open */
	__u32 be_id;	 /* chosen backend */
	__u32 be_gen;	 /* sl_backend.gen when chosen */
	__u32 vip_id;	 /* VIP the flow belongs to */
	__u32 state;	 /* enum sl_ct_state; changed only by cmpxchg */
};

/* sl_nat_rev value, keyed by the reply tuple (backend -> client). */
struct sl_nat_rev {
	__be32 vip[4];	/* VIP address to restore as source */
	__be16 vport;	/* VIP port to restore as source port */
	__u16 pad;
	__u32 vip_id;	/* for stats */
	__u32 be_id;	/* for stats */
	__u64 last_ns;	/* coarse monotonic ns of the last reply */
};

/* sl_buckets key: one client (or client prefix) on one VIP. */
struct sl_bucket_key {
	__be32 addr[4]; /* client address or prefix, network order */
	__u32 vip_id;
	__u8 family;	/* enum sl_family */
	__u8 pad[3];
};

/*
 * sl_buckets value. Token buckets in their virtual-time form (GCRA): one
 * 64-bit word each, updated with cmpxchg, so no lock is needed. See
 * sl_tb_take() in select.h.
 */
struct sl_bucket {
	__u64 conn_tat; /* new-flow bucket: theoretical arrival time, ns */
	__u64 pkt_tat;	/* packet bucket: theoretical arrival time, ns */
};

/* sl_cfg value (array of one): runtime settings written by the agent. */
struct sl_cfg {
	__u32 nat_vips;	     /* number of NAT VIPs; 0 skips the reply lookup */
	__be32 ipip_src4;    /* IPv4 outer source base (network order) */
	__u32 ipip_src4_len; /* prefix length of ipip_src4; low bits from flow hash */
	__u32 ipip_src6_len; /* prefix length of ipip_src6 (>= 96) */
	__be32 ipip_src6[4]; /* IPv6 outer source base (network order) */
};

/* sl_vip_stats value (per CPU), indexed by VIP id. */
struct sl_vip_stats {
	__u64 packets;	 /* packets to the VIP (and NAT replies from it) */
	__u64 bytes;	 /* their bytes, as received */
	__u64 new_flows; /* flows that got a backend */
	__u64 drops;	 /* packets dropped, any reason */
};

/* sl_be_stats value (per CPU), indexed by backend id. */
struct sl_be_stats {
	__u64 packets;	 /* packets forwarded to the backend */
	__u64 bytes;	 /* their bytes, as received */
	__u64 new_flows; /* flows assigned to the backend */
	__u64 replies;	 /* NAT replies from the backend */
};

/* sl_be_active value (shared, atomic), indexed by backend id. */
struct sl_be_active {
	__s64 flows; /* open flows; leastconn reads it */
};

/* Ring buffer record in sl_events. */
struct sl_event {
	__u64 ts_ns;	/* monotonic ns */
	__u32 type;	/* enum sl_event_type */
	__u32 vip_id;
	__u32 be_id;	/* SL_EV_NEW_FLOW only */
	__u8 family;	/* enum sl_family */
	__u8 proto;	/* IPPROTO_* */
	__be16 sport;	/* client port, network order */
	__be32 src[4];	/* client address, network order */
};

/*
 * sl_l7_pick: the L7 proxy's upstream choice, run by sluiced with
 * BPF_PROG_TEST_RUN on this record as the packet, so L7 and L4 traffic of a
 * VIP share one selection code path and one map state (weights, flags, the
 * round-robin position, active counts).
 */
enum sl_l7_op {
	SL_L7_PICK = 1,	   /* choose a backend and count one active flow on it */
	SL_L7_RELEASE = 2, /* an upstream connection ended: active count - 1 */
};

struct sl_l7_pick {
	struct sl_vip_key vip; /* in: the VIP */
	__u32 op;	       /* in: enum sl_l7_op */
	__u32 hash;	       /* in: flow hash (Maglev; random for the others) */
	__u32 be_id;	       /* in (RELEASE) / out (PICK): backend id */
	__s32 result;	       /* out: 0, or -enum sl_drop_reason */
	__u32 be_gen;	       /* out (PICK): the backend's gen */
	__u32 pad;
};

/* Decap program: sl_decap_dst key is struct sl_addr_key, value __u32 (unused). */

_Static_assert(sizeof(struct sl_vip_key) == 20, "sl_vip_key size");
_Static_assert(sizeof(struct sl_vip) == 24, "sl_vip size");
_Static_assert(sizeof(struct sl_addr_key) == 20, "sl_addr_key size");
_Static_assert(sizeof(struct sl_backend) == 32, "sl_backend size");
_Static_assert(sizeof(struct sl_group) == 16 + 8 * SL_GROUP_MAX + 2 * SL_SCHED_MAX,
	       "sl_group size");
_Static_assert(sizeof(struct sl_vip_pos) == 8, "sl_vip_pos size");
_Static_assert(sizeof(struct sl_flow) == 40, "sl_flow size");
_Static_assert(sizeof(struct sl_conn) == 32, "sl_conn size");
_Static_assert(sizeof(struct sl_nat_rev) == 40, "sl_nat_rev size");
_Static_assert(sizeof(struct sl_bucket_key) == 24, "sl_bucket_key size");
_Static_assert(sizeof(struct sl_bucket) == 16, "sl_bucket size");
_Static_assert(sizeof(struct sl_cfg) == 32, "sl_cfg size");
_Static_assert(sizeof(struct sl_vip_stats) == 32, "sl_vip_stats size");
_Static_assert(sizeof(struct sl_be_stats) == 32, "sl_be_stats size");
_Static_assert(sizeof(struct sl_be_active) == 8, "sl_be_active size");
_Static_assert(sizeof(struct sl_event) == 40, "sl_event size");
_Static_assert(sizeof(struct sl_l7_pick) == 44, "sl_l7_pick size");

#endif /* SLUICE_ABI_H */
