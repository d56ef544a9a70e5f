/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Request limits for one route: per client address or per JWT subject, as a
 * token bucket or a sliding window. Thread-safe; the key table is bounded
 * (least recently used keys are forgotten first).
 *
 *   "limit": {"key": "client" | "subject",       default "client" ("subject" needs "jwt")
 *             "algorithm": "token_bucket" | "sliding_window",   default token_bucket
 *             "rate": 10,                        requests per "per_ms" (>= 1)
 *             "per_ms": 1000,                    default 1000
 *             "burst": 20,                       token bucket only; default = rate
 *             "max_keys": 65536}                 default 65536
 */
#ifndef SLUICE_PROXY_LIMIT_H
#define SLUICE_PROXY_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

enum sl_limit_key { SL_LIMIT_BY_CLIENT = 0, SL_LIMIT_BY_SUBJECT = 1 };

struct sl_limit;

struct sl_limit *sl_limit_from_json(const json_t *obj, const char *path, char *err,
				    size_t errlen);
void sl_limit_free(struct sl_limit *l);
enum sl_limit_key sl_limit_keyed_by(const struct sl_limit *l);

struct sl_limit_verdict {
	bool allowed;
	uint32_t limit;		/* RateLimit-Limit: requests per window */
	uint32_t remaining;	/* RateLimit-Remaining */
	uint32_t reset_s;	/* RateLimit-Reset: seconds until the quota is whole again (>= 1 when 0 remain) */
	uint32_t retry_after_s; /* Retry-After when refused (>= 1) */
};

/* Charge one request for @key (any bytes: an address, a subject) at monotonic @now_ns. */
void sl_limit_check(struct sl_limit *l, const void *key, size_t key_len, uint64_t now_ns,
		    struct sl_limit_verdict *v);

/* Write "RateLimit-Limit: ..\r\nRateLimit-Remaining: ..\r\nRateLimit-Reset: ..\r\n"
 * (plus "Retry-After: ..\r\n" when refused) into @out; returns the length, or -1. */
int sl_limit_headers(const struct sl_limit_verdict *v, char *out, size_t outlen);

/* The normalized "limit" object, every default filled in (new reference). */
json_t *sl_limit_to_json(const struct sl_limit *l);
/* Keys currently remembered (at most "max_keys"). */
uint32_t sl_limit_keys(struct sl_limit *l);

#endif
