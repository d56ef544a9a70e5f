/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Building a VIP's backend group (struct sl_group) from its backends. */
#ifndef SLUICE_GROUP_H
#define SLUICE_GROUP_H

#include "sluice/abi.h"

struct sl_group_member {
	__u32 id;     /* backend id (index in sl_backends) */
	__u32 weight; /* >= 1 */
};

/*
 * Fill @g from @n members: ids, cumulative weights and the smooth-wrr
 * schedule. Weights are divided by their gcd; when their sum still exceeds
 * SL_SCHED_MAX the schedule uses weights scaled down to fit (each >= 1), so
 * wrr ratios are exact up to that size and approximate beyond it.
 * Returns 0, or -EINVAL (n > SL_GROUP_MAX, a weight of 0, a sum over 2^32-1);
 * @g is untouched on failure.
 */
int sl_group_build(struct sl_group *g, const struct sl_group_member *m, __u32 n);

#endif
