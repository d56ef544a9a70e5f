// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The model and its commands. Every command validates its arguments and the
 * state it would produce before touching anything; then it changes the model,
 * publishes the change to the maps in an order that never shows a packet half
 * of it, and records it in the journal. With st->dp == NULL the same code is a
 * pure model: that is how the journal is replayed and how a configuration is
 * validated whole before it is applied.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>

#include "agent.h"
#include "dp.h"
#include "../lib/group.h"
#include "../lib/log.h"
#include "../lib/maglev.h"
#include "../proxy/l7conf.h"
#include "../proxy/proxy.h"
#include "breakers.h"
#include "events.h"
#include "obs.h"
#include "sluice/version.h"
#include "../lib/cstore.h"

#define DEFAULT_DRAIN_TIMEOUT 300

static int refuse(struct sl_err *e, int exit_code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int refuse(struct sl_err *e, int exit_code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	e->exit = exit_code;
	return -1;
}

void sl_state_init(struct sl_state *st)
{
	memset(st, 0, sizeof(*st));
}

void sl_state_free(struct sl_state *st)
{
	__u32 i;

	for (i = 0; i < st->n_vips; i++) {
		json_decref(st->vips[i]->l7);
		free(st->vips[i]);
	}
	st->n_vips = 0;
}

/* ---- lookups ---- */

static struct sl_vip_cfg *vip_find(const struct sl_state *st, const char *name)
{
	__u32 i;

	for (i = 0; i < st->n_vips; i++)
		if (!strcmp(st->vips[i]->name, name))
			return st->vips[i];
	return NULL;
}

static int addr_same(const struct sl_endpoint *a, const struct sl_endpoint *b)
{
	return a->family == b->family && !memcmp(a->addr, b->addr, sizeof(a->addr));
}

static int ep_same(const struct sl_endpoint *a, const struct sl_endpoint *b)
{
	return a->family == b->family && a->port == b->port &&
	       !memcmp(a->addr, b->addr, sizeof(a->addr));
}

static struct sl_vip_cfg *vip_by_endpoint(const struct sl_state *st, const struct sl_endpoint *ep,
					  __u8 proto)
{
	__u32 i;

	for (i = 0; i < st->n_vips; i++)
		if (st->vips[i]->proto == proto && ep_same(&st->vips[i]->ep, ep))
			return st->vips[i];
	return NULL;
}

/* A backend is its address and port, where port 0 means the VIP's port. */
static struct sl_be *be_find(struct sl_vip_cfg *v, const struct sl_endpoint *ep)
{
	__u16 want = ep->port ? ep->port : v->ep.port;
	__u32 i;

	for (i = 0; i < v->n_be; i++)
		if (addr_same(&v->be[i].ep, ep) &&
		    (v->be[i].ep.port ? v->be[i].ep.port : v->ep.port) == want)
			return &v->be[i];
	return NULL;
}

static const char *ep_text(const struct sl_endpoint *ep)
{
	static char bufs[4][80];
	static int next;
	char *b = bufs[next++ & 3];

	return sl_endpoint_str(ep, b, sizeof(bufs[0]));
}

/* ---- publishing to the maps ---- */

static void vip_key(const struct sl_vip_cfg *v, struct sl_vip_key *k)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->addr, v->ep.addr, sizeof(k->addr));
	k->port = htons(v->ep.port);
	k->proto = v->proto;
	k->family = v->ep.family;
}

static void vip_value(const struct sl_vip_cfg *v, struct sl_vip *val)
{
	memset(val, 0, sizeof(*val));
	val->id = v->id;
	val->strategy = v->strategy;
	val->fwd = v->fwd;
	val->flags = (v->per_prefix ? SL_VIP_RL_PREFIX : 0) | (v->l7 ? SL_VIP_L7 : 0);
	val->conn_rate = v->conn_rate;
	val->conn_burst = v->conn_burst;
	val->pkt_rate = v->pkt_rate;
	val->pkt_burst = v->pkt_burst;
}

/* Write a backend's slot. Keeps the generation when the slot already holds
 * this very backend (a restart), else bumps it so old flows move. */
static int be_write(struct sl_state *st, const struct sl_vip_cfg *v, const struct sl_be *b)
{
	struct sl_backend cur = { 0 }, val = { 0 };

	sl_dp_backend_get(st->dp, b->slot, &cur);
	memcpy(val.addr, b->ep.addr, sizeof(val.addr));
	val.port = htons(b->ep.port);
	val.family = b->ep.family;
	val.flags = (b->draining ? SL_BE_DRAIN : 0) | (b->down ? SL_BE_DOWN : 0) |
		    (b->open ? SL_BE_OPEN : 0);
	val.weight = b->weight;
	val.vip_id = v->id;
	val.gen = cur.gen;
	if (cur.flags & SL_BE_REMOVED || cur.vip_id != val.vip_id || cur.port != val.port ||
	    cur.family != val.family || memcmp(cur.addr, val.addr, sizeof(val.addr)) || !cur.gen) {
		val.gen = cur.gen + 1;
		sl_dp_be_stats_reset(st->dp, b->slot); /* a new backend starts from zero */
	}
	return sl_dp_backend_put(st->dp, b->slot, &val);
}

static int be_mark_removed(struct sl_state *st, __u32 slot)
{
	struct sl_backend cur = { 0 };

	sl_dp_backend_get(st->dp, slot, &cur);
	cur.flags |= SL_BE_REMOVED;
	cur.weight = 0;
	return sl_dp_backend_put(st->dp, slot, &cur);
}

/* ---- events ---- */

/* Append one event to the stream (when there is one). @data is taken over. */
static void emit(struct sl_state *st, const char *type, const struct sl_vip_cfg *v,
		 const struct sl_be *b, json_t *data)
{
	char bb[80];

	if (st->events &&
	    sl_events_append(st->events, type, v ? v->name : NULL,
			     b ? sl_endpoint_str(&b->ep, bb, sizeof(bb)) : NULL, data, sl_now()) < 0)
		pr_warn("events: could not record %s", type);
	json_decref(data);
}

void sl_state_emit(struct sl_state *st, const char *type, json_t *data)
{
	emit(st, type, NULL, NULL, data);
}

/* A backend's health-check and breaker settings: its own, else its VIP's. */
static const struct sl_health_conf *be_health(const struct sl_vip_cfg *v, const struct sl_be *b)
{
	return b->has_health ? &b->health : v->has_health ? &v->health : NULL;
}

static const struct sl_circuit_conf *be_circuit(const struct sl_vip_cfg *v, const struct sl_be *b)
{
	return b->has_circuit ? &b->circuit : v->has_circuit ? &v->circuit : NULL;
}

/* Group (and Maglev table) of the backends that may take new flows, then the VIP. */
static int vip_publish(struct sl_state *st, struct sl_vip_cfg *v)
{
	struct sl_group_member m[SL_GROUP_MAX];
	struct sl_mg_backend mb[SL_GROUP_MAX];
	struct sl_group *g = NULL;
	struct sl_vip_key k;
	struct sl_vip val;
	__u32 *table = NULL, n = 0, i;
	int err;

	if (!st->dp)
		return 0;
	for (i = 0; i < v->n_be; i++) {
		const struct sl_be *b = &v->be[i];

		if (b->draining || !b->weight || b->down || b->open)
			continue; /* no new flows: out of the group (and the Maglev table) */
		m[n].id = b->slot;
		m[n].weight = b->weight;
		memset(&mb[n], 0, sizeof(mb[n]));
		memcpy(mb[n].addr, b->ep.addr, sizeof(mb[n].addr));
		mb[n].port = htons(b->ep.port);
		mb[n].family = b->ep.family;
		mb[n].weight = b->weight;
		mb[n].id = b->slot;
		n++;
	}
	g = calloc(1, sizeof(*g));
	err = g ? sl_group_build(g, m, n) : -ENOMEM;
	if (!err)
		err = sl_dp_group_put(st->dp, v->id, g);
	if (!err && v->strategy == SL_STRAT_MAGLEV && st->defer_maglev && v->maglev_live) {
		/*
		 * An apply changes many backends: a table (~30 ms to build and
		 * write) is rebuilt once, at its end (maglev_flush). Meanwhile the
		 * data plane skips slots whose backend left, and new backends get
		 * flows once the table names them.
		 */
		v->maglev_owed = 1;
	} else if (!err && v->strategy == SL_STRAT_MAGLEV) {
		table = calloc(SL_MAGLEV_SIZE, sizeof(*table));
		err = table ? sl_maglev_build(table, SL_MAGLEV_SIZE, mb, n) : -ENOMEM;
		if (!err)
			err = sl_dp_maglev_put(st->dp, v->id, table);
		v->maglev_live = !err;
		v->maglev_owed = 0;
	}
	vip_key(v, &k);
	vip_value(v, &val);
	if (!err)
		err = sl_dp_vip_put(st->dp, &k, &val);
	if (!err && v->strategy != SL_STRAT_MAGLEV) {
		sl_dp_maglev_del(st->dp, v->id);
		v->maglev_live = v->maglev_owed = 0;
	}
	free(g);
	free(table);
	if (err)
		pr_err("vip %s: writing the maps failed: %s", v->name, strerror(-err));
	return err;
}

/* VIP-address reference counts (fragments) and NAT VIP count. */
static void stale_addr(const struct sl_addr_key *k, void *ctx)
{
	struct sl_state *st = ctx;
	__u32 i;

	for (i = 0; i < st->n_vips; i++)
		if (st->vips[i]->ep.family == k->family &&
		    !memcmp(st->vips[i]->ep.addr, k->addr, sizeof(k->addr)))
			return;
	sl_dp_addr_del(st->dp, k);
}

static void globals_publish(struct sl_state *st)
{
	struct sl_cfg cfg = { 0 };
	__u32 i, j;

	if (!st->dp)
		return;
	for (i = 0; i < st->n_vips; i++) {
		struct sl_addr_key k = { .family = st->vips[i]->ep.family };
		__u32 count = 0;

		memcpy(k.addr, st->vips[i]->ep.addr, sizeof(k.addr));
		for (j = 0; j < st->n_vips; j++)
			count += addr_same(&st->vips[j]->ep, &st->vips[i]->ep);
		sl_dp_addr_put(st->dp, &k, count);
		if (st->vips[i]->fwd == SL_FWD_NAT)
			cfg.nat_vips++;
	}
	sl_dp_addr_each(st->dp, stale_addr, st);
	sl_dp_cfg_put(st->dp, &cfg);
}

/* ---- model operations (validate, change, publish) ---- */

static int name_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n < 1 || n >= SL_NAME_MAX || !isalnum((unsigned char)s[0]))
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
			return 0;
	return 1;
}

static int alloc_index(__u8 *used, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (!used[i])
			return i;
	return -1;
}

