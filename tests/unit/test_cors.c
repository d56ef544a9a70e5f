// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* CORS per route (user/proxy/cors.c): validation, preflight and actual response headers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "../../user/proxy/cors.h"

#define P "vips[0].l7.routes[0].cors"

static struct sl_cors *cors_of(const char *text, char *err, size_t errlen)
{
	json_error_t jerr;
	struct sl_cors *c;
	json_t *j = json_loads(text, 0, &jerr);

	if (!j)
		fail_msg("test JSON does not parse: %s: %s", jerr.text, text);
	err[0] = '\0';
	c = sl_cors_from_json(j, P, err, errlen);
	json_decref(j);
	return c;
}

static struct sl_cors *must_cors(const char *text)
{
	char err[512];
	struct sl_cors *c = cors_of(text, err, sizeof(err));

	if (!c)
		fail_msg("cors refused: %s\n  config: %s", err, text);
	return c;
}

static void must_refuse(const char *text, const char *want)
{
	char err[512];
	struct sl_cors *c = cors_of(text, err, sizeof(err));

	if (c) {
		sl_cors_free(c);
		fail_msg("cors accepted, expected an error containing '%s'\n  config: %s", want,
			 text);
	}
	if (!strstr(err, want))
		fail_msg("error '%s' does not contain '%s'", err, want);
}

#define ASSERT_STR(got, want, what)                                                         \
	do {                                                                                \
		if (strcmp((got), (want)))                                                  \
			fail_msg("%s:\n  got      '%s'\n  expected '%s'", what, (got), (want)); \
	} while (0)

static const char *const APP = "{\"origins\": [\"https://app.example\", \"http://localhost:3000\"],"
			       " \"methods\": [\"GET\", \"put\"],"
			       " \"headers\": [\"Authorization\", \"Content-Type\"],"
			       " \"expose\": [\"X-Request-Id\"], \"max_age\": 600,"
			       " \"credentials\": true}";

static void test_preflight_allowed_writes_every_header(void **state)
{
	struct sl_cors *c = must_cors(APP);
	char out[1024];

	ASSERT_TRUE(sl_cors_preflight(c, "https://app.example", "PUT", "content-type, authorization",
				      out, sizeof(out)),
		    "preflight refused");
	ASSERT_STR(out,
		   "Access-Control-Allow-Origin: https://app.example\r\n"
		   "Access-Control-Allow-Methods: GET, PUT\r\n"
		   "Access-Control-Allow-Headers: Content-Type, Authorization\r\n"
		   "Access-Control-Max-Age: 600\r\n"
		   "Access-Control-Allow-Credentials: true\r\n"
		   "Vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers\r\n",
		   "preflight headers");
	sl_cors_free(c);
}

static void test_preflight_denied_origin_writes_nothing(void **state)
{
	struct sl_cors *c = must_cors(APP);
	char out[1024] = "junk";

	ASSERT_TRUE(!sl_cors_preflight(c, "https://evil.example", "GET", NULL, out, sizeof(out)),
		    "other origin allowed");
	ASSERT_STR(out, "", "out after a refusal");
	ASSERT_TRUE(!sl_cors_preflight(c, "https://app.example:443", "GET", NULL, out, sizeof(out)),
		    "origin with another port allowed");
	ASSERT_TRUE(!sl_cors_preflight(c, "http://app.example", "GET", NULL, out, sizeof(out)),
		    "origin with another scheme allowed");
	ASSERT_TRUE(!sl_cors_preflight(c, "null", "GET", NULL, out, sizeof(out)),
		    "origin null allowed");
	sl_cors_free(c);
}

static void test_preflight_origin_case_insensitive(void **state)
{
	struct sl_cors *c = must_cors(APP);
	char out[1024];

	ASSERT_TRUE(sl_cors_preflight(c, "https://APP.example", "GET", NULL, out, sizeof(out)),
		    "upper-case origin refused");
	ASSERT_TRUE(strstr(out, "Access-Control-Allow-Origin: https://app.example\r\n"),
		    "answered with the configured spelling: %s", out);
	sl_cors_free(c);
}

