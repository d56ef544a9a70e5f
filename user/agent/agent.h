/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* sluiced's state: VIPs, backends and interfaces by name, and the commands that change them. */
#ifndef SLUICED_AGENT_H
#define SLUICED_AGENT_H

#include <net/if.h>
#include <jansson.h>

#include "sluice/abi.h"
#include "../lib/addr.h"
#include "health.h"
#include "circuit.h"

#define SL_NAME_MAX 32
#define SL_MAX_IFACES 16

struct sl_be {
	struct sl_endpoint ep; /* port 0: the VIP's port */
	__u32 weight;	       /* 0..65535; 0 = no new flows */
	__u32 slot;	       /* index in sl_backends */
	int draining;
	double drain_deadline; /* unix time */
	int has_health;	       /* a per-backend health override (full conf) */
	struct sl_health_conf health;
	int has_circuit;       /* a per-backend breaker conf */
	struct sl_circuit_conf circuit;
	/* runtime, not configuration: */
	int down;	       /* failed its health checks: no new flows */
	int open;	       /* circuit breaker open: no new flows */
};

struct sl_vip_cfg {
	char name[SL_NAME_MAX];
	struct sl_endpoint ep; /* address and port */
	__u8 proto, strategy, fwd, per_prefix;
	__u32 conn_rate, conn_burst, pkt_rate, pkt_burst;
	__u32 id; /* index in per-VIP maps */
	json_t *l7; /* normalized "l7" object (user/proxy/l7conf.h); NULL: an L4 VIP */
	int has_health; /* active health checks for every backend (unless overridden) */
	struct sl_health_conf health;
	int has_circuit; /* a circuit breaker for every backend (unless overridden) */
	struct sl_circuit_conf circuit;
	struct sl_be be[SL_GROUP_MAX];
	__u32 n_be;
	/* runtime: its Maglev table is in the maps; and one is owed (deferred) */
	int maglev_live, maglev_owed;
};

struct sl_iface {
	char name[IF_NAMESIZE];
	int generic;
};

struct sl_dp;
struct sl_journal;
struct sl_proxy;
struct sl_events;
struct sl_breakers;

struct sl_state {
	struct sl_vip_cfg *vips[SL_MAX_VIPS];
	__u32 n_vips;
	struct sl_iface ifaces[SL_MAX_IFACES];
	__u32 n_ifaces;
	__u8 vip_used[SL_MAX_VIPS];
	__u8 slot_used[SL_MAX_BACKENDS];
	__u32 next_slot; /* backend slots are handed out round-robin (see be_add) */
	struct sl_dp *dp;	    /* NULL: a model only (replay, validation) */
	struct sl_journal *journal; /* NULL: changes are not recorded */
	int check_ifaces;	    /* refuse interfaces that do not exist */
	struct sl_proxy *proxy;	    /* NULL: no L7 gateway (unit tests, replay) */
	struct sl_health *health;   /* NULL: no active checks (unit tests, replay) */
	struct sl_events *events;   /* NULL: no event stream */
	struct sl_breakers *breakers; /* NULL: no circuit breakers */
	__u8 hc_on[SL_MAX_BACKENDS]; /* slots with a health target */
	__u8 bk_on[SL_MAX_BACKENDS]; /* slots with a breaker, and its conf */
	struct sl_circuit_conf bk_conf[SL_MAX_BACKENDS];
	/* observability (obs.h): NULL/0 in unit tests */
	struct sl_cstore *cstore;  /* persistent counters (lib/cstore.h) */
	struct sl_obs *obs;	   /* samples for rates */
	uint64_t *agent_cells;	   /* "agent" block: [0] restarts */
	double start_time;	   /* unix time sluiced started */
	double lag_last, lag_max;  /* event-loop lag, s (max over the last 10 s) */
	int ready;		   /* state restored, serving */
	int defer_maglev;	   /* within an apply: rebuild each Maglev table once, at its end */
};

/* The outcome of a refused request: a one-line reason and sluicectl's exit status. */
struct sl_err {
	int exit; /* 1 refused, 2 malformed */
	char msg[512];
};

void sl_state_init(struct sl_state *st);
void sl_state_free(struct sl_state *st);

/*
 * Run one request {"cmd":..., "args":{...}}. Returns 0 and sets *result (a new
 * reference) or returns -1 with @e filled; nothing is changed on failure.
 * @now: unix time of the request (the journal's for a replayed one).
 */
int sl_state_exec(struct sl_state *st, json_t *req, double now, json_t **result, struct sl_err *e);

/* Write the whole model into the maps and attach its interfaces (after replay). */
int sl_state_reconcile(struct sl_state *st);

/* Give the L7 gateway (st->proxy) the L7 VIPs as they are now. */
void sl_state_l7_sync(struct sl_state *st);
/* Health targets (st->health) and breakers (st->breakers) to match the model. */
void sl_state_checks_sync(struct sl_state *st);
/* The health engine's on_change (ctx: the state; key: the backend slot). */
void sl_state_health_change(void *ctx, uint64_t key, int up, const char *reason);
/* Apply the transitions the breakers queued (kernel flags, events). */
void sl_state_breakers_drain(struct sl_state *st);
/* Append an event with no VIP or backend (agent.start ...); @data is taken over. */
void sl_state_emit(struct sl_state *st, const char *type, json_t *data);

/* Once a second: finish drains whose flows are gone or whose time is up. */
void sl_state_tick(struct sl_state *st, double now);

/* Totals of everything (the /stats shape without rates; obs.h adds them). */
json_t *sl_state_snapshot(struct sl_state *st, double now);
/* The `stats` answer and /stats: a snapshot with rates, only VIP @only if not NULL. */
json_t *sl_state_stats(struct sl_state *st, const char *only);

/* The configuration as JSON (the format of --config, apply and show config). */
json_t *sl_state_config(const struct sl_state *st);

/* ---- journal ---- */

/* Open (creating) STATE_DIR/journal. Returns NULL with errno set. */
struct sl_journal *sl_journal_open(const char *state_dir);
void sl_journal_close(struct sl_journal *j);
/* Replay every record through @st (model only). Returns records replayed or -errno. */
int sl_journal_replay(struct sl_journal *j, struct sl_state *st);
/* Append a change; returns 0 or -errno. */
int sl_journal_append(struct sl_journal *j, json_t *change, double now);
/* Records in the journal so far. */
long sl_journal_offset(const struct sl_journal *j);

/* RFC 3339 UTC timestamp with nanoseconds. */
void sl_rfc3339(double t, char *buf, size_t len);
double sl_now(void);

#endif
