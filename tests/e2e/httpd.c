// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * httpd: the backend of the end-to-end lab. `httpd NAME PORT [PORT...]`
 * listens on every PORT over IPv4 and IPv6 (one dual-stack [::] socket per
 * port) and answers every HTTP/1.x request with "200 OK" and the body
 * "NAME\n", so a client learns which backend served it. Connections are kept
 * alive (any number of requests on one connection) unless the client asks
 * for "Connection: close" or speaks HTTP/1.0 without keep-alive. One epoll
 * loop; runs until SIGTERM or SIGINT, then exits 0.
 *
 * Prints "httpd NAME: listening on PORT..." on stdout once every socket is
 * listening, so a script may wait for that line.
 *
 * Request bodies (Content-Length, or chunked) are read and discarded. A few
 * paths answer differently, for the L7 gateway's tests; every other path gets
 * the answer above:
 *   /echo[?...]     200, the body is the request head exactly as received,
 *                   then "body LENGTH SHA256\n" over the decoded request body
 *                   (answered once the whole body has arrived)
 *   /status/NNN     that status (200..599), body "NAME\n" (none for 204/304)
 *   /slow/MS        the usual answer, written MS milliseconds later
 * A malformed chunked body closes the connection.
 *
 * With HTTPD_LOG=1 in the environment, every request head received is also
 * printed on stdout as "req METHOD TARGET", so a test can tell exactly which
 * requests reached the backend.
 */
#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <openssl/evp.h>

#define MAX_PORTS 16
#define REQ_MAX 8192 /* a request head longer than this is refused with 431 */

enum chunk_state { CH_NONE, CH_SIZE, CH_DATA, CH_DATA_CRLF, CH_TRAILER };

struct conn {
	struct conn *prev, *next; /* every open connection, for the exit */
	int fd;
	size_t len;	 /* bytes in buf */
	size_t skip;	 /* request body bytes still to discard */
	int close_after; /* close once out is sent */
	char *out;	 /* pending response bytes */
	size_t out_len;
	size_t out_off;
	enum chunk_state chunk; /* CH_NONE: no chunked body in progress */
	uint64_t chunk_left;	/* bytes of the current chunk still to come */
	char *echo;		/* /echo: the request head, answered after the body */
	size_t echo_len;
	uint64_t body_len; /* /echo: decoded body bytes so far */
	EVP_MD_CTX *md;	   /* /echo: their SHA-256 */
	uint64_t hold_ms;  /* /slow: write nothing before this (CLOCK_MONOTONIC ms) */
	char buf[REQ_MAX];
};

/* Tags in epoll data: listening sockets and the signalfd are told apart from
 * connections by these small integers; connections carry their pointer. */
enum {
	TAG_SIGNAL = 1,
	TAG_LISTEN = 2
};

static const char *name;
static char response[512];
static size_t response_len;
static int listen_fds[MAX_PORTS];
static struct conn *conns;
static int log_requests; /* HTTPD_LOG=1 */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void die(const char *what)
{
	fprintf(stderr, "httpd %s: %s: %s\n", name ? name : "?", what, strerror(errno));
	exit(1);
}

static int listen_on(const char *port_s)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
	int one = 1, zero = 0, fd;
	char *end;
	long port;

	port = strtol(port_s, &end, 10);
	if (*port_s == '\0' || *end != '\0' || port < 1 || port > 65535) {
		fprintf(stderr, "httpd: port '%s' is not in 1..65535\n", port_s);
		exit(2);
	}
	fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		die("SO_REUSEADDR");
	/* Dual stack: IPv4 clients arrive as ::ffff:a.b.c.d. */
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0)
		die("IPV6_V6ONLY");
	sa.sin6_port = htons((unsigned short)port);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die(port_s);
	if (listen(fd, 1024) < 0)
		die("listen");
	return fd;
}

static void conn_free(int ep, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->out);
	free(c->echo);
	EVP_MD_CTX_free(c->md);
	free(c);
}

/* Case-insensitive search for header @h (with its colon) in the head [p, end). */
static const char *header(const char *p, const char *end, const char *h)
{
	size_t hl = strlen(h);

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));

		if (!eol)
			break;
		if ((size_t)(eol - p) > hl && !strncasecmp(p, h, hl)) {
			p += hl;
			while (*p == ' ' || *p == '\t')
				p++;
			return p;
		}
		p = eol + 1;
	}
	return NULL;
}

