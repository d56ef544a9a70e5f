// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * bench/xdp_cost: the XDP per-packet cost of the real xdp_lb object under
 * BPF_PROG_TEST_RUN, next to floor programs measured the same way in the
 * same run. Run by tests/bench/bench_xdp.sh inside a namespace of its own
 * (it needs the interface --ifname with its neighbours, see there); prints
 * the markdown section on stdout, progress on stderr. Measures, never asserts
 * a speed; exits non-zero when it could not measure, or when a measured
 * packet did not take the path its case names (a number for the wrong path
 * is worse than none).
 *
 * Cases, for each table size N (entries in sl_conns and sl_nat_rev):
 *   non-VIP      a TCP packet to a local address, not a VIP (IPv4, IPv6)
 *   new flow     a SYN from a source address and port never used before
 *   established  an ACK of a flow already in the table
 * for 30 VIPs: 5 strategies x 3 forwarding modes x 2 families, 4 backends each.
 *
 * Timing: one BPF_PROG_TEST_RUN per packet with repeat = 1 (repeat > 1 would
 * run the program again on the packet it already rewrote), and the kernel's
 * own `duration` for it: ktime_get_ns() read before and after one program run.
 * Those two clock reads are found (the XDP_PASS floor one run per call less the
 * same back to back, repeat HOT_REPEAT) and subtracted from every figure. The
 * method notes printed with the section say the rest.
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "sluice/abi.h"
#include "xdp_lb.skel.h"
#include "../../user/lib/group.h"
#include "../../user/lib/maglev.h"

#define NSTRAT SL_STRAT__MAX
#define NFWD SL_FWD__MAX
#define NVIPS (NSTRAT * NFWD * 2)
#define NBE 4		 /* backends per VIP */
#define BE_HOST 0x10	 /* backend k: 198.18.0.(16+k), 2001:db8::(10+k), MAC 02:be:0:0:0:(10+k) */
#define NAT_BE_PORT 8080 /* NAT backends listen here: the rewrite changes the port too */
#define VIP_PORT 80
#define PKT_CAP 256
#define TCP_SYN 0x02
#define TCP_ACK 0x10

static const __u8 mac_router[6] = { 0x02, 0xc1, 0x00, 0x00, 0x00, 0x02 };
static const __u8 mac_be_pfx[5] = { 0x02, 0xbe, 0x00, 0x00, 0x00 };
static const char *const strat_name[NSTRAT] = { "rr", "wrr", "wrandom", "leastconn", "maglev" };
static const char *const fwd_name[NFWD] = { "nat", "dsr", "ipip" };

static int verbose;

#define pr_info(...) fprintf(stderr, __VA_ARGS__)
#define pr_debug(...)                                                                              \
	do {                                                                                       \
		if (verbose)                                                                       \
			fprintf(stderr, __VA_ARGS__);                                              \
	} while (0)

/* ---- packets ---------------------------------------------------------------------------- */

/* One TCP packet as the client sends it. Addresses are raw network-order bytes. */
struct flowspec {
	int fam; /* 4 or 6 */
	__u8 src[16], dst[16];
	__u16 sport, dport; /* host order */
	__u8 flags;
};

static __u32 sum16(__u32 s, const __u8 *p, size_t n)
{
	for (; n > 1; p += 2, n -= 2)
		s += (__u32)p[0] << 8 | p[1];
	if (n)
		s += (__u32)p[0] << 8;
	return s;
}

static __u16 fold(__u32 s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

static void put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v;
}

/* Ethernet + IPv4/IPv6 + TCP (20 bytes, no payload), checksums right. Returns the length. */
static int pkt_build(const struct flowspec *f, const __u8 if_mac[6], __u8 *buf)
{
	size_t l3 = 14, ihl = f->fam == 4 ? 20 : 40, l4 = l3 + ihl, len = l4 + 20;
	__u8 *ip = buf + l3, *th = buf + l4;
	__u32 s;

	memset(buf, 0, len);
	memcpy(buf, if_mac, 6);
	memcpy(buf + 6, mac_router, 6);
	put16(buf + 12, f->fam == 4 ? 0x0800 : 0x86dd);
	put16(th, f->sport);
	put16(th + 2, f->dport);
	th[7] = 1;			/* seq */
	th[11] = f->flags & TCP_ACK ? 1 : 0; /* ack */
	th[12] = 5 << 4;
	th[13] = f->flags;
	put16(th + 14, 64240);
	if (f->fam == 4) {
		ip[0] = 0x45;
		put16(ip + 2, (__u16)(ihl + 20));
		ip[6] = 0x40; /* DF */
		ip[8] = 64;
		ip[9] = 6;
		memcpy(ip + 12, f->src, 4);
		memcpy(ip + 16, f->dst, 4);
		put16(ip + 10, fold(sum16(0, ip, 20)));
		s = sum16(0, ip + 12, 8);
	} else {
		ip[0] = 0x60;
		put16(ip + 4, 20);
		ip[6] = 6;
		ip[7] = 64;
		memcpy(ip + 8, f->src, 16);
		memcpy(ip + 24, f->dst, 16);
		s = sum16(0, ip + 8, 32);
	}
	s += 6 + 20;
	put16(th + 16, fold(sum16(s, th, 20)));
	return (int)len;
}

/* ---- addresses -------------------------------------------------------------------------- */

static void addr4(__u8 *a, __u8 b0, __u8 b1, __u8 b2, __u8 b3)
{
	memset(a, 0, 16);
	a[0] = b0;
	a[1] = b1;
	a[2] = b2;
	a[3] = b3;
}

/* 2001:db8:X::/48 with @low as the last 32 bits. */
static void addr6(__u8 *a, __u16 x, __u32 low)
{
	memset(a, 0, 16);
	a[0] = 0x20;
	a[1] = 0x01;
	a[2] = 0x0d;
	a[3] = 0xb8;
	a[4] = x >> 8;
	a[5] = x;
	a[12] = low >> 24;
	a[13] = low >> 16;
	a[14] = low >> 8;
	a[15] = low;
}

/*
 * Client number @c: an address and a port. Pre-populated flows use 198.18.128.0/17
 * and 2001:db8:c::/48, new flows 198.19.128.0/17 and 2001:db8:d::/48 (@fresh), so a new
 * flow can never hit a pre-populated entry.
 */
static void client(int fam, __u32 c, int fresh, __u8 *addr, __u16 *port)
{
	__u32 host = c >> 15;

	if (fam == 4)
		addr4(addr, 198, fresh ? 19 : 18, 128 + ((host >> 8) & 127), host & 255);
	else
		addr6(addr, fresh ? 0xd : 0xc, host);
	*port = 32768 + (c & 32767);
}

static void be_addr(int fam, int k, __u8 *a)
{
	if (fam == 4)
		addr4(a, 198, 18, 0, BE_HOST + k);
	else
		addr6(a, 0, BE_HOST + k);
}

/* ---- the load balancer under test ------------------------------------------------------- */

struct vip {
	__u32 id;
	__u8 strategy, fwd, fam;
	__u8 addr[16];
};

static struct vip vips[NVIPS];

static void vips_define(void)
{
	int f, m, s, fi;

	for (m = 0; m < NFWD; m++)
		for (fi = 0; fi < 2; fi++)
			for (s = 0; s < NSTRAT; s++) {
				struct vip *v = &vips[(m * 2 + fi) * NSTRAT + s];

				f = fi ? 6 : 4;
				v->id = (__u32)(v - vips);
				v->strategy = s;
				v->fwd = m;
				v->fam = f;
				if (f == 4)
					addr4(v->addr, 198, 19, m, 10 + s);
				else
					addr6(v->addr, 0xf, (__u32)m << 8 | (10 + s));
			}
}

static __u32 be_id(const struct vip *v, int k)
{
	return v->id * NBE + k;
}

static __be16 be_port(const struct vip *v)
{
	return v->fwd == SL_FWD_NAT ? htons(NAT_BE_PORT) : 0;
}

static int map_fd(struct bpf_map *m)
{
	return bpf_map__fd(m);
}