static int vip_add(struct sl_state *st, const struct sl_vip_cfg *spec, struct sl_err *e)
{
	struct sl_vip_cfg *v, *other;
	int id;

	if (!name_ok(spec->name))
		return refuse(e, 2, "vip name '%s': use 1-31 letters, digits, '_', '.' or '-'",
			      spec->name);
	if (vip_find(st, spec->name))
		return refuse(e, 1, "vip %s: already exists (use 'vip set' to change it, or 'vip del')",
			      spec->name);
	other = vip_by_endpoint(st, &spec->ep, spec->proto);
	if (other)
		return refuse(e, 1, "vip %s: %s/%s is already used by vip %s", spec->name,
			      ep_text(&spec->ep), sl_proto_name(spec->proto), other->name);
	id = alloc_index(st->vip_used, SL_MAX_VIPS);
	if (id < 0)
		return refuse(e, 1, "vip %s: all %d VIP slots are in use", spec->name, SL_MAX_VIPS);
	v = calloc(1, sizeof(*v));
	if (!v)
		return refuse(e, 1, "vip %s: out of memory", spec->name);
	*v = *spec;
	json_incref(v->l7);
	v->n_be = 0;
	v->id = (__u32)id;
	if (st->dp && vip_publish(st, v)) {
		json_decref(v->l7);
		free(v);
		return refuse(e, 1, "vip %s: the kernel refused the change (see sluiced's log)",
			      spec->name);
	}
	st->vip_used[id] = 1;
	st->vips[st->n_vips++] = v;
	globals_publish(st);
	return 0;
}

static void vip_remove(struct sl_state *st, struct sl_vip_cfg *v)
{
	struct sl_vip_key k;
	__u32 i;

	for (i = 0; i < v->n_be; i++) {
		__u32 slot = v->be[i].slot;

		emit(st, "backend.deregistered", v, &v->be[i], NULL);
		if (st->health && st->hc_on[slot]) {
			sl_health_remove(st->health, slot);
			st->hc_on[slot] = 0;
		}
		if (st->breakers && st->bk_on[slot]) {
			sl_breakers_set(st->breakers, slot, NULL);
			st->bk_on[slot] = 0;
		}
	}
	if (st->dp) {
		/* The VIP disappears first; then what it pointed at. */
		vip_key(v, &k);
		sl_dp_vip_del(st->dp, &k);
		sl_dp_group_del(st->dp, v->id);
		sl_dp_maglev_del(st->dp, v->id);
		for (i = 0; i < v->n_be; i++)
			be_mark_removed(st, v->be[i].slot);
	}
	for (i = 0; i < v->n_be; i++)
		st->slot_used[v->be[i].slot] = 0;
	st->vip_used[v->id] = 0;
	for (i = 0; i < st->n_vips; i++)
		if (st->vips[i] == v) {
			memmove(&st->vips[i], &st->vips[i + 1],
				(st->n_vips - i - 1) * sizeof(st->vips[0]));
			st->n_vips--;
			break;
		}
	json_decref(v->l7);
	free(v);
	globals_publish(st);
}

static int be_add(struct sl_state *st, struct sl_vip_cfg *v, const struct sl_endpoint *ep,
		  __u32 weight, struct sl_err *e)
{
	struct sl_be *b;
	int slot;

	if (ep->family != v->ep.family)
		return refuse(e, 1, "vip %s: backend %s is %s but the VIP is %s", v->name, ep_text(ep),
			      ep->family == SL_AF_INET ? "IPv4" : "IPv6",
			      v->ep.family == SL_AF_INET ? "IPv4" : "IPv6");
	if (be_find(v, ep))
		return refuse(e, 1,
			      "vip %s: backend %s already exists (use 'backend set' to change its weight)",
			      v->name, ep_text(ep));
	if (v->n_be >= SL_GROUP_MAX)
		return refuse(e, 1, "vip %s: already has the most backends a VIP may have (%d)",
			      v->name, SL_GROUP_MAX);
	/* Round-robin, not lowest-free: a slot just freed still has flows in the
	 * connection table that will release their count on it; reusing it at
	 * once would mix those into the new backend's active flows. */
	slot = -1;
	for (int k = 0; k < SL_MAX_BACKENDS; k++) {
		__u32 cand = (st->next_slot + (__u32)k) % SL_MAX_BACKENDS;

		if (!st->slot_used[cand]) {
			slot = (int)cand;
			break;
		}
	}
	if (slot < 0)
		return refuse(e, 1, "vip %s: all %d backend slots are in use", v->name,
			      SL_MAX_BACKENDS);
	b = &v->be[v->n_be];
	memset(b, 0, sizeof(*b));
	b->ep = *ep;
	b->weight = weight;
	b->slot = (__u32)slot;
	/* The slot first, then the group that names it. */
	if (st->dp && be_write(st, v, b))
		goto kernel;
	v->n_be++;
	if (st->dp && vip_publish(st, v)) {
		v->n_be--;
		vip_publish(st, v);
		be_mark_removed(st, b->slot);
		goto kernel;
	}
	st->slot_used[slot] = 1;
	st->next_slot = ((__u32)slot + 1) % SL_MAX_BACKENDS;
	emit(st, "backend.registered", v, b, json_pack("{s:I}", "weight", (json_int_t)weight));
	return 0;
kernel:
	return refuse(e, 1, "vip %s: the kernel refused the change (see sluiced's log)", v->name);
}

static void be_remove(struct sl_state *st, struct sl_vip_cfg *v, struct sl_be *b)
{
	__u32 slot = b->slot, i = (__u32)(b - v->be);

	emit(st, "backend.deregistered", v, b, NULL);
	if (st->health && st->hc_on[slot]) {
		sl_health_remove(st->health, slot);
		st->hc_on[slot] = 0;
	}
	if (st->breakers && st->bk_on[slot]) {
		sl_breakers_set(st->breakers, slot, NULL);
		st->bk_on[slot] = 0;
	}
	memmove(&v->be[i], &v->be[i + 1], (v->n_be - i - 1) * sizeof(v->be[0]));
	v->n_be--;
	if (st->dp) {
		/* Out of the group first (no new flows), then its flows move. */
		vip_publish(st, v);
		be_mark_removed(st, slot);
	}
	st->slot_used[slot] = 0;
}

static int be_update(struct sl_state *st, struct sl_vip_cfg *v, struct sl_be *b)
{
	if (!st->dp)
		return 0;
	if (be_write(st, v, b) || vip_publish(st, v))
		return -1;
	return 0;
}

/* ---- JSON arguments ---- */

struct field {
	const char *name;
	int required;
};

/* Refuse fields not in @fields and missing required ones. @path prefixes messages. */
static int fields_check(json_t *obj, const struct field *fields, const char *path,
			struct sl_err *e)
{
	const char *key;
	json_t *val;
	int i;

	if (!json_is_object(obj))
		return refuse(e, 2, "%s: must be an object", *path ? path : "args");
	json_object_foreach(obj, key, val) {
		for (i = 0; fields[i].name; i++)
			if (!strcmp(fields[i].name, key))
				break;
		if (!fields[i].name)
			return refuse(e, 2, "%s%s%s: unknown field", path, *path ? "." : "", key);
	}
	for (i = 0; fields[i].name; i++)
		if (fields[i].required && !json_object_get(obj, fields[i].name))
			return refuse(e, 2, "%s%s%s: missing", path, *path ? "." : "", fields[i].name);
	(void)val;
	return 0;
}

static const char *get_str(json_t *obj, const char *key, const char *def, const char *path,
			   struct sl_err *e, int *bad)
{
	json_t *v = json_object_get(obj, key);

	if (!v)
		return def;
	if (!json_is_string(v)) {
		refuse(e, 2, "%s%s%s: must be a string", path, *path ? "." : "", key);
		*bad = 1;
		return def;
	}
	return json_string_value(v);
}

static __u32 get_uint(json_t *obj, const char *key, __u32 def, long long min, long long max,
		      const char *path, struct sl_err *e, int *bad)
{
	json_t *v = json_object_get(obj, key);
	long long x;

	if (!v)
		return def;
	x = json_is_integer(v) ? json_integer_value(v) : min - 1;
	if (!json_is_integer(v) || x < min || x > max) {
		refuse(e, 2, "%s%s%s: must be %lld..%lld", path, *path ? "." : "", key, min, max);
		*bad = 1;
		return def;
	}
	return (__u32)x;
}

/* address + port fields into an endpoint; @need_port for VIPs. */
static int get_endpoint(json_t *obj, int need_port, const char *path, struct sl_endpoint *ep,
			struct sl_err *e)
{
	const char *addr;
	int bad = 0;

	memset(ep, 0, sizeof(*ep));
	addr = get_str(obj, "address", NULL, path, e, &bad);
	if (bad)
		return -1;
	if (!addr)
		return refuse(e, 2, "%s%saddress: missing", path, *path ? "." : "");
	if (sl_addr_parse(addr, ep->addr, &ep->family))
		return refuse(e, 2, "%s%saddress: '%s' is not an IPv4 or IPv6 address", path,
			      *path ? "." : "", addr);
	ep->port = (__u16)get_uint(obj, "port", 0, need_port ? 1 : 0, 65535, path, e, &bad);
	if (bad)
		return -1;
	if (need_port && !ep->port)
		return refuse(e, 2, "%s%sport: missing", path, *path ? "." : "");
	return 0;
}

static int get_enum(json_t *obj, const char *key, int def, int (*from)(const char *),
		    const char *names, const char *path, struct sl_err *e)
{
	int bad = 0, v;
	const char *s = get_str(obj, key, NULL, path, e, &bad);

	if (bad)
		return -1;
	if (!s)
		return def;
	v = from(s);
	if (v < 0)
		return refuse(e, 2, "%s%s%s: '%s' is not one of %s", path, *path ? "." : "", key, s,
			      names);
	return v;
}

static int per_from(const char *s)
{
	return !strcmp(s, "addr") ? 0 : !strcmp(s, "prefix") ? 1 : -1;
}

