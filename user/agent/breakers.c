// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The agent's per-slot circuit breakers and their transition queue (breakers.h). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "breakers.h"
#include "sluice/abi.h"
#include "../lib/log.h"

#define QUEUE_MAX 4096 /* transitions waiting for the main thread */

struct queued {
	uint32_t slot;
	struct sl_circuit_change chg;
};

struct sl_breakers {
	struct sl_circuit c[SL_MAX_BACKENDS];
	uint32_t on[SL_MAX_BACKENDS];	   /* atomic: the slot has a breaker */
	uint32_t timeout[SL_MAX_BACKENDS]; /* atomic: call_timeout_ms, for classifying */
	int efd;
	pthread_mutex_t qlock;
	struct queued q[QUEUE_MAX];
	unsigned head, len;
	uint64_t lost; /* transitions the full queue could not take */
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Called by a breaker, with its mutex held, on any thread. */
static void on_change(void *arg, const struct sl_circuit *c, const struct sl_circuit_change *chg)
{
	struct sl_breakers *b = arg;
	uint32_t slot = (uint32_t)(c - b->c);
	uint64_t one = 1;

	pthread_mutex_lock(&b->qlock);
	if (b->len < QUEUE_MAX) {
		b->q[(b->head + b->len) % QUEUE_MAX] = (struct queued){ slot, *chg };
		b->len++;
	} else {
		b->lost++;
	}
	pthread_mutex_unlock(&b->qlock);
	if (write(b->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		pr_warn("circuit: waking the agent: %s", strerror(errno));
}

struct sl_breakers *sl_breakers_new(void)
{
	struct sl_breakers *b = calloc(1, sizeof(*b));
	struct sl_circuit_conf dflt;
	uint32_t i;

	if (!b)
		return NULL;
	b->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (b->efd < 0) {
		free(b);
		return NULL;
	}
	pthread_mutex_init(&b->qlock, NULL);
	sl_circuit_conf_default(&dflt);
	for (i = 0; i < SL_MAX_BACKENDS; i++)
		sl_circuit_init(&b->c[i], &dflt, on_change, b);
	return b;
}

void sl_breakers_free(struct sl_breakers *b)
{
	uint32_t i;

	if (!b)
		return;
	for (i = 0; i < SL_MAX_BACKENDS; i++)
		sl_circuit_fini(&b->c[i]);
	close(b->efd);
	pthread_mutex_destroy(&b->qlock);
	free(b);
}

int sl_breakers_fd(const struct sl_breakers *b)
{
	return b->efd;
}

void sl_breakers_set(struct sl_breakers *b, uint32_t slot, const struct sl_circuit_conf *conf)
{
	if (slot >= SL_MAX_BACKENDS)
		return;
	if (!conf) {
		__atomic_store_n(&b->on[slot], 0, __ATOMIC_RELEASE);
		sl_circuit_reset(&b->c[slot], mono_ms());
		return;
	}
	sl_circuit_set_conf(&b->c[slot], conf);
	__atomic_store_n(&b->timeout[slot], conf->call_timeout_ms, __ATOMIC_RELAXED);
	__atomic_store_n(&b->on[slot], 1, __ATOMIC_RELEASE);
}

static bool on(const struct sl_breakers *b, uint32_t slot)
{
	return slot < SL_MAX_BACKENDS && __atomic_load_n(&b->on[slot], __ATOMIC_ACQUIRE);
}

bool sl_breakers_info(struct sl_breakers *b, uint32_t slot, struct sl_circuit_info *out)
{
	if (!on(b, slot))
		return false;
	sl_circuit_info(&b->c[slot], out);
	return true;
}

bool sl_breakers_reset(struct sl_breakers *b, uint32_t slot)
{
	if (!on(b, slot))
		return false;
	sl_circuit_reset(&b->c[slot], mono_ms());
	return true;
}

void sl_breakers_health(struct sl_breakers *b, uint32_t slot, bool ok, bool count_passes)
{
	if (on(b, slot) && (!ok || count_passes))
		sl_circuit_health(&b->c[slot], ok, mono_ms());
}

void sl_breakers_tick(struct sl_breakers *b)
{
	uint64_t now = mono_ms();
	uint32_t i;

	for (i = 0; i < SL_MAX_BACKENDS; i++)
		if (on(b, i) && sl_circuit_state(&b->c[i]) == SL_CIRCUIT_OPEN)
			sl_circuit_tick(&b->c[i], now);
}

/* The ticket: bit 63 "admitted by a breaker", bit 32 the trial flag, low 32 the word. */
bool sl_breakers_admit(struct sl_breakers *b, uint32_t slot, uint64_t *ticket)
{
	struct sl_circuit_ticket t;

	*ticket = 0;
	if (!on(b, slot))
		return true;
	if (!sl_circuit_admit(&b->c[slot], mono_ms(), &t))
		return false;
	*ticket = 1ULL << 63 | (uint64_t)(t.trial & 1) << 32 | t.word;
	return true;
}

void sl_breakers_done(struct sl_breakers *b, uint32_t slot, uint64_t ticket, int status,
		      bool connect_error, uint32_t ms)
{
	struct sl_circuit_ticket t = { .word = (uint32_t)ticket, .trial = (uint32_t)(ticket >> 32) & 1 };
	struct sl_circuit_conf conf = { .call_timeout_ms = 0 };
	enum sl_call_outcome out;

	if (!(ticket >> 63) || slot >= SL_MAX_BACKENDS)
		return;
	if (!status && !connect_error) {
		out = SL_CALL_ABANDONED;
	} else {
		conf.call_timeout_ms = __atomic_load_n(&b->timeout[slot], __ATOMIC_RELAXED);
		out = sl_circuit_classify(&conf, status, connect_error, ms);
	}
	sl_circuit_done(&b->c[slot], &t, out, mono_ms());
}

int sl_breakers_drain(struct sl_breakers *b, sl_breakers_fn fn, void *ctx)
{
	uint64_t v, lost;
	int n = 0;

	if (read(b->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		pr_warn("circuit: reading the wake-up: %s", strerror(errno));
	for (;;) {
		struct queued item;

		pthread_mutex_lock(&b->qlock);
		if (!b->len) {
			lost = b->lost;
			b->lost = 0;
			pthread_mutex_unlock(&b->qlock);
			break;
		}
		item = b->q[b->head];
		b->head = (b->head + 1) % QUEUE_MAX;
		b->len--;
		pthread_mutex_unlock(&b->qlock);
		fn(ctx, item.slot, &item.chg);
		n++;
	}
	if (lost)
		pr_err("circuit: %llu transitions were lost (queue full); kernel flags are "
		       "re-read from the breakers",
		       (unsigned long long)lost);
	return n;
}
