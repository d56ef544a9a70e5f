/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * HTTP/1.1 framing on llhttp. llhttp (never lenient) parses the start line and
 * the framing headers and finds the end of the head and of chunked bodies; two
 * small byte-level scanners of our own run over exactly the bytes llhttp
 * consumed and refuse what llhttp's default build lets through (bare LF line
 * ends, obs-fold, whitespace before the colon, bytes after chunk data, trailer
 * obs-fold) and enforce the size limits. Both must agree on where a message
 * ends, or the message is refused.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"

#define DEF_REQUEST_LINE 8192
#define DEF_HEAD 65536
#define DEF_HEADERS 100
#define CHUNK_LINE_MAX 4096 /* bytes of one chunk-size line with its extensions */

enum st { ST_HEAD, ST_BODY, ST_PENDING_DONE, ST_FINISHED, ST_UPGRADED, ST_ERROR };
enum body { BODY_NONE, BODY_LENGTH, BODY_CHUNKED, BODY_CLOSE };

/* Head scanner states. */
enum hs {
	HS_START,    /* before the start line (leading CRLFs are skipped) */
	HS_LEAD_LF,  /* CR of a leading empty line seen */
	HS_LINE1,    /* in the start line */
	HS_LINE1_LF, /* CR after the start line seen */
	HS_FIELD,    /* at the start of a header line */
	HS_NAME,     /* in a field name */
	HS_VALUE,    /* in a field value */
	HS_VALUE_LF, /* CR after a value seen */
	HS_END_LF,   /* CR of the empty line seen */
	HS_DONE,
};

/* Chunked body scanner states. */
enum cs {
	CS_SIZE0,     /* first hex digit of a chunk size */
	CS_SIZE,      /* more hex digits, ';' or CR */
	CS_EXT_NAME0, /* first tchar of an extension name */
	CS_EXT_NAME,  /* tchar, '=', ';' or CR */
	CS_EXT_VAL0,  /* token or quoted-string */
	CS_EXT_TOK,   /* token value: tchar, ';' or CR */
	CS_EXT_QS,    /* inside a quoted-string */
	CS_EXT_QP,    /* after a backslash in a quoted-string */
	CS_EXT_AFTER, /* after a closing quote: ';' or CR */
	CS_SIZE_LF,   /* CR of the size line seen */
	CS_DATA,      /* chunk data */
	CS_DATA_CR,   /* CR after chunk data */
	CS_DATA_LF,   /* LF after chunk data */
	CS_TRAILER,   /* at the start of a trailer line (or of the final CRLF) */
	CS_TNAME,     /* in a trailer field name */
	CS_TVALUE,    /* in a trailer field value */
	CS_TVALUE_LF, /* CR after a trailer value seen */
	CS_END_LF,    /* CR of the final empty line seen */
	CS_DONE,
};

struct sl_http_parser {
	llhttp_t ll;
	llhttp_settings_t settings;
	enum sl_http_kind kind;
	struct sl_http_limits lim;
	int req_method; /* responses: the request's method, -1 when unknown */
	enum st st;
	enum body body;
	uint64_t remaining; /* BODY_LENGTH: bytes still to come */
	const char *err;
	int err_status;

	/* head scanner */
	char *buf; /* lim.max_head bytes */
	uint32_t len;
	enum hs hs;
	uint32_t line1_start, line1_end; /* offsets of the start line, CRLF excluded */
	uint32_t name_start, name_end, val_start, val_end;
	bool val_seen; /* a non-whitespace byte in the current value */

	/* chunked scanner */
	enum cs cs;
	uint64_t csize;
	uint32_t cline;	  /* bytes of the current size line */
	uint32_t trailer; /* bytes of the trailer section */

	struct sl_http_head head;
};

static const struct sl_http_limits default_limits = {
	.max_request_line = DEF_REQUEST_LINE,
	.max_head = DEF_HEAD,
	.max_headers = DEF_HEADERS,
};

static bool is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c);
}

/* field-vchar / obs-text, or SP and HTAB inside a value */
static bool is_value_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static enum sl_http_event fail(struct sl_http_parser *p, int status, const char *why)
{
	if (p->st != ST_ERROR) {
		p->st = ST_ERROR;
		p->err = why;
		p->err_status = status;
	}
	return SL_HTTP_ERROR;
}