static void test_preflight_method_must_be_listed(void **state)
{
	struct sl_cors *c = must_cors(APP);
	struct sl_cors *d = must_cors("{\"origins\": [\"https://app.example\"]}");
	char out[1024];

	ASSERT_TRUE(!sl_cors_preflight(c, "https://app.example", "POST", NULL, out, sizeof(out)),
		    "unlisted simple method POST allowed");
	ASSERT_TRUE(!sl_cors_preflight(c, "https://app.example", "DELETE", NULL, out, sizeof(out)),
		    "unlisted DELETE allowed");
	ASSERT_TRUE(sl_cors_preflight(d, "https://app.example", "POST", NULL, out, sizeof(out)),
		    "default method POST refused");
	ASSERT_TRUE(strstr(out, "Access-Control-Allow-Methods: GET, HEAD, POST\r\n"),
		    "default methods: %s", out);
	ASSERT_TRUE(!sl_cors_preflight(d, "https://app.example", "PUT", NULL, out, sizeof(out)),
		    "PUT allowed by default");
	sl_cors_free(d);
	sl_cors_free(c);
}

static void test_preflight_headers_case_insensitive_and_listed(void **state)
{
	struct sl_cors *c = must_cors(APP);
	char out[1024];

	ASSERT_TRUE(sl_cors_preflight(c, "https://app.example", "GET", " AUTHORIZATION ,,content-TYPE",
				      out, sizeof(out)),
		    "listed headers in other case refused");
	ASSERT_TRUE(strstr(out, "Access-Control-Allow-Headers: Authorization, Content-Type\r\n"),
		    "allow-headers: %s", out);
	ASSERT_TRUE(!sl_cors_preflight(c, "https://app.example", "GET", "authorization, x-secret",
				       out, sizeof(out)),
		    "unlisted header x-secret allowed");
	ASSERT_TRUE(!sl_cors_preflight(c, "https://app.example", "GET", "authorizationx", out,
				       sizeof(out)),
		    "header with a listed prefix allowed");
	sl_cors_free(c);
}

static void test_preflight_without_headers_omits_allow_headers(void **state)
{
	struct sl_cors *c = must_cors(APP);
	char out[1024];

	ASSERT_TRUE(sl_cors_preflight(c, "https://app.example", "GET", NULL, out, sizeof(out)),
		    "refused");
	ASSERT_TRUE(!strstr(out, "Access-Control-Allow-Headers"), "allow-headers written: %s", out);
	sl_cors_free(c);
}

static void test_star_without_credentials_answers_star(void **state)
{
	struct sl_cors *c = must_cors("{\"origins\": [\"*\"]}");
	char out[1024];

	ASSERT_TRUE(sl_cors_preflight(c, "https://anything.example", "GET", NULL, out, sizeof(out)),
		    "refused");
	ASSERT_TRUE(strstr(out, "Access-Control-Allow-Origin: *\r\n"), "preflight: %s", out);
	ASSERT_TRUE(!strstr(out, "Credentials"), "credentials sent: %s", out);
	ASSERT_TRUE(sl_cors_actual(c, "https://x.example", out, sizeof(out)), "actual");
	ASSERT_TRUE(strstr(out, "Access-Control-Allow-Origin: *\r\n"), "actual: %s", out);
	sl_cors_free(c);
}

static void test_star_with_credentials_is_refused(void **state)
{
	must_refuse("{\"origins\": [\"https://a.example\", \"*\"], \"credentials\": true}",
		    P ".origins: \"*\" cannot be used with \"credentials\": true");
}

static void test_max_age_omitted_when_zero(void **state)
{
	struct sl_cors *c = must_cors("{\"origins\": [\"https://app.example\"], \"max_age\": 0}");
	char out[1024];

	ASSERT_TRUE(sl_cors_preflight(c, "https://app.example", "GET", NULL, out, sizeof(out)),
		    "refused");
	ASSERT_TRUE(!strstr(out, "Max-Age"), "max-age written: %s", out);
	ASSERT_TRUE(!strstr(out, "Credentials"), "credentials written when off: %s", out);
	sl_cors_free(c);
}

static void test_actual_allowed_origin(void **state)
{
	struct sl_cors *c = must_cors(APP);
	char out[1024];

	ASSERT_TRUE(sl_cors_actual(c, "http://localhost:3000", out, sizeof(out)), "actual");
	ASSERT_STR(out,
		   "Access-Control-Allow-Origin: http://localhost:3000\r\n"
		   "Vary: Origin\r\n"
		   "Access-Control-Allow-Credentials: true\r\n"
		   "Access-Control-Expose-Headers: X-Request-Id\r\n",
		   "actual headers");
	sl_cors_free(c);
}

static void test_actual_other_origin_or_none_writes_nothing(void **state)
{
	struct sl_cors *c = must_cors(APP);
	char out[1024] = "junk";

	ASSERT_TRUE(sl_cors_actual(c, "https://evil.example", out, sizeof(out)), "returned false");
	ASSERT_STR(out, "", "disallowed origin");
	strcpy(out, "junk");
	ASSERT_TRUE(sl_cors_actual(c, NULL, out, sizeof(out)), "returned false");
	ASSERT_STR(out, "", "no origin");
	sl_cors_free(c);
}

