// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The "l7" object (user/proxy/l7conf.c): validation, defaults, normalized JSON, route matching. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "../../user/proxy/l7conf.h"

#define P "vips[0].l7"

static struct sl_l7_conf *conf_of(const char *text, char *err, size_t errlen)
{
	json_error_t jerr;
	struct sl_l7_conf *c;
	json_t *j = json_loads(text, 0, &jerr);

	if (!j)
		fail_msg("test JSON does not parse: %s: %s", jerr.text, text);
	err[0] = '\0';
	c = sl_l7_conf_from_json(j, P, err, errlen);
	json_decref(j);
	return c;
}

static struct sl_l7_conf *must_conf(const char *text)
{
	char err[512];
	struct sl_l7_conf *c = conf_of(text, err, sizeof(err));

	if (!c)
		fail_msg("config refused: %s\n  config: %s", err, text);
	return c;
}

/* The config must be refused with an error that contains @want. */
static void must_refuse(const char *text, const char *want)
{
	char err[512];
	struct sl_l7_conf *c = conf_of(text, err, sizeof(err));

	if (c) {
		sl_l7_conf_free(c);
		fail_msg("config accepted, expected an error containing '%s'\n  config: %s", want,
			 text);
	}
	if (!strstr(err, want))
		fail_msg("error '%s' does not contain '%s'", err, want);
}

/* Name of the route matched for (host, target), or "(none)". */
static const char *match(const struct sl_l7_conf *c, const char *host, const char *target)
{
	const struct sl_route *r =
		sl_route_match(c, host, host ? strlen(host) : 0, target, strlen(target));

	return r ? r->name : "(none)";
}

#define ASSERT_ROUTE(c, host, target, want)                                               \
	do {                                                                              \
		const char *got__ = match(c, host, target);                               \
		if (strcmp(got__, want))                                                  \
			fail_msg("host %s target %s: got route %s, expected %s", host, target, \
				 got__, want);                                            \
	} while (0)

/* ---- matching ---- */

static const char *const HOSTS = "{\"routes\": ["
				 "{\"name\": \"any\", \"host\": \"*\"},"
				 "{\"name\": \"wild\", \"host\": \"*.example.com\"},"
				 "{\"name\": \"wild2\", \"host\": \"*.api.example.com\"},"
				 "{\"name\": \"exact\", \"host\": \"api.example.com\"}"
				 "]}";

static void test_match_exact_host_beats_wildcard_and_star(void **state)
{
	struct sl_l7_conf *c = must_conf(HOSTS);

	ASSERT_ROUTE(c, "api.example.com", "/", "exact");
	sl_l7_conf_free(c);
}

static void test_match_longer_wildcard_suffix_wins(void **state)
{
	struct sl_l7_conf *c = must_conf(HOSTS);

	ASSERT_ROUTE(c, "v1.api.example.com", "/", "wild2");
	ASSERT_ROUTE(c, "www.example.com", "/", "wild");
	ASSERT_ROUTE(c, "a.b.example.com", "/", "wild");
	sl_l7_conf_free(c);
}

static void test_match_wildcard_needs_a_label_before_suffix(void **state)
{
	struct sl_l7_conf *c = must_conf(HOSTS);

	ASSERT_ROUTE(c, "example.com", "/", "any");
	ASSERT_ROUTE(c, "badexample.com", "/", "any");
	sl_l7_conf_free(c);
}

static void test_match_host_is_case_insensitive_port_and_dot_stripped(void **state)
{
	struct sl_l7_conf *c = must_conf(HOSTS);

	ASSERT_ROUTE(c, "API.Example.COM", "/", "exact");
	ASSERT_ROUTE(c, "api.example.com:8080", "/", "exact");
	ASSERT_ROUTE(c, "api.example.com.", "/", "exact");
	ASSERT_ROUTE(c, "api.example.com.:443", "/", "exact");
	ASSERT_ROUTE(c, "[2001:db8::1]:8080", "/", "any");
	sl_l7_conf_free(c);
}

