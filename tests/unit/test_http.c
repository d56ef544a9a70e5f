/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * sl_http (user/proxy/http.c): HTTP/1.1 framing on llhttp. Most cases run through
 * run_all(), which feeds the input whole, byte by byte and split at every offset,
 * each piece in a fresh buffer freed right after (as a proxy reuses its read
 * buffer), and checks every way gives the same transcript as expected.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "../../user/proxy/http.h"

#define OUT_SZ 4096

struct run {
	char out[OUT_SZ]; /* transcript */
	char reason[128]; /* sl_http_error() of the last error */
};

static void outf(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(struct run *r, const char *fmt, ...)
{
	size_t n = strlen(r->out);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->out + n, sizeof(r->out) - n, fmt, ap);
	va_end(ap);
}

/* One line describing a head; headers as name=value with OWS trimmed. */
static void describe_head(const struct sl_http_head *h, enum sl_http_kind kind, char *s,
			  size_t sz)
{
	size_t n;
	uint32_t i;

	if (kind == SL_HTTP_REQUEST)
		n = snprintf(s, sz, "%s %.*s", h->method_str, (int)h->target_len, h->target);
	else
		n = snprintf(s, sz, "%d", h->status);
	n += snprintf(s + n, sz - n, " 1.%u cl=%lld te=%d ka=%d nb=%d up=%d [", h->minor,
		      (long long)h->content_length, h->chunked, h->keep_alive, h->no_body,
		      h->upgrade);
	for (i = 0; i < h->n_hdr && n < sz; i++)
		n += snprintf(s + n, sz - n, "%s%.*s=%.*s", i ? ";" : "", (int)h->hdr[i].name_len,
			      h->hdr[i].name, (int)h->hdr[i].value_len, h->hdr[i].value);
	if (n < sz)
		snprintf(s + n, sz - n, "]");
}

/*
 * Feed @in as the pieces [cuts[i-1], cuts[i]) the way the proxy does, writing
 * "HEAD@end <head>", "DONE@end body=N", "UPGRADE@end rest=N", "ERROR status",
 * and at the end "FINISH <event>" (when @finish) or "END".
 */
static void run_cuts(struct run *r, enum sl_http_kind kind, int req_method,
		     const struct sl_http_limits *lim, const char *in, size_t len,
		     const size_t *cuts, size_t ncuts, bool finish)
{
	struct sl_http_parser *p = sl_http_new(kind, lim);
	char head_at_head[1024], head_now[1024];
	size_t piece, start = 0, body = 0, guard = 0;
	enum sl_http_event ev;

	memset(r, 0, sizeof(*r));
	assert_non_null(p);
	if (req_method >= 0)
		sl_http_set_request_method(p, req_method);
	for (piece = 0; piece <= ncuts; piece++) {
		size_t end = piece < ncuts ? cuts[piece] : len, off = 0, avail = end - start;
		char *buf = malloc(avail ? avail : 1);

		memcpy(buf, in + start, avail);
		for (;;) {
			size_t used = 12345;

			ASSERT_LE(++guard, 10 * len + 100, "iterations feeding %zu bytes", len);
			ev = sl_http_feed(p, buf + off, avail - off, &used);
			ASSERT_LE(used, avail - off, "used after event %d", ev);
			off += used;
			if (ev == SL_HTTP_HEAD) {
				describe_head(sl_http_head(p), kind, head_at_head,
					      sizeof(head_at_head));
				outf(r, "HEAD@%zu %s\n", start + off, head_at_head);
				body = 0;
				continue;
			}
			if (ev == SL_HTTP_BODY || ev == SL_HTTP_NEED_MORE) {
				ASSERT_EQ(off, avail, "%s leaves bytes unconsumed",
					  ev == SL_HTTP_BODY ? "BODY" : "NEED_MORE");
				body += used;
				break;
			}
			if (ev == SL_HTTP_DONE) {
				body += used;
				/* the head still reads the same though its bytes are freed */
				describe_head(sl_http_head(p), kind, head_now, sizeof(head_now));
				ASSERT_TRUE(!strcmp(head_now, head_at_head),
					    "head changed by DONE: %s vs %s", head_now,
					    head_at_head);
				outf(r, "DONE@%zu body=%zu\n", start + off, body);
				sl_http_reset(p);
				continue;
			}
			if (ev == SL_HTTP_UPGRADE) {
				describe_head(sl_http_head(p), kind, head_now, sizeof(head_now));
				outf(r, "UPGRADE@%zu rest=%zu %s\n", start + off, len - start - off,
				     head_now);
			} else {
				ASSERT_EQ(ev, SL_HTTP_ERROR, "event");
				ASSERT_EQ(used, 0, "bytes consumed by a refusal");
				outf(r, "ERROR %d\n", sl_http_error_status(p));
				snprintf(r->reason, sizeof(r->reason), "%s", sl_http_error(p));
			}
			free(buf);
			goto out;
		}
		free(buf);
		start = end;
	}
	if (finish) {
		ev = sl_http_finish(p);
		if (ev == SL_HTTP_DONE)
			outf(r, "FINISH DONE body=%zu\n", body);
		else
			outf(r, "FINISH %s\n", ev == SL_HTTP_ERROR ? (sl_http_error_status(p) == 431 ? "431" : "400") :
					       ev == SL_HTTP_NEED_MORE ? "idle" : "other");
	} else {
		outf(r, "END\n");
	}
out:
	sl_http_free(p);
}