static int lb_setup(struct xdp_lb_bpf *skel)
{
	struct sl_group_member mem[NBE];
	struct sl_mg_backend mb[NBE];
	struct sl_cfg cfg = {};
	struct sl_group g;
	__u32 *table = NULL, zero = 0, i, count;
	int vi, k, err = 0, inner = -1;

	table = calloc(SL_MAGLEV_SIZE, sizeof(*table));
	if (!table)
		return -ENOMEM;
	for (vi = 0; vi < NVIPS && !err; vi++) {
		struct vip *v = &vips[vi];
		struct sl_vip_key vk = {};
		struct sl_addr_key ak = {};
		struct sl_vip val = {};
		__u32 one = 1;

		memcpy(vk.addr, v->addr, 16);
		vk.port = htons(VIP_PORT);
		vk.proto = IPPROTO_TCP;
		vk.family = v->fam;
		val.id = v->id;
		val.strategy = v->strategy;
		val.fwd = v->fwd;
		err = bpf_map_update_elem(map_fd(skel->maps.sl_vips), &vk, &val, 0);
		memcpy(ak.addr, v->addr, 16);
		ak.family = v->fam;
		if (!err)
			err = bpf_map_update_elem(map_fd(skel->maps.sl_vip_addrs), &ak, &one, 0);
		for (k = 0; k < NBE && !err; k++) {
			struct sl_backend b = {};
			__u32 id = be_id(v, k);

			be_addr(v->fam, k, (__u8 *)b.addr);
			b.port = be_port(v);
			b.family = v->fam;
			b.weight = k + 1;
			b.gen = 1;
			b.vip_id = v->id;
			err = bpf_map_update_elem(map_fd(skel->maps.sl_backends), &id, &b, 0);
			mem[k].id = id;
			mem[k].weight = b.weight;
			memset(&mb[k], 0, sizeof(mb[k]));
			memcpy(mb[k].addr, b.addr, 16);
			mb[k].port = b.port;
			mb[k].family = b.family;
			mb[k].weight = b.weight;
			mb[k].id = id;
		}
		if (!err)
			err = sl_group_build(&g, mem, NBE);
		if (!err)
			err = bpf_map_update_elem(map_fd(skel->maps.sl_groups), &v->id, &g, 0);
		if (err || v->strategy != SL_STRAT_MAGLEV)
			continue;
		err = sl_maglev_build(table, SL_MAGLEV_SIZE, mb, NBE);
		if (err)
			break;
		inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "sl_mg_vip", 4, 4, SL_MAGLEV_SIZE, NULL);
		if (inner < 0) {
			err = -errno;
			break;
		}
		{
			__u32 *keys = malloc(SL_MAGLEV_SIZE * sizeof(*keys));

			if (!keys) {
				err = -ENOMEM;
			} else {
				for (i = 0; i < SL_MAGLEV_SIZE; i++)
					keys[i] = i;
				count = SL_MAGLEV_SIZE;
				err = bpf_map_update_batch(inner, keys, table, &count, NULL);
				free(keys);
			}
		}
		if (!err)
			err = bpf_map_update_elem(map_fd(skel->maps.sl_maglev), &v->id, &inner, 0);
		close(inner);
	}
	if (!err) {
		for (vi = 0; vi < NVIPS; vi++)
			cfg.nat_vips += vips[vi].fwd == SL_FWD_NAT;
		err = bpf_map_update_elem(map_fd(skel->maps.sl_cfg), &zero, &cfg, 0);
	}
	free(table);
	return err ? (err < 0 ? err : -err) : 0;
}

static __u64 coarse_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* The sl_conns key of flow @k of VIP @v (client number v + NVIPS * k). */
static void flow_key(const struct vip *v, __u32 k, struct sl_flow *f, __u16 *sport_host)
{
	__u16 sport;

	memset(f, 0, sizeof(*f));
	client(v->fam, v->id + NVIPS * k, 0, (__u8 *)f->src, &sport);
	memcpy(f->dst, v->addr, 16);
	f->sport = htons(sport);
	f->dport = htons(VIP_PORT);
	f->proto = IPPROTO_TCP;
	f->family = v->fam;
	if (sport_host)
		*sport_host = sport;
}

/* The reply tuple (backend -> client) of a flow to backend slot @k, as sl_nat_remember() has it. */
static void nat_rev_of(const struct vip *v, const struct sl_flow *f, int k, struct sl_flow *r,
		       struct sl_nat_rev *val, __u64 now)
{
	memset(r, 0, sizeof(*r));
	be_addr(v->fam, k, (__u8 *)r->src);
	memcpy(r->dst, f->src, 16);
	r->sport = be_port(v) ? be_port(v) : f->dport;
	r->dport = f->sport;
	r->proto = f->proto;
	r->family = f->family;
	if (val) {
		memset(val, 0, sizeof(*val));
		memcpy(val->vip, v->addr, 16);
		val->vport = htons(VIP_PORT);
		val->vip_id = v->id;
		val->be_id = be_id(v, k);
		val->last_ns = now;
	}
}

/* ---- the run ---------------------------------------------------------------------------- */

enum kind { K_PASS, K_TX, K_FIB, K_NONVIP, K_NEW, K_EST };

struct xcase {
	enum kind kind;
	int fam;
	const struct vip *v; /* K_NEW, K_EST */
	int prog_fd;
	__u32 *ns;	     /* kernel durations, one per packet */
	size_t n, cap;
	__u64 stat_ns, stat_cnt; /* bpf_stats pass: program-only time */
	__u32 cursor;		 /* K_EST: next flow */
	double mean, median;
	double spread; /* (largest - smallest round mean) / figure */
	__u32 p10, p90, p99;
};

struct block {
	__u32 size;	   /* flows in the table */
	__u32 max_entries; /* sl_conns / sl_nat_rev size */
	struct xcase *c;
	int nc;
	double populate_s;
	double b2b[8];	 /* back to back, per entry of hots[] (only the floors past 1 flow) */
	double ovh;	 /* what one run per call adds: XDP_PASS one per call less back to back */
	double stat_ovh; /* the same for the bpf_stats figures */
};

struct bench {
	struct xdp_lb_bpf *skel;
	int lb_fd;
	int fl_pass, fl_tx, fl_fib;
	__u32 ifindex;
	__u8 if_mac[6];
	int rounds, per_round, quick;
	__u32 fresh; /* next never-used client number */
	__u32 owner; /* N < NVIPS: the VIP whose flows fill the table */
	__u32 size;
	int ncpu;
	__u64 *pc; /* per-CPU read buffer */
};

static int run_n(struct bench *b, int fd, const __u8 *in, __u32 len, __u8 *out, __u32 *out_len,
		 __u32 *verdict, __u32 *dur, __u32 repeat)
{
	struct xdp_md ctx = { .data_end = len, .ingress_ifindex = b->ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = len, .data_out = out,
		    .data_size_out = PKT_CAP, .ctx_in = &ctx, .ctx_size_in = sizeof(ctx),
		    .repeat = repeat);
	int err = bpf_prog_test_run_opts(fd, &o);

	if (err)
		return err < 0 ? err : -EINVAL;
	*out_len = o.data_size_out;
	*verdict = o.retval;
	*dur = o.duration;
	return 0;
}

static __u64 percpu_sum(struct bench *b, struct bpf_map *m, __u32 idx)
{
	__u64 s = 0;
	int i;

	if (bpf_map_lookup_elem(map_fd(m), &idx, b->pc))
		return 0;
	for (i = 0; i < b->ncpu; i++)
		s += b->pc[i];
	return s;
}

struct snap {
	__u64 c[SL_C__MAX];
	__u64 d[SL_DROP__MAX];
};

static void snap_take(struct bench *b, struct snap *s)
{
	__u32 i;

	for (i = 0; i < SL_C__MAX; i++)
		s->c[i] = percpu_sum(b, b->skel->maps.sl_counters, i);
	for (i = 0; i < SL_DROP__MAX; i++)
		s->d[i] = percpu_sum(b, b->skel->maps.sl_drops, i);
}

static const char *case_name(const struct xcase *c, char *buf, size_t len)
{
	static const char *const kn[] = { "floor XDP_PASS", "floor XDP_TX", "floor fib",
					  "non-VIP", "new flow", "established" };

	if (c->v)
		snprintf(buf, len, "%s %s %s IPv%d (VIP %u)", kn[c->kind],
			 strat_name[c->v->strategy], fwd_name[c->v->fwd], c->fam, c->v->id);
	else
		snprintf(buf, len, "%s IPv%d", kn[c->kind], c->fam);
	return buf;
}

