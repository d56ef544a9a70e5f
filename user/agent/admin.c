// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The admin HTTP endpoint (admin.h). Each client goes through three phases:
 * HEAD (reading the request head into a fixed 8 KiB buffer, scanned as it
 * arrives so a bare LF or a NUL is refused at once), WRITE (status line and
 * headers in a small buffer plus the callback's body, sent with one sendmsg of
 * two iovecs, the rest on EPOLLOUT) and LINGER (write side shut, reading and
 * discarding until the client closes). Each phase has a deadline; the clients
 * sit on a list that sl_admin_run() walks for expiry (64 at most).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "admin.h"
#include "sluice/abi.h"
#include "../lib/addr.h"
#include "../lib/log.h"

#define CLIENTS_MAX 64
#define HEAD_MAX 8192	    /* request line and headers, CRLFCRLF included */
#define HEAD_MS 5000	    /* the whole head must arrive by then */
#define WRITE_MS 10000	    /* a client must take some of the response by then */
#define LINGER_MS 1000	    /* waiting for the client's close after the response */
#define LINGER_MAX 65536    /* bytes discarded while lingering before giving up */
#define ACCEPT_PAUSE_MS 100 /* out of fds: stop accepting for this long */
#define EVENTS_BATCH 64
#define RESP_HDR_MAX 512

enum phase { PH_HEAD, PH_WRITE, PH_LINGER };

struct client {
	struct client *next;
	struct client *prev;
	int fd;
	enum phase phase;
	int out_armed;		     /* EPOLLOUT registered */
	unsigned long long deadline; /* ms, CLOCK_MONOTONIC */
	size_t hlen;		     /* bytes of head[] received */
	size_t scanned;		     /* bytes of head[] checked for CR, LF, NUL */
	size_t lingered;	     /* bytes discarded in PH_LINGER */
	char *body;		     /* the response body (malloc'd) */
	size_t body_len;	     /* bytes of body to send (0 for HEAD) */
	size_t hdr_len;
	size_t sent;   /* of hdr_len + body_len */
	char peer[64]; /* "ADDR:PORT", for the log */
	char hdr[RESP_HDR_MAX];
	char head[HEAD_MAX + 1]; /* and the NUL put after the head */
};

struct sl_admin {
	int epfd;
	int lfd;
	int nclients;
	unsigned head_ms;
	unsigned write_ms;
	unsigned long long accept_paused_until; /* 0: accepting */
	sl_admin_fn fn;
	void *ctx;
	struct client *clients;
	char addr[80];
};

static unsigned long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *reason_phrase(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 204:
		return "No Content";
	case 301:
		return "Moved Permanently";
	case 302:
		return "Found";
	case 304:
		return "Not Modified";
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	case 505:
		return "HTTP Version Not Supported";
	}
	return status < 300 ? "OK" :
	       status < 400 ? "Redirection" :
	       status < 500 ? "Client Error" :
			      "Server Error";
}

