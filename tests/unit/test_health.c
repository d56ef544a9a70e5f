// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Active health checks (user/agent/health.c): the "health" JSON, and the check
 * engine against real listeners on 127.0.0.1 / ::1 ephemeral ports. A server
 * thread answers as each test sets it (close, an HTTP status, silence), and
 * the test drives the engine the way the agent does: poll its fd, then run.
 * Results switch between checks, so counting tests are exact: a target checks
 * once per interval and the test changes the answer while no check runs.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "check.h"
#include "sluice/abi.h"
#include "../../user/agent/health.h"

/* ---- a listener the tests steer ---- */

enum srv_mode {
	SRV_CLOSE,  /* accept and close */
	SRV_HTTP,   /* read the request, answer with srv.status after srv.delay_ms */
	SRV_SILENT, /* accept and never answer */
	SRV_RAW,    /* answer a line that is not HTTP */
	SRV_RECV,   /* accept and record how the client ended: recv's result or -errno */
};

struct srv {
	int lfd;
	int stop[2];
	int family;
	int served; /* a thread answers */
	uint16_t port;
	pthread_t th;
	atomic_int mode;
	atomic_int status;
	atomic_int delay_ms;
	atomic_int accepted;
	char req[1024]; /* the last request head read */
	atomic_int req_len;
	atomic_int ended; /* SRV_RECV: 0 = FIN, -ECONNRESET = RST, 1 = not yet */
	int held[256];
	atomic_int nheld;
};

static void read_head(struct srv *s, int fd)
{
	struct timeval tv = { .tv_sec = 2 };
	size_t len = 0;
	ssize_t n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (len < sizeof(s->req) - 1) {
		n = recv(fd, s->req + len, sizeof(s->req) - 1 - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
		s->req[len] = 0;
		if (strstr(s->req, "\r\n\r\n"))
			break;
	}
	atomic_store(&s->req_len, (int)len);
}

static void *srv_main(void *arg)
{
	struct srv *s = arg;
	struct pollfd p[2] = { { .fd = s->lfd, .events = POLLIN },
			       { .fd = s->stop[0], .events = POLLIN } };
	char out[128];
	int fd, n;

	for (;;) {
		if (poll(p, 2, -1) < 0 || p[1].revents)
			break;
		fd = accept(s->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		atomic_fetch_add(&s->accepted, 1);
		switch (atomic_load(&s->mode)) {
		case SRV_HTTP:
			read_head(s, fd);
			if (atomic_load(&s->delay_ms))
				usleep((useconds_t)atomic_load(&s->delay_ms) * 1000);
			n = snprintf(out, sizeof(out),
				     "HTTP/1.1 %d Whatever\r\nContent-Length: 0\r\n\r\n",
				     atomic_load(&s->status));
			send(fd, out, (size_t)n, MSG_NOSIGNAL);
			close(fd);
			break;
		case SRV_RECV: {
			struct timeval tv = { .tv_sec = 2 };
			ssize_t r;

			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			r = recv(fd, out, sizeof(out), 0);
			atomic_store(&s->ended, r < 0 ? -errno : (int)r);
			close(fd);
			break;
		}
		case SRV_RAW:
			send(fd, "SSH-2.0-OpenSSH_9.2\r\n", 21, MSG_NOSIGNAL);
			close(fd);
			break;
		case SRV_SILENT:
			if (atomic_load(&s->nheld) < (int)(sizeof(s->held) / sizeof(s->held[0]))) {
				s->held[atomic_load(&s->nheld)] = fd;
				atomic_fetch_add(&s->nheld, 1);
				break;
			}
			close(fd);
			break;
		default:
			close(fd);
		}
	}
	return NULL;
}

/* A listener on an ephemeral loopback port, served by a thread unless @serve is 0. */
static struct srv *srv_start(int family, int mode, int backlog, int serve)
{
	struct srv *s = test_calloc(1, sizeof(*s));
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int one = 1;

	s->family = family;
	s->lfd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_TRUE(s->lfd >= 0, "socket: %s", strerror(errno));
	setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET)
		ASSERT_EQ(bind(s->lfd, (struct sockaddr *)&a4, sizeof(a4)), 0, "bind");
	else
		ASSERT_EQ(bind(s->lfd, (struct sockaddr *)&a6, sizeof(a6)), 0, "bind ::1");
	ASSERT_EQ(listen(s->lfd, backlog), 0, "listen");
	ASSERT_EQ(getsockname(s->lfd, (struct sockaddr *)&ss, &len), 0, "getsockname");
	s->port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					  : ((struct sockaddr_in6 *)&ss)->sin6_port);
	atomic_store(&s->mode, mode);
	atomic_store(&s->status, 200);
	atomic_store(&s->ended, 1);
	ASSERT_EQ(pipe(s->stop), 0, "pipe");
	s->served = serve;
	if (serve)
		ASSERT_EQ(pthread_create(&s->th, NULL, srv_main, s), 0, "pthread_create");
	return s;
}

