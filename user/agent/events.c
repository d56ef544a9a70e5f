// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The event stream store (see events.h for the format, the offset and
 * durability rules, and how followers are served and cut off).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "events.h"
#include "../lib/addr.h"
#include "../lib/log.h"

#define SEG_FMT "events-%020lld.jsonl"
#define SEG_NAME_LEN 34 /* "events-" + 20 digits + ".jsonl" + NUL */
#define RESERVE_NAME "events.reserve"
#define BOOT_ID_LEN 36
#define READ_CHUNK 65536
#define ERR_LINE_MAX 256

/* Where a reader or a catching-up follower is in the stored events. */
struct cursor {
	long long base; /* segment being read */
	int fd;		/* -1: not open */
	char *buf;
	size_t cap, start, end; /* unparsed bytes are buf[start, end) */
	long long want;		/* skip records before this offset */
};

enum fstate { F_CATCHUP, F_LIVE, F_CLOSING };

struct sl_events_follower {
	int fd;
	enum fstate state;
	char *types; /* NULL: all */
	char *buf;
	size_t head, len, cap;
	int mid_line; /* the last byte sent was not a '\n' */
	int dirty;    /* queued since the last send attempt */
	__u32 events; /* epoll interest now */
	unsigned idx; /* in ev->fl */
	size_t bound; /* opts.follower_buf */
	double deadline; /* F_CLOSING: close by then (monotonic) */
	struct cursor cur;
};

struct sl_events {
	char dir[PATH_MAX - 64]; /* room for "/events-<20 digits>.jsonl" */
	struct sl_events_opts o;
	char boot_id[BOOT_ID_LEN + 1];
	long long *segs; /* first offsets of the kept segments, oldest first */
	unsigned nsegs;
	int seg_fd;   /* the last segment, appended to */
	size_t seg_size;
	int reserve_fd;
	long long next, ceiling;
	long long skip_from, skip_to;
	int unsynced;
	int ep, kick; /* epoll over the followers' sockets, eventfd for "new events queued" */
	int kicked;
	struct sl_events_follower **fl;
	unsigned nfl, capfl;
	__u64 cut_off;
};

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void seg_path(const struct sl_events *ev, long long base, char *buf, size_t len)
{
	snprintf(buf, len, "%s/" SEG_FMT, ev->dir, base);
}

/* ---- the ceiling: offsets handed out stay below it, even across a power loss ---- */

static int reserve_write(struct sl_events *ev, long long ceiling)
{
	char line[BOOT_ID_LEN + 32];
	int n = snprintf(line, sizeof(line), "%-36s %020lld\n", ev->boot_id, ceiling);

	if (pwrite(ev->reserve_fd, line, n, 0) != n || fdatasync(ev->reserve_fd)) {
		int err = errno ? errno : EIO;

		pr_err("events %s/" RESERVE_NAME ": cannot record offset ceiling %lld: %s", ev->dir,
		       ceiling, strerror(err));
		return -err;
	}
	ev->ceiling = ceiling;
	return 0;
}

static int read_boot_id(struct sl_events *ev)
{
	ssize_t n;
	int fd;

	if (ev->o.boot_id) {
		snprintf(ev->boot_id, sizeof(ev->boot_id), "%s", ev->o.boot_id);
		return 0;
	}
	fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, ev->boot_id, BOOT_ID_LEN);
	close(fd);
	if (n <= 0)
		return -EIO;
	ev->boot_id[n] = 0;
	ev->boot_id[strcspn(ev->boot_id, "\n")] = 0;
	return 0;
}

/* ---- segments ---- */

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

static int scan_segments(struct sl_events *ev)
{
	unsigned cap = ev->o.max_segments + 2;
	struct dirent *de;
	DIR *d = opendir(ev->dir);

	if (!d)
		return -errno;
	ev->segs = calloc(cap, sizeof(*ev->segs));
	if (!ev->segs) {
		closedir(d);
		return -ENOMEM;
	}
	while ((de = readdir(d))) {
		char name[SEG_NAME_LEN];
		long long base;
		int used = 0;

		if (strlen(de->d_name) != SEG_NAME_LEN - 1 ||
		    sscanf(de->d_name, "events-%20lld.jsonl%n", &base, &used) != 1 ||
		    used != SEG_NAME_LEN - 1 || base < 1)
			continue;
		snprintf(name, sizeof(name), SEG_FMT, base);
		if (strcmp(name, de->d_name))
			continue;
		if (ev->nsegs == cap) {
			long long *n = realloc(ev->segs, (cap *= 2) * sizeof(*n));

			if (!n) {
				closedir(d);
				return -ENOMEM;
			}
			ev->segs = n;
		}
		ev->segs[ev->nsegs++] = base;
	}
	closedir(d);
	qsort(ev->segs, ev->nsegs, sizeof(*ev->segs), cmp_ll);
	return 0;
}

