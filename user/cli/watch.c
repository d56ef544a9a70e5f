// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * stats --watch: the stats snapshot (docs/api.md, the same JSON as /stats)
 * asked for and drawn every second as a live view. Rates per second only,
 * as the agent computed them over its window, never totals. Plain ANSI
 * escapes on the alternate screen; 80 columns and the terminal's rows at most.
 *
 * While it runs the terminal reads keys one at a time without echo. It is
 * given back as it was on every way out: q, Ctrl-C, SIGTERM, SIGHUP, an error
 * (ctl_err() calls term_restore() first, so that the message lands on the
 * normal screen), exit() (atexit), and around a Ctrl-Z suspension.
 */
#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>

#include "ctl.h"
#include "../lib/addr.h"

#define WATCH_WIDTH 80	     /* the layout; a narrower terminal cuts the lines */
#define WATCH_PERIOD_MS 1000 /* one snapshot a second */
#define NAME_W 27	     /* the VIP / BACKEND column */
#define INDENT 2	     /* a backend's line under its VIP */
#define NAME_MAX_W 26	     /* a drop reason in the drops line */

/*
 * The number columns after NAME_W, right-aligned, each at least one blank
 * wider than its longest value (rate 4, bytes 6, count 6, latency 6): 80 in all.
 */
enum { C_PKTS, C_BYTES, C_NEW, C_ACTIVE, C_REQ, C_5XX, C_P95, C_P99, C__MAX };
static const int col_w[C__MAX] = { 6, 8, 6, 7, 6, 6, 7, 7 };
static const char *const col_head[C__MAX] = { "PKT/S", "BYTES/S", "NEW/S", "ACTIVE",
					      "REQ/S", "5XX/S", "P95",	   "P99" };
/* A backend's HEALTH and CIRCUIT words go where an L7 VIP has REQ/S ... P99. */
#define BE_TAIL_FMT "  %-9s %s"

/* A growing string. */
struct sbuf {
	char *p;
	size_t len, cap;
};

/* The lines of one frame, each a malloc()ed string without a newline. */
struct lines {
	char **v;
	size_t n, cap;
};

/* What the watch needs everywhere, including term_restore() from atexit(). */
static struct {
	const char *path;
	const char *vip;	 /* the one VIP to show, or NULL */
	int sigfd;		 /* SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH, SIGTSTP */
	int raw;		 /* the terminal is ours: give it back on the way out */
	struct termios saved;	 /* the terminal as we found it */
	const char *ell;	 /* the truncation marker: "…" (UTF-8) or "~" */
	json_t *reply;		 /* the last answer (owns snap) */
	const json_t *snap;	 /* its "result": the snapshot drawn last */
} w = { .sigfd = -1 };

