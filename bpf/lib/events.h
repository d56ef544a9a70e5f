/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Sampled events to user space over the sl_events ring buffer. */
#ifndef SL_BPF_EVENTS_H
#define SL_BPF_EVENTS_H

#include "lib/maps.h"

/* True for one packet in @every on average (never for 0). */
SL_INLINE int sl_sample(__u32 every)
{
	if (!every)
		return 0;
	return every == 1 || bpf_get_prandom_u32() % every == 0;
}

SL_INLINE void sl_event(__u32 type, __u32 vip_id, __u32 be_id, const struct sl_flow *f)
{
	struct sl_event *e = bpf_ringbuf_reserve(&sl_events, sizeof(*e), 0);

	if (!e) {
		sl_count(SL_C_EVENT_LOST);
		return;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->type = type;
	e->vip_id = vip_id;
	e->be_id = be_id;
	e->family = f->family;
	e->proto = f->proto;
	e->sport = f->sport;
	__builtin_memcpy(e->src, f->src, sizeof(e->src));
	bpf_ringbuf_submit(e, 0);
}

#endif