/* Offset of a stored line, or -1 when it is not an event record. */
static long long line_offset(const char *line, size_t len, char *type, size_t typelen)
{
	json_t *rec = json_loadb(line, len, 0, NULL);
	json_t *off = json_object_get(rec, "offset");
	const char *t = json_string_value(json_object_get(rec, "type"));
	long long o = json_is_integer(off) && t ? json_integer_value(off) : -1;

	if (type && t)
		snprintf(type, typelen, "%s", t);
	json_decref(rec);
	return o;
}

/*
 * Cut a torn last record off the last segment and return the offset of the
 * last good record in it (base - 1 when there is none), or -errno.
 */
static long long recover_last(struct sl_events *ev, int fd, long long base)
{
	size_t cap = 0, len = 0, good, prev;
	int torn;
	long long last = base - 1;
	char *buf = NULL;
	ssize_t n;

	for (;;) {
		if (len + READ_CHUNK > cap) {
			char *nb = realloc(buf, cap = cap ? cap * 2 : 4 * READ_CHUNK);

			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		n = pread(fd, buf + len, cap - len, (off_t)len);
		if (n < 0) {
			free(buf);
			return -errno;
		}
		if (!n)
			break;
		len += n;
	}
	/* good: the end of the last complete line; prev: where that line starts */
	for (good = len; good && buf[good - 1] != '\n'; good--)
		;
	torn = good < len;
	for (prev = good ? good - 1 : 0; prev && buf[prev - 1] != '\n'; prev--)
		;
	if (good) {
		last = line_offset(buf + prev, good - 1 - prev, NULL, 0);
		if (last < 0) {
			pr_warn("events %s: last record of segment %lld (at byte %zu) is not "
				"valid; dropping it",
				ev->dir, base, prev);
			good = prev;
			last = base - 1;
			/* the record before it tells where numbering goes on */
			if (prev) {
				size_t p2;

				for (p2 = prev - 1; p2 && buf[p2 - 1] != '\n'; p2--)
					;
				last = line_offset(buf + p2, prev - 1 - p2, NULL, 0);
				if (last < 0) {
					pr_err("events %s: segment %lld is damaged near byte %zu",
					       ev->dir, base, p2);
					free(buf);
					return -EBADMSG;
				}
			}
		}
	}
	if (good < len) {
		if (torn)
			pr_warn("events %s: last record of segment %lld (at byte %zu) is cut "
				"short; dropping it",
				ev->dir, base, good);
		if (ftruncate(fd, (off_t)good)) {
			int err = errno;

			free(buf);
			return -err;
		}
	}
	free(buf);
	ev->seg_size = good;
	return last;
}

static int seg_create(struct sl_events *ev, long long base)
{
	char path[PATH_MAX];
	int fd;

	seg_path(ev, base, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0) {
		int err = errno;

		pr_err("events %s: cannot create segment %s: %s", ev->dir, path, strerror(err));
		return -err;
	}
	if (ev->seg_fd >= 0)
		close(ev->seg_fd);
	ev->seg_fd = fd;
	ev->seg_size = 0;
	ev->unsynced = 0;
	ev->segs[ev->nsegs++] = base;
	return 0;
}

static void follower_cut(struct sl_events *ev, struct sl_events_follower *f, long long at,
			 int gone);

/* Remove the oldest segments beyond max_segments; catching-up readers in them are cut off. */
static void seg_trim(struct sl_events *ev)
{
	while (ev->nsegs > ev->o.max_segments) {
		long long base = ev->segs[0];
		char path[PATH_MAX];
		unsigned i;

		seg_path(ev, base, path, sizeof(path));
		if (unlink(path) && errno != ENOENT)
			pr_warn("events %s: cannot remove old segment %s: %s", ev->dir, path,
				strerror(errno));
		memmove(ev->segs, ev->segs + 1, (ev->nsegs - 1) * sizeof(*ev->segs));
		ev->nsegs--;
		for (i = 0; i < ev->nfl; i++) {
			struct sl_events_follower *f = ev->fl[i];

			if (f->state == F_CATCHUP && f->cur.base <= base)
				follower_cut(ev, f, f->cur.want, 1);
		}
	}
}

struct sl_events *sl_events_open(const char *dir, const struct sl_events_opts *o)
{
	struct sl_events *ev = calloc(1, sizeof(*ev));
	char path[PATH_MAX], line[BOOT_ID_LEN + 32];
	struct epoll_event ee = { .events = EPOLLIN };
	long long last = 0, old_ceiling = 0;
	char old_boot[BOOT_ID_LEN + 1] = "";
	int err, fd;
	ssize_t n;

	if (!ev)
		return NULL;
	ev->seg_fd = ev->reserve_fd = ev->ep = ev->kick = -1;
	if (o)
		ev->o = *o;
	if (!ev->o.segment_bytes)
		ev->o.segment_bytes = 4u << 20;
	if (!ev->o.max_segments)
		ev->o.max_segments = 8;
	if (ev->o.max_segments < 2)
		ev->o.max_segments = 2;
	if (!ev->o.follower_buf)
		ev->o.follower_buf = 256u << 10;
	if (!ev->o.reserve_step)
		ev->o.reserve_step = 4096;
	if (!ev->o.cutoff_grace_ms)
		ev->o.cutoff_grace_ms = 10000;
	ev->o.boot_id = NULL; /* not kept: the caller's string */
	if (o && o->boot_id)
		snprintf(ev->boot_id, sizeof(ev->boot_id), "%s", o->boot_id);
	else if ((err = read_boot_id(ev)))
		goto fail_early;
	if (strlen(dir) >= sizeof(ev->dir)) {
		err = -ENAMETOOLONG;
		pr_err("events %s: the directory's path is too long", dir);
		goto fail_early;
	}
	snprintf(ev->dir, sizeof(ev->dir), "%s", dir);
	if (mkdir(dir, 0700) && errno != EEXIST) {
		err = -errno;
		pr_err("events %s: cannot create the directory: %s", dir, strerror(-err));
		goto fail_early;
	}
	if ((err = scan_segments(ev))) {
		pr_err("events %s: cannot list segments: %s", dir, strerror(-err));
		goto fail;
	}
	seg_trim(ev);

	snprintf(path, sizeof(path), "%s/" RESERVE_NAME, dir);
	ev->reserve_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (ev->reserve_fd < 0) {
		err = -errno;
		pr_err("events %s: cannot open: %s", path, strerror(-err));
		goto fail;
	}
	n = pread(ev->reserve_fd, line, sizeof(line) - 1, 0);
	if (n > 0) {
		line[n] = 0;
		if (sscanf(line, "%36s %lld", old_boot, &old_ceiling) != 2)
			old_ceiling = 0;
	}

	if (ev->nsegs) {
		long long base = ev->segs[ev->nsegs - 1];

		seg_path(ev, base, path, sizeof(path));
		fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);
		if (fd < 0) {
			err = -errno;
			pr_err("events %s: cannot open: %s", path, strerror(-err));
			goto fail;
		}
		last = recover_last(ev, fd, base);
		if (last < 0) {
			err = (int)last;
			close(fd);
			goto fail;
		}
		ev->seg_fd = fd;
	}
	ev->next = last + 1;
	if (strcmp(old_boot, ev->boot_id) && old_ceiling > ev->next) {
		/* Another boot: the page cache, and records followers saw, may be lost. */
		pr_warn("events %s: restarted after a reboot with offsets up to %lld possibly "
			"handed out; numbering goes on from %lld",
			dir, old_ceiling - 1, old_ceiling);
		ev->skip_from = ev->next;
		ev->skip_to = old_ceiling;
		ev->next = old_ceiling;
	}
	/* Keep "a segment's name is its first offset" true across a skip. */
	if (ev->nsegs && ev->seg_size == 0 && ev->segs[ev->nsegs - 1] != ev->next) {
		seg_path(ev, ev->segs[ev->nsegs - 1], path, sizeof(path));
		unlink(path);
		ev->nsegs--;
		close(ev->seg_fd);
		ev->seg_fd = -1;
	}
	if (!ev->nsegs || ev->segs[ev->nsegs - 1] != ev->next) {
		if (ev->nsegs && ev->segs[ev->nsegs - 1] < ev->next && ev->seg_size &&
		    !ev->skip_to)
			; /* the usual case: go on appending to the last segment */
		else if ((err = seg_create(ev, ev->next)))
			goto fail;
		seg_trim(ev);
	}
	if ((err = reserve_write(ev, ev->next + ev->o.reserve_step)))
		goto fail;

	ev->ep = epoll_create1(EPOLL_CLOEXEC);
	ev->kick = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ev->ep < 0 || ev->kick < 0) {
		err = -errno;
		goto fail;
	}
	ee.data.ptr = NULL;
	if (epoll_ctl(ev->ep, EPOLL_CTL_ADD, ev->kick, &ee)) {
		err = -errno;
		goto fail;
	}
	return ev;