/*
 * Every way of splitting @in gives the transcript @exp; returns the whole-input
 * run so callers can check the reason.
 */
static struct run run_all(enum sl_http_kind kind, int req_method, const struct sl_http_limits *lim,
			  const char *in, size_t len, bool finish, const char *exp)
{
	static size_t cuts[SL_HTTP_HEAD_CAP * 2];
	struct run whole, r;
	size_t i;

	run_cuts(&whole, kind, req_method, lim, in, len, NULL, 0, finish);
	if (exp && strcmp(whole.out, exp))
		fail_msg("input %.*s\nwhole: got\n%sexpected\n%s(reason %s)", (int)len, in,
			 whole.out, exp, whole.reason);
	for (i = 0; i + 1 < len && i < sizeof(cuts) / sizeof(cuts[0]); i++)
		cuts[i] = i + 1;
	run_cuts(&r, kind, req_method, lim, in, len, cuts, i, finish);
	if (strcmp(r.out, whole.out) || strcmp(r.reason, whole.reason))
		fail_msg("byte by byte: got\n%s(%s)\nwhole gave\n%s(%s)", r.out, r.reason,
			 whole.out, whole.reason);
	for (i = 1; i < len && len < 2048; i++) {
		run_cuts(&r, kind, req_method, lim, in, len, &i, 1, finish);
		if (strcmp(r.out, whole.out) || strcmp(r.reason, whole.reason))
			fail_msg("split at %zu: got\n%s(%s)\nwhole gave\n%s(%s)", i, r.out,
				 r.reason, whole.out, whole.reason);
	}
	return whole;
}

#define REQ(in, exp) run_all(SL_HTTP_REQUEST, -1, NULL, in, sizeof(in) - 1, false, exp)
#define RESP(m, in, exp) run_all(SL_HTTP_RESPONSE, m, NULL, in, sizeof(in) - 1, true, exp)

static void test_get_without_body_is_head_then_done_at_head_end(void **state)
{
	REQ("GET /a?b HTTP/1.1\r\nHost: x\r\n\r\n",
	    "HEAD@30 GET /a?b 1.1 cl=-1 te=0 ka=1 nb=1 up=0 [Host=x]\n"
	    "DONE@30 body=0\n"
	    "END\n");
}

