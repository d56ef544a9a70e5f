// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Sockmap splice (user/proxy/splice.c, bpf/sockmap.bpf.c) on real loopback
 * TCP: client <-> proxy <-> backend, all on 127.0.0.1 ephemeral ports. The
 * proxy thread drives a small epoll loop with sl_splice_event/sl_splice_poll.
 * Needs root (BPF); this kernel supports splice, so a failed open fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "check.h"
#include "../../user/proxy/splice.h"

#define MIB (1024 * 1024)

struct trio {
	int client, backend; /* blocking endpoints the test drives */
	int pa, pb;	     /* the proxy's sockets: pa to the client, pb to the backend */
};

static struct sl_splice *g_splice;

/* Byte @i of the stream tagged @tag: position-dependent, so loss, duplication
 * and reordering all show. */
static inline unsigned char pat(uint64_t i, unsigned tag)
{
	uint32_t x = (uint32_t)(i >> 2) * 2654435761u ^ tag;

	return (unsigned char)((x >> ((i & 3) * 8)) ^ (x >> 24));
}

static int listen_lo(struct sockaddr_in *sa)
{
	socklen_t len = sizeof(*sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)sa, sizeof(*sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)sa, &len), 0);
	return fd;
}

static int connect_lo(const struct sockaddr_in *sa)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (const struct sockaddr *)sa, sizeof(*sa)), 0);
	return fd;
}