fail:
	if (ev->seg_fd >= 0)
		close(ev->seg_fd);
	if (ev->reserve_fd >= 0)
		close(ev->reserve_fd);
	if (ev->ep >= 0)
		close(ev->ep);
	if (ev->kick >= 0)
		close(ev->kick);
	free(ev->segs);
fail_early:
	free(ev);
	errno = -err;
	return NULL;
}

static void follower_free(struct sl_events *ev, unsigned idx);

void sl_events_close(struct sl_events *ev)
{
	if (!ev)
		return;
	while (ev->nfl)
		follower_free(ev, ev->nfl - 1);
	/* A clean stop: everything is on disk, so the next boot needs no gap. */
	if (!sl_events_sync(ev))
		reserve_write(ev, ev->next);
	close(ev->seg_fd);
	close(ev->reserve_fd);
	close(ev->ep);
	close(ev->kick);
	free(ev->fl);
	free(ev->segs);
	free(ev);
}

long long sl_events_earliest(const struct sl_events *ev)
{
	return ev->nsegs ? ev->segs[0] : ev->next;
}

long long sl_events_next_offset(const struct sl_events *ev)
{
	return ev->next;
}

int sl_events_skipped(const struct sl_events *ev, long long *from, long long *to)
{
	if (!ev->skip_to)
		return 0;
	*from = ev->skip_from;
	*to = ev->skip_to;
	return 1;
}

