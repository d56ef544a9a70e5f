// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * hammer: the client of the end-to-end lab. It sends "GET / HTTP/1.1" to a
 * VIP and counts which backend answered (the httpd backends answer with their
 * name as the body). Three ways to send:
 *
 *   -n N        N connections one after another, one request each (default)
 *   -l SECONDS  the same, in a loop, for SECONDS
 *   -k SECONDS  keep-alive: ONE connection, a request every -i ms (default
 *               100) for SECONDS (0: until SIGTERM/SIGINT). A request that
 *               fails is counted, and the next one opens a new connection.
 *
 * Every connection is a fresh socket, so it has a new source port, unless
 * -s PORT binds a fixed one (with SO_REUSEADDR, and closed with SO_LINGER 0,
 * i.e. an RST, so the same 4-tuple may be used again at once).
 *
 * Output on stdout, once at the end (also on SIGTERM/SIGINT):
 *   NAME COUNT      one line per backend name, sorted
 *   failed N        requests that got no 200 answer (any reason)
 *   timeouts N      of those, connects unanswered within -t (a dropped SYN)
 *   attempts N      requests tried (answered + failed)
 * and, in -k mode, "connected NAME" as soon as the first answer arrives.
 * Failures are described on stderr (unless -q). Exit status: 0 when nothing
 * failed, 1 when something did, 2 on bad usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#define MAX_NAMES 64
#define NAME_MAX_LEN 64
#define RESP_MAX 4096

struct target {
	struct sockaddr_storage dst;
	socklen_t dst_len;
	struct sockaddr_storage src; /* -b / -s; family AF_UNSPEC when neither */
	int bind_src;
	char host[INET6_ADDRSTRLEN + 2];
};

struct opts {
	long n;
	double loop_s;
	double keep_s;
	int keep;
	long interval_ms;
	long connect_ms;
	long resp_ms;
	int src_port;
	int quiet;
};

struct tally {
	char name[MAX_NAMES][NAME_MAX_LEN];
	long count[MAX_NAMES];
	int names;
	long failed;
	long timeouts;
	long attempts;
};

/* Why a request failed, for the message and the timeout count. */
enum fail {
	OK,
	FAIL_CONNECT_TIMEOUT,
	FAIL_CONNECT,
	FAIL_SEND,
	FAIL_RECV_TIMEOUT,
	FAIL_RECV,
	FAIL_CLOSED,
	FAIL_STATUS,
	FAIL_PARSE
};

static volatile sig_atomic_t stop;
static struct timespec t_start;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t_start.tv_sec) + (double)(t.tv_nsec - t_start.tv_nsec) / 1e9;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: hammer [options] [ADDR | ADDR:PORT | [V6ADDR]:PORT | http://HOST[:PORT]/]\n"
		"  -a ADDR     destination address, IPv4 or IPv6\n"
		"  -p PORT     destination port (default 80)\n"
		"  -n N        N connections, one request each (default 1)\n"
		"  -l SECONDS  a new connection per request, in a loop, for SECONDS\n"
		"  -k SECONDS  one keep-alive connection, a request every -i ms\n"
		"              (0: until SIGTERM)\n"
		"  -i MS       pause between requests (default 100 with -k, else 0)\n"
		"  -s PORT     bind this source port (closed with an RST, so reusable at once;\n"
		"              pick one below ip_local_port_range, or TIME_WAIT may hold it)\n"
		"  -b ADDR     bind this source address\n"
		"  -t MS       connect timeout (default 2000)\n"
		"  -T MS       response timeout (default 2000)\n"
		"  -q          no messages about failures on stderr\n");
	exit(2);
}

static long num(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "hammer: %s '%s' is not in %ld..%ld\n", what, s, lo, hi);
		exit(2);
	}
	return v;
}

static double seconds(const char *s, const char *what)
{
	char *end;
	double v;

	v = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || v < 0 || v > 86400) {
		fprintf(stderr, "hammer: %s '%s' is not a number of seconds\n", what, s);
		exit(2);
	}
	return v;
}

/* Fill @ss with @addr (IPv4 or IPv6) and @port. Returns its length, 0 if invalid. */
static socklen_t sockaddr_of(const char *addr, int port, struct sockaddr_storage *ss)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((unsigned short)port);
		return sizeof(*s4);
	}
	if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((unsigned short)port);
		return sizeof(*s6);
	}
	return 0;
}

