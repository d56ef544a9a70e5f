/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Backend selection and token buckets, written once and compiled twice: by
 * the XDP program (clang -target bpf) and by user space (the agent, the L7
 * proxy and the unit tests). Everything here is a pure function over plain
 * integers and arrays, with loops bounded by compile-time constants so the
 * verifier accepts them.
 */
#ifndef SLUICE_SELECT_H
#define SLUICE_SELECT_H

#include <linux/types.h>
#include "sluice/abi.h"

#ifndef SL_INLINE
#define SL_INLINE static inline __attribute__((always_inline))
#endif

/*
 * Bound an array index by a power-of-two mask in a way the compiler cannot
 * drop: when it can prove the index is already in range it removes a plain
 * mask, and then the BPF verifier (which cannot prove it) rejects the access.
 */
#define SL_BOUND(v, mask)                                                      \
	({                                                                     \
		__u32 _sl_v = (v);                                             \
		asm volatile("" : "+r"(_sl_v));                                \
		_sl_v & (mask);                                                \
	})

/* ---- hashing --------------------------------------------------------- */

SL_INLINE __u32 sl_rotl32(__u32 x, int r)
{
	return (x << r) | (x >> (32 - r));
}

SL_INLINE __u32 sl_hash_mix(__u32 h, __u32 k)
{
	k *= 0xcc9e2d51u;
	k = sl_rotl32(k, 15);
	k *= 0x1b873593u;
	h ^= k;
	h = sl_rotl32(h, 13);
	return h * 5 + 0xe6546b64u;
}

SL_INLINE __u32 sl_hash_final(__u32 h, __u32 len)
{
	h ^= len;
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/*
 * Hash of a flow (murmur3 over its words). Every node computes the same value
 * for the same packet, which is what lets Maglev nodes behind ECMP agree.
 */
SL_INLINE __u32 sl_hash_flow(const struct sl_flow *f, __u32 seed)
{
	__u32 h = seed;
	int i;

	for (i = 0; i < 4; i++)
		h = sl_hash_mix(h, f->src[i]);
	for (i = 0; i < 4; i++)
		h = sl_hash_mix(h, f->dst[i]);
	h = sl_hash_mix(h, ((__u32)f->sport << 16) | f->dport);
	h = sl_hash_mix(h, ((__u32)f->proto << 8) | f->family);
	return sl_hash_final(h, 40);
}

/* ---- round-robin and smooth weighted round-robin ---------------------- */

/* Position @pos of a round-robin over @n > 0 entries. */
SL_INLINE __u32 sl_rr_index(__u64 pos, __u32 n)
{
	return (__u32)(pos % n);
}

/*
 * One step of smooth weighted round-robin (the nginx algorithm): every entry
 * gains its weight, the largest current value wins and pays the total.
 * Over any window of total_weight steps entry i is chosen exactly w[i] times,
 * and the choices interleave instead of coming in bursts.
 * @cur: running state, n entries, zero to start; @w: weights (>= 1);
 * @total: sum of w. Returns the chosen index, or -1 if n is 0.
 */
SL_INLINE int sl_swrr_step(__s64 *cur, const __u32 *w, __u32 n, __u32 total)
{
	int best = -1;
	__u32 i;

	for (i = 0; i < SL_GROUP_MAX; i++) {
		if (i >= n)
			break;
		cur[i] += w[i];
		if (best < 0 || cur[i] > cur[SL_BOUND(best, SL_GROUP_MAX - 1)])
			best = (int)i;
	}
	if (best >= 0)
		cur[SL_BOUND(best, SL_GROUP_MAX - 1)] -= total;
	return best;
}

/* ---- weighted random -------------------------------------------------- */

/* Scale a uniform 32-bit random number into [0, total). */
SL_INLINE __u32 sl_random_scale(__u32 rnd, __u32 total)
{
	return (__u32)(((__u64)rnd * total) >> 32);
}

/*
 * Weighted random pick: the first index whose cumulative weight exceeds @r,
 * with @r uniform in [0, cum[n-1]). Binary search, at most 9 probes for 256
 * entries. Returns an index < n (0 if n is 0; callers check n first).
 */
SL_INLINE __u32 sl_wrandom_pick(const __u32 *cum, __u32 n, __u32 r)
{
	__u32 lo = 0, hi = n ? n - 1 : 0;
	int i;

	for (i = 0; i < 9; i++) {
		__u32 mid;

		if (lo >= hi)
			break;
		mid = SL_BOUND((lo + hi) >> 1, SL_GROUP_MAX - 1);
		if (cum[mid] > r)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* ---- least connections ------------------------------------------------ */

/*
 * True if a backend with @a_flows open flows and weight @a_w is less loaded
 * than one with @b_flows and @b_w: a_flows / a_w < b_flows / b_w, compared
 * without division.
 */
SL_INLINE int sl_lc_better(__s64 a_flows, __u32 a_w, __s64 b_flows, __u32 b_w)
{
	return a_flows * (__s64)b_w < b_flows * (__s64)a_w;
}

/* ---- Maglev ----------------------------------------------------------- */

/* Slot of a flow hash in a Maglev table of @size entries. */
SL_INLINE __u32 sl_maglev_slot(__u32 hash, __u32 size)
{
	return hash % size;
}

/* ---- token buckets (virtual-time form) --------------------------------- */

/*
 * Nanoseconds one token takes to refill at @rate tokens per second, rounded
 * up so the bucket never admits more than rate * T over T.
 */
SL_INLINE __u64 sl_tb_interval(__u32 rate)
{
	return (SL_NS_PER_SEC + rate - 1) / rate;
}

/*
 * Take one token. A bucket of depth @burst refilled every @interval ns is
 * kept as its theoretical arrival time @tat: the instant at which it would be
 * full again (<= now means full). Refill is implicit: time moving past tat
 * is the refill. Admits iff after taking one token the debt (tat - now) is
 * at most burst * interval, so over any interval T at most
 * burst + T / interval tokens are taken.
 * Returns 1 and sets *new_tat when admitted; 0 (and leaves it) when not.
 */
SL_INLINE int sl_tb_take(__u64 tat, __u64 now, __u64 interval, __u32 burst, __u64 *new_tat)
{
	__u64 base = tat > now ? tat : now;
	__u64 next = base + interval;

	if (next - now > (__u64)burst * interval)
		return 0;
	*new_tat = next;
	return 1;
}

/* Whole tokens in a bucket at @now (for reporting; take uses sl_tb_take). */
SL_INLINE __u32 sl_tb_tokens(__u64 tat, __u64 now, __u64 interval, __u32 burst)
{
	__u64 debt, used;

	if (tat <= now)
		return burst;
	debt = tat - now;
	used = (debt + interval - 1) / interval;
	return used >= burst ? 0 : burst - (__u32)used;
}

#endif /* SLUICE_SELECT_H */