/* RFC 9110 tchar: what a method or a header name is made of. */
static int is_tchar(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static void client_free(struct sl_admin *a, struct client *c, int reset)
{
	if (reset) { /* drop what the kernel still holds for a client that reads nothing */
		struct linger l = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	}
	epoll_ctl(a->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		a->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	a->nclients--;
	free(c->body);
	free(c);
}

/* A response that must go out now or never (busy, timeout): one non-blocking send. */
static void send_oneshot(int fd, int status)
{
	char buf[256];
	int n;

	n = snprintf(buf, sizeof(buf),
		     "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
		     "Content-Length: %zu\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
		     "%d %s\n",
		     status, reason_phrase(status), strlen(reason_phrase(status)) + 5, status,
		     reason_phrase(status));
	if (send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		pr_debug("admin: sending %d: %s", status, strerror(errno));
}

static void set_events(struct sl_admin *a, struct client *c, unsigned events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	if (epoll_ctl(a->epfd, EPOLL_CTL_MOD, c->fd, &ev))
		pr_warn("admin: %s: epoll: %s", c->peer, strerror(errno));
}

/* The response is out: shut the write side and read until the client closes. */
static void start_linger(struct sl_admin *a, struct client *c)
{
	free(c->body);
	c->body = NULL;
	shutdown(c->fd, SHUT_WR);
	c->phase = PH_LINGER;
	c->deadline = now_ms() + LINGER_MS;
	set_events(a, c, EPOLLIN | EPOLLRDHUP);
}

/* Send what the socket takes. Returns 0, or -1 when @c was freed. */
static int flush(struct sl_admin *a, struct client *c)
{
	size_t total = c->hdr_len + c->body_len;

	while (c->sent < total) {
		struct iovec iov[2];
		struct msghdr m = { .msg_iov = iov };
		size_t boff = c->sent > c->hdr_len ? c->sent - c->hdr_len : 0;
		ssize_t r;

		if (c->sent < c->hdr_len)
			iov[m.msg_iovlen++] =
				(struct iovec){ c->hdr + c->sent, c->hdr_len - c->sent };
		if (c->body_len > boff)
			iov[m.msg_iovlen++] = (struct iovec){ c->body + boff, c->body_len - boff };
		r = sendmsg(c->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!c->out_armed) {
				set_events(a, c, EPOLLOUT);
				c->out_armed = 1;
			}
			return 0;
		}
		if (r < 0) {
			pr_debug("admin: %s: send: %s", c->peer, strerror(errno));
			client_free(a, c, 0);
			return -1;
		}
		c->sent += r;
		c->deadline = now_ms() + a->write_ms; /* progress: the client reads */
	}
	start_linger(a, c);
	return 0;
}

/*
 * Answer: @body is malloc'd (or NULL) and owned from here on. @extra: more
 * header lines, each ending in CRLF. Returns 0, or -1 when @c was freed.
 */
static int respond(struct sl_admin *a, struct client *c, int status, const char *type, char *body,
		   size_t len, int head_only, const char *extra)
{
	int n;

	if (!body && status >= 400) { /* a default text for an error without one */
		if (asprintf(&body, "%d %s\n", status, reason_phrase(status)) < 0)
			body = NULL;
		len = body ? strlen(body) : 0;
	}
	if (!body)
		len = 0;
	n = snprintf(c->hdr, sizeof(c->hdr),
		     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		     "Cache-Control: no-store\r\nConnection: close\r\n%s\r\n",
		     status, reason_phrase(status), type ? type : "text/plain; charset=utf-8", len,
		     extra ? extra : "");
	if (n < 0 || (size_t)n >= sizeof(c->hdr)) { /* only a huge Content-Type could do it */
		pr_warn("admin: %s: response head too long (Content-Type '%.40s...')", c->peer,
			type);
		free(body);
		client_free(a, c, 1);
		return -1;
	}
	c->hdr_len = n;
	c->body = body;
	c->body_len = head_only ? 0 : len;
	c->sent = 0;
	c->phase = PH_WRITE;
	c->deadline = now_ms() + a->write_ms;
	return flush(a, c);
}

/* Refuse with @status and a one-line reason to the client and to the log. */
static int refuse(struct sl_admin *a, struct client *c, int status, const char *why)
{
	char *body = NULL;

	pr_warn("admin: %s: %d %s: %s", c->peer, status, reason_phrase(status), why);
	if (asprintf(&body, "%d %s: %s\n", status, reason_phrase(status), why) < 0)
		body = NULL;
	return respond(a, c, status, NULL, body, body ? strlen(body) : 0, 0,
		       status == 405 ? "Allow: GET, HEAD\r\n" : NULL);
}

static int header_is(const char *line, size_t name_len, const char *name)
{
	return name_len == strlen(name) && !strncasecmp(line, name, name_len);
}

/*
 * The head is complete (head[0..end) ends in CRLFCRLF and has no bare CR/LF or
 * NUL): check it, call back, answer. Returns 0, or -1 when @c was freed.
 */
static int serve(struct sl_admin *a, struct client *c, size_t end)
{
	char *line = c->head, *eol = strstr(line, "\r\n"), *sp1, *sp2, *target, *q, *p;
	struct sl_admin_reply r = { 0 };
	int head_only, http11, hosts = 0;
	size_t mlen, i;

	/* request line: METHOD SP TARGET SP HTTP/1.x */
	sp1 = memchr(line, ' ', eol - line);
	sp2 = sp1 ? memchr(sp1 + 1, ' ', eol - sp1 - 1) : NULL;
	if (!sp1 || !sp2 || sp1 == line || sp2 == sp1 + 1)
		return refuse(a, c, 400, "malformed request line (expected 'GET /path HTTP/1.1')");
	mlen = sp1 - line;
	for (i = 0; i < mlen; i++)
		if (!is_tchar(line[i]))
			return refuse(a, c, 400, "malformed method in the request line");
	target = sp1 + 1;
	for (p = target; p < sp2; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '#')
			return refuse(a, c, 400, "malformed request target");
	if (eol - sp2 - 1 != 8 || strncmp(sp2 + 1, "HTTP/", 5) || sp2[7] != '.' || sp2[6] < '0' ||
	    sp2[6] > '9' || sp2[8] < '0' || sp2[8] > '9')
		return refuse(a, c, 400, "malformed HTTP version in the request line");
	if (sp2[6] != '1' || sp2[8] > '1')
		return refuse(a, c, 505, "only HTTP/1.0 and HTTP/1.1 are served");
	http11 = sp2[8] == '1';
	head_only = mlen == 4 && !memcmp(line, "HEAD", 4);
	if (!head_only && !(mlen == 3 && !memcmp(line, "GET", 3))) {
		char why[96];

		snprintf(why, sizeof(why), "method %.*s is not served (GET and HEAD are)",
			 (int)(mlen > 32 ? 32 : mlen), line);
		return refuse(a, c, 405, why);
	}
	if (*target != '/')
		return refuse(a, c, 400, "the request target must be a path starting with '/'");

	/* header fields up to the empty line */
	for (line = eol + 2; line < c->head + end - 2; line = eol + 2) {
		char *colon, *vend;

		eol = strstr(line, "\r\n");
		if (*line == ' ' || *line == '\t')
			return refuse(a, c, 400, "obsolete line folding in a header");
		colon = memchr(line, ':', eol - line);
		if (!colon || colon == line)
			return refuse(a, c, 400, "malformed header line (expected 'Name: value')");
		for (p = line; p < colon; p++)
			if (!is_tchar(*p))
				return refuse(a, c, 400, "malformed header name");
		for (p = colon + 1; p < eol; p++)
			if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
				return refuse(a, c, 400, "control character in a header value");
		for (p = colon + 1; p < eol && (*p == ' ' || *p == '\t');)
			p++;
		for (vend = eol; vend > p && (vend[-1] == ' ' || vend[-1] == '\t');)
			vend--;
		if (header_is(line, colon - line, "host"))
			hosts++;
		else if (header_is(line, colon - line, "transfer-encoding"))
			return refuse(a, c, 400,
				      "a request body is not accepted (Transfer-Encoding)");
		else if (header_is(line, colon - line, "content-length") &&
			 (vend == p || strspn(p, "0") != (size_t)(vend - p)))
			return refuse(a, c, 400, "a request body is not accepted (Content-Length)");
	}
	if (hosts > 1 || (http11 && hosts != 1))
		return refuse(a, c, 400,
			      hosts ? "more than one Host header" :
				      "no Host header (required in HTTP/1.1)");

	*sp2 = 0;
	q = strchr(target, '?');
	if (q)
		*q++ = 0;
	a->fn(a->ctx, target, q ? q : "", &r);
	if (r.status < 100 || r.status > 599) {
		pr_warn("admin: %s: %s: handler gave status %d; answering 500", c->peer, target,
			r.status);
		r.status = 500;
	}
	return respond(a, c, r.status, r.type, r.body, r.len, head_only, NULL);
}

/* Check the new bytes of the head. 1: complete (*end set), 0: need more, -1: refused (@c freed). */
static int scan(struct sl_admin *a, struct client *c, size_t *end)
{
	const char *why = NULL;
	size_t i;

	for (i = c->scanned; i < c->hlen && !why; i++) {
		char ch = c->head[i];

		if (!ch)
			why = "NUL byte in the request head";
		else if (i && c->head[i - 1] == '\r' && ch != '\n')
			why = "bare CR in the request head (lines end in CRLF)";
		else if (ch == '\n' && (!i || c->head[i - 1] != '\r'))
			why = "bare LF in the request head (lines end in CRLF)";
		else if (ch == '\n' && i == 1)
			why = "empty request line";
		else if (ch == '\n' && i >= 3 && c->head[i - 2] == '\n') { /* CRLF CRLF */
			c->head[i + 1] = 0;
			*end = i + 1;
			return 1;
		}
	}
	if (why) {
		refuse(a, c, 400, why);
		return -1;
	}
	c->scanned = i;
	return 0;
}

/* Read what arrived of the head; answer once it is complete. */
static void read_head(struct sl_admin *a, struct client *c)
{
	size_t end;
	ssize_t r;
	int rc;

	for (;;) {
		r = recv(c->fd, c->head + c->hlen, HEAD_MAX - c->hlen, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r <= 0) {
			if (r < 0 || c->hlen)
				pr_debug("admin: %s: closed before a complete request: %s", c->peer,
					 r < 0 ? strerror(errno) : "end of stream");
			client_free(a, c, 0);
			return;
		}
		c->hlen += r;
		rc = scan(a, c, &end);
		if (rc < 0)
			return;
		if (rc > 0) {
			serve(a, c, end);
			return;
		}
		if (c->hlen == HEAD_MAX) {
			char why[64];

			snprintf(why, sizeof(why), "request head over %d bytes", HEAD_MAX);
			refuse(a, c, 431, why);
			return;
		}
	}
}

/* After the response: read and drop until the client closes. */
static void drain(struct sl_admin *a, struct client *c)
{
	char buf[4096];
	ssize_t r;

	for (;;) {
		r = recv(c->fd, buf, sizeof(buf), 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r <= 0 || (c->lingered += r) > LINGER_MAX) {
			client_free(a, c, 0);
			return;
		}
	}
}

static void peer_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(s4->sin_port));
	}
}

