/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * CORS for one route (Fetch standard, CORS protocol).
 *
 *   "cors": {"origins": ["https://app.example", "*"],   exact origins, or "*" (not with credentials)
 *            "methods": ["GET", "POST"],                 default GET, HEAD, POST
 *            "headers": ["Authorization", "Content-Type"],  allowed request headers
 *            "expose":  ["X-Request-Id"],                exposed response headers
 *            "max_age": 600,                             preflight cache seconds (default 0: omit)
 *            "credentials": false}
 */
#ifndef SLUICE_PROXY_CORS_H
#define SLUICE_PROXY_CORS_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

struct sl_cors;

struct sl_cors *sl_cors_from_json(const json_t *obj, const char *path, char *err, size_t errlen);
void sl_cors_free(struct sl_cors *c);

/* Is this request a preflight: OPTIONS with Origin and Access-Control-Request-Method. */
bool sl_cors_is_preflight(const char *method, const char *origin, const char *acrm);

/*
 * Answer a preflight. Returns true when allowed, writing the response header
 * lines ("Name: value\r\n"...) into @out (NUL-terminated; false also when @out
 * is too small). A disallowed origin, method or header returns false and writes
 * nothing: the proxy answers without CORS headers and the browser blocks it.
 * @req_headers is Access-Control-Request-Headers (may be NULL).
 */
bool sl_cors_preflight(const struct sl_cors *c, const char *origin, const char *req_method,
		       const char *req_headers, char *out, size_t outlen);

/*
 * Headers to add to an actual (non-preflight) response for @origin (NULL: not a
 * CORS request): Access-Control-Allow-Origin echoing the allowed origin (or "*"),
 * Vary: Origin, credentials and expose-headers. Writes "" when the origin is not
 * allowed. Returns false only when @out is too small.
 */
bool sl_cors_actual(const struct sl_cors *c, const char *origin, char *out, size_t outlen);

/* The normalized "cors" object, every default filled in (new reference). */
json_t *sl_cors_to_json(const struct sl_cors *c);

#endif
