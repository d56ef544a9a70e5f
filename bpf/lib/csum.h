/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Internet checksum helpers. Incremental updates follow RFC 1624
 * (HC' = ~(~HC + ~m + m')). All words are read as they lie in memory; the
 * ones'-complement sum does not care about byte order as long as every word
 * is read the same way.
 */
#ifndef SL_BPF_CSUM_H
#define SL_BPF_CSUM_H

#include "lib/common.h"

SL_INLINE __u32 csum_add32(__u32 acc, __u32 v)
{
	return acc + (v & 0xffff) + (v >> 16);
}

SL_INLINE __u16 csum_fold(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

/* Accumulated difference for replacing 32-bit word @from with @to. */
SL_INLINE __u32 csum_diff32(__u32 acc, __u32 from, __u32 to)
{
	return csum_add32(csum_add32(acc, ~from), to);
}

/* Accumulated difference for replacing 16-bit word @from with @to. */
SL_INLINE __u32 csum_diff16(__u32 acc, __u16 from, __u16 to)
{
	return acc + (__u16)~from + to;
}

/* Accumulated difference for replacing a 16-byte address. */
SL_INLINE __u32 csum_diff128(__u32 acc, const __u32 *from, const __u32 *to)
{
	acc = csum_diff32(acc, from[0], to[0]);
	acc = csum_diff32(acc, from[1], to[1]);
	acc = csum_diff32(acc, from[2], to[2]);
	return csum_diff32(acc, from[3], to[3]);
}

/* Apply an accumulated difference to a stored checksum. */
SL_INLINE void csum_apply(__u16 *sum, __u32 diff)
{
	*sum = ~csum_fold((__u16)~*sum + diff);
}

/* The UDP flavour: 0 means "no checksum" (IPv4), so it is left alone, and a
 * computed 0 is sent as 0xffff. */
SL_INLINE void csum_apply_udp(__u16 *sum, __u32 diff)
{
	if (!*sum)
		return;
	csum_apply(sum, diff);
	if (!*sum)
		*sum = 0xffff;
}

/* Full checksum of a 20-byte IPv4 header with no options. */
SL_INLINE __u16 csum_ipv4_hdr20(const struct iphdr *iph)
{
	const __u16 *w = (const __u16 *)iph;
	__u32 s = 0;
	int i;

	for (i = 0; i < 10; i++)
		s += w[i];
	return ~csum_fold(s);
}

#endif