static void accept_clients(struct sl_admin *a)
{
	for (;;) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct client *c;
		char peer[64];
		int fd;

		fd = accept4(a->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			pr_warn("admin: accept on %s: %s; not accepting for %d ms", a->addr,
				strerror(errno), ACCEPT_PAUSE_MS);
			/* the backlog stays readable: stop listening for it a moment, or spin */
			epoll_ctl(a->epfd, EPOLL_CTL_DEL, a->lfd, NULL);
			a->accept_paused_until = now_ms() + ACCEPT_PAUSE_MS;
			return;
		}
		peer_str(&ss, peer, sizeof(peer));
		if (a->nclients >= CLIENTS_MAX) {
			pr_warn("admin: %s: 503: already serving %d clients", peer, CLIENTS_MAX);
			send_oneshot(fd, 503);
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		ev.data.ptr = c;
		if (!c || epoll_ctl(a->epfd, EPOLL_CTL_ADD, fd, &ev)) {
			pr_warn("admin: %s: %s", peer, c ? strerror(errno) : "out of memory");
			free(c);
			close(fd);
			continue;
		}
		c->fd = fd;
		c->phase = PH_HEAD;
		c->deadline = now_ms() + a->head_ms;
		memcpy(c->peer, peer, sizeof(peer));
		c->next = a->clients;
		if (a->clients)
			a->clients->prev = c;
		a->clients = c;
		a->nclients++;
	}
}

