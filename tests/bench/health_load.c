// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * health_load: the two ends of tests/bench/bench_health.sh.
 *
 *   health_load listen PORT COUNT
 *	Accepts TCP connections on 0.0.0.0, ports PORT .. PORT+COUNT-1, and
 *	closes each at once; with every address of a prefix routed to lo, these
 *	few sockets stand for thousands of backends (ADDR:PORT pairs). Prints
 *	"listening" when ready; on SIGTERM or SIGINT prints "accepted N" and
 *	"cpu_us N" (its own user+system time) and exits 0.
 *
 *   health_load connect INTERVAL_MS SECONDS FILE
 *	The floor for a tcp health check: every endpoint of FILE (one
 *	"ADDR PORT" line each, IPv4) gets a non-blocking connect once every
 *	INTERVAL_MS, at phases spread evenly over the interval, for SECONDS.
 *	A connect that completes passes; the socket is closed with an RST, as
 *	sluiced's checker does (SO_LINGER 0: no TIME_WAIT). The same system
 *	calls as sluiced's checker (socket, connect, epoll_ctl, epoll_wait,
 *	setsockopt, close) and nothing else: no heap, no hash, no counters.
 *	Prints "connects N", "ok N", "failed N", "unfinished N" (still
 *	connecting at the end), "cpu_us N", "wall_us N".
 *
 * Exit status: 0 done, 1 a system call failed, 2 usage.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#define LISTEN_MAX 1024
#define BATCH 256

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t cpu_us(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static int usage(void)
{
	fprintf(stderr, "usage: health_load listen PORT COUNT\n"
			"       health_load connect INTERVAL_MS SECONDS FILE\n");
	return 2;
}

/* A number in [min, max] from @s, or -1. */
static long number(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	return v;
}

static void rst_close(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

static int do_listen(long port, long count)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };
	struct epoll_event ev = { .events = EPOLLIN }, evs[64];
	unsigned long long accepted = 0;
	int ep, one = 1, i, n, fd, lfd;

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		perror("health_load: epoll_create1");
		return 1;
	}
	for (i = 0; i < count; i++) {
		lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		sa.sin_port = htons((uint16_t)(port + i));
		if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
		    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 4096)) {
			fprintf(stderr, "health_load: listening on port %ld: %s\n", port + i,
				strerror(errno));
			return 1;
		}
		ev.data.fd = lfd;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev)) {
			perror("health_load: epoll_ctl");
			return 1;
		}
	}
	printf("listening on %ld ports from %ld\n", count, port);
	fflush(stdout);
	while (!stop) {
		n = epoll_wait(ep, evs, 64, 200);
		if (n < 0 && errno != EINTR) {
			perror("health_load: epoll_wait");
			return 1;
		}
		for (i = 0; i < n; i++)
			/* drain the queue: a full backlog would fail the checks, not time them */
			while ((fd = accept4(evs[i].data.fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
				close(fd);
				accepted++;
			}
	}
	printf("accepted %llu\ncpu_us %llu\n", accepted, (unsigned long long)cpu_us());
	return 0;
}

struct target {
	struct sockaddr_in sa;
	uint64_t due_us;
	int fd;
};

/* The endpoints of @path, into *@out; their count, or -1. */
static long read_targets(const char *path, struct target **out)
{
	struct target *t = NULL, *nt;
	char addr[64];
	long n = 0, cap = 0;
	unsigned port;
	FILE *f;

	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "health_load: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fscanf(f, "%63s %u", addr, &port) == 2) {
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			nt = realloc(t, (size_t)cap * sizeof(*t));
			if (!nt)
				goto fail;
			t = nt;
		}
		memset(&t[n], 0, sizeof(t[n]));
		t[n].sa.sin_family = AF_INET;
		t[n].sa.sin_port = htons((uint16_t)port);
		t[n].fd = -1;
		if (port == 0 || port > 65535 || inet_pton(AF_INET, addr, &t[n].sa.sin_addr) != 1) {
			fprintf(stderr, "health_load: %s: '%s %u' is not an IPv4 endpoint\n", path,
				addr, port);
			goto fail;
		}
		n++;
	}
	fclose(f);
	*out = t;
	return n;
fail:
	fclose(f);
	free(t);
	return -1;
}

static int do_connect(long interval_ms, long seconds, const char *path)
{
	unsigned long long connects = 0, ok = 0, failed = 0, unfinished = 0;
	uint64_t start, end, now, cpu0, iv = (uint64_t)interval_ms * 1000u;
	struct epoll_event ev, evs[BATCH];
	struct target *t = NULL, *c;
	long n, i, cur = 0;
	int ep, k, m;

	n = read_targets(path, &t);
	if (n <= 0) {
		if (!n)
			fprintf(stderr, "health_load: %s: no endpoints\n", path);
		return 1;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		perror("health_load: epoll_create1");
		return 1;
	}
	cpu0 = cpu_us();
	start = now_us();
	end = start + (uint64_t)seconds * 1000000u;
	for (i = 0; i < n; i++)
		t[i].due_us = start + iv * (uint64_t)i / (uint64_t)n;
	/*
	 * Endpoints come due in file order, round and round: a cursor is the
	 * whole scheduler, so the floor pays for no heap and no scan.
	 */
	while ((now = now_us()) < end && !stop) {
		while ((c = &t[cur])->due_us <= now) {
			c->due_us += iv;
			cur = (cur + 1) % n;
			if (c->fd >= 0) { /* still connecting a whole interval later */
				rst_close(c->fd);
				c->fd = -1;
				failed++;
			}
			c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
			if (c->fd < 0) {
				perror("health_load: socket");
				return 1;
			}
			connects++;
			if (!connect(c->fd, (struct sockaddr *)&c->sa, sizeof(c->sa))) {
				ok++;
				rst_close(c->fd);
				c->fd = -1;
			} else if (errno == EINPROGRESS) {
				ev.events = EPOLLOUT;
				ev.data.ptr = c;
				if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev)) {
					perror("health_load: epoll_ctl");
					return 1;
				}
			} else {
				failed++;
				rst_close(c->fd);
				c->fd = -1;
			}
		}
		m = epoll_wait(ep, evs, BATCH, (int)((t[cur].due_us - now + 999) / 1000));
		for (k = 0; k < m; k++) {
			c = evs[k].data.ptr;
			if (evs[k].events & (EPOLLERR | EPOLLHUP))
				failed++;
			else
				ok++;
			rst_close(c->fd);
			c->fd = -1;
		}
	}
	for (i = 0; i < n; i++)
		if (t[i].fd >= 0) {
			rst_close(t[i].fd);
			unfinished++;
		}
	printf("connects %llu\nok %llu\nfailed %llu\nunfinished %llu\ncpu_us %llu\nwall_us %llu\n",
	       connects, ok, failed, unfinished, (unsigned long long)(cpu_us() - cpu0),
	       (unsigned long long)(now_us() - start));
	free(t);
	close(ep);
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	long a, b;

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (argc == 4 && !strcmp(argv[1], "listen")) {
		a = number(argv[2], 1, 65535);
		b = number(argv[3], 1, LISTEN_MAX);
		if (a < 0 || b < 0 || a + b - 1 > 65535)
			return usage();
		return do_listen(a, b);
	}
	if (argc == 5 && !strcmp(argv[1], "connect")) {
		a = number(argv[2], 1, 3600000);
		b = number(argv[3], 1, 3600);
		if (a < 0 || b < 0)
			return usage();
		return do_connect(a, b, argv[4]);
	}
	return usage();
}
