/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Building a weighted Maglev lookup table (Eisenbud et al., NSDI 2016). */
#ifndef SLUICE_MAGLEV_H
#define SLUICE_MAGLEV_H

#include "sluice/abi.h"

/* One backend as the table builder sees it. */
struct sl_mg_backend {
	__be32 addr[4]; /* names the backend, network order (IPv4 in addr[0]) */
	__be16 port;	/* names the backend, network order */
	__u8 family;	/* enum sl_family; with SL_AF_INET only addr[0] counts */
	__u8 pad;
	__u32 weight; /* relative share of the table, >= 1 */
	__u32 id;     /* value written into the table's slots */
};

/*
 * Fill table[0..size) with the ids of @n backends, each owning a share of the
 * slots proportional to its weight. A backend's place in the table follows
 * from its name (addr, port, family) only, so nodes given the same set in any
 * order build the same table, and removing one backend moves few other slots.
 * @size must be prime (SL_MAGLEV_SIZE by default) and at least @n; n == 0
 * fills every slot with SL_BE_NONE.
 * Returns 0, -EINVAL (size < 2 or not prime, n > size, a weight of 0) or
 * -ENOMEM; @table is untouched on failure.
 */
int sl_maglev_build(__u32 *table, __u32 size, const struct sl_mg_backend *b, __u32 n);

#endif