static int cb_headers_complete(llhttp_t *ll)
{
	/* Stop right at the end of the head: the framing is decided in head_done(). */
	return HPE_PAUSED;
}

static int cb_message_complete(llhttp_t *ll)
{
	/* Stop right at the end of the message: pipelined bytes stay with the caller. */
	return HPE_PAUSED;
}

struct sl_http_parser *sl_http_new(enum sl_http_kind kind, const struct sl_http_limits *lim)
{
	struct sl_http_parser *p;
	struct sl_http_limits l = lim ? *lim : default_limits;

	if (!l.max_request_line)
		l.max_request_line = DEF_REQUEST_LINE;
	if (!l.max_head)
		l.max_head = DEF_HEAD;
	if (!l.max_headers)
		l.max_headers = DEF_HEADERS;
	if ((kind != SL_HTTP_REQUEST && kind != SL_HTTP_RESPONSE) ||
	    l.max_head > SL_HTTP_HEAD_CAP || l.max_headers > SL_HTTP_HDR_CAP) {
		errno = EINVAL;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->buf = malloc(l.max_head);
	if (!p->buf) {
		free(p);
		return NULL;
	}
	p->kind = kind;
	p->lim = l;
	p->req_method = -1;
	llhttp_settings_init(&p->settings);
	p->settings.on_headers_complete = cb_headers_complete;
	p->settings.on_message_complete = cb_message_complete;
	llhttp_init(&p->ll, kind == SL_HTTP_REQUEST ? HTTP_REQUEST : HTTP_RESPONSE, &p->settings);
	sl_http_reset(p);
	return p;
}

void sl_http_free(struct sl_http_parser *p)
{
	if (!p)
		return;
	free(p->buf);
	free(p);
}

void sl_http_reset(struct sl_http_parser *p)
{
	llhttp_reset(&p->ll);
	p->st = ST_HEAD;
	p->body = BODY_NONE;
	p->remaining = 0;
	p->err = NULL;
	p->err_status = 0;
	p->len = 0;
	p->hs = HS_START;
	p->line1_start = p->line1_end = 0;
	p->cs = CS_SIZE0;
	p->csize = 0;
	p->cline = 0;
	p->trailer = 0;
	memset(&p->head, 0, offsetof(struct sl_http_head, hdr));
	p->head.n_hdr = 0;
	p->head.content_length = -1;
}

void sl_http_set_request_method(struct sl_http_parser *p, int method)
{
	p->req_method = method;
}

/*
 * Append @n bytes of the head to the parser's buffer (room is checked by the
 * caller) and scan them. Returns 0, or -1 with the parser in ST_ERROR.
 */
static int head_scan(struct sl_http_parser *p, const char *b, size_t n)
{
	struct sl_http_head *h = &p->head;
	uint32_t i = p->len;

	memcpy(p->buf + p->len, b, n);
	p->len += n;
	for (; i < p->len; i++) {
		unsigned char c = p->buf[i];

		switch (p->hs) {
		case HS_START:
			if (c == '\r') {
				p->hs = HS_LEAD_LF;
				break;
			}
			if (c == '\n')
				goto bare_lf;
			p->line1_start = i;
			p->hs = HS_LINE1;
			/* fall through */
		case HS_LINE1:
			if (c == '\r') {
				p->line1_end = i;
				p->hs = HS_LINE1_LF;
			} else if (c == '\n') {
				goto bare_lf;
			} else if (i - p->line1_start >= p->lim.max_request_line) {
				fail(p, 431, p->kind == SL_HTTP_REQUEST ?
						     "request line over max_request_line" :
						     "status line over max_request_line");
				return -1;
			}
			break;
		case HS_LEAD_LF:
		case HS_LINE1_LF:
		case HS_VALUE_LF:
		case HS_END_LF:
			if (c != '\n') {
				fail(p, 400, "CR not followed by LF");
				return -1;
			}
			if (p->hs == HS_LEAD_LF) {
				p->hs = HS_START;
			} else if (p->hs == HS_END_LF) {
				p->hs = HS_DONE;
			} else {
				if (p->hs == HS_VALUE_LF) {
					struct sl_http_hdr *f = &h->hdr[h->n_hdr++];

					f->name = p->buf + p->name_start;
					f->name_len = p->name_end - p->name_start;
					f->value = p->buf + p->val_start;
					f->value_len = p->val_seen ? p->val_end - p->val_start : 0;
				}
				p->hs = HS_FIELD;
			}
			break;
		case HS_FIELD:
			if (c == '\r') {
				p->hs = HS_END_LF;
				break;
			}
			if (c == '\n')
				goto bare_lf;
			if (c == ' ' || c == '\t') {
				fail(p, 400, h->n_hdr ? "obs-fold (header line starting with whitespace)" :
							"whitespace before the first header field");
				return -1;
			}
			if (!is_tchar(c)) {
				fail(p, 400, "invalid character in a header name");
				return -1;
			}
			if (h->n_hdr >= p->lim.max_headers) {
				fail(p, 431, "more than max_headers header fields");
				return -1;
			}
			p->name_start = i;
			p->hs = HS_NAME;
			/* fall through */
		case HS_NAME:
			if (c == ':') {
				p->name_end = i;
				p->val_start = i + 1;
				p->val_seen = false;
				p->hs = HS_VALUE;
			} else if (c == ' ' || c == '\t') {
				fail(p, 400, "whitespace between a header name and the colon");
				return -1;
			} else if (!is_tchar(c)) {
				fail(p, 400, "invalid character in a header name");
				return -1;
			}
			break;
		case HS_VALUE:
			if (c == '\r') {
				p->hs = HS_VALUE_LF;
			} else if (c == '\n') {
				goto bare_lf;
			} else if (!is_value_char(c)) {
				fail(p, 400, "control character in a header value");
				return -1;
			} else if (c != ' ' && c != '\t') {
				if (!p->val_seen)
					p->val_start = i;
				p->val_seen = true;
				p->val_end = i + 1;
			}
			break;
		case HS_DONE:
			fail(p, 400, "bytes after the end of the head (framing disagreement)");
			return -1;
		}
	}
	return 0;
bare_lf:
	fail(p, 400, "bare LF line ending (CRLF required)");
	return -1;
}

static bool name_is(const struct sl_http_hdr *f, const char *name)
{
	size_t n = strlen(name);

	return f->name_len == n && !strncasecmp(f->name, name, n);
}

static bool value_is(const struct sl_http_hdr *f, const char *v)
{
	size_t n = strlen(v);

	return f->value_len == n && !strncasecmp(f->value, v, n);
}

/* Content-Length: 1 to 18 digits, nothing else (no sign, no list, no spaces). */
static int parse_length(const struct sl_http_hdr *f, int64_t *out)
{
	int64_t v = 0;
	uint32_t i;

	if (!f->value_len || f->value_len > 18)
		return -1;
	for (i = 0; i < f->value_len; i++) {
		if (f->value[i] < '0' || f->value[i] > '9')
			return -1;
		v = v * 10 + (f->value[i] - '0');
	}
	*out = v;
	return 0;
}

/* The head is complete (llhttp paused in on_headers_complete): check and frame it. */
static enum sl_http_event head_done(struct sl_http_parser *p)
{
	struct sl_http_head *h = &p->head;
	const struct sl_http_hdr *te = NULL;
	uint32_t i, n_cl = 0, n_host = 0;
	bool upgrade = false;

