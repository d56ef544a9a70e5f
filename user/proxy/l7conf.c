/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * An L7 VIP's gateway configuration (l7conf.h): validation of the "l7" object,
 * its normalized copy, and route matching.
 *
 * Matching. At parse time the routes are sorted once by (host class, then
 * longest path, then configuration order), where the host class orders exact
 * hosts first, then wildcards by descending suffix length, then "*". The first
 * route in that order whose host and path both match is the answer, so a
 * lookup is a scan with no allocation. Only one exact host and only one
 * wildcard suffix of each length can match a given name, so this order is
 * exactly the precedence l7conf.h documents.
 *
 * A path prefix P matches the request path T (the target up to '?' or '#')
 * when T starts with P and either P ends with '/', or T ends right after P, or
 * the next byte of T is '/': "/api" matches "/api", "/api/x" and "/api?q" but
 * not "/apix"; "/api/" matches "/api/x" but not "/api". Paths are compared
 * byte for byte, as received (no percent-decoding, no dot-segment removal).
 *
 * The Host header: ":port" is dropped (after "]" for an IPv6 literal), then
 * one trailing '.', and the rest compares case-insensitively. A request with
 * no (or an empty) Host only matches "*" routes. An absolute-form target
 * ("http://h:1/p?q") supplies both the host and the path, and the Host header
 * is ignored (RFC 9112 3.2.2). Other forms ("*", authority-form) match nothing.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "l7conf.h"
#include "cfg.h"
#include "cors.h"
#include "jwt.h"
#include "limit.h"

#define SL_TIMEOUT_MAX_MS 3600000u
#define SL_PATH_MAX 1024
#define SL_HOST_MAX 253

#define NKEYS(a) (sizeof(a) / sizeof((a)[0]))

static const char *const l7_keys[] = { "proto", "limits", "timeouts_ms", "request_id_header",
				       "routes" };
static const char *const limits_keys[] = { "max_request_line", "max_head", "max_headers" };
static const char *const timeout_keys[] = { "connect", "header", "request", "idle" };
static const char *const route_keys[] = { "name", "host", "path", "jwt",
					  "cors", "limit", "splice" };

