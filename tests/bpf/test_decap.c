// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sl_decap (bpf/decap.bpf.c) on crafted frames through BPF_PROG_TEST_RUN, and
 * self-tests of the packet toolkit (pkt.h) the fixtures are built with.
 * Expected output bytes never come from the program: a decapsulated frame is
 * expected to equal the inner packet built on its own behind the same
 * Ethernet/VLAN header.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "decap.skel.h"
#include "harness.h"
#include "pkt.h"
#include "sluice/abi.h"

/* The frame as the backend receives it from the balancer (netns.sh layout). */
#define LB_MAC "02:5c:00:00:01:01"
#define BE_MAC "02:be:00:00:01:02"
#define LB4 "198.18.1.1"
#define BE4 "198.18.1.2"    /* configured in sl_decap_dst when a row says so */
#define OTHER4 "198.18.1.3" /* never configured */
#define DECOY4 "198.18.1.9" /* always configured: the map is never empty */
#define CLI4 "198.18.128.7"
#define VIP4 "198.19.0.10"
#define LB6 "2001:db8:1::1"
#define BE6 "2001:db8:1::2"
#define OTHER6 "2001:db8:1::3"
#define DECOY6 "2001:db8:1::9"
#define CLI6 "2001:db8:c::7"
#define VIP6 "2001:db8:f::10"

#define L2_BE .eth_src = LB_MAC, .eth_dst = BE_MAC
#define OUTER4(d) L2_BE, .family = 4, .src = LB4, .dst = (d), .ttl = 64, .ip_id = 0x99
#define OUTER6(d) L2_BE, .family = 6, .src = LB6, .dst = (d), .ttl = 64, .flow_label = 0xabcde

#define TH_SYN 0x02
#define TH_ACK 0x10

/* Fixtures read better a few fields per line than one field per line. */
/* clang-format off */
/* Inner packets: client -> VIP, as the balancer received them. */
static const struct sl_pkt_spec in4_tcp = {
	.family = 4, .src = CLI4, .dst = VIP4, .ttl = 63, .ip_id = 0x77, .df = 1,
	.l4 = IPPROTO_TCP, .sport = 40000, .dport = 80, .tcp_flags = TH_SYN, .seq = 1000,
	.payload_len = 32, .pattern_seed = 3,
};
static const struct sl_pkt_spec in4_udp = {
	.family = 4, .src = CLI4, .dst = VIP4, .ttl = 63, .ip_id = 0x78, .l4 = IPPROTO_UDP,
	.sport = 40001, .dport = 53, .payload_len = 45, .pattern_seed = 4,
};
static const struct sl_pkt_spec in4_icmp = {
	.family = 4, .src = CLI4, .dst = VIP4, .ttl = 63, .l4 = IPPROTO_ICMP, .sport = 0x4242,
	.seq = 7, .payload_len = 56,
};
/* The smallest tunnel payload: an inner IPv4 header alone (protocol 253, no payload). */
static const struct sl_pkt_spec in4_bare = {
	.family = 4, .src = CLI4, .dst = VIP4, .ttl = 63, .l4 = 253,
};
static const struct sl_pkt_spec in6_tcp = {
	.family = 6, .src = CLI6, .dst = VIP6, .ttl = 63, .l4 = IPPROTO_TCP, .sport = 40002,
	.dport = 443, .tcp_flags = TH_ACK, .seq = 0x10203040, .payload_len = 100,
	.pattern_seed = 9,
};
static const struct sl_pkt_spec in6_udp = {
	.family = 6, .src = CLI6, .dst = VIP6, .ttl = 63, .l4 = IPPROTO_UDP, .sport = 40003,
	.dport = 53, .payload_len = 13,
};
static const struct sl_pkt_spec in6_icmp6 = {
	.family = 6, .src = CLI6, .dst = VIP6, .ttl = 63, .l4 = IPPROTO_ICMPV6, .sport = 0x4243,
	.seq = 8, .payload_len = 24,
};
/* clang-format on */

enum outcome {
	UNTOUCHED, /* output == input, no counter moves */
	DECAPPED,  /* output == inner packet behind the input's L2 header, SL_C_DECAP + 1 */
};

struct decap_case {
	const char *desc;
	struct sl_pkt_spec outer;	 /* L2 + outer IP; the whole frame when inner is NULL */
	const struct sl_pkt_spec *inner; /* the tunnelled packet, or NULL */
	int configure;			 /* put outer.dst in sl_decap_dst for this row */
	__u32 verdict;
	enum outcome out;
	size_t trailer;	 /* zero bytes after the IP packet (Ethernet padding) */
	int bad_fixture; /* input deliberately inconsistent: skip its self-check */
	size_t set16_at; /* if not 0: overwrite the 16 bits at this frame offset */
	__u16 set16;	 /* with this value (host order), after building */
};

