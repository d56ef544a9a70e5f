// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * splice_bulk: the two ends of tests/bench/bench_splice.sh, a one-way bulk
 * download through an HTTP gateway that costs the ends as little as possible
 * (no generator, no hash: tests/e2e/bulk does the byte-exact check), so that
 * the proxy's path is what is measured.
 *
 *   splice_bulk serve PORT
 *	The backend. Listens on 0.0.0.0:PORT; serves one connection at a time.
 *	Reads a request head carrying "X-Bulk-Bytes: N"; with an Upgrade header
 *	answers "101 Switching Protocols" (Connection: Upgrade, Upgrade: bulk),
 *	otherwise "200 OK" with Connection: close. Then sends N bytes of the
 *	pattern (below) from one static buffer, shuts its write side, reads
 *	until the client's EOF and closes. Prints "listening" once ready; on
 *	SIGTERM or SIGINT exits 0.
 *
 *   splice_bulk get HOST PORT N PATH upgrade|stream
 *	The client. Sends "GET PATH" with X-Bulk-Bytes: N (and the upgrade
 *	headers for upgrade), expects 101 (upgrade) or 200 (stream), then reads
 *	until EOF. Exits 0 only if it got exactly N bytes after the head and
 *	the pattern matched wherever it was sampled; prints
 *	"bytes N seconds S mbps M cpu_us C" (C: its own user+system time).
 *
 * The pattern: the stream is 64-bit little-endian words, word i at offset
 * 8*i holding i mod (BUF/8) (the static buffer repeated). The client checks
 * the word at every 4 KiB boundary it receives whole: a reordered, skipped or
 * repeated buffer's worth of bytes shows there; a count check catches the
 * rest.
 *
 * Exit status: 0 ok, 1 failure (reason on stderr), 2 usage.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>

#define BUF (256 * 1024) /* bytes per send() and recv(); the pattern's period */
#define HEAD_MAX 16384
#define SAMPLE 4096 /* the client checks one word every SAMPLE bytes */

static uint64_t pattern[BUF / 8];
static unsigned char rbuf[BUF];

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fill_pattern(void)
{
	size_t i;

	for (i = 0; i < BUF / 8; i++)
		pattern[i] = htole64(i);
}

/* Read until the end of a head ("\r\n\r\n"); @head gets it NUL-terminated,
 * @extra what followed it in the same reads. Returns the head's length or -1. */
static ssize_t read_head(int fd, char *head, size_t cap, size_t *extra)
{
	size_t len = 0;
	char *end;

	for (;;) {
		ssize_t n;

		if (len + 1 >= cap) {
			fprintf(stderr, "splice_bulk: head longer than %zu bytes\n", cap);
			return -1;
		}
		n = recv(fd, head + len, cap - 1 - len, 0);
		if (n <= 0) {
			fprintf(stderr, "splice_bulk: %s before the end of the head\n",
				n ? strerror(errno) : "EOF");
			return -1;
		}
		len += n;
		head[len] = 0;
		end = strstr(head, "\r\n\r\n");
		if (end) {
			size_t hl = end + 4 - head;

			*extra = len - hl;
			return hl;
		}
	}
}

static int send_all(int fd, const void *p, size_t len)
{
	const char *c = p;

	while (len) {
		ssize_t n = send(fd, c, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += n;
		len -= n;
	}
	return 0;
}

static void serve_one(int fd)
{
	static const char up[] = "HTTP/1.1 101 Switching Protocols\r\n"
				 "Connection: Upgrade\r\nUpgrade: bulk\r\n\r\n";
	static const char ok[] = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";
	unsigned long long want = 0, sent = 0;
	char head[HEAD_MAX], *h;
	size_t extra;
	int upgrade;

	if (read_head(fd, head, sizeof(head), &extra) < 0)
		return;
	h = strcasestr(head, "\r\nX-Bulk-Bytes:");
	if (!h || sscanf(h + 15, " %llu", &want) != 1) {
		fprintf(stderr, "splice_bulk: no X-Bulk-Bytes in the request\n");
		return;
	}
	upgrade = strcasestr(head, "\r\nUpgrade:") != NULL;
	if (send_all(fd, upgrade ? up : ok, upgrade ? sizeof(up) - 1 : sizeof(ok) - 1))
		return;
	while (sent < want) {
		size_t n = want - sent < BUF ? want - sent : BUF;

		if (send_all(fd, pattern, n)) {
			fprintf(stderr, "splice_bulk: send: %s\n", strerror(errno));
			return;
		}
		sent += n;
	}
	shutdown(fd, SHUT_WR);
	while (recv(fd, rbuf, sizeof(rbuf), 0) > 0)
		;
}

static int serve(const char *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int one = 1, lfd;

	sa.sin_port = htons(atoi(port));
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 64)) {
		fprintf(stderr, "splice_bulk: listen on %s: %s\n", port, strerror(errno));
		return 1;
	}
	printf("listening on %s\n", port);
	fflush(stdout);
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			fprintf(stderr, "splice_bulk: accept: %s\n", strerror(errno));
			return 1;
		}
		serve_one(fd);
		close(fd);
	}
}

