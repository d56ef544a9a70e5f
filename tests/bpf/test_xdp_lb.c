// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Fixtures for the real xdp_lb object under BPF_PROG_TEST_RUN: selection,
 * affinity, the connection table, forwarding modes, ICMP, fragments, rate
 * limits and counters. Expected frames are built independently with the
 * packet builder (which computes every checksum from scratch), so a byte
 * comparison also proves the program's incremental checksum updates.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_ether.h>

#include "harness.h"
#include "lb.h"
#include "pkt.h"
#include "decap.skel.h"

#define VIP4 "198.19.0.10"
#define VIP6 "2001:db8:f::10"
#define CLI4 "198.18.200.1"
#define CLI6 "2001:db8:c::1"
#define TCP_SYN 0x02
#define TCP_ACK 0x10
#define TCP_FIN 0x01
#define TCP_RST 0x04

static __u8 in_buf[SL_PKT_MAX], out_buf[SL_PKT_MAX + 64], exp_buf[SL_PKT_MAX + 64];

static struct sl_pkt_spec spec(int fam, __u8 l4, const char *src, __u16 sport, const char *dst,
			       __u16 dport, __u8 flags)
{
	struct sl_pkt_spec s;

	memset(&s, 0, sizeof(s));
	s.eth_src = LB_MAC_ROUTER;
	s.eth_dst = LB_MAC_SLC0;
	s.family = fam;
	s.src = src;
	s.dst = dst;
	s.l4 = l4;
	s.sport = sport;
	s.dport = dport;
	s.tcp_flags = flags;
	s.seq = 1000;
	s.payload_len = 24;
	return s;
}

static const char *be_addr(int fam, int n)
{
	static char bufs[8][64];
	static int next;
	char *b = bufs[next++ & 7];

	if (fam == 4)
		snprintf(b, 64, "198.18.1.%d", n);
	else
		snprintf(b, 64, "2001:db8:1::%d", n);
	return b;
}

/* Build @s, run it in from slc0; returns the verdict, or -1 (test failed). */
static int run_spec(struct lb *lb, const struct sl_pkt_spec *s, size_t *in_len, size_t *out_len)
{
	size_t olen = 0;
	__u32 verdict = 0;
	int len, err;

	len = sl_pkt_build(s, in_buf, sizeof(in_buf));
	if (len < 0) {
		FAILF("building a packet failed: %d", len);
		return -1;
	}
	err = lb_run(lb, in_buf, len, out_buf, &olen, &verdict);
	if (err) {
		FAILF("test_run failed: %d", err);
		return -1;
	}
	if (in_len)
		*in_len = len;
	if (out_len)
		*out_len = olen;
	return (int)verdict;
}

/* Backend number N of an output frame sent to 02:be:00:00:01:0N (or 0x50). */
static int out_backend(void)
{
	static const __u8 pfx[5] = { 0x02, 0xbe, 0x00, 0x00, 0x01 };
	static const __u8 pfx_tx[5] = { 0x02, 0xbe, 0x00, 0x00, 0x00 };

	if (!memcmp(out_buf, pfx, 5) || !memcmp(out_buf, pfx_tx, 5))
		return out_buf[5];
	return -1;
}

/*
 * Standard lab: VIP @vid at VIP4/VIP6:80 with backends 198.18.1.2.. (slots
 * @first.. ) with @weights. Returns 0 or fails the test.
 */
static int setup(struct lb *lb, __u32 vid, int fam, __u8 proto, __u8 strategy, __u8 fwd,
		 const __u32 *weights, int n, __u32 first, __u16 be_port)
{
	__u32 ids[SL_GROUP_MAX];
	int i, err;

	err = lb_vip(lb, vid, fam == 4 ? VIP4 : VIP6, 80, proto, strategy, fwd, 0);
	for (i = 0; i < n && !err; i++) {
		ids[i] = first + i;
		err = lb_backend(lb, first + i, be_addr(fam, 2 + i), be_port, weights[i], vid, 0, 1);
	}
	if (!err)
		err = lb_group(lb, vid, ids, n);
	if (err)
		FAILF("setting up VIP %u: %d", vid, err);
	return err;
}

static int open_lb(struct lb *lb, const struct lb_opts *o)
{
	int err = lb_open(lb, o);

	if (err)
		FAILF("loading xdp_lb: %d (%s)", err, strerror(-err));
	return err;
}

/* Count new flows per backend number (2..9) for @n flows from distinct ports. */
static int spread(struct lb *lb, int fam, int n, int counts[16])
{
	int i;

	memset(counts, 0, 16 * sizeof(int));
	for (i = 0; i < n; i++) {
		struct sl_pkt_spec s = spec(fam, IPPROTO_TCP, fam == 4 ? CLI4 : CLI6, 10000 + i,
					    fam == 4 ? VIP4 : VIP6, 80, TCP_SYN);
		int v = run_spec(lb, &s, NULL, NULL), b;

		if (v != XDP_REDIRECT) {
			FAILF("flow %d: verdict %d, expected XDP_REDIRECT", i, v);
			return -1;
		}
		b = out_backend();
		if (b < 2 || b > 9) {
			FAILF("flow %d: output MAC is no backend's", i);
			return -1;
		}
		counts[b]++;
	}
	return 0;
}

/* ---- strategies ---- */

/*
 * Each strategy's distribution of new flows. Exact where the strategy is
 * deterministic; for weighted random the bounds are about 6 standard
 * deviations of the expected share.
 */
static const struct {
	const char *what;
	__u8 strategy;
	int family;
	int n;
	__u32 weight[4];
	int flows;
	int lo[4], hi[4]; /* flows per backend, inclusive */
} strategy_rows[] = {
	{ "rr: equal shares", SL_STRAT_RR, 4, 4, { 1, 1, 1, 1 }, 400,
	  { 100, 100, 100, 100 }, { 100, 100, 100, 100 } },
	{ "wrr: exact 3:2:1 (IPv6)", SL_STRAT_WRR, 6, 3, { 3, 2, 1 }, 600,
	  { 300, 200, 100 }, { 300, 200, 100 } },
	{ "random: 1:3 by weight", SL_STRAT_RANDOM, 4, 2, { 1, 3 }, 8000,
	  { 1700, 5700 }, { 2300, 6300 } },
	{ "leastconn: open flows 1:1:2", SL_STRAT_LEASTCONN, 4, 3, { 1, 1, 2 }, 400,
	  { 100, 100, 200 }, { 100, 100, 200 } },
	{ "maglev: 1:3 by weight", SL_STRAT_MAGLEV, 4, 2, { 1, 3 }, 4000,
	  { 800, 2800 }, { 1200, 3200 } },
};

TEST(strategies_distribute_new_flows_by_weight)
{
	unsigned r;
	int c[16], i;

	for (r = 0; r < sizeof(strategy_rows) / sizeof(strategy_rows[0]); r++) {
		struct lb lb;

		if (open_lb(&lb, NULL))
			return;
		if (!setup(&lb, 1, strategy_rows[r].family, IPPROTO_TCP, strategy_rows[r].strategy,
			   SL_FWD_DSR, strategy_rows[r].weight, strategy_rows[r].n, 0, 0) &&
		    !spread(&lb, strategy_rows[r].family, strategy_rows[r].flows, c)) {
			for (i = 0; i < strategy_rows[r].n; i++)
				if (c[2 + i] < strategy_rows[r].lo[i] ||
				    c[2 + i] > strategy_rows[r].hi[i])
					FAILF("%s: backend %d got %d flows, expected %d..%d",
					      strategy_rows[r].what, i, c[2 + i],
					      strategy_rows[r].lo[i], strategy_rows[r].hi[i]);
		}
		/* leastconn counts what it balances: the active flows */
		if (strategy_rows[r].strategy == SL_STRAT_LEASTCONN)
			ASSERT_EQ(lb_active(&lb, 2), 200, "active flows counted for slot 2");
		lb_close(&lb);
	}
}