/* clang-format off */
static const struct decap_case cases[] = {
	{ .desc = "v4-in-v4 TCP, outer DF: stripped",
	  .outer = { OUTER4(BE4), .df = 1, .l4 = IPPROTO_IPIP },
	  .inner = &in4_tcp, .configure = 1, .verdict = XDP_PASS, .out = DECAPPED },
	{ .desc = "v4-in-v4 UDP: stripped",
	  .outer = { OUTER4(BE4), .l4 = IPPROTO_IPIP },
	  .inner = &in4_udp, .configure = 1, .verdict = XDP_PASS, .out = DECAPPED },
	{ .desc = "v4-in-v4 ICMP echo: stripped",
	  .outer = { OUTER4(BE4), .l4 = IPPROTO_IPIP },
	  .inner = &in4_icmp, .configure = 1, .verdict = XDP_PASS, .out = DECAPPED },
	{ .desc = "v4-in-v4 whose inner packet is a bare IPv4 header: stripped",
	  .outer = { OUTER4(BE4), .l4 = IPPROTO_IPIP },
	  .inner = &in4_bare, .configure = 1, .verdict = XDP_PASS, .out = DECAPPED },
	{ .desc = "v6-in-v6 TCP: stripped",
	  .outer = { OUTER6(BE6), .l4 = IPPROTO_IPV6 },
	  .inner = &in6_tcp, .configure = 1, .verdict = XDP_PASS, .out = DECAPPED },
	{ .desc = "v6-in-v6 UDP: stripped",
	  .outer = { OUTER6(BE6), .l4 = IPPROTO_IPV6 },
	  .inner = &in6_udp, .configure = 1, .verdict = XDP_PASS, .out = DECAPPED },
	{ .desc = "v6-in-v6 ICMPv6 echo: stripped",
	  .outer = { OUTER6(BE6), .l4 = IPPROTO_IPV6 },
	  .inner = &in6_icmp6, .configure = 1, .verdict = XDP_PASS, .out = DECAPPED },
	{ .desc = "v4-in-v4 behind one 802.1Q tag: tag kept",
	  .outer = { OUTER4(BE4), .vlans = 1, .vlan_tci = { 100 }, .l4 = IPPROTO_IPIP },
	  .inner = &in4_tcp, .configure = 1, .verdict = XDP_PASS, .out = DECAPPED },
	{ .desc = "v4-in-v4 behind two 802.1Q tags (L2 22 bytes > outer 20): tags kept",
	  .outer = { OUTER4(BE4), .vlans = 2, .vlan_tci = { 7, 8 }, .l4 = IPPROTO_IPIP },
	  .inner = &in4_udp, .configure = 1, .verdict = XDP_PASS, .out = DECAPPED },
	{ .desc = "v6-in-v6 behind 802.1ad + 802.1Q: tags kept",
	  .outer = { OUTER6(BE6), .vlans = 2, .vlan_tpid = { 0x88a8, 0x8100 },
		     .vlan_tci = { 10, 20 }, .l4 = IPPROTO_IPV6 },
	  .inner = &in6_tcp, .configure = 1, .verdict = XDP_PASS, .out = DECAPPED },
	{ .desc = "outer IPv4 with 4 option bytes (ihl 6): all 24 bytes stripped",
	  .outer = { OUTER4(BE4), .ip_opt_len = 4, .l4 = IPPROTO_IPIP },
	  .inner = &in4_tcp, .configure = 1, .verdict = XDP_PASS, .out = DECAPPED },
	{ .desc = "outer IPv4 with 40 option bytes (ihl 15) behind a tag: all 60 bytes stripped",
	  .outer = { OUTER4(BE4), .ip_opt_len = 40, .vlans = 1, .vlan_tci = { 5 },
		     .l4 = IPPROTO_IPIP },
	  .inner = &in4_udp, .configure = 1, .verdict = XDP_PASS, .out = DECAPPED },
	{ .desc = "v4-in-v4 with Ethernet padding: padding stays after the inner packet",
	  .outer = { OUTER4(BE4), .l4 = IPPROTO_IPIP },
	  .inner = &in4_bare, .configure = 1, .verdict = XDP_PASS, .out = DECAPPED, .trailer = 6 },

	{ .desc = "v4-in-v4 to an unconfigured address: untouched",
	  .outer = { OUTER4(OTHER4), .l4 = IPPROTO_IPIP },
	  .inner = &in4_tcp, .verdict = XDP_PASS, .out = UNTOUCHED },
	{ .desc = "v6-in-v6 to an unconfigured address: untouched",
	  .outer = { OUTER6(OTHER6), .l4 = IPPROTO_IPV6 },
	  .inner = &in6_tcp, .verdict = XDP_PASS, .out = UNTOUCHED },
	{ .desc = "plain IPv4 TCP to a configured address: untouched",
	  .outer = { L2_BE, .family = 4, .src = CLI4, .dst = BE4, .l4 = IPPROTO_TCP, .sport = 1234,
		     .dport = 80, .tcp_flags = TH_SYN, .payload_len = 10 },
	  .configure = 1, .verdict = XDP_PASS, .out = UNTOUCHED },
	{ .desc = "plain IPv6 UDP to a configured address: untouched",
	  .outer = { L2_BE, .family = 6, .src = CLI6, .dst = BE6, .l4 = IPPROTO_UDP, .sport = 1234,
		     .dport = 53, .payload_len = 60 },
	  .configure = 1, .verdict = XDP_PASS, .out = UNTOUCHED },
	{ .desc = "outer IPv4 first fragment (MF): untouched",
	  .outer = { OUTER4(BE4), .mf = 1, .l4 = IPPROTO_IPIP },
	  .inner = &in4_tcp, .configure = 1, .verdict = XDP_PASS, .out = UNTOUCHED },
	{ .desc = "outer IPv4 later fragment (offset 185): untouched",
	  .outer = { OUTER4(BE4), .frag_off = 185, .l4 = IPPROTO_IPIP },
	  .inner = &in4_tcp, .configure = 1, .verdict = XDP_PASS, .out = UNTOUCHED },
	{ .desc = "IPv6 inside IPv4 (protocol 41): untouched",
	  .outer = { OUTER4(BE4), .l4 = IPPROTO_IPV6 },
	  .inner = &in6_tcp, .configure = 1, .verdict = XDP_PASS, .out = UNTOUCHED },
	{ .desc = "IPv4 inside IPv6 (next header 4): untouched",
	  .outer = { OUTER6(BE6), .l4 = IPPROTO_IPIP },
	  .inner = &in4_tcp, .configure = 1, .verdict = XDP_PASS, .out = UNTOUCHED },
	{ .desc = "IPv4 protocol 4 carrying an IPv6 packet: untouched",
	  .outer = { OUTER4(BE4), .l4 = IPPROTO_IPIP },
	  .inner = &in6_tcp, .configure = 1, .verdict = XDP_PASS, .out = UNTOUCHED,
	  .bad_fixture = 1 },
	{ .desc = "IPv6 next header 41 carrying an IPv4 packet: untouched",
	  .outer = { OUTER6(BE6), .l4 = IPPROTO_IPV6 },
	  .inner = &in4_tcp, .configure = 1, .verdict = XDP_PASS, .out = UNTOUCHED,
	  .bad_fixture = 1 },
	{ .desc = "IPv4 protocol 41 carrying an IPv4 packet: untouched",
	  .outer = { OUTER4(BE4), .l4 = IPPROTO_IPV6 },
	  .inner = &in4_tcp, .configure = 1, .verdict = XDP_PASS, .out = UNTOUCHED,
	  .bad_fixture = 1 },
	{ .desc = "IPv6 next header 4 carrying an IPv6 packet: untouched",
	  .outer = { OUTER6(BE6), .l4 = IPPROTO_IPIP },
	  .inner = &in6_tcp, .configure = 1, .verdict = XDP_PASS, .out = UNTOUCHED,
	  .bad_fixture = 1 },
	{ .desc = "outer IPv4 total length 39, one short of two headers: untouched",
	  .outer = { OUTER4(BE4), .l4 = IPPROTO_IPIP },
	  .inner = &in4_bare, .configure = 1, .verdict = XDP_PASS, .out = UNTOUCHED,
	  .bad_fixture = 1, .set16_at = 14 + 2, .set16 = 39 },
	{ .desc = "outer IPv6 payload length 39, one short of the inner header: untouched",
	  .outer = { OUTER6(BE6), .l4 = IPPROTO_IPV6 },
	  .inner = &in6_udp, .configure = 1, .verdict = XDP_PASS, .out = UNTOUCHED,
	  .bad_fixture = 1, .set16_at = 14 + 4, .set16 = 39 },
	{ .desc = "v6-in-v6 behind an outer destination options header: untouched",
	  .outer = { OUTER6(BE6), .n_ext = 1, .ext = { { .type = IPPROTO_DSTOPTS } },
		     .l4 = IPPROTO_IPV6 },
	  .inner = &in6_tcp, .configure = 1, .verdict = XDP_PASS, .out = UNTOUCHED },
};
/* clang-format on */