static void trio_make(struct trio *t)
{
	struct timeval tv = { .tv_sec = 50 };
	struct sockaddr_in sp, sb;
	int lp = listen_lo(&sp), lb = listen_lo(&sb);

	t->client = connect_lo(&sp);
	t->pa = accept(lp, NULL, NULL);
	t->pb = connect_lo(&sb);
	t->backend = accept(lb, NULL, NULL);
	assert_true(t->pa >= 0 && t->backend >= 0);
	close(lp);
	close(lb);
	fcntl(t->pa, F_SETFL, O_NONBLOCK);
	fcntl(t->pb, F_SETFL, O_NONBLOCK);
	/* a hang fails the test instead of blocking it */
	setsockopt(t->client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(t->backend, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(t->client, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(t->backend, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void trio_close(struct trio *t)
{
	if (t->client >= 0)
		close(t->client);
	if (t->backend >= 0)
		close(t->backend);
	close(t->pa);
	close(t->pb);
}

/* ---- the proxy: an epoll loop over one spliced flow ---- */

struct proxy {
	struct sl_splice_flow *f;
	int pa, pb;
	int done;	 /* 1 when sl_splice_event/poll said the flow is over */
	int timed_out;	 /* no end within the deadline */
	uint64_t ab, ba; /* sl_splice_flow_bytes just before sl_splice_end */
	uint64_t peak_ab, peak_ba; /* sl_splice_flow_backlog just before sl_splice_end */
	pthread_t th;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *proxy_run(void *arg)
{
	struct proxy *p = arg;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLET };
	double deadline = now_s() + 90;
	int ep = epoll_create1(0), next_ms = 0, over = 0;

	ev.data.fd = p->pa;
	epoll_ctl(ep, EPOLL_CTL_ADD, p->pa, &ev);
	ev.data.fd = p->pb;
	epoll_ctl(ep, EPOLL_CTL_ADD, p->pb, &ev);
	while (!over) {
		struct epoll_event evs[4];
		int n, i;

		if (now_s() > deadline) {
			__atomic_store_n(&p->timed_out, 1, __ATOMIC_SEQ_CST);
			break;
		}
		n = epoll_wait(ep, evs, 4, next_ms < 0 ? 1000 : next_ms);
		for (i = 0; i < n && !over; i++)
			over = sl_splice_event(p->f, evs[i].data.fd, evs[i].events);
		if (!over && n == 0 && next_ms >= 0)
			over = sl_splice_poll(p->f, &next_ms);
		else if (!over && n > 0)
			over = sl_splice_poll(p->f, &next_ms);
	}
	close(ep);
	sl_splice_flow_bytes(p->f, &p->ab, &p->ba);
	sl_splice_flow_backlog(p->f, &p->peak_ab, &p->peak_ba);
	sl_splice_end(p->f);
	__atomic_store_n(&p->done, over, __ATOMIC_SEQ_CST);
	return NULL;
}

static void proxy_start(struct proxy *p, struct trio *t)
{
	memset(p, 0, sizeof(*p));
	p->pa = t->pa;
	p->pb = t->pb;
	p->f = sl_splice_start(g_splice, t->pa, t->pb);
	if (!p->f)
		fail_msg("sl_splice_start: %s", strerror(errno));
	assert_int_equal(pthread_create(&p->th, NULL, proxy_run, p), 0);
}

static void proxy_join(struct proxy *p)
{
	pthread_join(p->th, NULL);
	ASSERT_EQ(p->timed_out, 0, "proxy loop timed out (flow never ended)");
	ASSERT_EQ(p->done, 1, "sl_splice_event/poll reported the flow over");
}

/* ---- endpoints ---- */

struct stream {
	int fd;
	unsigned tag;
	uint64_t from, to; /* stream offsets this call sends or expects */
	int shut;	   /* sender: shutdown(SHUT_WR) at the end */
	unsigned slow_us;  /* receiver: sleep this long every 64 KiB */
	uint64_t got;	   /* receiver: bytes read before EOF */
	uint64_t bad_at;   /* receiver: first wrong offset + 1, 0 if none */
	int err;	   /* errno of a failed call, 0 if none */
};

static void *send_stream(void *arg)
{
	struct stream *st = arg;
	unsigned char buf[65536];
	uint64_t off = st->from;

	while (off < st->to) {
		size_t n = st->to - off < sizeof(buf) ? st->to - off : sizeof(buf), i;
		ssize_t w;

		for (i = 0; i < n; i++)
			buf[i] = pat(off + i, st->tag);
		w = send(st->fd, buf, n, MSG_NOSIGNAL);
		if (w <= 0) {
			st->err = errno;
			return NULL;
		}
		off += w;
	}
	if (st->shut)
		shutdown(st->fd, SHUT_WR);
	return NULL;
}

/* Read to EOF, checking each byte against the pattern from st->from. */
static void *recv_stream(void *arg)
{
	struct stream *st = arg;
	unsigned char buf[65536];
	uint64_t off = st->from, since_sleep = 0;

	for (;;) {
		ssize_t n = recv(st->fd, buf, sizeof(buf), 0), i;

		if (n < 0) {
			st->err = errno;
			break;
		}
		if (n == 0)
			break;
		for (i = 0; i < n; i++)
			if (!st->bad_at && buf[i] != pat(off + i, st->tag))
				st->bad_at = off + i + 1;
		off += n;
		since_sleep += n;
		if (st->slow_us && since_sleep >= 65536) {
			usleep(st->slow_us);
			since_sleep = 0;
		}
	}
	st->got = off - st->from;
	return NULL;
}

static void send_all(int fd, unsigned tag, uint64_t from, uint64_t to)
{
	struct stream st = { .fd = fd, .tag = tag, .from = from, .to = to };

	send_stream(&st);
	ASSERT_EQ(st.err, 0, "send of bytes %llu..%llu", (unsigned long long)from,
		  (unsigned long long)to);
}

static void recv_exact(int fd, unsigned tag, uint64_t from, uint64_t len)
{
	unsigned char buf[4096];
	uint64_t got = 0;

	while (got < len) {
		size_t want = len - got < sizeof(buf) ? len - got : sizeof(buf), i;
		ssize_t n = recv(fd, buf, want, 0);

		if (n <= 0)
			fail_msg("recv at byte %llu of %llu: %s", (unsigned long long)got,
				 (unsigned long long)len, n ? strerror(errno) : "EOF");
		for (i = 0; i < (size_t)n; i++)
			if (buf[i] != pat(from + got + i, tag))
				fail_msg("byte %llu: got %#x, expected %#x",
					 (unsigned long long)(from + got + i), buf[i],
					 pat(from + got + i, tag));
		got += n;
	}
}

/* Wait until @fd has @n bytes readable (before it is spliced, FIONREAD works). */
static void wait_queued(int fd, int n)
{
	int q = 0, i;

	for (i = 0; i < 2000; i++) {
		ioctl(fd, FIONREAD, &q);
		if (q >= n)
			return;
		usleep(1000);
	}
	fail_msg("receive queue holds %d bytes, expected %d", q, n);
}

/* Relay as the proxy would before splicing: read @n bytes from @from, write them to @to. */
static void proxy_copy(int from, int to, size_t n)
{
	char buf[4096];

	assert_true(n <= sizeof(buf));
	ASSERT_EQ(recv(from, buf, n, 0), (long long)n, "proxy read before splice");
	ASSERT_EQ(send(to, buf, n, MSG_NOSIGNAL), (long long)n, "proxy write before splice");
}

/* ---- tests ---- */

static void transfer_both_ways(uint64_t len_ab, uint64_t len_ba, unsigned slow_us,
			       struct sl_splice_stats *delta, struct proxy *out)
{
	const uint64_t pre_a = 60000, pre_b = 40000, proxied = 1000; /* fit a default receive buffer (6.1: 81408 bytes) */
	struct sl_splice_stats s0, s1;
	struct stream cs, cr, bs, br;
	pthread_t t[4];
	struct proxy p;
	struct trio tr;

	trio_make(&tr);
	/* before the splice: the proxy relayed part of the first skb itself, and
	 * more bytes wait in both receive queues */
	send_all(tr.client, 1, 0, pre_a);
	send_all(tr.backend, 2, 0, pre_b);
	wait_queued(tr.pa, pre_a);
	wait_queued(tr.pb, pre_b);
	proxy_copy(tr.pa, tr.pb, proxied);

	sl_splice_get_stats(g_splice, &s0);
	proxy_start(&p, &tr);
	cs = (struct stream){ .fd = tr.client, .tag = 1, .from = pre_a, .to = len_ab, .shut = 1 };
	/* a paused direction whose destination has sent its FIN cannot go back
	 * into the map (sockmaps take established sockets only): with a slow
	 * reader, keep the other direction open to exercise resuming */
	bs = (struct stream){ .fd = tr.backend, .tag = 2, .from = pre_b, .to = len_ba, .shut = !slow_us };
	cr = (struct stream){ .fd = tr.client, .tag = 2 };
	br = (struct stream){ .fd = tr.backend, .tag = 1, .slow_us = slow_us };
	pthread_create(&t[0], NULL, send_stream, &cs);
	pthread_create(&t[1], NULL, send_stream, &bs);
	pthread_create(&t[2], NULL, recv_stream, &cr);
	pthread_create(&t[3], NULL, recv_stream, &br);
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	pthread_join(t[3], NULL);
	if (!bs.shut) /* the backend half-closes only after the slow direction is done */
		shutdown(tr.backend, SHUT_WR);
	pthread_join(t[2], NULL);
	proxy_join(&p);
	sl_splice_get_stats(g_splice, &s1);

	ASSERT_EQ(cs.err, 0, "client send");
	ASSERT_EQ(bs.err, 0, "backend send");
	ASSERT_EQ(br.err, 0, "backend recv");
	ASSERT_EQ(cr.err, 0, "client recv");
	ASSERT_EQ(br.bad_at, 0, "backend: first wrong byte (offset + 1)");
	ASSERT_EQ(cr.bad_at, 0, "client: first wrong byte (offset + 1)");
	ASSERT_EQ(br.got, len_ab, "bytes the backend read before EOF");
	ASSERT_EQ(cr.got, len_ba, "bytes the client read before EOF");
	ASSERT_EQ(p.ab, len_ab - proxied, "sl_splice_flow_bytes a_to_b");
	ASSERT_EQ(p.ba, len_ba, "sl_splice_flow_bytes b_to_a");
	ASSERT_EQ(s1.flows - s0.flows, 1, "stats.flows");
	ASSERT_EQ(s1.active, s0.active, "stats.active after sl_splice_end");
	ASSERT_EQ(s1.bytes - s0.bytes, p.ab + p.ba, "stats.bytes");
	ASSERT_EQ(s1.broken, s0.broken, "stats.broken (a FIN with bytes missing)");
	delta->kernel_bytes = s1.kernel_bytes - s0.kernel_bytes;
	delta->bytes = s1.bytes - s0.bytes;
	delta->pauses = s1.pauses - s0.pauses;
	if (out)
		*out = p;
	print_message("    %llu MiB + %llu MiB: kernel moved %llu of %llu bytes, %llu pauses, peak backlog %llu / %llu KiB (cap %u KiB)\n",
		      (unsigned long long)(len_ab >> 20), (unsigned long long)(len_ba >> 20),
		      (unsigned long long)delta->kernel_bytes, (unsigned long long)delta->bytes,
		      (unsigned long long)delta->pauses, (unsigned long long)(p.peak_ab >> 10),
		      (unsigned long long)(p.peak_ba >> 10), SL_SPLICE_BACKLOG_CAP >> 10);
	trio_close(&tr);
}

/*
 * User space copies only what a source still held when its FIN came in
 * while paused (its receive buffer, up to tcp_rmem[2]); the kernel moves the
 * rest. A splice that fell back to copying everything fails this.
 */
static void test_64mib_each_way_byte_exact_with_queued_bytes(void **state)
{
	struct sl_splice_stats d;

	transfer_both_ways(64 * MIB, 64 * MIB, 0, &d, NULL);
	ASSERT_TRUE(d.kernel_bytes >= 64 * (uint64_t)MIB, "kernel moved %llu of %llu bytes",
		    (unsigned long long)d.kernel_bytes, (unsigned long long)d.bytes);
}

/* The FIN waits for redirected bytes still queued toward a slow reader. */
static void test_slow_receiver_gets_every_byte_before_fin(void **state)
{
	struct sl_splice_stats d;

	transfer_both_ways(16 * MIB, 1 * MIB, 500, &d, NULL);
	ASSERT_TRUE(d.kernel_bytes >= 8 * (uint64_t)MIB, "kernel moved %llu of %llu bytes",
		    (unsigned long long)d.kernel_bytes, (unsigned long long)d.bytes);
}

/* tcp_rmem[2]: the largest receive buffer autotuning gives a socket. */
static uint64_t tcp_rmem_max(void)
{
	FILE *fp = fopen("/proc/sys/net/ipv4/tcp_rmem", "r");
	unsigned long long lo, def, max = 0;

	assert_non_null(fp);
	assert_int_equal(fscanf(fp, "%llu %llu %llu", &lo, &def, &max), 3);
	fclose(fp);
	return max;
}

/*
 * Backpressure: 256 MiB to a reader that sleeps 5 ms every 64 KiB. The
 * backlog sampled at every poll stays within the cap plus one receive buffer
 * (a resume redirects what the paused source queued meanwhile) plus 4 MiB
 * for the bytes that arrive between two polls. Without the cap it reaches
 * most of the 256 MiB.
 */
static void test_slow_reader_backlog_stays_near_cap(void **state)
{
	const uint64_t bound = SL_SPLICE_BACKLOG_CAP + tcp_rmem_max() + 4 * (uint64_t)MIB;
	struct sl_splice_stats d;
	struct proxy p;

	transfer_both_ways(256 * MIB, 1 * MIB, 5000, &d, &p);
	ASSERT_TRUE(d.pauses >= 1, "the slow direction paused (%llu pauses)",
		    (unsigned long long)d.pauses);
	ASSERT_TRUE(p.peak_ab <= bound, "peak backlog %llu bytes, bound %llu",
		    (unsigned long long)p.peak_ab, (unsigned long long)bound);
}

static void test_half_close_keeps_other_direction(void **state)
{
	struct proxy p;
	struct trio tr;
	char c;

	trio_make(&tr);
	proxy_start(&p, &tr);
	send_all(tr.client, 3, 0, 5000);
	shutdown(tr.client, SHUT_WR);
	recv_exact(tr.backend, 3, 0, 5000);
	ASSERT_EQ(recv(tr.backend, &c, 1, 0), 0, "backend reads EOF after the client's bytes");
	ASSERT_EQ(__atomic_load_n(&p.done, __ATOMIC_SEQ_CST), 0, "flow over after one FIN");

	send_all(tr.backend, 4, 0, 300000);
	recv_exact(tr.client, 4, 0, 300000);
	close(tr.backend);
	tr.backend = -1;
	ASSERT_EQ(recv(tr.client, &c, 1, 0), 0, "client reads EOF after the backend closes");
	proxy_join(&p);
	ASSERT_EQ(p.ab, 5000, "sl_splice_flow_bytes a_to_b");
	ASSERT_EQ(p.ba, 300000, "sl_splice_flow_bytes b_to_a");
	trio_close(&tr);
}

static void test_backend_reset_reaches_client(void **state)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct proxy p;
	struct trio tr;
	ssize_t n;
	char c;

	trio_make(&tr);
	proxy_start(&p, &tr);
	send_all(tr.client, 5, 0, 1000);
	recv_exact(tr.backend, 5, 0, 1000);
	setsockopt(tr.backend, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(tr.backend);
	tr.backend = -1;
	proxy_join(&p);
	/* the test's caller role: close both proxy sockets once the flow is over */
	close(tr.pa);
	close(tr.pb);
	n = recv(tr.client, &c, 1, 0);
	ASSERT_TRUE(n == -1 && errno == ECONNRESET, "client recv after the backend's RST: %zd (%s)",
		    n, n < 0 ? strerror(errno) : "no error");
	close(tr.client);
}

/* Wait until some direction has paused since @s0 (the backlog hit the cap). */
static void wait_pause(const struct sl_splice_stats *s0)
{
	struct sl_splice_stats s1;
	int i;

	for (i = 0; i < 5000; i++) {
		sl_splice_get_stats(g_splice, &s1);
		if (s1.pauses > s0->pauses)
			return;
		usleep(1000);
	}
	fail_msg("no pause after 5 s with the backend not reading");
}

struct bg_send {
	struct stream st;
	pthread_t th;
};

/* The client half-closes while its direction is paused: the FIN comes after every byte. */
static void test_half_close_while_paused(void **state)
{
	const uint64_t len = 48 * (uint64_t)MIB;
	struct sl_splice_stats s0;
	struct bg_send bs;
	struct proxy p;
	struct trio tr;
	char c;

	trio_make(&tr);
	sl_splice_get_stats(g_splice, &s0);
	proxy_start(&p, &tr);
	bs.st = (struct stream){ .fd = tr.client, .tag = 6, .from = 0, .to = len, .shut = 1 };
	pthread_create(&bs.th, NULL, send_stream, &bs.st);
	wait_pause(&s0);
	recv_exact(tr.backend, 6, 0, len);
	pthread_join(bs.th, NULL);
	ASSERT_EQ(bs.st.err, 0, "client send");
	ASSERT_EQ(recv(tr.backend, &c, 1, 0), 0, "backend reads EOF right after the last byte");
	/* the other direction still works, and its FIN ends the flow */
	send_all(tr.backend, 7, 0, 100000);
	recv_exact(tr.client, 7, 0, 100000);
	shutdown(tr.backend, SHUT_WR);
	ASSERT_EQ(recv(tr.client, &c, 1, 0), 0, "client reads EOF after the backend's FIN");
	proxy_join(&p);
	ASSERT_EQ(p.ab, len, "sl_splice_flow_bytes a_to_b");
	ASSERT_EQ(p.ba, 100000, "sl_splice_flow_bytes b_to_a");
	trio_close(&tr);
}

/*
 * The backend resets while the client's direction is paused: the client gets
 * an RST. One thread only touches the client socket: whichever call comes
 * first takes the socket's error, and a second thread's recv() would read 0.
 */
static void test_reset_while_paused_reaches_client(void **state)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	static unsigned char buf[65536];
	struct sl_splice_stats s0, s1;
	uint64_t off = 0;
	struct proxy p;
	struct trio tr;
	ssize_t n;
	int i;

	trio_make(&tr);
	sl_splice_get_stats(g_splice, &s0);
	proxy_start(&p, &tr);
	/* fill every buffer on the way without blocking, until the direction pauses */
	for (i = 0; i < 20000; i++) {
		size_t k;

		for (k = 0; k < sizeof(buf); k++)
			buf[k] = pat(off + k, 8);
		n = send(tr.client, buf, sizeof(buf), MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			off += n;
			continue;
		}
		ASSERT_TRUE(errno == EAGAIN, "client send: %s", strerror(errno));
		sl_splice_get_stats(g_splice, &s1);
		if (s1.pauses > s0.pauses)
			break;
		usleep(1000);
	}
	sl_splice_get_stats(g_splice, &s1);
	ASSERT_TRUE(s1.pauses > s0.pauses, "the client's direction paused after %llu bytes",
		    (unsigned long long)off);
	setsockopt(tr.backend, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(tr.backend);
	tr.backend = -1;
	proxy_join(&p);
	close(tr.pa);
	close(tr.pb);
	tr.pa = tr.pb = -1;
	n = recv(tr.client, buf, sizeof(buf), 0);
	ASSERT_TRUE(n == -1 && errno == ECONNRESET, "client recv after the backend's RST: %zd (%s)",
		    n, n < 0 ? strerror(errno) : "EOF");
	close(tr.client);
}

static int setup(void **state)
{
	char err[256];

	g_splice = sl_splice_open(NULL, err, sizeof(err));
	if (!g_splice) {
		fprintf(stderr, "sl_splice_open: %s\n", err);
		return -1; /* this kernel supports splice: a failure here fails the suite */
	}
	return 0;
}

static int teardown(void **state)
{
	sl_splice_close(g_splice);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_64mib_each_way_byte_exact_with_queued_bytes),
		cmocka_unit_test(test_slow_receiver_gets_every_byte_before_fin),
		cmocka_unit_test(test_half_close_keeps_other_direction),
		cmocka_unit_test(test_backend_reset_reaches_client),
		cmocka_unit_test(test_half_close_while_paused),
		cmocka_unit_test(test_reset_while_paused_reaches_client),
		cmocka_unit_test(test_slow_reader_backlog_stays_near_cap),
	};

	/* SL_TEST_FILTER=test_slow_reader*: run only the matching tests */
	if (getenv("SL_TEST_FILTER"))
		cmocka_set_test_filter(getenv("SL_TEST_FILTER"));
	return cmocka_run_group_tests(tests, setup, teardown);
}