TEST(maglev_nodes_agree_on_every_flow)
{
	__u32 w[2] = { 1, 3 };
	struct lb a, b;
	int i;

	if (open_lb(&a, NULL))
		return;
	if (open_lb(&b, NULL)) {
		lb_close(&a);
		return;
	}
	if (setup(&a, 1, 4, IPPROTO_TCP, SL_STRAT_MAGLEV, SL_FWD_DSR, w, 2, 0, 0) ||
	    setup(&b, 7, 4, IPPROTO_TCP, SL_STRAT_MAGLEV, SL_FWD_DSR, w, 2, 40, 0))
		goto out;
	/* A second node (other VIP id, other slot numbers) picks the same backend. */
	for (i = 0; i < 300; i++) {
		struct sl_pkt_spec s = spec(4, IPPROTO_TCP, CLI4, 20000 + i, VIP4, 80, TCP_SYN);
		int ba, bb;

		run_spec(&a, &s, NULL, NULL);
		ba = out_backend();
		run_spec(&b, &s, NULL, NULL);
		bb = out_backend();
		if (!ASSERT_EQ(bb, ba, "backend chosen by node b vs node a"))
			break;
	}
out:
	lb_close(&a);
	lb_close(&b);
}

/* ---- connection table ---- */

TEST(flows_keep_backend_across_weight_change_and_add)
{
	__u32 w[3] = { 1, 1, 1 }, ids[4] = { 0, 1, 2, 3 };
	int before[200], i, c[16];
	struct lb lb;

	if (open_lb(&lb, NULL))
		return;
	if (setup(&lb, 1, 4, IPPROTO_TCP, SL_STRAT_WRR, SL_FWD_DSR, w, 3, 0, 0))
		goto out;
	for (i = 0; i < 200; i++) {
		struct sl_pkt_spec s = spec(4, IPPROTO_TCP, CLI4, 30000 + i, VIP4, 80, TCP_SYN);

		run_spec(&lb, &s, NULL, NULL);
		before[i] = out_backend();
	}
	/* Weights 5:1:1 and a fourth backend. */
	lb_backend(&lb, 0, be_addr(4, 2), 0, 5, 1, 0, 1);
	lb_backend(&lb, 3, be_addr(4, 5), 0, 2, 1, 0, 1);
	if (lb_group(&lb, 1, ids, 4)) {
		FAILF("rebuilding the group failed");
		goto out;
	}
	for (i = 0; i < 200; i++) {
		struct sl_pkt_spec s = spec(4, IPPROTO_TCP, CLI4, 30000 + i, VIP4, 80, TCP_ACK);

		run_spec(&lb, &s, NULL, NULL);
		if (!ASSERT_EQ(out_backend(), before[i], "established flow's backend"))
			break;
	}
	/* ...while new flows do see the new weights and the new backend. */
	if (!spread(&lb, 4, 90, c)) {
		ASSERT_EQ(c[2], 50, "new flows to the reweighted backend");
		ASSERT_EQ(c[5], 20, "new flows to the added backend");
	}
out:
	lb_close(&lb);
}

static void flows_move_when(__u8 flags, int bump_gen)
{
	__u32 w[2] = { 1, 1 }, only_b = 1;
	int first[40], i, moved = 0;
	struct lb lb;

	if (open_lb(&lb, NULL))
		return;
	if (setup(&lb, 1, 4, IPPROTO_TCP, SL_STRAT_RR, SL_FWD_DSR, w, 2, 0, 0))
		goto out;
	for (i = 0; i < 40; i++) {
		struct sl_pkt_spec s = spec(4, IPPROTO_TCP, CLI4, 40000 + i, VIP4, 80, TCP_SYN);

		run_spec(&lb, &s, NULL, NULL);
		first[i] = out_backend();
	}
	ASSERT_EQ(lb_active(&lb, 0), 20, "flows on slot 0 before");
	lb_backend(&lb, 0, be_addr(4, 2), 0, 1, 1, flags, bump_gen ? 2 : 1);
	lb_group(&lb, 1, &only_b, 1);
	for (i = 0; i < 40; i++) {
		struct sl_pkt_spec s = spec(4, IPPROTO_TCP, CLI4, 40000 + i, VIP4, 80, TCP_ACK);

		run_spec(&lb, &s, NULL, NULL);
		if (first[i] == 2) {
			moved++;
			ASSERT_EQ(out_backend(), 3, "flow of the departed backend moved to the other");
		} else {
			ASSERT_EQ(out_backend(), 3, "flow of the remaining backend stays");
		}
	}
	ASSERT_EQ(moved, 20, "flows that had to move");
	ASSERT_EQ(lb_counter(&lb, SL_C_CT_RESELECT), 20, "reselect counter");
	ASSERT_EQ(lb_active(&lb, 0), 0, "active flows left on the departed backend");
	ASSERT_EQ(lb_active(&lb, 1), 40, "active flows on the remaining backend");
out:
	lb_close(&lb);
}

TEST(flows_of_a_down_backend_move_on_next_packet)
{
	flows_move_when(SL_BE_DOWN, 0);
}

TEST(flows_of_a_removed_backend_move_on_next_packet)
{
	flows_move_when(SL_BE_REMOVED, 0);
}

TEST(flows_of_a_reused_slot_move_on_next_packet)
{
	flows_move_when(0, 1);
}

TEST(draining_backend_keeps_flows_but_gets_no_new_ones)
{
	__u32 w[2] = { 1, 1 }, ids[2] = { 0, 1 };
	int i, c[16];
	struct lb lb;

	if (open_lb(&lb, NULL))
		return;
	if (setup(&lb, 1, 4, IPPROTO_TCP, SL_STRAT_RR, SL_FWD_DSR, w, 2, 0, 0))
		goto out;
	{
		struct sl_pkt_spec s = spec(4, IPPROTO_TCP, CLI4, 50000, VIP4, 80, TCP_SYN);

		run_spec(&lb, &s, NULL, NULL);
		ASSERT_EQ(out_backend(), 2, "first flow on backend 2");
	}
	/* Drain slot 0 but leave it in the group: the data plane must skip it. */
	lb_backend(&lb, 0, be_addr(4, 2), 0, 1, 1, SL_BE_DRAIN, 1);
	lb_group(&lb, 1, ids, 2);
	for (i = 0; i < 5; i++) {
		struct sl_pkt_spec s = spec(4, IPPROTO_TCP, CLI4, 50000, VIP4, 80, TCP_ACK);

		run_spec(&lb, &s, NULL, NULL);
		ASSERT_EQ(out_backend(), 2, "draining backend keeps its flow");
	}
	if (!spread(&lb, 4, 20, c))
		ASSERT_EQ(c[3], 20, "new flows avoid the draining backend");
out:
	lb_close(&lb);
}

TEST(leastconn_counters_return_to_zero_after_close_reset_and_timeout)
{
	struct lb_opts o = { .tcp_idle_ns = 300000000ull, .udp_idle_ns = 300000000ull,
			     .fin_grace_ns = 100000000ull };
	__u32 w[3] = { 1, 1, 1 };
	struct lb lb;
	int i;

	if (open_lb(&lb, &o))
		return;
	if (setup(&lb, 1, 4, IPPROTO_TCP, SL_STRAT_LEASTCONN, SL_FWD_DSR, w, 3, 0, 0) ||
	    lb_vip(&lb, 2, VIP4, 53, IPPROTO_UDP, SL_STRAT_LEASTCONN, SL_FWD_DSR, 0) ||
	    lb_group(&lb, 2, (const __u32[]){ 0, 1, 2 }, 3))
		goto out;
	for (i = 0; i < 60; i++) {
		struct sl_pkt_spec s = spec(4, IPPROTO_TCP, CLI4, 1000 + i, VIP4, 80, TCP_SYN);

		run_spec(&lb, &s, NULL, NULL);
	}
	for (i = 0; i < 30; i++) {
		struct sl_pkt_spec s = spec(4, IPPROTO_UDP, CLI4, 2000 + i, VIP4, 53, 0);

		run_spec(&lb, &s, NULL, NULL);
	}
	ASSERT_EQ(lb_active(&lb, 0) + lb_active(&lb, 1) + lb_active(&lb, 2), 90, "open flows");
	/* 20 end with FIN, 20 with RST (a second FIN must not count twice). */
	for (i = 0; i < 40; i++) {
		struct sl_pkt_spec s = spec(4, IPPROTO_TCP, CLI4, 1000 + i, VIP4, 80,
					    i < 20 ? TCP_FIN | TCP_ACK : TCP_RST);

		run_spec(&lb, &s, NULL, NULL);
		if (i < 20)
			run_spec(&lb, &s, NULL, NULL);
	}
	ASSERT_EQ(lb_counter(&lb, SL_C_CT_CLOSED), 40, "flows closed by FIN/RST");
	ASSERT_EQ(lb_active(&lb, 0) + lb_active(&lb, 1) + lb_active(&lb, 2), 50, "open flows");
	/* The rest go idle: 5 UDP flows expire on their next packet, the others
	 * by the sweeper. */
	usleep(450000);
	for (i = 0; i < 5; i++) {
		struct sl_pkt_spec s = spec(4, IPPROTO_UDP, CLI4, 2000 + i, VIP4, 53, 0);

		run_spec(&lb, &s, NULL, NULL);
	}
	ASSERT_EQ(lb_counter(&lb, SL_C_CT_EXPIRED), 5, "flows expired on their next packet");
	ASSERT_EQ(lb_active(&lb, 0) + lb_active(&lb, 1) + lb_active(&lb, 2), 50,
		  "5 expired, 5 new in their place");
	ASSERT_OK(lb_sweep(&lb), "sweeper run");
	ASSERT_EQ(lb_active(&lb, 0) + lb_active(&lb, 1) + lb_active(&lb, 2), 5,
		  "only the 5 fresh flows left");
	usleep(450000);
	ASSERT_OK(lb_sweep(&lb), "sweeper run");
	for (i = 0; i < 3; i++)
		ASSERT_EQ(lb_active(&lb, i), 0, "active flows after everything ended");
	ASSERT_EQ(lb_counter(&lb, SL_C_CT_EXPIRED), 55, "flows expired in all");
	ASSERT_OK(lb_sweep(&lb), "sweeping again");
	ASSERT_EQ(lb_counter(&lb, SL_C_CT_EXPIRED), 55, "a flow expires once");
out:
	lb_close(&lb);
}