static void srv_stop(struct srv *s)
{
	int i;

	if (s->served) {
		ASSERT_EQ(write(s->stop[1], "x", 1), 1, "stop the server");
		pthread_join(s->th, NULL);
	}
	close(s->stop[1]);
	close(s->stop[0]);
	for (i = 0; i < s->nheld; i++)
		close(s->held[i]);
	close(s->lfd);
	test_free(s);
}

static struct sl_endpoint ep_of(int family, uint16_t port)
{
	struct sl_endpoint ep = { .port = port };

	if (family == AF_INET) {
		ep.family = SL_AF_INET;
		ep.addr[0] = htonl(INADDR_LOOPBACK);
	} else {
		ep.family = SL_AF_INET6;
		memcpy(ep.addr, &in6addr_loopback, 16);
	}
	return ep;
}

/* A loopback port nobody listens on: connecting there is refused. */
static uint16_t closed_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ASSERT_EQ(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0, "bind");
	ASSERT_EQ(getsockname(fd, (struct sockaddr *)&a, &len), 0, "getsockname");
	close(fd);
	return ntohs(a.sin_port);
}

/* ---- the engine under test ---- */

#define MAX_CALLS 16

struct rec {
	struct sl_health *h;
	int calls;
	uint64_t key[MAX_CALLS];
	int up[MAX_CALLS];
	uint64_t checks[MAX_CALLS]; /* the target's completed checks when called */
	char reason[MAX_CALLS][128];
	int remove_self; /* the callback removes the target it reports */
};

static void on_change(void *ctx, uint64_t key, int up, const char *reason)
{
	struct rec *r = ctx;
	struct sl_health_status st;

	if (r->calls < MAX_CALLS) {
		r->key[r->calls] = key;
		r->up[r->calls] = up;
		if (!sl_health_get(r->h, key, &st))
			r->checks[r->calls] = st.checks;
		snprintf(r->reason[r->calls], sizeof(r->reason[0]), "%s", reason);
	}
	r->calls++;
	if (r->remove_self)
		ASSERT_EQ(sl_health_remove(r->h, key), 0, "remove from on_change");
}

static struct sl_health *new_health(struct rec *r)
{
	struct sl_health *h;

	memset(r, 0, sizeof(*r));
	h = sl_health_new(on_change, r);
	ASSERT_TRUE(h, "sl_health_new: %s", strerror(errno));
	r->h = h;
	return h;
}

/* One turn of the agent's loop: wait for the fd or the next deadline, then run. */
static void turn(struct sl_health *h, int max_wait_ms)
{
	struct pollfd p = { .fd = sl_health_fd(h), .events = POLLIN };
	int wait = sl_health_next_ms(h, sl_health_now_ms());

	if (wait < 0 || wait > max_wait_ms)
		wait = max_wait_ms;
	poll(&p, 1, wait);
	sl_health_run(h, sl_health_now_ms());
}

static void run_for(struct sl_health *h, int ms)
{
	uint64_t end = sl_health_now_ms() + (uint64_t)ms, now;

	while ((now = sl_health_now_ms()) < end)
		turn(h, (int)(end - now));
}

static struct sl_health_status status(struct sl_health *h, uint64_t key)
{
	struct sl_health_status st;

	ASSERT_EQ(sl_health_get(h, key, &st), 0, "sl_health_get(%llu)", (unsigned long long)key);
	return st;
}

/* Run until @key has completed @n checks in all; fail after 5 s. */
static struct sl_health_status run_checks(struct sl_health *h, uint64_t key, uint64_t n)
{
	uint64_t end = sl_health_now_ms() + 5000;
	struct sl_health_status st = status(h, key);

	while (st.checks < n) {
		ASSERT_TRUE(sl_health_now_ms() < end, "key %llu: %llu checks after 5 s, waited for %llu",
			    (unsigned long long)key, (unsigned long long)st.checks,
			    (unsigned long long)n);
		turn(h, 100);
		st = status(h, key);
	}
	ASSERT_EQ(st.checks, n, "checks completed");
	return st;
}

static struct sl_health_conf conf_of(int type, uint32_t rise, uint32_t fall)
{
	struct sl_health_conf c;

	sl_health_conf_default(&c);
	c.type = (uint32_t)type;
	/* 140 ms: a loaded 2-core machine can hold a thread for tens of ms */
	c.interval_ms = 150;
	c.timeout_ms = 140;
	c.rise = rise;
	c.fall = fall;
	return c;
}

/* ---- configuration ---- */

static json_t *parse_json(const char *text)
{
	json_error_t jerr;
	json_t *j = json_loads(text, 0, &jerr);

	ASSERT_TRUE(j, "bad test JSON %s: %s", text, jerr.text);
	return j;
}

static void assert_json(const struct sl_health_conf *c, const char *want)
{
	json_t *j = sl_health_conf_json(c);
	char *got = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);

	ASSERT_TRUE(got && !strcmp(got, want), "normalized JSON: got %s, expected %s", got, want);
	free(got);
	json_decref(j);
}