	if (p->hs != HS_DONE)
		return fail(p, 400, "head ended where CRLF CRLF was not (framing disagreement)");
	h->major = p->ll.http_major;
	h->minor = p->ll.http_minor;
	if (h->major != 1 || h->minor > 1)
		return fail(p, 400, "HTTP version other than 1.0 or 1.1");

	for (i = 0; i < h->n_hdr; i++) {
		const struct sl_http_hdr *f = &h->hdr[i];

		if (name_is(f, "content-length")) {
			if (n_cl++)
				return fail(p, 400, "repeated Content-Length");
			if (parse_length(f, &h->content_length))
				return fail(p, 400, "Content-Length is not a decimal number");
		} else if (name_is(f, "transfer-encoding")) {
			if (te)
				return fail(p, 400, "repeated Transfer-Encoding");
			te = f;
		} else if (name_is(f, "host")) {
			n_host++;
		}
	}
	if (te && n_cl)
		return fail(p, 400, "both Content-Length and Transfer-Encoding");
	if (te && !value_is(te, "chunked"))
		return fail(p, 400, "Transfer-Encoding other than \"chunked\"");
	h->chunked = te;

	if (p->kind == SL_HTTP_REQUEST) {
		const char *l = p->buf + p->line1_start, *sp1, *sp2;
		uint32_t ll = p->line1_end - p->line1_start;

		/* llhttp checked method, target and version; we add: exactly two SPs */
		sp1 = memchr(l, ' ', ll);
		sp2 = sp1 ? memchr(sp1 + 1, ' ', l + ll - sp1 - 1) : NULL;
		if (!sp1 || !sp2 || sp2 == sp1 + 1 || memchr(sp2 + 1, ' ', l + ll - sp2 - 1) ||
		    memchr(l, '\t', ll))
			return fail(p, 400, "request line is not method SP target SP version");
		h->method = p->ll.method;
		h->method_str = llhttp_method_name(p->ll.method);
		h->target = sp1 + 1;
		h->target_len = sp2 - sp1 - 1;
		if (n_host > 1)
			return fail(p, 400, "repeated Host");
		if (!n_host && h->minor == 1)
			return fail(p, 400, "HTTP/1.1 request without Host");
		upgrade = p->ll.upgrade; /* CONNECT, or Connection: upgrade with Upgrade */
		if (upgrade && (h->chunked || h->content_length > 0))
			return fail(p, 400, "Upgrade or CONNECT request with a body");
		if (h->chunked)
			p->body = BODY_CHUNKED;
		else if (h->content_length > 0)
			p->body = BODY_LENGTH;
	} else {
		int s = p->ll.status_code;

		h->method = -1;
		h->status = s;
		if (s < 100)
			return fail(p, 400, "status code below 100");
		if (s == 101 || (p->req_method == HTTP_CONNECT && s / 100 == 2))
			upgrade = true;
		else if (s / 100 == 1 || s == 204 || s == 304 || p->req_method == HTTP_HEAD)
			p->body = BODY_NONE;
		else if (h->chunked)
			p->body = BODY_CHUNKED;
		else if (h->content_length > 0)
			p->body = BODY_LENGTH;
		else if (h->content_length < 0)
			p->body = BODY_CLOSE;
	}
	h->upgrade = upgrade;
	h->no_body = p->body == BODY_NONE;
	/* llhttp only learns that a response has no body from on_headers_complete's
	 * return value; we never resume it then, so tell its keep-alive logic here. */
	if (h->no_body)
		p->ll.flags |= F_SKIPBODY;
	h->keep_alive = llhttp_should_keep_alive(&p->ll);