/* A "limit" object into @v. Rates need bursts. */
static int get_limit(json_t *obj, struct sl_vip_cfg *v, const char *path, struct sl_err *e)
{
	static const struct field f[] = { { "per", 0 },	     { "conn_rate", 0 }, { "conn_burst", 0 },
					  { "pkt_rate", 0 }, { "pkt_burst", 0 }, { NULL, 0 } };
	int bad = 0, per;

	if (fields_check(obj, f, path, e))
		return -1;
	per = get_enum(obj, "per", 0, per_from, "addr|prefix", path, e);
	if (per < 0)
		return -1;
	v->per_prefix = (__u8)per;
	v->conn_rate = get_uint(obj, "conn_rate", 0, 0, 100000000, path, e, &bad);
	v->conn_burst = get_uint(obj, "conn_burst", 0, 0, 100000000, path, e, &bad);
	v->pkt_rate = get_uint(obj, "pkt_rate", 0, 0, 1000000000, path, e, &bad);
	v->pkt_burst = get_uint(obj, "pkt_burst", 0, 0, 1000000000, path, e, &bad);
	if (bad)
		return -1;
	if (v->conn_rate && !v->conn_burst)
		return refuse(e, 2, "%s%sconn_burst: must be at least 1 when conn_rate is set", path,
			      *path ? "." : "");
	if (v->pkt_rate && !v->pkt_burst)
		return refuse(e, 2, "%s%spkt_burst: must be at least 1 when pkt_rate is set", path,
			      *path ? "." : "");
	return 0;
}

/*
 * "l7": an object (the gateway configuration, user/proxy/l7conf.h) or true
 * (all defaults). Validated whole here, key files included; the model keeps
 * the normalized object. On success v->l7 holds a new reference.
 */
static int get_l7(json_t *l7, struct sl_vip_cfg *v, const char *path, struct sl_err *e)
{
	struct sl_l7_conf *conf;
	char p[96], err[400];
	json_t *obj;

	v->l7 = NULL;
	if (!l7 || json_is_false(l7))
		return 0;
	if (!json_is_true(l7) && !json_is_object(l7))
		return refuse(e, 2, "%s%sl7: must be an object (or true for the defaults)", path,
			      *path ? "." : "");
	if (v->proto != IPPROTO_TCP)
		return refuse(e, 2, "%s%sl7: an L7 VIP must be tcp (remove \"protocol\": \"udp\")",
			      path, *path ? "." : "");
	obj = json_is_true(l7) ? json_object() : json_incref(l7);
	snprintf(p, sizeof(p), "%s%sl7", path, *path ? "." : "");
	conf = sl_l7_conf_from_json(obj, p, err, sizeof(err));
	json_decref(obj);
	if (!conf)
		return refuse(e, 2, "%s", err);
	v->l7 = json_incref(conf->json);
	sl_l7_conf_free(conf);
	return 0;
}

/*
 * "health" and "circuit" objects of a VIP or (over @vip's) of a backend.
 * Absent: none (a backend then follows its VIP).
 */
static int get_checks(json_t *obj, const struct sl_vip_cfg *vip, int *has_h,
		      struct sl_health_conf *h, int *has_c, struct sl_circuit_conf *c,
		      const char *path, struct sl_err *e)
{
	json_t *ho = json_object_get(obj, "health"), *co = json_object_get(obj, "circuit");
	char p[160], err[400];

	*has_h = *has_c = 0;
	if (ho) {
		snprintf(p, sizeof(p), "%s%shealth", path, *path ? "." : "");
		if (sl_health_conf_parse(ho, vip && vip->has_health ? &vip->health : NULL, h, p, err,
					 sizeof(err)))
			return refuse(e, 2, "%s", err);
		*has_h = 1;
	}
	if (co) {
		snprintf(p, sizeof(p), "%s%scircuit", path, *path ? "." : "");
		json_t *m = NULL;
		int rc;

		/* a backend's fields over its VIP's */
		if (vip && vip->has_circuit && json_is_object(co)) {
			m = sl_circuit_conf_to_json(&vip->circuit);
			json_object_update(m, co);
		}
		sl_circuit_conf_default(c);
		rc = sl_circuit_conf_from_json(m ? m : co, p, c, err, sizeof(err));
		json_decref(m);
		if (rc)
			return refuse(e, 2, "%s", err);
		*has_c = 1;
	}
	return 0;
}

/* The VIP fields of vip.add and of a config "vips" entry. */
static int get_vip(json_t *obj, struct sl_vip_cfg *v, const char *path, struct sl_err *e)
{
	int bad = 0, x;
	const char *name;

	memset(v, 0, sizeof(*v));
	name = get_str(obj, "name", NULL, path, e, &bad);
	if (bad)
		return -1;
	if (!name)
		return refuse(e, 2, "%s%sname: missing", path, *path ? "." : "");
	if (strlen(name) >= SL_NAME_MAX || !name_ok(name))
		return refuse(e, 2, "%s%sname: '%s': use 1-31 letters, digits, '_', '.' or '-'", path,
			      *path ? "." : "", name);
	snprintf(v->name, sizeof(v->name), "%s", name);
	if (get_endpoint(obj, 1, path, &v->ep, e))
		return -1;
	x = get_enum(obj, "protocol", IPPROTO_TCP, sl_proto_from, "tcp|udp", path, e);
	if (x < 0)
		return -1;
	v->proto = (__u8)x;
	x = get_enum(obj, "strategy", SL_STRAT_WRR, sl_strategy_from, SL_STRATEGY_NAMES, path, e);
	if (x < 0)
		return -1;
	v->strategy = (__u8)x;
	x = get_enum(obj, "forward", SL_FWD_NAT, sl_fwd_from, SL_FWD_NAMES, path, e);
	if (x < 0)
		return -1;
	v->fwd = (__u8)x;
	if (get_checks(obj, NULL, &v->has_health, &v->health, &v->has_circuit, &v->circuit, path,
		       e))
		return -1;
	return get_l7(json_object_get(obj, "l7"), v, path, e);
}

/* ---- commands ---- */

struct ctx {
	struct sl_state *st;
	json_t *args;
	double now;
	json_t *result;
	struct sl_err *e;
};

static struct sl_vip_cfg *need_vip(struct ctx *c, const char *key)
{
	int bad = 0;
	const char *name = get_str(c->args, key, NULL, "", c->e, &bad);
	struct sl_vip_cfg *v;

	if (bad)
		return NULL;
	if (!name) {
		refuse(c->e, 2, "%s: missing", key);
		return NULL;
	}
	v = vip_find(c->st, name);
	if (!v)
		refuse(c->e, 1, "vip %s: no such VIP (see 'sluicectl vip list')", name);
	return v;
}

/* The usual start of a command: known fields only, and the VIP it names. */
static struct sl_vip_cfg *checked_vip(struct ctx *c, const struct field *f, const char *key)
{
	if (fields_check(c->args, f, "", c->e))
		return NULL;
	return need_vip(c, key);
}

static struct sl_be *need_backend(struct ctx *c, struct sl_vip_cfg *v)
{
	struct sl_endpoint ep;
	struct sl_be *b;

	if (get_endpoint(c->args, 0, "", &ep, c->e))
		return NULL;
	b = be_find(v, &ep);
	if (!b)
		refuse(c->e, 1, "vip %s: no backend %s (see 'sluicectl backend list %s')", v->name,
		       ep_text(&ep), v->name);
	return b;
}

static int do_vip_add(struct ctx *c)
{
	static const struct field f[] = { { "name", 1 },     { "address", 1 },	{ "port", 1 },
					  { "protocol", 0 }, { "strategy", 0 }, { "forward", 0 },
					  { "l7", 0 },	     { NULL, 0 } };
	struct sl_vip_cfg spec;
	int err;

	if (fields_check(c->args, f, "", c->e) || get_vip(c->args, &spec, "", c->e))
		return -1;
	err = vip_add(c->st, &spec, c->e);
	json_decref(spec.l7);
	return err;
}

static int do_vip_set(struct ctx *c)
{
	static const struct field f[] = { { "name", 1 }, { "strategy", 0 }, { "forward", 0 },
					  { NULL, 0 } };
	struct sl_vip_cfg *v;
	int s, fw;
	__u8 old_s, old_f;

	v = checked_vip(c, f, "name");
	if (!v)
		return -1;
	if (!json_object_get(c->args, "strategy") && !json_object_get(c->args, "forward"))
		return refuse(c->e, 2, "vip %s: nothing to change: give strategy and/or forward",
			      v->name);
	s = get_enum(c->args, "strategy", v->strategy, sl_strategy_from, SL_STRATEGY_NAMES, "",
		     c->e);
	fw = get_enum(c->args, "forward", v->fwd, sl_fwd_from, SL_FWD_NAMES, "", c->e);
	if (s < 0 || fw < 0)
		return -1;
	old_s = v->strategy;
	old_f = v->fwd;
	v->strategy = (__u8)s;
	v->fwd = (__u8)fw;
	if (c->st->dp && vip_publish(c->st, v)) {
		v->strategy = old_s;
		v->fwd = old_f;
		vip_publish(c->st, v);
		return refuse(c->e, 1, "vip %s: the kernel refused the change (see sluiced's log)",
			      v->name);
	}
	globals_publish(c->st);
	return 0;
}

static int do_vip_del(struct ctx *c)
{
	static const struct field f[] = { { "name", 1 }, { NULL, 0 } };
	struct sl_vip_cfg *v;

	v = checked_vip(c, f, "name");
	if (!v)
		return -1;
	vip_remove(c->st, v);
	return 0;
}

static json_t *vip_json(const struct sl_vip_cfg *v, int with_backends)
{
	char a[64];
	json_t *o = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s}", "name", v->name, "address",
			      sl_addr_str(v->ep.addr, v->ep.family, a, sizeof(a)), "port", v->ep.port,
			      "protocol", sl_proto_name(v->proto), "strategy",
			      sl_strategy_name(v->strategy), "forward", sl_fwd_name(v->fwd));
	__u32 i;

	json_object_set_new(o, "limit",
			    json_pack("{s:s, s:I, s:I, s:I, s:I}", "per",
				      v->per_prefix ? "prefix" : "addr", "conn_rate",
				      (json_int_t)v->conn_rate, "conn_burst",
				      (json_int_t)v->conn_burst, "pkt_rate", (json_int_t)v->pkt_rate,
				      "pkt_burst", (json_int_t)v->pkt_burst));
	if (v->l7)
		json_object_set(o, "l7", v->l7);
	if (v->has_health)
		json_object_set_new(o, "health", sl_health_conf_json(&v->health));
	if (v->has_circuit)
		json_object_set_new(o, "circuit", sl_circuit_conf_to_json(&v->circuit));
	if (!with_backends) {
		json_object_set_new(o, "backends", json_integer(v->n_be));
		return o;
	}
	{
		json_t *arr = json_array();

		for (i = 0; i < v->n_be; i++) {
			json_t *bo = json_pack("{s:s, s:i, s:I}", "address",
					       sl_addr_str(v->be[i].ep.addr, v->be[i].ep.family, a,
							   sizeof(a)),
					       "port", v->be[i].ep.port, "weight",
					       (json_int_t)v->be[i].weight);

			if (v->be[i].has_health)
				json_object_set_new(bo, "health",
						    sl_health_conf_json(&v->be[i].health));
			if (v->be[i].has_circuit)
				json_object_set_new(bo, "circuit",
						    sl_circuit_conf_to_json(&v->be[i].circuit));
			json_array_append_new(arr, bo);
		}
		json_object_set_new(o, "backends", arr);
	}
	return o;
}

