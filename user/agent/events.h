/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The event stream: one ordered journal of envelopes, one JSON line each,
 *   {"offset":N,"ts":"RFC 3339 with ns","type":"health.down","vip":"web",
 *    "backend":"198.18.1.2:8080","data":{...}}
 * ("vip"/"backend" are left out when not given, "data" is {} when NULL),
 * kept in size-rotated segment files DIR/events-<first offset, 20 digits>.jsonl,
 * replayable from any kept offset and followed live by any number of clients.
 *
 * Threads: everything here runs on one thread (sluiced's main loop). Proxy
 * threads hand their events to the main loop; they never call in directly.
 *
 * Offsets and durability. Offsets start at 1 and grow by one per event.
 *  - An offset is published (returned by append, sent to a follower, seen by a
 *    reader) only after the record's single write() to the segment returned in
 *    full. A record is one write(), so after a process crash (kill -9 included)
 *    the file holds every published record: the page cache outlives the
 *    process. A record cut short (a write() interrupted mid-way) was never
 *    published, so on open it is cut off and its offset is the next one handed
 *    out: no gap, and no offset anyone has seen is reused.
 *  - Events are not fsync'd one by one (they can come thousands a second).
 *    An OS crash or power loss can therefore lose the unsynced tail, including
 *    records that followers saw. So that such an offset is still never reused
 *    for a different event, DIR/events.reserve durably holds a ceiling: the
 *    boot id and an offset no event has reached yet, raised (write + fdatasync)
 *    in steps of opts.reserve_step offsets before one is handed out. On open,
 *    a different boot id means the page cache may have been lost: numbering
 *    goes on from the ceiling (a gap, reported by sl_events_skipped(), never a
 *    duplicate). A clean close writes the exact next offset, so an orderly
 *    stop and reboot leaves no gap either. The same boot continues at the last
 *    record + 1. sl_events_sync() (e.g. once a second) bounds what a power
 *    loss can take.
 *  - Rotation: before an append would make the current segment reach
 *    opts.segment_bytes, a new segment starts; beyond opts.max_segments the
 *    oldest file is removed and the earliest offset moves up.
 *
 * Followers write JSON lines (each ending in '\n') to a non-blocking stream
 * socket that the store owns from then on. Each has a bounded buffer
 * (opts.follower_buf). A follower first replays the backlog from disk, a
 * buffer at a time, then gets live events. A live event that does not fit is
 * not queued: the unsent events are dropped, the line being written is
 * finished, and the client gets, as its last line,
 *   {"error":"too slow: cut off at offset N; reconnect with --from N","offset":N}
 * and the socket is closed. A slow follower never delays append or the other
 * followers: append only copies a line into the live followers' buffers.
 */
#ifndef SLUICED_EVENTS_H
#define SLUICED_EVENTS_H

#include <stddef.h>
#include <jansson.h>
#include <linux/types.h>

struct sl_events;

struct sl_events_opts {
	size_t segment_bytes;	  /* rotate at this size; 0: 4 MiB */
	unsigned max_segments;	  /* segments kept (>= 2); 0: 8 */
	size_t follower_buf;	  /* bytes queued per follower at most; 0: 256 KiB */
	unsigned reserve_step;	  /* offsets reserved per fdatasync of the ceiling; 0: 4096 */
	unsigned cutoff_grace_ms; /* how long a cut-off follower may take to read its
				     last line before its socket is closed; 0: 10000 */
	const char *boot_id;	  /* NULL: /proc/sys/kernel/random/boot_id (tests set it) */
};

/*
 * Open (creating) the store in @dir; @o may be NULL for the defaults.
 * Cuts a torn last record off. Returns NULL with errno set (and logs why).
 */
struct sl_events *sl_events_open(const char *dir, const struct sl_events_opts *o);
/* Write the exact next offset as the ceiling, close every follower, free. NULL is fine. */
void sl_events_close(struct sl_events *ev);

/*
 * Append one event. @type: e.g. "health.down"; @vip, @backend may be NULL;
 * @data: an object or NULL, not stolen. @now: unix time (sl_now()).
 * Returns the event's offset (>= 1) or -errno; on failure nothing was
 * published and the offset is not used.
 */
long long sl_events_append(struct sl_events *ev, const char *type, const char *vip,
			   const char *backend, json_t *data, double now);

/* The first offset still kept (== next when the store is empty), and the next one. */
long long sl_events_earliest(const struct sl_events *ev);
long long sl_events_next_offset(const struct sl_events *ev);
/* Offsets skipped at open after a reboot ([*from, *to)); 0 and no change when none. */
int sl_events_skipped(const struct sl_events *ev, long long *from, long long *to);
/* fdatasync the current segment if anything was written since the last sync. 0 or -errno. */
int sl_events_sync(struct sl_events *ev);

/*
 * Is @from a place to start reading? 0 means "the earliest kept". Returns 0,
 * or -ERANGE with @err saying why and what to use instead, e.g.
 * "offset 5 is no longer kept; the earliest is 1200 (use --from 1200)".
 */
int sl_events_check_from(const struct sl_events *ev, long long from, char *err, size_t errlen);

/*
 * Does event type @type pass @filter? NULL/"" passes everything; otherwise a
 * comma-separated list of types ("health.down") or families ("health" passes
 * "health.up" and "health.down").
 */
int sl_events_type_match(const char *filter, const char *type);

/* A replayed record: the line without its '\n'. Return nonzero to stop; do not call into the store. */
typedef int (*sl_events_cb)(void *ctx, long long offset, const char *type, const char *line,
			    size_t len);

/*
 * Replay the stored events from @from (0: earliest) up to now, those whose
 * type passes @types. Returns the count delivered, or -ERANGE when @from is
 * no longer kept or not yet reached (*earliest set to the earliest kept,
 * @earliest may be NULL), or another -errno.
 */
long long sl_events_read(struct sl_events *ev, long long from, const char *types, sl_events_cb cb,
			 void *ctx, long long *earliest);

/*
 * Follow from @from (0: earliest; sl_events_next_offset(): only new events)
 * with @types as in sl_events_type_match, writing to @fd, a connected stream
 * socket. On success @fd belongs to the store (it is made non-blocking and
 * closed when the client leaves or is cut off). On -ERANGE (see
 * sl_events_check_from, @err filled) or another -errno, @fd stays the caller's.
 */
int sl_events_follow(struct sl_events *ev, long long from, const char *types, int fd, char *err,
		     size_t errlen);

/*
 * A file descriptor for the main loop's epoll (EPOLLIN): when it is readable,
 * call sl_events_pump(). It becomes readable when followers can be written to,
 * hang up, or have new events queued by append.
 */
int sl_events_fd(const struct sl_events *ev);
/*
 * Write to followers that can take it, refill catching-up ones, close gone
 * ones. Call it also once a second: a cut-off follower whose client does not
 * read its last line is closed when opts.cutoff_grace_ms have passed. 0 or -errno.
 */
int sl_events_pump(struct sl_events *ev);

struct sl_events_stats {
	unsigned followers; /* connected now */
	__u64 cut_off;	    /* followers cut off for being too slow, so far */
	size_t held;	    /* bytes of buffer held for followers now, all together */
};
void sl_events_stats(const struct sl_events *ev, struct sl_events_stats *s);

/* ---- rate-limit drop aggregation ---- */

/*
 * Drops sampled from the data plane, counted per (VIP, client) per second
 * (whole seconds of unix time). Each key gives at most one event a second.
 * At most @max_keys distinct clients are tracked in a second; the drops of
 * any more are counted per VIP as "others" (addr NULL, family 0), so memory
 * is fixed at creation, whatever the flood.
 */
struct sl_rl_agg;

/*
 * @second: the unix second the drops fell in; @addr/@family: the client (NULL/0
 * for "others": the clients past @max_keys that second); @drops: how many.
 */
typedef void (*sl_rl_emit_cb)(void *ctx, const char *vip, const __be32 *addr, __u8 family,
			      __u64 drops, long long second);

/* Returns NULL with errno set. @max_keys: distinct clients a second (>= 1). */
struct sl_rl_agg *sl_rl_agg_new(unsigned max_keys, sl_rl_emit_cb emit, void *ctx);
void sl_rl_agg_free(struct sl_rl_agg *agg);
/*
 * Count one drop (or @n drops) for @vip (truncated to 31 bytes) from @addr. A
 * @now in a later second than the counts held first emits those (as flush).
 */
void sl_rl_agg_add(struct sl_rl_agg *agg, const char *vip, const __be32 addr[4], __u8 family,
		   __u64 n, double now);
/* Emit and forget the counts of seconds before @now's. Call it once a second. */
void sl_rl_agg_flush(struct sl_rl_agg *agg, double now);

/*
 * The usual emit: append one "ratelimit.drop" event to @ev (the ctx) per call,
 * data {"client": "198.18.0.9", "drops": N, "second": "RFC 3339"} or
 * {"client": "others", "drops": N, "second": ...}.
 */
void sl_rl_emit_event(void *ev, const char *vip, const __be32 *addr, __u8 family, __u64 drops,
		      long long second);

#endif