TEST(syn_on_a_closed_flow_starts_a_new_one)
{
	__u32 w[2] = { 1, 1 };
	struct lb lb;

	if (open_lb(&lb, NULL))
		return;
	if (!setup(&lb, 1, 4, IPPROTO_TCP, SL_STRAT_RR, SL_FWD_DSR, w, 2, 0, 0)) {
		struct sl_pkt_spec s = spec(4, IPPROTO_TCP, CLI4, 1234, VIP4, 80, TCP_SYN);
		struct sl_pkt_spec f = spec(4, IPPROTO_TCP, CLI4, 1234, VIP4, 80, TCP_FIN | TCP_ACK);

		run_spec(&lb, &s, NULL, NULL);
		run_spec(&lb, &f, NULL, NULL);
		ASSERT_EQ(lb_active(&lb, 0) + lb_active(&lb, 1), 0, "closed");
		run_spec(&lb, &s, NULL, NULL);
		ASSERT_EQ(lb_counter(&lb, SL_C_CT_NEW), 2, "the second SYN made a new flow");
		ASSERT_EQ(lb_active(&lb, 0) + lb_active(&lb, 1), 1, "one open flow");
	}
	lb_close(&lb);
}

/* ---- forwarding ---- */

/* Expected frame: @s rebuilt with other addresses/ports/MACs. */
static int expect(struct sl_pkt_spec s, const char *src, __u16 sport, const char *dst,
		  __u16 dport, const char *smac, const char *dmac)
{
	s.src = src;
	s.sport = sport;
	s.dst = dst;
	s.dport = dport;
	s.eth_src = smac;
	s.eth_dst = dmac;
	return sl_pkt_build(&s, exp_buf, sizeof(exp_buf));
}

static void check_csums(size_t len, const char *what)
{
	char why[128] = "";

	if (sl_pkt_check(out_buf, len, why, sizeof(why)))
		FAILF("%s: checksum check failed: %s", what, why);
}

static void nat_both_ways(int fam, __u8 proto, int exts)
{
	const char *vip = fam == 4 ? VIP4 : VIP6, *cli = fam == 4 ? "198.18.200.7" : "2001:db8:c::7";
	__u32 w[1] = { 1 }, verdict = 0;
	struct sl_pkt_spec s, r;
	size_t olen = 0;
	struct lb lb;
	int v, elen, rlen;

	if (open_lb(&lb, NULL))
		return;
	if (setup(&lb, 3, fam, proto, SL_STRAT_RR, SL_FWD_NAT, w, 1, 0, 8080))
		goto out;
	s = spec(fam, proto, cli, 33000, vip, 80, TCP_SYN);
	if (exts) {
		s.n_ext = 2;
		s.ext[0].type = 0;  /* hop-by-hop */
		s.ext[1].type = 60; /* destination options */
		s.ext[1].len = 1;
	}
	v = run_spec(&lb, &s, NULL, &olen);
	ASSERT_EQ(v, XDP_REDIRECT, "forward verdict");
	elen = expect(s, cli, 33000, be_addr(fam, 2), 8080, LB_MAC_SLB0, "02:be:00:00:01:02");
	ASSERT_MEM(out_buf, olen, exp_buf, elen, "client -> backend frame");
	check_csums(olen, "client -> backend");

	/* The reply, arriving from the backend side. */
	r = spec(fam, proto, be_addr(fam, 2), 8080, cli, 33000, TCP_SYN | TCP_ACK);
	r.eth_src = "02:be:00:00:01:02";
	r.eth_dst = LB_MAC_SLB0;
	rlen = sl_pkt_build(&r, in_buf, sizeof(in_buf));
	if (rlen < 0 || lb_run_if(&lb, lb.if_backend, in_buf, rlen, out_buf, &olen, &verdict)) {
		FAILF("running the reply");
		goto out;
	}
	ASSERT_EQ(verdict, XDP_REDIRECT, "reply verdict");
	elen = expect(r, vip, 80, cli, 33000, LB_MAC_SLC0, LB_MAC_ROUTER);
	ASSERT_MEM(out_buf, olen, exp_buf, elen, "backend -> client frame");
	check_csums(olen, "backend -> client");
	ASSERT_EQ(lb_counter(&lb, SL_C_NAT_REPLY), 1, "NAT replies counted");
	ASSERT_EQ(lb_be_stats(&lb, 0).replies, 1, "backend reply stats");
out:
	lb_close(&lb);
}

TEST(nat_tcp_v4_rewrites_both_directions)
{
	nat_both_ways(4, IPPROTO_TCP, 0);
}

TEST(nat_udp_v4_rewrites_both_directions)
{
	nat_both_ways(4, IPPROTO_UDP, 0);
}

TEST(nat_tcp_v6_rewrites_both_directions)
{
	nat_both_ways(6, IPPROTO_TCP, 0);
}

TEST(nat_udp_v6_with_extension_headers_rewrites_both_directions)
{
	nat_both_ways(6, IPPROTO_UDP, 1);
}

TEST(nat_keeps_a_zero_udp_checksum_zero)
{
	__u32 w[1] = { 1 };
	struct sl_pkt_spec s;
	size_t olen = 0;
	struct lb lb;
	int elen;

	if (open_lb(&lb, NULL))
		return;
	if (!setup(&lb, 3, 4, IPPROTO_UDP, SL_STRAT_RR, SL_FWD_NAT, w, 1, 0, 5353)) {
		s = spec(4, IPPROTO_UDP, CLI4, 4444, VIP4, 80, 0);
		s.udp_csum_zero = 1;
		ASSERT_EQ(run_spec(&lb, &s, NULL, &olen), XDP_REDIRECT, "verdict");
		elen = expect(s, CLI4, 4444, be_addr(4, 2), 5353, LB_MAC_SLB0, "02:be:00:00:01:02");
		ASSERT_MEM(out_buf, olen, exp_buf, elen, "frame with UDP checksum 0");
	}
	lb_close(&lb);
}

static void dsr_rewrites_only_macs(int fam)
{
	const char *vip = fam == 4 ? VIP4 : VIP6, *cli = fam == 4 ? CLI4 : CLI6;
	__u32 w[1] = { 1 };
	struct sl_pkt_spec s;
	size_t olen = 0;
	struct lb lb;
	int elen;

	if (open_lb(&lb, NULL))
		return;
	if (!setup(&lb, 1, fam, IPPROTO_TCP, SL_STRAT_RR, SL_FWD_DSR, w, 1, 0, 0)) {
		s = spec(fam, IPPROTO_TCP, cli, 5555, vip, 80, TCP_SYN);
		ASSERT_EQ(run_spec(&lb, &s, NULL, &olen), XDP_REDIRECT, "verdict");
		elen = expect(s, cli, 5555, vip, 80, LB_MAC_SLB0, "02:be:00:00:01:02");
		ASSERT_MEM(out_buf, olen, exp_buf, elen, "DSR frame");
		ASSERT_EQ(lb_counter(&lb, SL_C_REDIRECT), 1, "redirect counter");
	}
	lb_close(&lb);
}