static int do_vip_list(struct ctx *c)
{
	static const struct field f[] = { { NULL, 0 } };
	__u32 i;

	if (fields_check(c->args, f, "", c->e))
		return -1;
	c->result = json_array();
	for (i = 0; i < c->st->n_vips; i++)
		json_array_append_new(c->result, vip_json(c->st->vips[i], 0));
	return 0;
}

static int do_backend_add(struct ctx *c)
{
	static const struct field f[] = { { "vip", 1 },	   { "address", 1 }, { "port", 0 },
					  { "weight", 0 }, { NULL, 0 } };
	struct sl_endpoint ep;
	struct sl_vip_cfg *v;
	int bad = 0;
	__u32 w;

	if (fields_check(c->args, f, "", c->e))
		return -1;
	v = need_vip(c, "vip");
	if (!v || get_endpoint(c->args, 0, "", &ep, c->e))
		return -1;
	w = get_uint(c->args, "weight", 1, 0, 65535, "", c->e, &bad);
	if (bad)
		return -1;
	return be_add(c->st, v, &ep, w, c->e);
}

static int do_backend_set(struct ctx *c)
{
	static const struct field f[] = { { "vip", 1 },	   { "address", 1 }, { "port", 0 },
					  { "weight", 1 }, { NULL, 0 } };
	struct sl_vip_cfg *v;
	struct sl_be *b;
	int bad = 0;
	__u32 w, old;

	v = checked_vip(c, f, "vip");
	b = v ? need_backend(c, v) : NULL;
	if (!b)
		return -1;
	w = get_uint(c->args, "weight", 1, 0, 65535, "", c->e, &bad);
	if (bad)
		return -1;
	old = b->weight;
	b->weight = w;
	if (be_update(c->st, v, b)) {
		b->weight = old;
		be_update(c->st, v, b);
		return refuse(c->e, 1, "vip %s: the kernel refused the change (see sluiced's log)",
			      v->name);
	}
	return 0;
}

static int do_backend_drain(struct ctx *c)
{
	static const struct field f[] = { { "vip", 1 },	    { "address", 1 }, { "port", 0 },
					  { "timeout", 0 }, { NULL, 0 } };
	struct sl_vip_cfg *v;
	struct sl_be *b;
	int bad = 0;
	__u32 t;

	v = checked_vip(c, f, "vip");
	b = v ? need_backend(c, v) : NULL;
	if (!b)
		return -1;
	t = get_uint(c->args, "timeout", DEFAULT_DRAIN_TIMEOUT, 0, 86400 * 7, "", c->e, &bad);
	if (bad)
		return -1;
	if (b->draining)
		return refuse(c->e, 1, "vip %s: backend %s is already draining", v->name,
			      ep_text(&b->ep));
	b->draining = 1;
	b->drain_deadline = c->now + t;
	if (be_update(c->st, v, b)) {
		b->draining = 0;
		be_update(c->st, v, b);
		return refuse(c->e, 1, "vip %s: the kernel refused the change (see sluiced's log)",
			      v->name);
	}
	c->result = json_pack("{s:I}", "active",
			      (json_int_t)(c->st->dp ? sl_dp_active(c->st->dp, b->slot) : 0));
	return 0;
}

static int do_backend_del(struct ctx *c)
{
	static const struct field f[] = { { "vip", 1 }, { "address", 1 }, { "port", 0 },
					  { NULL, 0 } };
	struct sl_vip_cfg *v;
	struct sl_be *b;

	v = checked_vip(c, f, "vip");
	b = v ? need_backend(c, v) : NULL;
	if (!b)
		return -1;
	be_remove(c->st, v, b);
	return 0;
}

static json_t *backend_json(struct sl_state *st, const struct sl_vip_cfg *v, const struct sl_be *b,
			    double now)
{
	struct sl_be_stats bs = { 0 };
	char a[64];
	json_t *o;

	if (st->dp)
		sl_dp_be_stats(st->dp, b->slot, &bs);
	o = json_pack("{s:s, s:s, s:i, s:I, s:s, s:I, s:I, s:I, s:I}", "vip", v->name, "address",
		      sl_addr_str(b->ep.addr, b->ep.family, a, sizeof(a)), "port", b->ep.port,
		      "weight", (json_int_t)b->weight, "state",
		      b->draining ? "draining" : b->weight ? "active" : "idle", "active_flows",
		      (json_int_t)(st->dp ? sl_dp_active(st->dp, b->slot) : 0), "packets",
		      (json_int_t)bs.packets, "bytes", (json_int_t)bs.bytes, "new_flows",
		      (json_int_t)bs.new_flows);
	if (b->draining)
		json_object_set_new(o, "drain_left",
				    json_integer((json_int_t)ceil(fmax(0, b->drain_deadline - now))));
	json_object_set_new(o, "health",
			    json_string(!be_health(v, b) ? "unchecked" : b->down ? "down" : "up"));
	if (st->breakers && st->bk_on[b->slot]) {
		struct sl_circuit_info ci;

		if (sl_breakers_info(st->breakers, b->slot, &ci))
			json_object_set_new(o, "circuit", json_string(sl_circuit_state_name(ci.state)));
	}
	return o;
}

/* A command whose one argument is an optional "vip": *@only is that VIP, or
 * NULL for every VIP. -1 when refused. */
static int only_vip_arg(struct ctx *c, struct sl_vip_cfg **only)
{
	static const struct field f[] = { { "vip", 0 }, { NULL, 0 } };

	*only = NULL;
	if (fields_check(c->args, f, "", c->e))
		return -1;
	if (json_object_get(c->args, "vip")) {
		*only = need_vip(c, "vip");
		if (!*only)
			return -1;
	}
	return 0;
}

static int do_backend_list(struct ctx *c)
{
	struct sl_vip_cfg *only;
	__u32 i, j;

	if (only_vip_arg(c, &only))
		return -1;
	c->result = json_array();
	for (i = 0; i < c->st->n_vips; i++) {
		struct sl_vip_cfg *v = c->st->vips[i];

		if (only && v != only)
			continue;
		for (j = 0; j < v->n_be; j++)
			json_array_append_new(c->result, backend_json(c->st, v, &v->be[j], c->now));
	}
	return 0;
}

static int do_limit_set(struct ctx *c)
{
	static const struct field f[] = { { "vip", 1 },	      { "per", 0 },	 { "conn_rate", 0 },
					  { "conn_burst", 0 }, { "pkt_rate", 0 }, { "pkt_burst", 0 },
					  { NULL, 0 } };
	struct sl_vip_cfg *v, tmp;
	json_t *lim;
	const char *k;
	json_t *val;
	int err;

	v = checked_vip(c, f, "vip");
	if (!v)
		return -1;
	/* Unnamed fields keep their values; the result is validated whole. */
	lim = json_pack("{s:s, s:I, s:I, s:I, s:I}", "per", v->per_prefix ? "prefix" : "addr",
			"conn_rate", (json_int_t)v->conn_rate, "conn_burst",
			(json_int_t)v->conn_burst, "pkt_rate", (json_int_t)v->pkt_rate, "pkt_burst",
			(json_int_t)v->pkt_burst);
	json_object_foreach(c->args, k, val)
		if (strcmp(k, "vip"))
			json_object_set(lim, k, val);
	tmp = *v;
	err = get_limit(lim, &tmp, "", c->e);
	json_decref(lim);
	if (err)
		return -1;
	v->per_prefix = tmp.per_prefix;
	v->conn_rate = tmp.conn_rate;
	v->conn_burst = tmp.conn_burst;
	v->pkt_rate = tmp.pkt_rate;
	v->pkt_burst = tmp.pkt_burst;
	return vip_publish(c->st, v) ? refuse(c->e, 1, "vip %s: the kernel refused the change",
					      v->name)
				     : 0;
}

static int do_limit_clear(struct ctx *c)
{
	static const struct field f[] = { { "vip", 1 }, { NULL, 0 } };
	struct sl_vip_cfg *v;

	v = checked_vip(c, f, "vip");
	if (!v)
		return -1;
	v->per_prefix = 0;
	v->conn_rate = v->conn_burst = v->pkt_rate = v->pkt_burst = 0;
	return vip_publish(c->st, v) ? refuse(c->e, 1, "vip %s: the kernel refused the change",
					      v->name)
				     : 0;
}

static int iface_index(struct sl_state *st, const char *name)
{
	__u32 i;

	for (i = 0; i < st->n_ifaces; i++)
		if (!strcmp(st->ifaces[i].name, name))
			return (int)i;
	return -1;
}

static int iface_attach(struct sl_state *st, const char *name, int generic, const char *path,
			struct sl_err *e)
{
	if (!*name || strlen(name) >= IF_NAMESIZE)
		return refuse(e, 2, "%s%s'%s' is not an interface name", path, *path ? ": " : "",
			      name);
	if (iface_index(st, name) >= 0 && *path)
		return refuse(e, 1, "%s: interface %s: listed twice", path, name);
	if (iface_index(st, name) >= 0)
		return refuse(e, 1, "interface %s: already attached (%s); 'sluicectl detach %s' first",
			      name, st->ifaces[iface_index(st, name)].generic ? "generic" : "native",
			      name);
	if (st->check_ifaces && !if_nametoindex(name))
		return refuse(e, 1, "%s%sinterface %s: does not exist (see 'ip link')", path,
			      *path ? ": " : "", name);
	if (st->n_ifaces >= SL_MAX_IFACES)
		return refuse(e, 1, "interface %s: sluiced attaches to at most %d interfaces", name,
			      SL_MAX_IFACES);
	if (st->dp && sl_dp_attach(st->dp, name, generic, e->msg, sizeof(e->msg))) {
		e->exit = 1;
		return -1;
	}
	snprintf(st->ifaces[st->n_ifaces].name, IF_NAMESIZE, "%s", name);
	st->ifaces[st->n_ifaces++].generic = generic;
	if (st->dp)
		pr_info("interface %s: attached (%s)", name, generic ? "generic" : "native");
	return 0;
}

static void iface_detach(struct sl_state *st, int i)
{
	if (st->dp) {
		sl_dp_detach(st->dp, st->ifaces[i].name);
		pr_info("interface %s: detached", st->ifaces[i].name);
	}
	memmove(&st->ifaces[i], &st->ifaces[i + 1], (st->n_ifaces - i - 1) * sizeof(st->ifaces[0]));
	st->n_ifaces--;
}

static int mode_from(const char *s)
{
	return !strcmp(s, "native") ? 0 : !strcmp(s, "generic") ? 1 : -1;
}