/*
 * The counters a batch of @n packets of case @c must have moved, and nothing
 * else: proves every packet took the path the case names.
 */
static int snap_check(const struct xcase *c, const struct snap *a, const struct snap *z, __u64 n)
{
	__u64 want[SL_C__MAX] = {};
	char name[96];
	int i, bad = 0;

	if (c->kind == K_NONVIP)
		want[SL_C_PASS_NOT_VIP] = n;
	if (c->kind == K_NEW || c->kind == K_EST)
		want[SL_C_TX] = n;
	if (c->kind == K_NEW)
		want[SL_C_CT_NEW] = n;
	for (i = 0; i < SL_C__MAX; i++)
		if (z->c[i] - a->c[i] != want[i]) {
			pr_info("xdp_cost: %s: counter %d moved by %llu, expected %llu\n",
				case_name(c, name, sizeof(name)), i,
				(unsigned long long)(z->c[i] - a->c[i]),
				(unsigned long long)want[i]);
			bad = 1;
		}
	for (i = 0; i < SL_DROP__MAX; i++)
		if (z->d[i] != a->d[i]) {
			pr_info("xdp_cost: %s: drop reason %d counted %llu times, expected none\n",
				case_name(c, name, sizeof(name)), i,
				(unsigned long long)(z->d[i] - a->d[i]));
			bad = 1;
		}
	return bad ? -EPROTO : 0;
}

/* Does the output frame go to backend slot k of its VIP (MAC and, where rewritten, address)? */
static int out_backend(const struct xcase *c, const __u8 *out, __u32 out_len, __u32 in_len)
{
	int k, fam = c->fam;
	__u32 grow = 0;
	const __u8 *ip = out + 14;
	__u8 want[16];

	if (out_len < 14 || memcmp(out, mac_be_pfx, 5))
		return -1;
	k = out[5] - BE_HOST;
	if (k < 0 || k >= NBE)
		return -1;
	if (c->v->fwd == SL_FWD_IPIP)
		grow = fam == 4 ? 20 : 40;
	if (out_len != in_len + grow)
		return -1;
	if (c->v->fwd == SL_FWD_DSR)
		memcpy(want, c->v->addr, 16);
	else
		be_addr(fam, k, want);
	if (fam == 4 ? memcmp(ip + 16, want, 4) : memcmp(ip + 24, want, 16))
		return -1;
	if (c->v->fwd == SL_FWD_IPIP && ip[fam == 4 ? 9 : 6] != (fam == 4 ? 4 : 41))
		return -1;
	if (c->v->fwd == SL_FWD_NAT) {
		const __u8 *th = ip + (fam == 4 ? 20 : 40);

		if ((th[2] << 8 | th[3]) != NAT_BE_PORT)
			return -1;
	}
	return k;
}

static int g_stride(__u32 n)
{
	static const __u32 primes[] = { 7919, 6101, 4999, 3011, 1009, 101, 7, 1 };
	unsigned i;

	for (i = 0; i < sizeof(primes) / sizeof(primes[0]); i++)
		if (primes[i] == 1 || (primes[i] < n && n % primes[i]))
			return primes[i];
	return 1;
}

/* Flows of VIP @v in the table. */
static __u32 flows_of(const struct bench *b, const struct vip *v)
{
	if (b->size < NVIPS)
		return b->owner == v->id ? b->size : 0;
	return (b->size - v->id + NVIPS - 1) / NVIPS;
}

/*
 * Write the table entries (sl_conns, sl_nat_rev) of flows k in [0, count) of
 * every VIP in @vs, @nv of them, round-robin over the VIPs; and the active-flow
 * counts they make. With @del, remove them instead.
 */
static int populate(struct bench *b, const struct vip *const *vs, int nv, __u32 total, int del)
{
	const __u32 chunk = 65536;
	struct sl_flow *keys = NULL, *rkeys = NULL;
	struct sl_nat_rev *rvals = NULL;
	struct sl_conn *vals = NULL;
	__u64 now = coarse_ns();
	__u32 i, n, cnt, done = 0;
	int err = 0;

	keys = calloc(chunk, sizeof(*keys));
	rkeys = calloc(chunk, sizeof(*rkeys));
	vals = calloc(chunk, sizeof(*vals));
	rvals = calloc(chunk, sizeof(*rvals));
	if (!keys || !rkeys || !vals || !rvals) {
		err = -ENOMEM;
		goto out;
	}
	while (done < total && !err) {
		n = total - done < chunk ? total - done : chunk;
		for (i = 0; i < n; i++) {
			__u32 idx = done + i;
			const struct vip *v = vs[idx % nv];
			__u32 k = idx / nv;
			int be = k % NBE;

			flow_key(v, k, &keys[i], NULL);
			vals[i] = (struct sl_conn){ .last_ns = now, .be_id = be_id(v, be),
						    .be_gen = 1, .vip_id = v->id,
						    .state = SL_CT_ACTIVE };
			nat_rev_of(v, &keys[i], be, &rkeys[i], &rvals[i], now);
		}
		cnt = n;
		if (del) {
			err = bpf_map_delete_batch(map_fd(b->skel->maps.sl_conns), keys, &cnt,
						   NULL);
			cnt = n;
			if (!err)
				err = bpf_map_delete_batch(map_fd(b->skel->maps.sl_nat_rev), rkeys,
							   &cnt, NULL);
		} else {
			err = bpf_map_update_batch(map_fd(b->skel->maps.sl_conns), keys, vals, &cnt,
						   NULL);
			cnt = n;
			if (!err)
				err = bpf_map_update_batch(map_fd(b->skel->maps.sl_nat_rev), rkeys,
							   rvals, &cnt, NULL);
		}
		if (err)
			err = -errno;
		done += n;
	}
out:
	free(keys);
	free(rkeys);
	free(vals);
	free(rvals);
	return err;
}

/* The active-flow count of each backend as the pre-populated flows make it. */
static int active_reset(struct bench *b, const struct vip *v)
{
	__u32 cnt = flows_of(b, v), k;
	int err = 0;

	for (k = 0; k < NBE && !err; k++) {
		struct sl_be_active a = { .flows = cnt / NBE + (k < cnt % NBE) };
		__u32 id = be_id(v, k);

		err = bpf_map_update_elem(map_fd(b->skel->maps.sl_be_active), &id, &a, 0);
	}
	return err ? -errno : 0;
}

/* With fewer flows than VIPs, the table holds flows of the VIP being measured only. */
static int own_table(struct bench *b, const struct vip *v)
{
	const struct vip *vs[1];
	int err;

	if (b->size >= NVIPS || b->owner == v->id)
		return 0;
	vs[0] = &vips[b->owner];
	err = populate(b, vs, 1, b->size, 1);
	active_reset(b, vs[0]);
	b->owner = v->id;
	vs[0] = v;
	if (!err)
		err = populate(b, vs, 1, b->size, 0);
	if (!err)
		err = active_reset(b, v);
	return err;
}

static int sample_add(struct xcase *c, __u32 ns)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 4096;
		__u32 *p = realloc(c->ns, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		c->ns = p;
		c->cap = cap;
	}
	c->ns[c->n++] = ns;
	return 0;
}

static int prog_stats(int fd, __u64 *ns, __u64 *cnt)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	*ns = info.run_time_ns;
	*cnt = info.run_cnt;
	return 0;
}

/*
 * The next packet of case @c (a never-used source where the case wants one; for
 * established, the VIP's flow at the cursor, its key in @key). Returns the
 * verdict the packet must get, or a negative errno.
 */