TEST(dsr_v4_rewrites_only_macs)
{
	dsr_rewrites_only_macs(4);
}

TEST(dsr_v6_rewrites_only_macs)
{
	dsr_rewrites_only_macs(6);
}

TEST(backend_on_the_ingress_interface_uses_xdp_tx)
{
	struct sl_pkt_spec s;
	size_t olen = 0;
	struct lb lb;
	int elen;

	if (open_lb(&lb, NULL))
		return;
	if (!lb_vip(&lb, 1, VIP4, 80, IPPROTO_TCP, SL_STRAT_RR, SL_FWD_DSR, 0) &&
	    !lb_backend(&lb, 0, "198.18.0.50", 0, 1, 1, 0, 1) &&
	    !lb_group(&lb, 1, (const __u32[]){ 0 }, 1)) {
		s = spec(4, IPPROTO_TCP, CLI4, 5555, VIP4, 80, TCP_SYN);
		ASSERT_EQ(run_spec(&lb, &s, NULL, &olen), XDP_TX, "verdict");
		elen = expect(s, CLI4, 5555, VIP4, 80, LB_MAC_SLC0, "02:be:00:00:00:50");
		ASSERT_MEM(out_buf, olen, exp_buf, elen, "XDP_TX frame");
		ASSERT_EQ(lb_counter(&lb, SL_C_TX), 1, "tx counter");
	} else {
		FAILF("setup");
	}
	lb_close(&lb);
}

TEST(unknown_neighbour_falls_back_to_the_kernel)
{
	struct sl_pkt_spec s;
	size_t olen = 0, ilen = 0;
	struct lb lb;

	if (open_lb(&lb, NULL))
		return;
	if (!lb_vip(&lb, 1, VIP4, 80, IPPROTO_TCP, SL_STRAT_RR, SL_FWD_DSR, 0) &&
	    !lb_backend(&lb, 0, "198.18.1.99", 0, 1, 1, 0, 1) &&
	    !lb_group(&lb, 1, (const __u32[]){ 0 }, 1)) {
		s = spec(4, IPPROTO_TCP, CLI4, 5555, VIP4, 80, TCP_SYN);
		ASSERT_EQ(run_spec(&lb, &s, &ilen, &olen), XDP_PASS, "verdict");
		ASSERT_EQ(lb_counter(&lb, SL_C_PASS_FIB), 1, "kernel fallback counter");
		ASSERT_EQ(lb_drops(&lb, SL_DROP_NO_BACKEND), 0, "not dropped");
	} else {
		FAILF("setup");
	}
	lb_close(&lb);
}

static void ipip(int fam)
{
	const char *vip = fam == 4 ? VIP4 : VIP6, *cli = fam == 4 ? CLI4 : CLI6;
	struct sl_cfg cfg = {};
	__u32 w[1] = { 1 }, zero = 0;
	struct sl_pkt_view v;
	struct sl_pkt_spec s;
	size_t olen = 0, ilen = 0;
	__be32 base[4];
	__u8 fam8;
	struct lb lb;
	int i, distinct = 0;
	__u8 seen[256] = { 0 };

	if (open_lb(&lb, NULL))
		return;
	if (setup(&lb, 1, fam, IPPROTO_TCP, SL_STRAT_RR, SL_FWD_IPIP, w, 1, 0, 0))
		goto out;
	if (fam == 4) {
		sl_pkt_addr("198.18.255.0", base, &fam8);
		cfg.ipip_src4 = base[0];
		cfg.ipip_src4_len = 24;
	} else {
		sl_pkt_addr("2001:db8:ffff::", base, &fam8);
		memcpy(cfg.ipip_src6, base, 16);
		cfg.ipip_src6_len = 120;
	}
	bpf_map__update_elem(lb.skel->maps.sl_cfg, &zero, 4, &cfg, sizeof(cfg), 0);
	for (i = 0; i < 50; i++) {
		s = spec(fam, IPPROTO_TCP, cli, 6000 + i, vip, 80, TCP_SYN);
		if (!ASSERT_EQ(run_spec(&lb, &s, &ilen, &olen), XDP_REDIRECT, "verdict"))
			break;
		ASSERT_EQ(olen, ilen + (fam == 4 ? 20 : 40), "frame grew by one IP header");
		if (!ASSERT_OK(sl_pkt_parse(out_buf, olen, &v), "parsing the output"))
			break;
		ASSERT_EQ(v.outer.proto, fam == 4 ? IPPROTO_IPIP : IPPROTO_IPV6, "outer protocol");
		ASSERT_TRUE(!strcmp(v.outer.dst, be_addr(fam, 2)), "outer destination is the backend");
		ASSERT_TRUE(!memcmp(v.outer.saddr, base, fam == 4 ? 3 : 15),
			    "outer source inside the configured prefix");
		seen[v.outer.saddr[fam == 4 ? 3 : 15]] = 1;
		ASSERT_MEM(out_buf + 14 + (fam == 4 ? 20 : 40), olen - 14 - (fam == 4 ? 20 : 40),
			   in_buf + 14, ilen - 14, "inner packet is the original");
		ASSERT_MEM(out_buf, 6, "\x02\xbe\x00\x00\x01\x02", 6, "destination MAC");
		check_csums(olen, "encapsulated frame");
	}
	for (i = 0; i < 256; i++)
		distinct += seen[i];
	ASSERT_TRUE(distinct > 10, "outer sources spread over flows");
out:
	lb_close(&lb);
}

TEST(ipip_v4_encapsulates_with_per_flow_source)
{
	ipip(4);
}

TEST(ipip_v6_encapsulates_with_per_flow_source)
{
	ipip(6);
}

/* The encapsulated frame, through the decap program, is the original packet. */
static void ipip_then_decap(int fam)
{
	const char *vip = fam == 4 ? VIP4 : VIP6, *cli = fam == 4 ? CLI4 : CLI6;
	static __u8 enc[SL_PKT_MAX + 64], dec[SL_PKT_MAX + 64];
	struct sl_addr_key k = {};
	struct decap_bpf *d;
	struct sl_pkt_spec s;
	size_t olen = 0, ilen = 0, dlen = 0;
	__u32 w[1] = { 1 }, one = 1, verdict = 0;
	struct lb lb;

	d = decap_bpf__open_and_load();
	if (!ASSERT_TRUE(d != NULL, "loading decap"))
		return;
	if (open_lb(&lb, NULL)) {
		decap_bpf__destroy(d);
		return;
	}
	if (setup(&lb, 1, fam, IPPROTO_UDP, SL_STRAT_RR, SL_FWD_IPIP, w, 1, 0, 0))
		goto out;
	sl_pkt_addr(be_addr(fam, 2), k.addr, &k.family);
	bpf_map__update_elem(d->maps.sl_decap_dst, &k, sizeof(k), &one, 4, 0);
	s = spec(fam, IPPROTO_UDP, cli, 7000, vip, 80, 0);
	ASSERT_EQ(run_spec(&lb, &s, &ilen, &olen), XDP_REDIRECT, "encap verdict");
	memcpy(enc, out_buf, olen);
	if (sl_xdp_run(bpf_program__fd(d->progs.sl_decap), enc, olen, dec, sizeof(dec), &dlen, 0,
		       &verdict)) {
		FAILF("decap test_run");
		goto out;
	}
	ASSERT_EQ(verdict, XDP_PASS, "decap verdict");
	ASSERT_MEM(dec + 12, dlen - 12, in_buf + 12, ilen - 12, "decapsulated packet");
out:
	lb_close(&lb);
	decap_bpf__destroy(d);
}

TEST(ipip_v4_output_decaps_to_the_original)
{
	ipip_then_decap(4);
}

TEST(ipip_v6_output_decaps_to_the_original)
{
	ipip_then_decap(6);
}