static void test_conf_defaults_and_normalized_json(void **state)
{
	struct sl_health_conf c;
	char err[256] = "";
	json_t *j;

	j = parse_json("{}");
	ASSERT_EQ(sl_health_conf_parse(j, NULL, &c, "vips[0].health", err, sizeof(err)), 0,
		  "parse {}: %s", err);
	json_decref(j);
	assert_json(&c, "{\"fall\":3,\"interval_ms\":1000,\"rise\":2,\"timeout_ms\":500,"
			"\"type\":\"tcp\"}");

	j = parse_json("{\"type\":\"http\",\"path\":\"/healthz\",\"interval_ms\":2000}");
	ASSERT_EQ(sl_health_conf_parse(j, NULL, &c, "vips[0].health", err, sizeof(err)), 0,
		  "parse http: %s", err);
	json_decref(j);
	assert_json(&c, "{\"expect_status\":200,\"fall\":3,\"interval_ms\":2000,"
			"\"path\":\"/healthz\",\"rise\":2,\"timeout_ms\":500,\"type\":\"http\"}");

	/* the normalized form parses back to the same conf */
	{
		struct sl_health_conf again;
		json_t *n = sl_health_conf_json(&c);

		ASSERT_EQ(sl_health_conf_parse(n, NULL, &again, "x", err, sizeof(err)), 0,
			  "reparse: %s", err);
		ASSERT_TRUE(sl_health_conf_equal(&c, &again), "reparsed conf differs");
		json_decref(n);
	}
}

static void test_conf_backend_override_inherits_vip(void **state)
{
	struct sl_health_conf vip, be;
	char err[256] = "";
	json_t *j;

	j = parse_json("{\"type\":\"http\",\"path\":\"/healthz\",\"host\":\"api.example\","
		       "\"expect_status\":204,\"rise\":4}");
	ASSERT_EQ(sl_health_conf_parse(j, NULL, &vip, "vips[0].health", err, sizeof(err)), 0,
		  "vip: %s", err);
	json_decref(j);
	j = parse_json("{\"path\":\"/ready\",\"fall\":1}");
	ASSERT_EQ(sl_health_conf_parse(j, &vip, &be, "vips[0].backends[2].health", err,
				       sizeof(err)),
		  0, "backend: %s", err);
	json_decref(j);
	assert_json(&be, "{\"expect_status\":204,\"fall\":1,\"host\":\"api.example\","
			 "\"interval_ms\":1000,\"path\":\"/ready\",\"rise\":4,\"timeout_ms\":500,"
			 "\"type\":\"http\"}");
}

static void test_conf_errors_name_field_and_fix(void **state)
{
	static const struct {
		const char *json, *err;
	} cases[] = {
		{ "[]", "vips[1].health: must be an object, like {\"type\": \"http\"" },
		{ "{\"kind\":\"tcp\"}",
		  "vips[1].health: unknown key \"kind\"; known keys: type, path" },
		{ "{\"type\":\"udp\"}", "vips[1].health.type: must be \"tcp\" or \"http\"" },
		{ "{\"type\":\"http\",\"path\":\"healthz\"}",
		  "vips[1].health.path: must start with '/'" },
		{ "{\"type\":\"http\",\"path\":\"/a b\"}", "vips[1].health.path: must start" },
		{ "{\"type\":\"http\",\"host\":\"a\\r\\nX: y\"}",
		  "vips[1].health.host: must hold up to 255 visible ASCII" },
		{ "{\"type\":\"http\",\"path\":7}", "vips[1].health.path: must be a string" },
		{ "{\"interval_ms\":5}",
		  "vips[1].health.interval_ms: 5 is out of range; use 10..3600000" },
		{ "{\"interval_ms\":\"1s\"}", "vips[1].health.interval_ms: must be an integer" },
		{ "{\"interval_ms\":300}",
		  "vips[1].health.timeout_ms: 500 must be 1 or more and below interval_ms (300); "
		  "lower timeout_ms or raise interval_ms" },
		{ "{\"timeout_ms\":1000}", "vips[1].health.timeout_ms: 1000 must be 1 or more" },
		{ "{\"timeout_ms\":0}", "vips[1].health.timeout_ms: 0 is out of range" },
		{ "{\"rise\":0}", "vips[1].health.rise: 0 is out of range; use 1..100" },
		{ "{\"fall\":101}", "vips[1].health.fall: 101 is out of range; use 1..100" },
		{ "{\"type\":\"http\",\"expect_status\":99}",
		  "vips[1].health.expect_status: 99 is out of range; use 100..599" },
		{ "{\"path\":\"/healthz\"}",
		  "vips[1].health.path: only http checks send a request; set \"type\": \"http\" "
		  "or remove path" },
	};
	struct sl_health_conf out, before;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *j = parse_json(cases[i].json);

		memset(&out, 0xa5, sizeof(out));
		before = out;
		err[0] = 0;
		ASSERT_EQ(sl_health_conf_parse(j, NULL, &out, "vips[1].health", err, sizeof(err)),
			  -EINVAL, "%s", cases[i].json);
		ASSERT_TRUE(!strncmp(err, cases[i].err, strlen(cases[i].err)),
			    "%s: error \"%s\", expected it to start with \"%s\"", cases[i].json,
			    err, cases[i].err);
		ASSERT_TRUE(!memcmp(&out, &before, sizeof(out)), "%s: out changed on failure",
			    cases[i].json);
		json_decref(j);
	}
}