/* Queue @len bytes of response. */
static int queue(struct conn *c, const char *data, size_t len)
{
	char *n = realloc(c->out, c->out_len + len);

	if (!n)
		return -ENOMEM;
	memcpy(n + c->out_len, data, len);
	c->out = n;
	c->out_len += len;
	return 0;
}

/* Drop the first @n bytes of c->buf, feeding them to the /echo digest. */
static void eat_body(struct conn *c, size_t n)
{
	if (c->md) {
		EVP_DigestUpdate(c->md, c->buf, n);
		c->body_len += n;
	}
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Step through a chunked body in c->buf. Returns 1 when it ended, 0 when more
 * bytes are needed, -1 when it is malformed. */
static int chunked(struct conn *c)
{
	for (;;) {
		char *eol, *p;
		size_t n;

		switch (c->chunk) {
		case CH_SIZE:
		case CH_TRAILER:
			eol = memmem(c->buf, c->len, "\r\n", 2);
			if (!eol)
				return c->len == sizeof(c->buf) ? -1 : 0;
			n = (size_t)(eol - c->buf) + 2;
			if (c->chunk == CH_TRAILER) {
				memmove(c->buf, c->buf + n, c->len - n);
				c->len -= n;
				if (n == 2) {
					c->chunk = CH_NONE;
					return 1;
				}
				break;
			}
			c->chunk_left = 0;
			for (p = c->buf; p < eol && *p != ';'; p++) {
				int d = hexval(*p);

				if (d < 0 || c->chunk_left >> 60)
					return -1;
				c->chunk_left = c->chunk_left * 16 + (uint64_t)d;
			}
			if (p == c->buf)
				return -1;
			memmove(c->buf, c->buf + n, c->len - n);
			c->len -= n;
			c->chunk = c->chunk_left ? CH_DATA : CH_TRAILER;
			break;
		case CH_DATA:
			n = c->chunk_left < c->len ? (size_t)c->chunk_left : c->len;
			eat_body(c, n);
			c->chunk_left -= n;
			if (c->chunk_left)
				return 0;
			c->chunk = CH_DATA_CRLF;
			break;
		case CH_DATA_CRLF:
			if (c->len < 2)
				return 0;
			if (memcmp(c->buf, "\r\n", 2))
				return -1;
			memmove(c->buf, c->buf + 2, c->len - 2);
			c->len -= 2;
			c->chunk = CH_SIZE;
			break;
		default:
			return 1;
		}
	}
}

/* The request body has ended: queue a deferred /echo answer. */
static int body_done(struct conn *c)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	char line[200], hdr[160];
	unsigned int mdlen = 0, i;
	int n, rc;

	if (!c->echo)
		return 0;
	n = snprintf(line, sizeof(line), "body %llu ", (unsigned long long)c->body_len);
	EVP_DigestFinal_ex(c->md, md, &mdlen);
	for (i = 0; i < mdlen; i++)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "%02x", md[i]);
	n += snprintf(line + n, sizeof(line) - (size_t)n, "\n");
	snprintf(hdr, sizeof(hdr),
		 "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n",
		 c->echo_len + (size_t)n);
	rc = queue(c, hdr, strlen(hdr)) || queue(c, c->echo, c->echo_len) ||
	     queue(c, line, (size_t)n);
	free(c->echo);
	c->echo = NULL;
	EVP_MD_CTX_free(c->md);
	c->md = NULL;
	return rc ? -1 : 0;
}

/* Queue the answer to the request whose head is [c->buf, head_end): the usual
 * one, or what its path asks for (see the top of this file). */
