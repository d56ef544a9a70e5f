/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * An L7 VIP's gateway configuration, the "l7" object of a VIP: parsed and
 * validated from JSON into an immutable struct the proxy workers share. A bad
 * field is refused with its JSON path and the fix; nothing is half-built.
 *
 *   "l7": {
 *     "proto": "http",                        X-Forwarded-Proto value (default "http")
 *     "limits":   {"max_request_line": 8192, "max_head": 65536, "max_headers": 100},
 *     "timeouts_ms": {"connect": 2000, "header": 10000, "request": 30000, "idle": 60000},
 *     "request_id_header": "X-Request-Id",    default; "" = none
 *     "routes": [ {                            matched as sl_route_match() says
 *        "name": "api",                        required, unique in the VIP, [A-Za-z0-9_.-]{1,31}
 *        "host": "api.example.com" | "*.example.com" | "*"   default "*"
 *        "path": "/api/",                      prefix, must start with "/"; default "/"
 *        "jwt":  {...}                         see jwt.h; absent = no auth
 *        "cors": {...}                         see cors.h; absent = no CORS handling
 *        "limit": {...}                        see limit.h; absent = no request limit
 *        "splice": "never" | "after-auth"      default "never"
 *     } ]
 *   }
 * With no "routes", one route named "default" matches everything, unauthenticated.
 */
#ifndef SLUICE_PROXY_L7CONF_H
#define SLUICE_PROXY_L7CONF_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "http.h"

struct sl_jwt;
struct sl_cors;
struct sl_limit;

#define SL_ROUTES_MAX 256
#define SL_ROUTE_NAME_MAX 32

enum sl_splice_mode { SL_SPLICE_NEVER = 0, SL_SPLICE_AFTER_AUTH = 1 };

struct sl_route {
	char name[SL_ROUTE_NAME_MAX];
	char *host;	   /* lower-case; "*" any; "*.x.y" any name ending in ".x.y" */
	char *path;	   /* prefix, starts with '/' */
	struct sl_jwt *jwt;	/* NULL: no auth */
	struct sl_cors *cors;	/* NULL: no CORS */
	struct sl_limit *limit; /* NULL: no request limit */
	enum sl_splice_mode splice;
	uint32_t index; /* position in the configuration, for metrics */
};

struct sl_l7_timeouts {
	uint32_t connect_ms, header_ms, request_ms, idle_ms;
};

struct sl_l7_conf {
	char proto[8]; /* "http" or "https" */
	char request_id_header[64];
	struct sl_http_limits limits;
	struct sl_l7_timeouts timeouts;
	uint32_t n_routes;
	struct sl_route *routes; /* sorted for matching (see sl_route_match) */
	json_t *json;		 /* the normalized object, every default filled in */
};

/*
 * Parse @obj (may be NULL or an empty object: all defaults). @path prefixes field
 * names in errors ("vips[2].l7"). Returns NULL with @err filled on any error.
 */
struct sl_l7_conf *sl_l7_conf_from_json(const json_t *obj, const char *path, char *err,
					size_t errlen);
void sl_l7_conf_free(struct sl_l7_conf *c);

/*
 * The route for a request: @host is the Host header (port stripped here,
 * compared case-insensitively), @target the request-target (query ignored).
 * Host-specific routes beat "*"; exact hosts beat wildcards; a longer wildcard
 * suffix beats a shorter one; then the longest path prefix wins; ties keep
 * configuration order. NULL: no route matches (404).
 * A path prefix matches when the target's path (up to '?' or '#') starts with it
 * and the prefix ends with '/' or the path ends or goes on with '/' right after
 * it: "/api" matches "/api", "/api/x", "/api?q", not "/apix"; "/api/" does not
 * match "/api". Paths compare as received (no percent-decoding or dot-segment
 * removal). An absent or empty Host only matches "*" routes; an absolute-form
 * target ("http://h/p") supplies the host and path and the Host header is ignored.
 */
const struct sl_route *sl_route_match(const struct sl_l7_conf *c, const char *host,
				      size_t host_len, const char *target, size_t target_len);

#endif