static void test_match_no_host_matches_only_star(void **state)
{
	struct sl_l7_conf *c = must_conf(HOSTS);
	struct sl_l7_conf *c2 =
		must_conf("{\"routes\": [{\"name\": \"x\", \"host\": \"api.example.com\"}]}");

	ASSERT_ROUTE(c, NULL, "/", "any");
	ASSERT_ROUTE(c, "", "/", "any");
	ASSERT_ROUTE(c2, NULL, "/", "(none)");
	ASSERT_ROUTE(c2, "", "/", "(none)");
	ASSERT_ROUTE(c2, ":80", "/", "(none)");
	sl_l7_conf_free(c2);
	sl_l7_conf_free(c);
}

static void test_match_longest_path_wins(void **state)
{
	struct sl_l7_conf *c = must_conf("{\"routes\": ["
					 "{\"name\": \"root\", \"path\": \"/\"},"
					 "{\"name\": \"api\", \"path\": \"/api/\"},"
					 "{\"name\": \"v2\", \"path\": \"/api/v2/\"}"
					 "]}");

	ASSERT_ROUTE(c, "h", "/api/v2/users", "v2");
	ASSERT_ROUTE(c, "h", "/api/v1/users", "api");
	ASSERT_ROUTE(c, "h", "/other", "root");
	sl_l7_conf_free(c);
}

static void test_match_host_class_beats_path_length(void **state)
{
	/* a host-specific "/" beats a "*" route with a longer path */
	struct sl_l7_conf *c = must_conf("{\"routes\": ["
					 "{\"name\": \"deep\", \"path\": \"/a/b/c/\"},"
					 "{\"name\": \"h\", \"host\": \"h.example\"}"
					 "]}");

	ASSERT_ROUTE(c, "h.example", "/a/b/c/d", "h");
	ASSERT_ROUTE(c, "other.example", "/a/b/c/d", "deep");
	sl_l7_conf_free(c);
}

static void test_match_falls_back_when_host_route_path_misses(void **state)
{
	struct sl_l7_conf *c = must_conf("{\"routes\": ["
					 "{\"name\": \"any\"},"
					 "{\"name\": \"h\", \"host\": \"h.example\", \"path\": \"/x/\"}"
					 "]}");

	ASSERT_ROUTE(c, "h.example", "/x/1", "h");
	ASSERT_ROUTE(c, "h.example", "/y", "any");
	sl_l7_conf_free(c);
}

static void test_match_path_boundary(void **state)
{
	struct sl_l7_conf *c = must_conf("{\"routes\": ["
					 "{\"name\": \"noslash\", \"path\": \"/api\"},"
					 "{\"name\": \"slash\", \"path\": \"/docs/\"}"
					 "]}");

	ASSERT_ROUTE(c, "h", "/api", "noslash");
	ASSERT_ROUTE(c, "h", "/api/x", "noslash");
	ASSERT_ROUTE(c, "h", "/api?q=1", "noslash");
	ASSERT_ROUTE(c, "h", "/apix", "(none)");
	ASSERT_ROUTE(c, "h", "/docs/x", "slash");
	ASSERT_ROUTE(c, "h", "/docs/", "slash");
	ASSERT_ROUTE(c, "h", "/docs", "(none)");
	ASSERT_ROUTE(c, "h", "/docsx", "(none)");
	sl_l7_conf_free(c);
}

static void test_match_query_is_ignored(void **state)
{
	struct sl_l7_conf *c = must_conf("{\"routes\": ["
					 "{\"name\": \"root\", \"path\": \"/\"},"
					 "{\"name\": \"admin\", \"path\": \"/admin/\"}"
					 "]}");

	ASSERT_ROUTE(c, "h", "/x?/admin/", "root");
	ASSERT_ROUTE(c, "h", "/admin/?a=b", "admin");
	ASSERT_ROUTE(c, "h", "/x#/admin/", "root");
	sl_l7_conf_free(c);
}

static void test_match_absolute_form_uses_its_host_and_path(void **state)
{
	struct sl_l7_conf *c = must_conf("{\"routes\": ["
					 "{\"name\": \"a\", \"host\": \"a.example\", \"path\": \"/p/\"},"
					 "{\"name\": \"a-root\", \"host\": \"a.example\"},"
					 "{\"name\": \"b\", \"host\": \"b.example\"}"
					 "]}");

	ASSERT_ROUTE(c, "b.example", "http://a.example/p/1?q", "a");
	ASSERT_ROUTE(c, "b.example", "HTTP://A.example:8080/p/1", "a");
	ASSERT_ROUTE(c, "b.example", "http://a.example", "a-root");
	ASSERT_ROUTE(c, "b.example", "http://a.example?x=/p/", "a-root");
	ASSERT_ROUTE(c, "a.example", "http://user@b.example/p/", "b");
	ASSERT_ROUTE(c, "a.example", "*", "(none)");
	ASSERT_ROUTE(c, "a.example", "a.example:443", "(none)");
	sl_l7_conf_free(c);
}