/* ---- API contract ---- */

static void test_api_errors(void **state)
{
	struct sl_health_conf c = conf_of(SL_HEALTH_TCP, 1, 1);
	struct sl_endpoint ep = ep_of(AF_INET, 9);
	struct sl_health_status st;
	struct rec r;
	struct sl_health *h = new_health(&r);

	ASSERT_EQ(sl_health_add(h, 1, &ep, &c, 1), 0, "add");
	ASSERT_EQ(sl_health_add(h, 1, &ep, &c, 1), -EEXIST, "add the same key again");
	ep.port = 0;
	ASSERT_EQ(sl_health_add(h, 2, &ep, &c, 1), -EINVAL, "add with port 0");
	ep.port = 9;
	c.timeout_ms = c.interval_ms;
	ASSERT_EQ(sl_health_add(h, 2, &ep, &c, 1), -EINVAL, "add with timeout = interval");
	ASSERT_EQ(sl_health_update(h, 1, &ep, &c), -EINVAL, "update with timeout = interval");
	c.timeout_ms = 10;
	ASSERT_EQ(sl_health_update(h, 2, &ep, &c), -ENOENT, "update an unknown key");
	ASSERT_EQ(sl_health_remove(h, 2), -ENOENT, "remove an unknown key");
	ASSERT_EQ(sl_health_get(h, 2, &st), -ENOENT, "get an unknown key");
	ASSERT_EQ(sl_health_count(h), 1, "count");
	ASSERT_EQ(sl_health_remove(h, 1), 0, "remove");
	ASSERT_EQ(sl_health_count(h), 0, "count after remove");
	ASSERT_EQ(sl_health_next_ms(h, sl_health_now_ms()), -1, "next_ms with no targets");
	sl_health_free(h);
}

/* ---- checks ---- */

static void test_tcp_up_after_rise_connects(void **state)
{
	struct srv *s = srv_start(AF_INET, SRV_CLOSE, 64, 1);
	struct sl_health_conf c = conf_of(SL_HEALTH_TCP, 2, 3);
	struct sl_endpoint ep = ep_of(AF_INET, s->port);
	struct sl_health_status st;
	struct rec r;
	struct sl_health *h = new_health(&r);

	ASSERT_EQ(sl_health_add(h, 7, &ep, &c, 0), 0, "add");
	st = run_checks(h, 7, 1);
	ASSERT_EQ(st.up, 0, "up after 1 of rise 2 connects");
	ASSERT_EQ(st.last_ok, 1, "first connect passed (%s)", st.last_error);
	st = run_checks(h, 7, 2);
	ASSERT_EQ(st.up, 1, "up after 2 connects");
	ASSERT_EQ(r.calls, 1, "on_change calls");
	ASSERT_EQ(r.key[0], 7, "on_change key");
	ASSERT_EQ(r.up[0], 1, "on_change up");
	ASSERT_TRUE(!strcmp(r.reason[0], "passed 2 checks in a row"), "reason \"%s\"",
		    r.reason[0]);
	sl_health_free(h);
	srv_stop(s);
}

static void test_tcp_ipv6_up(void **state)
{
	struct srv *s = srv_start(AF_INET6, SRV_CLOSE, 64, 1);
	struct sl_health_conf c = conf_of(SL_HEALTH_TCP, 1, 1);
	struct sl_endpoint ep = ep_of(AF_INET6, s->port);
	struct sl_health_status st;
	struct rec r;
	struct sl_health *h = new_health(&r);

	ASSERT_EQ(sl_health_add(h, 1, &ep, &c, 0), 0, "add [::1]");
	st = run_checks(h, 1, 1);
	ASSERT_EQ(st.up, 1, "[::1] up after one connect (%s)", st.last_error);
	sl_health_free(h);
	srv_stop(s);
}

/* An abortive close: the checker never sits in TIME_WAIT, 10,000 checks a second would. */
static void test_tcp_check_closes_with_rst(void **state)
{
	struct srv *s = srv_start(AF_INET, SRV_RECV, 64, 1);
	struct sl_health_conf c = conf_of(SL_HEALTH_TCP, 1, 1);
	struct sl_endpoint ep = ep_of(AF_INET, s->port);
	uint64_t end;
	struct rec r;
	struct sl_health *h = new_health(&r);

	ASSERT_EQ(sl_health_add(h, 1, &ep, &c, 1), 0, "add");
	run_checks(h, 1, 1);
	end = sl_health_now_ms() + 2000;
	while (atomic_load(&s->ended) == 1 && sl_health_now_ms() < end)
		usleep(1000);
	ASSERT_EQ(atomic_load(&s->ended), -ECONNRESET, "server's recv after the check (0 = FIN)");
	sl_health_free(h);
	srv_stop(s);
}