static int do_attach(struct ctx *c)
{
	static const struct field f[] = { { "iface", 1 }, { "mode", 0 }, { NULL, 0 } };
	const char *name;
	int bad = 0, mode;

	if (fields_check(c->args, f, "", c->e))
		return -1;
	name = get_str(c->args, "iface", "", "", c->e, &bad);
	mode = get_enum(c->args, "mode", 0, mode_from, "native|generic", "", c->e);
	if (bad || mode < 0)
		return -1;
	return iface_attach(c->st, name, mode, "", c->e);
}

static int do_detach(struct ctx *c)
{
	static const struct field f[] = { { "iface", 1 }, { NULL, 0 } };
	const char *name;
	int bad = 0, i;

	if (fields_check(c->args, f, "", c->e))
		return -1;
	name = get_str(c->args, "iface", "", "", c->e, &bad);
	if (bad)
		return -1;
	i = iface_index(c->st, name);
	if (i < 0)
		return refuse(c->e, 1, "interface %s: not attached (see 'sluicectl show config')", name);
	iface_detach(c->st, i);
	return 0;
}

/* Persistent pass/fail counters of a backend's health checks. */
static uint64_t *hc_cells(struct sl_state *st, const struct sl_vip_cfg *v, const struct sl_be *b)
{
	char key[SL_CSTORE_KEY_MAX], a[80];
	struct sl_endpoint ep = b->ep;

	if (!ep.port)
		ep.port = v->ep.port;
	snprintf(key, sizeof(key), "hc/%s/%s", v->name, sl_endpoint_str(&ep, a, sizeof(a)));
	return sl_cstore_get(st->cstore, key, 2);
}

static json_t *agent_json(struct sl_state *st, double now)
{
	struct sl_map_usage mu[8];
	json_t *maps = json_array();
	uint64_t used = 0, cap = 0, lost = 0;
	__u32 i, nbe = 0;
	int n = 0;

	for (i = 0; i < SL_MAX_BACKENDS; i++)
		nbe += st->slot_used[i] != 0;
	json_array_append_new(maps, json_pack("{s:s, s:I, s:I}", "name", "sl_vips", "entries",
					      (json_int_t)st->n_vips, "capacity",
					      (json_int_t)SL_MAX_VIPS));
	json_array_append_new(maps, json_pack("{s:s, s:I, s:I}", "name", "sl_backends", "entries",
					      (json_int_t)nbe, "capacity",
					      (json_int_t)SL_MAX_BACKENDS));
	if (st->dp)
		n = sl_dp_map_usage(st->dp, mu, 8);
	for (i = 0; i < (__u32)n; i++)
		json_array_append_new(maps, json_pack("{s:s, s:I, s:I}", "name", mu[i].name,
						      "entries", (json_int_t)mu[i].entries,
						      "capacity", (json_int_t)mu[i].capacity));
	if (st->cstore)
		sl_cstore_usage(st->cstore, &used, &cap, &lost);
	return json_pack("{s:s, s:i, s:f, s:f, s:b, s:I, s:I, s:I, s:{s:f, s:f}, s:o, "
			 "s:{s:I, s:I, s:I}}",
			 "version", SL_VERSION, "pid", (int)getpid(), "start_time",
			 st->start_time, "uptime", st->start_time ? now - st->start_time : 0.0,
			 "ready", st->ready, "restarts",
			 (json_int_t)(st->agent_cells ? sl_ctr_get(&st->agent_cells[0]) : 0),
			 "journal_offset",
			 (json_int_t)(st->journal ? sl_journal_offset(st->journal) : 0),
			 "events_offset",
			 (json_int_t)(st->events ? sl_events_next_offset(st->events) : 0),
			 "loop_lag", "last", st->lag_last, "max", st->lag_max, "maps", maps,
			 "counter_cells", "used", (json_int_t)used, "capacity", (json_int_t)cap,
			 "lost", (json_int_t)lost);
}

json_t *sl_state_snapshot(struct sl_state *st, double now)
{
	json_t *vips = json_array(), *drops, *counters, *le = json_array(), *snap;
	__u32 i, j;

	for (i = 0; i < SL_HIST_BUCKETS - 1; i++)
		json_array_append_new(le, json_real(sl_hist_le[i]));
	for (i = 0; i < st->n_vips; i++) {
		struct sl_vip_cfg *v = st->vips[i];
		struct sl_vip_stats vs = { 0 };
		json_t *bes = json_array(), *o;
		__s64 active = 0;
		char a[64];

		if (st->dp)
			sl_dp_vip_stats(st->dp, v->id, &vs);
		for (j = 0; j < v->n_be; j++) {
			const struct sl_be *b = &v->be[j];
			json_t *bo = backend_json(st, v, b, now);
			struct sl_health_status hs;

			active += json_integer_value(json_object_get(bo, "active_flows"));
			json_object_del(bo, "vip");
			if (!b->ep.port) /* the VIP's port */
				json_object_set_new(bo, "port", json_integer(v->ep.port));
			if (st->health && st->hc_on[b->slot] &&
			    !sl_health_get(st->health, b->slot, &hs)) {
				uint64_t *hc = hc_cells(st, v, b);

				json_object_set_new(bo, "health_checks",
						    json_pack("{s:I, s:I}", "pass",
							      (json_int_t)sl_ctr_get(&hc[0]), "fail",
							      (json_int_t)sl_ctr_get(&hc[1])));
				json_object_set_new(bo, "health_latency",
						    hs.checks && hs.last_ok
							    ? json_real(hs.last_latency_us / 1e6)
							    : json_null());
			}
			json_array_append_new(bes, bo);
		}
		o = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:o}",
			      "name", v->name, "address",
			      sl_addr_str(v->ep.addr, v->ep.family, a, sizeof(a)), "port", v->ep.port,
			      "protocol", sl_proto_name(v->proto), "strategy",
			      sl_strategy_name(v->strategy), "forward", sl_fwd_name(v->fwd), "l7",
			      v->l7 != NULL, "packets", (json_int_t)vs.packets, "bytes",
			      (json_int_t)vs.bytes, "new_flows", (json_int_t)vs.new_flows,
			      "active_flows", (json_int_t)active, "drops", (json_int_t)vs.drops,
			      "backends", bes);
		json_array_append_new(vips, o);
	}
	drops = json_object();
	for (i = 1; i < SL_DROP__MAX; i++)
		json_object_set_new(drops, sl_drop_name(i),
				    json_integer(st->dp ? (json_int_t)sl_dp_drop(st->dp, i) : 0));
	counters = json_object();
	for (i = 0; i < SL_C__MAX; i++)
		json_object_set_new(counters, sl_counter_name(i),
				    json_integer(st->dp ? (json_int_t)sl_dp_counter(st->dp, i) : 0));
	snap = json_pack("{s:f, s:o, s:o, s:o, s:o, s:o}", "time", now, "latency_le", le, "agent",
			 agent_json(st, now), "vips", vips, "drops", drops, "counters", counters);
	if (st->proxy)
		json_object_set_new(snap, "l7", sl_proxy_stats(st->proxy));
	return snap;
}

json_t *sl_state_stats(struct sl_state *st, const char *only)
{
	json_t *snap = sl_state_snapshot(st, sl_now()), *out, *vips, *l7, *v;
	const char *k;
	size_t i;

	if (st->obs) {
		sl_obs_add(st->obs, snap, sl_obs_mono());
	} else {
		json_object_set_new(snap, "window", json_null());
		json_object_set_new(snap, "drop_rates", json_null());
	}
	if (!only)
		return snap;
	/* a shallow copy without the other VIPs (the kept sample stays whole) */
	out = json_object();
	json_object_foreach(snap, k, v)
		json_object_set(out, k, v);
	vips = json_array();
	json_array_foreach(json_object_get(snap, "vips"), i, v)
		if (!strcmp(json_string_value(json_object_get(v, "name")), only))
			json_array_append(vips, v);
	json_object_set_new(out, "vips", vips);
	if (json_object_get(snap, "l7")) {
		l7 = json_object();
		json_object_foreach(json_object_get(snap, "l7"), k, v)
			if (k[0] == '_' || !strcmp(k, only))
				json_object_set(l7, k, v);
		json_object_set_new(out, "l7", l7);
	}
	json_decref(snap);
	return out;
}

static int do_stats(struct ctx *c)
{
	struct sl_vip_cfg *only;

	if (only_vip_arg(c, &only))
		return -1;
	c->result = sl_state_stats(c->st, only ? only->name : NULL);
	return 0;
}

json_t *sl_state_config(const struct sl_state *st)
{
	json_t *ifs = json_array(), *vips = json_array();
	__u32 i;

	for (i = 0; i < st->n_ifaces; i++)
		json_array_append_new(ifs, json_pack("{s:s, s:s}", "name", st->ifaces[i].name, "mode",
						     st->ifaces[i].generic ? "generic" : "native"));
	for (i = 0; i < st->n_vips; i++)
		json_array_append_new(vips, vip_json(st->vips[i], 1));
	return json_pack("{s:o, s:o}", "interfaces", ifs, "vips", vips);
}

static int do_config_show(struct ctx *c)
{
	static const struct field f[] = { { NULL, 0 } };

	if (fields_check(c->args, f, "", c->e))
		return -1;
	c->result = sl_state_config(c->st);
	return 0;
}

/*
 * Build a model from a configuration object: every check a live command
 * makes, with the JSON path of what is wrong.
 */