static int case_spec(struct bench *b, struct xcase *c, struct flowspec *fs, struct sl_flow *key)
{
	struct flowspec f;
	int want_verdict = XDP_TX;

	memset(&f, 0, sizeof(f));
	f.fam = c->fam;
	f.flags = TCP_ACK;
	switch (c->kind) {
	case K_PASS:
	case K_TX:
		want_verdict = c->kind == K_PASS ? XDP_PASS : XDP_TX;
		/* fall through */
	case K_NONVIP:
		client(c->fam, b->fresh++, 1, f.src, &f.sport);
		if (c->fam == 4)
			addr4(f.dst, 198, 18, 0, 1);
		else
			addr6(f.dst, 0, 1);
		f.dport = 22;
		if (c->kind == K_NONVIP)
			want_verdict = XDP_PASS;
		break;
	case K_FIB:
		client(c->fam, b->fresh++, 1, f.src, &f.sport);
		be_addr(c->fam, 0, f.dst);
		f.dport = VIP_PORT;
		break;
	case K_NEW:
		client(c->fam, b->fresh++, 1, f.src, &f.sport);
		memcpy(f.dst, c->v->addr, 16);
		f.dport = VIP_PORT;
		f.flags = TCP_SYN;
		break;
	case K_EST: {
		__u32 nf = flows_of(b, c->v);

		if (!nf)
			return -ENOENT;
		c->cursor %= nf;
		flow_key(c->v, c->cursor, key, &f.sport);
		memcpy(f.src, key->src, 16);
		memcpy(f.dst, c->v->addr, 16);
		f.dport = VIP_PORT;
		break;
	}
	}
	*fs = f;
	return want_verdict;
}

/*
 * Run @n packets of case @c. With @stats, bpf_stats is on and the program's own
 * run time is what is kept; else the kernel's per-run duration of each packet.
 */
static int batch(struct bench *b, struct xcase *c, int n, int stats)
{
	__u8 in[PKT_CAP], out[PKT_CAP];
	__u32 len, olen, verdict, dur;
	__u64 ns0 = 0, cnt0 = 0, ns1 = 0, cnt1 = 0;
	struct snap s0, s1;
	struct flowspec f;
	char name[96];
	int i, err = 0, k, deleted;

	if (c->v) {
		err = own_table(b, c->v);
		if (err)
			return err;
	}
	if (c->kind >= K_NONVIP)
		snap_take(b, &s0);
	if (stats && (err = prog_stats(c->prog_fd, &ns0, &cnt0)))
		return err;
	for (i = 0; i < n && !err; i++) {
		struct sl_flow key;
		int want_verdict;

		want_verdict = case_spec(b, c, &f, &key);
		if (want_verdict < 0)
			return want_verdict;
		len = pkt_build(&f, b->if_mac, in);
		err = run_n(b, c->prog_fd, in, len, out, &olen, &verdict, &dur, 1);
		if (err)
			break;
		if (verdict != (__u32)want_verdict) {
			pr_info("xdp_cost: %s: verdict %u, expected %d\n",
				case_name(c, name, sizeof(name)), verdict, want_verdict);
			return -EPROTO;
		}
		if (c->kind == K_TX && (memcmp(out, in + 6, 6) || memcmp(out + 6, in, 6)))
			goto bad_out;
		if (c->kind == K_FIB && (memcmp(out, mac_be_pfx, 5) || out[5] != BE_HOST))
			goto bad_out;
		if (c->kind == K_NEW || c->kind == K_EST) {
			k = out_backend(c, out, olen, len);
			if (k < 0)
				goto bad_out;
			if (c->kind == K_EST) {
				/* the flow's backend, from its entry: the lookup hit */
				if (k != (int)(c->cursor % NBE))
					goto bad_out;
				c->cursor += g_stride(flows_of(b, c->v));
			} else {
				struct sl_flow r;

				/* Untimed: remove what this packet created, so every
				 * new flow meets a table of exactly the case's size. */
				memset(&key, 0, sizeof(key));
				memcpy(key.src, f.src, 16);
				memcpy(key.dst, f.dst, 16);
				key.sport = htons(f.sport);
				key.dport = htons(f.dport);
				key.proto = IPPROTO_TCP;
				key.family = c->fam;
				if (bpf_map_delete_elem(map_fd(b->skel->maps.sl_conns), &key)) {
					pr_info("xdp_cost: %s: new flow, no sl_conns entry\n",
						case_name(c, name, sizeof(name)));
					return -EPROTO;
				}
				nat_rev_of(c->v, &key, k, &r, NULL, 0);
				deleted = bpf_map_delete_elem(map_fd(b->skel->maps.sl_nat_rev),
							      &r) == 0;
				if (deleted != (c->v->fwd == SL_FWD_NAT)) {
					pr_info("xdp_cost: %s: new flow, sl_nat_rev entry %s\n",
						case_name(c, name, sizeof(name)),
						c->v->fwd == SL_FWD_NAT ? "missing" : "present");
					return -EPROTO;
				}
			}
		}
		if (!stats)
			err = sample_add(c, dur);
	}
	if (err)
		return err;
	if (stats) {
		err = prog_stats(c->prog_fd, &ns1, &cnt1);
		if (err)
			return err;
		if (cnt1 - cnt0 != (__u64)n) {
			pr_info("xdp_cost: %s: bpf_stats counted %llu runs, expected %d\n",
				case_name(c, name, sizeof(name)),
				(unsigned long long)(cnt1 - cnt0), n);
			return -EPROTO;
		}
		c->stat_ns += ns1 - ns0;
		c->stat_cnt += cnt1 - cnt0;
	}
	if (c->kind >= K_NONVIP) {
		snap_take(b, &s1);
		err = snap_check(c, &s0, &s1, n);
	}
	if (!err && c->v)
		err = active_reset(b, c->v);
	return err;
bad_out:
	pr_info("xdp_cost: %s: the output frame is not the expected one (%u bytes)\n",
		case_name(c, name, sizeof(name)), olen);
	return -EPROTO;
}

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

/* Mean of the lowest 99% of @n durations (the top 1% are interrupts landing in the timed run). */
static double trimmed_mean(__u32 *v, size_t n)
{
	size_t keep = n - n / 100, i;
	double s = 0;

	qsort(v, n, sizeof(*v), cmp_u32);
	for (i = 0; i < keep; i++)
		s += v[i];
	return keep ? s / keep : 0;
}

/*
 * A case's figure: the median over the rounds of each round's trimmed mean, so a
 * stretch of interference from elsewhere on the machine spoils one round, not
 * the figure. Also percentiles of all durations, for the log.
 */
static void summarize(struct xcase *c, int rounds)
{
	size_t seg = c->n / rounds;
	double m[16], t;
	int r, x, y;

	if (!c->n || rounds > 16)
		return;
	for (r = 0; r < rounds; r++)
		m[r] = trimmed_mean(c->ns + r * seg, seg);
	for (x = 1; x < rounds; x++)
		for (y = x; y > 0 && m[y - 1] > m[y]; y--)
			t = m[y], m[y] = m[y - 1], m[y - 1] = t;
	c->mean = rounds % 2 ? m[rounds / 2] : (m[rounds / 2 - 1] + m[rounds / 2]) / 2;
	c->spread = c->mean > 0 ? (m[rounds - 1] - m[0]) / c->mean : 0;
	qsort(c->ns, c->n, sizeof(*c->ns), cmp_u32);
	c->median = c->ns[c->n / 2];
	c->p10 = c->ns[c->n / 10];
	c->p90 = c->ns[c->n * 9 / 10];
	c->p99 = c->ns[c->n * 99 / 100];
}

static double stat_ns(const struct xcase *c)
{
	return c->stat_cnt ? (double)c->stat_ns / c->stat_cnt : 0;
}

static int lb_load(struct bench *b, __u32 max_entries)
{
	int err;

	b->skel = xdp_lb_bpf__open();
	if (!b->skel)
		return -errno;
	bpf_map__set_max_entries(b->skel->maps.sl_conns, max_entries);
	bpf_map__set_max_entries(b->skel->maps.sl_nat_rev, max_entries);
	err = xdp_lb_bpf__load(b->skel);
	if (err) {
		xdp_lb_bpf__destroy(b->skel);
		b->skel = NULL;
		return err;
	}
	b->lb_fd = bpf_program__fd(b->skel->progs.sl_xdp);
	return 0;
}

static int hot_run(struct bench *b, struct block *bl, unsigned nhot);