static void test_match_none_is_null(void **state)
{
	struct sl_l7_conf *c = must_conf("{\"routes\": ["
					 "{\"name\": \"a\", \"host\": \"a.example\", \"path\": \"/p/\"}"
					 "]}");

	ASSERT_ROUTE(c, "a.example", "/q", "(none)");
	ASSERT_ROUTE(c, "b.example", "/p/", "(none)");
	ASSERT_ROUTE(c, "a.example", "", "(none)");
	sl_l7_conf_free(c);
}

static void test_sorted_routes_keep_config_order_on_ties(void **state)
{
	/* five routes of one class and one path length: sorting must not reorder them */
	struct sl_l7_conf *c = must_conf("{\"routes\": ["
					 "{\"name\": \"e\", \"path\": \"/e\"},"
					 "{\"name\": \"d\", \"path\": \"/d\"},"
					 "{\"name\": \"c\", \"path\": \"/c\"},"
					 "{\"name\": \"b\", \"path\": \"/b\"},"
					 "{\"name\": \"a\", \"path\": \"/a\"}"
					 "]}");
	uint32_t i;

	ASSERT_EQ(c->n_routes, 5, "n_routes");
	for (i = 0; i < 5; i++)
		ASSERT_EQ(c->routes[i].index, i, "routes[%u].index", i);
	ASSERT_TRUE(!strcmp(c->routes[0].name, "e"), "routes[0] is %s, expected e",
		    c->routes[0].name);
	sl_l7_conf_free(c);
}

static void test_host_pattern_is_lower_cased(void **state)
{
	struct sl_l7_conf *c =
		must_conf("{\"routes\": [{\"name\": \"x\", \"host\": \"*.API.Example.COM\"}]}");

	ASSERT_TRUE(!strcmp(c->routes[0].host, "*.api.example.com"), "host %s",
		    c->routes[0].host);
	ASSERT_ROUTE(c, "v.api.example.com", "/", "x");
	sl_l7_conf_free(c);
}

/* ---- defaults and the normalized JSON ---- */

static void test_defaults(void **state)
{
	char err[256];
	struct sl_l7_conf *c = sl_l7_conf_from_json(NULL, P, err, sizeof(err));

	ASSERT_TRUE(c, "NULL object refused: %s", err);
	ASSERT_TRUE(!strcmp(c->proto, "http"), "proto %s", c->proto);
	ASSERT_TRUE(!strcmp(c->request_id_header, "X-Request-Id"), "request_id_header %s",
		    c->request_id_header);
	ASSERT_EQ(c->limits.max_request_line, 8192, "max_request_line");
	ASSERT_EQ(c->limits.max_head, 65536, "max_head");
	ASSERT_EQ(c->limits.max_headers, 100, "max_headers");
	ASSERT_EQ(c->timeouts.connect_ms, 2000, "connect_ms");
	ASSERT_EQ(c->timeouts.header_ms, 10000, "header_ms");
	ASSERT_EQ(c->timeouts.request_ms, 30000, "request_ms");
	ASSERT_EQ(c->timeouts.idle_ms, 60000, "idle_ms");
	ASSERT_EQ(c->n_routes, 1, "n_routes");
	ASSERT_TRUE(!strcmp(c->routes[0].name, "default"), "route name %s", c->routes[0].name);
	ASSERT_TRUE(!strcmp(c->routes[0].host, "*") && !strcmp(c->routes[0].path, "/"),
		    "default route %s %s", c->routes[0].host, c->routes[0].path);
	ASSERT_TRUE(!c->routes[0].jwt && !c->routes[0].cors && !c->routes[0].limit,
		    "default route has jwt/cors/limit");
	ASSERT_EQ(c->routes[0].splice, SL_SPLICE_NEVER, "splice");
	ASSERT_ROUTE(c, NULL, "/anything", "default");
	sl_l7_conf_free(c);
}