static void test_tcp_down_on_refused(void **state)
{
	struct sl_health_conf c = conf_of(SL_HEALTH_TCP, 2, 2);
	struct sl_endpoint ep = ep_of(AF_INET, closed_port());
	struct sl_health_status st;
	struct rec r;
	struct sl_health *h = new_health(&r);

	ASSERT_EQ(sl_health_add(h, 3, &ep, &c, 1), 0, "add");
	st = run_checks(h, 3, 1);
	ASSERT_EQ(st.up, 1, "up after 1 of fall 2 refusals");
	ASSERT_TRUE(!strcmp(st.last_error, "connect refused"), "last_error \"%s\"", st.last_error);
	st = run_checks(h, 3, 2);
	ASSERT_EQ(st.up, 0, "down after 2 refusals");
	ASSERT_EQ(st.failures, 2, "failures");
	ASSERT_EQ(r.calls, 1, "on_change calls");
	ASSERT_EQ(r.up[0], 0, "on_change up");
	ASSERT_TRUE(!strcmp(r.reason[0], "connect refused"), "reason \"%s\"", r.reason[0]);
	sl_health_free(h);
}

/* A listener whose accept queue is full drops SYNs: the connect never completes. */
static void test_tcp_connect_timeout(void **state)
{
	struct srv *s = srv_start(AF_INET, SRV_CLOSE, 0, 0);
	struct sl_health_conf c = conf_of(SL_HEALTH_TCP, 1, 1);
	struct sl_endpoint ep = ep_of(AF_INET, s->port);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(s->port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sl_health_status st;
	int fill[2], i;
	struct rec r;
	struct sl_health *h = new_health(&r);

	for (i = 0; i < 2; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(fill[i], (struct sockaddr *)&a, sizeof(a));
	}
	usleep(20000);
	ASSERT_EQ(sl_health_add(h, 1, &ep, &c, 1), 0, "add");
	st = run_checks(h, 1, 1);
	ASSERT_EQ(st.up, 0, "down after a connect timeout");
	ASSERT_TRUE(!strcmp(r.reason[0], "timeout after 140 ms (connecting)"), "reason \"%s\"",
		    r.reason[0]);
	/* the deadline counts from the loop's now_ms, whole milliseconds behind the clock */
	ASSERT_TRUE(st.last_latency_us >= 138000, "latency %u us of a 140 ms timeout",
		    st.last_latency_us);
	sl_health_free(h);
	for (i = 0; i < 2; i++)
		close(fill[i]);
	srv_stop(s);
}

static void test_http_request_format(void **state)
{
	struct srv *s = srv_start(AF_INET, SRV_HTTP, 64, 1);
	struct sl_health_conf c = conf_of(SL_HEALTH_HTTP, 1, 1);
	struct sl_endpoint ep = ep_of(AF_INET, s->port);
	char want[512];
	struct rec r;
	struct sl_health *h = new_health(&r);

	strcpy(c.path, "/healthz?full=1");
	ASSERT_EQ(sl_health_add(h, 1, &ep, &c, 0), 0, "add");
	run_checks(h, 1, 1);
	snprintf(want, sizeof(want),
		 "GET /healthz?full=1 HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\n"
		 "User-Agent: sluice-health\r\n\r\n",
		 s->port);
	ASSERT_TRUE(!strcmp(s->req, want), "request (default Host)\n%s\nexpected\n%s", s->req,
		    want);

	strcpy(c.host, "api.example");
	ASSERT_EQ(sl_health_update(h, 1, &ep, &c), 0, "update host");
	run_checks(h, 1, 2);
	ASSERT_TRUE(!strcmp(s->req, "GET /healthz?full=1 HTTP/1.1\r\nHost: api.example\r\n"
				    "Connection: close\r\nUser-Agent: sluice-health\r\n\r\n"),
		    "request (host set)\n%s", s->req);
	sl_health_free(h);
	srv_stop(s);
}

static void test_http_status_match_is_up(void **state)
{
	struct srv *s = srv_start(AF_INET, SRV_HTTP, 64, 1);
	struct sl_health_conf c = conf_of(SL_HEALTH_HTTP, 1, 1);
	struct sl_endpoint ep = ep_of(AF_INET, s->port);
	struct sl_health_status st;
	struct rec r;
	struct sl_health *h = new_health(&r);

	atomic_store(&s->status, 204);
	c.expect_status = 204;
	ASSERT_EQ(sl_health_add(h, 1, &ep, &c, 0), 0, "add");
	st = run_checks(h, 1, 1);
	ASSERT_EQ(st.last_ok, 1, "status 204 expected 204 passes (%s)", st.last_error);
	ASSERT_EQ(st.up, 1, "up");
	ASSERT_EQ(r.calls, 1, "on_change calls");
	sl_health_free(h);
	srv_stop(s);
}

static void test_http_status_mismatch_is_down(void **state)
{
	struct srv *s = srv_start(AF_INET, SRV_HTTP, 64, 1);
	struct sl_health_conf c = conf_of(SL_HEALTH_HTTP, 1, 1);
	struct sl_endpoint ep = ep_of(AF_INET, s->port);
	struct sl_health_status st;
	struct rec r;
	struct sl_health *h = new_health(&r);

	atomic_store(&s->status, 503);
	ASSERT_EQ(sl_health_add(h, 1, &ep, &c, 1), 0, "add");
	st = run_checks(h, 1, 1);
	ASSERT_EQ(st.up, 0, "down");
	ASSERT_EQ(r.calls, 1, "on_change calls");
	ASSERT_TRUE(!strcmp(r.reason[0], "status 503, expected 200"), "reason \"%s\"",
		    r.reason[0]);
	sl_health_free(h);
	srv_stop(s);
}

static void test_http_not_http_reply_fails(void **state)
{
	struct srv *s = srv_start(AF_INET, SRV_RAW, 64, 1);
	struct sl_health_conf c = conf_of(SL_HEALTH_HTTP, 1, 1);
	struct sl_endpoint ep = ep_of(AF_INET, s->port);
	struct sl_health_status st;
	struct rec r;
	struct sl_health *h = new_health(&r);

	ASSERT_EQ(sl_health_add(h, 1, &ep, &c, 1), 0, "add");
	st = run_checks(h, 1, 1);
	ASSERT_EQ(st.up, 0, "down");
	ASSERT_TRUE(!strcmp(st.last_error, "the reply is not an HTTP/1.x status line"),
		    "last_error \"%s\"", st.last_error);
	sl_health_free(h);
	srv_stop(s);
}

static void test_http_timeout_when_server_is_silent(void **state)
{
	struct srv *s = srv_start(AF_INET, SRV_SILENT, 64, 1);
	struct sl_health_conf c = conf_of(SL_HEALTH_HTTP, 1, 1);
	struct sl_endpoint ep = ep_of(AF_INET, s->port);
	struct sl_health_status st;
	struct rec r;
	struct sl_health *h = new_health(&r);

	ASSERT_EQ(sl_health_add(h, 1, &ep, &c, 1), 0, "add");
	st = run_checks(h, 1, 1);
	ASSERT_EQ(st.up, 0, "down");
	ASSERT_EQ(r.calls, 1, "on_change calls");
	ASSERT_TRUE(!strcmp(r.reason[0], "timeout after 140 ms (waiting for the status line)"),
		    "reason \"%s\"", r.reason[0]);
	sl_health_free(h);
	srv_stop(s);
}

/* Run one check answered with @code; assert the state after it. */
static void step(struct sl_health *h, struct srv *s, int code, uint64_t n, int want_up,
		 const char *what)
{
	struct sl_health_status st;

	atomic_store(&s->status, code);
	st = run_checks(h, 1, n);
	ASSERT_EQ(st.last_ok, code == 200, "%s: check %llu answered %d passed (%s)", what,
		  (unsigned long long)n, code, st.last_error);
	ASSERT_EQ(st.up, want_up, "%s: up after check %llu", what, (unsigned long long)n);
}

static void test_fall_boundary(void **state)
{
	struct srv *s = srv_start(AF_INET, SRV_HTTP, 64, 1);
	struct sl_health_conf c = conf_of(SL_HEALTH_HTTP, 2, 3);
	struct sl_endpoint ep = ep_of(AF_INET, s->port);
	struct rec r;
	struct sl_health *h = new_health(&r);

	ASSERT_EQ(sl_health_add(h, 1, &ep, &c, 1), 0, "add");
	step(h, s, 503, 1, 1, "fail 1 of 3");
	step(h, s, 503, 2, 1, "fail 2 of 3 (fall - 1)");
	step(h, s, 200, 3, 1, "a pass resets the failures");
	ASSERT_EQ(status(h, 1).fail_streak, 0, "fail_streak after a pass");
	step(h, s, 503, 4, 1, "fail 1 again");
	step(h, s, 503, 5, 1, "fail 2 again");
	ASSERT_EQ(r.calls, 0, "on_change before the fall-th failure");
	step(h, s, 503, 6, 0, "fail 3 (fall)");
	ASSERT_EQ(r.calls, 1, "on_change calls");
	ASSERT_EQ(r.checks[0], 6, "checks at the transition");
	sl_health_free(h);
	srv_stop(s);
}

static void test_rise_boundary(void **state)
{
	struct srv *s = srv_start(AF_INET, SRV_HTTP, 64, 1);
	struct sl_health_conf c = conf_of(SL_HEALTH_HTTP, 3, 2);
	struct sl_endpoint ep = ep_of(AF_INET, s->port);
	struct rec r;
	struct sl_health *h = new_health(&r);

	ASSERT_EQ(sl_health_add(h, 1, &ep, &c, 0), 0, "add");
	step(h, s, 200, 1, 0, "pass 1 of 3");
	step(h, s, 200, 2, 0, "pass 2 of 3 (rise - 1)");
	step(h, s, 503, 3, 0, "a failure resets the passes");
	ASSERT_EQ(status(h, 1).ok_streak, 0, "ok_streak after a failure");
	step(h, s, 200, 4, 0, "pass 1 again");
	step(h, s, 200, 5, 0, "pass 2 again");
	ASSERT_EQ(r.calls, 0, "on_change before the rise-th pass");
	step(h, s, 200, 6, 1, "pass 3 (rise)");
	ASSERT_EQ(r.calls, 1, "on_change calls");
	ASSERT_TRUE(!strcmp(r.reason[0], "passed 3 checks in a row"), "reason \"%s\"",
		    r.reason[0]);
	sl_health_free(h);
	srv_stop(s);
}

static void test_on_change_once_per_transition(void **state)
{
	static const int codes[] = { 503, 503, 503, 200, 200, 200, 503, 503 };
	static const uint64_t at[] = { 2, 5, 8 };
	struct srv *s = srv_start(AF_INET, SRV_HTTP, 64, 1);
	struct sl_health_conf c = conf_of(SL_HEALTH_HTTP, 2, 2);
	struct sl_endpoint ep = ep_of(AF_INET, s->port);
	struct rec r;
	struct sl_health *h = new_health(&r);
	size_t i;

	ASSERT_EQ(sl_health_add(h, 1, &ep, &c, 1), 0, "add");
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		atomic_store(&s->status, codes[i]);
		run_checks(h, 1, i + 1);
	}
	ASSERT_EQ(r.calls, 3, "on_change calls for down, up, down");
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(r.up[i], i == 1, "call %zu up", i);
		ASSERT_EQ(r.checks[i], at[i], "call %zu came after check", i);
	}
	sl_health_free(h);
	srv_stop(s);
}

