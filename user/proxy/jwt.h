/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * JWT bearer verification for one L7 route: keys from a JWKS file (and/or a PEM
 * public key or an HMAC secret file), an explicit algorithm allow-list, claim
 * rules, and a bounded cache of verified tokens. Thread-safe: proxy workers call
 * sl_jwt_verify() concurrently on one verifier.
 *
 * Configuration, the "jwt" object of a route (see docs/configuration.md):
 *   {"jwks": "/etc/sluice/jwks.json",     JWKS file (kty RSA, EC P-256/P-384, oct)
 *    "pem": "/etc/sluice/pub.pem",        optional: one PEM public key (kid from "pem_kid")
 *    "algs": ["RS256", "ES256"],          required allow-list: HS256/384/512 RS256/384/512 ES256/384
 *    "issuer": "https://idp.example",     optional: required "iss"
 *    "audience": ["api", "web"],          optional: "aud" (string or array) must contain one
 *    "leeway_s": 30,                      clock skew allowed for exp/nbf (default 0)
 *    "required_claims": ["sub"],          claims that must be present
 *    "forward_subject": "X-Auth-Subject", optional: header carrying "sub" upstream
 *    "cache_ttl_s": 300,                  verified-token cache TTL (default 300, 0 = off)
 *    "cache_size": 10000,                 cache entries (default 10000)
 *    "reload_interval_ms": 1000}          min gap between JWKS reloads on unknown kid (default 1000)
 */
#ifndef SLUICE_PROXY_JWT_H
#define SLUICE_PROXY_JWT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <jansson.h>

enum sl_jwt_result {
	SL_JWT_OK = 0,
	SL_JWT_MISSING,	      /* no Authorization header, or not "Bearer <token>" */
	SL_JWT_MALFORMED,     /* not three parts, bad base64url, bad JSON, bad types */
	SL_JWT_BAD_ALG,	      /* "none", not in the allow-list, or not the key's type */
	SL_JWT_UNKNOWN_KID,   /* no key with that kid, even after a reload */
	SL_JWT_BAD_SIGNATURE, /* signature does not verify */
	SL_JWT_EXPIRED,	      /* exp + leeway <= now */
	SL_JWT_NOT_YET_VALID, /* nbf - leeway > now */
	SL_JWT_BAD_ISSUER,
	SL_JWT_BAD_AUDIENCE,
	SL_JWT_MISSING_CLAIM, /* a required claim is absent */
	SL_JWT__MAX,
};

/* "expired", "bad_signature", ...: for logs and metric labels. */
const char *sl_jwt_result_name(enum sl_jwt_result r);

struct sl_jwt;

/*
 * Build a verifier from a route's "jwt" object. @path names the object in
 * errors ("vips[0].l7.routes[2].jwt"). Loads the keys now: a missing or invalid
 * key file is an error. Returns NULL with a one-line reason in @err that names
 * the field and the fix.
 */
struct sl_jwt *sl_jwt_from_json(const json_t *obj, const char *path, char *err, size_t errlen);
void sl_jwt_free(struct sl_jwt *j);

/*
 * Verify the value of an Authorization header (@authz, @len; NULL when absent)
 * at unix time @now. On SL_JWT_OK, the "sub" claim (if any) is copied into @sub
 * (NUL-terminated, truncated to @sublen; "" when absent). Never logs the token.
 * Checks the JWKS file for changes at most once a second, and reloads at most
 * once per reload interval when a kid is unknown; a bad new file keeps the old
 * keys (and counts a reload error).
 */
enum sl_jwt_result sl_jwt_verify(struct sl_jwt *j, const char *authz, size_t len, time_t now,
				 char *sub, size_t sublen);

/* Header name to forward the subject in, or NULL. */
const char *sl_jwt_forward_header(const struct sl_jwt *j);

struct sl_jwt_stats {
	uint64_t verified;		     /* SL_JWT_OK, cache hits included */
	uint64_t failed[SL_JWT__MAX];	     /* by result */
	uint64_t cache_hits, cache_misses;   /* misses = signature checks done */
	uint64_t reloads, reload_errors;     /* JWKS file reloads */
	uint64_t keys;			     /* keys in the current set */
};
void sl_jwt_get_stats(struct sl_jwt *j, struct sl_jwt_stats *out);

/*
 * Count into @cells (SL_JWT_CELLS of them, e.g. a persistent block from
 * cstore.h) instead of the object's own; NULL: back to its own. Call before
 * the object is shared with other threads.
 */
#define SL_JWT_CELLS (5 + SL_JWT__MAX)
void sl_jwt_bind_counters(struct sl_jwt *j, uint64_t *cells);

/*
 * Tests: replace the monotonic millisecond clock that paces JWKS change checks
 * (once a second) and unknown-kid reloads (once per reload_interval_ms); NULL
 * restores CLOCK_MONOTONIC. Restarts both pacing intervals at the new clock's now.
 */
void sl_jwt_set_clock(struct sl_jwt *j, uint64_t (*now_ms)(void));

#endif
