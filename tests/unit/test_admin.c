// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The admin HTTP server (user/agent/admin.c) on 127.0.0.1, any free port. A
 * server thread polls sl_admin_fd() and calls sl_admin_run(), as sluiced's
 * main loop does; the test talks to it with plain blocking sockets.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "check.h"
#include "../../user/agent/admin.h"
#include "../../user/lib/log.h"

#define BIG (4 * 1024 * 1024)

static struct sl_admin *g_a;
static pthread_t g_thread;
static int g_stop;
static int g_calls; /* handler calls, atomic */

static unsigned char pat(size_t i)
{
	return (unsigned char)((i * 2654435761u) >> 13);
}

static void handler(void *ctx, const char *path, const char *query, struct sl_admin_reply *r)
{
	__atomic_add_fetch(&g_calls, 1, __ATOMIC_SEQ_CST);
	if (!strcmp(path, "/hello")) {
		r->status = 200;
		if (asprintf(&r->body, "hello%s%s\n", *query ? " " : "", query) < 0)
			r->body = NULL;
		r->len = r->body ? strlen(r->body) : 0;
	} else if (!strcmp(path, "/json")) {
		r->status = 200;
		r->type = "application/json";
		r->body = strdup("{\"ok\":true}");
		r->len = r->body ? strlen(r->body) : 0;
	} else if (!strcmp(path, "/big")) {
		size_t i;

		r->status = 200;
		r->type = "application/octet-stream";
		r->body = malloc(BIG);
		for (i = 0; r->body && i < BIG; i++)
			r->body[i] = pat(i);
		r->len = r->body ? BIG : 0;
	} else {
		r->status = 404;
		if (asprintf(&r->body, "no such page: %s\n", path) < 0)
			r->body = NULL;
		r->len = r->body ? strlen(r->body) : 0;
	}
}

static void *server(void *arg)
{
	struct pollfd p = { .fd = sl_admin_fd(g_a), .events = POLLIN };

	while (!__atomic_load_n(&g_stop, __ATOMIC_SEQ_CST)) {
		poll(&p, 1, 10);
		sl_admin_run(g_a);
	}
	return NULL;
}

static int start(unsigned head_ms, unsigned write_ms)
{
	char err[256];

	g_a = sl_admin_open("127.0.0.1:0", 0, handler, NULL, err, sizeof(err));
	if (!g_a) {
		print_error("sl_admin_open: %s\n", err);
		return -1;
	}
	sl_admin_set_timeouts(g_a, head_ms, write_ms);
	g_stop = 0;
	g_calls = 0;
	return pthread_create(&g_thread, NULL, server, NULL) ? -1 : 0;
}

static void stop(void)
{
	if (!g_a)
		return;
	__atomic_store_n(&g_stop, 1, __ATOMIC_SEQ_CST);
	pthread_join(g_thread, NULL);
	sl_admin_close(g_a);
	g_a = NULL;
}

static int setup(void **state)
{
	return start(0, 0);
}

static int teardown(void **state)
{
	stop();
	return 0;
}

/* Start again with other deadlines. */
static void restart(unsigned head_ms, unsigned write_ms)
{
	stop();
	assert_int_equal(start(head_ms, write_ms), 0);
}

static int connect_admin(int rcvbuf)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = 10 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons(atoi(strrchr(sl_admin_addr(g_a), ':') + 1));
	if (rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ASSERT_EQ(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect %s: %s",
		  sl_admin_addr(g_a), strerror(errno));
	return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t r = send(fd, p, n, MSG_NOSIGNAL);

		ASSERT_TRUE(r > 0, "send: %s", strerror(errno));
		p += r;
		n -= r;
	}
}

struct resp {
	char *raw;
	size_t len;
	int status;
	const char *body; /* after CRLFCRLF */
	size_t body_len;
	int err; /* errno of the read that ended it; 0 for end of stream */
};

/* Everything until the server closes (or 10 s pass: err EAGAIN). */
static struct resp read_resp(int fd)
{
	struct resp r = { 0 };
	size_t cap = 65536;
	const char *end;