int sl_events_sync(struct sl_events *ev)
{
	if (!ev->unsynced)
		return 0;
	if (fdatasync(ev->seg_fd))
		return -errno;
	ev->unsynced = 0;
	return 0;
}

int sl_events_fd(const struct sl_events *ev)
{
	return ev->ep;
}

void sl_events_stats(const struct sl_events *ev, struct sl_events_stats *s)
{
	unsigned i;

	memset(s, 0, sizeof(*s));
	s->followers = ev->nfl;
	s->cut_off = ev->cut_off;
	for (i = 0; i < ev->nfl; i++)
		s->held += ev->fl[i]->cap;
}

int sl_events_type_match(const char *filter, const char *type)
{
	const char *p = filter;

	if (!filter || !*filter)
		return 1;
	while (*p) {
		size_t n = strcspn(p, ",");

		if (n && !strncmp(p, type, n) && (type[n] == 0 || type[n] == '.'))
			return 1;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

int sl_events_check_from(const struct sl_events *ev, long long from, char *err, size_t errlen)
{
	long long earliest = sl_events_earliest(ev);

	if (from < 0) {
		snprintf(err, errlen, "offset %lld is not valid: offsets start at 1", from);
		return -ERANGE;
	}
	if (from && from < earliest) {
		snprintf(err, errlen,
			 "offset %lld is no longer kept; the earliest is %lld (use --from %lld)",
			 from, earliest, earliest);
		return -ERANGE;
	}
	if (from > ev->next) {
		snprintf(err, errlen, "offset %lld is not reached yet; the next event will be %lld",
			 from, ev->next);
		return -ERANGE;
	}
	return 0;
}

/* ---- append ---- */

static void follower_queue_live(struct sl_events *ev, struct sl_events_follower *f,
				long long off, const char *type, const char *line, size_t len);

long long sl_events_append(struct sl_events *ev, const char *type, const char *vip,
			   const char *backend, json_t *data, double now)
{
	json_t *rec = json_object();
	char ts[48], *line = NULL;
	long long off = ev->next;
	size_t len;
	ssize_t n;
	unsigned i;
	int err;

	if (!type || !*type || (data && !json_is_object(data))) {
		json_decref(rec);
		return -EINVAL;
	}
	sl_rfc3339(now, ts, sizeof(ts));
	if (!rec || json_object_set_new(rec, "offset", json_integer(off)) ||
	    json_object_set_new(rec, "ts", json_string(ts)) ||
	    json_object_set_new(rec, "type", json_string(type)) ||
	    (vip && json_object_set_new(rec, "vip", json_string(vip))) ||
	    (backend && json_object_set_new(rec, "backend", json_string(backend))) ||
	    json_object_set_new(rec, "data", data ? json_incref(data) : json_object()) ||
	    !(line = json_dumps(rec, JSON_COMPACT))) {
		json_decref(rec);
		return -ENOMEM;
	}
	json_decref(rec);
	len = strlen(line);
	line[len++] = '\n'; /* json_dumps leaves room for the terminator */

	if (off >= ev->ceiling && (err = reserve_write(ev, off + ev->o.reserve_step)))
		goto out;
	if (ev->seg_size && ev->seg_size + len > ev->o.segment_bytes) {
		if ((err = sl_events_sync(ev)) || (err = seg_create(ev, off)))
			goto out;
		seg_trim(ev);
	}
	n = write(ev->seg_fd, line, len);
	if (n != (ssize_t)len) {
		err = n < 0 ? -errno : -EIO;
		pr_err("events %s: cannot append event %lld: %s", ev->dir, off, strerror(-err));
		/* Leave no partial record behind: it was never published. */
		if (n > 0 && ftruncate(ev->seg_fd, (off_t)ev->seg_size))
			pr_err("events %s: cannot cut a partial record off: %s", ev->dir,
			       strerror(errno));
		goto out;
	}
	ev->seg_size += len;
	ev->unsynced = 1;
	ev->next++;
	for (i = 0; i < ev->nfl; i++)
		if (ev->fl[i]->state == F_LIVE)
			follower_queue_live(ev, ev->fl[i], off, type, line, len);
	err = 0;
out:
	free(line);
	return err ? err : off;
}

/* ---- reading stored events ---- */

static void cursor_close(struct cursor *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
	c->cap = c->start = c->end = 0;
}

static int cursor_open_seg(struct sl_events *ev, struct cursor *c, long long base)
{
	char path[PATH_MAX];

	if (c->fd >= 0)
		close(c->fd);
	seg_path(ev, base, path, sizeof(path));
	c->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (c->fd < 0)
		return -errno;
	c->base = base;
	c->start = c->end = 0;
	return 0;
}

/* Position @c at the segment holding @from (>= earliest). */
static int cursor_init(struct sl_events *ev, struct cursor *c, long long from)
{
	unsigned i = 0;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->want = from;
	while (i + 1 < ev->nsegs && ev->segs[i + 1] <= from)
		i++;
	return cursor_open_seg(ev, c, ev->segs[i]);
}

/*
 * The next stored record at or after c->want: 1 with *line, *len (no '\n'),
 * *off and @type set; 0 at the end of what is stored; -errno.
 */
static int cursor_next(struct sl_events *ev, struct cursor *c, const char **line, size_t *len,
		       long long *off, char *type, size_t typelen)
{
	for (;;) {
		char *nl = c->end > c->start ? memchr(c->buf + c->start, '\n', c->end - c->start)
					     : NULL;
		ssize_t n;
		unsigned i;

		if (nl) {
			char *l = c->buf + c->start;
			size_t ll = (size_t)(nl - l);
			long long o = line_offset(l, ll, type, typelen);

			c->start += ll + 1;
			if (o < 0 || o < c->want)
				continue;
			c->want = o + 1;
			*line = l;
			*len = ll;
			*off = o;
			return 1;
		}
		if (c->start) {
			memmove(c->buf, c->buf + c->start, c->end - c->start);
			c->end -= c->start;
			c->start = 0;
		}
		if (c->cap - c->end < READ_CHUNK / 2) {
			char *nb = realloc(c->buf, c->cap ? c->cap * 2 : READ_CHUNK);

			if (!nb)
				return -ENOMEM;
			c->buf = nb;
			c->cap = c->cap ? c->cap * 2 : READ_CHUNK;
		}
		n = read(c->fd, c->buf + c->end, c->cap - c->end);
		if (n < 0)
			return -errno;
		if (n) {
			c->end += n;
			continue;
		}
		/* The end of this segment: on to the next one, if any. */
		for (i = 0; i < ev->nsegs && ev->segs[i] <= c->base; i++)
			;
		if (i == ev->nsegs)
			return 0;
		if (c->base < ev->segs[0])
			return -ERANGE; /* its successor may be gone as well */
		n = cursor_open_seg(ev, c, ev->segs[i]);
		if (n)
			return (int)n;
	}
}

long long sl_events_read(struct sl_events *ev, long long from, const char *types, sl_events_cb cb,
			 void *ctx, long long *earliest)
{
	char type[64], msg[160];
	long long count = 0, off;
	struct cursor c;
	const char *line;
	size_t len;
	int r;

	if (sl_events_check_from(ev, from, msg, sizeof(msg))) {
		if (earliest)
			*earliest = sl_events_earliest(ev);
		return -ERANGE;
	}
	if (!from)
		from = sl_events_earliest(ev);
	if ((r = cursor_init(ev, &c, from))) {
		cursor_close(&c);
		return r;
	}
	while ((r = cursor_next(ev, &c, &line, &len, &off, type, sizeof(type))) > 0) {
		if (!sl_events_type_match(types, type))
			continue;
		count++;
		if (cb(ctx, off, type, line, len))
			break;
	}
	cursor_close(&c);
	return r < 0 ? r : count;
}

/* ---- followers ---- */

static void follower_set_interest(struct sl_events *ev, struct sl_events_follower *f)
{
	__u32 want = (f->len || f->state == F_CATCHUP) ? EPOLLOUT : 0;
	struct epoll_event ee = { .events = want, .data.ptr = f };

	if (want != f->events && !epoll_ctl(ev->ep, EPOLL_CTL_MOD, f->fd, &ee))
		f->events = want;
}

static void follower_kick(struct sl_events *ev, struct sl_events_follower *f)
{
	__u64 one = 1;

	f->dirty = 1;
	if (!ev->kicked && write(ev->kick, &one, sizeof(one)) == sizeof(one))
		ev->kicked = 1;
}

/* Make room for @n more bytes; the caller has checked the bound. */
static int follower_room(struct sl_events_follower *f, size_t n)
{
	if (f->head && f->head + f->len + n > f->cap) {
		memmove(f->buf, f->buf + f->head, f->len);
		f->head = 0;
	}
	if (f->len + n > f->cap) {
		size_t cap = f->cap ? f->cap : 4096;
		char *nb;

		while (cap < f->len + n)
			cap *= 2;
		/* no more than the bound, unless one line is bigger */
		if (cap > f->bound)
			cap = f->len + n > f->bound ? f->len + n : f->bound;
		nb = realloc(f->buf, cap);
		if (!nb)
			return -ENOMEM;
		f->buf = nb;
		f->cap = cap;
	}
	return 0;
}

static void follower_put(struct sl_events_follower *f, const char *s, size_t n)
{
	memcpy(f->buf + f->head + f->len, s, n);
	f->len += n;
}

/*
 * Stop following: drop what is queued past the line being sent, and queue
 * the last line saying where to pick up. @gone: @at is no longer stored.
 */
static void follower_cut(struct sl_events *ev, struct sl_events_follower *f, long long at,
			 int gone)
{
	char msg[ERR_LINE_MAX];
	size_t keep = 0;
	long long earliest = sl_events_earliest(ev);
	int n;

	if (f->mid_line && f->len) {
		char *nl = memchr(f->buf + f->head, '\n', f->len);

		keep = nl ? (size_t)(nl - (f->buf + f->head)) + 1 : f->len;
	}
	if (keep < f->len) {
		/* the first dropped line is where the client picks up */
		const char *p = f->buf + f->head + keep;

		if (!strncmp(p, "{\"offset\":", 10))
			at = strtoll(p + 10, NULL, 10);
	}
	if (gone && at < earliest)
		n = snprintf(msg, sizeof(msg),
			     "{\"error\":\"too slow: cut off at offset %lld, which is no longer "
			     "kept; the earliest is %lld (reconnect with --from %lld)\",\"offset\":%lld}\n",
			     at, earliest, earliest, earliest);
	else
		n = snprintf(msg, sizeof(msg),
			     "{\"error\":\"too slow: cut off at offset %lld; reconnect with --from "
			     "%lld\",\"offset\":%lld}\n",
			     at, at, at);
	pr_info("events: follower on fd %d cut off at offset %lld (too slow)", f->fd, at);
	/* Give back the big buffer: what is left is one line and the message. */
	{
		char *nb = malloc(keep + n);

		if (nb) {
			memcpy(nb, f->buf + f->head, keep);
			memcpy(nb + keep, msg, n);
			free(f->buf);
			f->buf = nb;
			f->head = 0;
			f->len = keep + n;
			f->cap = keep + n;
		} else {
			f->len = keep; /* no message, but still bounded */
		}
	}
	cursor_close(&f->cur);
	f->state = F_CLOSING;
	f->deadline = mono_now() + ev->o.cutoff_grace_ms / 1000.0;
	ev->cut_off++;
	follower_kick(ev, f);
}

static void follower_queue_live(struct sl_events *ev, struct sl_events_follower *f,
				long long off, const char *type, const char *line, size_t len)
{
	if (!sl_events_type_match(f->types, type))
		return;
	if (f->len && f->len + len > ev->o.follower_buf) {
		follower_cut(ev, f, off, 0);
		return;
	}
	if (follower_room(f, len)) {
		follower_cut(ev, f, off, 0);
		return;
	}
	follower_put(f, line, len);
	follower_kick(ev, f);
}

/* Fill @f's buffer from disk, up to its bound. 0, or -ERANGE when it fell off the end. */
static int follower_refill(struct sl_events *ev, struct sl_events_follower *f)
{
	char type[64];
	const char *line;
	long long off;
	size_t len;
	int r;

	while (f->len < ev->o.follower_buf) {
		r = cursor_next(ev, &f->cur, &line, &len, &off, type, sizeof(type));
		if (r < 0)
			return r;
		if (!r) {
			/* Everything stored is queued: from now on, live. */
			cursor_close(&f->cur);
			f->state = F_LIVE;
			return 0;
		}
		if (!sl_events_type_match(f->types, type))
			continue;
		if (follower_room(f, len + 1))
			return -ENOMEM;
		follower_put(f, line, len);
		follower_put(f, "\n", 1);
		if (f->len >= ev->o.follower_buf)
			break;
	}
	return 0;
}

/* Send what can be sent. Returns 1 when the follower is finished (to be freed). */
static int follower_service(struct sl_events *ev, struct sl_events_follower *f)
{
	int rounds = 0;

	f->dirty = 0;
	for (;;) {
		if (f->len) {
			ssize_t n = send(f->fd, f->buf + f->head, f->len,
					 MSG_NOSIGNAL | MSG_DONTWAIT);

			if (n < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
					break;
				return 1; /* the client is gone */
			}
			f->head += n;
			f->len -= n;
			f->mid_line = n > 0 && f->buf[f->head - 1] != '\n';
			if (!f->len)
				f->head = 0;
			if (f->len)
				break;
		}
		if (f->state == F_CLOSING)
			return 1;
		if (f->state != F_CATCHUP || rounds++ == 4)
			break;
		if (follower_refill(ev, f)) {
			follower_cut(ev, f, f->cur.want, 1);
			continue;
		}
		if (!f->len)
			break;
	}
	if (f->state == F_LIVE && !f->len && f->cap > 4 * 4096) {
		free(f->buf); /* an idle follower holds no big buffer */
		f->buf = NULL;
		f->cap = 0;
	}
	follower_set_interest(ev, f);
	return 0;
}

static void follower_free(struct sl_events *ev, unsigned idx)
{
	struct sl_events_follower *f = ev->fl[idx];

	epoll_ctl(ev->ep, EPOLL_CTL_DEL, f->fd, NULL);
	close(f->fd);
	cursor_close(&f->cur);
	free(f->types);
	free(f->buf);
	free(f);
	ev->fl[idx] = ev->fl[--ev->nfl];
	if (idx < ev->nfl)
		ev->fl[idx]->idx = idx;
}

int sl_events_follow(struct sl_events *ev, long long from, const char *types, int fd, char *err,
		     size_t errlen)
{
	struct sl_events_follower *f;
	struct epoll_event ee = { .events = 0 };
	int fl, r;

	if ((r = sl_events_check_from(ev, from, err, errlen)))
		return r;
	if (!from)
		from = sl_events_earliest(ev);
	if (ev->nfl == ev->capfl) {
		unsigned cap = ev->capfl ? ev->capfl * 2 : 16;
		struct sl_events_follower **n = realloc(ev->fl, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		ev->fl = n;
		ev->capfl = cap;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->fd = fd;
	f->cur.fd = -1;
	f->bound = ev->o.follower_buf;
	if (types && *types && !(f->types = strdup(types))) {
		free(f);
		return -ENOMEM;
	}
	if (from < ev->next) {
		f->state = F_CATCHUP;
		if ((r = cursor_init(ev, &f->cur, from))) {
			snprintf(err, errlen, "cannot read the stored events: %s", strerror(-r));
			goto fail;
		}
	} else {
		f->state = F_LIVE;
	}
	fl = fcntl(fd, F_GETFL);
	ee.data.ptr = f;
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) ||
	    epoll_ctl(ev->ep, EPOLL_CTL_ADD, fd, &ee)) {
		r = -errno;
		snprintf(err, errlen, "cannot watch the client's socket: %s", strerror(-r));
		goto fail;
	}
	f->idx = ev->nfl;
	ev->fl[ev->nfl++] = f;
	if (f->state == F_CATCHUP)
		follower_kick(ev, f);
	return 0;
fail:
	cursor_close(&f->cur);
	free(f->types);
	free(f);
	return r;
}

int sl_events_pump(struct sl_events *ev)
{
	struct epoll_event evs[64];
	double now = mono_now();
	unsigned i;
	int n, k;

	if (ev->kicked) {
		__u64 v;

		if (read(ev->kick, &v, sizeof(v)) < 0 && errno != EAGAIN)
			return -errno;
		ev->kicked = 0;
	}
	n = epoll_wait(ev->ep, evs, 64, 0);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (k = 0; k < n; k++) {
		struct sl_events_follower *f = evs[k].data.ptr;

		if (!f)
			continue; /* the kick */
		if ((evs[k].events & (EPOLLHUP | EPOLLERR)) || follower_service(ev, f))
			follower_free(ev, f->idx);
	}
	for (i = 0; i < ev->nfl;) {
		struct sl_events_follower *f = ev->fl[i];

		if ((f->dirty && follower_service(ev, f)) ||
		    (f->state == F_CLOSING && now >= f->deadline)) {
			follower_free(ev, i);
			continue;
		}
		i++;
	}
	return 0;
}

/* ---- rate-limit drop aggregation ---- */

struct rl_key {
	char vip[SL_NAME_MAX];
	__be32 addr[4];
	__u8 family; /* 0: "others" of this VIP */
	__u8 used;
	__u64 drops;
};

struct sl_rl_agg {
	sl_rl_emit_cb emit;
	void *ctx;
	unsigned max_keys, clients, others, mask;
	long long sec;
	struct rl_key *tab;
	unsigned *order; /* used slots in the order they were taken */
	unsigned n_order;
	struct rl_key overflow; /* "others" past max_keys VIPs */
};

struct sl_rl_agg *sl_rl_agg_new(unsigned max_keys, sl_rl_emit_cb emit, void *ctx)
{
	struct sl_rl_agg *a;
	unsigned size = 16;

	if (!max_keys || !emit || max_keys > (1u << 24)) {
		errno = EINVAL;
		return NULL;
	}
	while (size < 4 * max_keys)
		size *= 2;
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->tab = calloc(size, sizeof(*a->tab));
	a->order = calloc(2 * max_keys, sizeof(*a->order));
	if (!a->tab || !a->order) {
		free(a->tab);
		free(a->order);
		free(a);
		errno = ENOMEM;
		return NULL;
	}
	a->emit = emit;
	a->ctx = ctx;
	a->max_keys = max_keys;
	a->mask = size - 1;
	a->sec = LLONG_MIN;
	return a;
}

void sl_rl_agg_free(struct sl_rl_agg *a)
{
	if (!a)
		return;
	free(a->tab);
	free(a->order);
	free(a);
}

static __u32 rl_hash(const char *vip, const __be32 *addr, __u8 family)
{
	__u32 h = 2166136261u;
	const unsigned char *p;
	size_t i;

	for (p = (const unsigned char *)vip; *p; p++)
		h = (h ^ *p) * 16777619u;
	p = (const unsigned char *)addr;
	for (i = 0; i < 16; i++)
		h = (h ^ p[i]) * 16777619u;
	return (h ^ family) * 16777619u;
}

/* The slot of (vip, addr, family), taken if @take and there is none; NULL when full. */
static struct rl_key *rl_slot(struct sl_rl_agg *a, const char *vip, const __be32 *addr,
			      __u8 family, int *fresh)
{
	__u32 i = rl_hash(vip, addr, family) & a->mask;

	for (;; i = (i + 1) & a->mask) {
		struct rl_key *k = &a->tab[i];

		if (!k->used) {
			*fresh = 1;
			return k;
		}
		if (k->family == family && !memcmp(k->addr, addr, sizeof(k->addr)) &&
		    !strcmp(k->vip, vip)) {
			*fresh = 0;
			return k;
		}
	}
}

void sl_rl_agg_flush(struct sl_rl_agg *a, double now)
{
	long long sec = (long long)floor(now);
	unsigned i;

	if (a->sec == LLONG_MIN || sec <= a->sec)
		return;
	for (i = 0; i < a->n_order; i++) {
		struct rl_key *k = &a->tab[a->order[i]];

		a->emit(a->ctx, k->vip, k->family ? k->addr : NULL, k->family, k->drops, a->sec);
		memset(k, 0, sizeof(*k));
	}
	if (a->overflow.drops)
		a->emit(a->ctx, a->overflow.vip, NULL, 0, a->overflow.drops, a->sec);
	memset(&a->overflow, 0, sizeof(a->overflow));
	a->n_order = a->clients = a->others = 0;
	a->sec = LLONG_MIN;
}

void sl_rl_agg_add(struct sl_rl_agg *a, const char *vip, const __be32 addr[4], __u8 family,
		   __u64 n, double now)
{
	static const __be32 none[4];
	long long sec = (long long)floor(now);
	char name[SL_NAME_MAX];
	struct rl_key *k;
	int fresh;

	if (a->sec != LLONG_MIN && sec > a->sec)
		sl_rl_agg_flush(a, now);
	if (a->sec == LLONG_MIN)
		a->sec = sec; /* a clock stepping back counts in the second held */
	snprintf(name, sizeof(name), "%s", vip ? vip : "");
	if (!family)
		addr = none; /* no address: an "other" */
	k = rl_slot(a, name, addr, family, &fresh);
	if (fresh && (a->clients == a->max_keys || !family)) {
		k = rl_slot(a, name, none, 0, &fresh);
		if (fresh && a->others == a->max_keys) {
			snprintf(a->overflow.vip, sizeof(a->overflow.vip), "*");
			a->overflow.drops += n;
			return;
		}
		if (fresh)
			a->others++;
		family = 0;
		addr = none;
	} else if (fresh) {
		a->clients++;
	}
	if (fresh) {
		memcpy(k->vip, name, sizeof(name));
		memcpy(k->addr, addr, sizeof(k->addr));
		k->family = family;
		k->used = 1;
		a->order[a->n_order++] = (unsigned)(k - a->tab);
	}
	k->drops += n;
}

void sl_rl_emit_event(void *ctx, const char *vip, const __be32 *addr, __u8 family, __u64 drops,
		      long long second)
{
	char client[64], ts[48];
	json_t *data;
	long long r;

	if (addr)
		sl_addr_str(addr, family, client, sizeof(client));
	else
		snprintf(client, sizeof(client), "others");
	sl_rfc3339((double)second, ts, sizeof(ts));
	data = json_pack("{s:s, s:I, s:s}", "client", client, "drops", (json_int_t)drops, "second",
			 ts);
	r = data ? sl_events_append(ctx, "ratelimit.drop", vip && *vip ? vip : NULL, NULL, data,
				    sl_now())
		 : -ENOMEM;
	if (r < 0)
		pr_warn("events: cannot record %llu rate-limit drops of vip %s from %s: %s",
			(unsigned long long)drops, vip, client, strerror((int)-r));
	json_decref(data);
}
