// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sl_splice_verdict: moves a spliced flow's bytes from one socket to its peer
 * inside the kernel (user/proxy/splice.c owns the protocol). Attached as
 * BPF_SK_SKB_VERDICT to sl_splice_socks, with no stream parser: every skb
 * that reaches a member socket's receive path comes here whole.
 *
 * Per source socket (key: its cookie) user space writes sl_splice_peer (where
 * the bytes go) and this program counts the bytes it redirected in
 * sl_splice_cnt, so user space can tell when all of them are in the peer's
 * send queue before it forwards a FIN.
 *
 * Two sockhashes: every spliced socket is in sl_splice_dst (no programs: the
 * redirect target, it keeps the socket's psock and the skbs queued toward it),
 * and a socket whose bytes are being moved is also in sl_splice_socks (the
 * verdict is attached there). Redirected skbs wait in the destination's psock
 * queue outside TCP memory accounting, so user space bounds that queue: it
 * takes a source out of sl_splice_socks while its destination is behind (the
 * bytes then stay in the source's TCP receive queue and its window closes)
 * and puts it back when the destination has caught up. See splice.c.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* Written by user space only. */
struct sl_splice_peer {
	__u64 peer; /* socket cookie of the destination socket */
};

/* Written by this program only, under the source socket's lock. */
struct sl_splice_cnt {
	__u64 bytes; /* bytes redirected to the peer */
};

_Static_assert(sizeof(struct sl_splice_peer) == 8, "sl_splice_peer layout");
_Static_assert(sizeof(struct sl_splice_cnt) == 8, "sl_splice_cnt layout");

enum sl_splice_gstat {
	SL_SPLICE_G_BYTES = 0,	/* bytes redirected, all flows */
	SL_SPLICE_G_NOPEER = 1, /* skbs whose peer had left the map (passed to the source) */
	SL_SPLICE_G__MAX,
};

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} sl_splice_socks SEC(".maps");

/* Redirect targets: every spliced socket, for the whole flow. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} sl_splice_dst SEC(".maps");

/* BPF_F_NO_PREALLOC: replaced elements are freed after RCU, never reused under a reader. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct sl_splice_peer);
} sl_splice_peer SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct sl_splice_cnt);
} sl_splice_cnt SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_SPLICE_G__MAX);
	__type(key, __u32);
	__type(value, __u64);
} sl_splice_stat SEC(".maps");

static __always_inline void gstat_add(__u32 idx, __u64 v)
{
	__u64 *p = bpf_map_lookup_elem(&sl_splice_stat, &idx);

	if (p)
		*p += v;
}

/* libbpf 1.1 knows no "sk_skb/verdict": plain "sk_skb", attached by hand. */
SEC("sk_skb")
int sl_splice_verdict(struct __sk_buff *skb)
{
	__u64 cookie = bpf_get_socket_cookie(skb);
	struct sl_splice_peer *p;
	struct sl_splice_cnt *c;
	__u64 peer;

	p = bpf_map_lookup_elem(&sl_splice_peer, &cookie);
	if (!p)
		return SK_PASS;
	c = bpf_map_lookup_elem(&sl_splice_cnt, &cookie);
	if (!c)
		return SK_PASS;
	peer = p->peer;
	if (bpf_sk_redirect_hash(skb, &sl_splice_dst, &peer, 0) != SK_PASS) {
		/* the peer closed and left the map; user space sees the close */
		gstat_add(SL_SPLICE_G_NOPEER, 1);
		return SK_PASS;
	}
	c->bytes += skb->len;
	gstat_add(SL_SPLICE_G_BYTES, skb->len);
	return SK_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