/* ---- helpers -------------------------------------------------------------- */

static int addr_key(const char *text, struct sl_addr_key *key)
{
	memset(key, 0, sizeof(*key));
	return sl_pkt_addr(text, key->addr, &key->family);
}

static int dst_set(struct decap_bpf *skel, const char *addr, int on)
{
	int fd = bpf_map__fd(skel->maps.sl_decap_dst);
	struct sl_addr_key key;
	__u32 one = 1;

	if (addr_key(addr, &key))
		return -EINVAL;
	if (on)
		return bpf_map_update_elem(fd, &key, &one, BPF_ANY);
	return bpf_map_delete_elem(fd, &key);
}

/* Load the program with the decoy addresses configured. NULL on failure. */
static struct decap_bpf *decap_setup(void)
{
	struct decap_bpf *skel = decap_bpf__open_and_load();

	if (!skel) {
		FAILF("decap_bpf__open_and_load: %s", strerror(errno));
		return NULL;
	}
	if (!ASSERT_OK(dst_set(skel, DECOY4, 1), "configure " DECOY4) ||
	    !ASSERT_OK(dst_set(skel, DECOY6, 1), "configure " DECOY6)) {
		decap_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

struct counters {
	__u64 c[SL_C__MAX];
	__u64 d[SL_DROP__MAX];
};

/* Sum a per-CPU array over all CPUs. */
static int sum_percpu(int fd, __u32 n, __u64 *out)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 vals[512];
	__u32 k;
	int i;

	if (ncpu <= 0 || ncpu > 512)
		return -EINVAL;
	for (k = 0; k < n; k++) {
		if (bpf_map_lookup_elem(fd, &k, vals))
			return -errno;
		out[k] = 0;
		for (i = 0; i < ncpu; i++)
			out[k] += vals[i];
	}
	return 0;
}

static int counters_read(struct decap_bpf *skel, struct counters *c)
{
	int err = sum_percpu(bpf_map__fd(skel->maps.sl_dcounters), SL_C__MAX, c->c);

	return err ? err : sum_percpu(bpf_map__fd(skel->maps.sl_ddrops), SL_DROP__MAX, c->d);
}

/* Every counter moved by exactly what is expected; returns 1 when so. */
static int counters_check(const struct counters *before, const struct counters *after, __u64 decaps,
			  const char *desc)
{
	char what[256];
	int ok = 1;
	__u32 k;

	for (k = 0; k < SL_C__MAX; k++) {
		snprintf(what, sizeof(what), "%s: sl_dcounters[%u] delta", desc, k);
		ok &= ASSERT_EQ(after->c[k] - before->c[k], k == SL_C_DECAP ? decaps : 0, what);
	}
	for (k = 0; k < SL_DROP__MAX; k++) {
		snprintf(what, sizeof(what), "%s: sl_ddrops[%u] delta", desc, k);
		ok &= ASSERT_EQ(after->d[k] - before->d[k], 0, what);
	}
	return ok;
}

/* Build a row's input frame and its expected output. Returns 0 or -errno. */
static int case_frames(const struct decap_case *c, __u8 *in, size_t *in_len, __u8 *exp,
		       size_t *exp_len)
{
	struct sl_pkt_spec outer = c->outer, inner;
	__u8 ip[SL_PKT_MAX];
	int n, m;

	if (c->inner) {
		n = sl_pkt_build_ip(c->inner, ip, sizeof(ip));
		if (n < 0)
			return n;
		outer.payload = ip;
		outer.payload_len = (size_t)n;
	}
	n = sl_pkt_build(&outer, in, SL_PKT_MAX - c->trailer);
	if (n < 0)
		return n;
	memset(in + n, 0, c->trailer);
	*in_len = (size_t)n + c->trailer;
	if (c->set16_at && c->set16_at + 2 <= *in_len) {
		in[c->set16_at] = c->set16 >> 8;
		in[c->set16_at + 1] = (__u8)c->set16;
	}
	if (c->out == UNTOUCHED) {
		memcpy(exp, in, *in_len);
		*exp_len = *in_len;
		return 0;
	}
	/* The inner packet behind the outer frame's own Ethernet/VLAN header. */
	inner = *c->inner;
	inner.eth_src = outer.eth_src;
	inner.eth_dst = outer.eth_dst;
	inner.vlans = outer.vlans;
	memcpy(inner.vlan_tpid, outer.vlan_tpid, sizeof(inner.vlan_tpid));
	memcpy(inner.vlan_tci, outer.vlan_tci, sizeof(inner.vlan_tci));
	m = sl_pkt_build(&inner, exp, SL_PKT_MAX - c->trailer);
	if (m < 0)
		return m;
	memset(exp + m, 0, c->trailer);
	*exp_len = (size_t)m + c->trailer;
	return 0;
}

/*
 * Run one frame and check verdict, bytes and counters. ifindex is passed to
 * sl_xdp_run(). Returns 1 when everything matched.
 */
static int run_frame(struct decap_bpf *skel, const char *desc, const __u8 *in, size_t in_len,
		     const __u8 *exp, size_t exp_len, __u32 verdict, __u64 decaps, __u32 ifindex)
{
	int prog_fd = bpf_program__fd(skel->progs.sl_decap);
	struct counters before, after;
	__u8 out[SL_PKT_MAX + SL_PKT_GROWTH];
	size_t out_len = 0;
	char what[256];
	__u32 ret = ~0u;
	int ok = 1;

	if (!ASSERT_OK(counters_read(skel, &before), "read counters"))
		return 0;
	snprintf(what, sizeof(what), "%s: test_run", desc);
	if (!ASSERT_OK(sl_xdp_run(prog_fd, in, in_len, out, sizeof(out), &out_len, ifindex, &ret),
		       what))
		return 0;
	snprintf(what, sizeof(what), "%s: verdict", desc);
	ok &= ASSERT_EQ(ret, verdict, what);
	snprintf(what, sizeof(what), "%s: output bytes", desc);
	ok &= ASSERT_MEM(out, out_len, exp, exp_len, what);
	if (!ASSERT_OK(counters_read(skel, &after), "read counters"))
		return 0;
	ok &= counters_check(&before, &after, decaps, desc);
	return ok;
}

static void run_case(struct decap_bpf *skel, const struct decap_case *c, __u32 ifindex)
{
	size_t in_len, exp_len;
	__u8 in[SL_PKT_MAX], exp[SL_PKT_MAX];
	char what[256], why[160];

	snprintf(what, sizeof(what), "%s: build fixture", c->desc);
	if (!ASSERT_OK(case_frames(c, in, &in_len, exp, &exp_len), what))
		return;
	/* A fixture with a bad checksum would prove nothing about the program. */
	if (!c->bad_fixture && sl_pkt_check(in, in_len, why, sizeof(why)))
		FAILF("%s: input fixture invalid: %s", c->desc, why);
	if (c->out == DECAPPED && sl_pkt_check(exp, exp_len, why, sizeof(why)))
		FAILF("%s: expected output invalid: %s", c->desc, why);
	if (c->configure && !ASSERT_OK(dst_set(skel, c->outer.dst, 1), "configure outer dst"))
		return;
	run_frame(skel, c->desc, in, in_len, exp, exp_len, c->verdict, c->out == DECAPPED, ifindex);
	if (c->configure)
		ASSERT_OK(dst_set(skel, c->outer.dst, 0), "unconfigure outer dst");
}

static const struct decap_case *case_find(const char *prefix)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (!strncmp(cases[i].desc, prefix, strlen(prefix)))
			return &cases[i];
	return NULL;
}