static void test_feed_of_zero_bytes_after_bodiless_head_is_done(void **state)
{
	static const char in[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	struct sl_http_parser *p = sl_http_new(SL_HTTP_REQUEST, NULL);
	size_t used = 99;

	ASSERT_EQ(sl_http_feed(p, in, sizeof(in) - 1, &used), SL_HTTP_HEAD, "event");
	ASSERT_EQ(used, sizeof(in) - 1, "used");
	ASSERT_EQ(sl_http_feed(p, NULL, 0, &used), SL_HTTP_DONE, "event of a 0-byte feed");
	ASSERT_EQ(used, 0, "used");
	sl_http_reset(p);
	ASSERT_EQ(sl_http_feed(p, NULL, 0, &used), SL_HTTP_NEED_MORE, "after reset");
	ASSERT_EQ(sl_http_finish(p), SL_HTTP_NEED_MORE, "close between messages");
	sl_http_free(p);
	sl_http_free(NULL);
}

static void test_post_with_content_length_body(void **state)
{
	REQ("POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
	    "HEAD@48 POST /u 1.1 cl=5 te=0 ka=1 nb=0 up=0 [Host=x;Content-Length=5]\n"
	    "DONE@53 body=5\n"
	    "END\n");
}

static void test_content_length_zero_has_no_body(void **state)
{
	REQ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
	    "HEAD@47 POST / 1.1 cl=0 te=0 ka=1 nb=1 up=0 [Host=x;Content-Length=0]\n"
	    "DONE@47 body=0\n"
	    "END\n");
}

static void test_chunked_extensions_and_trailers_forwarded_raw(void **state)
{
	/* the 46 body bytes are reported as received, framing included */
	REQ("PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n"
	    "5;n=\"q v\";f\r\nhello\r\n"
	    "0;last=1\r\nX-Trailer: t\r\n\r\n",
	    "HEAD@55 PUT / 1.1 cl=-1 te=1 ka=1 nb=0 up=0 [Host=x;Transfer-Encoding=Chunked]\n"
	    "DONE@101 body=46\n"
	    "END\n");
}

static void test_pipelined_requests_stop_at_each_message_end(void **state)
{
	REQ("GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"
	    "POST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
	    "POST /3 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n"
	    "GET /4 HTTP/1.0\r\n\r\n",
	    "HEAD@28 GET /1 1.1 cl=-1 te=0 ka=1 nb=1 up=0 [Host=x]\n"
	    "DONE@28 body=0\n"
	    "HEAD@76 POST /2 1.1 cl=3 te=0 ka=1 nb=0 up=0 [Host=x;Content-Length=3]\n"
	    "DONE@79 body=3\n"
	    "HEAD@136 POST /3 1.1 cl=-1 te=1 ka=1 nb=0 up=0 [Host=x;Transfer-Encoding=chunked]\n"
	    "DONE@147 body=11\n"
	    "HEAD@166 GET /4 1.0 cl=-1 te=0 ka=0 nb=1 up=0 []\n"
	    "DONE@166 body=0\n"
	    "END\n");
}

static void test_leading_empty_line_before_request_is_skipped(void **state)
{
	REQ("\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
	    "HEAD@29 GET / 1.1 cl=-1 te=0 ka=1 nb=1 up=0 [Host=x]\n"
	    "DONE@29 body=0\n"
	    "END\n");
}

static void test_header_values_trimmed_of_ows(void **state)
{
	REQ("GET / HTTP/1.1\r\nHost:\t x \t\r\nX-Empty:   \r\nX-In: a  b\r\n\r\n",
	    "HEAD@55 GET / 1.1 cl=-1 te=0 ka=1 nb=1 up=0 [Host=x;X-Empty=;X-In=a  b]\n"
	    "DONE@55 body=0\n"
	    "END\n");
}

static void test_keep_alive_follows_version_and_connection(void **state)
{
	REQ("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	    "HEAD@46 GET / 1.1 cl=-1 te=0 ka=0 nb=1 up=0 [Host=x;Connection=close]\n"
	    "DONE@46 body=0\n"
	    "END\n");
	REQ("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
	    "HEAD@42 GET / 1.0 cl=-1 te=0 ka=1 nb=1 up=0 [Connection=keep-alive]\n"
	    "DONE@42 body=0\n"
	    "END\n");
}

static void test_upgrade_stops_exactly_at_head_end(void **state)
{
	REQ("GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
	    "\x81\x05hello",
	    "UPGRADE@70 rest=7 GET /ws 1.1 cl=-1 te=0 ka=1 nb=1 up=1 "
	    "[Host=x;Connection=Upgrade;Upgrade=websocket]\n");
}

static void test_connect_stops_exactly_at_head_end(void **state)
{
	REQ("CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\nTLS...",
	    "UPGRADE@39 rest=6 CONNECT x:443 1.1 cl=-1 te=0 ka=1 nb=1 up=1 [Host=x:443]\n");
}