static void test_default_json_is_fully_filled_in(void **state)
{
	static const char want[] =
		"{\"proto\": \"http\", "
		"\"limits\": {\"max_request_line\": 8192, \"max_head\": 65536, \"max_headers\": 100}, "
		"\"timeouts_ms\": {\"connect\": 2000, \"header\": 10000, \"request\": 30000, "
		"\"idle\": 60000}, "
		"\"request_id_header\": \"X-Request-Id\", "
		"\"routes\": [{\"name\": \"default\", \"host\": \"*\", \"path\": \"/\", "
		"\"splice\": \"never\"}]}";
	struct sl_l7_conf *c = must_conf("{}");
	json_t *w = json_loads(want, 0, NULL);
	char *got = json_dumps(c->json, JSON_COMPACT);

	ASSERT_TRUE(w && json_equal(c->json, w), "json %s\n expected %s", got, want);
	free(got);
	json_decref(w);
	sl_l7_conf_free(c);
}

static void test_json_round_trips(void **state)
{
	static const char conf[] =
		"{\"proto\": \"https\", \"request_id_header\": \"\","
		" \"limits\": {\"max_headers\": 50},"
		" \"timeouts_ms\": {\"idle\": 5000},"
		" \"routes\": ["
		"  {\"name\": \"b\", \"host\": \"*.Example.com\", \"path\": \"/b/\","
		"   \"cors\": {\"origins\": [\"https://App.example\"], \"max_age\": 60},"
		"   \"limit\": {\"rate\": 5}, \"splice\": \"after-auth\"},"
		"  {\"name\": \"a\", \"limit\": {\"rate\": 3, \"algorithm\": \"sliding_window\"}}"
		" ]}";
	struct sl_l7_conf *c = must_conf(conf), *c2;
	char *text = json_dumps(c->json, 0), *text2;
	uint32_t i;

	c2 = must_conf(text);
	text2 = json_dumps(c2->json, 0);
	ASSERT_TRUE(json_equal(c->json, c2->json), "reparsed json differs:\n%s\n%s", text, text2);
	ASSERT_TRUE(!strcmp(c2->proto, "https") && !c2->request_id_header[0], "proto/rid");
	ASSERT_EQ(c2->limits.max_headers, 50, "max_headers");
	ASSERT_EQ(c2->timeouts.idle_ms, 5000, "idle_ms");
	ASSERT_EQ(c2->n_routes, c->n_routes, "n_routes");
	for (i = 0; i < c->n_routes; i++) {
		const struct sl_route *r = &c->routes[i], *r2 = &c2->routes[i];

		ASSERT_TRUE(!strcmp(r->name, r2->name) && !strcmp(r->host, r2->host) &&
				    !strcmp(r->path, r2->path),
			    "route %u differs", i);
		ASSERT_EQ(r->splice, r2->splice, "routes[%u].splice", i);
		ASSERT_EQ(!!r->cors, !!r2->cors, "routes[%u].cors", i);
		ASSERT_EQ(!!r->limit, !!r2->limit, "routes[%u].limit", i);
		ASSERT_EQ(r->index, r2->index, "routes[%u].index", i);
	}
	/* the normalized routes are in configuration order, not match order */
	ASSERT_TRUE(!strcmp(json_string_value(json_object_get(
				    json_array_get(json_object_get(c->json, "routes"), 0), "name")),
			    "b"),
		    "json routes[0] is not \"b\": %s", text);
	free(text);
	free(text2);
	sl_l7_conf_free(c2);
	sl_l7_conf_free(c);
}

/* ---- configuration errors, one rule each ---- */

static void test_err_unknown_key_lists_known_keys(void **state)
{
	must_refuse("{\"routes\": [{\"name\": \"a\"}, {\"name\": \"b\", \"hots\": \"x\"}]}",
		    P ".routes[1]: unknown key \"hots\"; known keys: name, host, path, jwt, cors, "
		      "limit, splice");
	must_refuse("{\"rotues\": []}", P ": unknown key \"rotues\"");
	must_refuse("{\"limits\": {\"max_head_bytes\": 1}}", P ".limits: unknown key");
	must_refuse("{\"timeouts_ms\": {\"read\": 1}}", P ".timeouts_ms: unknown key \"read\"");
}