static int answer(struct conn *c, const char *head_end)
{
	const char *sp1, *sp2, *t, *eol = memchr(c->buf, '\n', (size_t)(head_end - c->buf));
	size_t tl;

	sp1 = eol ? memchr(c->buf, ' ', (size_t)(eol - c->buf)) : NULL;
	sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
	if (!sp2)
		return queue(c, response, response_len);
	t = sp1 + 1;
	tl = (size_t)(sp2 - t);
	if (log_requests) {
		printf("req %.*s %.*s\n", (int)(sp1 - c->buf), c->buf, (int)(tl > 300 ? 300 : tl),
		       t);
		fflush(stdout);
	}
	if (tl >= 5 && !memcmp(t, "/echo", 5) && (tl == 5 || t[5] == '?')) {
		c->echo_len = (size_t)(head_end - c->buf);
		c->echo = malloc(c->echo_len);
		c->md = EVP_MD_CTX_new();
		if (!c->echo || !c->md || !EVP_DigestInit_ex(c->md, EVP_sha256(), NULL))
			return -1;
		memcpy(c->echo, c->buf, c->echo_len);
		c->body_len = 0;
		return 0; /* answered by body_done() */
	}
	if (tl > 8 && !memcmp(t, "/status/", 8)) {
		char r[512];
		int st = atoi(t + 8), n;

		if (st < 200 || st > 599)
			st = 500;
		if (st == 204 || st == 304)
			n = snprintf(r, sizeof(r), "HTTP/1.1 %d Status\r\n\r\n", st);
		else
			n = snprintf(r, sizeof(r),
				     "HTTP/1.1 %d Status\r\nContent-Type: text/plain\r\n"
				     "Content-Length: %zu\r\n\r\n%s\n",
				     st, strlen(name) + 1, name);
		return queue(c, r, (size_t)n);
	}
	if (tl > 6 && !memcmp(t, "/slow/", 6))
		c->hold_ms = now_ms() + (uint64_t)atoi(t + 6);
	return queue(c, response, response_len);
}

/* Answer every complete request in c->buf. Returns 0, or -1 to close now. */
static int serve(struct conn *c)
{
	for (;;) {
		char *end, *head_end, *first_eol;
		const char *v;
		int http10;

		if (c->skip) {
			size_t n = c->skip < c->len ? c->skip : c->len;

			eat_body(c, n);
			c->skip -= n;
			if (c->skip)
				return 0;
			if (body_done(c))
				return -1;
		}
		if (c->chunk != CH_NONE) {
			int r = chunked(c);

			if (r < 0)
				return -1;
			if (r == 0)
				return 0;
			if (body_done(c))
				return -1;
		}
		if (c->close_after) {
			c->len = 0; /* ignore anything sent after "Connection: close" */
			return 0;
		}
		end = memmem(c->buf, c->len, "\r\n\r\n", 4);
		if (!end) {
			if (c->len == sizeof(c->buf)) {
				static const char too_big[] =
					"HTTP/1.1 431 Request Header Fields Too Large\r\n"
					"Content-Length: 0\r\nConnection: close\r\n\r\n";

				c->close_after = 1;
				c->len = 0;
				return queue(c, too_big, sizeof(too_big) - 1) ? -1 : 0;
			}
			return 0;
		}
		head_end = end + 4;
		first_eol = memchr(c->buf, '\n', (size_t)(head_end - c->buf));
		http10 = first_eol && first_eol - c->buf >= 9 &&
			 !memcmp(first_eol - 9, "HTTP/1.0", 8);
		v = header(first_eol ? first_eol + 1 : c->buf, head_end, "connection:");
		if (v && !strncasecmp(v, "close", 5))
			c->close_after = 1;
		else if (http10 && !(v && !strncasecmp(v, "keep-alive", 10)))
			c->close_after = 1;
		v = header(first_eol ? first_eol + 1 : c->buf, head_end, "transfer-encoding:");
		if (v && !strncasecmp(v, "chunked", 7)) {
			c->chunk = CH_SIZE;
		} else {
			v = header(first_eol ? first_eol + 1 : c->buf, head_end, "content-length:");
			if (v)
				c->skip = strtoul(v, NULL, 10);
		}
		if (answer(c, head_end))
			return -1;
		memmove(c->buf, head_end, c->len - (size_t)(head_end - c->buf));
		c->len -= (size_t)(head_end - c->buf);
		if (!c->skip && c->chunk == CH_NONE && body_done(c))
			return -1;
	}
}

