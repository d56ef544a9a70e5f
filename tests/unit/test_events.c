// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The event stream store (user/agent/events.c): offsets, crashes, rotation, followers, rate-limit aggregation. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "../../user/agent/agent.h"
#include "../../user/agent/events.h"
#include "../../user/lib/addr.h"

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/sl-test-events-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	struct dirent *de;
	char path[384];
	DIR *d = opendir(dir);

	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(dir);
	return 0;
}

static struct sl_events *open_ev(const char *boot, size_t seg, unsigned nseg, size_t fbuf)
{
	struct sl_events_opts o = { .segment_bytes = seg,
				    .max_segments = nseg,
				    .follower_buf = fbuf,
				    .reserve_step = 16,
				    .boot_id = boot };
	struct sl_events *ev = sl_events_open(dir, &o);

	ASSERT_TRUE(ev, "sl_events_open(%s): %s", dir, strerror(errno));
	return ev;
}

static long long append(struct sl_events *ev, const char *type, long long i)
{
	json_t *data = json_pack("{s:I}", "i", (json_int_t)i);
	long long off = sl_events_append(ev, type, "web", "198.18.1.2:8080", data, 1700000000.5);

	json_decref(data);
	ASSERT_TRUE(off > 0, "append %s #%lld: %lld", type, i, off);
	return off;
}

/* What a read delivered. */
struct got {
	long long off[4096];
	char type[4096][32];
	int n;
};

static int collect(void *ctx, long long off, const char *type, const char *line, size_t len)
{
	struct got *g = ctx;

	if (g->n < 4096) {
		g->off[g->n] = off;
		snprintf(g->type[g->n], sizeof(g->type[0]), "%s", type);
		g->n++;
	}
	return 0;
}

static void assert_contiguous(const struct got *g, long long first, long long last, const char *what)
{
	int i;

	ASSERT_EQ(g->n, last - first + 1, "%s: records read", what);
	for (i = 0; i < g->n; i++)
		ASSERT_EQ(g->off[i], first + i, "%s: record %d's offset", what, i);
}

static char *seg_file(long long base)
{
	static char path[128];

	snprintf(path, sizeof(path), "%s/events-%020lld.jsonl", dir, base);
	return path;
}

static int count_segments(void)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	while (d && (de = readdir(d)))
		n += !strncmp(de->d_name, "events-", 7);
	closedir(d);
	return n;
}

static void test_offsets_monotonic_and_persistent(void **state)
{
	struct sl_events *ev = open_ev("boot-a", 0, 0, 0);
	struct got *g = calloc(1, sizeof(*g));
	long long i;

	ASSERT_EQ(sl_events_next_offset(ev), 1, "next offset of a new store");
	for (i = 1; i <= 10; i++)
		ASSERT_EQ(append(ev, "config", i), i, "offset of append %lld", i);
	sl_events_close(ev);
	ev = open_ev("boot-a", 0, 0, 0);
	ASSERT_EQ(sl_events_next_offset(ev), 11, "next offset after reopening");
	ASSERT_EQ(append(ev, "config", 11), 11, "first append after reopening");
	ASSERT_EQ(sl_events_read(ev, 0, NULL, collect, g, NULL), 11, "read all");
	assert_contiguous(g, 1, 11, "after reopen");
	sl_events_close(ev);
	free(g);
}