	if (upgrade) {
		p->st = ST_UPGRADED;
		return SL_HTTP_UPGRADE;
	}
	switch (p->body) {
	case BODY_NONE:
		p->st = ST_PENDING_DONE;
		break;
	case BODY_LENGTH:
		p->remaining = h->content_length;
		p->st = ST_BODY;
		break;
	case BODY_CHUNKED:
		llhttp_resume(&p->ll);
		p->st = ST_BODY;
		break;
	case BODY_CLOSE:
		p->st = ST_BODY;
		break;
	}
	return SL_HTTP_HEAD;
}

static enum sl_http_event feed_head(struct sl_http_parser *p, const char *buf, size_t len,
				    size_t *used)
{
	size_t n = len, room = p->lim.max_head - p->len;
	enum sl_http_event ev;
	llhttp_errno_t e;

	*used = 0;
	if (!len)
		return SL_HTTP_NEED_MORE;
	if (!room)
		return fail(p, 431, "head over max_head");
	if (n > room)
		n = room;
	e = llhttp_execute(&p->ll, buf, n);
	if (e == HPE_OK) {
		if (head_scan(p, buf, n))
			return SL_HTTP_ERROR;
		if (p->hs == HS_DONE)
			return fail(p, 400, "head ended where llhttp saw none (framing disagreement)");
		if (p->len == p->lim.max_head)
			return fail(p, 431, "head over max_head");
		*used = n;
		return SL_HTTP_NEED_MORE;
	}
	n = llhttp_get_error_pos(&p->ll) - buf;
	/* Our scanner first, over what llhttp accepted, so the reason (and 431 vs
	 * 400) does not depend on how the bytes were split. */
	if (head_scan(p, buf, n))
		return SL_HTTP_ERROR;
	if (e != HPE_PAUSED)
		return fail(p, 400, llhttp_get_error_reason(&p->ll));
	ev = head_done(p);
	if (ev != SL_HTTP_ERROR)
		*used = n;
	return ev;
}

/* Scan chunked framing; returns 0, or -1 with the parser in ST_ERROR. */
static int chunk_scan(struct sl_http_parser *p, const char *b, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = b[i];
		int d;

		if (p->cs < CS_SIZE_LF && ++p->cline > CHUNK_LINE_MAX) {
			fail(p, 400, "chunk size line too long");
			return -1;
		}
		if (p->cs >= CS_TRAILER && p->cs < CS_DONE &&
		    ++p->trailer > p->lim.max_head) {
			fail(p, 431, "trailer section over max_head");
			return -1;
		}
		switch (p->cs) {
		case CS_SIZE0:
		case CS_SIZE:
			d = hexval(c);
			if (d >= 0) {
				if (p->csize >> 59) {
					fail(p, 400, "chunk size overflow");
					return -1;
				}
				p->csize = p->csize << 4 | d;
				p->cs = CS_SIZE;
			} else if (p->cs == CS_SIZE && c == ';') {
				p->cs = CS_EXT_NAME0;
			} else if (p->cs == CS_SIZE && c == '\r') {
				p->cs = CS_SIZE_LF;
			} else {
				fail(p, 400, "invalid chunk size");
				return -1;
			}
			break;
		case CS_EXT_NAME0:
			if (!is_tchar(c))
				goto bad_ext;
			p->cs = CS_EXT_NAME;
			break;
		case CS_EXT_NAME:
		case CS_EXT_TOK:
			if (c == ';')
				p->cs = CS_EXT_NAME0;
			else if (c == '\r')
				p->cs = CS_SIZE_LF;
			else if (p->cs == CS_EXT_NAME && c == '=')
				p->cs = CS_EXT_VAL0;
			else if (!is_tchar(c))
				goto bad_ext;
			break;
		case CS_EXT_VAL0:
			if (c == '"')
				p->cs = CS_EXT_QS;
			else if (is_tchar(c))
				p->cs = CS_EXT_TOK;
			else
				goto bad_ext;
			break;
		case CS_EXT_QS:
			if (c == '"')
				p->cs = CS_EXT_AFTER;
			else if (c == '\\')
				p->cs = CS_EXT_QP;
			else if (!is_value_char(c))
				goto bad_ext;
			break;
		case CS_EXT_QP:
			if (!is_value_char(c))
				goto bad_ext;
			p->cs = CS_EXT_QS;
			break;
		case CS_EXT_AFTER:
			if (c == ';')
				p->cs = CS_EXT_NAME0;
			else if (c == '\r')
				p->cs = CS_SIZE_LF;
			else
				goto bad_ext;
			break;
		case CS_SIZE_LF:
			if (c != '\n')
				goto bad_crlf;
			p->cline = 0;
			p->cs = p->csize ? CS_DATA : CS_TRAILER;
			break;
		case CS_DATA: {
			size_t take = n - i;

			if (take > p->csize)
				take = p->csize;
			p->csize -= take;
			i += take;
			if (!p->csize)
				p->cs = CS_DATA_CR;
			continue;
		}
		case CS_DATA_CR:
			if (c != '\r') {
				fail(p, 400, "chunk data not followed by CRLF");
				return -1;
			}
			p->cs = CS_DATA_LF;
			break;
		case CS_DATA_LF:
			if (c != '\n')
				goto bad_crlf;
			p->cs = CS_SIZE0;
			break;
		case CS_TRAILER:
			if (c == '\r') {
				p->cs = CS_END_LF;
			} else if (c == ' ' || c == '\t') {
				fail(p, 400, "obs-fold in the trailer section");
				return -1;
			} else if (is_tchar(c)) {
				p->cs = CS_TNAME;
			} else {
				goto bad_trailer;
			}
			break;
		case CS_TNAME:
			if (c == ':')
				p->cs = CS_TVALUE;
			else if (!is_tchar(c))
				goto bad_trailer;
			break;
		case CS_TVALUE:
			if (c == '\r')
				p->cs = CS_TVALUE_LF;
			else if (!is_value_char(c))
				goto bad_trailer;
			break;
		case CS_TVALUE_LF:
		case CS_END_LF:
			if (c != '\n')
				goto bad_crlf;
			p->cs = p->cs == CS_END_LF ? CS_DONE : CS_TRAILER;
			break;
		case CS_DONE:
			fail(p, 400, "bytes after the last chunk (framing disagreement)");
			return -1;
		}
		i++;
	}
	return 0;
bad_ext:
	fail(p, 400, "invalid chunk extension");
	return -1;
bad_crlf:
	fail(p, 400, "CR not followed by LF in chunked framing");
	return -1;
bad_trailer:
	fail(p, 400, "invalid trailer field");
	return -1;
}

