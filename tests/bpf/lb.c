// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "lb.h"
#include "pkt.h"
#include "../../user/lib/group.h"
#include "../../user/lib/maglev.h"

int lb_open(struct lb *lb, const struct lb_opts *o)
{
	struct lb_opts none = {};
	int err;

	if (!o)
		o = &none;
	memset(lb, 0, sizeof(*lb));
	lb->skel = xdp_lb_bpf__open();
	if (!lb->skel)
		return -errno;
	if (o->tcp_idle_ns)
		lb->skel->rodata->tcp_idle_ns = o->tcp_idle_ns;
	if (o->udp_idle_ns)
		lb->skel->rodata->udp_idle_ns = o->udp_idle_ns;
	if (o->fin_grace_ns)
		lb->skel->rodata->fin_grace_ns = o->fin_grace_ns;
	lb->skel->rodata->ev_new_every = o->ev_new_every;
	if (o->ev_rl_every)
		lb->skel->rodata->ev_rl_every = o->ev_rl_every;
	/* Small tables keep each test's load fast; sizes are the loader's to pick. */
	bpf_map__set_max_entries(lb->skel->maps.sl_conns, 16384);
	bpf_map__set_max_entries(lb->skel->maps.sl_nat_rev, 16384);
	if (o->buckets) {
		bpf_map__set_max_entries(lb->skel->maps.sl_buckets, o->buckets);
		lb->skel->rodata->rl_buckets_max = o->buckets;
	} else {
		bpf_map__set_max_entries(lb->skel->maps.sl_buckets, 4096);
		lb->skel->rodata->rl_buckets_max = 4096;
	}
	err = xdp_lb_bpf__load(lb->skel);
	if (err) {
		xdp_lb_bpf__destroy(lb->skel);
		lb->skel = NULL;
		return err;
	}
	lb->prog_fd = bpf_program__fd(lb->skel->progs.sl_xdp);
	lb->sweep_fd = bpf_program__fd(lb->skel->progs.sl_sweep);
	lb->if_client = if_nametoindex("slc0");
	lb->if_backend = if_nametoindex("slb0");
	if (!lb->if_client || !lb->if_backend) {
		lb_close(lb);
		return -ENODEV; /* not inside tests/bpf/netns.sh */
	}
	bpf_map__update_elem(lb->skel->maps.sl_tx_ports, &lb->if_client, 4, &lb->if_client, 4, 0);
	bpf_map__update_elem(lb->skel->maps.sl_tx_ports, &lb->if_backend, 4, &lb->if_backend, 4, 0);
	return 0;
}

void lb_close(struct lb *lb)
{
	xdp_lb_bpf__destroy(lb->skel);
	lb->skel = NULL;
}

static int vip_key(struct sl_vip_key *k, const char *addr, __u16 port, __u8 proto)
{
	memset(k, 0, sizeof(*k));
	k->port = htons(port);
	k->proto = proto;
	return sl_pkt_addr(addr, k->addr, &k->family);
}

int lb_vip(struct lb *lb, __u32 id, const char *addr, __u16 port, __u8 proto, __u8 strategy,
	   __u8 fwd, __u8 flags)
{
	struct sl_vip_key k;
	struct sl_addr_key ak = {};
	struct sl_vip v = {};
	__u32 one = 1;
	int err;

	err = vip_key(&k, addr, port, proto);
	if (err)
		return err;
	v.id = id;
	v.strategy = strategy;
	v.fwd = fwd;
	v.flags = flags;
	err = bpf_map__update_elem(lb->skel->maps.sl_vips, &k, sizeof(k), &v, sizeof(v), 0);
	if (err)
		return err;
	memcpy(ak.addr, k.addr, sizeof(ak.addr));
	ak.family = k.family;
	err = bpf_map__update_elem(lb->skel->maps.sl_vip_addrs, &ak, sizeof(ak), &one, 4, 0);
	if (err)
		return err;
	if (fwd == SL_FWD_NAT) {
		struct sl_cfg cfg = {};
		__u32 zero = 0;

		bpf_map__lookup_elem(lb->skel->maps.sl_cfg, &zero, 4, &cfg, sizeof(cfg), 0);
		cfg.nat_vips++;
		err = bpf_map__update_elem(lb->skel->maps.sl_cfg, &zero, 4, &cfg, sizeof(cfg), 0);
	}
	return err;
}

int lb_vip_limits(struct lb *lb, const char *addr, __u16 port, __u8 proto, __u32 conn_rate,
		  __u32 conn_burst, __u32 pkt_rate, __u32 pkt_burst)
{
	struct sl_vip_key k;
	struct sl_vip v;
	int err;

	err = vip_key(&k, addr, port, proto);
	if (!err)
		err = bpf_map__lookup_elem(lb->skel->maps.sl_vips, &k, sizeof(k), &v, sizeof(v), 0);
	if (err)
		return err;
	v.conn_rate = conn_rate;
	v.conn_burst = conn_burst;
	v.pkt_rate = pkt_rate;
	v.pkt_burst = pkt_burst;
	return bpf_map__update_elem(lb->skel->maps.sl_vips, &k, sizeof(k), &v, sizeof(v), 0);
}