/* A record cut short (its write never returned) is dropped; its offset, never published, is used next. */
static void test_torn_last_line_is_cut_and_no_offset_duplicated(void **state)
{
	struct sl_events *ev = open_ev("boot-a", 0, 0, 0);
	struct got *g = calloc(1, sizeof(*g));
	struct stat st;
	char last;
	int fd;

	for (int i = 1; i <= 6; i++)
		append(ev, "config", i);
	sl_events_close(ev);
	ASSERT_EQ(stat(seg_file(1), &st), 0, "stat segment 1");
	ASSERT_EQ(truncate(seg_file(1), st.st_size - 10), 0, "cut record 6 short");

	ev = open_ev("boot-a", 0, 0, 0);
	ASSERT_EQ(sl_events_next_offset(ev), 6, "next offset after a torn record 6");
	ASSERT_EQ(append(ev, "health.up", 6), 6, "the torn record's offset is handed out");
	ASSERT_EQ(sl_events_read(ev, 0, NULL, collect, g, NULL), 6, "read all");
	assert_contiguous(g, 1, 6, "after the torn record");
	ASSERT_TRUE(!strcmp(g->type[5], "health.up"), "record 6 is the new event, got %s",
		    g->type[5]);
	sl_events_close(ev);
	fd = open(seg_file(1), O_RDONLY);
	ASSERT_TRUE(fd >= 0, "open segment");
	ASSERT_EQ(pread(fd, &last, 1, lseek(fd, 0, SEEK_END) - 1), 1, "read last byte");
	ASSERT_EQ(last, '\n', "the segment ends with a whole line");
	close(fd);
	free(g);
}

/* A child appends and is killed with SIGKILL mid-life. */
static void crash_child(const char *boot, int n)
{
	pid_t pid = fork();
	int status;

	ASSERT_TRUE(pid >= 0, "fork");
	if (!pid) {
		struct sl_events_opts o = { .reserve_step = 16, .boot_id = boot };
		struct sl_events *ev = sl_events_open(dir, &o);

		for (int i = 1; ev && i <= n; i++)
			if (sl_events_append(ev, "backend.registered", "web", NULL, NULL, 1.0) < 0)
				_exit(3);
		kill(getpid(), SIGKILL);
		_exit(4);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid, "waitpid");
	ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		    "the child died of SIGKILL (status %#x)", status);
}

static void test_kill9_restart_no_gap_no_duplicate(void **state)
{
	struct got *g = calloc(1, sizeof(*g));
	struct sl_events *ev;
	long long from, to;

	crash_child("boot-a", 100);
	ev = open_ev("boot-a", 0, 0, 0);
	ASSERT_EQ(sl_events_next_offset(ev), 101, "next offset after kill -9 on the same boot");
	ASSERT_EQ(sl_events_skipped(ev, &from, &to), 0, "no offsets skipped on the same boot");
	ASSERT_EQ(append(ev, "agent.start", 101), 101, "first append after kill -9");
	ASSERT_EQ(sl_events_read(ev, 95, NULL, collect, g, NULL), 7, "read from 95");
	assert_contiguous(g, 95, 101, "after kill -9");
	sl_events_close(ev);
	free(g);
}

/* A reboot may have lost records followers saw: numbering goes on above anything handed out. */
static void test_reboot_after_lost_tail_never_reuses_offsets(void **state)
{
	struct sl_events *ev;
	long long from = 0, to = 0;
	char *buf = calloc(1, 1 << 20);
	ssize_t len, cut = 0;
	int fd, lines = 0;

	crash_child("boot-a", 40);
	fd = open(seg_file(1), O_RDWR);
	ASSERT_TRUE(fd >= 0, "open segment");
	len = read(fd, buf, 1 << 20);
	/* the page cache held records 31..40; the disk only 1..30 */
	for (cut = 0; cut < len && lines < 30; cut++)
		lines += buf[cut] == '\n';
	ASSERT_EQ(lines, 30, "lines found");
	ASSERT_EQ(ftruncate(fd, cut), 0, "drop records 31..40");
	close(fd);
	free(buf);

	ev = open_ev("boot-b", 0, 0, 0);
	ASSERT_TRUE(sl_events_next_offset(ev) > 40,
		    "next offset %lld after a reboot is above every offset handed out (40)",
		    sl_events_next_offset(ev));
	ASSERT_EQ(sl_events_skipped(ev, &from, &to), 1, "offsets reported skipped");
	ASSERT_EQ(from, 31, "first skipped offset");
	ASSERT_EQ(to, sl_events_next_offset(ev), "end of the skipped range");
	ASSERT_TRUE(append(ev, "agent.start", 0) > 40, "the first new event's offset is above 40");
	sl_events_close(ev);
}