static void vlan_case(int tags)
{
	__u32 w[1] = { 1 };
	struct sl_pkt_spec s;
	size_t olen = 0;
	struct lb lb;
	int elen;

	if (open_lb(&lb, NULL))
		return;
	if (!setup(&lb, 1, 4, IPPROTO_TCP, SL_STRAT_RR, SL_FWD_DSR, w, 1, 0, 0)) {
		s = spec(4, IPPROTO_TCP, CLI4, 5555, VIP4, 80, TCP_SYN);
		s.vlans = tags;
		s.vlan_tpid[0] = tags == 2 ? 0x88a8 : 0x8100;
		s.vlan_tci[0] = 100;
		s.vlan_tci[1] = 200;
		ASSERT_EQ(run_spec(&lb, &s, NULL, &olen), XDP_REDIRECT, "verdict");
		elen = expect(s, CLI4, 5555, VIP4, 80, LB_MAC_SLB0, "02:be:00:00:01:02");
		ASSERT_MEM(out_buf, olen, exp_buf, elen, "tagged frame, tags kept");
	}
	lb_close(&lb);
}

TEST(vlan_tagged_vip_traffic_is_balanced_with_tags_kept)
{
	vlan_case(1);
}

TEST(qinq_tagged_vip_traffic_is_balanced_with_tags_kept)
{
	vlan_case(2);
}

TEST(ipv6_extension_headers_are_walked_to_the_ports)
{
	__u32 w[1] = { 1 };
	struct sl_pkt_spec s;
	size_t olen = 0;
	struct lb lb;
	int elen;

	if (open_lb(&lb, NULL))
		return;
	if (!setup(&lb, 1, 6, IPPROTO_TCP, SL_STRAT_RR, SL_FWD_DSR, w, 1, 0, 0)) {
		s = spec(6, IPPROTO_TCP, CLI6, 5555, VIP6, 80, TCP_SYN);
		s.n_ext = 4;
		s.ext[0].type = 0;
		s.ext[1].type = 43;
		s.ext[1].len = 2;
		s.ext[2].type = 60;
		s.ext[3].type = 44; /* atomic fragment: offset 0, M 0 */
		ASSERT_EQ(run_spec(&lb, &s, NULL, &olen), XDP_REDIRECT, "verdict");
		elen = expect(s, CLI6, 5555, VIP6, 80, LB_MAC_SLB0, "02:be:00:00:01:02");
		ASSERT_MEM(out_buf, olen, exp_buf, elen, "frame with four extension headers");
		ASSERT_EQ(lb_drops(&lb, SL_DROP_FRAGMENT), 0, "atomic fragment is not a fragment");
	}
	lb_close(&lb);
}

/* ---- ICMP ---- */

/* Quote of the packet the VIP "sent" to the client, as a router returns it. */
static int quote_of(int fam, const char *from, __u16 sport, const char *to, __u16 dport,
		    __u8 *q, size_t cap)
{
	struct sl_pkt_spec s = spec(fam, IPPROTO_TCP, from, sport, to, dport, TCP_ACK);

	s.payload_len = 1200;
	return sl_pkt_build_ip(&s, q, cap);
}

static void icmp_to_flow_backend(int fam, __u8 fwd)
{
	const char *vip = fam == 4 ? VIP4 : VIP6, *cli = fam == 4 ? CLI4 : CLI6;
	const char *router = fam == 4 ? "198.18.0.2" : "2001:db8::2";
	__u8 q[SL_PKT_MAX];
	__u32 w[2] = { 1, 1 }, verdict = 0;
	struct sl_pkt_spec s, e;
	struct sl_pkt_view v;
	size_t olen = 0;
	int qlen, len, i;
	struct lb lb;

	if (open_lb(&lb, NULL))
		return;
	if (setup(&lb, 1, fam, IPPROTO_TCP, SL_STRAT_RR, fwd, w, 2, 0,
		  fwd == SL_FWD_NAT ? 8080 : 0))
		goto out;
	/* Two flows: the second lands on backend 3. */
	for (i = 0; i < 2; i++) {
		s = spec(fam, IPPROTO_TCP, cli, 9000 + i, vip, 80, TCP_SYN);
		run_spec(&lb, &s, NULL, NULL);
	}
	qlen = quote_of(fam, vip, 80, cli, 9001, q, sizeof(q));
	e = spec(fam, 0, router, 0, vip, 0, 0);
	len = sl_pkt_build_icmp_too_big(&e, 1400, q, qlen > 548 ? 548 : qlen, in_buf,
					sizeof(in_buf));
	if (len < 0 || lb_run(&lb, in_buf, len, out_buf, &olen, &verdict)) {
		FAILF("building or running the ICMP error");
		goto out;
	}
	ASSERT_EQ(verdict, XDP_REDIRECT, "verdict");
	ASSERT_EQ(lb_counter(&lb, SL_C_ICMP_FWD), 1, "ICMP forwarded counter");
	if (sl_pkt_parse(out_buf, olen, &v) && fwd != SL_FWD_IPIP) {
		FAILF("output does not parse");
		goto out;
	}
	if (fwd == SL_FWD_DSR) {
		ASSERT_MEM(out_buf, 6, "\x02\xbe\x00\x00\x01\x03", 6, "to the flow's backend (3)");
		ASSERT_MEM(out_buf + 12, olen - 12, in_buf + 12, len - 12, "ICMP error unchanged");
	} else if (fwd == SL_FWD_IPIP) {
		ASSERT_MEM(out_buf, 6, "\x02\xbe\x00\x00\x01\x03", 6, "to the flow's backend (3)");
		ASSERT_EQ(olen, (size_t)len + (fam == 4 ? 20 : 40), "encapsulated");
	} else {
		/* NAT: the backend must see an error about its own packet. */
		__u8 q2[SL_PKT_MAX];
		int q2len = quote_of(fam, be_addr(fam, 3), 8080, cli, 9001, q2, sizeof(q2));

		e.dst = be_addr(fam, 3);
		e.eth_src = LB_MAC_SLB0;
		e.eth_dst = "02:be:00:00:01:03";
		len = sl_pkt_build_icmp_too_big(&e, 1400, q2, q2len > 548 ? 548 : q2len,
						exp_buf, sizeof(exp_buf));
		ASSERT_MEM(out_buf, olen, exp_buf, len, "translated ICMP error");
		check_csums(olen, "translated ICMP error");
	}
out:
	lb_close(&lb);
}

TEST(icmp_frag_needed_goes_to_the_flow_backend_dsr)
{
	icmp_to_flow_backend(4, SL_FWD_DSR);
}

TEST(icmpv6_packet_too_big_goes_to_the_flow_backend_dsr)
{
	icmp_to_flow_backend(6, SL_FWD_DSR);
}

TEST(icmp_frag_needed_goes_to_the_flow_backend_ipip)
{
	icmp_to_flow_backend(4, SL_FWD_IPIP);
}

TEST(icmp_frag_needed_is_translated_for_a_nat_backend)
{
	icmp_to_flow_backend(4, SL_FWD_NAT);
}

TEST(icmpv6_packet_too_big_is_translated_for_a_nat_backend)
{
	icmp_to_flow_backend(6, SL_FWD_NAT);
}

TEST(icmp_error_without_a_flow_passes_untouched)
{
	__u8 q[SL_PKT_MAX];
	__u32 w[1] = { 1 }, verdict = 0;
	struct sl_pkt_spec e;
	size_t olen = 0;
	int qlen, len;
	struct lb lb;

	if (open_lb(&lb, NULL))
		return;
	if (!setup(&lb, 1, 4, IPPROTO_TCP, SL_STRAT_RR, SL_FWD_DSR, w, 1, 0, 0)) {
		qlen = quote_of(4, VIP4, 80, CLI4, 9999, q, sizeof(q));
		e = spec(4, 0, "198.18.0.2", 0, VIP4, 0, 0);
		len = sl_pkt_build_icmp_too_big(&e, 1400, q, 548, in_buf, sizeof(in_buf));
		if (len > 0 && !lb_run(&lb, in_buf, len, out_buf, &olen, &verdict)) {
			ASSERT_EQ(verdict, XDP_PASS, "verdict");
			ASSERT_MEM(out_buf, olen, in_buf, len, "untouched");
			ASSERT_EQ(lb_counter(&lb, SL_C_ICMP_NO_FLOW), 1, "no-flow counter");
		} else {
			FAILF("building or running (qlen %d)", qlen);
		}
	}
	lb_close(&lb);
}

/* ---- fragments ---- */