static int block_run(struct bench *b, struct block *bl)
{
	const struct vip *all[NVIPS];
	struct timespec t0, t1;
	int i, r, err, stats_fd;

	bl->max_entries = bl->size + bl->size / 4 + 65536;
	if (bl->max_entries < SL_CONNS_DEFAULT)
		bl->max_entries = SL_CONNS_DEFAULT;
	err = lb_load(b, bl->max_entries);
	if (err) {
		pr_info("xdp_cost: loading xdp_lb with %u-entry tables: %s\n", bl->max_entries,
			strerror(-err));
		return err;
	}
	err = lb_setup(b->skel);
	if (err) {
		pr_info("xdp_cost: filling the VIP/backend/group maps: %s\n", strerror(-err));
		return err;
	}
	b->size = bl->size;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < NVIPS; i++)
		all[i] = &vips[i];
	if (bl->size >= NVIPS) {
		err = populate(b, all, NVIPS, bl->size, 0);
	} else {
		b->owner = 0;
		err = populate(b, all, 1, bl->size, 0);
	}
	for (i = 0; i < NVIPS && !err; i++)
		err = active_reset(b, &vips[i]);
	if (err) {
		pr_info("xdp_cost: pre-populating %u flows: %s\n", bl->size, strerror(-err));
		return err;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	bl->populate_s = t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	pr_info("xdp_cost: %u flows: tables of %u entries, populated in %.1f s\n", bl->size,
		bl->max_entries, bl->populate_s);

	/* floors x4, non-VIP x2, then new and established of each VIP */
	bl->nc = 6 + 2 * NVIPS;
	bl->c = calloc(bl->nc, sizeof(*bl->c));
	if (!bl->c)
		return -ENOMEM;
	bl->c[0] = (struct xcase){ .kind = K_PASS, .fam = 4, .prog_fd = b->fl_pass };
	bl->c[1] = (struct xcase){ .kind = K_TX, .fam = 4, .prog_fd = b->fl_tx };
	bl->c[2] = (struct xcase){ .kind = K_FIB, .fam = 4, .prog_fd = b->fl_fib };
	bl->c[3] = (struct xcase){ .kind = K_FIB, .fam = 6, .prog_fd = b->fl_fib };
	bl->c[4] = (struct xcase){ .kind = K_NONVIP, .fam = 4, .prog_fd = b->lb_fd };
	bl->c[5] = (struct xcase){ .kind = K_NONVIP, .fam = 6, .prog_fd = b->lb_fd };
	for (i = 0; i < NVIPS; i++) {
		bl->c[6 + 2 * i] = (struct xcase){ .kind = K_NEW, .fam = vips[i].fam,
						   .v = &vips[i], .prog_fd = b->lb_fd };
		bl->c[7 + 2 * i] = (struct xcase){ .kind = K_EST, .fam = vips[i].fam,
						   .v = &vips[i], .prog_fd = b->lb_fd };
	}
	/* Rounds interleave every case, so a drift of the machine's speed spreads evenly.
	 * The floors get more packets: they are cheap, and the per-call cost is found
	 * from the XDP_PASS floor. */
	for (r = 0; r < b->rounds && !err; r++)
		for (i = 0; i < bl->nc && !err; i++)
			err = batch(b, &bl->c[i], b->per_round * (bl->c[i].kind < K_NONVIP ? 4 : 1),
				    0);
	if (err)
		return err;
	/* One more round with bpf_stats on: the programs' own run time, no harness. */
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0) {
		pr_info("xdp_cost: bpf_enable_stats: %s (program-only times left out)\n",
			strerror(errno));
	} else {
		for (i = 0; i < bl->nc && !err; i++)
			err = batch(b, &bl->c[i], b->per_round, 1);
		close(stats_fd);
	}
	for (i = 0; i < bl->nc; i++) {
		char name[96];

		summarize(&bl->c[i], b->rounds);
		pr_info("  %-48s mean %6.1f  p10 %5u  p50 %5.0f  p90 %5u  p99 %5u  prog %6.1f\n",
			case_name(&bl->c[i], name, sizeof(name)), bl->c[i].mean, bl->c[i].p10,
			bl->c[i].median, bl->c[i].p90, bl->c[i].p99, stat_ns(&bl->c[i]));
	}
	/* the floors back to back in every block; the other rerunnable paths with 1 flow */
	if (!err)
		err = hot_run(b, bl, bl->size < NVIPS ? 8 : 2);
	if (!err) {
		bl->ovh = bl->c[0].mean - bl->b2b[0];
		bl->stat_ovh = stat_ns(&bl->c[0]) - bl->b2b[0];
		pr_info("xdp_cost: one run per call adds %.1f ns (bpf_stats: %.1f ns)\n", bl->ovh,
			bl->stat_ovh);
	}
	return err;
}

/* ---- back-to-back check ------------------------------------------------------------------ */

#define HOT_REPEAT 100000
#define HOT_TRIES 5

/*
 * The paths a second run does not change (the floors, non-VIP, DSR established:
 * DSR rewrites MACs only), run back to back with repeat = HOT_REPEAT on one
 * packet: no syscall between runs, one clock read per HOT_REPEAT runs, caches
 * hot. Shows what the one-run-per-syscall method adds to each side of a ratio.
 */
struct hot {
	const char *what;
	enum kind kind;
	int fam;
	int fwd; /* K_EST: the rr VIP of this mode */
};

static struct hot hots[] = {
	{ .what = "XDP_PASS floor", .kind = K_PASS, .fam = 4, .fwd = 0 },
	{ .what = "XDP_TX floor", .kind = K_TX, .fam = 4, .fwd = 0 },
	{ .what = "fib+XDP_TX floor IPv4", .kind = K_FIB, .fam = 4, .fwd = 0 },
	{ .what = "fib+XDP_TX floor IPv6", .kind = K_FIB, .fam = 6, .fwd = 0 },
	{ .what = "non-VIP IPv4", .kind = K_NONVIP, .fam = 4, .fwd = 0 },
	{ .what = "non-VIP IPv6", .kind = K_NONVIP, .fam = 6, .fwd = 0 },
	{ .what = "established, rr dsr IPv4", .kind = K_EST, .fam = 4, .fwd = SL_FWD_DSR },
	{ .what = "established, rr dsr IPv6", .kind = K_EST, .fam = 6, .fwd = SL_FWD_DSR },
};

static struct xcase *find(struct block *bl, enum kind k, int fam, int strat, int fwd);

static int hot_run(struct bench *b, struct block *bl, unsigned nhot)
{
	__u8 in[PKT_CAP], out[PKT_CAP];
	__u32 len, olen, verdict, dur;
	struct sl_flow key;
	struct flowspec f;
	struct snap s0, s1;
	char name[96];
	unsigned h;
	int t, want, err = 0;

	for (h = 0; h < nhot && !err; h++) {
		struct xcase *c = find(bl, hots[h].kind, hots[h].fam, SL_STRAT_RR, hots[h].fwd);

		if (!c)
			return -ENOENT;
		if (c->v && (err = own_table(b, c->v)))
			return err;
		c->cursor = 0;
		want = case_spec(b, c, &f, &key);
		if (want < 0)
			return want;
		len = pkt_build(&f, b->if_mac, in);
		bl->b2b[h] = 1e18;
		snap_take(b, &s0);
		for (t = 0; t < HOT_TRIES && !err; t++) {
			err = run_n(b, c->prog_fd, in, len, out, &olen, &verdict, &dur, HOT_REPEAT);
			if (!err && verdict != (__u32)want) {
				pr_info("xdp_cost: back to back, %s: verdict %u, expected %d\n",
					case_name(c, name, sizeof(name)), verdict, want);
				err = -EPROTO;
			}
			if (!err && c->kind == K_EST && out_backend(c, out, olen, len) != 0) {
				pr_info("xdp_cost: back to back, %s: wrong backend\n",
					case_name(c, name, sizeof(name)));
				err = -EPROTO;
			}
			if (!err && dur < bl->b2b[h])
				bl->b2b[h] = dur;
		}
		snap_take(b, &s1);
		if (!err && c->kind >= K_NONVIP)
			err = snap_check(c, &s0, &s1, (__u64)HOT_TRIES * HOT_REPEAT);
		if (!err && c->v)
			err = active_reset(b, c->v);
	}
	return err;
}

/* ---- the section ------------------------------------------------------------------------ */

struct pinfo {
	__u32 verified, xlated, jited;
};

static void pinfo_get(int fd, struct pinfo *p)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	memset(p, 0, sizeof(*p));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return;
	p->verified = info.verified_insns;
	p->xlated = info.xlated_prog_len / 8;
	p->jited = info.jited_prog_len;
}