static void test_clean_stop_then_reboot_no_gap(void **state)
{
	struct sl_events *ev = open_ev("boot-a", 0, 0, 0);
	long long from, to;

	for (int i = 1; i <= 5; i++)
		append(ev, "config", i);
	sl_events_close(ev);
	ev = open_ev("boot-b", 0, 0, 0);
	ASSERT_EQ(sl_events_next_offset(ev), 6, "next offset after a clean stop and a reboot");
	ASSERT_EQ(sl_events_skipped(ev, &from, &to), 0, "nothing skipped");
	sl_events_close(ev);
}

static void test_rotation_keeps_at_most_n_segments(void **state)
{
	struct sl_events *ev = open_ev("boot-a", 1024, 3, 0);
	struct got *g = calloc(1, sizeof(*g));
	long long earliest_mid = 0, e;
	char err[160];

	for (long long i = 1; i <= 300; i++) {
		append(ev, "config", i);
		ASSERT_LE(count_segments(), 3, "segment files after append %lld", i);
		if (i == 150)
			earliest_mid = sl_events_earliest(ev);
	}
	e = sl_events_earliest(ev);
	ASSERT_TRUE(earliest_mid > 1, "earliest moved up by offset 150 (got %lld)", earliest_mid);
	ASSERT_TRUE(e > earliest_mid, "earliest moved up again by 300 (%lld, was %lld)", e,
		    earliest_mid);
	ASSERT_TRUE(access(seg_file(e), F_OK) == 0, "the oldest file is named for earliest %lld", e);
	ASSERT_EQ(sl_events_read(ev, 0, NULL, collect, g, NULL), 300 - e + 1, "read all kept");
	assert_contiguous(g, e, 300, "kept after rotation");
	ASSERT_EQ(sl_events_check_from(ev, e, err, sizeof(err)), 0, "the earliest is readable");
	sl_events_close(ev);
	free(g);
}

static void test_read_older_than_earliest_reports_earliest(void **state)
{
	struct sl_events *ev = open_ev("boot-a", 1024, 2, 0);
	long long earliest = -1;
	char err[160], want[160];
	int sv[2];

	for (long long i = 1; i <= 100; i++)
		append(ev, "config", i);
	ASSERT_TRUE(sl_events_earliest(ev) > 1, "rotation dropped offset 1");
	ASSERT_EQ(sl_events_read(ev, 1, NULL, collect, NULL, &earliest), -ERANGE, "read from 1");
	ASSERT_EQ(earliest, sl_events_earliest(ev), "earliest reported");
	ASSERT_EQ(sl_events_check_from(ev, 1, err, sizeof(err)), -ERANGE, "check_from 1");
	snprintf(want, sizeof(want),
		 "offset 1 is no longer kept; the earliest is %lld (use --from %lld)", earliest,
		 earliest);
	ASSERT_TRUE(!strcmp(err, want), "message: got \"%s\", expected \"%s\"", err, want);
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0, "socketpair");
	ASSERT_EQ(sl_events_follow(ev, 1, NULL, sv[0], err, sizeof(err)), -ERANGE, "follow from 1");
	ASSERT_EQ(fcntl(sv[0], F_GETFD) >= 0, 1, "a refused follower's fd stays the caller's");
	ASSERT_EQ(sl_events_read(ev, 102, NULL, collect, NULL, NULL), -ERANGE, "read from the future");
	close(sv[0]);
	close(sv[1]);
	sl_events_close(ev);
}