static int get_object(const json_t *obj, const char *name, const json_t **out, const char *path,
		      char *err, size_t errlen)
{
	const json_t *v = json_object_get(obj, name);

	if (v && !json_is_object(v)) {
		snprintf(err, errlen, "%s.%s: must be an object", path, name);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* An optional string member; *@out keeps its default when absent. */
static int get_string(const json_t *obj, const char *name, const char **out, const char *path,
		      char *err, size_t errlen)
{
	const json_t *v = json_object_get(obj, name);

	if (!v)
		return 0;
	if (!json_is_string(v)) {
		snprintf(err, errlen, "%s.%s: must be a string", path, name);
		return -EINVAL;
	}
	*out = json_string_value(v);
	return 0;
}

static bool is_tchar(unsigned char ch)
{
	return isalnum(ch) || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static bool valid_name(const char *s)
{
	size_t n = strlen(s), i;

	if (!n || n >= SL_ROUTE_NAME_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
			return false;
	return true;
}

/* "*", or LDH labels with an optional leading "*."; lower-cased into a new string. */
static char *norm_host(const char *s)
{
	const char *p = s;
	size_t label = 0, n;
	char *h;

	if (!strcmp(s, "*"))
		return strdup(s);
	if (!strncmp(p, "*.", 2))
		p += 2;
	n = strlen(p);
	if (!n || n > SL_HOST_MAX)
		return NULL;
	for (; *p; p++) {
		if (*p == '.') {
			if (!label || p[-1] == '-')
				return NULL;
			label = 0;
		} else if (isalnum((unsigned char)*p) || *p == '-') {
			if ((!label && *p == '-') || ++label > 63)
				return NULL;
		} else {
			return NULL;
		}
	}
	if (!label || p[-1] == '-')
		return NULL;
	h = strdup(s);
	for (n = 0; h && h[n]; n++)
		h[n] = tolower((unsigned char)h[n]);
	return h;
}

static bool valid_path(const char *s)
{
	if (s[0] != '/' || strlen(s) > SL_PATH_MAX)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || *s == '?' ||
		    *s == '#')
			return false;
	return true;
}

static void route_clear(struct sl_route *r)
{
	free(r->host);
	free(r->path);
	sl_jwt_free(r->jwt);
	sl_cors_free(r->cors);
	sl_limit_free(r->limit);
}

void sl_l7_conf_free(struct sl_l7_conf *c)
{
	uint32_t i;

	if (!c)
		return;
	for (i = 0; i < c->n_routes; i++)
		route_clear(&c->routes[i]);
	free(c->routes);
	json_decref(c->json);
	free(c);
}

/* Parse routes[@i] into @r and append its normalized object to @out. */
static int route_parse(struct sl_route *r, const json_t *obj, uint32_t i, const char *lpath,
		       json_t *out, char *err, size_t errlen)
{
	const char *name = NULL, *host = "*", *rpath = "/", *splice = "never";
	const json_t *jwt, *cors, *limit;
	char path[256], sub[288];
	json_t *o;

	snprintf(path, sizeof(path), "%s.routes[%u]", lpath, i);
	r->index = i;
	if (!json_is_object(obj)) {
		snprintf(err, errlen, "%s: must be an object like {\"name\": \"api\", \"path\": \"/api/\"}",
			 path);
		return -EINVAL;
	}
	if (sl_cfg_keys(obj, route_keys, NKEYS(route_keys), path, err, errlen) ||
	    get_string(obj, "name", &name, path, err, errlen) ||
	    get_string(obj, "host", &host, path, err, errlen) ||
	    get_string(obj, "path", &rpath, path, err, errlen) ||
	    get_string(obj, "splice", &splice, path, err, errlen) ||
	    get_object(obj, "jwt", &jwt, path, err, errlen) ||
	    get_object(obj, "cors", &cors, path, err, errlen) ||
	    get_object(obj, "limit", &limit, path, err, errlen))
		return -EINVAL;
	if (!name) {
		snprintf(err, errlen, "%s.name: required: a unique name like \"api\"", path);
		return -EINVAL;
	}
	if (!valid_name(name)) {
		snprintf(err, errlen, "%s.name: \"%s\" is not a route name; use 1 to %d of "
			 "[A-Za-z0-9_.-]", path, name, SL_ROUTE_NAME_MAX - 1);
		return -EINVAL;
	}
	strcpy(r->name, name);
	r->host = norm_host(host);
	if (!r->host) {
		snprintf(err, errlen,
			 "%s.host: \"%s\" is not a host pattern; use a name like "
			 "\"api.example.com\", a wildcard like \"*.example.com\", or \"*\"",
			 path, host);
		return -EINVAL;
	}
	if (!valid_path(rpath)) {
		snprintf(err, errlen,
			 "%s.path: \"%s\" is not a path prefix; it must start with '/' and hold "
			 "no spaces, controls, '?' or '#' (at most %d bytes)",
			 path, rpath, SL_PATH_MAX);
		return -EINVAL;
	}
	r->path = strdup(rpath);
	if (!strcmp(splice, "never")) {
		r->splice = SL_SPLICE_NEVER;
	} else if (!strcmp(splice, "after-auth")) {
		r->splice = SL_SPLICE_AFTER_AUTH;
	} else {
		snprintf(err, errlen, "%s.splice: must be \"never\" or \"after-auth\"", path);
		return -EINVAL;
	}
	if (!r->path) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	if (jwt) {
		snprintf(sub, sizeof(sub), "%s.jwt", path);
		r->jwt = sl_jwt_from_json(jwt, sub, err, errlen);
		if (!r->jwt)
			return -EINVAL;
	}
	if (cors) {
		snprintf(sub, sizeof(sub), "%s.cors", path);
		r->cors = sl_cors_from_json(cors, sub, err, errlen);
		if (!r->cors)
			return -EINVAL;
	}
	if (limit) {
		snprintf(sub, sizeof(sub), "%s.limit", path);
		r->limit = sl_limit_from_json(limit, sub, err, errlen);
		if (!r->limit)
			return -EINVAL;
		if (sl_limit_keyed_by(r->limit) == SL_LIMIT_BY_SUBJECT && !r->jwt) {
			snprintf(err, errlen,
				 "%s.key: \"subject\" needs a \"jwt\" on the route; add one, or "
				 "limit by \"client\"",
				 sub);
			return -EINVAL;
		}
	}

	o = json_object();
	json_object_set_new(o, "name", json_string(r->name));
	json_object_set_new(o, "host", json_string(r->host));
	json_object_set_new(o, "path", json_string(r->path));
	if (jwt)
		json_object_set_new(o, "jwt", json_deep_copy(jwt));
	if (r->cors)
		json_object_set_new(o, "cors", sl_cors_to_json(r->cors));
	if (r->limit)
		json_object_set_new(o, "limit", sl_limit_to_json(r->limit));
	json_object_set_new(o, "splice", json_string(splice));
	json_array_append_new(out, o);
	return 0;
}

/* Host class for sorting: 0 exact, 1 wildcard, 2 "*". */
static int host_class(const char *h)
{
	return !strcmp(h, "*") ? 2 : h[0] == '*' ? 1 : 0;
}

static int route_cmp(const void *pa, const void *pb)
{
	const struct sl_route *a = pa, *b = pb;
	int ca = host_class(a->host), cb = host_class(b->host);
	size_t la, lb;

	if (ca != cb)
		return ca - cb;
	if (ca == 1) {
		la = strlen(a->host);
		lb = strlen(b->host);
		if (la != lb)
			return la > lb ? -1 : 1;
	}
	la = strlen(a->path);
	lb = strlen(b->path);
	if (la != lb)
		return la > lb ? -1 : 1;
	return a->index < b->index ? -1 : a->index > b->index;
}

static int parse_routes(struct sl_l7_conf *c, const json_t *routes, const char *path,
			json_t *out, char *err, size_t errlen)
{
	size_t n = routes ? json_array_size(routes) : 1, i, j;
	json_t *one = NULL;
	int rc = 0;

	if (routes && !json_is_array(routes)) {
		snprintf(err, errlen, "%s.routes: must be an array of route objects", path);
		return -EINVAL;
	}
	if (routes && (n == 0 || n > SL_ROUTES_MAX)) {
		snprintf(err, errlen,
			 "%s.routes: %zu routes; list 1 to %d (or leave \"routes\" out for one "
			 "catch-all route)",
			 path, n, SL_ROUTES_MAX);
		return -EINVAL;
	}
	c->routes = calloc(n, sizeof(*c->routes));
	if (!c->routes) {
		snprintf(err, errlen, "%s.routes: out of memory", path);
		return -ENOMEM;
	}
	if (!routes) {
		one = json_pack("{s:s}", "name", "default");
		if (!one) {
			snprintf(err, errlen, "%s.routes: out of memory", path);
			return -ENOMEM;
		}
	}
	for (i = 0; i < n; i++) {
		rc = route_parse(&c->routes[i], routes ? json_array_get(routes, i) : one,
				 (uint32_t)i, path, out, err, errlen);
		c->n_routes = i + 1; /* what route_parse touched is freed with the conf */
		if (rc)
			goto out;
	}
	for (i = 0; i < n; i++) {
		for (j = 0; j < i; j++) {
			const struct sl_route *a = &c->routes[j], *b = &c->routes[i];

			if (!strcmp(a->name, b->name)) {
				snprintf(err, errlen,
					 "%s.routes[%zu].name: \"%s\" is already the name of "
					 "routes[%zu]; names must be unique",
					 path, i, b->name, j);
				rc = -EEXIST;
				goto out;
			}
			if (!strcmp(a->host, b->host) && !strcmp(a->path, b->path)) {
				snprintf(err, errlen,
					 "%s.routes[%zu]: host \"%s\" path \"%s\" is already "
					 "routes[%zu] (\"%s\"); one of them would never match",
					 path, i, b->host, b->path, j, a->name);
				rc = -EEXIST;
				goto out;
			}
		}
	}
	qsort(c->routes, n, sizeof(*c->routes), route_cmp);
out:
	json_decref(one);
	return rc;
}

static bool valid_header_name(const char *s)
{
	if (strlen(s) >= sizeof(((struct sl_l7_conf *)0)->request_id_header))
		return false;
	for (; *s; s++)
		if (!is_tchar((unsigned char)*s))
			return false;
	return true;
}

struct sl_l7_conf *sl_l7_conf_from_json(const json_t *obj, const char *path, char *err,
					size_t errlen)
{
	const char *proto = "http", *rid = "X-Request-Id";
	const json_t *limits = NULL, *timeouts = NULL;
	char sub[256];
	struct sl_l7_conf *c;
	json_t *routes;

	if (!path)
		path = "l7";
	if (obj && !json_is_object(obj)) {
		snprintf(err, errlen, "%s: must be an object (see \"l7\" in the configuration guide)",
			 path);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	routes = json_array();
	if (!c || !routes) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	c->limits = (struct sl_http_limits){ 8192, 65536, 100 };
	c->timeouts = (struct sl_l7_timeouts){ 2000, 10000, 30000, 60000 };
	if (obj && (sl_cfg_keys(obj, l7_keys, NKEYS(l7_keys), path, err, errlen) ||
		    get_string(obj, "proto", &proto, path, err, errlen) ||
		    get_string(obj, "request_id_header", &rid, path, err, errlen) ||
		    get_object(obj, "limits", &limits, path, err, errlen) ||
		    get_object(obj, "timeouts_ms", &timeouts, path, err, errlen)))
		goto fail;
	if (strcmp(proto, "http") && strcmp(proto, "https")) {
		snprintf(err, errlen, "%s.proto: \"%s\"; must be \"http\" or \"https\"", path,
			 proto);
		goto fail;
	}
	strcpy(c->proto, proto);
	if (!valid_header_name(rid)) {
		snprintf(err, errlen,
			 "%s.request_id_header: \"%s\" is not a header name (up to %zu token "
			 "characters, or \"\" for none)",
			 path, rid, sizeof(c->request_id_header) - 1);
		goto fail;
	}
	strcpy(c->request_id_header, rid);
	if (limits) {
		snprintf(sub, sizeof(sub), "%s.limits", path);
		if (sl_cfg_keys(limits, limits_keys, NKEYS(limits_keys), sub, err, errlen) ||
		    sl_cfg_u32(limits, "max_request_line", 64, SL_HTTP_HEAD_CAP,
			    &c->limits.max_request_line, sub, err, errlen) ||
		    sl_cfg_u32(limits, "max_head", 256, SL_HTTP_HEAD_CAP, &c->limits.max_head, sub,
			    err, errlen) ||
		    sl_cfg_u32(limits, "max_headers", 1, SL_HTTP_HDR_CAP, &c->limits.max_headers,
			    sub, err, errlen))
			goto fail;
		if (c->limits.max_request_line > c->limits.max_head) {
			snprintf(err, errlen,
				 "%s.max_request_line: %u is more than max_head %u; the request "
				 "line is part of the head",
				 sub, c->limits.max_request_line, c->limits.max_head);
			goto fail;
		}
	}
	if (timeouts) {
		snprintf(sub, sizeof(sub), "%s.timeouts_ms", path);
		if (sl_cfg_keys(timeouts, timeout_keys, NKEYS(timeout_keys), sub, err, errlen) ||
		    sl_cfg_u32(timeouts, "connect", 1, SL_TIMEOUT_MAX_MS, &c->timeouts.connect_ms,
			    sub, err, errlen) ||
		    sl_cfg_u32(timeouts, "header", 1, SL_TIMEOUT_MAX_MS, &c->timeouts.header_ms,
			    sub, err, errlen) ||
		    sl_cfg_u32(timeouts, "request", 1, SL_TIMEOUT_MAX_MS, &c->timeouts.request_ms,
			    sub, err, errlen) ||
		    sl_cfg_u32(timeouts, "idle", 1, SL_TIMEOUT_MAX_MS, &c->timeouts.idle_ms, sub,
			    err, errlen))
			goto fail;
	}
	if (parse_routes(c, obj ? json_object_get(obj, "routes") : NULL, path, routes, err,
			 errlen))
		goto fail;

	c->json = json_pack("{s:s, s:{s:I, s:I, s:I}, s:{s:I, s:I, s:I, s:I}, s:s, s:O}",
			    "proto", c->proto,
			    "limits", "max_request_line", (json_int_t)c->limits.max_request_line,
			    "max_head", (json_int_t)c->limits.max_head,
			    "max_headers", (json_int_t)c->limits.max_headers,
			    "timeouts_ms", "connect", (json_int_t)c->timeouts.connect_ms,
			    "header", (json_int_t)c->timeouts.header_ms,
			    "request", (json_int_t)c->timeouts.request_ms,
			    "idle", (json_int_t)c->timeouts.idle_ms,
			    "request_id_header", c->request_id_header, "routes", routes);
	if (!c->json) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	json_decref(routes);
	return c;
fail:
	json_decref(routes);
	sl_l7_conf_free(c);
	return NULL;
}

/* ---- matching ---- */

/* Does @h (@n bytes, already without port and trailing dot) match the pattern @pat? */
static bool host_match(const char *pat, const char *h, size_t n)
{
	size_t pn;

	if (pat[0] == '*') {
		if (!pat[1])
			return true;
		pn = strlen(pat + 1); /* ".example.com" */
		return n > pn && !strncasecmp(h + n - pn, pat + 1, pn);
	}
	pn = strlen(pat);
	return n == pn && n && !strncasecmp(h, pat, n);
}

static bool path_match(const char *pre, const char *p, size_t n)
{
	size_t pn = strlen(pre);

	if (n < pn || memcmp(p, pre, pn))
		return false;
	return pre[pn - 1] == '/' || n == pn || p[pn] == '/';
}

/* Trim ":port" and a trailing '.' off a host[:port]. */
static size_t host_len(const char *h, size_t n)
{
	const char *e;

	if (n && h[0] == '[') {
		e = memchr(h, ']', n);
		return e ? (size_t)(e - h) + 1 : n;
	}
	e = memchr(h, ':', n);
	if (e)
		n = e - h;
	if (n && h[n - 1] == '.')
		n--;
	return n;
}

const struct sl_route *sl_route_match(const struct sl_l7_conf *c, const char *host,
				      size_t host_len_in, const char *target, size_t target_len)
{
	const char *p = target, *end = target + target_len, *auth;
	size_t hn, pn;
	uint32_t i;

	if (!host)
		host_len_in = 0;
	/* absolute-form: "scheme://authority/path?query" */
	if (target_len && target[0] != '/') {
		while (p < end && (isalnum((unsigned char)*p) || *p == '+' || *p == '-' ||
				   *p == '.'))
			p++;
		if (p == target || end - p < 3 || memcmp(p, "://", 3))
			return NULL;
		auth = p + 3;
		for (p = auth; p < end && *p != '/' && *p != '?' && *p != '#'; p++)
			;
		host = auth;
		host_len_in = p - auth;
		/* userinfo@ is not part of the host */
		for (i = 0; i < host_len_in; i++) {
			if (auth[host_len_in - 1 - i] == '@') {
				host = auth + host_len_in - i;
				host_len_in = i;
				break;
			}
		}
		if (p == end || *p != '/') {
			/* no path: it is "/" */
			target = "/";
			target_len = 1;
			p = target;
			end = target + 1;
		}
	}
	if (p >= end || *p != '/')
		return NULL;
	pn = 0;
	while (p + pn < end && p[pn] != '?' && p[pn] != '#')
		pn++;
	hn = host ? host_len(host, host_len_in) : 0;

	for (i = 0; i < c->n_routes; i++) {
		const struct sl_route *r = &c->routes[i];

		if (host_match(r->host, host, hn) && path_match(r->path, p, pn))
			return r;
	}
	return NULL;
}
