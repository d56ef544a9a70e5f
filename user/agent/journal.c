// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The journal: one JSON line per accepted change,
 *   {"offset": N, "ts": "RFC 3339", "change": {"cmd": ..., "args": ...}}
 * appended and synced before the reply goes out. Replay runs every change
 * through a model-only state. A last record cut short by a crash is
 * reported, cut off the file, and never fatal.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "../lib/log.h"

struct sl_journal {
	int fd;
	long offset; /* records so far */
	char path[PATH_MAX];
};

double sl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void sl_rfc3339(double t, char *buf, size_t len)
{
	time_t s = (time_t)t;
	long ns = (long)((t - (double)s) * 1e9);
	struct tm tm;
	char base[32];

	gmtime_r(&s, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%09ldZ", base, ns < 0 ? 0 : ns);
}

static double parse_rfc3339(const char *s)
{
	struct tm tm = { 0 };
	const char *p = strptime(s ? s : "", "%Y-%m-%dT%H:%M:%S", &tm);
	double frac = 0;

	if (!p)
		return 0;
	if (*p == '.')
		frac = strtod(p, NULL);
	return (double)timegm(&tm) + frac;
}

struct sl_journal *sl_journal_open(const char *state_dir)
{
	struct sl_journal *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	if (mkdir(state_dir, 0700) && errno != EEXIST) {
		pr_err("state dir %s: cannot create: %s", state_dir, strerror(errno));
		free(j);
		return NULL;
	}
	snprintf(j->path, sizeof(j->path), "%s/journal", state_dir);
	j->fd = open(j->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (j->fd < 0) {
		pr_err("journal %s: cannot open: %s", j->path, strerror(errno));
		free(j);
		return NULL;
	}
	return j;
}

void sl_journal_close(struct sl_journal *j)
{
	if (!j)
		return;
	close(j->fd);
	free(j);
}

long sl_journal_offset(const struct sl_journal *j)
{
	return j->offset;
}

int sl_journal_replay(struct sl_journal *j, struct sl_state *st)
{
	struct sl_journal *saved = st->journal;
	size_t cap = 0, good = 0, pos = 0;
	char *buf = NULL;
	ssize_t n;
	int replayed = 0;

	/* Read it all; journals are small next to what they describe. */
	lseek(j->fd, 0, SEEK_SET);
	for (;;) {
		if (pos + 65536 > cap) {
			char *nb = realloc(buf, cap = cap ? cap * 2 : 1 << 20);

			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		n = read(j->fd, buf + pos, cap - pos - 1);
		if (n < 0) {
			free(buf);
			return -errno;
		}
		if (!n)
			break;
		pos += n;
	}
	st->journal = NULL; /* replaying must not record again */
	while (good < pos) {
		char *line = buf + good, *nl = memchr(line, '\n', pos - good);
		json_error_t jerr;
		json_t *rec, *res = NULL;
		struct sl_err e;

		if (!nl) {
			pr_warn("journal %s: last record (at byte %zu) is cut short; dropping it",
				j->path, good);
			break;
		}
		*nl = 0;
		rec = json_loads(line, 0, &jerr);
		if (!rec || !json_is_object(json_object_get(rec, "change"))) {
			if (nl + 1 == buf + pos) {
				pr_warn("journal %s: last record (at byte %zu) is not valid JSON; "
					"dropping it",
					j->path, good);
				json_decref(rec);
				break;
			}
			pr_err("journal %s: record at byte %zu is not valid JSON (%s); skipped",
			       j->path, good, jerr.text);
		} else if (sl_state_exec(st, json_object_get(rec, "change"),
					 parse_rfc3339(json_string_value(json_object_get(rec, "ts"))),
					 &res, &e)) {
			pr_err("journal %s: record %lld no longer applies (%s); skipped", j->path,
			       (long long)json_integer_value(json_object_get(rec, "offset")), e.msg);
		} else {
			replayed++;
		}
		if (json_integer_value(json_object_get(rec, "offset")) > j->offset)
			j->offset = json_integer_value(json_object_get(rec, "offset"));
		json_decref(res);
		json_decref(rec);
		good = (size_t)(nl + 1 - buf);
	}
	st->journal = saved;
	if (good < pos && ftruncate(j->fd, (off_t)good))
		pr_warn("journal %s: cannot cut the torn record off: %s", j->path, strerror(errno));
	free(buf);
	return replayed;
}

int sl_journal_append(struct sl_journal *j, json_t *change, double now)
{
	char ts[48], *line;
	json_t *rec;
	size_t len;
	int err = 0;

	sl_rfc3339(now, ts, sizeof(ts));
	rec = json_pack("{s:I, s:s, s:O}", "offset", (json_int_t)(j->offset + 1), "ts", ts, "change",
			change);
	line = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
	json_decref(rec);
	if (!line)
		return -ENOMEM;
	len = strlen(line);
	line[len] = '\n'; /* json_dumps leaves room for the terminator */
	if (write(j->fd, line, len + 1) != (ssize_t)(len + 1) || fdatasync(j->fd))
		err = -errno ? -errno : -EIO;
	free(line);
	if (!err)
		j->offset++;
	return err;
}
