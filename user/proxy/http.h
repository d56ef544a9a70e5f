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
 *
 * Also refused (400): whitespace before the colon, control characters in values,
 * HTTP versions other than 1.0/1.1, an HTTP/1.1 request without Host, more than
 * one Host, a request line that is not "method SP target SP version", an
 * Upgrade/CONNECT request with a body, bytes after chunk data other than CRLF,
 * obs-fold in trailers. Transfer-Encoding must be exactly "chunked" (any case) in
 * requests and responses alike; a repeated Transfer-Encoding is refused. Chunk
 * extensions are ";name[=token|quoted-string]" with no whitespace; note that
 * llhttp 8.1 refuses a token-valued extension followed by another (";a=b;c")
 * and a backslash inside a quoted one, so those are refused too.
 *
 * Event contract of sl_http_feed(), for the caller's loop
 *   ev = sl_http_feed(p, buf + off, len - off, &used); off += used;
 * - SL_HTTP_NEED_MORE: used == len (all consumed, nothing complete).
 * - SL_HTTP_HEAD: used ends exactly at the end of the head (after CRLF CRLF).
 *   Call again even with 0 bytes left: a message without a body
 *   (head.no_body: no CL/TE, Content-Length: 0, HEAD/1xx/204/304 responses)
 *   then returns SL_HTTP_DONE with used == 0, also when len == 0.
 * - SL_HTTP_BODY: used == len, all raw body bytes (chunk framing and trailers
 *   included). A BODY with len == 0 is never returned (NEED_MORE instead).
 * - SL_HTTP_DONE: used ends exactly at the end of the message; bytes after it
 *   are the next message. The parser keeps answering DONE (used 0) until
 *   sl_http_reset(). The head stays readable until then.
 * - SL_HTTP_UPGRADE: instead of SL_HTTP_HEAD (sl_http_head() is valid, upgrade
 *   is set); used ends exactly at the end of the head; later calls return
 *   UPGRADE with used 0. Requests: CONNECT, or "Connection: upgrade" with
 *   Upgrade. Responses: 101, or 2xx when the request method was CONNECT.
 * - SL_HTTP_ERROR: used is 0 (nothing of the bad message is to be forwarded);
 *   later calls return ERROR until sl_http_reset().
 * Responses: each 1xx other than 101 is a complete message of its own (HEAD,
 * then DONE); forward it, sl_http_reset() and keep feeding for the final one.
 * A response without Content-Length or Transfer-Encoding (and that may have a
 * body) is delimited by the close: BODY events, then sl_http_finish() == DONE.
 * Limits: max_request_line counts the start line without its CRLF; max_head
 * counts everything up to and including the empty line (leading empty lines
 * too); both exactly at the limit pass. The trailer section of a chunked body
 * is bounded by max_head as well (431).
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
	int method;		/* llhttp_method_t (requests); -1 in responses */
	const char *method_str; /* "GET" ... (requests; NULL in responses) */
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
	bool no_body;		/* no body bytes follow (also Content-Length: 0, upgrade) */
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

/* @lim may be NULL, and a 0 field means its default. NULL with errno EINVAL when
 * max_head > SL_HTTP_HEAD_CAP or max_headers > SL_HTTP_HDR_CAP, ENOMEM. */
struct sl_http_parser *sl_http_new(enum sl_http_kind kind, const struct sl_http_limits *lim);
void sl_http_free(struct sl_http_parser *p);
/* Ready for the next message on the same connection (keep-alive, pipelining).
 * Keeps the request method set by sl_http_set_request_method(). */
void sl_http_reset(struct sl_http_parser *p);
/*
 * Responses only: the request this response answers was HEAD (no body), or a
 * CONNECT (2xx is a tunnel). Call before feeding each response (it stays set
 * across sl_http_reset(), so 1xx then the final response need one call).
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
 * anything else mid-message is SL_HTTP_ERROR. SL_HTTP_NEED_MORE when no byte of
 * a message had arrived (a clean close between messages); a complete message
 * answers DONE, an upgraded one UPGRADE. */
enum sl_http_event sl_http_finish(struct sl_http_parser *p);

const struct sl_http_head *sl_http_head(const struct sl_http_parser *p);
const char *sl_http_error(const struct sl_http_parser *p); /* reason, for the log */
/* 400 or 431. For a response parser this says the upstream's message is bad:
 * the proxy answers 502 itself. */
int sl_http_error_status(const struct sl_http_parser *p);

/* Case-insensitive header lookup in a head: the first match, or NULL. */
const struct sl_http_hdr *sl_http_find(const struct sl_http_head *h, const char *name);
/* Hop-by-hop headers (RFC 9110 7.6.1) that a proxy must not forward: Connection,
 * Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade,
 * Proxy-Authenticate, Proxy-Authorization, all of them listed; the caller
 * decides (the proxy keeps Transfer-Encoding since it forwards chunked bodies
 * raw, and the names listed in Connection are its business too). */
bool sl_http_is_hop_by_hop(const char *name, size_t len);
/* Standard reason phrase ("Not Found"); "Unknown" for others. */
const char *sl_http_reason(int status);

#endif