static const char *size_name(__u32 n, char *buf, size_t len)
{
	if (n >= 1048576 && !(n % 1048576))
		snprintf(buf, len, "%uMi", n / 1048576);
	else if (n >= 1024 && !(n % 1024))
		snprintf(buf, len, "%uKi", n / 1024);
	else
		snprintf(buf, len, "%u", n);
	return buf;
}

static struct xcase *find(struct block *bl, enum kind k, int fam, int strat, int fwd)
{
	int i;

	for (i = 0; i < bl->nc; i++) {
		struct xcase *c = &bl->c[i];

		if (c->kind != k || c->fam != fam)
			continue;
		if (c->v && (c->v->strategy != strat || c->v->fwd != fwd))
			continue;
		return c;
	}
	return NULL;
}

/* A case's cost per packet: its mean less what one run per call adds (see ovh). */
static double net(const struct block *bl, const struct xcase *c)
{
	return c->mean - bl->ovh;
}

/*
 * The XDP_TX floor every ratio divides by: its back-to-back figure (one run per
 * call it is a difference of two numbers three times its size, and swings), the
 * mean over the table-size blocks, since the kernel reports whole ns.
 */
static double tx_floor;

static double ratio(const struct block *bl, const struct xcase *c)
{
	return net(bl, c) / tx_floor;
}

/* The median over the sluice cases of a block of their round-to-round spread. */
static double block_spread(const struct block *bl)
{
	double v[2 + 2 * NVIPS], t;
	int i, n = 0, x, y;

	for (i = 0; i < bl->nc && n < (int)(sizeof(v) / sizeof(v[0])); i++)
		if (bl->c[i].kind >= K_NONVIP)
			v[n++] = bl->c[i].spread;
	for (x = 1; x < n; x++)
		for (y = x; y > 0 && v[y - 1] > v[y]; y--)
			t = v[y], v[y] = v[y - 1], v[y - 1] = t;
	return n ? v[n / 2] : 0;
}

static void print_block(struct block *bl)
{
	char sz[16];
	int s, m, fi, k;

	printf("\n**%s flow%s in the table** (sl_conns and sl_nat_rev of %u entries each; "
	       "per-call cost subtracted: %.1f ns). Floors: XDP_PASS %.0f ns, **XDP_TX %.0f ns** "
	       "(back to back in this block; one run per call %.1f ns), fib+XDP_TX %.0f / %.0f "
	       "ns (%.1f× / %.1f×). Non-VIP packet: %.0f ns (%.1f×) IPv4, %.0f ns (%.1f×) "
	       "IPv6. Rounds of a case differ by %.0f%% (median case; largest to smallest).\n\n",
	       size_name(bl->size, sz, sizeof(sz)), bl->size == 1 ? "" : "s", bl->max_entries,
	       bl->ovh, bl->b2b[0], bl->b2b[1], net(bl, &bl->c[1]), net(bl, &bl->c[2]),
	       net(bl, &bl->c[3]), ratio(bl, &bl->c[2]), ratio(bl, &bl->c[3]), net(bl, &bl->c[4]),
	       ratio(bl, &bl->c[4]), net(bl, &bl->c[5]), ratio(bl, &bl->c[5]),
	       block_spread(bl) * 100);
	printf("| strategy | packet |");
	for (m = 0; m < NFWD; m++)
		for (fi = 0; fi < 2; fi++)
			printf(" %s IPv%d |", fwd_name[m], fi ? 6 : 4);
	printf("\n|---|---|");
	for (m = 0; m < NFWD * 2; m++)
		printf("---:|");
	printf("\n");
	for (s = 0; s < NSTRAT; s++)
		for (k = K_NEW; k <= K_EST; k++) {
			printf("| %s | %s |", strat_name[s],
			       k == K_NEW ? "new flow" : "established");
			for (m = 0; m < NFWD; m++)
				for (fi = 0; fi < 2; fi++) {
					struct xcase *c = find(bl, k, fi ? 6 : 4, s, m);

					printf(" %.0f (%.1f×) |", net(bl, c), ratio(bl, c));
				}
			printf("\n");
		}
}

/*
 * bpf_stats against the kernel durations, each less its own overhead: the
 * median and the largest relative difference over the sluice cases.
 */
static void stats_agree(struct block *bls, int nb, double *med, double *max)
{
	double d[3 * (2 + 2 * NVIPS)], t;
	int i, j, n = 0, x, y;

	for (i = 0; i < nb; i++)
		for (j = 0; j < bls[i].nc; j++) {
			const struct xcase *c = &bls[i].c[j];

			if (c->kind < K_NONVIP || !c->stat_cnt)
				continue;
			if (n >= (int)(sizeof(d) / sizeof(d[0])))
				break;
			t = (stat_ns(c) - bls[i].stat_ovh) / net(&bls[i], c) - 1;
			d[n++] = t < 0 ? -t : t;
		}
	for (x = 1; x < n; x++)
		for (y = x; y > 0 && d[y - 1] > d[y]; y--)
			t = d[y], d[y] = d[y - 1], d[y - 1] = t;
	*med = n ? d[n / 2] : 0;
	*max = n ? d[n - 1] : 0;
}

/* Mean over the strategies (and modes, unless @fwd >= 0) of one kind of packet. */
static double avg(struct block *bl, enum kind k, int fam, int fwd)
{
	double sum = 0;
	int i, n = 0;

	for (i = 0; i < bl->nc; i++) {
		const struct xcase *c = &bl->c[i];

		if (c->kind != k || c->fam != fam || (fwd >= 0 && c->v->fwd != fwd))
			continue;
		sum += c->mean;
		n++;
	}
	return n ? sum / n : 0;
}

static void goal_line(const char *what, enum kind kind, double goal, struct block *bls, int nb)
{
	const struct xcase *wc = NULL;
	double worst = 0;
	char sz[16], name[96];
	int i, j, over = 0, n = 0;
	__u32 wsize = 0;

	for (i = 0; i < nb; i++)
		for (j = 0; j < bls[i].nc; j++) {
			const struct xcase *c = &bls[i].c[j];
			double r = ratio(&bls[i], c);

			if (c->kind != kind)
				continue;
			n++;
			over += r > goal;
			if (r > worst) {
				worst = r;
				wc = c;
				wsize = bls[i].size;
			}
		}
	printf("- %s ≤ %.0f× the XDP_TX floor: ", what, goal);
	if (!over)
		printf("**met** in all %d cases", n);
	else
		printf("**missed** in %d of %d cases", over, n);
	printf(" (");
	for (i = 0; i < nb; i++) {
		double lo = 1e18, hi = 0;

		for (j = 0; j < bls[i].nc; j++) {
			const struct xcase *c = &bls[i].c[j];
			double r = ratio(&bls[i], c);

			if (c->kind != kind)
				continue;
			lo = r < lo ? r : lo;
			hi = r > hi ? r : hi;
		}
		printf("%s%s flow%s: %.2f–%.2f×", i ? "; " : "",
		       size_name(bls[i].size, sz, sizeof(sz)), bls[i].size == 1 ? "" : "s", lo, hi);
	}
	printf("). Worst: %s at %s flows, %.2f×", case_name(wc, name, sizeof(name)),
	       size_name(wsize, sz, sizeof(sz)), worst);
	if (over)
		printf(", the goal missed by a factor of %.1f", worst / goal);
	{
		double lo = 1e18, hi = 0;

		for (i = 0; i < nb; i++)
			for (j = 0; j < bls[i].nc; j++) {
				const struct xcase *c = &bls[i].c[j];
				double r = c->mean / bls[i].c[1].mean;

				if (c->kind != kind)
					continue;
				lo = r < lo ? r : lo;
				hi = r > hi ? r : hi;
			}
		printf(". On the raw kernel durations (the per-call cost left in both sides) "
		       "%.2f–%.2f×", lo, hi);
	}
	printf(".\n");
}