static int config_load(struct sl_state *m, json_t *cfg, struct sl_err *e)
{
	static const struct field top[] = { { "interfaces", 0 }, { "vips", 0 }, { NULL, 0 } };
	static const struct field fi[] = { { "name", 1 }, { "mode", 0 }, { NULL, 0 } };
	static const struct field fv[] = { { "name", 1 },     { "address", 1 },	 { "port", 1 },
					   { "protocol", 0 }, { "strategy", 0 }, { "forward", 0 },
					   { "limit", 0 },    { "backends", 0 }, { "l7", 0 },
					   { "health", 0 },   { "circuit", 0 },	 { NULL, 0 } };
	static const struct field fb[] = { { "address", 1 }, { "port", 0 }, { "weight", 0 },
					   { "health", 0 },  { "circuit", 0 }, { NULL, 0 } };
	char path[48], bpath[128];
	json_t *arr, *o, *b;
	size_t i, j;

	if (!json_is_object(cfg))
		return refuse(e, 1, "configuration: must be a JSON object");
	if (fields_check(cfg, top, "", e))
		goto fail;
	arr = json_object_get(cfg, "interfaces");
	if (arr && !json_is_array(arr)) {
		refuse(e, 2, "interfaces: must be an array");
		goto fail;
	}
	json_array_foreach(arr, i, o) {
		const char *name;
		int bad = 0, mode;

		snprintf(path, sizeof(path), "interfaces[%zu]", i);
		if (fields_check(o, fi, path, e))
			goto fail;
		name = get_str(o, "name", "", path, e, &bad);
		mode = get_enum(o, "mode", 0, mode_from, "native|generic", path, e);
		if (bad || mode < 0 || iface_attach(m, name, mode, path, e))
			goto fail;
	}
	arr = json_object_get(cfg, "vips");
	if (arr && !json_is_array(arr)) {
		refuse(e, 2, "vips: must be an array");
		goto fail;
	}
	json_array_foreach(arr, i, o) {
		struct sl_vip_cfg spec, *v;
		json_t *bes;

		snprintf(path, sizeof(path), "vips[%zu]", i);
		if (fields_check(o, fv, path, e) || get_vip(o, &spec, path, e))
			goto fail;
		if (json_object_get(o, "limit") &&
		    get_limit(json_object_get(o, "limit"), &spec,
			      (snprintf(bpath, sizeof(bpath), "%s.limit", path), bpath), e)) {
			json_decref(spec.l7);
			goto fail;
		}
		if (vip_add(m, &spec, e)) {
			json_decref(spec.l7);
			goto prefix;
		}
		json_decref(spec.l7);
		v = vip_find(m, spec.name);
		bes = json_object_get(o, "backends");
		if (bes && !json_is_array(bes)) {
			refuse(e, 2, "%s.backends: must be an array", path);
			goto fail;
		}
		json_array_foreach(bes, j, b) {
			struct sl_endpoint ep;
			int bad = 0;
			__u32 w;

			snprintf(bpath, sizeof(bpath), "%s.backends[%zu]", path, j);
			if (fields_check(b, fb, bpath, e) || get_endpoint(b, 0, bpath, &ep, e))
				goto fail;
			w = get_uint(b, "weight", 1, 0, 65535, bpath, e, &bad);
			if (bad)
				goto fail;
			{
				struct sl_be tmp;

				if (get_checks(b, v, &tmp.has_health, &tmp.health, &tmp.has_circuit,
					       &tmp.circuit, bpath, e))
					goto fail;
				if (be_add(m, v, &ep, w, e)) {
					snprintf(path, sizeof(path), "%.47s", bpath);
					goto prefix;
				}
				v->be[v->n_be - 1].has_health = tmp.has_health;
				v->be[v->n_be - 1].health = tmp.health;
				v->be[v->n_be - 1].has_circuit = tmp.has_circuit;
				v->be[v->n_be - 1].circuit = tmp.circuit;
			}
		}
	}
	return 0;
prefix: {
	char msg[sizeof(e->msg)];
	int n;

	memcpy(msg, e->msg, sizeof(msg));
	n = snprintf(e->msg, sizeof(e->msg), "%.100s: ", path);
	snprintf(e->msg + n, sizeof(e->msg) - n, "%.400s", msg);
	e->exit = 1;
}
fail:
	e->exit = 1; /* the request was well formed; the configuration it carries is not */
	sl_state_free(m);
	return -1;
}

static int checks_equal(int ha, const struct sl_health_conf *a, int ca,
			const struct sl_circuit_conf *x, int hb, const struct sl_health_conf *b, int cb,
			const struct sl_circuit_conf *y)
{
	return ha == hb && (!ha || sl_health_conf_equal(a, b)) && ca == cb &&
	       (!ca || !memcmp(x, y, sizeof(*x)));
}

static void be_copy_checks(struct sl_be *to, const struct sl_be *from)
{
	to->has_health = from->has_health;
	to->health = from->health;
	to->has_circuit = from->has_circuit;
	to->circuit = from->circuit;
}

static int vip_same_identity(const struct sl_vip_cfg *a, const struct sl_vip_cfg *b)
{
	return a->proto == b->proto && ep_same(&a->ep, &b->ep);
}

/*
 * Replace the configuration: validated whole first (into a scratch model),
 * then changed VIP by VIP, each change atomic for the data plane.
 */
/* The Maglev tables an apply deferred, built now; -1 if one was refused. */
static int maglev_flush(struct sl_state *st)
{
	int err = 0;
	__u32 i;

	st->defer_maglev = 0;
	for (i = 0; i < st->n_vips; i++)
		if (st->vips[i]->maglev_owed && vip_publish(st, st->vips[i]))
			err = -1;
	return err;
}

static int do_apply(struct ctx *c)
{
	static const struct field f[] = { { "config", 1 }, { NULL, 0 } };
	struct sl_state *st = c->st, m;
	__u8 attached_now[SL_MAX_IFACES] = { 0 };
	int changes = 0;
	__u32 i, j;

	if (fields_check(c->args, f, "", c->e))
		return -1;
	sl_state_init(&m);
	m.check_ifaces = st->check_ifaces;
	if (config_load(&m, json_object_get(c->args, "config"), c->e))
		return -1;
	st->defer_maglev = 1; /* until maglev_flush, on every way out */

	/* New interfaces first: the kernel may refuse an attach, and then
	 * nothing else may have changed yet. */
	for (i = 0; i < m.n_ifaces; i++) {
		if (iface_index(st, m.ifaces[i].name) >= 0)
			continue;
		if (iface_attach(st, m.ifaces[i].name, m.ifaces[i].generic, "", c->e)) {
			while (i-- > 0) /* undo the attaches this apply made */
				if (attached_now[i])
					iface_detach(st, iface_index(st, m.ifaces[i].name));
			goto out;
		}
		attached_now[i] = 1;
		changes++;
	}
	/* Interfaces no longer listed, or listed in another mode. */
	for (i = st->n_ifaces; i-- > 0;) {
		int k = iface_index(&m, st->ifaces[i].name);

		if (k < 0 || m.ifaces[k].generic != st->ifaces[i].generic) {
			int generic = k < 0 ? 0 : m.ifaces[k].generic;
			char name[IF_NAMESIZE];

			snprintf(name, sizeof(name), "%s", st->ifaces[i].name);
			iface_detach(st, (int)i);
			if (k >= 0 && iface_attach(st, name, generic, "", c->e))
				pr_err("apply: %s", c->e->msg); /* it was detached: say so loudly */
			changes++;
		}
	}
	/* VIPs gone, or whose address changed. */
	for (i = st->n_vips; i-- > 0;) {
		struct sl_vip_cfg *old = st->vips[i], *nv = vip_find(&m, old->name);

		if (!nv || !vip_same_identity(old, nv)) {
			vip_remove(st, old);
			changes++;
		}
	}
	for (i = 0; i < m.n_vips; i++) {
		struct sl_vip_cfg *nv = m.vips[i], *v = vip_find(st, nv->name);

		if (!v) {
			struct sl_vip_cfg spec = *nv;

			spec.n_be = 0;
			if (vip_add(st, &spec, c->e))
				goto out;
			v = vip_find(st, nv->name);
			changes++;
		}
		if ((v->l7 || nv->l7) && (!v->l7 || !nv->l7 || !json_equal(v->l7, nv->l7))) {
			json_decref(v->l7);
			v->l7 = json_incref(nv->l7);
			vip_publish(st, v);
			changes++;
		}
		if (!checks_equal(v->has_health, &v->health, v->has_circuit, &v->circuit,
				  nv->has_health, &nv->health, nv->has_circuit, &nv->circuit)) {
			v->has_health = nv->has_health;
			v->health = nv->health;
			v->has_circuit = nv->has_circuit;
			v->circuit = nv->circuit;
			changes++;
		}
		if (v->strategy != nv->strategy || v->fwd != nv->fwd ||
		    v->per_prefix != nv->per_prefix || v->conn_rate != nv->conn_rate ||
		    v->conn_burst != nv->conn_burst || v->pkt_rate != nv->pkt_rate ||
		    v->pkt_burst != nv->pkt_burst) {
			v->strategy = nv->strategy;
			v->fwd = nv->fwd;
			v->per_prefix = nv->per_prefix;
			v->conn_rate = nv->conn_rate;
			v->conn_burst = nv->conn_burst;
			v->pkt_rate = nv->pkt_rate;
			v->pkt_burst = nv->pkt_burst;
			vip_publish(st, v);
			changes++;
		}
		for (j = v->n_be; j-- > 0;)
			if (!be_find(nv, &v->be[j].ep)) {
				be_remove(st, v, &v->be[j]);
				changes++;
			}
		for (j = 0; j < nv->n_be; j++) {
			struct sl_be *b = be_find(v, &nv->be[j].ep);

			if (!b) {
				if (be_add(st, v, &nv->be[j].ep, nv->be[j].weight, c->e))
					goto out;
				b = be_find(v, &nv->be[j].ep);
				be_copy_checks(b, &nv->be[j]);
				changes++;
			} else if (!checks_equal(b->has_health, &b->health, b->has_circuit, &b->circuit,
						 nv->be[j].has_health, &nv->be[j].health,
						 nv->be[j].has_circuit, &nv->be[j].circuit)) {
				be_copy_checks(b, &nv->be[j]);
				changes++;
			}
			if (b->weight != nv->be[j].weight || b->draining) {
				b->weight = nv->be[j].weight;
				b->draining = 0;
				be_update(st, v, b);
				changes++;
			}
		}
	}
	/* a table the kernel refused is logged; the model and the journal keep
	 * the change, and the next change or restart writes the table again */
	maglev_flush(st);
	globals_publish(st);
	sl_state_free(&m);
	c->result = json_pack("{s:i}", "changes", changes);
	return 0;
out:
	maglev_flush(st);
	sl_state_free(&m);
	return -1;
}


/* ---- health checks, breakers, events ---- */

/* The backend a command names with "address"/"port", or NULL for the VIP itself. */
static int opt_backend(struct ctx *c, struct sl_vip_cfg *v, struct sl_be **bp)
{
	*bp = NULL;
	if (!json_object_get(c->args, "address"))
		return 0;
	*bp = need_backend(c, v);
	return *bp ? 0 : -1;
}