/* ---- program tests -------------------------------------------------------- */

/* Every row of the table: verdict, whole output frame, every counter. */
TEST(decap_table)
{
	struct decap_bpf *skel = decap_setup();
	size_t i;

	if (!skel)
		return;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(skel, &cases[i], 0);
	decap_bpf__destroy(skel);
}

/* A tunnel packet cut short anywhere is passed untouched and counts nothing. */
TEST(decap_truncated_tunnel_passes_untouched)
{
	static const char *const rows[] = {
		"v4-in-v4 TCP, outer DF",
		"outer IPv4 with 40 option bytes",
		"v6-in-v6 behind 802.1ad",
		"v4-in-v4 whose inner packet is a bare",
	};
	struct decap_bpf *skel = decap_setup();
	__u8 in[SL_PKT_MAX], exp[SL_PKT_MAX];
	size_t in_len, exp_len, len, r;
	char desc[256];

	if (!skel)
		return;
	for (r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		const struct decap_case *c = case_find(rows[r]);

		if (!ASSERT_TRUE(c != NULL, rows[r]) || !ASSERT_EQ(c->out, DECAPPED, rows[r]) ||
		    !ASSERT_OK(case_frames(c, in, &in_len, exp, &exp_len), rows[r]) ||
		    !ASSERT_OK(dst_set(skel, c->outer.dst, 1), "configure outer dst"))
			break;
		/* Below ETH_HLEN the kernel refuses the test run: the program never
		 * sees such frames. */
		for (len = 14; len < in_len; len++) {
			snprintf(desc, sizeof(desc), "%s, cut to %zu of %zu bytes", c->desc, len,
				 in_len);
			if (!run_frame(skel, desc, in, len, in, len, XDP_PASS, 0, 0))
				break;
		}
		/* And the full frame is decapsulated, so the cuts above were not passed
		 * merely because the row never decaps. */
		snprintf(desc, sizeof(desc), "%s, full %zu bytes", c->desc, in_len);
		run_frame(skel, desc, in, in_len, exp, exp_len, XDP_PASS, 1, 0);
		dst_set(skel, c->outer.dst, 0);
	}
	decap_bpf__destroy(skel);
}

/*
 * Random corruption of tunnel frames never gives XDP_ABORTED or XDP_DROP, and
 * a frame that was not decapsulated leaves the program unchanged. Deterministic
 * (fixed seed); bounded to a few hundred runs.
 */