static void test_err_wrong_types(void **state)
{
	must_refuse("[]", P ": must be an object");
	must_refuse("{\"proto\": 1}", P ".proto: must be a string");
	must_refuse("{\"limits\": []}", P ".limits: must be an object");
	must_refuse("{\"timeouts_ms\": {\"idle\": \"5s\"}}", P ".timeouts_ms.idle: must be an integer");
	must_refuse("{\"timeouts_ms\": {\"idle\": 5.0}}", P ".timeouts_ms.idle: must be an integer");
	must_refuse("{\"routes\": {}}", P ".routes: must be an array");
	must_refuse("{\"routes\": [\"a\"]}", P ".routes[0]: must be an object");
	must_refuse("{\"routes\": [{\"name\": 1}]}", P ".routes[0].name: must be a string");
	must_refuse("{\"routes\": [{\"name\": \"a\", \"cors\": true}]}",
		    P ".routes[0].cors: must be an object");
}

static void test_err_proto(void **state)
{
	must_refuse("{\"proto\": \"ftp\"}", P ".proto: \"ftp\"; must be \"http\" or \"https\"");
}

static void test_err_request_id_header(void **state)
{
	must_refuse("{\"request_id_header\": \"X Id\"}", P ".request_id_header:");
}

static void test_err_timeouts_out_of_range(void **state)
{
	must_refuse("{\"timeouts_ms\": {\"connect\": 0}}", P ".timeouts_ms.connect: 0 is out of range");
	must_refuse("{\"timeouts_ms\": {\"request\": 3600001}}",
		    P ".timeouts_ms.request: 3600001 is out of range; use 1..3600000");
	sl_l7_conf_free(must_conf("{\"timeouts_ms\": {\"connect\": 1, \"idle\": 3600000}}"));
}

static void test_err_limits_out_of_range(void **state)
{
	must_refuse("{\"limits\": {\"max_request_line\": 63}}", P ".limits.max_request_line: 63");
	must_refuse("{\"limits\": {\"max_head\": 255}}", P ".limits.max_head: 255");
	must_refuse("{\"limits\": {\"max_head\": 65537}}", P ".limits.max_head: 65537");
	must_refuse("{\"limits\": {\"max_headers\": 0}}", P ".limits.max_headers: 0");
	must_refuse("{\"limits\": {\"max_headers\": 257}}", P ".limits.max_headers: 257");
	must_refuse("{\"limits\": {\"max_request_line\": 4096, \"max_head\": 1024}}",
		    P ".limits.max_request_line: 4096 is more than max_head 1024");
	sl_l7_conf_free(must_conf(
		"{\"limits\": {\"max_request_line\": 64, \"max_head\": 65536, \"max_headers\": 256}}"));
}

static void test_err_routes_empty(void **state)
{
	must_refuse("{\"routes\": []}", P ".routes: 0 routes");
}

static void test_err_route_name(void **state)
{
	must_refuse("{\"routes\": [{\"path\": \"/\"}]}", P ".routes[0].name: required");
	must_refuse("{\"routes\": [{\"name\": \"a b\"}]}", P ".routes[0].name: \"a b\" is not");
	must_refuse("{\"routes\": [{\"name\": \"\"}]}", P ".routes[0].name:");
	must_refuse("{\"routes\": [{\"name\": \"abcdefghijabcdefghijabcdefghijab\"}]}",
		    P ".routes[0].name:");
}

static void test_err_duplicate_route_name(void **state)
{
	must_refuse("{\"routes\": [{\"name\": \"a\", \"path\": \"/a/\"}, {\"name\": \"b\"},"
		    " {\"name\": \"a\", \"path\": \"/c/\"}]}",
		    P ".routes[2].name: \"a\" is already the name of routes[0]");
}

static void test_err_duplicate_host_and_path(void **state)
{
	must_refuse("{\"routes\": [{\"name\": \"a\", \"host\": \"X.example\", \"path\": \"/p\"},"
		    " {\"name\": \"b\", \"host\": \"x.example\", \"path\": \"/p\"}]}",
		    P ".routes[1]: host \"x.example\" path \"/p\" is already routes[0]");
}

