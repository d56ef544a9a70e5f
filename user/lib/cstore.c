// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Counters in pinned maps (cstore.h). Cell 0 of sl_agent_ctrs holds the next
 * free cell; blocks are handed out from SL_CS_FIRST up and never reused. A
 * block is allocated (cell 0 advanced) before its directory entry is written,
 * so a kill between the two leaks cells and loses nothing.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "cstore.h"
#include "log.h"

#define SL_CS_FIRST 8 /* cells 0..7: header (cell 0: next free) */
#define CACHE_BUCKETS 4096

const double sl_hist_le[SL_HIST_BUCKETS - 1] = { 0.0005, 0.001, 0.0025, 0.005, 0.01,
						 0.025,	 0.05,	0.1,	0.25,  0.5,
						 1,	 2.5,	5,	10 };

struct dir_val {
	uint32_t index;
	uint32_t n;
};

struct centry {
	struct centry *next;
	uint64_t *cells;
	uint32_t n;
	int local; /* process memory (the store was full) */
	char key[];
};

struct sl_cstore {
	pthread_mutex_t lock;
	int cfd, dfd;	 /* -1 in memory mode */
	uint64_t *cells; /* SL_CSTORE_CELLS */
	uint64_t lost;
	struct centry *cache[CACHE_BUCKETS];
};

static uint32_t key_hash(const char *k)
{
	uint32_t h = 2166136261u;

	while (*k)
		h = (h ^ (uint8_t)*k++) * 16777619u;
	return h;
}

static int check_map(int fd, enum bpf_map_type type, uint32_t ksz, uint32_t vsz, uint32_t max,
		     uint32_t flags)
{
	struct bpf_map_info info = { 0 };
	uint32_t len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -1;
	return info.type == type && info.key_size == ksz && info.value_size == vsz &&
			       info.max_entries == max && (info.map_flags & flags) == flags
		       ? 0
		       : -1;
}

