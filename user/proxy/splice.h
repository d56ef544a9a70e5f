/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Sockmap splice: once the proxy has authorized a flow that needs no further
 * inspection (a 101 upgrade, a CONNECT tunnel, a route with "splice":
 * "after-auth"), both sockets go into a SOCKHASH and an sk_skb verdict program
 * (bpf/sockmap.bpf.c) moves each side's bytes to the other in the kernel;
 * sluiced no longer copies them. Half-close, close and errors on either side
 * reach the other side as FIN or RST, as through a plain proxy.
 *
 * Memory: bytes the kernel redirected but the destination has not yet taken
 * into its TCP send queue wait in kernel memory that TCP does not account.
 * Per direction that backlog is kept near SL_SPLICE_BACKLOG_CAP: above it the
 * direction pauses (its source leaves the verdict map, so new bytes stay in
 * the source's TCP receive queue and its window closes on the sender) until
 * the destination has taken every redirected byte. The cap is checked when
 * sl_splice_poll() runs, so the peak is the cap plus what the sender gets in
 * between two polls (sl_splice_flow_backlog() reports the sampled peak).
 *
 * Not thread-safe per flow: one flow belongs to one proxy worker. The shared
 * maps are safe for concurrent workers.
 */
#ifndef SLUICE_PROXY_SPLICE_H
#define SLUICE_PROXY_SPLICE_H

#include <stdint.h>

struct sl_splice;
struct sl_splice_flow;

/*
 * Load the sockmap programs (not pinned: spliced flows end with the agent's
 * sockets anyway). Only the byte counter map is pinned, as @pin_dir/
 * sl_splice_stat, when @pin_dir is given, so the counts survive a restart.
 * Returns NULL with the reason in @err when the kernel lacks
 * what splice needs; the proxy then copies in user space and says so once.
 */
struct sl_splice *sl_splice_open(const char *pin_dir, char *err, size_t errlen);
void sl_splice_close(struct sl_splice *s);

/*
 * Hand two connected, non-blocking TCP sockets to the kernel. The caller has
 * already written out every byte it had buffered for either side. Bytes that
 * reach a socket's receive queue before or while it is inserted are not lost.
 * Returns NULL with errno set if the kernel refused; the sockets are then
 * untouched and the caller keeps copying.
 */
struct sl_splice_flow *sl_splice_start(struct sl_splice *s, int fd_a, int fd_b);

/*
 * The caller's epoll reported @events on @fd (fd_a or fd_b; the caller keeps
 * both registered for EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP, and must not
 * read or write them itself). Returns 1 when the flow is over in both
 * directions (the caller then calls sl_splice_end() and closes both fds), 0
 * otherwise.
 */
int sl_splice_event(struct sl_splice_flow *f, int fd, uint32_t events);

/*
 * Pending work that needs time (a FIN waiting for redirected bytes to drain):
 * call sl_splice_poll() again in the returned number of milliseconds; -1 means
 * nothing is pending. Returns 1 when the flow is over, like sl_splice_event().
 */
int sl_splice_poll(struct sl_splice_flow *f, int *next_ms);

/* Remove the sockets from the map and free the flow; fds are not closed. */
void sl_splice_end(struct sl_splice_flow *f);

/* Bytes the kernel moved for this flow, each direction. */
void sl_splice_flow_bytes(const struct sl_splice_flow *f, uint64_t *a_to_b, uint64_t *b_to_a);

/* Redirected-but-not-yet-sent bytes above which a direction pauses. */
#define SL_SPLICE_BACKLOG_CAP (4u << 20)

/* Largest backlog (bytes, see SL_SPLICE_BACKLOG_CAP) sampled so far, each direction. */
void sl_splice_flow_backlog(const struct sl_splice_flow *f, uint64_t *peak_a_to_b,
			    uint64_t *peak_b_to_a);

struct sl_splice_stats {
	uint64_t flows;	 /* flows started */
	uint64_t active; /* flows not yet ended */
	uint64_t bytes;	 /* bytes moved by the kernel, both directions, all flows */
	/* added with the implementation: */
	uint64_t kernel_bytes; /* of bytes, those the verdict redirected (the rest were
				* copied by splice.c while starting a flow) */
	uint64_t pauses; /* times a direction paused at SL_SPLICE_BACKLOG_CAP */
	uint64_t broken; /* flows reset because the bytes the source received and
			  * the bytes moved differ at its FIN (see splice.c) */
};
void sl_splice_get_stats(struct sl_splice *s, struct sl_splice_stats *out);
/* Count flows, user-space bytes, pauses and broken flows into @cells
 * (SL_SPLICE_CELLS; NULL: the object's own). Call before the first flow. */
#define SL_SPLICE_CELLS 4
void sl_splice_bind_counters(struct sl_splice *s, uint64_t *cells);

#endif
