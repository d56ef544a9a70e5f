/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Load-time tunables (rodata): set by the loader between open and load. */
#ifndef SL_BPF_TUNABLES_H
#define SL_BPF_TUNABLES_H

#include "lib/common.h"

const volatile __u64 tcp_idle_ns = 900 * SL_NS_PER_SEC; /* idle TCP flow ends */
const volatile __u64 udp_idle_ns = 60 * SL_NS_PER_SEC;	/* idle UDP flow ends */
const volatile __u64 fin_grace_ns = 10 * SL_NS_PER_SEC; /* idle after FIN/RST */
const volatile __u32 maglev_size = SL_MAGLEV_SIZE;	/* == inner map size */
const volatile __u64 rl_buckets_max = SL_BUCKETS_DEFAULT; /* == sl_buckets size */
const volatile __u32 ev_new_every = 0;	/* sample 1 in N new flows, 0 = none */
const volatile __u32 ev_rl_every = 64;	/* sample 1 in N rate-limit drops, 0 = none */

#endif