/* "ADDR", "ADDR:PORT", "[V6]", "[V6]:PORT", "V6", optionally as http://.../path.
 * Writes the address into @addr and the port, when there is one, into @port. */
static void parse_target(const char *arg, char *addr, size_t len, int *port)
{
	char buf[256], *p = buf, *colon, *slash;

	if (!strncmp(arg, "http://", 7))
		arg += 7;
	snprintf(buf, sizeof(buf), "%s", arg);
	slash = strchr(p, '/');
	if (slash)
		*slash = '\0';
	if (*p == '[') {
		char *close = strchr(p, ']');

		if (!close)
			goto bad;
		*close = '\0';
		if (close[1] == ':')
			*port = (int)num(close + 2, 1, 65535, "port");
		else if (close[1] != '\0')
			goto bad;
		p++;
	} else {
		colon = strchr(p, ':');
		if (colon && !strchr(colon + 1, ':')) { /* one colon: IPv4:PORT */
			*colon = '\0';
			*port = (int)num(colon + 1, 1, 65535, "port");
		}
	}
	snprintf(addr, len, "%s", p);
	return;
bad:
	fprintf(stderr, "hammer: cannot read '%s' as ADDR[:PORT]\n", arg);
	exit(2);
}

static void count_name(struct tally *t, const char *name)
{
	int i;

	for (i = 0; i < t->names; i++)
		if (!strcmp(t->name[i], name))
			break;
	if (i == t->names) {
		if (t->names == MAX_NAMES)
			i = MAX_NAMES - 1; /* cannot happen with the lab's three names */
		else
			snprintf(t->name[t->names++], NAME_MAX_LEN, "%s", name);
	}
	t->count[i]++;
}

/* Wait for @events on @fd for at most @ms. Returns >0 ready, 0 timeout, <0 error/stop. */
static int wait_fd(int fd, short events, long ms)
{
	double deadline = now_s() + (double)ms / 1000.0;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = events };
		long left = (long)((deadline - now_s()) * 1000.0 + 0.999);
		int r;

		if (left < 0)
			left = 0;
		r = poll(&pfd, 1, (int)left);
		if (r > 0)
			return r;
		if (r == 0)
			return 0;
		if (errno != EINTR)
			return -1;
		if (stop)
			return -1;
	}
}