static int do_health_set(struct ctx *c)
{
	static const struct field f[] = {
		{ "vip", 1 },	   { "address", 0 }, { "port", 0 },	   { "type", 0 },
		{ "path", 0 },	   { "host", 0 },    { "expect_status", 0 }, { "interval_ms", 0 },
		{ "timeout_ms", 0 }, { "rise", 0 },  { "fall", 0 },	   { NULL, 0 }
	};
	static const char *const keys[] = { "type",	  "path",	"host", "expect_status",
					    "interval_ms", "timeout_ms", "rise", "fall" };
	struct sl_health_conf base, out;
	struct sl_vip_cfg *v = checked_vip(c, f, "vip");
	struct sl_be *b;
	char err[400], path[160];
	json_t *obj;
	size_t i;
	int rc;

	if (!v || opt_backend(c, v, &b))
		return -1;
	obj = json_object();
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (json_object_get(c->args, keys[i]))
			json_object_set(obj, keys[i], json_object_get(c->args, keys[i]));
	if (b && b->has_health)
		base = b->health;
	else if (v->has_health)
		base = v->health;
	else
		sl_health_conf_default(&base);
	/* a change of type starts from that type's defaults */
	if (json_object_get(obj, "type") && json_is_string(json_object_get(obj, "type")) &&
	    sl_health_type_from(json_string_value(json_object_get(obj, "type"))) != (int)base.type) {
		struct sl_health_conf d;

		sl_health_conf_default(&d);
		d.interval_ms = base.interval_ms;
		d.timeout_ms = base.timeout_ms;
		d.rise = base.rise;
		d.fall = base.fall;
		base = d;
	}
	snprintf(path, sizeof(path), "vip %s%s%s: health", v->name, b ? " backend " : "",
		 b ? ep_text(&b->ep) : "");
	rc = sl_health_conf_parse(obj, &base, &out, path, err, sizeof(err));
	json_decref(obj);
	if (rc)
		return refuse(c->e, 2, "%s", err);
	if (b) {
		b->has_health = 1;
		b->health = out;
	} else {
		v->has_health = 1;
		v->health = out;
	}
	return 0;
}

static int do_health_clear(struct ctx *c)
{
	static const struct field f[] = { { "vip", 1 }, { "address", 0 }, { "port", 0 },
					  { NULL, 0 } };
	struct sl_vip_cfg *v = checked_vip(c, f, "vip");
	struct sl_be *b;

	if (!v || opt_backend(c, v, &b))
		return -1;
	if (b) {
		if (!b->has_health)
			return refuse(c->e, 1, "vip %s: backend %s has no health checks of its own",
				      v->name, ep_text(&b->ep));
		b->has_health = 0;
	} else {
		if (!v->has_health)
			return refuse(c->e, 1, "vip %s: has no health checks (see 'sluicectl health "
					       "show %s')",
				      v->name, v->name);
		v->has_health = 0;
	}
	return 0;
}

static int do_health_show(struct ctx *c)
{
	static const struct field f[] = { { "vip", 0 }, { NULL, 0 } };
	struct sl_vip_cfg *only = NULL;
	__u32 i, j;

	if (fields_check(c->args, f, "", c->e))
		return -1;
	if (json_object_get(c->args, "vip") && !(only = need_vip(c, "vip")))
		return -1;
	c->result = json_array();
	for (i = 0; i < c->st->n_vips; i++) {
		struct sl_vip_cfg *v = c->st->vips[i];

		if (only && v != only)
			continue;
		for (j = 0; j < v->n_be; j++) {
			struct sl_be *b = &v->be[j];
			const struct sl_health_conf *hc = be_health(v, b);
			struct sl_health_status hs;
			char bb[80];
			json_t *o;

			o = json_pack("{s:s, s:s}", "vip", v->name, "backend",
				      sl_endpoint_str(&b->ep, bb, sizeof(bb)));
			json_object_set_new(o, "type",
					    hc ? json_string(sl_health_type_name(hc->type)) : json_null());
			json_object_set_new(o, "config", hc ? sl_health_conf_json(hc) : json_null());
			if (hc && c->st->health && c->st->hc_on[b->slot] &&
			    !sl_health_get(c->st->health, b->slot, &hs)) {
				double since = hs.last_change_ms ?
						       c->now - (double)(sl_health_now_ms() -
									 hs.last_change_ms) / 1000 :
						       0;
				char ts[64];

				json_object_set_new(o, "state", json_string(hs.up ? "up" : "down"));
				if (since > 0) {
					sl_rfc3339(since, ts, sizeof(ts));
					json_object_set_new(o, "since", json_string(ts));
				} else {
					json_object_set_new(o, "since", json_null());
				}
				json_object_set_new(o, "checks", json_integer((json_int_t)hs.checks));
				json_object_set_new(o, "failures", json_integer(hs.fail_streak));
				json_object_set_new(o, "latency_ms",
						    hs.checks ? json_real(hs.last_latency_us / 1000.0) :
								json_null());
				json_object_set_new(o, "last_error",
						    hs.last_error[0] ? json_string(hs.last_error) :
								       json_null());
			} else {
				json_object_set_new(o, "state",
						    json_string(hc ? (b->down ? "down" : "up") :
								     "unchecked"));
				json_object_set_new(o, "since", json_null());
				json_object_set_new(o, "checks", json_integer(0));
				json_object_set_new(o, "failures", json_integer(0));
				json_object_set_new(o, "latency_ms", json_null());
				json_object_set_new(o, "last_error", json_null());
			}
			json_array_append_new(c->result, o);
		}
	}
	return 0;
}

static int do_circuit_reset(struct ctx *c)
{
	static const struct field f[] = { { "vip", 1 }, { "address", 1 }, { "port", 0 },
					  { NULL, 0 } };
	struct sl_vip_cfg *v = checked_vip(c, f, "vip");
	struct sl_be *b;

	if (!v || !(b = need_backend(c, v)))
		return -1;
	if (!c->st->breakers || !c->st->bk_on[b->slot] ||
	    !sl_breakers_reset(c->st->breakers, b->slot))
		return refuse(c->e, 1, "vip %s: backend %s has no circuit breaker (give it a "
				       "\"circuit\" in the configuration)",
			      v->name, ep_text(&b->ep));
	sl_state_breakers_drain(c->st);
	return 0;
}

/* The newest @max lines read, in a ring; parsed only once the read is done. */
struct ev_collect {
	char **ring;
	size_t max, n, next;
};

static int ev_collect_one(void *ctx, long long offset, const char *type, const char *line,
			  size_t len)
{
	struct ev_collect *ec = ctx;
	char *copy = strndup(line, len);

	if (!copy)
		return -ENOMEM;
	free(ec->ring[ec->next]);
	ec->ring[ec->next] = copy;
	ec->next = (ec->next + 1) % ec->max;
	if (ec->n < ec->max)
		ec->n++;
	return 0;
}

/* The collected lines as a JSON array, oldest first; frees them. */
static json_t *ev_collected(struct ev_collect *ec)
{
	json_t *arr = json_array();
	size_t i, at = (ec->next + ec->max - ec->n) % ec->max;

	for (i = 0; i < ec->n; i++, at = (at + 1) % ec->max) {
		json_t *o = json_loads(ec->ring[at], 0, NULL);

		if (o)
			json_array_append_new(arr, o);
	}
	for (i = 0; i < ec->max; i++)
		free(ec->ring[i]);
	free(ec->ring);
	return arr;
}

/* Stored events (the newest 10,000 from "from"); following is the agent loop's. */
static int do_events(struct ctx *c)
{
	static const struct field f[] = { { "from", 0 }, { "type", 0 }, { "follow", 0 },
					  { NULL, 0 } };
	struct ev_collect ec = { .max = 10000 };
	long long from = 0, earliest = 0, n;
	const char *types = NULL;
	json_t *jf, *jt, *arr;

	if (fields_check(c->args, f, "", c->e))
		return -1;
	if (!c->st->events)
		return refuse(c->e, 1, "events: this agent keeps no event stream");
	jf = json_object_get(c->args, "from");
	jt = json_object_get(c->args, "type");
	if (jf && (!json_is_integer(jf) || json_integer_value(jf) < 0))
		return refuse(c->e, 2, "from: must be an offset (an integer >= 0)");
	if (jt && !json_is_string(jt))
		return refuse(c->e, 2, "type: must be a string like \"health,circuit\"");
	if (jf)
		from = json_integer_value(jf);
	if (jt)
		types = json_string_value(jt);
	if (json_is_true(json_object_get(c->args, "follow")))
		return refuse(c->e, 2, "events: follow is answered by the agent's loop only");
	{
		char why[256];

		if (from && sl_events_check_from(c->st->events, from, why, sizeof(why)))
			return refuse(c->e, 1, "events: %s", why);
	}
	ec.ring = calloc(ec.max, sizeof(*ec.ring));
	if (!ec.ring)
		return refuse(c->e, 1, "events: out of memory");
	n = sl_events_read(c->st->events, from, types, ev_collect_one, &ec, &earliest);
	arr = ev_collected(&ec);
	if (n == -ERANGE) {
		json_decref(arr);
		return refuse(c->e, 1,
			      "events: offset %lld is not kept; the earliest is %lld (use --from %lld)",
			      from, earliest, earliest);
	}
	if (n < 0) {
		json_decref(arr);
		return refuse(c->e, 1, "events: reading the stream failed: %s", strerror((int)-n));
	}
	c->result = json_pack("{s:o, s:I, s:I}", "events", arr, "earliest",
			      (json_int_t)sl_events_earliest(c->st->events), "next",
			      (json_int_t)sl_events_next_offset(c->st->events));
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(struct ctx *c);
	int changes; /* recorded in the journal */
} commands[] = {
	{ "attach", do_attach, 1 },
	{ "detach", do_detach, 1 },
	{ "vip.add", do_vip_add, 1 },
	{ "vip.set", do_vip_set, 1 },
	{ "vip.del", do_vip_del, 1 },
	{ "vip.list", do_vip_list, 0 },
	{ "backend.add", do_backend_add, 1 },
	{ "backend.set", do_backend_set, 1 },
	{ "backend.drain", do_backend_drain, 1 },
	{ "backend.del", do_backend_del, 1 },
	{ "backend.list", do_backend_list, 0 },
	{ "limit.set", do_limit_set, 1 },
	{ "limit.clear", do_limit_clear, 1 },
	{ "stats", do_stats, 0 },
	{ "apply", do_apply, 1 },
	{ "config.show", do_config_show, 0 },
	{ "health.set", do_health_set, 1 },
	{ "health.clear", do_health_clear, 1 },
	{ "health.show", do_health_show, 0 },
	{ "circuit.reset", do_circuit_reset, 0 },
	{ "events", do_events, 0 },
};

/* ---- health checks and circuit breakers at run time ---- */

static struct sl_be *be_by_slot(struct sl_state *st, __u32 slot, struct sl_vip_cfg **vp)
{
	__u32 i, j;

	for (i = 0; i < st->n_vips; i++)
		for (j = 0; j < st->vips[i]->n_be; j++)
			if (st->vips[i]->be[j].slot == slot) {
				*vp = st->vips[i];
				return &st->vips[i]->be[j];
			}
	return NULL;
}

/* A backend's flags changed: rewrite its slot and its VIP's group. */
static void be_flags_changed(struct sl_state *st, struct sl_vip_cfg *v, struct sl_be *b)
{
	if (st->dp && be_update(st, v, b))
		pr_err("vip %s: backend %s: writing its state to the kernel failed", v->name,
		       ep_text(&b->ep));
}