TEST(fragments_to_a_vip_address_are_dropped_and_counted)
{
	__u32 w[1] = { 1 };
	struct sl_pkt_spec s;
	struct lb lb;

	if (open_lb(&lb, NULL))
		return;
	if (setup(&lb, 1, 4, IPPROTO_UDP, SL_STRAT_RR, SL_FWD_DSR, w, 1, 0, 0) ||
	    setup(&lb, 2, 6, IPPROTO_UDP, SL_STRAT_RR, SL_FWD_DSR, w, 1, 10, 0))
		goto out;
	s = spec(4, IPPROTO_UDP, CLI4, 1, VIP4, 80, 0);
	s.mf = 1; /* first fragment: ports present */
	ASSERT_EQ(run_spec(&lb, &s, NULL, NULL), XDP_DROP, "first fragment");
	s.mf = 0;
	s.frag_off = 100; /* last fragment: no ports */
	ASSERT_EQ(run_spec(&lb, &s, NULL, NULL), XDP_DROP, "last fragment");
	s = spec(6, IPPROTO_UDP, CLI6, 1, VIP6, 9999, 0); /* any port on the address */
	s.n_ext = 1;
	s.ext[0].type = 44;
	s.ext[0].more = 1;
	ASSERT_EQ(run_spec(&lb, &s, NULL, NULL), XDP_DROP, "IPv6 fragment");
	ASSERT_EQ(lb_drops(&lb, SL_DROP_FRAGMENT), 3, "fragment drop counter");
	{
		size_t ilen = 0, olen = 0;

		s = spec(4, IPPROTO_UDP, CLI4, 1, "198.18.9.9", 80, 0);
		s.mf = 1;
		ASSERT_EQ(run_spec(&lb, &s, &ilen, &olen), XDP_PASS, "fragment to another host");
		ASSERT_MEM(out_buf, olen, in_buf, ilen, "passed untouched");
	}
out:
	lb_close(&lb);
}

/* ---- rate limits ---- */

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

TEST(conn_rate_admits_burst_plus_rate_times_time)
{
	__u32 w[1] = { 1 };
	int i, admitted = 0;
	__u64 t0, t1;
	struct lb lb;

	if (open_lb(&lb, NULL))
		return;
	if (setup(&lb, 1, 4, IPPROTO_TCP, SL_STRAT_RR, SL_FWD_DSR, w, 1, 0, 0) ||
	    lb_vip_limits(&lb, VIP4, 80, IPPROTO_TCP, 2, 5, 0, 0))
		goto out;
	t0 = now_ns();
	for (i = 0; i < 40; i++) {
		struct sl_pkt_spec s = spec(4, IPPROTO_TCP, CLI4, 100 + i, VIP4, 80, TCP_SYN);

		admitted += run_spec(&lb, &s, NULL, NULL) == XDP_REDIRECT;
	}
	t1 = now_ns();
	/* At least the burst; at most burst + rate * T (T measured around all). */
	ASSERT_TRUE(admitted >= 5, "burst admitted");
	if (admitted > 5 + (int)((t1 - t0) * 2 / 1000000000ull))
		FAILF("admitted %d > burst 5 + 2/s * %llu ns", admitted,
		      (unsigned long long)(t1 - t0));
	ASSERT_EQ(lb_drops(&lb, SL_DROP_RL_CONN), 40 - admitted, "conn-rate drops counted");
	/* Packets of admitted flows use no connection tokens. */
	for (i = 0; i < 5; i++) {
		struct sl_pkt_spec s = spec(4, IPPROTO_TCP, CLI4, 100 + i, VIP4, 80, TCP_ACK);

		ASSERT_EQ(run_spec(&lb, &s, NULL, NULL), XDP_REDIRECT, "established flow");
	}
	/* Another client has its own bucket. */
	{
		struct sl_pkt_spec s = spec(4, IPPROTO_TCP, "198.18.200.2", 100, VIP4, 80, TCP_SYN);

		ASSERT_EQ(run_spec(&lb, &s, NULL, NULL), XDP_REDIRECT, "other client");
	}
out:
	lb_close(&lb);
}

TEST(pkt_rate_admits_burst_plus_rate_times_time)
{
	__u32 w[1] = { 1 };
	int i, admitted = 0;
	__u64 t0, t1;
	struct lb lb;

	if (open_lb(&lb, NULL))
		return;
	if (setup(&lb, 1, 6, IPPROTO_UDP, SL_STRAT_RR, SL_FWD_DSR, w, 1, 0, 0) ||
	    lb_vip_limits(&lb, VIP6, 80, IPPROTO_UDP, 0, 0, 100, 10))
		goto out;
	t0 = now_ns();
	for (i = 0; i < 200; i++) {
		struct sl_pkt_spec s = spec(6, IPPROTO_UDP, CLI6, 100 + (i % 3), VIP6, 80, 0);

		admitted += run_spec(&lb, &s, NULL, NULL) == XDP_REDIRECT;
	}
	t1 = now_ns();
	ASSERT_TRUE(admitted >= 10, "burst admitted");
	if (admitted > 10 + (int)((t1 - t0) * 100 / 1000000000ull))
		FAILF("admitted %d > burst 10 + 100/s * %llu ns", admitted,
		      (unsigned long long)(t1 - t0));
	ASSERT_EQ(lb_drops(&lb, SL_DROP_RL_PKT), 200 - admitted, "packet-rate drops counted");
out:
	lb_close(&lb);
}

TEST(prefix_limits_share_one_bucket_per_24)
{
	__u32 w[1] = { 1 };
	struct sl_vip_key k = {};
	struct sl_vip v;
	int i, a = 0, b = 0;
	struct lb lb;

	if (open_lb(&lb, NULL))
		return;
	if (setup(&lb, 1, 4, IPPROTO_TCP, SL_STRAT_RR, SL_FWD_DSR, w, 1, 0, 0) ||
	    lb_vip_limits(&lb, VIP4, 80, IPPROTO_TCP, 1, 4, 0, 0))
		goto out;
	sl_pkt_addr(VIP4, k.addr, &k.family);
	k.port = htons(80);
	k.proto = IPPROTO_TCP;
	bpf_map__lookup_elem(lb.skel->maps.sl_vips, &k, sizeof(k), &v, sizeof(v), 0);
	v.flags |= SL_VIP_RL_PREFIX;
	bpf_map__update_elem(lb.skel->maps.sl_vips, &k, sizeof(k), &v, sizeof(v), 0);
	for (i = 0; i < 8; i++) {
		char cli[32];
		struct sl_pkt_spec s;

		snprintf(cli, sizeof(cli), "198.18.200.%d", 1 + i);
		s = spec(4, IPPROTO_TCP, cli, 100, VIP4, 80, TCP_SYN);
		a += run_spec(&lb, &s, NULL, NULL) == XDP_REDIRECT;
		snprintf(cli, sizeof(cli), "198.18.201.%d", 1 + i);
		s = spec(4, IPPROTO_TCP, cli, 100, VIP4, 80, TCP_SYN);
		b += run_spec(&lb, &s, NULL, NULL) == XDP_REDIRECT;
	}
	ASSERT_TRUE(a >= 4 && a <= 5, "eight clients of one /24 share a burst of 4");
	ASSERT_TRUE(b >= 4 && b <= 5, "the next /24 has its own bucket");
out:
	lb_close(&lb);
}

TEST(evicted_client_gets_at_most_one_fresh_burst_and_evictions_count)
{
	struct lb_opts o = { .buckets = 8 };
	__u32 w[1] = { 1 };
	int i, again = 0;
	struct lb lb;

	if (open_lb(&lb, &o))
		return;
	if (setup(&lb, 1, 4, IPPROTO_TCP, SL_STRAT_RR, SL_FWD_DSR, w, 1, 0, 0) ||
	    lb_vip_limits(&lb, VIP4, 80, IPPROTO_TCP, 1, 3, 0, 0))
		goto out;
	for (i = 0; i < 10; i++) {
		struct sl_pkt_spec s = spec(4, IPPROTO_TCP, CLI4, 100 + i, VIP4, 80, TCP_SYN);

		run_spec(&lb, &s, NULL, NULL);
	}
	for (i = 0; i < 20; i++) {
		char cli[32];
		struct sl_pkt_spec s;

		snprintf(cli, sizeof(cli), "198.18.210.%d", 1 + i);
		s = spec(4, IPPROTO_TCP, cli, 100, VIP4, 80, TCP_SYN);
		run_spec(&lb, &s, NULL, NULL);
	}
	ASSERT_EQ(lb_counter(&lb, SL_C_RL_NEW_BUCKET), 21, "buckets created");
	ASSERT_EQ(lb_counter(&lb, SL_C_RL_EVICT), 13, "creations that evicted (21 - 8)");
	for (i = 0; i < 10; i++) {
		struct sl_pkt_spec s = spec(4, IPPROTO_TCP, CLI4, 200 + i, VIP4, 80, TCP_SYN);

		again += run_spec(&lb, &s, NULL, NULL) == XDP_REDIRECT;
	}
	ASSERT_TRUE(again <= 3 + 1, "a returning client gets at most one burst (+1 refill)");
out:
	lb_close(&lb);
}