/* Where the time goes, from differences between the measured cases. */
static void print_why(struct block *bls, int nb)
{
	struct block *one = &bls[0], *big = &bls[nb - 1];
	double fib[2], rest[2], grow[2], sel[2], nat[2];
	char sz[16];
	int fi;

	for (fi = 0; fi < 2; fi++) {
		int fam = fi ? 6 : 4;
		double fl = one->c[2 + fi].mean;

		fib[fi] = fl - one->ovh - tx_floor;
		rest[fi] = avg(one, K_EST, fam, -1) - fl;
		grow[fi] = avg(big, K_EST, fam, -1) - avg(one, K_EST, fam, -1);
		sel[fi] = avg(one, K_NEW, fam, SL_FWD_DSR) - avg(one, K_EST, fam, SL_FWD_DSR);
		nat[fi] = avg(one, K_NEW, fam, SL_FWD_NAT) - avg(one, K_NEW, fam, SL_FWD_DSR);
	}
	printf("\nWhere the time goes (differences between measured cases, means over strategies "
	       "and modes; IPv4 / IPv6):\n\n");
	printf("- `bpf_fib_lookup()`, which sluice does for every forwarded packet (`sl_xmit`): "
	       "the fib floor less the XDP_TX floor, **%.0f / %.0f ns**. The fib floor alone is "
	       "%.1f× / %.1f× the XDP_TX floor, so no program that looks up its next hop per "
	       "packet can meet the 2× goal on this machine.\n",
	       fib[0], fib[1], ratio(one, &one->c[2]), ratio(one, &one->c[3]));
	printf("- The rest of an established packet (parse, VIP and flow lookups, stats, rewrite), "
	       "1 flow in the table: %.0f / %.0f ns; with %s flows %+.0f / %+.0f ns more (each "
	       "packet's sl_conns entry and bucket are cache misses).\n",
	       rest[0], rest[1], size_name(big->size, sz, sizeof(sz)), grow[0], grow[1]);
	printf("- A new flow over an established one (DSR, 1 flow): %.0f / %.0f ns — backend "
	       "selection (a global function), the LRU insert into sl_conns, the active-count "
	       "atomic and the new-flow stats; NAT adds %.0f / %.0f ns (its second LRU insert, "
	       "into sl_nat_rev).\n",
	       sel[0], sel[1], nat[0], nat[1]);
	printf("- Context: BPF_PROG_TEST_RUN has no driver. On a NIC both sides of a ratio would "
	       "also carry the driver's own per-packet work, so the ratios there would be "
	       "smaller; these are the programs' own. And on this machine every kernel call and "
	       "return pays the mitigations named above (the helper-heavy sluice path makes "
	       "dozens, the XDP_TX floor none), and in a VM a cache or TLB miss costs more (two "
	       "page tables to walk).\n");
	printf("- What would move it: a next-hop cache (each backend's MACs resolved by the agent, "
	       "`bpf_fib_lookup()` only when the cache has none) removes the largest item of "
	       "every forwarded packet; for a new flow, its LRU inserts (two for NAT) are the "
	       "bulk.\n");
}

/* The first line of @path, or "unknown". */
static void read_line(const char *path, char *buf, size_t len)
{
	FILE *fp = fopen(path, "r");

	if (!fp || !fgets(buf, (int)len, fp))
		snprintf(buf, len, "unknown");
	buf[strcspn(buf, "\n")] = 0;
	if (fp)
		fclose(fp);
}

