/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * CORS for one route (cors.h). Origins are compared case-insensitively with
 * the configured ones (which are stored lower-case) and answered with the
 * configured spelling; methods are stored
 * upper-case and a preflight's method must be listed (no implicit simple
 * methods); header names compare case-insensitively. Every byte written into
 * a response comes from the configuration, never from the request.
 */
#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cors.h"
#include "cfg.h"

#define SL_CORS_MAX_AGE_MAX 86400 /* the longest any browser caches a preflight */
#define SL_CORS_LIST_MAX 64
#define SL_CORS_NAME_MAX 256

struct sl_cors_list {
	char **v;
	size_t n;
	char *joined; /* "A, B, C" */
};

struct sl_cors {
	struct sl_cors_list origins, methods, headers, expose;
	bool any_origin; /* "*" listed */
	bool credentials;
	unsigned max_age;
};

static void list_free(struct sl_cors_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	free(l->joined);
}

void sl_cors_free(struct sl_cors *c)
{
	if (!c)
		return;
	list_free(&c->origins);
	list_free(&c->methods);
	list_free(&c->headers);
	list_free(&c->expose);
	free(c);
}

static bool is_tchar(unsigned char ch)
{
	return isalnum(ch) || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static bool is_token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!is_tchar((unsigned char)*s))
			return false;
	return true;
}