static void test_type_filter(void **state)
{
	static const char *types[] = { "health.up", "health.down", "circuit.opened", "config",
					"healthy.odd" };
	struct sl_events *ev = open_ev("boot-a", 0, 0, 0);
	struct got *g = calloc(1, sizeof(*g));

	for (int i = 0; i < 5; i++)
		append(ev, types[i], i);
	ASSERT_EQ(sl_events_read(ev, 0, "health", collect, g, NULL), 2, "family health");
	ASSERT_TRUE(!strcmp(g->type[0], "health.up") && !strcmp(g->type[1], "health.down"),
		    "family health: got %s, %s", g->type[0], g->type[1]);
	g->n = 0;
	ASSERT_EQ(sl_events_read(ev, 0, "circuit.opened,config", collect, g, NULL), 2, "a list");
	ASSERT_EQ(g->off[0], 3, "first of the list");
	ASSERT_EQ(g->off[1], 4, "second of the list");
	g->n = 0;
	ASSERT_EQ(sl_events_read(ev, 0, "health.down", collect, g, NULL), 1, "one type");
	ASSERT_EQ(sl_events_read(ev, 0, "heal", collect, g, NULL), 0, "a prefix is no family");
	ASSERT_EQ(sl_events_read(ev, 0, "", collect, g, NULL), 5, "empty filter");
	sl_events_close(ev);
	free(g);
}

/* ---- followers ---- */

struct client {
	int fd;
	char *buf;
	size_t len, cap;
	int eof;
};

/* Read what is there without blocking. */
static void client_read(struct client *c)
{
	for (;;) {
		ssize_t n;

		if (c->cap - c->len < 65536) {
			c->cap = c->cap ? c->cap * 2 : 1 << 20;
			c->buf = realloc(c->buf, c->cap);
		}
		n = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, MSG_DONTWAIT);
		if (n > 0) {
			c->len += n;
			continue;
		}
		if (n == 0)
			c->eof = 1;
		break;
	}
	c->buf[c->len] = 0;
}

static void pump_and_read(struct sl_events *ev, struct client *c, int nc)
{
	for (int round = 0; round < 200; round++) {
		size_t before = 0, after = 0;

		for (int i = 0; i < nc; i++)
			before += c[i].len;
		ASSERT_EQ(sl_events_pump(ev), 0, "pump");
		for (int i = 0; i < nc; i++) {
			client_read(&c[i]);
			after += c[i].len;
		}
		if (after == before && round > 2)
			break;
	}
}

/* Offsets of the lines @c got, into @off; the last line's text into @last. */
static int client_lines(struct client *c, long long *off, int max, char *last, size_t lastlen)
{
	char *p = c->buf, *nl;
	int n = 0;

	while (p < c->buf + c->len && (nl = memchr(p, '\n', c->buf + c->len - p))) {
		json_t *rec = json_loadb(p, nl - p, 0, NULL);

		ASSERT_TRUE(rec, "line %d is JSON: %.*s", n, (int)(nl - p), p);
		if (last)
			snprintf(last, lastlen, "%.*s", (int)(nl - p), p);
		if (n < max)
			off[n] = json_integer_value(json_object_get(rec, "offset"));
		n++;
		json_decref(rec);
		p = nl + 1;
	}
	ASSERT_EQ(p - c->buf, c->len, "the client got whole lines only");
	return n;
}

static void client_open(struct client *c, int *server_fd)
{
	int sv[2];

	memset(c, 0, sizeof(*c));
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0, "socketpair");
	c->fd = sv[1];
	*server_fd = sv[0];
}

static void test_follower_gets_backlog_then_live_in_order(void **state)
{
	struct sl_events *ev = open_ev("boot-a", 0, 0, 0);
	long long off[64];
	struct client c;
	char err[160];
	int sfd, n;

	for (int i = 1; i <= 5; i++)
		append(ev, i % 2 ? "health.up" : "config", i);
	client_open(&c, &sfd);
	ASSERT_EQ(sl_events_follow(ev, 2, NULL, sfd, err, sizeof(err)), 0, "follow from 2: %s",
		  err);
	pump_and_read(ev, &c, 1);
	for (int i = 6; i <= 8; i++)
		append(ev, "config", i);
	pump_and_read(ev, &c, 1);
	n = client_lines(&c, off, 64, NULL, 0);
	ASSERT_EQ(n, 7, "lines for offsets 2..8");
	for (int i = 0; i < n; i++)
		ASSERT_EQ(off[i], 2 + i, "line %d", i);
	ASSERT_EQ(c.eof, 0, "the follower stays connected");
	close(c.fd);
	free(c.buf);
	sl_events_close(ev);
}