/* Check the sampled words of the @len bytes at stream offset @off in @p. */
static int check(const unsigned char *p, unsigned long long off, size_t len)
{
	unsigned long long at = (off + SAMPLE - 1) / SAMPLE * SAMPLE;

	for (; at + 8 <= off + len; at += SAMPLE) {
		uint64_t w;

		memcpy(&w, p + (at - off), 8);
		if (le64toh(w) != (at % BUF) / 8) {
			fprintf(stderr, "splice_bulk: wrong bytes at offset %llu\n", at);
			return -1;
		}
	}
	return 0;
}

static int get(const char *host, const char *port, const char *nstr, const char *path,
	       const char *mode)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	unsigned long long want = strtoull(nstr, NULL, 10), got = 0;
	int upgrade = !strcmp(mode, "upgrade"), fd, status;
	char req[1024], head[HEAD_MAX];
	struct rusage ru;
	size_t extra;
	ssize_t hl;
	double t0, t;

	if (!upgrade && strcmp(mode, "stream"))
		return 2;
	sa.sin_port = htons(atoi(port));
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "splice_bulk: %s is not an IPv4 address\n", host);
		return 2;
	}
	snprintf(req, sizeof(req),
		 "GET %s HTTP/1.1\r\nHost: bench\r\nX-Bulk-Bytes: %llu\r\n%s\r\n", path, want,
		 upgrade ? "Connection: Upgrade\r\nUpgrade: bulk\r\n" : "");
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr, "splice_bulk: connect to %s:%s: %s\n", host, port, strerror(errno));
		return 1;
	}
	t0 = now_s();
	if (send_all(fd, req, strlen(req))) {
		fprintf(stderr, "splice_bulk: send: %s\n", strerror(errno));
		return 1;
	}
	hl = read_head(fd, head, sizeof(head), &extra);
	if (hl < 0)
		return 1;
	if (sscanf(head, "HTTP/1.%*c %d", &status) != 1 || status != (upgrade ? 101 : 200)) {
		fprintf(stderr, "splice_bulk: expected %d, got: %.100s\n", upgrade ? 101 : 200,
			head);
		return 1;
	}
	if (check((unsigned char *)head + hl, 0, extra))
		return 1;
	got = extra;
	for (;;) {
		ssize_t n = recv(fd, rbuf, sizeof(rbuf), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "splice_bulk: recv after %llu bytes: %s\n", got,
				strerror(errno));
			return 1;
		}
		if (!n)
			break;
		if (check(rbuf, got, n))
			return 1;
		got += n;
	}
	t = now_s() - t0;
	close(fd);
	getrusage(RUSAGE_SELF, &ru);
	printf("bytes %llu seconds %.6f mbps %.1f cpu_us %lld\n", got, t, got / t / 1e6,
	       (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
		       ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
	if (got != want) {
		fprintf(stderr, "splice_bulk: received %llu bytes, expected %llu\n", got, want);
		return 1;
	}
	return 0;
}

static void on_signal(int sig)
{
	(void)sig;
	_exit(0);
}

int main(int argc, char **argv)
{
	fill_pattern();
	if (argc == 3 && !strcmp(argv[1], "serve")) {
		signal(SIGTERM, on_signal);
		signal(SIGINT, on_signal);
		signal(SIGPIPE, SIG_IGN);
		return serve(argv[2]);
	}
	if (argc == 7 && !strcmp(argv[1], "get")) {
		int rc = get(argv[2], argv[3], argv[4], argv[5], argv[6]);

		if (rc != 2)
			return rc;
	}
	fprintf(stderr, "usage: splice_bulk serve PORT\n"
			"       splice_bulk get HOST PORT N PATH upgrade|stream\n");
	return 2;
}