TEST(decap_corrupted_frames_never_abort)
{
	static const char *const rows[] = {
		"v4-in-v4 behind two 802.1Q",
		"outer IPv4 with 4 option bytes",
		"v6-in-v6 behind 802.1ad",
	};
	int prog_fd, iter, bad = 0;
	__u8 in[SL_PKT_MAX], exp[SL_PKT_MAX], out[SL_PKT_MAX + SL_PKT_GROWTH], frame[SL_PKT_MAX];
	struct counters before, after;
	size_t in_len, exp_len, out_len;
	struct decap_bpf *skel;
	__u32 seed = 12345, ret;
	size_t r;

	skel = decap_setup();
	if (!skel)
		return;
	prog_fd = bpf_program__fd(skel->progs.sl_decap);
	for (r = 0; r < sizeof(rows) / sizeof(rows[0]) && !bad; r++) {
		const struct decap_case *c = case_find(rows[r]);

		if (!ASSERT_TRUE(c != NULL, rows[r]) ||
		    !ASSERT_OK(case_frames(c, in, &in_len, exp, &exp_len), rows[r]) ||
		    !ASSERT_OK(dst_set(skel, c->outer.dst, 1), "configure outer dst"))
			break;
		for (iter = 0; iter < 100 && !bad; iter++) {
			int flips = 1 + iter % 3, f;

			memcpy(frame, in, in_len);
			for (f = 0; f < flips; f++) {
				seed = seed * 1103515245u + 12345u;
				/* Mostly the first 80 bytes: that is where the headers are. */
				frame[(seed >> 8) % (iter & 1 ? 80 : in_len)] ^=
					1u << ((seed >> 4) & 7);
			}
			if (counters_read(skel, &before) ||
			    sl_xdp_run(prog_fd, frame, in_len, out, sizeof(out), &out_len, 0,
				       &ret) ||
			    counters_read(skel, &after)) {
				FAILF("%s, corruption %d: test_run or counter read failed", c->desc,
				      iter);
				bad = 1;
				break;
			}
			if (ret != XDP_PASS) {
				FAILF("%s, corruption %d: verdict %u, expected XDP_PASS (%u)",
				      c->desc, iter, ret, XDP_PASS);
				bad = 1;
			} else if (after.c[SL_C_DECAP] == before.c[SL_C_DECAP]) {
				bad = !ASSERT_MEM(out, out_len, frame, in_len,
						  "not decapsulated, so untouched");
			} else if (out_len >= in_len) {
				FAILF("%s, corruption %d: decap counted, %zu bytes in, %zu out",
				      c->desc, iter, in_len, out_len);
				bad = 1;
			}
		}
		dst_set(skel, c->outer.dst, 0);
	}
	decap_bpf__destroy(skel);
}

/* With an xdp_md carrying ingress_ifindex (the wrapper's ctx path) nothing changes. */
TEST(decap_with_ingress_ifindex)
{
	const struct decap_case *c = case_find("v4-in-v4 behind one 802.1Q");
	struct decap_bpf *skel;
	__u32 ifindex;

	ifindex = if_nametoindex("slc0");
	if (!ifindex) {
		sl_test_skip("no slc0 here: run inside tests/bpf/netns.sh");
		return;
	}
	if (!ASSERT_TRUE(c != NULL, "row"))
		return;
	skel = decap_setup();
	if (!skel)
		return;
	run_case(skel, c, ifindex);
	run_case(skel, case_find("v6-in-v6 to an unconfigured"), ifindex);
	decap_bpf__destroy(skel);
}

/* The loaded program's verifier cost, printed for the record; fails only if absent. */
TEST(decap_program_loads)
{
	struct decap_bpf *skel = decap_setup();
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (!skel)
		return;
	if (ASSERT_OK(bpf_obj_get_info_by_fd(bpf_program__fd(skel->progs.sl_decap), &info, &len),
		      "prog info"))
		printf("     sl_decap: %u BPF insns, %u verified insns, %u bytes jited\n",
		       info.xlated_prog_len / 8, info.verified_insns, info.jited_prog_len);
	ASSERT_EQ(bpf_map__max_entries(skel->maps.sl_decap_dst), 64, "sl_decap_dst max_entries");
	ASSERT_EQ(bpf_map__max_entries(skel->maps.sl_dcounters), SL_C__MAX,
		  "sl_dcounters max_entries");
	ASSERT_EQ(bpf_map__max_entries(skel->maps.sl_ddrops), SL_DROP__MAX,
		  "sl_ddrops max_entries");
	decap_bpf__destroy(skel);
}

/* ---- packet toolkit self-tests ------------------------------------------------ */

/*
 * Frames written independently (tests/bpf golden vectors computed once with a
 * separate implementation): the builder must reproduce them byte for byte, so
 * builder and checker cannot share a wrong idea of a checksum.
 */
/* clang-format off */
static const __u8 golden_v4_udp[] = {
	0x02, 0x5c, 0x00, 0x00, 0x00, 0x01, 0x02, 0xc1, 0x00, 0x00, 0x00, 0x02,
	0x81, 0x00, 0x00, 0x64, 0x08, 0x00, 0x45, 0x00, 0x00, 0x21, 0x12, 0x34,
	0x40, 0x00, 0x40, 0x11, 0x1c, 0x61, 0xc6, 0x12, 0x80, 0x07, 0xc6, 0x13,
	0x00, 0x0a, 0x9c, 0x40, 0x00, 0x35, 0x00, 0x0d, 0x2d, 0x0b, 0x00, 0x07,
	0x0e, 0x15, 0x1c,
};
static const __u8 golden_v6_tcp[] = {
	0x02, 0x5c, 0x00, 0x00, 0x01, 0x01, 0x02, 0xbe, 0x00, 0x00, 0x01, 0x02,
	0x86, 0xdd, 0x60, 0x01, 0x23, 0x45, 0x00, 0x1f, 0x3c, 0x40, 0x20, 0x01,
	0x0d, 0xb8, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x07, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x0f, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x06, 0x00, 0x01, 0x04, 0x00, 0x00,
	0x00, 0x00, 0x9c, 0x41, 0x00, 0x50, 0x01, 0x02, 0x03, 0x04, 0x00, 0x00,
	0x00, 0x00, 0x50, 0x02, 0x20, 0x00, 0x83, 0x9c, 0x00, 0x00, 0x01, 0x08,
	0x0f,
};
/* clang-format on */