static int if_mac(const char *ifname, __u8 mac[6])
{
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err;

	if (fd < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	err = ioctl(fd, SIOCGIFHWADDR, &ifr);
	close(fd);
	if (err)
		return -1;
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: xdp_cost --floor FLOOR.bpf.o --ifname IF [--quick] [--cpu N] [-v]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "floor", required_argument, NULL, 'f' },
		{ "ifname", required_argument, NULL, 'i' },
		{ "quick", no_argument, NULL, 'q' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	__u32 sizes_full[] = { 1, 65536, 1048576 }, *sizes;
	double agree_med, agree_max;
	const char *floor_path = NULL, *ifname = NULL;
	struct bpf_object *fobj = NULL;
	struct block bls[3] = {};
	struct pinfo pi_lb, pi_pass, pi_tx, pi_fib;
	struct bench b = {};
	struct utsname un;
	cpu_set_t set;
	char cpuname[128] = "unknown CPU", line[256], sz[16], spectre[128], srso[128];
	FILE *fp;
	int opt, cpu = -1, nb, i, err = 0;

	while ((opt = getopt_long(argc, argv, "f:i:qc:v", opts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			floor_path = optarg;
			break;
		case 'i':
			ifname = optarg;
			break;
		case 'q':
			b.quick = 1;
			break;
		case 'c':
			cpu = atoi(optarg);
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage();
			return 2;
		}
	}
	if (!floor_path || !ifname) {
		usage();
		return 2;
	}
	b.ifindex = if_nametoindex(ifname);
	if (!b.ifindex) {
		pr_info("xdp_cost: interface %s: %s (run from tests/bench/bench_xdp.sh)\n", ifname,
			strerror(errno));
		return 1;
	}
	/* by ioctl: under nsenter --net, /sys still shows the caller's namespace */
	if (if_mac(ifname, b.if_mac)) {
		pr_info("xdp_cost: cannot read the MAC address of %s: %s\n", ifname,
			strerror(errno));
		return 1;
	}
	if (!verbose)
		libbpf_set_print(NULL);
	b.ncpu = libbpf_num_possible_cpus();
	b.pc = calloc(b.ncpu, sizeof(*b.pc));
	if (!b.pc)
		return 1;
	/* One CPU for everything: per-CPU counters, the LRU's per-CPU free lists,
	 * and the caches all stay on it. */
	if (cpu < 0)
		cpu = sysconf(_SC_NPROCESSORS_ONLN) - 1;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		pr_info("xdp_cost: cannot pin to CPU %d: %s\n", cpu, strerror(errno));
	fp = fopen("/proc/cpuinfo", "r");
	while (fp && fgets(line, sizeof(line), fp))
		if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
			snprintf(cpuname, sizeof(cpuname), "%s", strchr(line, ':') + 2);
			cpuname[strcspn(cpuname, "\n")] = 0;
			break;
		}
	if (fp)
		fclose(fp);
	uname(&un);
	read_line("/sys/devices/system/cpu/vulnerabilities/spectre_v2", spectre, sizeof(spectre));
	read_line("/sys/devices/system/cpu/vulnerabilities/spec_rstack_overflow", srso,
		  sizeof(srso));

	b.rounds = b.quick ? 3 : 7;
	b.per_round = b.quick ? 1500 : 4000;
	sizes = sizes_full;
	nb = b.quick ? 2 : 3;
	vips_define();

	fobj = bpf_object__open_file(floor_path, NULL);
	if (!fobj || bpf_object__load(fobj)) {
		pr_info("xdp_cost: loading the floors %s failed (run make)\n", floor_path);
		return 1;
	}
	b.fl_pass = bpf_program__fd(bpf_object__find_program_by_name(fobj, "floor_pass"));
	b.fl_tx = bpf_program__fd(bpf_object__find_program_by_name(fobj, "floor_tx"));
	b.fl_fib = bpf_program__fd(bpf_object__find_program_by_name(fobj, "floor_fib"));

	for (i = 0; i < nb && !err; i++) {
		bls[i].size = sizes[i];
		err = block_run(&b, &bls[i]);
		if (!err && i == 0)
			pinfo_get(b.lb_fd, &pi_lb);
		xdp_lb_bpf__destroy(b.skel);
		b.skel = NULL;
	}
	if (err) {
		pr_info("xdp_cost: could not measure: %s\n", strerror(err < 0 ? -err : err));
		goto out;
	}
	for (i = 0; i < nb; i++)
		tx_floor += bls[i].b2b[1] / nb;
	pinfo_get(b.fl_pass, &pi_pass);
	pinfo_get(b.fl_tx, &pi_tx);
	pinfo_get(b.fl_fib, &pi_fib);

	stats_agree(bls, nb, &agree_med, &agree_max);
	printf("## XDP per-packet cost (BPF_PROG_TEST_RUN)\n\n");
	printf("`sudo make bench` (this section alone: `sudo sh tests/bench/bench_xdp.sh`%s). "
	       "%s, kernel %s, JIT on; every packet run on CPU %d. Mitigations that tax every "
	       "kernel call and return: Spectre v2 \"%s\", SRSO \"%s\".\n\n",
	       b.quick ? "; this was a QUICK=1 run: 1 and 64Ki flows, fewer packets" :
			 ", QUICK=1 for a short run",
	       cpuname, un.release, cpu, spectre, srso);
	printf("What is measured: the real `sl_xdp` program (`.output/xdp_lb.skel.h`, default "
	       "tunables) with 30 L4 VIPs, one per strategy × forwarding mode × family, 4 "
	       "backends each (weights 1–4; groups and 65537-slot Maglev tables built by the "
	       "agent's own code), `sl_cfg.nat_vips` = 10. Every backend is a permanent "
	       "neighbour on the ingress interface of the benchmark's own namespace, so "
	       "`bpf_fib_lookup()` answers and every forwarded packet leaves with XDP_TX (the "
	       "one-armed setup), the verdict of the XDP_TX floor. Packets are TCP without "
	       "payload (54 bytes IPv4, 74 IPv6). Floors (tests/bench/floor.bpf.c), loaded and "
	       "measured in the same run: XDP_PASS; XDP_TX after swapping the Ethernet addresses "
	       "(the goal's floor); and, to show where time goes, fib+XDP_TX: one "
	       "`bpf_fib_lookup()` to the packet's destination and both MACs from its answer, "
	       "what sluice's `sl_xmit()` does.\n\n");
	printf("Method:\n\n");
	printf("- **One `BPF_PROG_TEST_RUN` per packet, `repeat = 1`, the kernel's `duration`.** "
	       "With repeat > 1 the kernel runs the program again on the frame it already "
	       "rewrote (NAT, encapsulation), so after the first run it would time the non-VIP "
	       "path. `duration` is measured inside the kernel: `bpf_test_run()` "
	       "(net/bpf/test_run.c, 6.x) reads `ktime_get_ns()` before the loop and after "
	       "`repeat` runs and divides by `repeat`; none of the syscall is in it. With "
	       "repeat 1 it does hold both clock reads, though, and they are not small here: "
	       "the XDP_PASS floor takes %.1f ns one run per call and %.1f ns back to back "
	       "(repeat %d, where they are spread over all runs). That difference, %.1f ns, is "
	       "measured in every table-size block and **subtracted from every figure below**; "
	       "left in, it would sit in both sides of each ratio and pull it towards 1 (the "
	       "goal lines give those raw ratios too). The XDP_TX floor every ratio divides by "
	       "is its back-to-back figure, **%.1f ns** (the mean over the table-size blocks; "
	       "the kernel reports whole ns): one run per call it is the difference of two "
	       "numbers three times its size, and agrees within that noise.\n",
	       bls[0].c[0].mean, bls[0].b2b[0], HOT_REPEAT, bls[0].ovh, tx_floor);
	printf("- %d rounds × %d packets per case (%d in all; 4 times that for the floors), each "
	       "round going through every case. A case's figure is the median over the rounds "
	       "of each round's mean (without its top 1%%: interrupts landing in the timed run), "
	       "so a stretch of interference from elsewhere on this shared machine spoils one "
	       "round, not the figure.\n",
	       b.rounds, b.per_round, b.rounds * b.per_round);
	printf("- **Table sizes**: sl_conns and sl_nat_rev pre-populated with N flows "
	       "(round-robin over the 30 VIPs, each with its reply tuple in sl_nat_rev as if all "
	       "were NAT) and sized `max(SL_CONNS_DEFAULT, 1.25 N + 64Ki)` with "
	       "`bpf_map__set_max_entries()` before load. With N = 1 the one entry is a flow of "
	       "the VIP being measured.\n");
	printf("- **New flow**: a SYN from a source address and port never used before (a range "
	       "no pre-populated flow uses), so the lookup misses; after each packet the "
	       "benchmark deletes, untimed, the sl_conns entry it created (and the sl_nat_rev "
	       "entry, for NAT), so every new flow meets a table of exactly N entries and no "
	       "insert evicts. The LRU hands the freed element to the next insert, so that "
	       "element is cache-warm; its hash bucket is not.\n");
	printf("- **Established**: an ACK of a pre-populated flow of the VIP, a different one "
	       "each packet (a stride through the VIP's N/30 flows), so with 64Ki and 1Mi flows "
	       "each packet meets entries that are not in cache.\n");
	printf("- **Non-VIP**: a TCP packet to the namespace's own address from a new source "
	       "each time: the sl_vips miss and, since NAT VIPs exist, the sl_nat_rev miss.\n");
	printf("- **Path proof**: every packet's verdict, output MAC (the backend's neighbour), "
	       "length (IPIP adds 20/40 bytes) and rewritten address and port are checked; an "
	       "established packet must reach the backend its entry names; each new flow must "
	       "have created its sl_conns entry, and its sl_nat_rev entry for NAT only; after "
	       "each batch every `sl_counters` index must have moved by exactly what the case "
	       "implies (tx, ct_new, pass_not_vip) and `sl_drops` not at all. Any mismatch fails "
	       "the section.\n");
	printf("- **Cross-check**: one more round with `BPF_ENABLE_STATS` (fd-scoped) gives "
	       "each program's `run_time_ns / run_cnt` (`sched_clock()` around the program "
	       "alone); less its own clock cost found the same way, it agrees with the figures "
	       "below within %.0f%% (median over the sluice cases; largest %.0f%%).\n",
	       agree_med * 100, agree_max * 100);

	printf("\nns per packet (ratio to the XDP_TX floor, %.1f ns):\n", tx_floor);
	for (i = 0; i < nb; i++)
		print_block(&bls[i]);

	printf("\nBack to back, for the paths a second run does not change (floors, non-VIP, DSR "
	       "established, which rewrites MACs only): %d runs of one packet per call (best of "
	       "%d), 1 flow in the table. No syscall between runs and hot caches, the same flow "
	       "and bucket every time: a lower bound. The programs' own code and data are cold "
	       "after each syscall in the one-run-per-call figures; in a NAPI poll they would "
	       "be warmer, so the truth for a real interface is in between.\n\n"
	       "| packet | one run per call: kernel duration | less the per-call cost | "
	       "back to back |\n|---|---:|---:|---:|\n",
	       HOT_REPEAT, HOT_TRIES);
	for (i = 0; i < (int)(sizeof(hots) / sizeof(hots[0])); i++) {
		struct xcase *c =
			find(&bls[0], hots[i].kind, hots[i].fam, SL_STRAT_RR, hots[i].fwd);

		printf("| %s | %.1f ns | %.1f ns (%.1f×) | %.0f ns (%.1f×) |\n", hots[i].what,
		       c->mean, net(&bls[0], c), ratio(&bls[0], c), bls[0].b2b[i],
		       bls[0].b2b[i] / bls[0].b2b[1]);
	}

	printf("\nVerifier and JIT (`bpf_prog_info`: instructions processed by the verifier / "
	       "translated / JITed bytes): sl_xdp %u / %u / %u; floors XDP_PASS %u / %u / %u, "
	       "XDP_TX %u / %u / %u, fib %u / %u / %u. The verifier's count is the work of "
	       "checking every path, not the length of any one.\n",
	       pi_lb.verified, pi_lb.xlated, pi_lb.jited, pi_pass.verified, pi_pass.xlated,
	       pi_pass.jited, pi_tx.verified, pi_tx.xlated, pi_tx.jited, pi_fib.verified,
	       pi_fib.xlated, pi_fib.jited);

	printf("\nGoals (reported, never asserted):\n\n");
	goal_line("Established flow", K_EST, 2, bls, nb);
	goal_line("New flow", K_NEW, 4, bls, nb);
	print_why(bls, nb);
	for (i = 0; i < nb; i++)
		pr_info("xdp_cost: %s flows: XDP_TX floor %.1f ns (median %.0f)\n",
			size_name(bls[i].size, sz, sizeof(sz)), bls[i].c[1].mean,
			bls[i].c[1].median);
out:
	for (i = 0; i < nb; i++)
		if (bls[i].c) {
			int j;

			for (j = 0; j < bls[i].nc; j++)
				free(bls[i].c[j].ns);
			free(bls[i].c);
		}
	xdp_lb_bpf__destroy(b.skel);
	bpf_object__close(fobj);
	free(b.pc);
	return err ? 1 : 0;
}