static enum sl_http_event feed_chunked(struct sl_http_parser *p, const char *buf, size_t len,
				       size_t *used)
{
	llhttp_errno_t e = llhttp_execute(&p->ll, buf, len);
	size_t n = len;

	if (e != HPE_OK)
		n = llhttp_get_error_pos(&p->ll) - buf;
	if (chunk_scan(p, buf, n))
		return SL_HTTP_ERROR;
	if (e == HPE_OK) {
		if (p->cs == CS_DONE)
			return fail(p, 400, "chunked body ended where llhttp saw none");
		*used = len;
		return SL_HTTP_BODY;
	}
	if (e != HPE_PAUSED)
		return fail(p, 400, llhttp_get_error_reason(&p->ll));
	if (p->cs != CS_DONE)
		return fail(p, 400, "chunked body ended early (framing disagreement)");
	*used = n;
	p->st = ST_FINISHED;
	return SL_HTTP_DONE;
}

enum sl_http_event sl_http_feed(struct sl_http_parser *p, const char *buf, size_t len,
				size_t *used)
{
	*used = 0;
	switch (p->st) {
	case ST_HEAD:
		return feed_head(p, buf, len, used);
	case ST_PENDING_DONE:
		p->st = ST_FINISHED;
		/* fall through */
	case ST_FINISHED:
		return SL_HTTP_DONE;
	case ST_UPGRADED:
		return SL_HTTP_UPGRADE;
	case ST_ERROR:
		return SL_HTTP_ERROR;
	case ST_BODY:
		break;
	}
	if (!len)
		return SL_HTTP_NEED_MORE;
	switch (p->body) {
	case BODY_LENGTH:
		*used = len < p->remaining ? len : p->remaining;
		p->remaining -= *used;
		if (p->remaining)
			return SL_HTTP_BODY;
		p->st = ST_FINISHED;
		return SL_HTTP_DONE;
	case BODY_CHUNKED:
		return feed_chunked(p, buf, len, used);
	case BODY_CLOSE:
	default:
		*used = len;
		return SL_HTTP_BODY;
	}
}