/* LDH labels ("app.example"), an IPv4 address being a special case of them */
static bool is_dns_name(const char *s, size_t n)
{
	size_t i, label = 0;

	if (!n || n > 253)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char ch = s[i];

		if (ch == '.') {
			if (!label || s[i - 1] == '-')
				return false;
			label = 0;
		} else if (isalnum(ch) || ch == '-') {
			if (!label && ch == '-')
				return false;
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return label && s[n - 1] != '-';
}

/* "scheme://host[:port]" with nothing after: the form browsers send in Origin. */
static bool is_origin(const char *s)
{
	const char *p = s, *host, *end;

	if (!isalpha((unsigned char)*p))
		return false;
	while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
		p++;
	if (strncmp(p, "://", 3))
		return false;
	host = p + 3;
	if (*host == '[') {
		end = strchr(host, ']');
		if (!end || end == host + 1)
			return false;
		for (p = host + 1; p < end; p++)
			if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.')
				return false;
		end++;
	} else {
		end = host + strcspn(host, ":");
		if (!is_dns_name(host, end - host))
			return false;
	}
	if (*end == ':') {
		unsigned long port = 0;

		p = end + 1;
		if (!*p || strlen(p) > 5)
			return false;
		for (; *p; p++) {
			if (!isdigit((unsigned char)*p))
				return false;
			port = port * 10 + (*p - '0');
		}
		return port >= 1 && port <= 65535;
	}
	return !*end;
}

enum list_kind { L_ORIGIN, L_METHOD, L_HEADER };

/* Parse a string array (@dflt when absent) into @l, normalized per @kind. */
static int list_parse(struct sl_cors_list *l, const json_t *obj, const char *name,
		      enum list_kind kind, const char *const *dflt, const char *path, char *err,
		      size_t errlen)
{
	const json_t *arr = json_object_get(obj, name), *e;
	size_t i, j, n, len = 0;
	const char *s;
	char *d;

	if (arr && (!json_is_array(arr) || json_array_size(arr) > SL_CORS_LIST_MAX)) {
		snprintf(err, errlen, "%s.%s: must be an array of at most %d strings", path, name,
			 SL_CORS_LIST_MAX);
		return -EINVAL;
	}
	n = arr ? json_array_size(arr) : 0;
	if (!arr)
		while (dflt && dflt[n])
			n++;
	l->v = calloc(n ? n : 1, sizeof(*l->v));
	if (!l->v)
		goto oom;
	for (i = 0; i < n; i++) {
		if (arr) {
			e = json_array_get(arr, i);
			s = json_string_value(e);
			if (!s) {
				snprintf(err, errlen, "%s.%s[%zu]: must be a string", path, name, i);
				return -EINVAL;
			}
		} else {
			s = dflt[i];
		}
		if (strlen(s) >= SL_CORS_NAME_MAX) {
			snprintf(err, errlen, "%s.%s[%zu]: longer than %d bytes", path, name, i,
				 SL_CORS_NAME_MAX - 1);
			return -EINVAL;
		}
		switch (kind) {
		case L_ORIGIN:
			if (strcmp(s, "*") && !is_origin(s)) {
				snprintf(err, errlen,
					 "%s.%s[%zu]: \"%s\" is not an origin; write "
					 "\"scheme://host[:port]\" (no path, no trailing '/') or \"*\"",
					 path, name, i, s);
				return -EINVAL;
			}
			break;
		case L_METHOD:
		case L_HEADER:
			if (!is_token(s) || !strcmp(s, "*")) {
				snprintf(err, errlen,
					 "%s.%s[%zu]: \"%s\" is not a %s name; list names like "
					 "%s (no wildcards)",
					 path, name, i, s, kind == L_METHOD ? "method" : "header",
					 kind == L_METHOD ? "\"PUT\"" : "\"Content-Type\"");
				return -EINVAL;
			}
			break;
		}
		d = strdup(s);
		if (!d)
			goto oom;
		for (j = 0; d[j]; j++) {
			if (kind == L_ORIGIN)
				d[j] = tolower((unsigned char)d[j]);
			else if (kind == L_METHOD)
				d[j] = toupper((unsigned char)d[j]);
		}
		for (j = 0; j < l->n; j++) {
			if (!strcasecmp(l->v[j], d)) {
				snprintf(err, errlen, "%s.%s[%zu]: \"%s\" is listed twice", path,
					 name, i, s);
				free(d);
				return -EINVAL;
			}
		}
		l->v[l->n++] = d;
		len += strlen(d) + 2;
	}
	l->joined = calloc(1, len + 1);
	if (!l->joined)
		goto oom;
	for (i = 0; i < l->n; i++) {
		if (i)
			strcat(l->joined, ", ");
		strcat(l->joined, l->v[i]);
	}
	return 0;
oom:
	snprintf(err, errlen, "%s.%s: out of memory", path, name);
	return -ENOMEM;
}

static const char *const cors_keys[] = { "origins", "methods", "headers", "expose",
					 "max_age", "credentials", NULL };

struct sl_cors *sl_cors_from_json(const json_t *obj, const char *path, char *err, size_t errlen)
{
	static const char *const dflt_methods[] = { "GET", "HEAD", "POST", NULL };
	const json_t *v;
	struct sl_cors *c;
	size_t i;

	if (!json_is_object(obj)) {
		snprintf(err, errlen,
			 "%s: must be an object like {\"origins\": [\"https://app.example\"]}",
			 path);
		return NULL;
	}
	for (i = 0; cors_keys[i]; i++)
		;
	if (sl_cfg_keys(obj, cors_keys, i, path, err, errlen))
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	v = json_object_get(obj, "credentials");
	if (v && !json_is_boolean(v)) {
		snprintf(err, errlen, "%s.credentials: must be true or false", path);
		goto fail;
	}
	c->credentials = json_is_true(v);
	v = json_object_get(obj, "max_age");
	if (v) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > SL_CORS_MAX_AGE_MAX) {
			snprintf(err, errlen, "%s.max_age: must be whole seconds in 0..%d", path,
				 SL_CORS_MAX_AGE_MAX);
			goto fail;
		}
		c->max_age = (unsigned)json_integer_value(v);
	}
	if (!json_object_get(obj, "origins")) {
		snprintf(err, errlen,
			 "%s.origins: required: list the allowed origins, e.g. "
			 "[\"https://app.example\"]",
			 path);
		goto fail;
	}
	if (list_parse(&c->origins, obj, "origins", L_ORIGIN, NULL, path, err, errlen) ||
	    list_parse(&c->methods, obj, "methods", L_METHOD, dflt_methods, path, err, errlen) ||
	    list_parse(&c->headers, obj, "headers", L_HEADER, NULL, path, err, errlen) ||
	    list_parse(&c->expose, obj, "expose", L_HEADER, NULL, path, err, errlen))
		goto fail;
	if (!c->origins.n) {
		snprintf(err, errlen, "%s.origins: empty; list at least one origin, or \"*\"",
			 path);
		goto fail;
	}
	for (i = 0; i < c->origins.n; i++)
		if (!strcmp(c->origins.v[i], "*"))
			c->any_origin = true;
	if (c->any_origin && c->credentials) {
		snprintf(err, errlen,
			 "%s.origins: \"*\" cannot be used with \"credentials\": true (browsers "
			 "refuse it); list the origins explicitly",
			 path);
		goto fail;
	}
	return c;