TEST(decap_pkt_builder_matches_golden_frames)
{
	struct sl_pkt_spec v4 = {
		.eth_src = "02:c1:00:00:00:02",
		.eth_dst = "02:5c:00:00:00:01",
		.vlans = 1,
		.vlan_tci = { 100 },
		.family = 4,
		.src = CLI4,
		.dst = VIP4,
		.ip_id = 0x1234,
		.df = 1,
		.l4 = IPPROTO_UDP,
		.sport = 40000,
		.dport = 53,
		.payload_len = 5,
	};
	struct sl_pkt_spec v6 = {
		.eth_src = BE_MAC,
		.eth_dst = LB_MAC,
		.family = 6,
		.src = CLI6,
		.dst = VIP6,
		.flow_label = 0x12345,
		.n_ext = 1,
		.ext = { { .type = IPPROTO_DSTOPTS } },
		.l4 = IPPROTO_TCP,
		.sport = 40001,
		.dport = 80,
		.seq = 0x01020304,
		.tcp_flags = TH_SYN,
		.payload_len = 3,
		.pattern_seed = 1,
	};
	__u8 buf[SL_PKT_MAX];
	int n;

	n = sl_pkt_build(&v4, buf, sizeof(buf));
	ASSERT_MEM(buf, n < 0 ? 0 : (size_t)n, golden_v4_udp, sizeof(golden_v4_udp),
		   "IPv4 UDP behind a tag");
	ASSERT_OK(sl_pkt_check(golden_v4_udp, sizeof(golden_v4_udp), NULL, 0), "golden v4 check");
	n = sl_pkt_build(&v6, buf, sizeof(buf));
	ASSERT_MEM(buf, n < 0 ? 0 : (size_t)n, golden_v6_tcp, sizeof(golden_v6_tcp),
		   "IPv6 dstopts TCP");
	ASSERT_OK(sl_pkt_check(golden_v6_tcp, sizeof(golden_v6_tcp), NULL, 0), "golden v6 check");
}

/* clang-format off */
/* Specs covering every builder feature, shared by the next tests. */
static const struct sl_pkt_spec toolkit_specs[] = {
	{ .family = 4, .src = CLI4, .dst = VIP4, .l4 = IPPROTO_TCP, .sport = 1, .dport = 2,
	  .tcp_flags = TH_SYN | TH_ACK, .seq = 5, .payload_len = 33 },
	{ .family = 4, .vlans = 2, .vlan_tpid = { 0x88a8 }, .vlan_tci = { 1, 2 }, .src = CLI4,
	  .dst = VIP4, .ip_opt_len = 7, .ttl = 3, .l4 = IPPROTO_UDP, .sport = 3, .dport = 4,
	  .payload_len = 1 },
	{ .family = 4, .src = CLI4, .dst = VIP4, .l4 = IPPROTO_ICMP, .sport = 9, .seq = 1,
	  .payload_len = 64 },
	{ .family = 6, .vlans = 1, .src = CLI6, .dst = VIP6, .l4 = IPPROTO_TCP, .sport = 5,
	  .dport = 6, .payload_len = 1000 },
	{ .family = 6, .src = CLI6, .dst = VIP6, .n_ext = 3,
	  .ext = { { .type = IPPROTO_HOPOPTS }, { .type = IPPROTO_ROUTING, .len = 2 },
		   { .type = IPPROTO_DSTOPTS, .len = 1 } },
	  .l4 = IPPROTO_UDP, .sport = 7, .dport = 8, .payload_len = 17 },
	{ .family = 6, .src = CLI6, .dst = VIP6, .l4 = IPPROTO_ICMPV6, .sport = 1, .seq = 2,
	  .payload_len = 8 },
	/* A v6 fragment header with offset 0 and M clear is an atomic fragment: checkable. */
	{ .family = 6, .src = CLI6, .dst = VIP6, .n_ext = 1,
	  .ext = { { .type = IPPROTO_FRAGMENT, .frag_id = 77 } }, .l4 = IPPROTO_TCP,
	  .payload_len = 3 },
};
/* clang-format on */

/* Every builder frame passes the checker; one flipped payload byte fails it. */
TEST(decap_pkt_checker_accepts_builder_and_catches_a_flip)
{
	__u8 buf[SL_PKT_MAX], ip[SL_PKT_MAX];
	char why[160], what[200];
	size_t i;
	int n, m;

	for (i = 0; i < sizeof(toolkit_specs) / sizeof(toolkit_specs[0]); i++) {
		struct sl_pkt_spec s = toolkit_specs[i];

		n = sl_pkt_build(&s, buf, sizeof(buf));
		snprintf(what, sizeof(what), "spec %zu: build", i);
		if (!ASSERT_TRUE(n > 0, what))
			continue;
		if (sl_pkt_check(buf, (size_t)n, why, sizeof(why)))
			FAILF("spec %zu: valid frame rejected: %s", i, why);
		buf[n - 1] ^= 0x01; /* last payload byte */
		snprintf(what, sizeof(what), "spec %zu: flipped payload byte detected", i);
		ASSERT_EQ(sl_pkt_check(buf, (size_t)n, why, sizeof(why)), -EBADMSG, what);

		/* The same packet tunnelled: outer and inner both valid, and a flipped
		 * inner payload byte is caught (the outer has no checksum over it). */
		m = sl_pkt_build_ip(&s, ip, sizeof(ip));
		s = (struct sl_pkt_spec){ .family = s.family,
					  .src = s.family == 4 ? LB4 : LB6,
					  .dst = s.family == 4 ? BE4 : BE6,
					  .l4 = s.family == 4 ? IPPROTO_IPIP : IPPROTO_IPV6,
					  .payload = ip,
					  .payload_len = (size_t)m };
		n = sl_pkt_build(&s, buf, sizeof(buf));
		snprintf(what, sizeof(what), "spec %zu: build tunnel", i);
		if (!ASSERT_TRUE(m > 0 && n > 0, what))
			continue;
		if (sl_pkt_check(buf, (size_t)n, why, sizeof(why)))
			FAILF("spec %zu tunnelled: valid frame rejected: %s", i, why);
		buf[n - 1] ^= 0x80;
		snprintf(what, sizeof(what), "spec %zu tunnelled: flipped inner byte detected", i);
		if (ASSERT_EQ(sl_pkt_check(buf, (size_t)n, why, sizeof(why)), -EBADMSG, what))
			ASSERT_TRUE(!strncmp(why, "inner ", 6), "the inner layer is blamed");
	}
}