/* One input that must be refused with @status, whichever way it is split. */
struct refusal {
	const char *what;
	const char *in;
	int status;
};

static const struct refusal refusals[] = {
	{ "CL and TE", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
		       "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400 },
	{ "TE and CL", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
		       "Content-Length: 1\r\n\r\n0\r\n\r\n", 400 },
	{ "two equal CL", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
			  "Content-Length: 1\r\n\r\na", 400 },
	{ "two different CL", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
			      "Content-Length: 2\r\n\r\nab", 400 },
	{ "CL list", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 1\r\n\r\na", 400 },
	{ "CL sign", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\na", 400 },
	{ "CL negative", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\na", 400 },
	{ "CL hex", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x1\r\n\r\na", 400 },
	{ "CL empty", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n", 400 },
	{ "CL overflow", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: "
			 "99999999999999999999\r\n\r\n", 400 },
	{ "TE gzip", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nab", 400 },
	{ "TE gzip, chunked", "POST / HTTP/1.1\r\nHost: x\r\n"
			      "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 400 },
	{ "TE chunked, gzip", "POST / HTTP/1.1\r\nHost: x\r\n"
			      "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 400 },
	{ "TE xchunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n", 400 },
	{ "TE twice", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
		      "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400 },
	{ "obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400 },
	{ "obs-fold with tab", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\n", 400 },
	{ "whitespace before first header", "GET / HTTP/1.1\r\n Host: x\r\n\r\n", 400 },
	{ "chunk size not hex", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
				"\r\nzz\r\n", 400 },
	{ "chunk size overflow", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
				 "\r\n11111111111111111\r\n", 400 },
	{ "chunk size empty", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
			      "\r\n\r\n", 400 },
	{ "space after chunk size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
				    "\r\n\r\n5 ;a\r\nhello\r\n0\r\n\r\n", 400 },
	{ "chunk ext control char", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
				    "\r\n\r\n5;\x01\r\nhello\r\n0\r\n\r\n", 400 },
	{ "chunk ext unterminated quote", "POST / HTTP/1.1\r\nHost: x\r\n"
					  "Transfer-Encoding: chunked\r\n\r\n"
					  "5;a=\"b\r\nhello\r\n0\r\n\r\n", 400 },
	{ "chunk ext empty name", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
				  "\r\n\r\n5;=b\r\nhello\r\n0\r\n\r\n", 400 },
	{ "chunk data not followed by CRLF", "POST / HTTP/1.1\r\nHost: x\r\n"
					     "Transfer-Encoding: chunked\r\n\r\n"
					     "5\r\nhelloXX0\r\n\r\n", 400 },
	{ "bare LF in chunk size line", "POST / HTTP/1.1\r\nHost: x\r\n"
					"Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
	  400 },
	{ "trailer obs-fold", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
			      "\r\n0\r\nX: 1\r\n 2\r\n\r\n", 400 },
	{ "trailer bare LF", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
			     "\r\n0\r\nX: 1\n\r\n", 400 },
	{ "header name with (", "GET / HTTP/1.1\r\nHost: x\r\nX(: a\r\n\r\n", 400 },
	{ "header name with non-ASCII", "GET / HTTP/1.1\r\nHost: x\r\nX\xe9: a\r\n\r\n", 400 },
	{ "empty header name", "GET / HTTP/1.1\r\nHost: x\r\n: a\r\n\r\n", 400 },
	{ "header line without colon", "GET / HTTP/1.1\r\nHost: x\r\nXa\r\n\r\n", 400 },
	{ "control char in value", "GET / HTTP/1.1\r\nHost: x\r\nX: a\x01\r\n\r\n", 400 },
	{ "DEL in value", "GET / HTTP/1.1\r\nHost: x\r\nX: a\x7f\r\n\r\n", 400 },
	{ "NUL in value", "GET / HTTP/1.1\r\nHost: x\r\nX: a\0b\r\n\r\n", 400 },
	{ "bare LF after request line", "GET / HTTP/1.1\nHost: x\r\n\r\n", 400 },
	{ "bare LF after header", "GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n", 400 },
	{ "bare LF ending the head", "GET / HTTP/1.1\r\nHost: x\r\n\n", 400 },
	{ "bare LF first", "\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
	{ "bare CR", "GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n", 400 },
	{ "space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400 },
	{ "tab before colon", "GET / HTTP/1.1\r\nHost\t: x\r\n\r\n", 400 },
	{ "HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 400 },
	{ "HTTP/1.2", "GET / HTTP/1.2\r\nHost: x\r\n\r\n", 400 },
	{ "HTTP/0.9", "GET / HTTP/0.9\r\nHost: x\r\n\r\n", 400 },
	{ "no version", "GET /\r\nHost: x\r\n\r\n", 400 },
	{ "HTTP/1.1 without Host", "GET / HTTP/1.1\r\nX: y\r\n\r\n", 400 },
	{ "two Host", "GET / HTTP/1.1\r\nHost: x\r\nhost: y\r\n\r\n", 400 },
	{ "two spaces after method", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
	{ "space in target", "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
	{ "bad method", "G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
	{ "upgrade with a body", "POST / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\n"
				 "Upgrade: h2c\r\nContent-Length: 2\r\n\r\nab", 400 },
	{ "CONNECT with a body", "CONNECT x:1 HTTP/1.1\r\nHost: x:1\r\n"
				 "Content-Length: 2\r\n\r\nab", 400 },
};

static void test_refusals(void **state)
{
	char exp[32];
	size_t i;

	for (i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		const struct refusal *t = &refusals[i];
		size_t len = strlen(t->in);
		struct run r;

		if (!strcmp(t->what, "NUL in value"))
			len = strlen(t->in) + 1 + strlen(t->in + strlen(t->in) + 1);
		snprintf(exp, sizeof(exp), "ERROR %d\n", t->status);
		/* a bad body comes after a good head: only the end is the refusal */
		r = run_all(SL_HTTP_REQUEST, -1, NULL, t->in, len, false, NULL);
		ASSERT_TRUE(strlen(r.out) >= strlen(exp) &&
				    !strcmp(r.out + strlen(r.out) - strlen(exp), exp),
			    "%s: got %s, expected it to end with %s", t->what, r.out, exp);
		ASSERT_TRUE(strcmp(r.reason, "no error"), "%s: a reason", t->what);
	}
}

static void test_refusal_reasons_name_the_problem(void **state)
{
	struct run r;

	r = REQ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
		"Content-Length: 1\r\n\r\n",
		"ERROR 400\n");
	ASSERT_TRUE(strstr(r.reason, "Content-Length") && strstr(r.reason, "Transfer-Encoding"),
		    "reason %s", r.reason);
	r = REQ("GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", "ERROR 400\n");
	ASSERT_TRUE(strstr(r.reason, "obs-fold"), "reason %s", r.reason);
	r = REQ("GET / HTTP/1.1\r\nX: y\r\n\r\n", "ERROR 400\n");
	ASSERT_TRUE(strstr(r.reason, "Host"), "reason %s", r.reason);
}

static char *make_request(size_t target_len, size_t n_extra, size_t pad_to)
{
	char *s = malloc(SL_HTTP_HEAD_CAP * 2);
	size_t n, i;

	n = sprintf(s, "GET /");
	memset(s + n, 'a', target_len - 1);
	n += target_len - 1;
	n += sprintf(s + n, " HTTP/1.1\r\nHost: x\r\n");
	for (i = 0; i < n_extra; i++)
		n += sprintf(s + n, "X-%zu: v\r\n", i);
	if (pad_to) {
		/* one more header "P: vvv" so that the head is pad_to bytes */
		size_t vlen = pad_to - n - strlen("P: \r\n\r\n");

		n += sprintf(s + n, "P: ");
		memset(s + n, 'v', vlen);
		n += vlen;
		n += sprintf(s + n, "\r\n");
	}
	sprintf(s + n, "\r\n");
	return s;
}

static void expect_limit(const struct sl_http_limits *lim, const char *in, bool pass,
			 const char *what)
{
	struct run r;
	size_t len = strlen(in);

	/* whole and byte by byte only: every split of a 64 KiB head is too slow */
	run_cuts(&r, SL_HTTP_REQUEST, -1, lim, in, len, NULL, 0, false);
	if (pass) {
		char exp[48];

		snprintf(exp, sizeof(exp), "DONE@%zu body=0\n", len);
		ASSERT_TRUE(strstr(r.out, exp), "%s: got %s", what, r.out);
	} else {
		ASSERT_TRUE(!strcmp(r.out, "ERROR 431\n"), "%s: got %s (%s)", what, r.out,
			    r.reason);
	}
	if (len < 20000) {
		static size_t cuts[20000];
		struct run b;
		size_t i;

		for (i = 0; i + 1 < len; i++)
			cuts[i] = i + 1;
		run_cuts(&b, SL_HTTP_REQUEST, -1, lim, in, len, cuts, i, false);
		ASSERT_TRUE(!strcmp(b.out, r.out), "%s byte by byte: got %s, whole %s", what,
			    b.out, r.out);
	}
}

static void test_request_line_limit_exact_passes_one_over_431(void **state)
{
	struct sl_http_limits lim = { .max_request_line = 100 };
	/* "GET " + target + " HTTP/1.1" = 13 + target */
	char *ok = make_request(87, 0, 0), *over = make_request(88, 0, 0);

	expect_limit(&lim, ok, true, "request line of 100");
	expect_limit(&lim, over, false, "request line of 101");
	free(ok);
	free(over);
}

static void test_head_limit_exact_passes_one_over_431(void **state)
{
	struct sl_http_limits lim = { .max_head = 1000 }, cap = { .max_head = SL_HTTP_HEAD_CAP };
	char *ok = make_request(1, 0, 1000), *over = make_request(1, 0, 1001);

	ASSERT_EQ(strlen(ok), 1000, "head size");
	expect_limit(&lim, ok, true, "head of 1000");
	expect_limit(&lim, over, false, "head of 1001");
	free(ok);
	free(over);
	ok = make_request(1, 0, SL_HTTP_HEAD_CAP);
	over = make_request(1, 0, SL_HTTP_HEAD_CAP + 1);
	expect_limit(&cap, ok, true, "head of SL_HTTP_HEAD_CAP");
	expect_limit(&cap, over, false, "head of SL_HTTP_HEAD_CAP + 1");
	expect_limit(NULL, ok, true, "default max_head");
	free(ok);
	free(over);
}

static void test_header_count_limit_exact_passes_one_over_431(void **state)
{
	struct sl_http_limits lim = { .max_headers = 10 }, cap = { .max_headers = SL_HTTP_HDR_CAP };
	char *ok = make_request(1, 9, 0), *over = make_request(1, 10, 0);

	expect_limit(&lim, ok, true, "10 headers");
	expect_limit(&lim, over, false, "11 headers");
	free(ok);
	free(over);
	ok = make_request(1, SL_HTTP_HDR_CAP - 1, 0);
	over = make_request(1, SL_HTTP_HDR_CAP, 0);
	expect_limit(&cap, ok, true, "SL_HTTP_HDR_CAP headers");
	expect_limit(&cap, over, false, "SL_HTTP_HDR_CAP + 1 headers");
	free(ok);
	free(over);
}

static void test_limits_over_the_caps_are_refused(void **state)
{
	struct sl_http_limits lim = { .max_head = SL_HTTP_HEAD_CAP + 1 };

	assert_null(sl_http_new(SL_HTTP_REQUEST, &lim));
	lim = (struct sl_http_limits){ .max_headers = SL_HTTP_HDR_CAP + 1 };
	assert_null(sl_http_new(SL_HTTP_REQUEST, &lim));
}

static void test_response_to_head_has_no_body(void **state)
{
	RESP(HTTP_HEAD,
	     "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
	     "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
	     "HEAD@39 200 1.1 cl=10 te=0 ka=1 nb=1 up=0 [Content-Length=10]\n"
	     "DONE@39 body=0\n"
	     "HEAD@78 200 1.1 cl=10 te=0 ka=1 nb=1 up=0 [Content-Length=10]\n"
	     "DONE@78 body=0\n"
	     "FINISH idle\n");
	/* the same bytes answering a GET are one response with a 10-byte body */
	RESP(HTTP_GET,
	     "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
	     "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
	     "HEAD@39 200 1.1 cl=10 te=0 ka=1 nb=0 up=0 [Content-Length=10]\n"
	     "DONE@49 body=10\n"
	     "ERROR 400\n");
}

static void test_response_204_and_304_have_no_body(void **state)
{
	RESP(HTTP_GET, "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\n"
		       "Content-Length: 5\r\n\r\n",
	     "HEAD@27 204 1.1 cl=-1 te=0 ka=1 nb=1 up=0 []\n"
	     "DONE@27 body=0\n"
	     "HEAD@75 304 1.1 cl=5 te=0 ka=1 nb=1 up=0 [Content-Length=5]\n"
	     "DONE@75 body=0\n"
	     "FINISH idle\n");
}

static void test_response_1xx_then_final(void **state)
{
	RESP(HTTP_POST, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
			"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
	     "HEAD@25 100 1.1 cl=-1 te=0 ka=1 nb=1 up=0 []\n"
	     "DONE@25 body=0\n"
	     "HEAD@65 103 1.1 cl=-1 te=0 ka=1 nb=1 up=0 [Link=</a>]\n"
	     "DONE@65 body=0\n"
	     "HEAD@103 200 1.1 cl=2 te=0 ka=1 nb=0 up=0 [Content-Length=2]\n"
	     "DONE@105 body=2\n"
	     "FINISH idle\n");
}

static void test_response_101_is_upgrade_at_head_end(void **state)
{
	RESP(HTTP_GET, "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\n"
		       "Upgrade: websocket\r\n\r\n\x81\x02hi",
	     "UPGRADE@77 rest=4 101 1.1 cl=-1 te=0 ka=1 nb=1 up=1 "
	     "[Connection=upgrade;Upgrade=websocket]\n");
}

static void test_response_2xx_to_connect_is_upgrade(void **state)
{
	RESP(HTTP_CONNECT, "HTTP/1.1 200 Connection established\r\n\r\nTLS",
	     "UPGRADE@39 rest=3 200 1.1 cl=-1 te=0 ka=1 nb=1 up=1 []\n");
	/* a refusal of CONNECT is an ordinary response */
	RESP(HTTP_CONNECT, "HTTP/1.1 403 Forbidden\r\nContent-Length: 1\r\n\r\nx",
	     "HEAD@45 403 1.1 cl=1 te=0 ka=1 nb=0 up=0 [Content-Length=1]\n"
	     "DONE@46 body=1\n"
	     "FINISH idle\n");
}

static void test_response_without_length_ends_at_close(void **state)
{
	RESP(HTTP_GET, "HTTP/1.1 200 OK\r\n\r\nuntil the end",
	     "HEAD@19 200 1.1 cl=-1 te=0 ka=0 nb=0 up=0 []\n"
	     "FINISH DONE body=13\n");
}

static void test_response_truncated_body_is_error_at_finish(void **state)
{
	RESP(HTTP_GET, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
	     "HEAD@39 200 1.1 cl=10 te=0 ka=1 nb=0 up=0 [Content-Length=10]\n"
	     "FINISH 400\n");
	RESP(HTTP_GET, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
	     "HEAD@47 200 1.1 cl=-1 te=1 ka=1 nb=0 up=0 [Transfer-Encoding=chunked]\n"
	     "FINISH 400\n");
	RESP(HTTP_GET, "HTTP/1.1 200 OK\r\nContent-Le", "FINISH 400\n");
}

static void test_response_chunked_body(void **state)
{
	RESP(HTTP_GET, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		       "3\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\nHTTP/1.1 204 No\r\n\r\n",
	     "HEAD@47 200 1.1 cl=-1 te=1 ka=1 nb=0 up=0 [Transfer-Encoding=chunked]\n"
	     "DONE@75 body=28\n"
	     "HEAD@94 204 1.1 cl=-1 te=0 ka=1 nb=1 up=0 []\n"
	     "DONE@94 body=0\n"
	     "FINISH idle\n");
}

static void test_response_ambiguous_framing_refused(void **state)
{
	RESP(HTTP_GET, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n"
		       "\r\n0\r\n\r\n",
	     "ERROR 400\n");
	RESP(HTTP_GET, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxx", "ERROR 400\n");
	RESP(HTTP_GET, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
	     "ERROR 400\n");
	RESP(HTTP_GET, "HTTP/2 200 OK\r\n\r\n", "ERROR 400\n");
}

static void test_find_is_case_insensitive_first_match(void **state)
{
	static const char in[] = "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nx-a: 2\r\n\r\n";
	struct sl_http_parser *p = sl_http_new(SL_HTTP_REQUEST, NULL);
	const struct sl_http_hdr *f;
	size_t used;

	ASSERT_EQ(sl_http_feed(p, in, sizeof(in) - 1, &used), SL_HTTP_HEAD, "event");
	f = sl_http_find(sl_http_head(p), "x-A");
	assert_non_null(f);
	ASSERT_TRUE(f->value_len == 1 && f->value[0] == '1', "first match: %.*s",
		    (int)f->value_len, f->value);
	assert_null(sl_http_find(sl_http_head(p), "X-"));
	assert_null(sl_http_find(sl_http_head(p), "X-AB"));
	sl_http_free(p);
}

static void test_hop_by_hop_list(void **state)
{
	static const char *const hop[] = { "Connection", "keep-alive", "Proxy-Connection", "TE",
					   "Trailer", "Transfer-Encoding", "Upgrade",
					   "Proxy-Authenticate", "proxy-authorization" };
	size_t i;

	for (i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
		ASSERT_TRUE(sl_http_is_hop_by_hop(hop[i], strlen(hop[i])), "%s", hop[i]);
	ASSERT_TRUE(!sl_http_is_hop_by_hop("Host", 4), "Host");
	ASSERT_TRUE(!sl_http_is_hop_by_hop("Trailers", 8), "Trailers");
	ASSERT_TRUE(!sl_http_is_hop_by_hop("Connection", 4), "prefix Conn");
}

static void test_reason_phrases(void **state)
{
	assert_string_equal(sl_http_reason(404), "Not Found");
	assert_string_equal(sl_http_reason(431), "Request Header Fields Too Large");
	assert_string_equal(sl_http_reason(502), "Bad Gateway");
	assert_string_equal(sl_http_reason(299), "Unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_without_body_is_head_then_done_at_head_end),
		cmocka_unit_test(test_feed_of_zero_bytes_after_bodiless_head_is_done),
		cmocka_unit_test(test_post_with_content_length_body),
		cmocka_unit_test(test_content_length_zero_has_no_body),
		cmocka_unit_test(test_chunked_extensions_and_trailers_forwarded_raw),
		cmocka_unit_test(test_pipelined_requests_stop_at_each_message_end),
		cmocka_unit_test(test_leading_empty_line_before_request_is_skipped),
		cmocka_unit_test(test_header_values_trimmed_of_ows),
		cmocka_unit_test(test_keep_alive_follows_version_and_connection),
		cmocka_unit_test(test_upgrade_stops_exactly_at_head_end),
		cmocka_unit_test(test_connect_stops_exactly_at_head_end),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_refusal_reasons_name_the_problem),
		cmocka_unit_test(test_request_line_limit_exact_passes_one_over_431),
		cmocka_unit_test(test_head_limit_exact_passes_one_over_431),
		cmocka_unit_test(test_header_count_limit_exact_passes_one_over_431),
		cmocka_unit_test(test_limits_over_the_caps_are_refused),
		cmocka_unit_test(test_response_to_head_has_no_body),
		cmocka_unit_test(test_response_204_and_304_have_no_body),
		cmocka_unit_test(test_response_1xx_then_final),
		cmocka_unit_test(test_response_101_is_upgrade_at_head_end),
		cmocka_unit_test(test_response_2xx_to_connect_is_upgrade),
		cmocka_unit_test(test_response_without_length_ends_at_close),
		cmocka_unit_test(test_response_truncated_body_is_error_at_finish),
		cmocka_unit_test(test_response_chunked_body),
		cmocka_unit_test(test_response_ambiguous_framing_refused),
		cmocka_unit_test(test_find_is_case_insensitive_first_match),
		cmocka_unit_test(test_hop_by_hop_list),
		cmocka_unit_test(test_reason_phrases),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