static void test_follower_type_filter_backlog_and_live(void **state)
{
	struct sl_events *ev = open_ev("boot-a", 0, 0, 0);
	long long off[64];
	struct client c;
	char err[160];
	int sfd, n;

	for (int i = 1; i <= 4; i++)
		append(ev, i % 2 ? "health.down" : "config", i);
	client_open(&c, &sfd);
	ASSERT_EQ(sl_events_follow(ev, 0, "health", sfd, err, sizeof(err)), 0, "follow");
	pump_and_read(ev, &c, 1);
	append(ev, "config", 5);
	append(ev, "health.up", 6);
	pump_and_read(ev, &c, 1);
	n = client_lines(&c, off, 64, NULL, 0);
	ASSERT_EQ(n, 3, "health lines");
	ASSERT_EQ(off[0], 1, "first");
	ASSERT_EQ(off[1], 3, "second");
	ASSERT_EQ(off[2], 6, "third (live)");
	close(c.fd);
	free(c.buf);
	sl_events_close(ev);
}

/* A follower that never reads is cut off with the message; the store's memory stays bounded; a fast one gets it all. */
static void test_slow_follower_cut_off_memory_bounded(void **state)
{
	const size_t bound = 8192;
	struct sl_events *ev = open_ev("boot-a", 0, 0, bound);
	long long *off = calloc(20000, sizeof(*off));
	char err[160], last[256], want[256];
	struct sl_events_stats s;
	struct client slow, fast;
	size_t max_held = 0;
	int sfd, ffd, n, total = 20000;
	int small = 4096;

	client_open(&slow, &sfd);
	setsockopt(sfd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	client_open(&fast, &ffd);
	ASSERT_EQ(sl_events_follow(ev, 0, NULL, sfd, err, sizeof(err)), 0, "follow (slow)");
	ASSERT_EQ(sl_events_follow(ev, 0, NULL, ffd, err, sizeof(err)), 0, "follow (fast)");
	for (int i = 1; i <= total; i++) {
		append(ev, "ratelimit.drop", i);
		if (i % 50 == 0) {
			sl_events_pump(ev);
			client_read(&fast);
			sl_events_stats(ev, &s);
			if (s.held > max_held)
				max_held = s.held;
		}
	}
	sl_events_stats(ev, &s);
	ASSERT_EQ(s.cut_off, 1, "followers cut off");
	ASSERT_LE(max_held, 2 * (bound + 4096), "bytes held for both followers at most");

	pump_and_read(ev, &fast, 1);
	ASSERT_EQ(client_lines(&fast, off, total, NULL, 0), total, "the fast follower's lines");
	for (int i = 0; i < total; i++)
		ASSERT_EQ(off[i], i + 1, "fast follower line %d", i);

	pump_and_read(ev, &slow, 1);
	ASSERT_EQ(slow.eof, 1, "the slow follower's socket is closed after the message");
	n = client_lines(&slow, off, total, last, sizeof(last));
	ASSERT_TRUE(n > 1 && n < total, "the slow follower got %d lines", n);
	for (int i = 0; i < n - 1; i++)
		ASSERT_EQ(off[i], i + 1, "slow follower line %d", i);
	snprintf(want, sizeof(want),
		 "{\"error\":\"too slow: cut off at offset %d; reconnect with --from %d\","
		 "\"offset\":%d}",
		 n, n, n);
	ASSERT_TRUE(!strcmp(last, want), "last line: got %s, expected %s", last, want);
	sl_events_stats(ev, &s);
	ASSERT_EQ(s.followers, 1, "followers left");
	close(slow.fd);
	close(fast.fd);
	free(slow.buf);
	free(fast.buf);
	free(off);
	sl_events_close(ev);
}

static void test_fifty_followers_each_get_every_event(void **state)
{
	enum { NF = 50, BACKLOG = 10, LIVE = 300 };
	struct sl_events *ev = open_ev("boot-a", 0, 0, 0);
	struct client *c = calloc(NF, sizeof(*c));
	long long off[BACKLOG + LIVE + 1];
	struct sl_events_stats s;
	char err[160];
	int sfd;

	for (int i = 1; i <= BACKLOG; i++)
		append(ev, "config", i);
	for (int k = 0; k < NF; k++) {
		client_open(&c[k], &sfd);
		ASSERT_EQ(sl_events_follow(ev, 0, NULL, sfd, err, sizeof(err)), 0, "follow %d", k);
	}
	for (int i = BACKLOG + 1; i <= BACKLOG + LIVE; i++) {
		append(ev, "health.down", i);
		if (i % 7 == 0)
			sl_events_pump(ev);
	}
	pump_and_read(ev, c, NF);
	for (int k = 0; k < NF; k++) {
		ASSERT_EQ(client_lines(&c[k], off, BACKLOG + LIVE + 1, NULL, 0), BACKLOG + LIVE,
			  "follower %d's lines", k);
		for (int i = 0; i < BACKLOG + LIVE; i++)
			ASSERT_EQ(off[i], i + 1, "follower %d line %d", k, i);
		close(c[k].fd);
		free(c[k].buf);
	}
	sl_events_stats(ev, &s);
	ASSERT_EQ(s.cut_off, 0, "none cut off");
	free(c);
	sl_events_close(ev);
}

static void test_follower_hangup_is_released(void **state)
{
	struct sl_events *ev = open_ev("boot-a", 0, 0, 0);
	struct sl_events_stats s;
	struct client c;
	char err[160];
	int sfd;

	client_open(&c, &sfd);
	ASSERT_EQ(sl_events_follow(ev, 0, NULL, sfd, err, sizeof(err)), 0, "follow");
	sl_events_stats(ev, &s);
	ASSERT_EQ(s.followers, 1, "followers after follow");
	close(c.fd);
	sl_events_pump(ev);
	sl_events_stats(ev, &s);
	ASSERT_EQ(s.followers, 0, "followers after the client hung up");
	append(ev, "config", 1); /* nothing to write to */
	sl_events_pump(ev);
	sl_events_close(ev);
}

/* A catching-up follower whose place is rotated away is cut off, told the earliest. */
static void test_catching_up_follower_rotated_away_is_cut_off(void **state)
{
	struct sl_events *ev = open_ev("boot-a", 16384, 2, 1024);
	long long off[600];
	char err[160], last[300], want[300];
	struct client c;
	int sfd, n, small = 4096;
	long long start, e;
	json_t *msg;

	for (int i = 1; i <= 200; i++)
		append(ev, "config", i);
	client_open(&c, &sfd);
	setsockopt(sfd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	start = sl_events_earliest(ev);
	ASSERT_EQ(sl_events_follow(ev, 0, NULL, sfd, err, sizeof(err)), 0, "follow");
	sl_events_pump(ev); /* fills the socket; the rest waits on disk */
	for (int i = 201; i <= 500; i++)
		append(ev, "config", i);
	pump_and_read(ev, &c, 1);
	ASSERT_EQ(c.eof, 1, "closed after the message");
	n = client_lines(&c, off, 600, last, sizeof(last));
	ASSERT_TRUE(n > 1, "lines before the message: %d", n - 1);
	for (int i = 0; i < n - 1; i++)
		ASSERT_EQ(off[i], start + i, "line %d", i);
	/* the earliest named is the one when the cut happened */
	msg = json_loads(last, 0, NULL);
	e = json_integer_value(json_object_get(msg, "offset"));
	json_decref(msg);
	ASSERT_TRUE(e > start + n - 1 && e <= sl_events_earliest(ev),
		    "the offset to reconnect from (%lld) is past the cut (%lld), at most the "
		    "earliest now (%lld)",
		    e, start + n - 1, sl_events_earliest(ev));
	snprintf(want, sizeof(want),
		 "{\"error\":\"too slow: cut off at offset %lld, which is no longer kept; the "
		 "earliest is %lld (reconnect with --from %lld)\",\"offset\":%lld}",
		 start + n - 1, e, e, e);
	ASSERT_TRUE(!strcmp(last, want), "last line: got %s, expected %s", last, want);
	close(c.fd);
	free(c.buf);
	sl_events_close(ev);
}

/* ---- rate-limit aggregation ---- */

struct emitted {
	int n;
	char vip[64][32];
	char client[64][64];
	unsigned long long drops[64];
	long long second[64];
};

static void rl_collect(void *ctx, const char *vip, const __be32 *addr, __u8 family, __u64 drops,
		       long long second)
{
	struct emitted *e = ctx;

	if (e->n >= 64)
		fail_msg("more than 64 rate-limit events");
	snprintf(e->vip[e->n], sizeof(e->vip[0]), "%s", vip);
	if (addr)
		sl_addr_str(addr, family, e->client[e->n], sizeof(e->client[0]));
	else
		snprintf(e->client[e->n], sizeof(e->client[0]), "others");
	e->drops[e->n] = drops;
	e->second[e->n] = second;
	e->n++;
}

static void test_rl_million_drops_one_client_one_event(void **state)
{
	struct emitted *e = calloc(1, sizeof(*e));
	struct sl_rl_agg *a = sl_rl_agg_new(16, rl_collect, e);
	__be32 addr[4];
	__u8 fam;

	ASSERT_EQ(sl_addr_parse("198.18.0.9", addr, &fam), 0, "parse");
	for (int i = 0; i < 1000000; i++)
		sl_rl_agg_add(a, "web", addr, fam, 1, 1000.0 + i / 1000001.0);
	ASSERT_EQ(e->n, 0, "events before the second is over");
	sl_rl_agg_flush(a, 1001.0);
	ASSERT_EQ(e->n, 1, "events for one client in one second");
	ASSERT_EQ(e->drops[0], 1000000, "drops counted");
	ASSERT_EQ(e->second[0], 1000, "second");
	ASSERT_TRUE(!strcmp(e->client[0], "198.18.0.9") && !strcmp(e->vip[0], "web"),
		    "key: got %s/%s", e->vip[0], e->client[0]);
	sl_rl_agg_flush(a, 1002.0);
	ASSERT_EQ(e->n, 1, "nothing more when no drops");
	sl_rl_agg_free(a);
	free(e);
}

static void test_rl_many_clients_capped_with_others(void **state)
{
	struct emitted *e = calloc(1, sizeof(*e));
	struct sl_rl_agg *a = sl_rl_agg_new(8, rl_collect, e);
	unsigned long long sum = 0;
	__be32 addr[4];
	char s[32];
	__u8 fam;

	for (int i = 0; i < 100; i++) {
		snprintf(s, sizeof(s), "198.18.%d.%d", i / 200, 1 + i % 200);
		sl_addr_parse(s, addr, &fam);
		sl_rl_agg_add(a, "web", addr, fam, 1, 7.5);
		if (i == 0)
			sl_rl_agg_add(a, "web", addr, fam, 5, 7.6);
	}
	sl_rl_agg_flush(a, 8.0);
	ASSERT_EQ(e->n, 9, "events: 8 clients and one \"others\"");
	for (int i = 0; i < 8; i++) {
		snprintf(s, sizeof(s), "198.18.0.%d", 1 + i);
		ASSERT_TRUE(!strcmp(e->client[i], s), "client %d: got %s, expected %s", i,
			    e->client[i], s);
		ASSERT_EQ(e->drops[i], i ? 1 : 6, "drops of client %d", i);
	}
	ASSERT_TRUE(!strcmp(e->client[8], "others"), "last key: got %s", e->client[8]);
	ASSERT_EQ(e->drops[8], 92, "drops of the others");
	for (int i = 0; i < e->n; i++)
		sum += e->drops[i];
	ASSERT_EQ(sum, 105, "all drops are counted");
	sl_rl_agg_free(a);
	free(e);
}

static void test_rl_one_event_per_key_per_second(void **state)
{
	struct emitted *e = calloc(1, sizeof(*e));
	struct sl_rl_agg *a = sl_rl_agg_new(4, rl_collect, e);
	__be32 addr[4];
	__u8 fam;

	sl_addr_parse("2001:db8::7", addr, &fam);
	for (int i = 0; i < 10; i++)
		sl_rl_agg_add(a, "api", addr, fam, 1, 5.0 + i * 0.05);
	for (int i = 0; i < 3; i++)
		sl_rl_agg_add(a, "api", addr, fam, 1, 6.2);
	ASSERT_EQ(e->n, 1, "a drop in the next second emits the last one");
	ASSERT_EQ(e->drops[0], 10, "second 5's drops");
	ASSERT_EQ(e->second[0], 5, "second");
	sl_rl_agg_flush(a, 6.9);
	ASSERT_EQ(e->n, 1, "no event before second 6 is over");
	sl_rl_agg_flush(a, 7.0);
	ASSERT_EQ(e->n, 2, "events after second 6");
	ASSERT_EQ(e->drops[1], 3, "second 6's drops");
	ASSERT_TRUE(!strcmp(e->client[1], "2001:db8::7"), "client: got %s", e->client[1]);
	sl_rl_agg_free(a);
	free(e);
}

static int rec_cb(void *ctx, long long off, const char *type, const char *line, size_t len)
{
	json_t **out = ctx;

	json_decref(*out);
	*out = json_loadb(line, len, 0, NULL);
	return 0;
}

static void test_rl_emit_event_appends_ratelimit_drop(void **state)
{
	struct sl_events *ev = open_ev("boot-a", 0, 0, 0);
	json_t *rec = NULL, *data;
	__be32 addr[4];
	__u8 fam;

	sl_addr_parse("198.18.0.9", addr, &fam);
	sl_rl_emit_event(ev, "web", addr, fam, 1234, 1700000000);
	sl_rl_emit_event(ev, "web", NULL, 0, 7, 1700000000);
	ASSERT_EQ(sl_events_read(ev, 1, "ratelimit.drop", rec_cb, &rec, NULL), 2, "events read");
	data = json_object_get(rec, "data");
	ASSERT_TRUE(!strcmp(json_string_value(json_object_get(rec, "vip")), "web"), "vip");
	ASSERT_TRUE(!strcmp(json_string_value(json_object_get(data, "client")), "others"),
		    "client of the second event");
	ASSERT_EQ(json_integer_value(json_object_get(data, "drops")), 7, "drops");
	ASSERT_TRUE(!strcmp(json_string_value(json_object_get(data, "second")),
			    "2023-11-14T22:13:20.000000000Z"),
		    "second: got %s", json_string_value(json_object_get(data, "second")));
	json_decref(rec);
	sl_events_close(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_offsets_monotonic_and_persistent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_last_line_is_cut_and_no_offset_duplicated,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill9_restart_no_gap_no_duplicate, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reboot_after_lost_tail_never_reuses_offsets,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_clean_stop_then_reboot_no_gap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation_keeps_at_most_n_segments, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_read_older_than_earliest_reports_earliest, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_type_filter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_follower_gets_backlog_then_live_in_order, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_follower_type_filter_backlog_and_live, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_slow_follower_cut_off_memory_bounded, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fifty_followers_each_get_every_event, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_follower_hangup_is_released, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catching_up_follower_rotated_away_is_cut_off,
						setup, teardown),
		cmocka_unit_test(test_rl_million_drops_one_client_one_event),
		cmocka_unit_test(test_rl_many_clients_capped_with_others),
		cmocka_unit_test(test_rl_one_event_per_key_per_second),
		cmocka_unit_test_setup_teardown(test_rl_emit_event_appends_ratelimit_drop, setup,
						teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