static void test_err_bad_host_patterns(void **state)
{
	static const char *const bad[] = { "",	     "a..b",   "*.",	  "foo*.com", "-a.com",
					   "a-.com", "a_b.com", "**.x",	   ".a.com",   "a.com.",
					   "*x.com", "a b",    "a.com:80" };
	char conf[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(conf, sizeof(conf), "{\"routes\": [{\"name\": \"r\", \"host\": \"%s\"}]}",
			 bad[i]);
		must_refuse(conf, P ".routes[0].host: ");
	}
}

static void test_err_path_must_start_with_slash(void **state)
{
	must_refuse("{\"routes\": [{\"name\": \"r\", \"path\": \"api/\"}]}",
		    P ".routes[0].path: \"api/\" is not a path prefix; it must start with '/'");
	must_refuse("{\"routes\": [{\"name\": \"r\", \"path\": \"/a?b\"}]}", P ".routes[0].path:");
}

static void test_err_splice(void **state)
{
	must_refuse("{\"routes\": [{\"name\": \"r\", \"splice\": \"always\"}]}",
		    P ".routes[0].splice: must be \"never\" or \"after-auth\"");
}

static void test_err_limit_by_subject_needs_jwt(void **state)
{
	must_refuse("{\"routes\": [{\"name\": \"r\", \"limit\": {\"rate\": 1, \"key\": \"subject\"}}]}",
		    P ".routes[0].limit.key: \"subject\" needs a \"jwt\"");
}

static void test_err_nested_objects_name_their_path(void **state)
{
	must_refuse("{\"routes\": [{\"name\": \"a\"}, {\"name\": \"r\", \"path\": \"/r\","
		    " \"cors\": {\"origins\": [\"*\"], \"credentials\": true}}]}",
		    P ".routes[1].cors.origins:");
	must_refuse("{\"routes\": [{\"name\": \"r\", \"limit\": {\"rate\": 0}}]}",
		    P ".routes[0].limit.rate:");
	must_refuse("{\"routes\": [{\"name\": \"r\", \"jwt\": {\"algs\": [\"none\"]}}]}",
		    P ".routes[0].jwt");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_exact_host_beats_wildcard_and_star),
		cmocka_unit_test(test_match_longer_wildcard_suffix_wins),
		cmocka_unit_test(test_match_wildcard_needs_a_label_before_suffix),
		cmocka_unit_test(test_match_host_is_case_insensitive_port_and_dot_stripped),
		cmocka_unit_test(test_match_no_host_matches_only_star),
		cmocka_unit_test(test_match_longest_path_wins),
		cmocka_unit_test(test_match_host_class_beats_path_length),
		cmocka_unit_test(test_match_falls_back_when_host_route_path_misses),
		cmocka_unit_test(test_match_path_boundary),
		cmocka_unit_test(test_match_query_is_ignored),
		cmocka_unit_test(test_match_absolute_form_uses_its_host_and_path),
		cmocka_unit_test(test_match_none_is_null),
		cmocka_unit_test(test_sorted_routes_keep_config_order_on_ties),
		cmocka_unit_test(test_host_pattern_is_lower_cased),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_default_json_is_fully_filled_in),
		cmocka_unit_test(test_json_round_trips),
		cmocka_unit_test(test_err_unknown_key_lists_known_keys),
		cmocka_unit_test(test_err_wrong_types),
		cmocka_unit_test(test_err_proto),
		cmocka_unit_test(test_err_request_id_header),
		cmocka_unit_test(test_err_timeouts_out_of_range),
		cmocka_unit_test(test_err_limits_out_of_range),
		cmocka_unit_test(test_err_routes_empty),
		cmocka_unit_test(test_err_route_name),
		cmocka_unit_test(test_err_duplicate_route_name),
		cmocka_unit_test(test_err_duplicate_host_and_path),
		cmocka_unit_test(test_err_bad_host_patterns),
		cmocka_unit_test(test_err_path_must_start_with_slash),
		cmocka_unit_test(test_err_splice),
		cmocka_unit_test(test_err_limit_by_subject_needs_jwt),
		cmocka_unit_test(test_err_nested_objects_name_their_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
