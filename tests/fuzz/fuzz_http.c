/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * sl_http (user/proxy/http.c) on arbitrary streams. Byte 0 picks the mode (bit 0:
 * responses, bits 1-2: the request method they answer, bit 3: small limits),
 * byte 1 seeds the split points; the rest is the stream. It is fed once whole and
 * once in pieces, each piece in its own buffer, the way the proxy feeds it, and:
 * used never passes len, NEED_MORE/BODY consume everything, a head obeys the
 * limits, the loop always ends, and both feeds give the same events at the same
 * offsets (framing never depends on how bytes arrive).
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../user/proxy/http.h"

#define MAX_EV 512

struct trace {
	size_t n;
	uint64_t ev[MAX_EV]; /* event << 56 | status << 40 | absolute offset */
};

static void note(struct trace *t, enum sl_http_event ev, int status, size_t at)
{
	if (t->n < MAX_EV)
		t->ev[t->n++] = (uint64_t)ev << 56 | (uint64_t)status << 40 | at;
}

static void check_head(const struct sl_http_head *h, const struct sl_http_limits *lim)
{
	uint32_t i;

	assert(h->n_hdr <= lim->max_headers);
	assert(h->major == 1 && h->minor <= 1);
	for (i = 0; i < h->n_hdr; i++) {
		const struct sl_http_hdr *f = &h->hdr[i];

		assert(f->name_len > 0);
		if (f->value_len) {
			assert(f->value[0] != ' ' && f->value[0] != '\t');
			assert(f->value[f->value_len - 1] != ' ' &&
			       f->value[f->value_len - 1] != '\t');
		}
	}
	assert(!(h->chunked && h->content_length >= 0));
}

static uint32_t rng(uint32_t *s)
{
	uint32_t x = *s ? *s : 0x9e3779b9u;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

/* split == 0: whole; else pieces of 1..split bytes chosen by @seed. */
static void run(const uint8_t *in, size_t len, enum sl_http_kind kind, int method,
		const struct sl_http_limits *lim, uint32_t seed, size_t split, struct trace *t)
{
	struct sl_http_parser *p = sl_http_new(kind, lim);
	size_t start = 0, iters = 0, body = 0;
	int64_t cl = -1;
	enum sl_http_event ev;
	char *buf = NULL;

	assert(p);
	if (method >= 0)
		sl_http_set_request_method(p, method);
	while (start < len || !start) {
		size_t n = split ? 1 + rng(&seed) % split : len, off = 0;

		if (n > len - start)
			n = len - start;
		buf = malloc(n ? n : 1);
		memcpy(buf, in + start, n);
		for (;;) {
			size_t used = (size_t)-1;

			assert(++iters <= 4 * len + 16);
			ev = sl_http_feed(p, buf + off, n - off, &used);
			assert(used <= n - off);
			off += used;
			switch (ev) {
			case SL_HTTP_NEED_MORE:
			case SL_HTTP_BODY:
				assert(off == n);
				body += used;
				break;
			case SL_HTTP_HEAD:
				check_head(sl_http_head(p), lim);
				cl = sl_http_head(p)->content_length;
				if (sl_http_head(p)->chunked || sl_http_head(p)->no_body)
					cl = -1;
				body = 0;
				note(t, ev, 0, start + off);
				continue;
			case SL_HTTP_DONE:
				body += used;
				if (cl >= 0)
					assert(body == (size_t)cl);
				note(t, ev, 0, start + off);
				sl_http_reset(p);
				if (method >= 0)
					sl_http_set_request_method(p, method);
				cl = -1;
				continue;
			case SL_HTTP_UPGRADE:
				assert(sl_http_head(p)->upgrade);
				note(t, ev, 0, start + off);
				goto out;
			case SL_HTTP_ERROR:
				assert(used == 0);
				assert(sl_http_error_status(p) == 400 ||
				       sl_http_error_status(p) == 431);
				assert(sl_http_error(p)[0]);
				/* where the refused message began depends on the pieces */
				note(t, ev, sl_http_error_status(p), 0);
				goto out;
			}
			break;
		}
		free(buf);
		buf = NULL;
		start += n;
		if (!len)
			break;
	}
	ev = sl_http_finish(p);
	note(t, ev, ev == SL_HTTP_ERROR ? sl_http_error_status(p) : 0, len);
	sl_http_free(p);
	return;
out:
	free(buf);
	sl_http_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int methods[] = { HTTP_GET, HTTP_HEAD, HTTP_CONNECT, HTTP_POST };
	static struct trace whole, pieces;
	struct sl_http_limits lim = { 8192, 65536, 100 };
	enum sl_http_kind kind;
	int method = -1;
	uint32_t seed;

	if (size < 2)
		return 0;
	kind = data[0] & 1 ? SL_HTTP_RESPONSE : SL_HTTP_REQUEST;
	if (kind == SL_HTTP_RESPONSE)
		method = methods[(data[0] >> 1) & 3];
	if (data[0] & 8)
		lim = (struct sl_http_limits){ 64, 256, 8 };
	seed = data[1] | (uint32_t)data[0] << 8;
	whole.n = pieces.n = 0;
	run(data + 2, size - 2, kind, method, &lim, 0, 0, &whole);
	run(data + 2, size - 2, kind, method, &lim, seed, 1 + (data[1] & 31), &pieces);
	assert(whole.n == pieces.n);
	assert(!memcmp(whole.ev, pieces.ev, whole.n * sizeof(whole.ev[0])));
	return 0;
}