/* Write what is queued. Returns 0, or -1 to close now. */
static int flush(int ep, struct conn *c)
{
	struct epoll_event ev = { .data.ptr = c };

	while (c->out_off < c->out_len && (!c->hold_ms || now_ms() >= c->hold_ms)) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0)
			return -1;
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out_len) {
		c->hold_ms = 0;
		free(c->out);
		c->out = NULL;
		c->out_len = c->out_off = 0;
		if (c->close_after)
			return -1;
		ev.events = EPOLLIN;
	} else if (c->hold_ms && now_ms() < c->hold_ms) {
		ev.events = EPOLLIN; /* the main loop's timeout wakes us */
	} else {
		c->hold_ms = 0;
		ev.events = EPOLLIN | EPOLLOUT;
	}
	return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) ? -1 : 0;
}

static void on_conn(int ep, struct conn *c, unsigned int events)
{
	if (events & (EPOLLERR | EPOLLHUP) && !(events & EPOLLIN))
		goto close_conn;
	if (events & EPOLLIN) {
		for (;;) {
			ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN)
				break;
			if (n <= 0)
				goto close_conn; /* peer closed, or reset */
			c->len += (size_t)n;
			if (serve(c))
				goto close_conn;
		}
	}
	if (flush(ep, c))
		goto close_conn;
	return;
close_conn:
	conn_free(ep, c);
}

static void on_accept(int ep, int lfd)
{
	for (;;) {
		struct epoll_event ev = { .events = EPOLLIN };
		struct conn *c;
		int one = 1, fd;

		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				fprintf(stderr, "httpd %s: accept: %s\n", name, strerror(errno));
			return;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		ev.data.ptr = c;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev)) {
			close(fd);
			free(c);
			continue;
		}
		c->next = conns;
		if (conns)
			conns->prev = c;
		conns = c;
	}
}

int main(int argc, char **argv)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int ep, sfd, i, nports;
	sigset_t mask;

	if (argc < 3 || argc - 2 > MAX_PORTS) {
		fprintf(stderr, "usage: httpd NAME PORT [PORT...]  (at most %d ports)\n",
			MAX_PORTS);
		return 2;
	}
	name = argv[1];
	nports = argc - 2;
	log_requests = getenv("HTTPD_LOG") && !strcmp(getenv("HTTPD_LOG"), "1");
	response_len = (size_t)snprintf(response, sizeof(response),
					"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
					"Content-Length: %zu\r\n\r\n%s\n",
					strlen(name) + 1, name);
	if (response_len >= sizeof(response)) {
		fprintf(stderr, "httpd: name too long\n");
		return 2;
	}

	/* SIGTERM and SIGINT arrive through a signalfd in the loop. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, NULL))
		die("sigprocmask");
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0)
		die("signalfd");
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1");
	ev.data.u64 = TAG_SIGNAL;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev))
		die("epoll_ctl");
	for (i = 0; i < nports; i++) {
		listen_fds[i] = listen_on(argv[2 + i]);
		/* Listening sockets: TAG_LISTEN + index, never a valid pointer. */
		ev.data.u64 = TAG_LISTEN + (unsigned int)i;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, listen_fds[i], &ev))
			die("epoll_ctl");
	}
	printf("httpd %s: listening on", name);
	for (i = 0; i < nports; i++)
		printf(" %s", argv[2 + i]);
	printf("\n");
	fflush(stdout);

	for (;;) {
		struct epoll_event evs[64];
		uint64_t now = now_ms(), next = 0;
		struct conn *c, *cn;
		int n;

		/* /slow answers whose time has come; the nearest one still held */
		for (c = conns; c; c = cn) {
			cn = c->next;
			if (c->hold_ms && now >= c->hold_ms && flush(ep, c))
				conn_free(ep, c);
			else if (c->hold_ms && (!next || c->hold_ms < next))
				next = c->hold_ms;
		}
		now = now_ms();
		n = epoll_wait(ep, evs, 64, !next ? -1 : next > now ? (int)(next - now) : 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("epoll_wait");
		for (i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;

			if (tag == TAG_SIGNAL) {
				while (conns)
					conn_free(ep, conns);
				return 0;
			}
			if (tag >= TAG_LISTEN && tag < TAG_LISTEN + MAX_PORTS)
				on_accept(ep, listen_fds[tag - TAG_LISTEN]);
			else
				on_conn(ep, evs[i].data.ptr, evs[i].events);
		}
	}
}
