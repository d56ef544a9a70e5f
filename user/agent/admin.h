/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The admin HTTP endpoint (/metrics, /stats, /healthz, the status page): a
 * tiny non-blocking HTTP/1.1 server that lives in sluiced's main epoll loop.
 *
 *	a = sl_admin_open("127.0.0.1:9100", 0, serve, ctx, err, sizeof(err));
 *	add sl_admin_fd(a) to the loop's epoll for EPOLLIN; when it is readable,
 *	and at least every 100 ms anyway (deadlines), call sl_admin_run(a).
 *
 * One request per connection, answered with `Connection: close`. GET and HEAD
 * only (else 405 with `Allow: GET, HEAD`); the request head (request line and
 * headers up to the empty line) must arrive within 5 s and fit in 8 KiB (else
 * 408 / 431); it is parsed strictly: lines end in CRLF (a bare LF or CR, or a
 * NUL, is a 400), one space between method, target and version, an
 * origin-form target ("/path?query"), HTTP/1.0 or 1.1 (other versions 505),
 * no line folding, no request body (Content-Length other than 0, or
 * Transfer-Encoding: 400), exactly one Host for HTTP/1.1. Every refusal is
 * logged at warn with the client's address and why.
 *
 * The callback answers: it is called from sl_admin_run() on the caller's
 * thread with the path (without the query string, not percent-decoded) and the
 * query ("" when none), and fills @r: status (0 or out of range: 500), type
 * (NULL: text/plain; charset=utf-8) and a malloc'd body the server frees
 * (NULL: an empty body, or "404 Not Found\n"-style text for a status >= 400).
 * HEAD calls it too and sends only the headers (Content-Length as for GET).
 * Every response carries Content-Length, Cache-Control: no-store and
 * Connection: close.
 *
 * Writes never block: what the socket does not take is sent on EPOLLOUT; a
 * client that takes nothing for 10 s is dropped (reset). At most 64 clients
 * at a time: one more is accepted, sent a 503 and closed at once (never left in
 * the backlog, which would keep the listening socket readable and the loop
 * spinning). After the response, the write side is shut down and whatever the
 * client still sends is read and discarded for up to 1 s before the close, so
 * that unread bytes never turn the close into a reset that would cut off the
 * response.
 *
 * Not thread-safe: one thread owns an instance.
 */
#ifndef SLUICED_ADMIN_H
#define SLUICED_ADMIN_H

#include <stddef.h>

struct sl_admin;

struct sl_admin_reply {
	int status;	  /* HTTP status */
	const char *type; /* Content-Type, a static string; NULL: text/plain; charset=utf-8 */
	char *body;	  /* malloc'd; the server frees it */
	size_t len;	  /* bytes of body */
};

typedef void (*sl_admin_fn)(void *ctx, const char *path, const char *query,
			    struct sl_admin_reply *r);

/*
 * Listen on @addr, "ADDR:PORT" or "[V6]:PORT"; port 0 picks a free port
 * (sl_admin_addr() tells which). A non-loopback address is refused unless
 * @public_ok. Logs "admin: listening on ADDR:PORT" at info. NULL with errno
 * set and a one-line reason in @err ("admin 198.18.0.1:9100 is not a loopback
 * address; pass --admin-public to serve it on the network").
 */
struct sl_admin *sl_admin_open(const char *addr, int public_ok, sl_admin_fn fn, void *ctx,
			       char *err, size_t errlen);
/* One fd (an epoll fd) that is readable when sl_admin_run() has work. */
int sl_admin_fd(const struct sl_admin *a);
/* Accept, read, answer and write whatever is ready; expire clients past their deadline.
 * Never blocks. */
void sl_admin_run(struct sl_admin *a);
/* The bound address with the real port: "127.0.0.1:9100", "[::1]:9100". */
const char *sl_admin_addr(const struct sl_admin *a);
/* Deadlines in ms for the request head (default 5000) and for a client to take
 * any of the response (default 10000); 0 keeps the current value. For tests. */
void sl_admin_set_timeouts(struct sl_admin *a, unsigned head_ms, unsigned write_ms);
/* Close every client and the socket. NULL is fine. */
void sl_admin_close(struct sl_admin *a);

#endif