static void expire(struct sl_admin *a, unsigned long long now)
{
	struct client *c, *next;

	for (c = a->clients; c; c = next) {
		next = c->next;
		if (now < c->deadline)
			continue;
		switch (c->phase) {
		case PH_HEAD:
			pr_warn("admin: %s: 408: no complete request within %u ms", c->peer,
				a->head_ms);
			send_oneshot(c->fd, 408);
			client_free(a, c, 0);
			break;
		case PH_WRITE:
			pr_warn("admin: %s: dropped: took none of the response for %u ms (%zu of %zu bytes sent)",
				c->peer, a->write_ms, c->sent, c->hdr_len + c->body_len);
			client_free(a, c, 1);
			break;
		case PH_LINGER:
			client_free(a, c, 0);
			break;
		}
	}
}

void sl_admin_run(struct sl_admin *a)
{
	struct epoll_event ev[EVENTS_BATCH];
	unsigned long long now;
	int n, i, round;

	if (!a)
		return;
	if (a->accept_paused_until && now_ms() >= a->accept_paused_until) {
		struct epoll_event lev = { .events = EPOLLIN, .data.ptr = NULL };

		a->accept_paused_until = 0;
		if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, a->lfd, &lev))
			pr_warn("admin: epoll: %s", strerror(errno));
	}
	/* a few batches at most, so the main loop's other work is not starved */
	for (round = 0; round < 4; round++) {
		n = epoll_wait(a->epfd, ev, EVENTS_BATCH, 0);
		for (i = 0; i < n; i++) {
			struct client *c = ev[i].data.ptr;

			if (!c) {
				accept_clients(a);
				continue;
			}
			switch (c->phase) {
			case PH_HEAD:
				read_head(a, c);
				break;
			case PH_WRITE:
				flush(a, c);
				break;
			case PH_LINGER:
				drain(a, c);
				break;
			}
		}
		if (n < EVENTS_BATCH)
			break;
	}
	now = now_ms();
	expire(a, now);
}

static int is_loopback(const struct sl_endpoint *ep)
{
	if (ep->family == SL_AF_INET)
		return (ntohl(ep->addr[0]) >> 24) == 127;
	if (!ep->addr[0] && !ep->addr[1] && !ep->addr[2] && ep->addr[3] == htonl(1))
		return 1; /* ::1 */
	/* ::ffff:127.x.y.z */
	return !ep->addr[0] && !ep->addr[1] && ep->addr[2] == htonl(0xffff) &&
	       (ntohl(ep->addr[3]) >> 24) == 127;
}