TEST(l7_vip_passes_to_the_stack_after_limits)
{
	struct sl_pkt_spec s;
	size_t ilen = 0, olen = 0;
	struct lb lb;
	int i, passed = 0;

	if (open_lb(&lb, NULL))
		return;
	if (lb_vip(&lb, 1, VIP4, 443, IPPROTO_TCP, SL_STRAT_RR, SL_FWD_NAT, SL_VIP_L7) ||
	    lb_vip_limits(&lb, VIP4, 443, IPPROTO_TCP, 1, 2, 0, 0))
		goto out;
	s = spec(4, IPPROTO_TCP, CLI4, 100, VIP4, 443, TCP_SYN);
	ASSERT_EQ(run_spec(&lb, &s, &ilen, &olen), XDP_PASS, "L7 SYN to the stack");
	ASSERT_MEM(out_buf, olen, in_buf, ilen, "untouched");
	for (i = 0; i < 5; i++) {
		s = spec(4, IPPROTO_TCP, CLI4, 101 + i, VIP4, 443, TCP_SYN);
		passed += run_spec(&lb, &s, NULL, NULL) == XDP_PASS;
	}
	ASSERT_TRUE(passed <= 2, "connection limit applies before the stack");
	ASSERT_TRUE(lb_drops(&lb, SL_DROP_RL_CONN) >= 3, "refused SYNs counted");
	s = spec(4, IPPROTO_TCP, CLI4, 100, VIP4, 443, TCP_ACK);
	ASSERT_EQ(run_spec(&lb, &s, NULL, NULL), XDP_PASS, "non-SYN uses no connection token");
out:
	lb_close(&lb);
}

/* ---- drops, untouched traffic, stats, events ---- */

TEST(vip_without_backends_drops_with_a_reason)
{
	struct sl_pkt_spec s;
	struct lb lb;

	if (open_lb(&lb, NULL))
		return;
	if (!lb_vip(&lb, 1, VIP4, 80, IPPROTO_TCP, SL_STRAT_RR, SL_FWD_DSR, 0) &&
	    !lb_vip(&lb, 2, VIP4, 81, IPPROTO_TCP, SL_STRAT_MAGLEV, SL_FWD_DSR, 0) &&
	    !lb_group(&lb, 1, NULL, 0)) {
		s = spec(4, IPPROTO_TCP, CLI4, 100, VIP4, 80, TCP_SYN);
		ASSERT_EQ(run_spec(&lb, &s, NULL, NULL), XDP_DROP, "empty group");
		ASSERT_EQ(lb_drops(&lb, SL_DROP_NO_BACKEND), 1, "no-backend counter");
		s = spec(4, IPPROTO_TCP, CLI4, 100, VIP4, 81, TCP_SYN);
		ASSERT_EQ(run_spec(&lb, &s, NULL, NULL), XDP_DROP, "no table");
		ASSERT_EQ(lb_drops(&lb, SL_DROP_NO_GROUP), 1, "no-group counter");
		ASSERT_EQ(lb_vip_stats(&lb, 1).drops, 1, "VIP drop stat");
	}
	lb_close(&lb);
}

TEST(non_vip_traffic_passes_untouched)
{
	struct sl_pkt_spec cases[6];
	__u32 w[1] = { 1 };
	size_t ilen = 0, olen = 0;
	struct lb lb;
	int i;

	if (open_lb(&lb, NULL))
		return;
	if (setup(&lb, 1, 4, IPPROTO_TCP, SL_STRAT_RR, SL_FWD_NAT, w, 1, 0, 8080))
		goto out;
	cases[0] = spec(4, IPPROTO_TCP, CLI4, 100, "198.18.9.9", 80, TCP_SYN);
	cases[1] = spec(4, IPPROTO_TCP, CLI4, 100, VIP4, 81, TCP_SYN);	/* other port */
	cases[2] = spec(4, IPPROTO_UDP, CLI4, 100, VIP4, 80, 0);	/* other protocol */
	cases[3] = spec(4, IPPROTO_ICMP, CLI4, 1, VIP4, 0, 0);		/* ping the VIP */
	cases[4] = spec(6, IPPROTO_TCP, CLI6, 100, "2001:db8::99", 80, TCP_SYN);
	cases[5] = spec(4, IPPROTO_TCP, CLI4, 100, "198.18.9.9", 80, TCP_SYN);
	cases[5].ip_opt_len = 12; /* IPv4 options, not to a VIP */
	for (i = 0; i < 6; i++) {
		ASSERT_EQ(run_spec(&lb, &cases[i], &ilen, &olen), XDP_PASS, "verdict");
		ASSERT_MEM(out_buf, olen, in_buf, ilen, "untouched");
	}
	ASSERT_EQ(lb_counter(&lb, SL_C_PASS_NOT_VIP), 6, "not-a-VIP counter");
out:
	lb_close(&lb);
}

TEST(ipv4_options_to_a_vip_are_balanced)
{
	__u32 w[1] = { 1 };
	struct sl_pkt_spec s;
	size_t olen = 0;
	struct lb lb;
	int elen;

	if (open_lb(&lb, NULL))
		return;
	if (!setup(&lb, 1, 4, IPPROTO_TCP, SL_STRAT_RR, SL_FWD_NAT, w, 1, 0, 8080)) {
		s = spec(4, IPPROTO_TCP, CLI4, 100, VIP4, 80, TCP_SYN);
		s.ip_opt_len = 8;
		ASSERT_EQ(run_spec(&lb, &s, NULL, &olen), XDP_REDIRECT, "verdict");
		elen = expect(s, CLI4, 100, be_addr(4, 2), 8080, LB_MAC_SLB0, "02:be:00:00:01:02");
		ASSERT_MEM(out_buf, olen, exp_buf, elen, "NAT with IPv4 options");
	}
	lb_close(&lb);
}

TEST(stats_count_packets_bytes_and_new_flows)
{
	__u32 w[1] = { 1 };
	struct sl_vip_stats vs;
	struct sl_be_stats bs;
	size_t ilen = 0;
	struct lb lb;
	int i;

	if (open_lb(&lb, NULL))
		return;
	if (setup(&lb, 4, 4, IPPROTO_TCP, SL_STRAT_RR, SL_FWD_DSR, w, 1, 5, 0))
		goto out;
	for (i = 0; i < 10; i++) {
		struct sl_pkt_spec s = spec(4, IPPROTO_TCP, CLI4, 100 + i % 2, VIP4, 80,
					    i < 2 ? TCP_SYN : TCP_ACK);

		run_spec(&lb, &s, &ilen, NULL);
	}
	vs = lb_vip_stats(&lb, 4);
	bs = lb_be_stats(&lb, 5);
	ASSERT_EQ(vs.packets, 10, "VIP packets");
	ASSERT_EQ(vs.bytes, 10 * ilen, "VIP bytes");
	ASSERT_EQ(vs.new_flows, 2, "VIP new flows");
	ASSERT_EQ(bs.packets, 10, "backend packets");
	ASSERT_EQ(bs.new_flows, 2, "backend new flows");
	ASSERT_EQ(lb_active(&lb, 5), 2, "backend active flows");
out:
	lb_close(&lb);
}

/* Events of vip 1 by type: n[SL_EV_NEW_FLOW], n[SL_EV_RL_DROP]. */
static int count_events(void *ctx, void *data, size_t len)
{
	const struct sl_event *e = data;
	int *n = ctx;

	if (len >= sizeof(*e) && e->vip_id == 1 && e->type <= SL_EV_RL_DROP)
		n[e->type]++;
	return 0;
}