/* A connected, non-blocking socket to the target, or -1 with *why set. */
static int open_conn(const struct target *tg, const struct opts *o, enum fail *why)
{
	int one = 1, err = 0, fd, r;
	socklen_t elen = sizeof(err);

	fd = socket(tg->dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*why = FAIL_CONNECT;
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (tg->bind_src) {
		socklen_t slen = tg->src.ss_family == AF_INET ? sizeof(struct sockaddr_in)
							      : sizeof(struct sockaddr_in6);

		if (o->src_port) {
			struct linger lg = { .l_onoff = 1, .l_linger = 0 };

			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
		if (bind(fd, (const struct sockaddr *)&tg->src, slen) < 0) {
			if (!o->quiet)
				fprintf(stderr, "hammer: bind: %s\n", strerror(errno));
			close(fd);
			*why = FAIL_CONNECT;
			return -1;
		}
	}
	if (connect(fd, (const struct sockaddr *)&tg->dst, tg->dst_len) < 0 &&
	    errno != EINPROGRESS) {
		err = errno;
		goto fail;
	}
	r = wait_fd(fd, POLLOUT, o->connect_ms);
	if (r == 0) {
		close(fd);
		*why = FAIL_CONNECT_TIMEOUT;
		return -1;
	}
	if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
		err = errno ? errno : EINTR;
	if (err)
		goto fail;
	return fd;
fail:
	if (!o->quiet)
		fprintf(stderr, "hammer: connect: %s\n", strerror(err));
	close(fd);
	*why = FAIL_CONNECT;
	return -1;
}

/* One request on @fd. On success writes the body (the backend's name, without
 * its newline) into @name. */
static enum fail request(int fd, const struct target *tg, const struct opts *o, char *name,
			 size_t nlen)
{
	char req[256], resp[RESP_MAX + 1];
	size_t len = 0, body_len = 0, head_len;
	int status = 0, reqlen;
	char *end, *cl;

	reqlen = snprintf(req, sizeof(req),
			  "GET / HTTP/1.1\r\nHost: %s\r\nUser-Agent: hammer\r\n\r\n", tg->host);
	if (send(fd, req, (size_t)reqlen, MSG_NOSIGNAL) != reqlen)
		return FAIL_SEND;
	for (;;) {
		ssize_t n;
		int r;

		end = len ? memmem(resp, len, "\r\n\r\n", 4) : NULL;
		if (end) {
			head_len = (size_t)(end + 4 - resp);
			resp[len] = '\0';
			cl = strcasestr(resp, "\r\ncontent-length:");
			if (!cl || sscanf(resp, "HTTP/1.%*c %d", &status) != 1)
				return FAIL_PARSE;
			body_len = strtoul(cl + 17, NULL, 10);
			if (head_len + body_len > RESP_MAX)
				return FAIL_PARSE;
			if (len >= head_len + body_len)
				break;
		}
		if (len == RESP_MAX)
			return FAIL_PARSE;
		r = wait_fd(fd, POLLIN, o->resp_ms);
		if (r == 0)
			return FAIL_RECV_TIMEOUT;
		if (r < 0)
			return FAIL_RECV;
		n = recv(fd, resp + len, RESP_MAX - len, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0)
			return FAIL_RECV;
		if (n == 0)
			return FAIL_CLOSED;
		len += (size_t)n;
	}
	if (status != 200)
		return FAIL_STATUS;
	while (body_len &&
	       (resp[head_len + body_len - 1] == '\n' || resp[head_len + body_len - 1] == '\r'))
		body_len--;
	if (body_len >= nlen)
		body_len = nlen - 1;
	memcpy(name, resp + head_len, body_len);
	name[body_len] = '\0';
	return OK;
}

static void note_failure(struct tally *t, const struct opts *o, enum fail why)
{
	static const char *const what[] = {
		[FAIL_CONNECT_TIMEOUT] = "connect timed out (SYN unanswered)",
		[FAIL_CONNECT] = "connect failed",
		[FAIL_SEND] = "send failed",
		[FAIL_RECV_TIMEOUT] = "no answer within the response timeout",
		[FAIL_RECV] = "receive failed (connection reset?)",
		[FAIL_CLOSED] = "connection closed by the peer",
		[FAIL_STATUS] = "status other than 200",
		[FAIL_PARSE] = "malformed answer",
	};

	t->failed++;
	if (why == FAIL_CONNECT_TIMEOUT)
		t->timeouts++;
	if (!o->quiet)
		fprintf(stderr, "hammer: request %ld at %.2f s: %s\n", t->attempts, now_s(),
			what[why]);
}

static void pause_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (!stop && nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* -n and -l: a new connection per request. */
static void run_fresh(const struct target *tg, const struct opts *o, struct tally *t)
{
	double until = o->loop_s > 0 ? now_s() + o->loop_s : 0;
	long i;

	for (i = 0; !stop; i++) {
		char name[NAME_MAX_LEN];
		enum fail why;
		int fd;

		if (until ? now_s() >= until : i >= o->n)
			break;
		if (i && o->interval_ms)
			pause_ms(o->interval_ms);
		t->attempts++;
		fd = open_conn(tg, o, &why);
		if (fd < 0) {
			if (stop)
				t->attempts--; /* interrupted by us, not a failure */
			else
				note_failure(t, o, why);
			continue;
		}
		why = request(fd, tg, o, name, sizeof(name));
		close(fd);
		if (why == OK)
			count_name(t, name);
		else if (stop)
			t->attempts--;
		else
			note_failure(t, o, why);
	}
}

/* -k: one connection, a request every interval; a failure opens a new one. */
static void run_keep(const struct target *tg, const struct opts *o, struct tally *t)
{
	double until = o->keep_s > 0 ? now_s() + o->keep_s : 0;
	int fd = -1, announced = 0;

	while (!stop && (!until || now_s() < until)) {
		char name[NAME_MAX_LEN];
		enum fail why;

		if (t->attempts)
			pause_ms(o->interval_ms);
		if (stop)
			break;
		t->attempts++;
		if (fd < 0) {
			fd = open_conn(tg, o, &why);
			if (fd < 0) {
				note_failure(t, o, why);
				continue;
			}
		}
		why = request(fd, tg, o, name, sizeof(name));
		if (why == OK) {
			count_name(t, name);
			if (!announced) {
				printf("connected %s\n", name);
				fflush(stdout);
				announced = 1;
			}
			continue;
		}
		if (stop) {
			t->attempts--;
			break;
		}
		note_failure(t, o, why);
		close(fd);
		fd = -1;
	}
	if (fd >= 0)
		close(fd);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

int main(int argc, char **argv)
{
	struct opts o = { .n = 1, .interval_ms = -1, .connect_ms = 2000, .resp_ms = 2000 };
	char addr[256] = "", src_addr[256] = "";
	struct sigaction sa = { .sa_handler = on_signal };
	struct target tg = { .dst_len = 0 };
	struct tally t = { .names = 0 };
	int port = 80, c, i;

	while ((c = getopt(argc, argv, "a:p:n:l:k:i:s:b:t:T:qh")) != -1) {
		switch (c) {
		case 'a':
			snprintf(addr, sizeof(addr), "%s", optarg);
			break;
		case 'p':
			port = (int)num(optarg, 1, 65535, "port");
			break;
		case 'n':
			o.n = num(optarg, 0, 100000000, "count");
			break;
		case 'l':
			o.loop_s = seconds(optarg, "loop");
			if (o.loop_s == 0)
				usage();
			break;
		case 'k':
			o.keep_s = seconds(optarg, "keep-alive");
			o.keep = 1;
			break;
		case 'i':
			o.interval_ms = num(optarg, 0, 3600000, "interval");
			break;
		case 's':
			o.src_port = (int)num(optarg, 1, 65535, "source port");
			break;
		case 'b':
			snprintf(src_addr, sizeof(src_addr), "%s", optarg);
			break;
		case 't':
			o.connect_ms = num(optarg, 1, 3600000, "connect timeout");
			break;
		case 'T':
			o.resp_ms = num(optarg, 1, 3600000, "response timeout");
			break;
		case 'q':
			o.quiet = 1;
			break;
		default:
			usage();
		}
	}
	if (optind < argc)
		parse_target(argv[optind++], addr, sizeof(addr), &port);
	if (optind < argc || !addr[0])
		usage();
	tg.dst_len = sockaddr_of(addr, port, &tg.dst);
	if (!tg.dst_len) {
		fprintf(stderr, "hammer: '%s' is not an IPv4 or IPv6 address\n", addr);
		return 2;
	}
	snprintf(tg.host, sizeof(tg.host), tg.dst.ss_family == AF_INET6 ? "[%s]" : "%s", addr);
	if (src_addr[0] || o.src_port) {
		if (!src_addr[0])
			snprintf(src_addr, sizeof(src_addr), "%s",
				 tg.dst.ss_family == AF_INET6 ? "::" : "0.0.0.0");
		if (!sockaddr_of(src_addr, o.src_port, &tg.src) ||
		    tg.src.ss_family != tg.dst.ss_family) {
			fprintf(stderr,
				"hammer: source '%s' is not an address of the target's family\n",
				src_addr);
			return 2;
		}
		tg.bind_src = 1;
	}
	if (o.interval_ms < 0)
		o.interval_ms = o.keep ? 100 : 0;

	/* No SA_RESTART: a signal interrupts poll() and the loops stop. */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	clock_gettime(CLOCK_MONOTONIC, &t_start);

	if (o.keep)
		run_keep(&tg, &o, &t);
	else
		run_fresh(&tg, &o, &t);

	/* Sort names, carrying their counts along. */
	{
		struct {
			char name[NAME_MAX_LEN];
			long count;
		} rows[MAX_NAMES];

		for (i = 0; i < t.names; i++) {
			memcpy(rows[i].name, t.name[i], NAME_MAX_LEN);
			rows[i].count = t.count[i];
		}
		qsort(rows, (size_t)t.names, sizeof(rows[0]), by_name);
		for (i = 0; i < t.names; i++)
			printf("%s %ld\n", rows[i].name, rows[i].count);
	}
	printf("failed %ld\ntimeouts %ld\nattempts %ld\n", t.failed, t.timeouts, t.attempts);
	return t.failed ? 1 : 0;
}