	r.raw = malloc(cap + 1);
	assert_non_null(r.raw);
	for (;;) {
		ssize_t n;

		if (r.len == cap) {
			cap *= 2;
			r.raw = realloc(r.raw, cap + 1);
			assert_non_null(r.raw);
		}
		n = recv(fd, r.raw + r.len, cap - r.len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r.err = n < 0 ? errno : 0;
			break;
		}
		r.len += n;
	}
	r.raw[r.len] = 0;
	if (r.len >= 12 && !strncmp(r.raw, "HTTP/1.1 ", 9))
		r.status = atoi(r.raw + 9);
	end = strstr(r.raw, "\r\n\r\n");
	if (end) {
		r.body = end + 4;
		r.body_len = r.len - (r.body - r.raw);
	}
	return r;
}

static struct resp http(const char *req, size_t n)
{
	int fd = connect_admin(0);
	struct resp r;

	send_all(fd, req, n);
	r = read_resp(fd);
	close(fd);
	return r;
}

#define HTTP(s) http(s, sizeof(s) - 1)

/* A header's value, "" when absent. */
static const char *header(const struct resp *r, const char *name)
{
	static char val[256];
	char key[64];
	const char *p, *e;

	snprintf(key, sizeof(key), "\r\n%s: ", name);
	p = strstr(r->raw, key);
	if (!p || (r->body && p > r->body))
		return "";
	p += strlen(key);
	e = strstr(p, "\r\n");
	snprintf(val, sizeof(val), "%.*s", (int)(e - p), p);
	return val;
}

static void check_common_headers(const struct resp *r, size_t content_length)
{
	ASSERT_TRUE(r->body, "no end of head in: %s", r->raw);
	ASSERT_EQ(atol(header(r, "Content-Length")), content_length, "Content-Length");
	ASSERT_TRUE(!strcmp(header(r, "Connection"), "close"), "Connection: '%s'",
		    header(r, "Connection"));
	ASSERT_TRUE(!strcmp(header(r, "Cache-Control"), "no-store"), "Cache-Control: '%s'",
		    header(r, "Cache-Control"));
	ASSERT_EQ(r->err, 0, "the response ends with the server's close (errno)");
}

static void test_get_200_body_query_and_headers(void **state)
{
	struct resp r = HTTP("GET /hello?a=1&b HTTP/1.1\r\nHost: localhost\r\n\r\n");

	ASSERT_EQ(r.status, 200, "status of GET /hello");
	ASSERT_TRUE(!strncmp(r.raw, "HTTP/1.1 200 OK\r\n", 17), "status line: %.30s", r.raw);
	check_common_headers(&r, strlen("hello a=1&b\n"));
	ASSERT_TRUE(!strcmp(header(&r, "Content-Type"), "text/plain; charset=utf-8"),
		    "default Content-Type: '%s'", header(&r, "Content-Type"));
	ASSERT_TRUE(r.body_len == 12 && !memcmp(r.body, "hello a=1&b\n", 12),
		    "body '%.*s' (path without the query, the query passed apart)", (int)r.body_len,
		    r.body);
	free(r.raw);

	r = HTTP("GET /json HTTP/1.0\r\n\r\n"); /* 1.0: Host is optional */
	ASSERT_EQ(r.status, 200, "status of HTTP/1.0 GET /json");
	ASSERT_TRUE(!strcmp(header(&r, "Content-Type"), "application/json"), "Content-Type: '%s'",
		    header(&r, "Content-Type"));
	check_common_headers(&r, 11);
	free(r.raw);
}

static void test_404_from_callback(void **state)
{
	struct resp r = HTTP("GET /nope?x HTTP/1.1\r\nHost: a\r\n\r\n");

	ASSERT_EQ(r.status, 404, "status of GET /nope");
	check_common_headers(&r, strlen("no such page: /nope\n"));
	ASSERT_TRUE(!strcmp(r.body, "no such page: /nope\n"), "body '%s'", r.body);
	free(r.raw);
}