TEST(new_flow_and_rate_limit_events_reach_the_ring_buffer)
{
	struct lb_opts o = { .ev_new_every = 1, .ev_rl_every = 1 };
	struct ring_buffer *rb = NULL;
	__u32 w[1] = { 1 };
	struct lb lb;
	int i, n[3] = { 0 };

	if (open_lb(&lb, &o))
		return;
	if (setup(&lb, 1, 4, IPPROTO_TCP, SL_STRAT_RR, SL_FWD_DSR, w, 1, 0, 0))
		goto out;
	if (lb_vip_limits(&lb, VIP4, 80, IPPROTO_TCP, 1, 7, 0, 0))
		goto out;
	rb = ring_buffer__new(bpf_map__fd(lb.skel->maps.sl_events), count_events, n, NULL);
	if (!ASSERT_TRUE(rb != NULL, "ring buffer"))
		goto out;
	for (i = 0; i < 10; i++) {
		struct sl_pkt_spec s = spec(4, IPPROTO_TCP, CLI4, 100 + i, VIP4, 80, TCP_SYN);

		run_spec(&lb, &s, NULL, NULL);
	}
	ring_buffer__consume(rb);
	ASSERT_EQ(n[SL_EV_NEW_FLOW], lb_vip_stats(&lb, 1).new_flows, "new-flow events");
	ASSERT_EQ(n[SL_EV_RL_DROP], lb_drops(&lb, SL_DROP_RL_CONN), "rate-limit drop events");
	ASSERT_TRUE(n[SL_EV_RL_DROP] >= 1 && n[SL_EV_NEW_FLOW] >= 7, "both kinds seen");
out:
	ring_buffer__free(rb);
	lb_close(&lb);
}

/* Loads on this kernel; prints the sizes docs/architecture.md reports. */
TEST(xdp_lb_programs_load_and_report_verifier_cost)
{
	struct bpf_program *progs[3];
	struct lb lb;
	int i;

	if (open_lb(&lb, NULL))
		return;
	progs[0] = lb.skel->progs.sl_xdp;
	progs[1] = lb.skel->progs.sl_sweep;
	progs[2] = lb.skel->progs.sl_l7_pick;
	for (i = 0; i < 3; i++) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);

		if (!ASSERT_OK(bpf_obj_get_info_by_fd(bpf_program__fd(progs[i]), &info, &len),
			       "program info"))
			break;
		printf("     %s: %u BPF insns, %u verified insns, %u bytes jited\n",
		       bpf_program__name(progs[i]), info.xlated_prog_len / 8, info.verified_insns,
		       info.jited_prog_len);
		ASSERT_TRUE(info.xlated_prog_len > 0, "program has instructions");
	}
	lb_close(&lb);
}

/*
 * A packet on another CPU can stamp last_ns a tick after the sweeper read its
 * clock: such an entry is fresh, not idle since an underflowed eternity.
 */
TEST(sweeper_treats_a_stamp_newer_than_its_clock_as_fresh)
{
	struct lb_opts o = { .tcp_idle_ns = 100000000ull };
	struct sl_flow k = {}, next;
	struct sl_conn c;
	__u32 w[1] = { 1 };
	struct lb lb;
	int n = 0;

	if (open_lb(&lb, &o))
		return;
	if (setup(&lb, 1, 4, IPPROTO_TCP, SL_STRAT_LEASTCONN, SL_FWD_DSR, w, 1, 0, 0))
		goto out;
	{
		struct sl_pkt_spec s = spec(4, IPPROTO_TCP, CLI4, 777, VIP4, 80, TCP_SYN);

		run_spec(&lb, &s, NULL, NULL);
	}
	/* Push the flow's stamp one second into the future. */
	while (!bpf_map__get_next_key(lb.skel->maps.sl_conns, n ? &k : NULL, &next, sizeof(next))) {
		k = next;
		n++;
		if (!bpf_map__lookup_elem(lb.skel->maps.sl_conns, &k, sizeof(k), &c, sizeof(c), 0)) {
			c.last_ns += 1000000000ull;
			bpf_map__update_elem(lb.skel->maps.sl_conns, &k, sizeof(k), &c, sizeof(c), 0);
		}
	}
	ASSERT_EQ(n, 1, "flows in the table");
	usleep(200000); /* past tcp_idle_ns measured from the flow's real last packet */
	ASSERT_OK(lb_sweep(&lb), "sweeper run");
	ASSERT_EQ(lb_counter(&lb, SL_C_CT_EXPIRED), 0, "flows expired");
	ASSERT_EQ(lb_active(&lb, 0), 1, "the flow is still counted");
out:
	lb_close(&lb);
}

/* ---- the L7 proxy's upstream choice (sl_l7_pick) ---- */

static int l7_call(struct lb *lb, const struct sl_vip_key *k, __u32 op, __u32 be, __u32 gen,
		   struct sl_l7_pick *out)
{
	struct sl_l7_pick r = { .vip = *k, .op = op, .hash = 7, .be_id = be, .be_gen = gen };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = &r, .data_size_in = sizeof(r), .data_out = out,
		    .data_size_out = sizeof(*out));
	int err = bpf_prog_test_run_opts(bpf_program__fd(lb->skel->progs.sl_l7_pick), &o);

	return err ? err : (int)o.retval;
}

/*
 * L7 picks run the data plane's own selection: they continue the VIP's shared
 * round-robin position (an XDP flow takes the next backend after them), count
 * in the backends' active flows like L4 flows do, and release exactly what
 * they took (a release for a reused slot's old gen changes nothing).
 */
TEST(l7_pick_shares_rr_position_and_active_counts_with_xdp)
{
	static const __u32 w[3] = { 1, 1, 1 };
	struct sl_vip_key k = { .port = htons(80), .proto = IPPROTO_TCP, .family = SL_AF_INET };
	struct sl_l7_pick out[3], tmp;
	struct sl_pkt_spec s;
	struct lb lb;
	int i, xdp_be;

	inet_pton(AF_INET, VIP4, k.addr);
	if (open_lb(&lb, NULL))
		return;
	if (setup(&lb, 1, 4, IPPROTO_TCP, SL_STRAT_RR, SL_FWD_DSR, w, 3, 2, 0))
		goto out;
	for (i = 0; i < 3; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		ASSERT_EQ(l7_call(&lb, &k, SL_L7_PICK, 0, 0, &out[i]), XDP_TX, "pick runs");
		ASSERT_EQ(out[i].result, 0, "pick found a backend");
		ASSERT_EQ(out[i].be_gen, 1, "pick reports the slot's gen");
	}
	ASSERT_TRUE(out[0].be_id != out[1].be_id && out[1].be_id != out[2].be_id &&
			    out[0].be_id != out[2].be_id,
		    "three rr picks visit three backends");
	for (i = 0; i < 3; i++)
		ASSERT_EQ(lb_active(&lb, out[i].be_id), 1, "a pick counts one active flow");
	s = spec(4, IPPROTO_TCP, CLI4, 40000, VIP4, 80, TCP_SYN);
	i = run_spec(&lb, &s, NULL, NULL);
	ASSERT_TRUE(i == XDP_TX || i == XDP_REDIRECT, "an L4 flow after the picks is forwarded");
	xdp_be = out_backend();
	ASSERT_EQ(xdp_be, (int)out[0].be_id, "the L4 flow continues the same rr position");
	for (i = 0; i < 3; i++)
		ASSERT_EQ(l7_call(&lb, &k, SL_L7_RELEASE, out[i].be_id, out[i].be_gen, &tmp), XDP_TX,
			  "release runs");
	ASSERT_EQ(lb_active(&lb, out[0].be_id), 1, "only the L4 flow stays on its backend");
	ASSERT_EQ(lb_active(&lb, out[1].be_id), 0, "released");
	ASSERT_EQ(l7_call(&lb, &k, SL_L7_RELEASE, out[0].be_id, 9, &tmp), XDP_TX, "stale release");
	ASSERT_EQ(lb_active(&lb, out[0].be_id), 1, "a release for another gen changes nothing");
	ASSERT_EQ(lb_be_stats(&lb, out[1].be_id).new_flows, 1, "picks count as new flows");

	/* every backend down: the pick says so, as XDP would drop */
	for (i = 0; i < 3; i++)
		lb_backend(&lb, 2 + i, be_addr(4, 2 + i), 0, 1, 1, SL_BE_DOWN, 1);
	ASSERT_EQ(l7_call(&lb, &k, SL_L7_PICK, 0, 0, &tmp), XDP_TX, "pick runs");
	ASSERT_EQ(tmp.result, -SL_DROP_NO_BACKEND, "no eligible backend");
	k.port = htons(81);
	ASSERT_EQ(l7_call(&lb, &k, SL_L7_PICK, 0, 0, &tmp), XDP_TX, "pick runs");
	ASSERT_EQ(tmp.result, -SL_DROP_NO_GROUP, "an unknown VIP");
out:
	lb_close(&lb);
}
