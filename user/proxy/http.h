/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * HTTP/1.1 message framing for the proxy, on llhttp (strict mode, never lenient).
 * One parser per direction of a connection: requests from the client, responses
 * from the upstream. The parser copies the head (start line and headers) into its
 * own bounded buffer and then reports body bytes, which the proxy forwards as
 * they were received (chunked bodies are streamed, never buffered whole).
 *
 * Refused with 400 (431 for oversized heads) and a reason, so the proxy closes
 * the connection: Content-Length together with Transfer-Encoding, differing or
 * repeated Content-Length, a Transfer-Encoding other than a final "chunked",
 * obs-fold (a header line starting with SP/HT), bad chunk sizes or extensions,
 * invalid characters in header names or values, a request line or head over the
 * limits, more headers than the limit, bare LF line endings.
 */
#ifndef SLUICE_PROXY_HTTP_H
#define SLUICE_PROXY_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <llhttp.h>

struct sl_http_limits {
	uint32_t max_request_line; /* bytes of the request (or status) line; default 8192 */
	uint32_t max_head;	   /* bytes of the whole head; default 65536 */
	uint32_t max_headers;	   /* number of header fields; default 100 */
};
#define SL_HTTP_HEAD_CAP 65536 /* hard cap of max_head */
#define SL_HTTP_HDR_CAP 256    /* hard cap of max_headers */

struct sl_http_hdr {
	const char *name; /* points into the parser's head buffer, not NUL-terminated */
	uint32_t name_len;
	const char *value; /* leading/trailing whitespace trimmed */
	uint32_t value_len;
};

/* A parsed head. Pointers stay valid until the next sl_http_reset(). */
struct sl_http_head {
	int method;		/* llhttp_method_t (requests) */
	const char *method_str; /* "GET" ... */
	const char *target;	/* request-target (requests), not NUL-terminated */
	uint32_t target_len;
	int status;		/* responses */
	uint8_t major, minor;	/* HTTP version */
	uint32_t n_hdr;
	struct sl_http_hdr hdr[SL_HTTP_HDR_CAP];
	int64_t content_length; /* -1 when absent */
	bool chunked;		/* Transfer-Encoding: chunked */
	bool keep_alive;	/* llhttp_should_keep_alive() after the head */
	bool upgrade;		/* Connection: upgrade with Upgrade (or CONNECT / 101) */
	bool no_body;		/* message has no body at all */
};

enum sl_http_kind { SL_HTTP_REQUEST, SL_HTTP_RESPONSE };

enum sl_http_event {
	SL_HTTP_NEED_MORE = 0, /* every byte consumed; feed more */
	SL_HTTP_HEAD,	       /* head complete: sl_http_head() is valid; body follows */
	SL_HTTP_BODY,	       /* the consumed bytes are body (raw, as received) */
	SL_HTTP_DONE,	       /* message complete; the consumed bytes end it */
	SL_HTTP_UPGRADE,       /* head of an upgrade/CONNECT done; what follows is not HTTP */
	SL_HTTP_ERROR,	       /* refused: sl_http_error() and sl_http_error_status() */
};

struct sl_http_parser; /* opaque; allocate with sl_http_new() */

struct sl_http_parser *sl_http_new(enum sl_http_kind kind, const struct sl_http_limits *lim);
void sl_http_free(struct sl_http_parser *p);
/* Ready for the next message on the same connection (keep-alive, pipelining). */
void sl_http_reset(struct sl_http_parser *p);
/*
 * Responses only: the request this response answers was HEAD (no body), or a
 * CONNECT (2xx is a tunnel). Call before feeding the response.
 */
void sl_http_set_request_method(struct sl_http_parser *p, int method);

/*
 * Feed @len bytes. Sets *@used to how many were consumed (never past the end of
 * the current message: pipelined bytes stay for the next one) and returns what
 * happened. Call again with the rest while bytes remain and the event is not
 * SL_HTTP_ERROR / SL_HTTP_UPGRADE. After SL_HTTP_HEAD, the caller forwards the
 * head it builds itself, then the raw bytes reported by SL_HTTP_BODY/SL_HTTP_DONE.
 */
enum sl_http_event sl_http_feed(struct sl_http_parser *p, const char *buf, size_t len,
				size_t *used);
/* The connection closed: a response delimited by close ends here (SL_HTTP_DONE),
 * anything else mid-message is SL_HTTP_ERROR. */
enum sl_http_event sl_http_finish(struct sl_http_parser *p);

const struct sl_http_head *sl_http_head(const struct sl_http_parser *p);
const char *sl_http_error(const struct sl_http_parser *p); /* reason, for the log */
int sl_http_error_status(const struct sl_http_parser *p);  /* 400 or 431 */

/* Case-insensitive header lookup in a head: the first match, or NULL. */
const struct sl_http_hdr *sl_http_find(const struct sl_http_head *h, const char *name);
/* Hop-by-hop headers (RFC 9110 7.6.1) that a proxy must not forward. */
bool sl_http_is_hop_by_hop(const char *name, size_t len);
/* Standard reason phrase ("Not Found"); "Unknown" for others. */
const char *sl_http_reason(int status);

#endif