static void test_latency_measured(void **state)
{
	struct srv *s = srv_start(AF_INET, SRV_HTTP, 64, 1);
	struct sl_health_conf c = conf_of(SL_HEALTH_HTTP, 1, 1);
	struct sl_endpoint ep = ep_of(AF_INET, s->port);
	struct sl_health_status st;
	struct rec r;
	struct sl_health *h = new_health(&r);

	c.interval_ms = 400;
	c.timeout_ms = 390;
	atomic_store(&s->delay_ms, 30);
	ASSERT_EQ(sl_health_add(h, 1, &ep, &c, 0), 0, "add");
	st = run_checks(h, 1, 1);
	ASSERT_EQ(st.last_ok, 1, "check passed (%s)", st.last_error);
	ASSERT_TRUE(st.last_latency_us >= 30000 && st.last_latency_us < 390000,
		    "latency %u us for a server that waits 30 ms", st.last_latency_us);
	sl_health_free(h);
	srv_stop(s);
}

static void test_remove_while_in_flight(void **state)
{
	struct srv *s = srv_start(AF_INET, SRV_SILENT, 64, 1);
	struct sl_health_conf c = conf_of(SL_HEALTH_HTTP, 1, 1);
	struct sl_endpoint ep = ep_of(AF_INET, s->port);
	uint64_t end = sl_health_now_ms() + 2000;
	struct pollfd p = { .events = POLLRDHUP };
	struct rec r;
	struct sl_health *h = new_health(&r);

	ASSERT_EQ(sl_health_add(h, 1, &ep, &c, 1), 0, "add");
	while (!status(h, 1).in_flight || !atomic_load(&s->nheld)) {
		ASSERT_TRUE(sl_health_now_ms() < end, "no check reached the server in 2 s");
		turn(h, 10);
	}
	ASSERT_EQ(sl_health_remove(h, 1), 0, "remove while in flight");
	/* the check's socket is closed at once: the server sees its end (the
	 * request it holds unread keeps POLLIN set either way) */
	p.fd = s->held[0];
	poll(&p, 1, 1000);
	ASSERT_TRUE(p.revents & (POLLRDHUP | POLLHUP | POLLERR),
		    "server's connection not closed after remove (revents %#x)", p.revents);
	run_for(h, 300);
	ASSERT_EQ(r.calls, 0, "on_change after remove");
	ASSERT_EQ(sl_health_next_ms(h, sl_health_now_ms()), -1, "nothing left scheduled");
	sl_health_free(h);
	srv_stop(s);
}

