/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Counters that outlive sluiced: blocks of 64-bit cells in a pinned
 * BPF_F_MMAPABLE array (sl_agent_ctrs) mapped into the agent's memory, with a
 * pinned hash (sl_agent_cdir) from a block's key to where it lives. A restart
 * of sluiced (even kill -9) adopts both pins and finds every block where it
 * was, with its values: the counters keep rising. They reset only when the
 * pins go (a reboot, or someone removes them).
 *
 * Increments are relaxed atomics on the mapped cells (any thread). Blocks are
 * found or made by sl_cstore_get (thread-safe, a syscall or two; call it when
 * configuring, keep the pointer), never freed while the pins live.
 */
#ifndef SLUICE_LIB_CSTORE_H
#define SLUICE_LIB_CSTORE_H

#include <stddef.h>
#include <stdint.h>

#define SL_CSTORE_CELLS (1u << 20) /* 8 MiB of counters */
#define SL_CSTORE_KEY_MAX 128	   /* key bytes, NUL included */
#define SL_CSTORE_BLOCK_MAX 256	   /* cells in one block at most */

struct sl_cstore;

/*
 * Open (adopt) or create and pin the counter maps under @bpffs (an existing
 * directory on a bpffs). @bpffs NULL: a store in process memory only (tests).
 * *@adopted (may be NULL) tells whether the pins existed. NULL on failure,
 * with a one-line reason naming the pin and the fix in @err.
 */
struct sl_cstore *sl_cstore_open(const char *bpffs, int *adopted, char *err, size_t errlen);
void sl_cstore_close(struct sl_cstore *s);

/*
 * The block of @n cells named @key: the existing one, or a new zeroed one. A
 * block that was made smaller (an older layout) is grown, its values kept.
 * Never NULL: when the store is full (or @key too long) a process-local
 * block is returned and the miss is counted (sl_cstore_usage) and logged once.
 * The same key always gives the same pointer within a process. @n is at most
 * SL_CSTORE_BLOCK_MAX.
 */
uint64_t *sl_cstore_get(struct sl_cstore *s, const char *key, uint32_t n);

/* Cells handed out and the capacity; @lost: blocks that did not fit. */
void sl_cstore_usage(struct sl_cstore *s, uint64_t *used, uint64_t *cap, uint64_t *lost);

static inline void sl_ctr_add(uint64_t *c, uint64_t n)
{
	__atomic_fetch_add(c, n, __ATOMIC_RELAXED);
}

static inline uint64_t sl_ctr_get(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

/*
 * Latency histograms in a block: SL_HIST_BUCKETS counts (not cumulative; the
 * last is +Inf) and the sum in microseconds. Bounds in seconds.
 */
#define SL_HIST_BUCKETS 15
#define SL_HIST_CELLS (SL_HIST_BUCKETS + 1)
extern const double sl_hist_le[SL_HIST_BUCKETS - 1];
void sl_hist_observe(uint64_t *cells, uint64_t usec);

#endif
