/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Request limits (limit.h).
 *
 * Token bucket: kept as GCRA (a "theoretical arrival time" per key), which is
 * the same admission rule as a bucket of @burst tokens refilled at @rate per
 * @per_ms, in one integer per key. The emission interval T = per/rate is
 * rounded up to a whole nanosecond, so rounding only ever admits less.
 *
 * Sliding window: the two-window weighted approximation. A key counts requests
 * in the current fixed window of per_ms and remembers the previous window's
 * count; the estimate is prev * (unelapsed fraction of the window) + cur, and a
 * request is admitted while estimate + 1 <= rate. It never admits more than
 * rate in any one fixed window, and at most 2 * rate in a sliding one (the
 * bound when the previous window's requests all came at its end).
 *
 * Keys live in up to SL_LIMIT_SHARDS hash tables, each under its own mutex,
 * holding at most max_keys entries in all (allocated as keys arrive); a full
 * shard forgets its least recently used key. Tables under 512 keys are one
 * shard, so their LRU order is exact. Keys are hashed with SipHash-2-4 under a random key, so a client cannot
 * choose addresses or subjects that collide.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "limit.h"
#include "cfg.h"

#define NS_PER_MS 1000000ULL
#define NS_PER_S 1000000000ULL

#define SL_LIMIT_RATE_MAX 1000000u
#define SL_LIMIT_PER_MS_MAX 86400000u /* one day */
#define SL_LIMIT_KEYS_MAX (1u << 24)
#define SL_LIMIT_SHARDS 16u
#define SL_LIMIT_BUCKETS_MAX (1u << 20) /* per shard */
#define SL_LIMIT_SHARD_MIN_KEYS 256u /* no shard smaller than this, unless there is one */
#define SL_LIMIT_KEY_BYTES 128 /* longer keys: these bytes, then the full hash decides */

enum sl_limit_algo { SL_LIMIT_TOKEN_BUCKET = 0, SL_LIMIT_SLIDING_WINDOW = 1 };

struct sl_limit_entry {
	struct sl_limit_entry *hnext;		/* hash chain */
	struct sl_limit_entry *lru_prev, *lru_next; /* most recent at lru_head */
	uint64_t hash;
	uint64_t a; /* token bucket: tat (ns); window: start of the current window (ns) */
	uint32_t cur, prev; /* window: counts of the current and the previous window */
	uint32_t key_len;   /* the key's full length */
	unsigned char key[]; /* min(key_len, SL_LIMIT_KEY_BYTES) bytes */
};

struct sl_limit_shard {
	pthread_mutex_t lock;
	struct sl_limit_entry **buckets;
	uint32_t n_buckets; /* power of two */
	uint32_t count, cap;
	struct sl_limit_entry *lru_head, *lru_tail;
};

struct sl_limit {
	enum sl_limit_key key;
	enum sl_limit_algo algo;
	uint32_t rate, per_ms, burst, max_keys;
	uint64_t per_ns;
	uint64_t t_ns; /* token bucket: emission interval, ceil(per_ns / rate) */
	uint64_t sip[2];
	uint32_t n_shards;
	struct sl_limit_shard shards[];
};

/* ---- SipHash-2-4 ---- */

#define ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND(v0, v1, v2, v3)                                                       \
	do {                                                                           \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);              \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                                 \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                                 \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);              \
	} while (0)