static void test_head_sends_headers_only(void **state)
{
	struct resp r = HTTP("HEAD /hello HTTP/1.1\r\nHost: a\r\n\r\n");

	ASSERT_EQ(r.status, 200, "status of HEAD /hello");
	check_common_headers(&r, strlen("hello\n")); /* the length a GET would get */
	ASSERT_EQ(r.body_len, 0, "bytes after the head of a HEAD response");
	free(r.raw);
}

static void test_post_is_405_with_allow(void **state)
{
	struct resp r = HTTP("POST /hello HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc");

	ASSERT_EQ(r.status, 405, "status of POST");
	ASSERT_TRUE(!strcmp(header(&r, "Allow"), "GET, HEAD"), "Allow: '%s'", header(&r, "Allow"));
	check_common_headers(&r, r.body_len);
	ASSERT_EQ(__atomic_load_n(&g_calls, __ATOMIC_SEQ_CST), 0, "handler calls for a POST");
	free(r.raw);
}

static void test_head_over_8k_is_431_exactly_8k_is_served(void **state)
{
	static const char start_line[] = "GET /hello HTTP/1.1\r\nHost: a\r\nX-Pad: ";
	char req[9 * 1024];
	size_t n, pad;
	struct resp r;

	/* 9 KiB of head */
	n = snprintf(req, sizeof(req), "%s", start_line);
	memset(req + n, 'a', sizeof(req) - n - 4);
	memcpy(req + sizeof(req) - 4, "\r\n\r\n", 4);
	r = http(req, sizeof(req));
	ASSERT_EQ(r.status, 431, "status of a 9 KiB head");
	check_common_headers(&r, r.body_len);
	free(r.raw);

	/* exactly 8192 bytes, CRLFCRLF included */
	pad = 8192 - strlen(start_line) - 4;
	n = snprintf(req, sizeof(req), "%s", start_line);
	memset(req + n, 'a', pad);
	memcpy(req + n + pad, "\r\n\r\n", 4);
	r = http(req, 8192);
	ASSERT_EQ(r.status, 200, "status of an 8192-byte head");
	free(r.raw);
	ASSERT_EQ(__atomic_load_n(&g_calls, __ATOMIC_SEQ_CST), 1, "handler calls");
}