/* Adopt @path, or create the map and pin it there. */
static int map_at(const char *dir, const char *name, enum bpf_map_type type, uint32_t ksz,
		  uint32_t vsz, uint32_t max, uint32_t flags, int *adopted, char *err,
		  size_t errlen)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = flags);
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		if (check_map(fd, type, ksz, vsz, max, flags)) {
			close(fd);
			snprintf(err, errlen,
				 "counters: %s has another layout (an older sluice?); remove it "
				 "(rm %s) to start the counters from zero",
				 path, path);
			return -1;
		}
		*adopted = 1;
		return fd;
	}
	if (errno != ENOENT) {
		snprintf(err, errlen, "counters: cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	fd = bpf_map_create(type, name, ksz, vsz, max, &o);
	if (fd < 0) {
		snprintf(err, errlen, "counters: cannot create map %s: %s", name, strerror(errno));
		return -1;
	}
	if (bpf_obj_pin(fd, path)) {
		snprintf(err, errlen, "counters: cannot pin %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

struct sl_cstore *sl_cstore_open(const char *bpffs, int *adopted, char *err, size_t errlen)
{
	struct sl_cstore *s = calloc(1, sizeof(*s));
	size_t bytes = (size_t)SL_CSTORE_CELLS * sizeof(uint64_t);
	int ca = 0, da = 0;

	if (adopted)
		*adopted = 0;
	if (!s) {
		snprintf(err, errlen, "counters: out of memory");
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	s->cfd = s->dfd = -1;
	if (!bpffs) {
		s->cells = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
				0);
		if (s->cells == MAP_FAILED) {
			snprintf(err, errlen, "counters: out of memory");
			free(s);
			return NULL;
		}
		s->cells[0] = SL_CS_FIRST;
		return s;
	}
	s->cfd = map_at(bpffs, "sl_agent_ctrs", BPF_MAP_TYPE_ARRAY, 4, sizeof(uint64_t),
			SL_CSTORE_CELLS, BPF_F_MMAPABLE, &ca, err, errlen);
	if (s->cfd < 0)
		goto fail;
	s->dfd = map_at(bpffs, "sl_agent_cdir", BPF_MAP_TYPE_HASH, SL_CSTORE_KEY_MAX,
			sizeof(struct dir_val), 65536, BPF_F_NO_PREALLOC, &da, err, errlen);
	if (s->dfd < 0)
		goto fail;
	s->cells = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, s->cfd, 0);
	if (s->cells == MAP_FAILED) {
		snprintf(err, errlen, "counters: cannot map %s/sl_agent_ctrs: %s", bpffs,
			 strerror(errno));
		s->cells = NULL;
		goto fail;
	}
	if (ca != da) {
		/* one pin without the other: the blocks cannot be found again */
		snprintf(err, errlen,
			 "counters: %s/sl_agent_ctrs and %s/sl_agent_cdir do not belong together; "
			 "remove both to start the counters from zero",
			 bpffs, bpffs);
		goto fail;
	}
	if (!ca)
		s->cells[0] = SL_CS_FIRST;
	if (adopted)
		*adopted = ca;
	return s;
fail:
	sl_cstore_close(s);
	return NULL;
}

void sl_cstore_close(struct sl_cstore *s)
{
	int i;

	if (!s)
		return;
	for (i = 0; i < CACHE_BUCKETS; i++) {
		struct centry *e, *n;

		for (e = s->cache[i]; e; e = n) {
			n = e->next;
			if (e->local)
				free(e->cells);
			free(e);
		}
	}
	if (s->cells)
		munmap(s->cells, (size_t)SL_CSTORE_CELLS * sizeof(uint64_t));
	if (s->cfd >= 0)
		close(s->cfd);
	if (s->dfd >= 0)
		close(s->dfd);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* Hand out @n cells; 0 when the store is full. */
static uint32_t cells_alloc(struct sl_cstore *s, uint32_t n)
{
	uint64_t at = s->cells[0];

	if (at + n > SL_CSTORE_CELLS)
		return 0;
	s->cells[0] = at + n;
	return (uint32_t)at;
}

static struct centry *cache_find(struct sl_cstore *s, const char *key, uint32_t h)
{
	struct centry *e;

	for (e = s->cache[h % CACHE_BUCKETS]; e; e = e->next)
		if (!strcmp(e->key, key))
			return e;
	return NULL;
}

static uint64_t *lookup_or_make(struct sl_cstore *s, const char *key, uint32_t n, int *local)
{
	char k[SL_CSTORE_KEY_MAX] = { 0 };
	struct dir_val dv;
	uint32_t at;

	*local = 0;
	if (strlen(key) >= sizeof(k))
		goto lost;
	memcpy(k, key, strlen(key));
	if (s->dfd >= 0 && !bpf_map_lookup_elem(s->dfd, k, &dv) && dv.index >= SL_CS_FIRST &&
	    (uint64_t)dv.index + dv.n <= SL_CSTORE_CELLS) {
		if (dv.n >= n)
			return s->cells + dv.index;
		/* an older, smaller layout: grow it, keeping its values */
		at = cells_alloc(s, n);
		if (!at)
			goto lost;
		memcpy(s->cells + at, s->cells + dv.index, dv.n * sizeof(uint64_t));
	} else {
		at = cells_alloc(s, n);
		if (!at)
			goto lost;
	}
	dv.index = at;
	dv.n = n;
	if (s->dfd >= 0 && bpf_map_update_elem(s->dfd, k, &dv, BPF_ANY))
		goto lost; /* the directory is full: these cells would not be found again */
	return s->cells + at;
lost:
	if (!s->lost++)
		pr_err("counters: no room for '%s' (%u cells) in the pinned counter store; "
		       "it and later ones count from zero at each restart",
		       key, n);
	*local = 1;
	return calloc(n, sizeof(uint64_t));
}

uint64_t *sl_cstore_get(struct sl_cstore *s, const char *key, uint32_t n)
{
	uint32_t h = key_hash(key);
	struct centry *e;
	uint64_t *c;
	int local;

	if (n > SL_CSTORE_BLOCK_MAX)
		n = SL_CSTORE_BLOCK_MAX;
	pthread_mutex_lock(&s->lock);
	e = cache_find(s, key, h);
	if (e && e->n >= n) {
		c = e->cells;
		goto out;
	}
	c = lookup_or_make(s, key, n, &local);
	if (!c)
		goto out;
	if (e) { /* grown within this process: older pointers keep counting the old block */
		e->cells = c;
		e->n = n;
		e->local = local;
		goto out;
	}
	e = calloc(1, sizeof(*e) + strlen(key) + 1);
	if (!e) {
		if (local)
			free(c);
		c = NULL;
		goto out;
	}
	strcpy(e->key, key);
	e->cells = c;
	e->n = n;
	e->local = local;
	e->next = s->cache[h % CACHE_BUCKETS];
	s->cache[h % CACHE_BUCKETS] = e;
out:
	pthread_mutex_unlock(&s->lock);
	if (!c) { /* out of memory: a cell nobody reads, so callers need no check */
		static uint64_t sink[SL_CSTORE_BLOCK_MAX];

		c = sink;
	}
	return c;
}

void sl_cstore_usage(struct sl_cstore *s, uint64_t *used, uint64_t *cap, uint64_t *lost)
{
	pthread_mutex_lock(&s->lock);
	*used = s->cells[0] - SL_CS_FIRST;
	*cap = SL_CSTORE_CELLS - SL_CS_FIRST;
	*lost = s->lost;
	pthread_mutex_unlock(&s->lock);
}

void sl_hist_observe(uint64_t *cells, uint64_t usec)
{
	double s = (double)usec / 1e6;
	int i;

	for (i = 0; i < SL_HIST_BUCKETS - 1; i++)
		if (s <= sl_hist_le[i])
			break;
	sl_ctr_add(&cells[i], 1);
	sl_ctr_add(&cells[SL_HIST_BUCKETS], usec);
}