static uint64_t siphash24(const uint64_t k[2], const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t v0 = 0x736f6d6570736575ULL ^ k[0], v1 = 0x646f72616e646f6dULL ^ k[1];
	uint64_t v2 = 0x6c7967656e657261ULL ^ k[0], v3 = 0x7465646279746573ULL ^ k[1];
	uint64_t m, b = (uint64_t)len << 56;
	size_t i, n = len & ~(size_t)7;
	int j;

	for (i = 0; i < n; i += 8) {
		m = 0;
		for (j = 7; j >= 0; j--)
			m = (m << 8) | p[i + j];
		v3 ^= m;
		SIPROUND(v0, v1, v2, v3);
		SIPROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	for (j = 0; i + j < len; j++)
		b |= (uint64_t)p[i + j] << (8 * j);
	v3 ^= b;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	for (j = 0; j < 4; j++)
		SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- configuration ---- */

static const char *const limit_keys[] = { "key", "algorithm", "rate", "per_ms", "burst",
					  "max_keys" };

static struct sl_limit *limit_new(uint32_t max_keys)
{
	/* small tables are one shard: an exact LRU; big ones spread the lock */
	uint32_t n_shards = max_keys / SL_LIMIT_SHARD_MIN_KEYS;
	struct sl_limit *l;
	uint32_t i;

	if (n_shards < 1)
		n_shards = 1;
	if (n_shards > SL_LIMIT_SHARDS)
		n_shards = SL_LIMIT_SHARDS;
	l = calloc(1, sizeof(*l) + n_shards * sizeof(l->shards[0]));
	if (!l)
		return NULL;
	l->n_shards = n_shards;
	for (i = 0; i < n_shards; i++) {
		struct sl_limit_shard *s = &l->shards[i];

		/* split max_keys exactly: the first (max_keys % n) shards hold one more */
		s->cap = max_keys / n_shards + (i < max_keys % n_shards);
		s->n_buckets = 16; /* doubled as keys arrive (shard_grow) */
		pthread_mutex_init(&s->lock, NULL);
		s->buckets = calloc(s->n_buckets, sizeof(*s->buckets));
		if (!s->buckets) {
			l->n_shards = i + 1;
			sl_limit_free(l);
			return NULL;
		}
	}
	if (getrandom(l->sip, sizeof(l->sip), 0) != sizeof(l->sip)) {
		/* no entropy source: still correct, only predictable */
		l->sip[0] = (uintptr_t)l ^ 0x9e3779b97f4a7c15ULL;
		l->sip[1] = (uintptr_t)&l ^ 0xbf58476d1ce4e5b9ULL;
	}
	return l;
}

struct sl_limit *sl_limit_from_json(const json_t *obj, const char *path, char *err,
				    size_t errlen)
{
	uint32_t rate = 0, per_ms = 1000, burst = 0, max_keys = 65536;
	enum sl_limit_algo algo = SL_LIMIT_TOKEN_BUCKET;
	enum sl_limit_key key = SL_LIMIT_BY_CLIENT;
	const json_t *v;
	struct sl_limit *l;

	if (!json_is_object(obj)) {
		snprintf(err, errlen, "%s: must be an object like {\"rate\": 10, \"per_ms\": 1000}",
			 path);
		return NULL;
	}
	if (sl_cfg_keys(obj, limit_keys, sizeof(limit_keys) / sizeof(limit_keys[0]), path,
			err, errlen))
		return NULL;
	v = json_object_get(obj, "key");
	if (v) {
		const char *s = json_string_value(v);

		if (s && !strcmp(s, "client")) {
			key = SL_LIMIT_BY_CLIENT;
		} else if (s && !strcmp(s, "subject")) {
			key = SL_LIMIT_BY_SUBJECT;
		} else {
			snprintf(err, errlen, "%s.key: must be \"client\" or \"subject\"", path);
			return NULL;
		}
	}
	v = json_object_get(obj, "algorithm");
	if (v) {
		const char *s = json_string_value(v);

		if (s && !strcmp(s, "token_bucket")) {
			algo = SL_LIMIT_TOKEN_BUCKET;
		} else if (s && !strcmp(s, "sliding_window")) {
			algo = SL_LIMIT_SLIDING_WINDOW;
		} else {
			snprintf(err, errlen,
				 "%s.algorithm: must be \"token_bucket\" or \"sliding_window\"",
				 path);
			return NULL;
		}
	}
	if (!json_object_get(obj, "rate")) {
		snprintf(err, errlen, "%s.rate: required: requests per \"per_ms\" (1..%u)", path,
			 SL_LIMIT_RATE_MAX);
		return NULL;
	}
	if (sl_cfg_u32(obj, "rate", 1, SL_LIMIT_RATE_MAX, &rate, path, err, errlen) ||
	    sl_cfg_u32(obj, "per_ms", 1, SL_LIMIT_PER_MS_MAX, &per_ms, path, err, errlen) ||
	    sl_cfg_u32(obj, "max_keys", 1, SL_LIMIT_KEYS_MAX, &max_keys, path, err, errlen))
		return NULL;
	if (json_object_get(obj, "burst")) {
		if (algo != SL_LIMIT_TOKEN_BUCKET) {
			snprintf(err, errlen,
				 "%s.burst: only for \"token_bucket\"; a sliding window admits "
				 "\"rate\" per window",
				 path);
			return NULL;
		}
		if (sl_cfg_u32(obj, "burst", 1, SL_LIMIT_RATE_MAX, &burst, path, err, errlen))
			return NULL;
	}
	if (!burst)
		burst = rate;

	l = limit_new(max_keys);
	if (!l) {
		snprintf(err, errlen, "%s: out of memory for %u keys", path, max_keys);
		return NULL;
	}
	l->key = key;
	l->algo = algo;
	l->rate = rate;
	l->per_ms = per_ms;
	l->burst = burst;
	l->max_keys = max_keys;
	l->per_ns = (uint64_t)per_ms * NS_PER_MS;
	l->t_ns = (l->per_ns + rate - 1) / rate;
	return l;
}

json_t *sl_limit_to_json(const struct sl_limit *l)
{
	json_t *o = json_object();

	json_object_set_new(o, "key",
			    json_string(l->key == SL_LIMIT_BY_SUBJECT ? "subject" : "client"));
	json_object_set_new(o, "algorithm",
			    json_string(l->algo == SL_LIMIT_SLIDING_WINDOW ? "sliding_window" :
									      "token_bucket"));
	json_object_set_new(o, "rate", json_integer(l->rate));
	json_object_set_new(o, "per_ms", json_integer(l->per_ms));
	if (l->algo == SL_LIMIT_TOKEN_BUCKET)
		json_object_set_new(o, "burst", json_integer(l->burst));
	json_object_set_new(o, "max_keys", json_integer(l->max_keys));
	return o;
}

void sl_limit_free(struct sl_limit *l)
{
	struct sl_limit_entry *e, *next;
	uint32_t i;

	if (!l)
		return;
	for (i = 0; i < l->n_shards; i++) {
		struct sl_limit_shard *s = &l->shards[i];

		for (e = s->lru_head; e; e = next) {
			next = e->lru_next;
			free(e);
		}
		free(s->buckets);
		pthread_mutex_destroy(&s->lock);
	}
	free(l);
}

enum sl_limit_key sl_limit_keyed_by(const struct sl_limit *l)
{
	return l->key;
}

uint32_t sl_limit_keys(struct sl_limit *l)
{
	uint32_t i, n = 0;

	for (i = 0; i < l->n_shards; i++) {
		pthread_mutex_lock(&l->shards[i].lock);
		n += l->shards[i].count;
		pthread_mutex_unlock(&l->shards[i].lock);
	}
	return n;
}

/* ---- the key table ---- */

static void lru_unlink(struct sl_limit_shard *s, struct sl_limit_entry *e)
{
	if (e->lru_prev)
		e->lru_prev->lru_next = e->lru_next;
	else
		s->lru_head = e->lru_next;
	if (e->lru_next)
		e->lru_next->lru_prev = e->lru_prev;
	else
		s->lru_tail = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

static void lru_push(struct sl_limit_shard *s, struct sl_limit_entry *e)
{
	e->lru_prev = NULL;
	e->lru_next = s->lru_head;
	if (s->lru_head)
		s->lru_head->lru_prev = e;
	else
		s->lru_tail = e;
	s->lru_head = e;
}

static void shard_remove(struct sl_limit_shard *s, struct sl_limit_entry *e)
{
	struct sl_limit_entry **pp = &s->buckets[e->hash & (s->n_buckets - 1)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(s, e);
	s->count--;
	free(e);
}

/* Double the buckets when chains average over two entries; failing is harmless. */
static void shard_grow(struct sl_limit_shard *s)
{
	uint32_t i, n = s->n_buckets * 2;
	struct sl_limit_entry **b, *e, *next;

	if (s->count <= 2 * s->n_buckets || n > SL_LIMIT_BUCKETS_MAX)
		return;
	b = calloc(n, sizeof(*b));
	if (!b)
		return;
	for (i = 0; i < s->n_buckets; i++) {
		for (e = s->buckets[i]; e; e = next) {
			next = e->hnext;
			e->hnext = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(s->buckets);
	s->buckets = b;
	s->n_buckets = n;
}

/*
 * The entry for a key, created (fresh: zero state) when absent; NULL only when
 * out of memory. Called with the shard locked.
 */
static struct sl_limit_entry *shard_get(struct sl_limit_shard *s, uint64_t hash,
					const unsigned char *key, size_t key_len, bool *fresh)
{
	size_t stored = key_len < SL_LIMIT_KEY_BYTES ? key_len : SL_LIMIT_KEY_BYTES;
	struct sl_limit_entry **head = &s->buckets[hash & (s->n_buckets - 1)];
	struct sl_limit_entry *e;

	for (e = *head; e; e = e->hnext) {
		if (e->hash == hash && e->key_len == key_len && !memcmp(e->key, key, stored)) {
			if (s->lru_head != e) {
				lru_unlink(s, e);
				lru_push(s, e);
			}
			*fresh = false;
			return e;
		}
	}
	if (s->count >= s->cap && s->lru_tail)
		shard_remove(s, s->lru_tail);
	e = calloc(1, sizeof(*e) + stored);
	if (!e)
		return NULL;
	e->hash = hash;
	e->key_len = (uint32_t)key_len;
	memcpy(e->key, key, stored);
	head = &s->buckets[hash & (s->n_buckets - 1)];
	e->hnext = *head;
	*head = e;
	lru_push(s, e);
	s->count++;
	shard_grow(s);
	*fresh = true;
	return e;
}

/* ---- the algorithms ---- */

static uint32_t ceil_s(uint64_t ns)
{
	uint64_t s = (ns + NS_PER_S - 1) / NS_PER_S;

	return s > UINT32_MAX ? UINT32_MAX : (uint32_t)s;
}

static void bucket_check(const struct sl_limit *l, struct sl_limit_entry *e, bool fresh,
			 uint64_t now, struct sl_limit_verdict *v)
{
	uint64_t tau = (uint64_t)l->burst * l->t_ns; /* how far tat may run ahead of now */
	uint64_t tat = fresh || e->a < now ? now : e->a;
	uint64_t ahead;

	v->limit = l->burst;
	if (tat + l->t_ns - now <= tau) {
		tat += l->t_ns;
		e->a = tat;
		v->allowed = true;
	} else {
		e->a = tat;
		v->allowed = false;
		/* one token is back when tat + T - now falls to tau */
		v->retry_after_s = ceil_s(tat + l->t_ns - tau - now);
		if (!v->retry_after_s)
			v->retry_after_s = 1;
	}
	ahead = tat - now;
	v->remaining = ahead >= tau ? 0 : (uint32_t)((tau - ahead) / l->t_ns);
	v->reset_s = ceil_s(ahead);
	if (!v->remaining && !v->reset_s)
		v->reset_s = 1;
}

/* Nanoseconds into the window from which prev * (W - t) / W + cur <= want. */
static uint64_t window_wait(uint64_t w, uint32_t prev, uint32_t cur, uint32_t want)
{
	unsigned __int128 need;

	if (cur > want)
		return UINT64_MAX;
	if (!prev || (uint64_t)prev <= want - cur)
		return 0;
	/* prev * (W - t) <= (want - cur) * W  <=>  t >= W - (want - cur) * W / prev */
	need = (unsigned __int128)(want - cur) * w;
	return w - (uint64_t)(need / prev);
}

static void window_check(const struct sl_limit *l, struct sl_limit_entry *e, bool fresh,
			 uint64_t now, struct sl_limit_verdict *v)
{
	uint64_t w = l->per_ns, start = now - now % w, elapsed, wait;
	unsigned __int128 est; /* estimate of requests in the sliding window, times W */

	if (fresh || e->a + 2 * w <= start) {
		e->prev = 0;
		e->cur = 0;
	} else if (e->a + w == start) {
		e->prev = e->cur;
		e->cur = 0;
	} else if (e->a > start) {
		start = e->a; /* a clock that went back: stay in the newer window */
	}
	e->a = start;
	elapsed = now > start ? now - start : 0;
	est = (unsigned __int128)e->prev * (w - elapsed) + (unsigned __int128)e->cur * w;

	v->limit = l->rate;
	if (est + w <= (unsigned __int128)l->rate * w) {
		e->cur++;
		est += w;
		v->allowed = true;
	} else {
		v->allowed = false;
		/* the first t at which one more fits: now in this window, else in the next */
		wait = window_wait(w, e->prev, e->cur, l->rate - 1);
		if (wait != UINT64_MAX)
			wait = wait > elapsed ? wait - elapsed : 0;
		else
			wait = (w - elapsed) + window_wait(w, e->cur, 0, l->rate - 1);
		v->retry_after_s = ceil_s(wait);
		if (!v->retry_after_s)
			v->retry_after_s = 1;
	}
	est = (est + w - 1) / w; /* whole requests, rounded up */
	v->remaining = est >= l->rate ? 0 : l->rate - (uint32_t)est;
	/* whole again once this window's requests have slid out of the next window */
	if (e->cur)
		v->reset_s = ceil_s((w - elapsed) + w);
	else if (e->prev)
		v->reset_s = ceil_s(w - elapsed);
	else
		v->reset_s = 0;
	if (!v->remaining && !v->reset_s)
		v->reset_s = 1;
}

void sl_limit_check(struct sl_limit *l, const void *key, size_t key_len, uint64_t now_ns,
		    struct sl_limit_verdict *v)
{
	static const unsigned char none;
	const unsigned char *k = key_len ? key : &none;
	uint64_t hash = siphash24(l->sip, k, key_len);
	struct sl_limit_shard *s = &l->shards[(hash >> 32) % l->n_shards];
	struct sl_limit_entry *e;
	bool fresh;

	memset(v, 0, sizeof(*v));
	pthread_mutex_lock(&s->lock);
	e = shard_get(s, hash, k, key_len, &fresh);
	if (!e) {
		/* out of memory: fail open rather than refuse every client */
		pthread_mutex_unlock(&s->lock);
		v->allowed = true;
		v->limit = l->algo == SL_LIMIT_TOKEN_BUCKET ? l->burst : l->rate;
		v->remaining = v->limit;
		return;
	}
	if (l->algo == SL_LIMIT_TOKEN_BUCKET)
		bucket_check(l, e, fresh, now_ns, v);
	else
		window_check(l, e, fresh, now_ns, v);
	pthread_mutex_unlock(&s->lock);
}

int sl_limit_headers(const struct sl_limit_verdict *v, char *out, size_t outlen)
{
	int n;

	if (v->allowed)
		n = snprintf(out, outlen,
			     "RateLimit-Limit: %u\r\nRateLimit-Remaining: %u\r\n"
			     "RateLimit-Reset: %u\r\n",
			     v->limit, v->remaining, v->reset_s);
	else
		n = snprintf(out, outlen,
			     "RateLimit-Limit: %u\r\nRateLimit-Remaining: %u\r\n"
			     "RateLimit-Reset: %u\r\nRetry-After: %u\r\n",
			     v->limit, v->remaining, v->reset_s, v->retry_after_s);
	if (n < 0 || (size_t)n >= outlen)
		return -1;
	return n;
}