static void test_remove_from_on_change(void **state)
{
	struct sl_health_conf c = conf_of(SL_HEALTH_TCP, 1, 1);
	struct sl_endpoint ep = ep_of(AF_INET, closed_port());
	struct rec r;
	struct sl_health *h = new_health(&r);
	uint64_t k;

	r.remove_self = 1;
	for (k = 1; k <= 8; k++)
		ASSERT_EQ(sl_health_add(h, k, &ep, &c, 1), 0, "add %llu", (unsigned long long)k);
	run_for(h, 400);
	ASSERT_EQ(r.calls, 8, "one on_change per target, none after its removal");
	ASSERT_EQ(sl_health_count(h), 0, "targets left");
	sl_health_free(h);
}

/* First checks of targets added together spread over the interval. */
static void test_jitter_spreads_first_checks(void **state)
{
	enum { N = 2000, IV = 1000, WIN = 100 };
	struct sl_health_conf c = conf_of(SL_HEALTH_TCP, 1, 1);
	struct sl_endpoint ep = ep_of(AF_INET, 9);
	unsigned int win[IV / WIN] = { 0 };
	uint64_t t0 = sl_health_now_ms(), t1, k, i;
	struct rec r;
	struct sl_health *h = new_health(&r);

	c.interval_ms = IV;
	for (k = 0; k < N; k++)
		ASSERT_EQ(sl_health_add(h, k, &ep, &c, 1), 0, "add %llu", (unsigned long long)k);
	t1 = sl_health_now_ms();
	for (k = 0; k < N; k++) {
		uint64_t next = status(h, k).next_ms;

		ASSERT_TRUE(next >= t0 && next < t1 + IV, "key %llu: first check at +%lld ms",
			    (unsigned long long)k, (long long)(next - t0));
		i = (next - t0) / WIN;
		win[i < IV / WIN ? i : IV / WIN - 1]++;
	}
	for (i = 0; i < IV / WIN; i++)
		ASSERT_LE(win[i], 2 * N / (IV / WIN), "first checks in %llu..%llu ms",
			  (unsigned long long)(i * WIN), (unsigned long long)((i + 1) * WIN));
	sl_health_free(h);
}