/* IPv4 header checksums are checked, outer and inner; UDP 0 only over IPv4. */
TEST(decap_pkt_checker_header_and_udp_zero)
{
	struct sl_pkt_spec s = { .family = 4,
				 .src = CLI4,
				 .dst = VIP4,
				 .l4 = IPPROTO_UDP,
				 .udp_csum_zero = 1,
				 .payload_len = 9 };
	const struct decap_case *c = case_find("v4-in-v4 TCP, outer DF");
	size_t l2 = 14, len, exp_len;
	__u8 buf[SL_PKT_MAX], exp[SL_PKT_MAX];
	char why[160];
	int n;

	n = sl_pkt_build(&s, buf, sizeof(buf));
	if (!ASSERT_TRUE(n > 0, "build"))
		return;
	ASSERT_EQ(buf[l2 + 26] | buf[l2 + 27], 0, "UDP checksum left 0");
	ASSERT_OK(sl_pkt_check(buf, (size_t)n, why, sizeof(why)), "IPv4 UDP checksum 0 accepted");
	buf[l2 + 8] ^= 1; /* TTL */
	ASSERT_EQ(sl_pkt_check(buf, (size_t)n, why, sizeof(why)), -EBADMSG, "TTL flip detected");
	ASSERT_TRUE(strstr(why, "outer IPv4 header checksum") != NULL, why);

	s.family = 6;
	s.src = CLI6;
	s.dst = VIP6;
	n = sl_pkt_build(&s, buf, sizeof(buf));
	if (!ASSERT_TRUE(n > 0, "build v6"))
		return;
	ASSERT_TRUE(buf[l2 + 46] | buf[l2 + 47], "IPv6 UDP checksum computed despite the flag");
	buf[l2 + 46] = buf[l2 + 47] = 0;
	ASSERT_EQ(sl_pkt_check(buf, (size_t)n, why, sizeof(why)), -EBADMSG,
		  "IPv6 UDP checksum 0 rejected");

	/* Inner IPv4 header of a tunnel: flip its TTL. */
	if (!ASSERT_TRUE(c != NULL, "row") ||
	    !ASSERT_OK(case_frames(c, buf, &len, exp, &exp_len), "tunnel frame"))
		return;
	buf[l2 + 20 + 8] ^= 1;
	ASSERT_EQ(sl_pkt_check(buf, len, why, sizeof(why)), -EBADMSG, "inner TTL flip detected");
	ASSERT_TRUE(strstr(why, "inner IPv4 header checksum") != NULL, why);
}

/* The parser reports tags, both IP layers, ports and TTLs at the right offsets. */
TEST(decap_pkt_parser_view)
{
	const struct decap_case *c = case_find("v6-in-v6 behind 802.1ad");
	__u8 in[SL_PKT_MAX], exp[SL_PKT_MAX];
	size_t in_len, exp_len;
	struct sl_pkt_view v;

	if (!ASSERT_TRUE(c != NULL, "row") ||
	    !ASSERT_OK(case_frames(c, in, &in_len, exp, &exp_len), "frames") ||
	    !ASSERT_OK(sl_pkt_parse(in, in_len, &v), "parse tunnel"))
		return;
	ASSERT_EQ(v.vlans, 2, "vlans");
	ASSERT_EQ(v.vlan_tpid[0], 0x88a8, "outer TPID");
	ASSERT_EQ(v.vlan_tci[0], 10, "outer TCI");
	ASSERT_EQ(v.vlan_tpid[1], 0x8100, "inner TPID");
	ASSERT_EQ(v.vlan_tci[1], 20, "inner TCI");
	ASSERT_EQ(v.eth_proto, 0x86dd, "EtherType");
	ASSERT_EQ(v.l2_len, 22, "l2_len");
	ASSERT_EQ(v.eth_src[5], 0x01, "eth src");
	ASSERT_EQ(v.eth_dst[5], 0x02, "eth dst");
	ASSERT_EQ(v.tunnel, 1, "tunnel");
	ASSERT_EQ(v.outer.family, 6, "outer family");
	ASSERT_EQ(v.outer.off, 22, "outer offset");
	ASSERT_EQ(v.outer.proto, IPPROTO_IPV6, "outer proto");
	ASSERT_EQ(v.outer.ttl, 64, "outer hop limit");
	ASSERT_TRUE(!strcmp(v.outer.dst, BE6), v.outer.dst);
	ASSERT_TRUE(!strcmp(v.outer.src, LB6), v.outer.src);
	ASSERT_EQ(v.inner.off, 62, "inner offset");
	ASSERT_EQ(v.inner.proto, IPPROTO_TCP, "inner proto");
	ASSERT_EQ(v.inner.ttl, 63, "inner hop limit");
	ASSERT_TRUE(!strcmp(v.inner.src, CLI6), v.inner.src);
	ASSERT_TRUE(!strcmp(v.inner.dst, VIP6), v.inner.dst);
	ASSERT_EQ(v.inner.sport, 40002, "inner sport");
	ASSERT_EQ(v.inner.dport, 443, "inner dport");
	ASSERT_EQ(v.inner.seq, 0x10203040, "inner seq");
	ASSERT_EQ(v.inner.tcp_flags, TH_ACK, "inner flags");
	ASSERT_EQ(v.inner.payload_off, 62 + 40 + 20, "inner payload offset");
	ASSERT_EQ(in_len, 62 + 40 + 20 + 100, "frame length");

	/* The decapsulated form: no tunnel, the inner packet right after the tags. */
	if (!ASSERT_OK(sl_pkt_parse(exp, exp_len, &v), "parse decapsulated"))
		return;
	ASSERT_EQ(v.tunnel, 0, "decapsulated: tunnel");
	ASSERT_EQ(v.outer.off, 22, "decapsulated: IP offset");
	ASSERT_TRUE(!strcmp(v.outer.dst, VIP6), v.outer.dst);

	/* IPv4 options and fragment flags. */
	c = case_find("outer IPv4 first fragment");
	if (!ASSERT_TRUE(c != NULL, "row") ||
	    !ASSERT_OK(case_frames(c, in, &in_len, exp, &exp_len), "frames") ||
	    !ASSERT_OK(sl_pkt_parse(in, in_len, &v), "parse fragment"))
		return;
	ASSERT_EQ(v.outer.is_frag, 1, "MF: fragment");
	ASSERT_EQ(v.outer.first_frag, 1, "MF: first fragment");
	ASSERT_EQ(v.tunnel, 0, "a fragment's inner packet is not parsed");
	c = case_find("outer IPv4 with 40 option bytes");
	if (!ASSERT_TRUE(c != NULL, "row") ||
	    !ASSERT_OK(case_frames(c, in, &in_len, exp, &exp_len), "frames") ||
	    !ASSERT_OK(sl_pkt_parse(in, in_len, &v), "parse options"))
		return;
	ASSERT_EQ(v.outer.hdr_len, 60, "ihl 15");
	ASSERT_EQ(v.inner.off, 18 + 60, "inner after the options");
	ASSERT_EQ(v.inner.proto, IPPROTO_UDP, "inner proto");
}