enum sl_http_event sl_http_finish(struct sl_http_parser *p)
{
	switch (p->st) {
	case ST_HEAD:
		if (!p->len)
			return SL_HTTP_NEED_MORE;
		return fail(p, 400, "connection closed in the middle of the head");
	case ST_BODY:
		if (p->body == BODY_CLOSE) {
			p->st = ST_FINISHED;
			return SL_HTTP_DONE;
		}
		return fail(p, 400, "connection closed before the end of the body");
	case ST_PENDING_DONE:
		p->st = ST_FINISHED;
		/* fall through */
	case ST_FINISHED:
		return SL_HTTP_DONE;
	case ST_UPGRADED:
		return SL_HTTP_UPGRADE;
	case ST_ERROR:
	default:
		return SL_HTTP_ERROR;
	}
}

const struct sl_http_head *sl_http_head(const struct sl_http_parser *p)
{
	return &p->head;
}

const char *sl_http_error(const struct sl_http_parser *p)
{
	return p->err ? p->err : "no error";
}

int sl_http_error_status(const struct sl_http_parser *p)
{
	return p->err_status ? p->err_status : 400;
}

const struct sl_http_hdr *sl_http_find(const struct sl_http_head *h, const char *name)
{
	uint32_t i;

	for (i = 0; i < h->n_hdr; i++)
		if (name_is(&h->hdr[i], name))
			return &h->hdr[i];
	return NULL;
}

bool sl_http_is_hop_by_hop(const char *name, size_t len)
{
	static const char *const hop[] = {
		"connection", "keep-alive",	    "proxy-connection",	   "te",
		"trailer",    "transfer-encoding", "upgrade",		   "proxy-authenticate",
		"proxy-authorization",
	};
	size_t i;

	for (i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
		if (strlen(hop[i]) == len && !strncasecmp(hop[i], name, len))
			return true;
	return false;
}

const char *sl_http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 421: return "Misdirected Request";
	case 426: return "Upgrade Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}