static void test_malformed_requests_are_400(void **state)
{
	static const struct {
		const char *req;
		size_t len;
		int status;
	} cases[] = {
#define C(s, st) { s, sizeof(s) - 1, st }
		C("hello\r\n\r\n", 400),
		C("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400), /* TLS hello: a NUL */
		C("GET /hello HTTP/1.1\nHost: a\n\n", 400),		/* bare LF */
		C("GET /hello HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400), /* bare CR */
		C("GET /hello HTTP/1.1\r\nHost: a\0\r\n\r\n", 400),	/* NUL */
		C("GET  /hello HTTP/1.1\r\nHost: a\r\n\r\n", 400),	/* two spaces */
		C("GET hello HTTP/1.1\r\nHost: a\r\n\r\n", 400),	/* not a path */
		C("GET http://a/hello HTTP/1.1\r\nHost: a\r\n\r\n", 400),
		C("GET /he llo HTTP/1.1\r\nHost: a\r\n\r\n", 400),
		C("GET /hello HTTP/1.1\r\n\r\n", 400), /* no Host */
		C("GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
		C("GET /hello HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400),
		C("GET /hello HTTP/1.1\r\nHost : a\r\n\r\n", 400), /* space before colon */
		C("GET /hello HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400),
		C("GET /hello HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nab", 400),
		C("GET /hello HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
		C("GET /hello HTTP/1.1\r\nHost: a\x01\r\n\r\n", 400),
		C("GET /hello HTTP/1.x\r\nHost: a\r\n\r\n", 400),
		C("\r\nGET /hello HTTP/1.1\r\nHost: a\r\n\r\n", 400),
		C("GET /hello HTTP/2.0\r\nHost: a\r\n\r\n", 505),
		C("GET /hello HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", 200),
#undef C
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct resp r = http(cases[i].req, cases[i].len);

		ASSERT_EQ(r.status, cases[i].status, "case %zu (%.20s...)", i, cases[i].req);
		if (r.status != 200)
			check_common_headers(&r, r.body_len);
		free(r.raw);
	}
	ASSERT_EQ(__atomic_load_n(&g_calls, __ATOMIC_SEQ_CST), 1,
		  "handler calls (the last case only)");
}

static void test_silent_client_gets_408_and_close(void **state)
{
	struct resp r;
	int fd;

	restart(200, 0);
	fd = connect_admin(0);
	r = read_resp(fd); /* sends nothing; the 10 s SO_RCVTIMEO would give EAGAIN */
	close(fd);
	ASSERT_EQ(r.err, 0, "closed by the server (errno)");
	ASSERT_EQ(r.status, 408, "status to a client that sent nothing");
	free(r.raw);

	fd = connect_admin(0);
	send_all(fd, "GET /hello HTTP/1.1\r\n", 21); /* half a head */
	r = read_resp(fd);
	close(fd);
	ASSERT_EQ(r.err, 0, "closed by the server (errno)");
	ASSERT_EQ(r.status, 408, "status to a client that sent half a head");
	free(r.raw);
}

static void test_non_loopback_refused_without_public(void **state)
{
	struct sl_admin *a;
	char err[256];

	a = sl_admin_open("198.18.0.1:0", 0, handler, NULL, err, sizeof(err));
	ASSERT_TRUE(!a, "198.18.0.1:0 opened without public_ok");
	ASSERT_TRUE(!strcmp(err, "admin 198.18.0.1:0 is not a loopback address; pass "
				 "--admin-public to serve it on the network"),
		    "err: %s", err);
	a = sl_admin_open("[2001:db8::1]:9100", 0, handler, NULL, err, sizeof(err));
	ASSERT_TRUE(!a && strstr(err, "is not a loopback address"), "[2001:db8::1]: %s", err);
	a = sl_admin_open("0.0.0.0:0", 0, handler, NULL, err, sizeof(err));
	ASSERT_TRUE(!a && strstr(err, "is not a loopback address"), "0.0.0.0: %s", err);
	/* public_ok: no longer the loopback refusal (this host has no 198.18.0.1) */
	a = sl_admin_open("198.18.0.1:0", 1, handler, NULL, err, sizeof(err));
	if (a)
		sl_admin_close(a);
	else
		ASSERT_TRUE(strstr(err, "bind:") && !strstr(err, "loopback"), "public: %s", err);
	a = sl_admin_open("localhost:9100", 0, handler, NULL, err, sizeof(err));
	ASSERT_TRUE(!a && !strncmp(err, "admin localhost:9100: ", 22), "a name: %s", err);
	a = sl_admin_open("127.0.0.1", 0, handler, NULL, err, sizeof(err));
	ASSERT_TRUE(!a && strstr(err, "has no port"), "no port: %s", err);
	/* loopback in other spellings opens */
	a = sl_admin_open("127.0.0.2:0", 0, handler, NULL, err, sizeof(err));
	ASSERT_TRUE(a, "127.0.0.2:0: %s", err);
	ASSERT_TRUE(strncmp(sl_admin_addr(a), "127.0.0.2:", 10) == 0 &&
			    atoi(sl_admin_addr(a) + 10) > 0,
		    "bound address %s", sl_admin_addr(a));
	sl_admin_close(a);
	a = sl_admin_open("[::1]:0", 0, handler, NULL, err, sizeof(err));
	if (a) {
		ASSERT_TRUE(!strncmp(sl_admin_addr(a), "[::1]:", 6), "bound %s", sl_admin_addr(a));
		sl_admin_close(a);
	} else {
		ASSERT_TRUE(!strstr(err, "loopback"), "[::1]: %s", err); /* no IPv6 here */
	}
}

/* 4 MiB through a small receive buffer, read a little at a time: all of it, in order. */
static void test_big_body_to_slow_reader_arrives_whole(void **state)
{
	static const char req[] = "GET /big HTTP/1.1\r\nHost: a\r\n\r\n";
	size_t i, bad = 0;
	struct resp r = { 0 };
	size_t cap = BIG + 4096;
	int fd = connect_admin(32768);

	send_all(fd, req, sizeof(req) - 1);
	r.raw = malloc(cap + 1);
	assert_non_null(r.raw);
	for (;;) {
		ssize_t n = recv(fd, r.raw + r.len, cap - r.len < 16384 ? cap - r.len : 16384, 0);

		if (n <= 0) {
			r.err = n < 0 ? errno : 0;
			break;
		}
		r.len += n;
		usleep(1000);
	}
	close(fd);
	r.raw[r.len] = 0;
	r.status = atoi(r.raw + 9);
	r.body = strstr(r.raw, "\r\n\r\n") + 4;
	r.body_len = r.len - (r.body - r.raw);
	ASSERT_EQ(r.status, 200, "status of /big");
	check_common_headers(&r, BIG);
	ASSERT_EQ(r.body_len, BIG, "body bytes received");
	for (i = 0; i < BIG; i++)
		bad += (unsigned char)r.body[i] != pat(i);
	ASSERT_EQ(bad, 0, "body bytes that differ from what was sent");
	free(r.raw);
}

/* A client that reads nothing of a big response is reset after the write deadline. */
static void test_client_that_never_reads_is_dropped(void **state)
{
	static const char req[] = "GET /big HTTP/1.1\r\nHost: a\r\n\r\n";
	struct pollfd p;
	struct resp r;
	int fd;

	restart(0, 200);
	fd = connect_admin(8192);
	send_all(fd, req, sizeof(req) - 1);
	/* wait (reading nothing) for the reset, 20 s at most */
	p = (struct pollfd){ .fd = fd, .events = POLLRDHUP };
	ASSERT_EQ(poll(&p, 1, 20000), 1, "poll for the server's reset");
	ASSERT_TRUE(p.revents & (POLLERR | POLLHUP), "revents 0x%x", p.revents);
	r = read_resp(fd);
	close(fd);
	ASSERT_TRUE(r.len < (size_t)BIG, "received %zu bytes: all of it (not dropped?)", r.len);
	free(r.raw);
}

/* 64 clients at once; the 65th gets a 503 and is closed; a slot that frees up serves again. */
static void test_sixty_fifth_client_gets_503(void **state)
{
	int fds[64], i, fd, ok = 0;
	struct resp r;

	for (i = 0; i < 64; i++)
		fds[i] = connect_admin(0);
	fd = connect_admin(0);
	r = read_resp(fd);
	close(fd);
	ASSERT_EQ(r.status, 503, "status of the 65th client");
	ASSERT_EQ(r.err, 0, "the 65th is closed (errno)");
	free(r.raw);

	close(fds[0]);
	for (i = 0; i < 200 && !ok; i++) { /* until the server has seen the close */
		r = HTTP("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n");
		ok = r.status == 200;
		free(r.raw);
		if (!ok)
			usleep(10000);
	}
	ASSERT_TRUE(ok, "no 200 after a client left");
	for (i = 1; i < 64; i++)
		close(fds[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_get_200_body_query_and_headers),
		T(test_404_from_callback),
		T(test_head_sends_headers_only),
		T(test_post_is_405_with_allow),
		T(test_head_over_8k_is_431_exactly_8k_is_served),
		T(test_malformed_requests_are_400),
		T(test_silent_client_gets_408_and_close),
		T(test_non_loopback_refused_without_public),
		T(test_big_body_to_slow_reader_arrives_whole),
		T(test_client_that_never_reads_is_dropped),
		T(test_sixty_fifth_client_gets_503),
#undef T
	};

	sl_log_init("test_admin", SL_LOG_ERROR); /* refusals are expected here: keep quiet */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
