// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Route matching and the "l7" configuration parser (user/proxy/l7conf.c, cors.c,
 * limit.c) on arbitrary input:
 *  - the input split at its first '\n' is (Host header, request-target), matched
 *    against a fixed configuration and, on a match, run through the route's CORS
 *    and limit code;
 *  - the input parsed as JSON is an "l7" object (any "jwt" removed, so nothing is
 *    loaded from files); when it is accepted, its normalized JSON must be accepted
 *    again and normalize to itself, and the same (host, target) is matched on it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../user/proxy/cors.h"
#include "../../user/proxy/l7conf.h"
#include "../../user/proxy/limit.h"

static const char fixed[] =
	"{\"routes\": ["
	" {\"name\": \"any\"},"
	" {\"name\": \"api\", \"host\": \"api.example.com\", \"path\": \"/api/\","
	"  \"limit\": {\"rate\": 5, \"max_keys\": 16}},"
	" {\"name\": \"v2\", \"host\": \"api.example.com\", \"path\": \"/api/v2\","
	"  \"limit\": {\"rate\": 3, \"algorithm\": \"sliding_window\", \"max_keys\": 16}},"
	" {\"name\": \"wild\", \"host\": \"*.example.com\", \"path\": \"/w\","
	"  \"cors\": {\"origins\": [\"https://app.example\", \"http://198.18.0.1:8080\"],"
	"   \"methods\": [\"GET\", \"PUT\"], \"headers\": [\"Authorization\", \"X-A\"],"
	"   \"expose\": [\"X-Request-Id\"], \"max_age\": 60, \"credentials\": true}},"
	" {\"name\": \"wild2\", \"host\": \"*.b.example.com\","
	"  \"cors\": {\"origins\": [\"*\"]}},"
	" {\"name\": \"star-x\", \"path\": \"/x\"}"
	"]}";

static struct sl_l7_conf *conf;

static void exercise(const struct sl_l7_conf *c, const char *host, size_t hlen,
		     const char *target, size_t tlen, uint64_t now)
{
	const struct sl_route *r = sl_route_match(c, host, hlen, target, tlen);
	struct sl_limit_verdict v;
	char out[1024];

	if (!r)
		return;
	if (r < c->routes || r >= c->routes + c->n_routes)
		abort();
	if (r->cors && host) {
		/* NUL-terminated copies: the origin is the host, the headers the target */
		char *h = strndup(host, hlen), *t = strndup(target, tlen);

		if (h && t) {
			sl_cors_preflight(r->cors, h, "PUT", t, out, sizeof(out));
			sl_cors_preflight(r->cors, h, t, NULL, out, sizeof(out));
			sl_cors_actual(r->cors, h, out, sizeof(out));
		}
		free(h);
		free(t);
	}
	if (r->limit) {
		sl_limit_check(r->limit, host, hlen, now, &v);
		if (sl_limit_headers(&v, out, sizeof(out)) < 0)
			abort();
	}
}

/* Remove every route's "jwt": a verifier loads key files. */
static void strip_jwt(json_t *l7)
{
	json_t *routes = json_object_get(l7, "routes"), *r;
	size_t i;

	json_array_foreach(routes, i, r)
		if (json_is_object(r))
			json_object_del(r, "jwt");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data, *nl = memchr(data, '\n', size);
	const char *host = NULL, *target = in;
	size_t hlen = 0, tlen = size;
	struct sl_l7_conf *c, *c2;
	char err[512];
	json_t *j;

	if (!conf) {
		j = json_loads(fixed, 0, NULL);
		conf = sl_l7_conf_from_json(j, "fuzz", err, sizeof(err));
		json_decref(j);
		if (!conf)
			abort();
	}
	if (nl) {
		host = in;
		hlen = nl - in;
		target = nl + 1;
		tlen = size - hlen - 1;
	}
	exercise(conf, host, hlen, target, tlen, (uint64_t)size * 1000000000ULL);

	j = json_loadb(in, size, JSON_REJECT_DUPLICATES, NULL);
	if (!j)
		return 0;
	strip_jwt(j);
	c = sl_l7_conf_from_json(j, "fuzz", err, sizeof(err));
	json_decref(j);
	if (!c)
		return 0;
	/* the normalized object is a valid configuration that normalizes to itself */
	c2 = sl_l7_conf_from_json(c->json, "fuzz", err, sizeof(err));
	if (!c2 || !json_equal(c->json, c2->json) || c2->n_routes != c->n_routes)
		abort();
	exercise(c, "api.example.com:80", 18, "/api/v2/x?y", 11, 1);
	sl_l7_conf_free(c2);
	sl_l7_conf_free(c);
	return 0;
}