void sl_state_health_change(void *ctx, uint64_t key, int up, const char *reason)
{
	struct sl_state *st = ctx;
	struct sl_vip_cfg *v;
	struct sl_be *b = be_by_slot(st, (__u32)key, &v);

	if (!b || b->down == !up)
		return;
	b->down = !up;
	pr_info("vip %s: backend %s is %s: %s", v->name, ep_text(&b->ep), up ? "up" : "down",
		reason);
	be_flags_changed(st, v, b);
	emit(st, up ? "health.up" : "health.down", v, b, json_pack("{s:s}", "reason", reason));
	/*
	 * A fall is a failure for the breaker. A rise is not a pass: it would
	 * reset the failure count at every flap, so a flapping L4 backend (whose
	 * only outcomes are its checks) would never open its breaker. For L7,
	 * real requests decide the rest.
	 */
	if (st->breakers && st->bk_on[b->slot] && !up)
		sl_breakers_health(st->breakers, b->slot, false, false);
}

static void breaker_changed(void *ctx, uint32_t slot, const struct sl_circuit_change *chg)
{
	struct sl_state *st = ctx;
	struct sl_vip_cfg *v;
	struct sl_be *b = be_by_slot(st, slot, &v);
	char type[32];

	if (!b || !st->bk_on[slot])
		return;
	snprintf(type, sizeof(type), "circuit.%s", sl_circuit_state_name(chg->to));
	pr_info("vip %s: backend %s: circuit %s -> %s (%s)", v->name, ep_text(&b->ep),
		sl_circuit_state_name(chg->from), sl_circuit_state_name(chg->to),
		sl_circuit_reason_name(chg->reason));
	emit(st, type, v, b,
	     json_pack("{s:s, s:s, s:i}", "from", sl_circuit_state_name(chg->from), "reason",
		       sl_circuit_reason_name(chg->reason), "seq", (int)chg->seq));
}

/* Transitions the breakers queued; then every flag as the breakers say now. */
void sl_state_breakers_drain(struct sl_state *st)
{
	__u32 i, j;

	if (!st->breakers)
		return;
	sl_breakers_drain(st->breakers, breaker_changed, st);
	for (i = 0; i < st->n_vips; i++)
		for (j = 0; j < st->vips[i]->n_be; j++) {
			struct sl_be *b = &st->vips[i]->be[j];
			struct sl_circuit_info ci;
			int open = st->bk_on[b->slot] && sl_breakers_info(st->breakers, b->slot, &ci) &&
				   ci.state == SL_CIRCUIT_OPEN;

			if (open != b->open) {
				b->open = open;
				be_flags_changed(st, st->vips[i], b);
			}
		}
}

/* Health targets and breakers to match the model (after any change). */
void sl_state_checks_sync(struct sl_state *st)
{
	__u8 want[SL_MAX_BACKENDS] = { 0 };
	__u32 i, j;

	for (i = 0; i < st->n_vips; i++) {
		struct sl_vip_cfg *v = st->vips[i];

		for (j = 0; j < v->n_be; j++) {
			struct sl_be *b = &v->be[j];
			const struct sl_health_conf *hc = be_health(v, b);
			const struct sl_circuit_conf *cc = be_circuit(v, b);
			struct sl_endpoint ep = b->ep;

			if (!ep.port)
				ep.port = v->ep.port;
			if (st->health && hc) {
				int err = st->hc_on[b->slot] ?
						  sl_health_update(st->health, b->slot, &ep, hc) :
						  sl_health_add(st->health, b->slot, &ep, hc, !b->down);

				if (err)
					pr_err("vip %s: backend %s: cannot check it: %s", v->name,
					       ep_text(&b->ep), strerror(-err));
				else
					st->hc_on[b->slot] = want[b->slot] = 1;
				if (!err && st->cstore)
					sl_health_bind_counters(st->health, b->slot,
								hc_cells(st, v, b));
			} else if (b->down) {
				/* no more checks: it counts as up again */
				b->down = 0;
				be_flags_changed(st, v, b);
				emit(st, "health.up", v, b,
				     json_pack("{s:s}", "reason", "health checks removed"));
			}
			if (st->breakers) {
				if (cc && (!st->bk_on[b->slot] ||
					   memcmp(&st->bk_conf[b->slot], cc, sizeof(*cc)))) {
					sl_breakers_set(st->breakers, b->slot, cc);
					st->bk_conf[b->slot] = *cc;
					st->bk_on[b->slot] = 1;
				} else if (!cc && st->bk_on[b->slot]) {
					sl_breakers_set(st->breakers, b->slot, NULL);
					st->bk_on[b->slot] = 0;
				}
			}
		}
	}
	for (i = 0; st->health && i < SL_MAX_BACKENDS; i++)
		if (st->hc_on[i] && !want[i]) {
			sl_health_remove(st->health, i);
			st->hc_on[i] = 0;
		}
	sl_state_breakers_drain(st);
}

/* Give the L7 gateway the L7 VIPs as they are now. */
void sl_state_l7_sync(struct sl_state *st)
{
	static struct sl_proxy_vip pv[SL_MAX_VIPS];
	char err[512];
	size_t n = 0;
	__u32 i;

	if (!st->proxy)
		return;
	for (i = 0; i < st->n_vips; i++) {
		struct sl_vip_cfg *v = st->vips[i];

		if (!v->l7)
			continue;
		pv[n].name = v->name;
		vip_key(v, &pv[n].key);
		pv[n].ep = v->ep;
		pv[n].l7 = v->l7;
		n++;
	}
	if (sl_proxy_sync(st->proxy, pv, n, err, sizeof(err)))
		pr_err("l7: %s", err);
}

int sl_state_exec(struct sl_state *st, json_t *req, double now, json_t **result, struct sl_err *e)
{
	static const struct field f[] = { { "cmd", 1 }, { "args", 0 }, { NULL, 0 } };
	struct ctx c = { .st = st, .now = now, .e = e };
	const char *cmd;
	size_t i;
	int err;

	e->exit = 0;
	e->msg[0] = 0;
	if (fields_check(req, f, "", e))
		return -1;
	cmd = json_string_value(json_object_get(req, "cmd"));
	if (!cmd)
		return refuse(e, 2, "cmd: must be a string");
	c.args = json_object_get(req, "args");
	if (!c.args)
		c.args = json_object();
	else
		json_incref(c.args);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, cmd))
			break;
	if (i == sizeof(commands) / sizeof(commands[0])) {
		json_decref(c.args);
		return refuse(e, 2, "cmd '%s': unknown (see docs/api.md)", cmd);
	}
	err = commands[i].fn(&c);
	if (!err && commands[i].changes && st->journal) {
		json_t *rec = json_pack("{s:s, s:O}", "cmd", cmd, "args", c.args);

		if (sl_journal_append(st->journal, rec, now))
			pr_err("journal: could not record '%s': the change is live but will not "
			       "survive a restart",
			       cmd);
		json_decref(rec);
	}
	json_decref(c.args);
	if (err) {
		json_decref(c.result);
		return -1;
	}
	if (commands[i].changes) {
		sl_state_l7_sync(st);
		sl_state_checks_sync(st);
		emit(st, "config.change", NULL, NULL,
		     json_pack("{s:s, s:O}", "cmd", cmd, "args", json_object_get(req, "args") ?
								 json_object_get(req, "args") :
								 json_null()));
	}
	*result = c.result ? c.result : json_object();
	return 0;
}

/* ---- reconcile and tick ---- */

static void stale_vip(const struct sl_vip_key *k, void *ctx)
{
	struct sl_state *st = ctx;
	struct sl_endpoint ep = { .family = k->family, .port = ntohs(k->port) };

	memcpy(ep.addr, k->addr, sizeof(ep.addr));
	if (!vip_by_endpoint(st, &ep, k->proto)) {
		pr_warn("reconcile: removing VIP %s from the maps: not in the journal", ep_text(&ep));
		sl_dp_vip_del(st->dp, k);
	}
}

int sl_state_reconcile(struct sl_state *st)
{
	struct sl_err e;
	__u32 i, j, slot;
	int err = 0;

	sl_dp_vip_each(st->dp, stale_vip, st);
	for (i = 0; i < SL_MAX_VIPS; i++)
		if (!st->vip_used[i]) {
			sl_dp_group_del(st->dp, i);
			sl_dp_maglev_del(st->dp, i);
		}
	for (slot = 0; slot < SL_MAX_BACKENDS; slot++) {
		struct sl_backend b;

		if (!st->slot_used[slot] && !sl_dp_backend_get(st->dp, slot, &b) && b.gen &&
		    !(b.flags & SL_BE_REMOVED))
			be_mark_removed(st, slot);
	}
	for (i = 0; i < st->n_vips; i++) {
		struct sl_vip_cfg *v = st->vips[i];

		for (j = 0; j < v->n_be; j++)
			err |= be_write(st, v, &v->be[j]);
		err |= vip_publish(st, v);
	}
	globals_publish(st);
	sl_state_l7_sync(st);
	sl_state_checks_sync(st);
	for (i = 0; i < st->n_ifaces; i++)
		if (sl_dp_attach(st->dp, st->ifaces[i].name, st->ifaces[i].generic, e.msg,
				 sizeof(e.msg))) {
			pr_err("%s", e.msg);
			err = -1;
		}
	return err ? -EIO : 0;
}

void sl_state_tick(struct sl_state *st, double now)
{
	__u32 i, j;

	for (i = 0; i < st->n_vips; i++) {
		struct sl_vip_cfg *v = st->vips[i];

		for (j = 0; j < v->n_be; j++) {
			struct sl_be *b = &v->be[j];
			__s64 active;
			char a[64];
			json_t *req, *res = NULL;
			struct sl_err e;

			if (!b->draining)
				continue;
			active = st->dp ? sl_dp_active(st->dp, b->slot) : 0;
			if (active > 0 && now < b->drain_deadline)
				continue;
			pr_info("vip %s: backend %s drained (%lld active flows%s); removing it", v->name,
				ep_text(&b->ep), (long long)active,
				active > 0 ? ", timeout reached" : "");
			emit(st, "backend.drained", v, b,
			     json_pack("{s:I, s:b}", "active_flows", (json_int_t)active, "timeout",
				       active > 0));
			req = json_pack("{s:s, s:{s:s, s:s, s:i}}", "cmd", "backend.del", "args", "vip",
					v->name, "address",
					sl_addr_str(b->ep.addr, b->ep.family, a, sizeof(a)), "port",
					b->ep.port);
			if (sl_state_exec(st, req, now, &res, &e))
				pr_err("vip %s: removing drained backend failed: %s", v->name, e.msg);
			json_decref(res);
			json_decref(req);
			return; /* the arrays changed: look again next tick */
		}
	}
}