static void test_small_buffer_returns_false(void **state)
{
	struct sl_cors *c = must_cors(APP);
	char out[64];

	ASSERT_TRUE(!sl_cors_preflight(c, "https://app.example", "GET", NULL, out, sizeof(out)),
		    "preflight fit in 64 bytes?");
	ASSERT_STR(out, "", "preflight out");
	ASSERT_TRUE(!sl_cors_actual(c, "https://app.example", out, sizeof(out)),
		    "actual fit in 64 bytes?");
	ASSERT_STR(out, "", "actual out");
	sl_cors_free(c);
}

static void test_is_preflight(void **state)
{
	ASSERT_TRUE(sl_cors_is_preflight("OPTIONS", "https://a.example", "PUT"), "preflight");
	ASSERT_TRUE(!sl_cors_is_preflight("OPTIONS", NULL, "PUT"), "no origin");
	ASSERT_TRUE(!sl_cors_is_preflight("OPTIONS", "https://a.example", NULL), "no ACRM");
	ASSERT_TRUE(!sl_cors_is_preflight("GET", "https://a.example", "PUT"), "GET");
}

static void test_origin_syntax(void **state)
{
	static const char *const bad[] = { "app.example",	  "https://app.example/",
					   "https://app.example/x", "null",
					   "https://",		  "https://a:0",
					   "https://a:65536",	  "https://a b",
					   "https://*.example",	  "https://a.example:" };
	char conf[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(conf, sizeof(conf), "{\"origins\": [\"ok://a\", \"%s\"]}", bad[i]);
		must_refuse(conf, P ".origins[1]: ");
	}
	sl_cors_free(must_cors("{\"origins\": [\"https://a.example:8443\", \"http://[2001:db8::1]:80\","
			       " \"http://198.18.0.1\"]}"));
}

static void test_config_errors_name_fields(void **state)
{
	must_refuse("{\"origin\": [\"*\"]}", P ": unknown key \"origin\"");
	must_refuse("{\"methods\": [\"GET\"]}", P ".origins: required");
	must_refuse("{\"origins\": []}", P ".origins: empty");
	must_refuse("{\"origins\": [\"*\"], \"methods\": [\"GE T\"]}", P ".methods[0]:");
	must_refuse("{\"origins\": [\"*\"], \"headers\": [\"X-A\", \"x-a\"]}",
		    P ".headers[1]: \"x-a\" is listed twice");
	must_refuse("{\"origins\": [\"*\"], \"max_age\": -1}", P ".max_age:");
	must_refuse("{\"origins\": [\"*\"], \"credentials\": 1}", P ".credentials:");
}

static void test_to_json_normalizes(void **state)
{
	struct sl_cors *c = must_cors("{\"origins\": [\"HTTPS://App.Example\"], \"methods\": [\"get\"]}");
	json_t *j = sl_cors_to_json(c);
	json_t *w = json_loads("{\"origins\": [\"https://app.example\"], \"methods\": [\"GET\"],"
			       " \"headers\": [], \"expose\": [], \"max_age\": 0,"
			       " \"credentials\": false}",
			       0, NULL);
	char *s = json_dumps(j, 0);

	ASSERT_TRUE(json_equal(j, w), "to_json: %s", s);
	free(s);
	json_decref(w);
	json_decref(j);
	sl_cors_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_preflight_allowed_writes_every_header),
		cmocka_unit_test(test_preflight_denied_origin_writes_nothing),
		cmocka_unit_test(test_preflight_origin_case_insensitive),
		cmocka_unit_test(test_preflight_method_must_be_listed),
		cmocka_unit_test(test_preflight_headers_case_insensitive_and_listed),
		cmocka_unit_test(test_preflight_without_headers_omits_allow_headers),
		cmocka_unit_test(test_star_without_credentials_answers_star),
		cmocka_unit_test(test_star_with_credentials_is_refused),
		cmocka_unit_test(test_max_age_omitted_when_zero),
		cmocka_unit_test(test_actual_allowed_origin),
		cmocka_unit_test(test_actual_other_origin_or_none_writes_nothing),
		cmocka_unit_test(test_small_buffer_returns_false),
		cmocka_unit_test(test_is_preflight),
		cmocka_unit_test(test_origin_syntax),
		cmocka_unit_test(test_config_errors_name_fields),
		cmocka_unit_test(test_to_json_normalizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