/* ---- strings ---- */

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	char *tmp;

	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		tmp = realloc(b->p, b->cap);
		if (!tmp)
			ctl_oom();
		b->p = tmp;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void sb_addf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_addf(struct sbuf *b, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	sb_add(b, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* Columns taken by @s: everything we draw is ASCII but the marker (UTF-8, one column). */
static size_t cols_of(const char *s, size_t n)
{
	size_t c = 0, i;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			c++;
	return c;
}

/* @s into @b in at most @width columns: cut, with the marker as the last one, if longer. */
static void sb_fit(struct sbuf *b, const char *s, size_t width)
{
	size_t n = strlen(s), i, c = 0;

	if (cols_of(s, n) <= width) {
		sb_add(b, s, n);
		return;
	}
	if (!width)
		return;
	for (i = 0; i < n; i++) {
		if (((unsigned char)s[i] & 0xc0) != 0x80 && ++c == width)
			break;
	}
	sb_add(b, s, i);
	sb_str(b, w.ell);
}

/* @s left-aligned in @width columns (cut with the marker when longer). */
static void sb_left(struct sbuf *b, const char *s, size_t width)
{
	size_t start = b->len, c;

	sb_fit(b, s, width);
	for (c = cols_of(b->p + start, b->len - start); c < width; c++)
		sb_add(b, " ", 1);
}

/* @s right-aligned in @width columns (never cut: the line is cut at the end). */
static void sb_right(struct sbuf *b, const char *s, size_t width)
{
	size_t c = cols_of(s, strlen(s));

	for (; c < width; c++)
		sb_add(b, " ", 1);
	sb_str(b, s);
}

/*
 * Text from the agent, safe to draw: printable ASCII, anything else as '?',
 * so that a name cannot move the cursor or break the columns. Free it.
 */
static char *clean(const char *s)
{
	char *d = strdup(s ? s : "-"), *p;

	if (!d)
		ctl_oom();
	for (p = d; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	return d;
}

static void lines_take(struct lines *l, struct sbuf *b)
{
	char **tmp;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 32;
		tmp = realloc(l->v, l->cap * sizeof(*tmp));
		if (!tmp)
			ctl_oom();
		l->v = tmp;
	}
	if (!b->p)
		sb_add(b, "", 0);
	l->v[l->n++] = b->p;
	*b = (struct sbuf){ 0 };
}

static void lines_free(struct lines *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	*l = (struct lines){ 0 };
}

/* ---- values ---- */

/* @x scaled by 1000 until it is below 999.5: the unit letter, or 0 when not scaled. */
static char scale(double *x)
{
	static const char units[] = "kMGTPE";
	int u = -1;

	while (*x >= 999.5 && units[u + 1]) {
		*x /= 1000;
		u++;
	}
	return u < 0 ? 0 : units[u];
}

/* A rate per second in at most 4 columns: 0, 0.4, 9.9, 10, 9999, 10k, 999k, 1.2M; "-" if null. */
static const char *rate_text(const json_t *v, char *buf, size_t len)
{
	double x;
	char u;

	if (!json_is_number(v) || !(json_number_value(v) >= 0))
		return "-";
	x = json_number_value(v);
	if (x == 0)
		return "0";
	if (x < 9.95)
		snprintf(buf, len, "%.1f", x);
	else if (x < 9999.5)
		snprintf(buf, len, "%.0f", x);
	else {
		u = scale(&x); /* at least 'k': x >= 9999.5 */
		snprintf(buf, len, x < 9.95 ? "%.1f%c" : "%.0f%c", x, u);
	}
	return buf;
}

/* Bytes per second in at most 6 columns, decimal units: 512B, 9.99kB, 12.3MB, 999GB. */
static const char *bytes_text(const json_t *v, char *buf, size_t len)
{
	double x;
	char u;

	if (!json_is_number(v) || !(json_number_value(v) >= 0))
		return "-";
	x = json_number_value(v);
	u = scale(&x);
	if (!u)
		snprintf(buf, len, "%.0fB", x);
	else
		snprintf(buf, len, x < 9.995 ? "%.2f%cB" : x < 99.95 ? "%.1f%cB" : "%.0f%cB", x, u);
	return buf;
}

/* A gauge (active flows) in at most 6 columns: exact up to 999999, then 1.2M, 15M. */
static const char *count_text(const json_t *v, char *buf, size_t len)
{
	json_int_t n;
	double x;

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return "-";
	n = json_integer_value(v);
	x = (double)n / 1e6;
	if (n < 1000000)
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, n);
	else
		snprintf(buf, len, x < 9.95 ? "%.1fM" : "%.0fM", x);
	return buf;
}

/* latency_ms in at most 6 columns: 0.42ms, 12.3ms, 250ms, 1.50s, 10.0s; "-" if null. */
static const char *latency_text(const json_t *v, char *buf, size_t len)
{
	double ms;

	if (!json_is_number(v) || !(json_number_value(v) >= 0))
		return "-";
	ms = json_number_value(v);
	if (ms < 9.995)
		snprintf(buf, len, "%.2fms", ms);
	else if (ms < 99.95)
		snprintf(buf, len, "%.1fms", ms);
	else if (ms < 999.5)
		snprintf(buf, len, "%.0fms", ms);
	else if (ms < 9995)
		snprintf(buf, len, "%.2fs", ms / 1000);
	else
		snprintf(buf, len, "%.1fs", ms / 1000);
	return buf;
}

/* Seconds as 42s, 12m03s, 3h02m, 2d03h. */
static void dur_text(double s, char *buf, size_t len)
{
	long long t = s > 0 && s < 1e15 ? (long long)s : 0;

	if (t < 60)
		snprintf(buf, len, "%llds", t);
	else if (t < 3600)
		snprintf(buf, len, "%lldm%02llds", t / 60, t % 60);
	else if (t < 86400)
		snprintf(buf, len, "%lldh%02lldm", t / 3600, t % 3600 / 60);
	else
		snprintf(buf, len, "%lldd%02lldh", t / 86400, t % 86400 / 3600);
}

/* ---- the frame ---- */

static const json_t *get(const json_t *o, const char *key)
{
	return json_object_get(o, key);
}

static const char *str_or(const json_t *o, const char *key, const char *dflt)
{
	const json_t *v = get(o, key);

	return json_is_string(v) ? json_string_value(v) : dflt;
}

/* "sluiced 0.7.0  pid 42  up 3h02m  ready" ... "rates over 1.0s  12:03:04  q: quit" */
static void top_line(struct lines *l, const json_t *snap)
{
	const json_t *agent = get(snap, "agent"), *win = get(snap, "window");
	const json_t *t = get(snap, "time"), *pid = get(agent, "pid");
	struct sbuf left = { 0 }, right = { 0 };
	char up[32], hms[16] = "--:--:--";
	char *ver = clean(str_or(agent, "version", "?"));
	struct tm tm;
	time_t secs;
	size_t c;

	sb_addf(&left, "sluiced %s", ver);
	free(ver);
	if (json_is_integer(pid))
		sb_addf(&left, "  pid %" JSON_INTEGER_FORMAT, json_integer_value(pid));
	if (json_is_number(get(agent, "uptime"))) {
		dur_text(json_number_value(get(agent, "uptime")), up, sizeof(up));
		sb_addf(&left, "  up %s", up);
	}
	if (json_is_boolean(get(agent, "ready")))
		sb_str(&left, json_is_true(get(agent, "ready")) ? "  ready" : "  NOT READY");

	if (json_is_number(win))
		sb_addf(&right, "rates over %.1fs", json_number_value(win));
	else
		sb_str(&right, "rates: next frame");
	if (json_is_number(t) && json_number_value(t) > 0 && json_number_value(t) < 1e12) {
		secs = (time_t)json_number_value(t);
		if (localtime_r(&secs, &tm))
			strftime(hms, sizeof(hms), "%H:%M:%S", &tm);
	}
	sb_addf(&right, "  %s  q: quit", hms);

	c = cols_of(left.p, left.len) + 2;
	for (; c < WATCH_WIDTH - right.len; c++)
		sb_add(&left, " ", 1);
	sb_str(&left, "  ");
	sb_str(&left, right.p);
	free(right.p);
	lines_take(l, &left);
}

static void head_lines(struct lines *l)
{
	struct sbuf b = { 0 };
	int i, at = NAME_W;

	sb_left(&b, "VIP", NAME_W);
	for (i = 0; i < C__MAX; i++)
		sb_right(&b, col_head[i], (size_t)col_w[i]);
	lines_take(l, &b);
	sb_left(&b, "  BACKEND", NAME_W);
	for (i = 0; i < C_REQ; i++)
		at += col_w[i];
	sb_left(&b, "", (size_t)(at - NAME_W));
	sb_addf(&b, BE_TAIL_FMT, "HEALTH", "CIRCUIT");
	lines_take(l, &b);
}

/* The name column and the four columns a VIP and a backend share. */
static void row_start(struct sbuf *b, const char *name, int indent, const json_t *rates,
		      const json_t *active)
{
	char *n = clean(name), buf[32];

	sb_left(b, "", (size_t)indent);
	sb_left(b, n, (size_t)(NAME_W - indent));
	free(n);
	sb_right(b, rate_text(get(rates, "packets"), buf, sizeof(buf)), (size_t)col_w[C_PKTS]);
	sb_right(b, bytes_text(get(rates, "bytes"), buf, sizeof(buf)), (size_t)col_w[C_BYTES]);
	sb_right(b, rate_text(get(rates, "new_flows"), buf, sizeof(buf)), (size_t)col_w[C_NEW]);
	sb_right(b, count_text(active, buf, sizeof(buf)), (size_t)col_w[C_ACTIVE]);
}

static void backend_line(struct lines *l, const json_t *be)
{
	const char *circuit = str_or(be, "circuit", "");
	struct sbuf b = { 0 };
	char ep[80], *health, *circ;
	struct sl_endpoint e = { .port = 0 };
	const json_t *port = get(be, "port");
	const char *addr = str_or(be, "address", "?");

	if (!sl_addr_parse(addr, e.addr, &e.family) && json_is_integer(port) &&
	    json_integer_value(port) >= 0 && json_integer_value(port) <= 65535) {
		e.port = (__u16)json_integer_value(port);
		sl_endpoint_str(&e, ep, sizeof(ep));
	} else {
		snprintf(ep, sizeof(ep), "%s", addr);
	}
	row_start(&b, ep, INDENT, get(be, "rates"), get(be, "active_flows"));
	health = clean(str_or(be, "health", "-"));
	circ = clean(circuit);
	sb_addf(&b, BE_TAIL_FMT, health, circ);
	free(health);
	free(circ);
	while (b.len && b.p[b.len - 1] == ' ')
		b.p[--b.len] = 0;
	lines_take(l, &b);
}

static void vip_lines(struct lines *l, const json_t *snap, const json_t *vip)
{
	const char *name = str_or(vip, "name", "?");
	const json_t *l7 = get(get(snap, "l7"), name), *bes = get(vip, "backends"), *be;
	const json_t *lat = get(l7, "latency_ms"), *rates = get(l7, "rates");
	struct sbuf b = { 0 };
	char buf[32];
	size_t i;

	row_start(&b, name, 0, get(vip, "rates"), get(vip, "active_flows"));
	if (json_is_object(l7) || json_is_true(get(vip, "l7"))) {
		sb_right(&b, rate_text(get(rates, "requests"), buf, sizeof(buf)),
			 (size_t)col_w[C_REQ]);
		sb_right(&b, rate_text(get(rates, "errors"), buf, sizeof(buf)),
			 (size_t)col_w[C_5XX]);
		sb_right(&b, latency_text(get(lat, "p95"), buf, sizeof(buf)),
			 (size_t)col_w[C_P95]);
		sb_right(&b, latency_text(get(lat, "p99"), buf, sizeof(buf)),
			 (size_t)col_w[C_P99]);
	}
	lines_take(l, &b);
	json_array_foreach(bes, i, be)
		if (json_is_object(be))
			backend_line(l, be);
}

/* "drops: rl_conn 12/s  fragment 0.5/s": the reasons counted at least once, wrapped. */
static void drop_lines(struct lines *l, const json_t *snap)
{
	const json_t *drops = get(snap, "drops"), *rates = get(snap, "drop_rates"), *v;
	struct sbuf b = { 0 }, item = { 0 };
	const char *key, *r;
	char buf[32], *k;
	int any = 0;

	sb_str(&b, "drops:");
	json_object_foreach((json_t *)drops, key, v) {
		if (!json_is_integer(v) || !json_integer_value(v))
			continue;
		k = clean(key);
		sb_str(&item, "  ");
		sb_fit(&item, k, NAME_MAX_W);
		free(k);
		r = rate_text(get(rates, key), buf, sizeof(buf));
		sb_addf(&item, " %s%s", r, strcmp(r, "-") ? "/s" : "");
		if (any && cols_of(b.p, b.len) + cols_of(item.p, item.len) > WATCH_WIDTH) {
			lines_take(l, &b);
			sb_str(&b, "      ");
		}
		sb_add(&b, item.p, item.len);
		item.len = 0;
		any = 1;
	}
	free(item.p);
	if (!any)
		sb_str(&b, " none");
	lines_take(l, &b);
}

/* Move @from's lines to the end of @to. */
static void lines_move(struct lines *to, struct lines *from, size_t n)
{
	size_t i;

	for (i = 0; i < from->n; i++) {
		if (i < n)
			lines_take(to, &(struct sbuf){ .p = from->v[i] });
		else
			free(from->v[i]);
	}
	free(from->v);
	*from = (struct lines){ 0 };
}

/*
 * The frame for a terminal of @rows: the top line and the column heads, the
 * VIPs and their backends, the drops. When that is too tall, as many VIP and
 * backend lines as fit and "… N more" instead of the others (the drops stay);
 * on a terminal too short even for that, the first rows and "… N more".
 */
static void frame(struct lines *out, const json_t *snap, size_t rows)
{
	struct lines body = { 0 }, foot = { 0 };
	const json_t *vips = get(snap, "vips"), *v;
	const char *ell = w.ell[1] ? w.ell : "...";
	struct sbuf b = { 0 };
	size_t i, keep, more;
	char *n;

	*out = (struct lines){ 0 };
	top_line(out, snap);
	head_lines(out);
	json_array_foreach(vips, i, v) {
		if (w.vip && strcmp(str_or(v, "name", ""), w.vip))
			continue; /* an agent that ignores the filter */
		vip_lines(&body, snap, v);
	}
	if (!body.n && w.vip) {
		n = clean(w.vip);
		sb_addf(&b, "no vip '%s' in sluiced's answer", n);
		free(n);
		lines_take(&body, &b);
	} else if (!body.n) {
		sb_str(&b, "no VIPs (add one with 'sluicectl vip add')");
		lines_take(&body, &b);
	}
	drop_lines(&foot, snap);

	keep = body.n;
	if (out->n + body.n + foot.n > rows && out->n + foot.n + 2 <= rows)
		keep = rows - out->n - foot.n - 1;
	more = body.n - keep;
	lines_move(out, &body, keep);
	if (more) {
		sb_addf(&b, "%s %zu more (a taller window shows them, or watch one VIP)", ell,
			more);
		lines_take(out, &b);
	}
	lines_move(out, &foot, foot.n);
	if (out->n > rows) {
		more = out->n - rows + 1;
		while (out->n > (rows ? rows - 1 : 0))
			free(out->v[--out->n]);
		sb_addf(&b, "%s %zu more", ell, more);
		lines_take(out, &b);
	}
}

/* ---- the terminal ---- */

/* All of @n bytes to stdout. Returns 0 or a negative errno. */
static int write_all(const char *p, size_t n)
{
	ssize_t r;

	while (n) {
		r = write(STDOUT_FILENO, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Show the cursor, leave the alternate screen, put the modes back. Idempotent. */
static void term_restore(void)
{
	static const char leave[] = "\033[?25h\033[?1049l";

	if (!w.raw)
		return;
	w.raw = 0;
	(void)write_all(leave, sizeof(leave) - 1);
	tcsetattr(STDIN_FILENO, TCSANOW, &w.saved);
}

/* Keys one at a time without echo (signals stay: Ctrl-C is SIGINT), on the alternate screen. */
static int term_raw(void)
{
	static const char enter[] = "\033[?1049h\033[?25l\033[H\033[2J";
	struct termios t;

	if (tcgetattr(STDIN_FILENO, &w.saved)) {
		ctl_err("cannot read the terminal's modes: %s", strerror(errno));
		return SL_CTL_REFUSED;
	}
	t = w.saved;
	t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t)) {
		ctl_err("cannot set the terminal to read single keys: %s", strerror(errno));
		return SL_CTL_REFUSED;
	}
	w.raw = 1;
	if (write_all(enter, sizeof(enter) - 1)) {
		term_restore();
		ctl_err("cannot write to standard output: %s", strerror(errno));
		return SL_CTL_REFUSED;
	}
	return SL_CTL_OK;
}

/*
 * Draw the last snapshot: cursor home, each line then clear to its end, clear
 * below; nothing is erased before it is drawn over, so nothing flickers.
 */
static int draw(void)
{
	int rows = 24, cols = WATCH_WIDTH, err;
	struct sbuf b = { 0 }, cut = { 0 };
	struct lines l = { 0 };
	struct winsize ws;
	size_t i, width;

	if (!w.snap || !w.raw)
		return SL_CTL_OK;
	if (!ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ws.ws_row && ws.ws_col) {
		rows = ws.ws_row;
		cols = ws.ws_col;
	}
	width = cols < WATCH_WIDTH ? (size_t)cols : WATCH_WIDTH;
	frame(&l, w.snap, (size_t)rows);
	sb_str(&b, "\033[H");
	for (i = 0; i < l.n; i++) {
		cut.len = 0;
		sb_fit(&cut, l.v[i], width);
		sb_add(&b, cut.p ? cut.p : "", cut.len);
		/* At the last column the cursor waits to wrap: \033[K there would erase it. */
		if (cols_of(cut.p ? cut.p : "", cut.len) < (size_t)cols)
			sb_str(&b, "\033[K");
		if (i + 1 < l.n)
			sb_str(&b, "\r\n");
	}
	if (l.n < (size_t)rows)
		sb_str(&b, "\r\n\033[J");
	err = write_all(b.p, b.len);
	free(b.p);
	free(cut.p);
	lines_free(&l);
	if (err) {
		term_restore();
		ctl_err("cannot write to standard output: %s", strerror(-err));
		return SL_CTL_REFUSED;
	}
	return SL_CTL_OK;
}

/* ---- the loop ---- */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Ask for a snapshot; keep it in w.snap. Returns 0, CTL_STREAM_SIGNAL when a
 * key or a signal came first (the request is dropped), or an exit status.
 */
static int fetch(void)
{
	int fds[2] = { w.sigfd, STDIN_FILENO };
	const json_t *result, *vips, *v;
	json_t *req, *reply;
	size_t i;
	int ret;

	req = w.vip ? json_pack("{s:s, s:{s:s}}", "cmd", "stats", "args", "vip", w.vip)
		    : json_pack("{s:s}", "cmd", "stats");
	if (!req)
		ctl_oom();
	ret = ctl_call_intr(w.path, req, fds, w.raw ? 2 : 1, &reply);
	json_decref(req);
	if (ret)
		return ret;
	result = get(reply, "result");
	vips = get(result, "vips");
	ret = json_is_object(result) && json_is_array(vips) ? SL_CTL_OK : SL_CTL_UNREACHABLE;
	json_array_foreach(vips, i, v)
		if (!json_is_object(v))
			ret = SL_CTL_UNREACHABLE;
	if (ret) {
		ctl_err("sluiced's answer to stats is not a snapshot with a \"vips\" list of objects (is sluicectl older than sluiced?)");
		json_decref(reply);
		return ret;
	}
	json_decref(w.reply);
	w.reply = reply;
	w.snap = result;
	return SL_CTL_OK;
}

/* Ctrl-Z: give the terminal back, stop; when continued (fg), take it again and redraw. */
static int suspend(void)
{
	int was_raw = w.raw, ret;

	term_restore();
	raise(SIGSTOP);
	if (!was_raw)
		return SL_CTL_OK; /* before the first frame: the loop takes it */
	ret = term_raw();
	return ret ? ret : draw();
}

/*
 * Handle what is waiting on stdin and the signalfd, without blocking. Returns
 * 0 (*quit set on q, Ctrl-C, SIGTERM, SIGHUP, SIGQUIT) or an exit status.
 */
static int handle_input(int *quit)
{
	struct pollfd p[2] = { { .fd = w.sigfd, .events = POLLIN },
			       { .fd = STDIN_FILENO, .events = POLLIN } };
	struct signalfd_siginfo si;
	char keys[64];
	ssize_t n, i;
	int ret;

	if (poll(p, w.raw ? 2 : 1, 0) < 0)
		return errno == EINTR ? SL_CTL_OK : SL_CTL_REFUSED;
	if (p[0].revents && read(w.sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGWINCH:
			return draw();
		case SIGTSTP:
			return suspend();
		default: /* SIGINT, SIGTERM, SIGHUP, SIGQUIT */
			*quit = 1;
			return SL_CTL_OK;
		}
	}
	if (!w.raw || !p[1].revents)
		return SL_CTL_OK;
	n = read(STDIN_FILENO, keys, sizeof(keys));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return SL_CTL_OK;
	if (n <= 0) {
		ret = n ? errno : 0;
		term_restore();
		ctl_err("cannot read keys from the terminal: %s",
			ret ? strerror(ret) : "it was closed");
		return SL_CTL_REFUSED;
	}
	for (i = 0; i < n; i++)
		if (keys[i] == 'q' || keys[i] == 'Q' || keys[i] == 3 /* Ctrl-C without ISIG */)
			*quit = 1;
	return SL_CTL_OK;
}

static int watch_loop(void)
{
	struct pollfd p[2] = { { .fd = w.sigfd, .events = POLLIN },
			       { .fd = STDIN_FILENO, .events = POLLIN } };
	long long next = now_ms(), t;
	int ret, quit = 0, n;

	for (;;) {
		ret = fetch();
		if (ret == CTL_STREAM_SIGNAL) {
			ret = handle_input(&quit);
			if (ret || quit)
				return ret;
			continue; /* a key or a resize: ask again */
		}
		if (!ret && !w.raw)
			ret = term_raw();
		if (!ret)
			ret = draw();
		if (ret)
			return ret;
		/* Every second on the second it started; after a slow answer, a second from now. */
		t = now_ms();
		next += WATCH_PERIOD_MS;
		if (next <= t)
			next = t + WATCH_PERIOD_MS;
		while ((t = now_ms()) < next) {
			n = poll(p, 2, (int)(next - t));
			if (n < 0 && errno != EINTR) {
				ret = errno;
				term_restore();
				ctl_err("cannot wait for keys: %s", strerror(ret));
				return SL_CTL_REFUSED;
			}
			if (n > 0) {
				ret = handle_input(&quit);
				if (ret || quit)
					return ret;
			}
		}
	}
}

int ctl_watch(const char *path, const char *vip)
{
	const char *codeset;
	sigset_t mask;
	int ret;

	w.path = path;
	w.vip = vip;
	/* The marker is "…" where the terminal speaks UTF-8, as the locale says. */
	setlocale(LC_CTYPE, "");
	codeset = nl_langinfo(CODESET);
	w.ell = codeset && !strcmp(codeset, "UTF-8") ? "\xe2\x80\xa6" : "~";

	/* Signals as readable bytes: each is handled between two frames, never inside one. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGQUIT);
	sigaddset(&mask, SIGWINCH);
	sigaddset(&mask, SIGTSTP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL)) {
		ctl_err("cannot block signals for stats --watch: %s", strerror(errno));
		return SL_CTL_REFUSED;
	}
	w.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (w.sigfd < 0) {
		ctl_err("cannot create a signalfd for stats --watch: %s", strerror(errno));
		return SL_CTL_REFUSED;
	}
	ctl_set_err_hook(term_restore);
	atexit(term_restore);

	ret = watch_loop();
	term_restore();
	ctl_set_err_hook(NULL);
	close(w.sigfd);
	w.sigfd = -1;
	json_decref(w.reply);
	w.reply = NULL;
	w.snap = NULL;
	return ret;
}