static void test_update_changes_interval(void **state)
{
	struct srv *s = srv_start(AF_INET, SRV_CLOSE, 256, 1);
	struct sl_health_conf c = conf_of(SL_HEALTH_TCP, 1, 1);
	struct sl_endpoint ep = ep_of(AF_INET, s->port);
	struct sl_health_status st;
	uint64_t before, now;
	struct rec r;
	struct sl_health *h = new_health(&r);

	c.interval_ms = 3600000;
	c.timeout_ms = 100;
	ASSERT_EQ(sl_health_add(h, 1, &ep, &c, 1), 0, "add");
	run_for(h, 100);
	before = status(h, 1).checks;
	c.interval_ms = 30;
	c.timeout_ms = 25;
	now = sl_health_now_ms();
	ASSERT_EQ(sl_health_update(h, 1, &ep, &c), 0, "update");
	st = status(h, 1);
	ASSERT_TRUE(st.next_ms <= now + 30 + 5, "after update the next check is at +%lld ms",
		    (long long)(st.next_ms - now));
	run_for(h, 400);
	st = status(h, 1);
	ASSERT_TRUE(st.checks - before >= 5, "%llu checks in 400 ms at a 30 ms interval",
		    (unsigned long long)(st.checks - before));
	sl_health_free(h);
	srv_stop(s);
}

static void test_update_unchanged_keeps_schedule(void **state)
{
	struct sl_health_conf c = conf_of(SL_HEALTH_TCP, 1, 1);
	struct sl_endpoint ep = ep_of(AF_INET, 9);
	uint64_t next;
	struct rec r;
	struct sl_health *h = new_health(&r);
	int i;

	c.interval_ms = 3600000;
	ASSERT_EQ(sl_health_add(h, 1, &ep, &c, 1), 0, "add");
	next = status(h, 1).next_ms;
	/* a changed conf draws a new slot; 20 draws all equal would be 1 in 3.6e6^20 */
	for (i = 0; i < 20; i++) {
		ASSERT_EQ(sl_health_update(h, 1, &ep, &c), 0, "update unchanged");
		ASSERT_EQ(status(h, 1).next_ms, next, "next_ms after unchanged update %d", i);
	}
	c.rise = 2;
	ASSERT_EQ(sl_health_update(h, 1, &ep, &c), 0, "update rise");
	ASSERT_TRUE(status(h, 1).next_ms != next, "a changed conf reschedules");
	sl_health_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conf_defaults_and_normalized_json),
		cmocka_unit_test(test_conf_backend_override_inherits_vip),
		cmocka_unit_test(test_conf_errors_name_field_and_fix),
		cmocka_unit_test(test_api_errors),
		cmocka_unit_test(test_tcp_up_after_rise_connects),
		cmocka_unit_test(test_tcp_ipv6_up),
		cmocka_unit_test(test_tcp_check_closes_with_rst),
		cmocka_unit_test(test_tcp_down_on_refused),
		cmocka_unit_test(test_tcp_connect_timeout),
		cmocka_unit_test(test_http_request_format),
		cmocka_unit_test(test_http_status_match_is_up),
		cmocka_unit_test(test_http_status_mismatch_is_down),
		cmocka_unit_test(test_http_not_http_reply_fails),
		cmocka_unit_test(test_http_timeout_when_server_is_silent),
		cmocka_unit_test(test_fall_boundary),
		cmocka_unit_test(test_rise_boundary),
		cmocka_unit_test(test_on_change_once_per_transition),
		cmocka_unit_test(test_latency_measured),
		cmocka_unit_test(test_remove_while_in_flight),
		cmocka_unit_test(test_remove_from_on_change),
		cmocka_unit_test(test_jitter_spreads_first_checks),
		cmocka_unit_test(test_update_changes_interval),
		cmocka_unit_test(test_update_unchanged_keeps_schedule),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
