// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <string.h>

#include "group.h"
#include "sluice/select.h"

static __u32 gcd(__u32 a, __u32 b)
{
	while (b) {
		__u32 t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/* Scale @w (n entries, sum @sum) so that their sum fits SL_SCHED_MAX. */
static __u32 fit_schedule(__u32 *w, __u32 n, __u64 sum)
{
	__u64 total = 0;
	__u32 i;

	for (i = 0; i < n; i++) {
		__u64 s = (__u64)w[i] * (SL_SCHED_MAX - n) / sum;

		w[i] = (__u32)(s ? s : 1);
		total += w[i];
	}
	return (__u32)total; /* <= (SL_SCHED_MAX - n) + n */
}

int sl_group_build(struct sl_group *g, const struct sl_group_member *m, __u32 n)
{
	__s64 cur[SL_GROUP_MAX] = { 0 };
	__u32 w[SL_GROUP_MAX];
	__u64 sum = 0, norm = 0;
	struct sl_group tmp;
	__u32 i, d = 0;

	if (n > SL_GROUP_MAX)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (m[i].weight == 0)
			return -EINVAL;
		sum += m[i].weight;
		d = gcd(d, m[i].weight);
	}
	if (sum > 0xffffffffull)
		return -EINVAL;

	memset(&tmp, 0, sizeof(tmp));
	tmp.count = n;
	tmp.total_weight = (__u32)sum;
	for (i = 0; i < n; i++) {
		tmp.ids[i] = m[i].id;
		tmp.cum[i] = (i ? tmp.cum[i - 1] : 0) + m[i].weight;
		w[i] = m[i].weight / d;
		norm += w[i];
	}
	if (norm > SL_SCHED_MAX)
		norm = fit_schedule(w, n, norm);

	tmp.sched_len = (__u32)norm;
	for (i = 0; i < tmp.sched_len; i++)
		tmp.sched[i] = (__u16)sl_swrr_step(cur, w, n, (__u32)norm);

	memcpy(g, &tmp, sizeof(tmp));
	return 0;
}