fail:
	sl_cors_free(c);
	return NULL;
}

static json_t *list_json(const struct sl_cors_list *l)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < l->n; i++)
		json_array_append_new(a, json_string(l->v[i]));
	return a;
}

json_t *sl_cors_to_json(const struct sl_cors *c)
{
	json_t *o = json_object();

	json_object_set_new(o, "origins", list_json(&c->origins));
	json_object_set_new(o, "methods", list_json(&c->methods));
	json_object_set_new(o, "headers", list_json(&c->headers));
	json_object_set_new(o, "expose", list_json(&c->expose));
	json_object_set_new(o, "max_age", json_integer(c->max_age));
	json_object_set_new(o, "credentials", json_boolean(c->credentials));
	return o;
}

bool sl_cors_is_preflight(const char *method, const char *origin, const char *acrm)
{
	return method && origin && acrm && !strcmp(method, "OPTIONS") && *origin && *acrm;
}

/* The configured spelling of @name (@len bytes) in @l, or NULL. */
static const char *list_find(const struct sl_cors_list *l, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strlen(l->v[i]) == len && !strncasecmp(l->v[i], name, len))
			return l->v[i];
	return NULL;
}

/* "*" when any origin is allowed without credentials, else @origin if listed, else NULL. */
static const char *allow_origin(const struct sl_cors *c, const char *origin)
{
	if (!origin || !*origin)
		return NULL;
	if (c->any_origin)
		return "*";
	/* the configured spelling: only configuration bytes reach the response */
	return list_find(&c->origins, origin, strlen(origin));
}

/* Append to @out at *@pos; false when it does not fit. */
static bool put(char *out, size_t outlen, size_t *pos, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static bool put(char *out, size_t outlen, size_t *pos, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*pos >= outlen)
		return false;
	va_start(ap, fmt);
	n = vsnprintf(out + *pos, outlen - *pos, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= outlen - *pos)
		return false;
	*pos += n;
	return true;
}

bool sl_cors_preflight(const struct sl_cors *c, const char *origin, const char *req_method,
		       const char *req_headers, char *out, size_t outlen)
{
	const char *ao = allow_origin(c, origin), *p, *end, *name;
	size_t pos = 0, n, hlen = 0;
	char hdrs[1024];
	bool ok;

	if (outlen)
		out[0] = '\0';
	if (!ao || !req_method || !is_token(req_method) ||
	    !list_find(&c->methods, req_method, strlen(req_method)))
		return false;
	/* every requested header must be listed; answer with their configured spelling */
	hdrs[0] = '\0';
	for (p = req_headers; p && *p; p = *end ? end + 1 : end) {
		end = p + strcspn(p, ",");
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		n = end - p;
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (!n)
			continue;
		name = list_find(&c->headers, p, n);
		if (!name)
			return false;
		if (hlen + strlen(name) + 3 > sizeof(hdrs))
			return false;
		hlen += sprintf(hdrs + hlen, "%s%s", hlen ? ", " : "", name);
	}
	ok = put(out, outlen, &pos, "Access-Control-Allow-Origin: %s\r\n", ao) &&
	     put(out, outlen, &pos, "Access-Control-Allow-Methods: %s\r\n", c->methods.joined) &&
	     (!hlen || put(out, outlen, &pos, "Access-Control-Allow-Headers: %s\r\n", hdrs)) &&
	     (!c->max_age || put(out, outlen, &pos, "Access-Control-Max-Age: %u\r\n", c->max_age)) &&
	     (!c->credentials || put(out, outlen, &pos, "Access-Control-Allow-Credentials: true\r\n")) &&
	     put(out, outlen, &pos,
		 "Vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers\r\n");
	if (!ok && outlen)
		out[0] = '\0';
	return ok;
}

bool sl_cors_actual(const struct sl_cors *c, const char *origin, char *out, size_t outlen)
{
	const char *ao = allow_origin(c, origin);
	size_t pos = 0;
	bool ok;

	if (!outlen)
		return false;
	out[0] = '\0';
	if (!ao)
		return true;
	ok = put(out, outlen, &pos, "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n", ao) &&
	     (!c->credentials || put(out, outlen, &pos, "Access-Control-Allow-Credentials: true\r\n")) &&
	     (!c->expose.n ||
	      put(out, outlen, &pos, "Access-Control-Expose-Headers: %s\r\n", c->expose.joined));
	if (!ok)
		out[0] = '\0';
	return ok;
}