int lb_backend(struct lb *lb, __u32 id, const char *addr, __u16 port, __u32 weight, __u32 vip_id,
	       __u8 flags, __u32 gen)
{
	struct sl_backend b = {};
	int err;

	err = sl_pkt_addr(addr, b.addr, &b.family);
	if (err)
		return err;
	b.port = htons(port);
	b.weight = weight;
	b.vip_id = vip_id;
	b.flags = flags;
	b.gen = gen;
	return bpf_map__update_elem(lb->skel->maps.sl_backends, &id, 4, &b, sizeof(b), 0);
}

int lb_group(struct lb *lb, __u32 vip_id, const __u32 *ids, __u32 n)
{
	struct sl_group_member m[SL_GROUP_MAX];
	struct sl_mg_backend mb[SL_GROUP_MAX];
	struct sl_group *g;
	__u32 *table, i;
	int err, inner;

	if (n > SL_GROUP_MAX)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		struct sl_backend b;

		err = bpf_map__lookup_elem(lb->skel->maps.sl_backends, &ids[i], 4, &b, sizeof(b), 0);
		if (err)
			return err;
		m[i].id = ids[i];
		m[i].weight = b.weight;
		memset(&mb[i], 0, sizeof(mb[i]));
		memcpy(mb[i].addr, b.addr, sizeof(b.addr));
		mb[i].port = b.port;
		mb[i].family = b.family;
		mb[i].weight = b.weight;
		mb[i].id = ids[i];
	}
	g = calloc(1, sizeof(*g));
	table = calloc(SL_MAGLEV_SIZE, sizeof(*table));
	err = (!g || !table) ? -ENOMEM : sl_group_build(g, m, n);
	if (!err)
		err = bpf_map__update_elem(lb->skel->maps.sl_groups, &vip_id, 4, g, sizeof(*g), 0);
	if (!err)
		err = sl_maglev_build(table, SL_MAGLEV_SIZE, mb, n);
	if (!err) {
		/* A fresh inner table, filled, then swapped in whole. */
		inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "sl_mg_vip", 4, 4, SL_MAGLEV_SIZE, NULL);
		if (inner < 0) {
			err = -errno;
		} else {
			for (i = 0; i < SL_MAGLEV_SIZE && !err; i++)
				err = bpf_map_update_elem(inner, &i, &table[i], 0);
			if (!err)
				err = bpf_map__update_elem(lb->skel->maps.sl_maglev, &vip_id, 4,
							   &inner, 4, 0);
			close(inner);
		}
	}
	free(g);
	free(table);
	return err;
}

int lb_run_if(struct lb *lb, __u32 ifindex, const void *in, size_t len, void *out,
	      size_t *out_len, __u32 *verdict)
{
	return sl_xdp_run(lb->prog_fd, in, len, out, SL_PKT_MAX + 64, out_len, ifindex, verdict);
}

int lb_run(struct lb *lb, const void *in, size_t len, void *out, size_t *out_len, __u32 *verdict)
{
	return lb_run_if(lb, lb->if_client, in, len, out, out_len, verdict);
}

int lb_sweep(struct lb *lb)
{
	unsigned char pkt[64] = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = sizeof(pkt));

	return bpf_prog_test_run_opts(lb->sweep_fd, &opts);
}

static __u64 percpu_sum_u64(struct bpf_map *map, __u32 idx)
{
	int n = libbpf_num_possible_cpus(), i;
	__u64 *v = calloc(n, sizeof(__u64)), sum = 0;

	if (v && !bpf_map__lookup_elem(map, &idx, 4, v, n * sizeof(__u64), 0))
		for (i = 0; i < n; i++)
			sum += v[i];
	free(v);
	return sum;
}

__u64 lb_counter(struct lb *lb, __u32 idx)
{
	return percpu_sum_u64(lb->skel->maps.sl_counters, idx);
}

__u64 lb_drops(struct lb *lb, __u32 reason)
{
	return percpu_sum_u64(lb->skel->maps.sl_drops, reason);
}

__s64 lb_active(struct lb *lb, __u32 be_id)
{
	struct sl_be_active a = {};

	bpf_map__lookup_elem(lb->skel->maps.sl_be_active, &be_id, 4, &a, sizeof(a), 0);
	return a.flows;
}

struct sl_be_stats lb_be_stats(struct lb *lb, __u32 be_id)
{
	int n = libbpf_num_possible_cpus(), i;
	struct sl_be_stats *v = calloc(n, sizeof(*v)), s = {};

	if (v && !bpf_map__lookup_elem(lb->skel->maps.sl_be_stats, &be_id, 4, v, n * sizeof(*v), 0))
		for (i = 0; i < n; i++) {
			s.packets += v[i].packets;
			s.bytes += v[i].bytes;
			s.new_flows += v[i].new_flows;
			s.replies += v[i].replies;
		}
	free(v);
	return s;
}

struct sl_vip_stats lb_vip_stats(struct lb *lb, __u32 vip_id)
{
	int n = libbpf_num_possible_cpus(), i;
	struct sl_vip_stats *v = calloc(n, sizeof(*v)), s = {};

	if (v && !bpf_map__lookup_elem(lb->skel->maps.sl_vip_stats, &vip_id, 4, v, n * sizeof(*v), 0))
		for (i = 0; i < n; i++) {
			s.packets += v[i].packets;
			s.bytes += v[i].bytes;
			s.new_flows += v[i].new_flows;
			s.drops += v[i].drops;
		}
	free(v);
	return s;
}
