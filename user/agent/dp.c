// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp.h"
#include "xdp_lb.skel.h"
#include "../lib/log.h"

struct sl_dp {
	void (*ev_fn)(void *ctx, const struct sl_event *e);
	void *ev_ctx;
	struct xdp_lb_bpf *skel;
	struct ring_buffer *events;
	__u64 ev_new, ev_rl;
	char bpffs[256];
	int adopted;
	int ncpu;
};

/* Is the nearest existing parent of @path on a BPF filesystem? */
static int on_bpffs(const char *path)
{
	char buf[PATH_MAX], *slash;
	struct statfs sfs;

	snprintf(buf, sizeof(buf), "%s", path);
	while (statfs(buf, &sfs)) {
		slash = strrchr(buf, '/');
		if (!slash || slash == buf)
			return 0;
		*slash = 0;
	}
	return sfs.f_type == BPF_FS_MAGIC;
}

static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	char *p;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

struct sl_dp *sl_dp_open(const char *bpffs)
{
	struct bpf_map *map;
	struct sl_dp *dp;
	char path[PATH_MAX];
	int err;

	if (strlen(bpffs) >= sizeof(dp->bpffs)) {
		pr_err("bpffs %s: path too long", bpffs);
		errno = ENAMETOOLONG;
		return NULL;
	}
	dp = calloc(1, sizeof(*dp));
	if (!dp)
		return NULL;
	snprintf(dp->bpffs, sizeof(dp->bpffs), "%s", bpffs);
	dp->ncpu = libbpf_num_possible_cpus();
	if (!on_bpffs(bpffs)) {
		/* 'ip netns exec' remounts /sys and hides /sys/fs/bpf; pinning into a
		 * private bpffs would lose the state when this process ends. */
		pr_err("bpffs %s: not on a BPF filesystem: mount one ('mount -t bpf bpf "
		       "/sys/fs/bpf'); inside a network namespace run sluiced with 'nsenter "
		       "--net=/run/netns/NAME', not 'ip netns exec', which hides /sys/fs/bpf",
		       bpffs);
		err = -ENOTDIR;
		goto fail;
	}
	err = mkdir_p(bpffs);
	if (err) {
		pr_err("bpffs %s: cannot create: %s", bpffs, strerror(-err));
		goto fail;
	}
	dp->skel = xdp_lb_bpf__open();
	if (!dp->skel) {
		err = -errno;
		pr_err("opening the BPF object failed: %s", strerror(-err));
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/sl_vips", bpffs);
	dp->adopted = access(path, F_OK) == 0;
	bpf_object__for_each_map(map, dp->skel->obj) {
		const char *name = bpf_map__name(map);

		if (strchr(name, '.'))
			continue; /* .rodata and friends belong to the program */
		snprintf(path, sizeof(path), "%s/%s", bpffs, name);
		if (map == dp->skel->maps.sl_tx_ports) {
			/* The kernel adds BPF_F_RDONLY_PROG to every devmap, so
			 * libbpf 1.1's reuse check never matches it: adopt by fd. */
			int fd = bpf_obj_get(path);

			if (fd >= 0) {
				err = bpf_map__reuse_fd(map, fd);
				close(fd);
				if (err)
					goto fail;
			}
			continue;
		}
		err = bpf_map__set_pin_path(map, path);
		if (err)
			goto fail;
	}
	err = xdp_lb_bpf__load(dp->skel);
	if (err) {
		pr_err("loading the BPF programs failed: %s%s", strerror(-err),
		       dp->adopted ? " (pinned maps from another version? remove them to start afresh)"
				   : "");
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/sl_tx_ports", bpffs);
	if (access(path, F_OK) && bpf_map__pin(dp->skel->maps.sl_tx_ports, path)) {
		err = -errno;
		pr_err("bpffs %s: cannot pin sl_tx_ports: %s", bpffs, strerror(-err));
		goto fail;
	}
	pr_info("%s maps under %s", dp->adopted ? "adopted" : "created and pinned", bpffs);
	return dp;
fail:
	sl_dp_close(dp);
	errno = -err;
	return NULL;
}

void sl_dp_close(struct sl_dp *dp)
{
	if (!dp)
		return;
	ring_buffer__free(dp->events);
	xdp_lb_bpf__destroy(dp->skel);
	free(dp);
}

int sl_dp_adopted(const struct sl_dp *dp)
{
	return dp->adopted;
}

#define MAPS (dp->skel->maps)

static int put(struct bpf_map *m, const void *k, size_t ks, const void *v, size_t vs)
{
	return bpf_map__update_elem(m, k, ks, v, vs, 0);
}

static int del(struct bpf_map *m, const void *k, size_t ks)
{
	int err = bpf_map__delete_elem(m, k, ks, 0);

	return err == -ENOENT ? 0 : err;
}

int sl_dp_vip_put(struct sl_dp *dp, const struct sl_vip_key *k, const struct sl_vip *v)
{
	return put(MAPS.sl_vips, k, sizeof(*k), v, sizeof(*v));
}

int sl_dp_vip_del(struct sl_dp *dp, const struct sl_vip_key *k)
{
	return del(MAPS.sl_vips, k, sizeof(*k));
}

static void each_key(struct bpf_map *m, size_t ks, void (*fn)(const void *k, void *ctx), void *ctx)
{
	char cur[64], next[64];
	void *prev = NULL;

	while (!bpf_map__get_next_key(m, prev, next, ks)) {
		memcpy(cur, next, ks);
		fn(cur, ctx); /* may delete cur: next lookup starts from it anyway */
		prev = cur;
	}
}

void sl_dp_vip_each(struct sl_dp *dp, void (*fn)(const struct sl_vip_key *k, void *ctx), void *ctx)
{
	each_key(MAPS.sl_vips, sizeof(struct sl_vip_key), (void (*)(const void *, void *))fn, ctx);
}

int sl_dp_addr_put(struct sl_dp *dp, const struct sl_addr_key *k, __u32 count)
{
	return put(MAPS.sl_vip_addrs, k, sizeof(*k), &count, sizeof(count));
}

int sl_dp_addr_del(struct sl_dp *dp, const struct sl_addr_key *k)
{
	return del(MAPS.sl_vip_addrs, k, sizeof(*k));
}

void sl_dp_addr_each(struct sl_dp *dp, void (*fn)(const struct sl_addr_key *k, void *ctx),
		     void *ctx)
{
	each_key(MAPS.sl_vip_addrs, sizeof(struct sl_addr_key),
		 (void (*)(const void *, void *))fn, ctx);
}

int sl_dp_backend_put(struct sl_dp *dp, __u32 slot, const struct sl_backend *b)
{
	return put(MAPS.sl_backends, &slot, sizeof(slot), b, sizeof(*b));
}

int sl_dp_backend_get(struct sl_dp *dp, __u32 slot, struct sl_backend *b)
{
	return bpf_map__lookup_elem(MAPS.sl_backends, &slot, sizeof(slot), b, sizeof(*b), 0);
}

int sl_dp_group_put(struct sl_dp *dp, __u32 vip_id, const struct sl_group *g)
{
	return put(MAPS.sl_groups, &vip_id, sizeof(vip_id), g, sizeof(*g));
}

int sl_dp_group_del(struct sl_dp *dp, __u32 vip_id)
{
	return del(MAPS.sl_groups, &vip_id, sizeof(vip_id));
}

int sl_dp_maglev_put(struct sl_dp *dp, __u32 vip_id, const __u32 *table)
{
	__u32 *keys, n = SL_MAGLEV_SIZE, i;
	int inner, err;

	keys = malloc(n * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		keys[i] = i;
	inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "sl_mg_vip", 4, 4, n, NULL);
	if (inner < 0) {
		err = -errno;
		goto out;
	}
	err = bpf_map_update_batch(inner, keys, table, &n, NULL);
	if (!err && n != SL_MAGLEV_SIZE)
		err = -EIO;
	/* One update swaps the whole table: no packet sees half of it. */
	if (!err)
		err = put(MAPS.sl_maglev, &vip_id, sizeof(vip_id), &inner, sizeof(inner));
	close(inner);
out:
	free(keys);
	return err;
}

int sl_dp_maglev_del(struct sl_dp *dp, __u32 vip_id)
{
	return del(MAPS.sl_maglev, &vip_id, sizeof(vip_id));
}

int sl_dp_cfg_put(struct sl_dp *dp, const struct sl_cfg *cfg)
{
	__u32 zero = 0;

	return put(MAPS.sl_cfg, &zero, sizeof(zero), cfg, sizeof(*cfg));
}

static void link_path(struct sl_dp *dp, const char *ifname, char *buf, size_t len)
{
	snprintf(buf, len, "%s/link_%s", dp->bpffs, ifname);
}

int sl_dp_attached(struct sl_dp *dp, const char *ifname)
{
	char path[PATH_MAX];

	link_path(dp, ifname, path, sizeof(path));
	return access(path, F_OK) == 0;
}

int sl_dp_attach(struct sl_dp *dp, const char *ifname, int generic, char *err, size_t errlen)
{
	int prog = bpf_program__fd(dp->skel->progs.sl_xdp), fd, ret;
	unsigned int ifindex = if_nametoindex(ifname);
	char path[PATH_MAX];

	if (!ifindex) {
		snprintf(err, errlen, "interface %s: does not exist (see 'ip link')", ifname);
		return -ENODEV;
	}
	link_path(dp, ifname, path, sizeof(path));
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		/* Adopt: move the running link to this program, atomically. */
		ret = bpf_link_update(fd, prog, NULL);
		close(fd);
		if (ret && errno == ENOLINK) {
			/* The interface went away and came back: the pinned link is dead. */
			pr_warn("interface %s: its pinned XDP link was severed; attaching anew", ifname);
			unlink(path);
			fd = -1;
		} else if (ret) {
			snprintf(err, errlen, "interface %s: cannot update its XDP link: %s", ifname,
				 strerror(errno));
			return -errno;
		}
	}
	if (fd < 0) {
		LIBBPF_OPTS(bpf_link_create_opts, opts,
			    .flags = generic ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE);

		fd = bpf_link_create(prog, ifindex, BPF_XDP, &opts);
		if (fd < 0) {
			ret = -errno;
			snprintf(err, errlen, "interface %s: cannot attach XDP (%s mode): %s%s", ifname,
				 generic ? "generic" : "native", strerror(-ret),
				 ret == -EBUSY || ret == -EEXIST
					 ? " (another XDP program is attached: remove it first, "
					   "see 'ip link show')"
				 : !generic ? " (the driver may lack native XDP: try --mode generic)"
					    : "");
			return ret;
		}
		ret = bpf_obj_pin(fd, path);
		if (ret) {
			ret = -errno;
			close(fd);
			snprintf(err, errlen, "interface %s: cannot pin its link at %s: %s", ifname, path,
				 strerror(-ret));
			return ret;
		}
		close(fd); /* the pin keeps it attached */
	}
	put(MAPS.sl_tx_ports, &ifindex, sizeof(ifindex), &ifindex, sizeof(ifindex));
	return 0;
}

int sl_dp_detach(struct sl_dp *dp, const char *ifname)
{
	unsigned int ifindex = if_nametoindex(ifname);
	char path[PATH_MAX];

	link_path(dp, ifname, path, sizeof(path));
	if (unlink(path) && errno != ENOENT)
		return -errno;
	if (ifindex)
		del(MAPS.sl_tx_ports, &ifindex, sizeof(ifindex));
	return 0;
}

__s64 sl_dp_active(struct sl_dp *dp, __u32 slot)
{
	struct sl_be_active a = { 0 };

	bpf_map__lookup_elem(MAPS.sl_be_active, &slot, sizeof(slot), &a, sizeof(a), 0);
	return a.flows;
}

/* Sum @nfields u64 fields of a per-CPU value into @out. */
static void percpu_sum(struct sl_dp *dp, struct bpf_map *m, __u32 key, __u64 *out, int nfields)
{
	size_t vs = nfields * sizeof(__u64);
	__u64 *v = calloc(dp->ncpu, vs);
	int c, f;

	memset(out, 0, vs);
	if (v && !bpf_map__lookup_elem(m, &key, sizeof(key), v, dp->ncpu * vs, 0))
		for (c = 0; c < dp->ncpu; c++)
			for (f = 0; f < nfields; f++)
				out[f] += v[c * nfields + f];
	free(v);
}

void sl_dp_vip_stats(struct sl_dp *dp, __u32 vip_id, struct sl_vip_stats *out)
{
	percpu_sum(dp, MAPS.sl_vip_stats, vip_id, (__u64 *)out, sizeof(*out) / 8);
}

void sl_dp_be_stats(struct sl_dp *dp, __u32 slot, struct sl_be_stats *out)
{
	percpu_sum(dp, MAPS.sl_be_stats, slot, (__u64 *)out, sizeof(*out) / 8);
}

__u64 sl_dp_drop(struct sl_dp *dp, __u32 reason)
{
	__u64 v;

	percpu_sum(dp, MAPS.sl_drops, reason, &v, 1);
	return v;
}

__u64 sl_dp_counter(struct sl_dp *dp, __u32 idx)
{
	__u64 v;

	percpu_sum(dp, MAPS.sl_counters, idx, &v, 1);
	return v;
}

void sl_dp_be_stats_reset(struct sl_dp *dp, __u32 slot)
{
	struct sl_be_stats *zero = calloc(dp->ncpu, sizeof(*zero));

	if (zero)
		bpf_map__update_elem(MAPS.sl_be_stats, &slot, sizeof(slot), zero,
				     dp->ncpu * sizeof(*zero), 0);
	free(zero);
}

static int on_event(void *ctx, void *data, size_t len)
{
	const struct sl_event *e = data;
	struct sl_dp *dp = ctx;

	if (len < sizeof(*e))
		return 0;
	if (e->type == SL_EV_NEW_FLOW)
		dp->ev_new++;
	else if (e->type == SL_EV_RL_DROP)
		dp->ev_rl++;
	if (dp->ev_fn)
		dp->ev_fn(dp->ev_ctx, e);
	return 0;
}

void sl_dp_on_event(struct sl_dp *dp, void (*fn)(void *ctx, const struct sl_event *e), void *ctx)
{
	dp->ev_fn = fn;
	dp->ev_ctx = ctx;
}

__u32 sl_dp_rl_sample_every(const struct sl_dp *dp)
{
	return dp->skel->rodata->ev_rl_every;
}

int sl_dp_events_fd(struct sl_dp *dp)
{
	if (!dp->events)
		dp->events = ring_buffer__new(bpf_map__fd(MAPS.sl_events), on_event, dp, NULL);
	return dp->events ? ring_buffer__epoll_fd(dp->events) : -1;
}

/* Count the sampled events and hand each to the sl_dp_on_event() function. */
void sl_dp_events_drain(struct sl_dp *dp)
{
	if (dp->events)
		ring_buffer__consume(dp->events);
	pr_debug("events: %llu new flows, %llu rate-limit drops sampled so far",
		 (unsigned long long)dp->ev_new, (unsigned long long)dp->ev_rl);
}

int sl_dp_sweep(struct sl_dp *dp)
{
	unsigned char pkt[64] = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = sizeof(pkt));