/* ICMP "frag needed" / "packet too big": type, code, MTU, quote, checksums. */
TEST(decap_pkt_icmp_too_big)
{
	static const struct {
		int family;
		const struct sl_pkt_spec *quoted;
		__u32 mtu;
		__u8 type, code;
	} rows[] = {
		{ 4, &in4_tcp, 1400, 3, 4 },
		{ 6, &in6_tcp, 1280, 2, 0 },
	};
	__u8 quote[SL_PKT_MAX], buf[SL_PKT_MAX];
	struct sl_pkt_view v;
	char why[160];
	size_t i;
	int q, n;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct sl_pkt_spec s = { L2_BE, .family = rows[i].family,
					 .src = rows[i].family == 4 ? "198.18.0.2" : "2001:db8::2",
					 .dst = rows[i].family == 4 ? VIP4 : VIP6, .df = 1 };

		q = sl_pkt_build_ip(rows[i].quoted, quote, sizeof(quote));
		if (!ASSERT_TRUE(q > 0, "quote"))
			return;
		q = q > 60 ? 60 : q; /* a truncated quote, as routers send */
		n = sl_pkt_build_icmp_too_big(&s, rows[i].mtu, quote, (size_t)q, buf, sizeof(buf));
		if (!ASSERT_TRUE(n > 0, "build") ||
		    !ASSERT_OK(sl_pkt_parse(buf, (size_t)n, &v), "parse"))
			return;
		if (sl_pkt_check(buf, (size_t)n, why, sizeof(why)))
			FAILF("family %d: ICMP error rejected: %s", rows[i].family, why);
		ASSERT_EQ(v.outer.proto, rows[i].family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6,
			  "proto");
		ASSERT_EQ(v.outer.icmp_type, rows[i].type, "type");
		ASSERT_EQ(v.outer.icmp_code, rows[i].code, "code");
		ASSERT_EQ((size_t)n, v.outer.payload_off + (size_t)q, "length");
		if (rows[i].family == 4)
			ASSERT_EQ(buf[v.outer.l4_off + 6] << 8 | buf[v.outer.l4_off + 7],
				  rows[i].mtu, "next-hop MTU");
		else
			ASSERT_EQ((__u32)buf[v.outer.l4_off + 4] << 24 |
					  buf[v.outer.l4_off + 5] << 16 |
					  buf[v.outer.l4_off + 6] << 8 | buf[v.outer.l4_off + 7],
				  rows[i].mtu, "MTU");
		ASSERT_MEM(buf + v.outer.payload_off, (size_t)q, quote, (size_t)q, "quote");
		buf[n - 1] ^= 4;
		ASSERT_EQ(sl_pkt_check(buf, (size_t)n, why, sizeof(why)), -EBADMSG,
			  "flipped quote byte detected");
	}
}

/* The builder refuses what it cannot write rather than writing something else. */
TEST(decap_pkt_builder_refuses_bad_specs)
{
	struct sl_pkt_spec s = { .family = 4, .src = CLI4, .dst = VIP4, .l4 = IPPROTO_TCP };
	__u8 buf[SL_PKT_MAX];

	ASSERT_EQ(sl_pkt_build(&s, buf, 40), -ENOSPC, "too small a buffer");
	s.dst = "198.18.0.300";
	ASSERT_EQ(sl_pkt_build(&s, buf, sizeof(buf)), -EINVAL, "bad address");
	s.dst = VIP6;
	ASSERT_EQ(sl_pkt_build(&s, buf, sizeof(buf)), -EINVAL, "IPv6 address in an IPv4 spec");
	s.dst = VIP4;
	s.ip_opt_len = 41;
	ASSERT_EQ(sl_pkt_build(&s, buf, sizeof(buf)), -EINVAL, "41 option bytes");
	s.ip_opt_len = 0;
	s.l4 = IPPROTO_ICMPV6;
	ASSERT_EQ(sl_pkt_build(&s, buf, sizeof(buf)), -EINVAL, "ICMPv6 over IPv4");
	s.l4 = IPPROTO_TCP;
	s.vlans = 3;
	ASSERT_EQ(sl_pkt_build(&s, buf, sizeof(buf)), -EINVAL, "three VLAN tags");
	s.vlans = 0;
	s.eth_src = "02:00:00:00:00";
	ASSERT_EQ(sl_pkt_build(&s, buf, sizeof(buf)), -EINVAL, "short MAC");
}