/* "ADDR:0" / "[V6]:0" with the port left out, as sl_endpoint_parse refuses port 0. */
static int parse_addr(const char *s, struct sl_endpoint *ep, char *err, size_t errlen)
{
	size_t n = strlen(s);
	char buf[96];

	if (n >= 3 && n < sizeof(buf) && !strcmp(s + n - 2, ":0") &&
	    (s[0] == '[' ? s[n - 3] == ']' : strchr(s, ':') == s + n - 2)) {
		memcpy(buf, s, n - 2);
		buf[n - 2] = 0;
		return sl_endpoint_parse(buf, ep, 0, err, errlen);
	}
	return sl_endpoint_parse(s, ep, 1, err, errlen);
}

struct sl_admin *sl_admin_open(const char *addr, int public_ok, sl_admin_fn fn, void *ctx,
			       char *err, size_t errlen)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	struct sockaddr_storage ss = { 0 };
	struct sl_endpoint ep, bound;
	struct sl_admin *a = NULL;
	char why[160], ebuf[8];
	socklen_t sl;
	int one = 1, e;

	if (!err || !errlen) {
		err = ebuf;
		errlen = sizeof(ebuf);
	}
	if (!addr || !fn) {
		snprintf(err, errlen, "admin: no address or no handler");
		errno = EINVAL;
		return NULL;
	}
	if (parse_addr(addr, &ep, why, sizeof(why))) {
		snprintf(err, errlen, "admin %s: %s", addr, why);
		errno = EINVAL;
		return NULL;
	}
	if (!public_ok && !is_loopback(&ep)) {
		snprintf(
			err, errlen,
			"admin %s is not a loopback address; pass --admin-public to serve it on the network",
			addr);
		errno = EPERM;
		return NULL;
	}
	a = calloc(1, sizeof(*a));
	if (!a) {
		snprintf(err, errlen, "admin %s: out of memory", addr);
		errno = ENOMEM;
		return NULL;
	}
	a->fn = fn;
	a->ctx = ctx;
	a->head_ms = HEAD_MS;
	a->write_ms = WRITE_MS;
	a->epfd = -1;
	if (ep.family == SL_AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(ep.port);
		memcpy(&s4->sin_addr, ep.addr, 4);
		sl = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(ep.port);
		memcpy(&s6->sin6_addr, ep.addr, 16);
		sl = sizeof(*s6);
	}
	a->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a->lfd < 0) {
		snprintf(err, errlen, "admin %s: socket: %s", addr, strerror(errno));
		goto err_free;
	}
	/* a restarted sluiced binds again at once, despite its old connections in TIME_WAIT */
	setsockopt(a->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(a->lfd, (struct sockaddr *)&ss, sl)) {
		e = errno;
		snprintf(err, errlen, "admin %s: bind: %s%s", addr, strerror(e),
			 e == EADDRINUSE ?
				 " (choose another port with --admin ADDR:PORT, or --admin none)" :
			 e == EADDRNOTAVAIL ? " (no interface has this address)" :
					      "");
		errno = e;
		goto err_close;
	}
	if (listen(a->lfd, 128)) {
		snprintf(err, errlen, "admin %s: listen: %s", addr, strerror(errno));
		goto err_close;
	}
	sl = sizeof(ss);
	if (getsockname(a->lfd, (struct sockaddr *)&ss, &sl)) {
		snprintf(err, errlen, "admin %s: getsockname: %s", addr, strerror(errno));
		goto err_close;
	}
	bound = ep;
	bound.port = ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port) :
					       ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	sl_endpoint_str(&bound, a->addr, sizeof(a->addr));
	a->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (a->epfd < 0 || epoll_ctl(a->epfd, EPOLL_CTL_ADD, a->lfd, &ev)) {
		snprintf(err, errlen, "admin %s: epoll: %s", addr, strerror(errno));
		goto err_close;
	}
	pr_info("admin: listening on %s", a->addr);
	return a;

err_close:
	e = errno;
	if (a->epfd >= 0)
		close(a->epfd);
	close(a->lfd);
	errno = e;
err_free:
	e = errno;
	free(a);
	errno = e;
	return NULL;
}

int sl_admin_fd(const struct sl_admin *a)
{
	return a->epfd;
}

const char *sl_admin_addr(const struct sl_admin *a)
{
	return a->addr;
}

void sl_admin_set_timeouts(struct sl_admin *a, unsigned head_ms, unsigned write_ms)
{
	if (head_ms)
		a->head_ms = head_ms;
	if (write_ms)
		a->write_ms = write_ms;
}

void sl_admin_close(struct sl_admin *a)
{
	if (!a)
		return;
	while (a->clients)
		client_free(a, a->clients, 0);
	close(a->epfd);
	close(a->lfd);
	free(a);
}