	return bpf_prog_test_run_opts(bpf_program__fd(dp->skel->progs.sl_sweep), &opts);
}

int sl_dp_l7_pick(struct sl_dp *dp, const struct sl_vip_key *vip, __u32 hash, __u32 *be_id,
		  __u32 *be_gen)
{
	struct sl_l7_pick r = { .vip = *vip, .op = SL_L7_PICK, .hash = hash };
	struct sl_l7_pick out = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = &r, .data_size_in = sizeof(r),
		    .data_out = &out, .data_size_out = sizeof(out));
	int err = bpf_prog_test_run_opts(bpf_program__fd(dp->skel->progs.sl_l7_pick), &opts);

	if (err)
		return err;
	if (opts.retval != XDP_TX || opts.data_size_out < sizeof(out))
		return -EIO;
	if (out.result < 0)
		return out.result;
	*be_id = out.be_id;
	*be_gen = out.be_gen;
	return 0;
}

int sl_dp_l7_release(struct sl_dp *dp, __u32 be_id, __u32 be_gen)
{
	struct sl_l7_pick r = { .op = SL_L7_RELEASE, .be_id = be_id, .be_gen = be_gen };
	struct sl_l7_pick out;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = &r, .data_size_in = sizeof(r),
		    .data_out = &out, .data_size_out = sizeof(out));

	return bpf_prog_test_run_opts(bpf_program__fd(dp->skel->progs.sl_l7_pick), &opts);
}

/* Entries in a (non per-CPU) hash map, by batch lookups; -1 if it cannot tell. */
static long long count_entries(struct bpf_map *m)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	__u32 ksz = bpf_map__key_size(m), vsz = bpf_map__value_size(m), chunk = 4096, n;
	void *keys = malloc((size_t)chunk * ksz), *vals = malloc((size_t)chunk * vsz);
	__u64 in = 0, out = 0;
	long long total = 0;
	int first = 1, err;

	if (!keys || !vals) {
		total = -1;
		goto out;
	}
	for (;;) {
		n = chunk;
		err = bpf_map_lookup_batch(bpf_map__fd(m), first ? NULL : &in, &out, keys, vals, &n,
					   &o);
		total += n;
		if (err) {
			if (errno != ENOENT)
				total = -1;
			break;
		}
		in = out;
		first = 0;
	}
out:
	free(keys);
	free(vals);
	return total;
}

int sl_dp_map_usage(struct sl_dp *dp, struct sl_map_usage *out, int max)
{
	static const char *const names[] = { "sl_conns", "sl_nat_rev", "sl_buckets",
					     "sl_vip_addrs" };
	struct bpf_map *maps[] = { MAPS.sl_conns, MAPS.sl_nat_rev, MAPS.sl_buckets,
				   MAPS.sl_vip_addrs };
	int i, n = 0;

	for (i = 0; i < (int)(sizeof(maps) / sizeof(maps[0])) && n < max; i++) {
		out[n].name = names[i];
		out[n].entries = count_entries(maps[i]);
		out[n].capacity = bpf_map__max_entries(maps[i]);
		n++;
	}
	return n;
}
