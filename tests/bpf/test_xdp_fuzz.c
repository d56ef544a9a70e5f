// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Robustness of the real xdp_lb object against any input bytes:
 *  - every fixture frame cut at every length,
 *  - 100,000 random and mutated frames (seed in SL_FUZZ_SEED, printed),
 * with VIPs of every forwarding mode, a NAT VIP with live reply state, an L7
 * VIP and rate limits configured. Properties: the verdict is never
 * XDP_ABORTED (nor outside the XDP verdicts), and a frame that carries no VIP
 * or backend address anywhere comes out XDP_PASS and byte-for-byte unchanged.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/libbpf.h>

#include "harness.h"
#include "lb.h"
#include "pkt.h"

#define VIP4 "198.19.0.10"
#define VIP6 "2001:db8:f::10"
#define N_RANDOM 100000

static __u8 frame[SL_PKT_MAX], out[SL_PKT_MAX + 64];
static __u8 vip4[4], vip6[16];
static __u8 be4[8][4], be6[8][16];

static __u64 rng_state;

static __u32 rnd(void)
{
	/* xorshift64*: reproducible from the printed seed */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (__u32)((rng_state * 0x2545F4914F6CDD1Dull) >> 32);
}

static int setup_lab(struct lb *lb)
{
	struct sl_cfg cfg = {};
	__u32 zero = 0, ids[3] = { 0, 1, 2 }, ids6[2] = { 10, 11 };
	__u8 fam;
	__be32 a[4];
	int err = 0, i;

	err |= lb_vip(lb, 1, VIP4, 80, IPPROTO_TCP, SL_STRAT_RR, SL_FWD_DSR, 0);
	err |= lb_vip(lb, 2, VIP4, 53, IPPROTO_UDP, SL_STRAT_WRR, SL_FWD_NAT, 0);
	err |= lb_vip(lb, 3, VIP6, 80, IPPROTO_TCP, SL_STRAT_MAGLEV, SL_FWD_IPIP, 0);
	err |= lb_vip(lb, 4, VIP6, 443, IPPROTO_TCP, SL_STRAT_RR, SL_FWD_NAT, SL_VIP_L7);
	err |= lb_vip(lb, 5, VIP4, 8443, IPPROTO_TCP, SL_STRAT_LEASTCONN, SL_FWD_NAT, 0);
	err |= lb_vip(lb, 6, VIP6, 53, IPPROTO_UDP, SL_STRAT_RANDOM, SL_FWD_IPIP, 0);
	for (i = 0; i < 3; i++) {
		char b[32];

		snprintf(b, sizeof(b), "198.18.1.%d", 2 + i);
		err |= lb_backend(lb, i, b, 8080, 1 + i, 1, 0, 1);
	}
	err |= lb_backend(lb, 10, "2001:db8:1::2", 0, 1, 3, 0, 1);
	err |= lb_backend(lb, 11, "2001:db8:1::3", 0, 2, 3, 0, 1);
	err |= lb_group(lb, 1, ids, 3);
	err |= lb_group(lb, 2, ids, 3);
	err |= lb_group(lb, 5, ids, 3);
	err |= lb_group(lb, 3, ids6, 2);
	err |= lb_group(lb, 6, ids6, 2);
	err |= lb_vip_limits(lb, VIP4, 8443, IPPROTO_TCP, 1000, 50, 100000, 1000);
	err |= lb_vip_limits(lb, VIP6, 443, IPPROTO_TCP, 1000, 50, 0, 0);
	sl_pkt_addr("198.18.255.0", a, &fam);
	cfg.ipip_src4 = a[0];
	cfg.ipip_src4_len = 24;
	sl_pkt_addr("2001:db8:ffff::", cfg.ipip_src6, &fam);
	cfg.ipip_src6_len = 112;
	cfg.nat_vips = 3;
	err |= bpf_map__update_elem(lb->skel->maps.sl_cfg, &zero, 4, &cfg, sizeof(cfg), 0);

	inet_pton(AF_INET, VIP4, vip4);
	inet_pton(AF_INET6, VIP6, vip6);
	for (i = 0; i < 8; i++) {
		char b[64];

		snprintf(b, sizeof(b), "198.18.1.%d", 2 + i);
		inet_pton(AF_INET, b, be4[i]);
		snprintf(b, sizeof(b), "2001:db8:1::%d", 2 + i);
		inet_pton(AF_INET6, b, be6[i]);
	}
	if (err)
		FAILF("setting up the fuzz lab failed");
	return err;
}

static int contains(const __u8 *f, size_t len, const __u8 *pat, size_t plen)
{
	size_t i;

	for (i = 0; i + plen <= len; i++)
		if (!memcmp(f + i, pat, plen))
			return 1;
	return 0;
}

/* Could the program legitimately touch this frame? (VIP or backend address in it.) */
static int ours(const __u8 *f, size_t len)
{
	int i;

	if (contains(f, len, vip4, 4) || contains(f, len, vip6, 16))
		return 1;
	for (i = 0; i < 8; i++)
		if (contains(f, len, be4[i], 4) || contains(f, len, be6[i], 16))
			return 1;
	return 0;
}

static void hexdump(const __u8 *f, size_t len)
{
	size_t i;

	for (i = 0; i < len && i < 96; i++)
		fprintf(stderr, "%02x%s", f[i], (i + 1) % 32 ? "" : "\n");
	fprintf(stderr, "\n");
}

/* Run one frame; check the properties. Returns 0 if fine. */
static int probe(struct lb *lb, const __u8 *f, size_t len, const char *what)
{
	__u32 verdict = 0;
	size_t olen = 0;
	int err;

	err = lb_run(lb, f, len, out, &olen, &verdict);
	if (len < 14) { /* the kernel refuses frames shorter than Ethernet */
		if (err == -EINVAL)
			return 0;
		FAILF("%s: %zu-byte frame: %d, expected -EINVAL", what, len, err);
		return -1;
	}
	if (err) {
		FAILF("%s: test_run failed: %d", what, err);
		return -1;
	}
	if (verdict == XDP_ABORTED || verdict > XDP_REDIRECT) {
		FAILF("%s: verdict %u for a %zu-byte frame:", what, verdict, len);
		hexdump(f, len);
		return -1;
	}
	if (!ours(f, len) && (verdict != XDP_PASS || olen != len || memcmp(out, f, len))) {
		FAILF("%s: a frame with no VIP or backend address was changed (verdict %u):",
		      what, verdict);
		hexdump(f, len);
		return -1;
	}
	return 0;
}

static int fixture(int i, __u8 *buf, size_t cap)
{
	struct sl_pkt_spec s;
	static __u8 q[SL_PKT_MAX];
	int qlen;

	memset(&s, 0, sizeof(s));
	s.family = 4;
	s.src = "198.18.200.1";
	s.dst = VIP4;
	s.l4 = IPPROTO_TCP;
	s.sport = 1000 + i;
	s.dport = 80;
	s.tcp_flags = 0x02;
	s.payload_len = 40;
	switch (i) {
	case 0:
		break;
	case 1:
		s.l4 = IPPROTO_UDP, s.dport = 53;
		break;
	case 2:
		s.family = 6, s.src = "2001:db8:c::1", s.dst = VIP6;
		s.n_ext = 3, s.ext[0].type = 0, s.ext[1].type = 43, s.ext[2].type = 60;
		break;
	case 3:
		s.vlans = 2, s.vlan_tpid[0] = 0x88a8, s.vlan_tci[0] = 10, s.vlan_tci[1] = 20;
		break;
	case 4:
		s.ip_opt_len = 12, s.dport = 8443;
		break;
	case 5: /* NAT reply */
		s.src = "198.18.1.2", s.sport = 8080, s.dst = "198.18.200.1", s.dport = 1001;
		s.l4 = IPPROTO_UDP;
		break;
	case 6:
		s.mf = 1;
		break;
	case 7:
		s.family = 6, s.src = "2001:db8:c::1", s.dst = VIP6, s.l4 = IPPROTO_UDP;
		s.dport = 53, s.n_ext = 1, s.ext[0].type = 44, s.ext[0].frag_off = 3;
		break;
	case 8:
		s.family = 6, s.src = "2001:db8:c::1", s.dst = VIP6, s.dport = 443;
		break;
	case 9:
		s.dst = "198.18.9.9";
		break;
	case 10:
		s.family = 6, s.src = "2001:db8:c::1", s.dst = "2001:db8::99", s.l4 = IPPROTO_ICMPV6;
		break;
	case 11:
	case 12: { /* PMTU errors quoting VIP flows */
		struct sl_pkt_spec in = s;
		int fam = i == 11 ? 4 : 6;

		in.family = fam;
		in.src = fam == 4 ? VIP4 : VIP6;
		in.dst = fam == 4 ? "198.18.200.1" : "2001:db8:c::1";
		in.sport = 80;
		in.dport = 1000;
		in.payload_len = 200;
		qlen = sl_pkt_build_ip(&in, q, sizeof(q));
		s.family = fam;
		s.src = fam == 4 ? "198.18.0.2" : "2001:db8::2";
		s.dst = in.src;
		return sl_pkt_build_icmp_too_big(&s, 1280, q, qlen, buf, cap);
	}
	default:
		return -1;
	}
	return sl_pkt_build(&s, buf, cap);
}

#define N_FIXTURES 13

/* Prime the tables so flows, NAT replies and ICMP errors find state. */
static void prime(struct lb *lb)
{
	__u8 tmp[SL_PKT_MAX];
	size_t olen;
	__u32 v;
	int i, len;

	for (i = 0; i < N_FIXTURES; i++) {
		len = fixture(i, tmp, sizeof(tmp));
		if (len > 0)
			lb_run(lb, tmp, len, out, &olen, &v);
	}
	{
		struct sl_pkt_spec s;

		memset(&s, 0, sizeof(s));
		s.family = 4, s.src = "198.18.200.1", s.dst = VIP4, s.l4 = IPPROTO_UDP;
		s.sport = 1001, s.dport = 53;
		len = sl_pkt_build(&s, tmp, sizeof(tmp));
		lb_run(lb, tmp, len, out, &olen, &v);
	}
}

TEST(fuzz_every_fixture_cut_at_every_length_never_aborts)
{
	struct lb lb;
	int i, bad = 0;

	if (lb_open(&lb, NULL)) {
		FAILF("loading xdp_lb");
		return;
	}
	if (setup_lab(&lb))
		goto out;
	prime(&lb);
	for (i = 0; i < N_FIXTURES && !bad; i++) {
		int len = fixture(i, frame, sizeof(frame)), cut;
		char what[64];

		if (!ASSERT_TRUE(len > 0, "fixture builds"))
			break;
		for (cut = 0; cut <= len && !bad; cut++) {
			snprintf(what, sizeof(what), "fixture %d cut at %d", i, cut);
			bad = probe(&lb, frame, cut, what);
		}
	}
out:
	lb_close(&lb);
}

/* A random spec, built, then 0-3 bytes mutated. */
static size_t random_frame(void)
{
	static const char *dst4[] = { VIP4, "198.18.9.9", "198.18.200.1", "198.18.1.2" };
	static const char *dst6[] = { VIP6, "2001:db8::99", "2001:db8:c::1", "2001:db8:1::2" };
	static const __u16 ports[] = { 80, 53, 443, 8443, 8080, 1001 };
	static const __u8 l4s[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6, 4, 41, 47 };
	struct sl_pkt_spec s;
	int len, i, n;

	if (rnd() % 4 == 0) { /* raw noise behind a plausible EtherType */
		static const __u16 types[] = { 0x0800, 0x86dd, 0x8100, 0x88a8, 0x0806 };

		len = 14 + rnd() % 200;
		for (i = 0; i < len; i++)
			frame[i] = rnd();
		frame[12] = types[rnd() % 5] >> 8;
		frame[13] = types[rnd() % 5] & 0xff;
		if (rnd() % 2)
			frame[14] = (frame[12] == 0x86 ? 0x60 : 0x45) | (frame[14] & 0x0f);
		return len;
	}
	memset(&s, 0, sizeof(s));
	s.family = rnd() % 2 ? 4 : 6;
	s.src = s.family == 4 ? dst4[rnd() % 4] : dst6[rnd() % 4];
	s.dst = s.family == 4 ? dst4[rnd() % 4] : dst6[rnd() % 4];
	s.l4 = l4s[rnd() % 7];
	if (s.l4 == IPPROTO_ICMP && s.family == 6)
		s.l4 = IPPROTO_ICMPV6;
	if (s.l4 == IPPROTO_ICMPV6 && s.family == 4)
		s.l4 = IPPROTO_ICMP;
	s.sport = ports[rnd() % 6];
	s.dport = ports[rnd() % 6];
	s.tcp_flags = rnd();
	s.vlans = rnd() % 3;
	s.ip_opt_len = s.family == 4 && rnd() % 4 == 0 ? 4 * (rnd() % 11) : 0;
	s.mf = s.family == 4 && rnd() % 8 == 0;
	s.frag_off = s.family == 4 && rnd() % 8 == 0 ? rnd() % 100 : 0;
	if (s.family == 6 && rnd() % 3 == 0) {
		static const __u8 ext[] = { 0, 43, 60, 44 };

		s.n_ext = 1 + rnd() % 4;
		for (i = 0; i < s.n_ext; i++) {
			s.ext[i].type = ext[rnd() % 4];
			s.ext[i].len = rnd() % 3;
			s.ext[i].frag_off = rnd() % 2 ? rnd() % 50 : 0;
			s.ext[i].more = rnd() % 2;
		}
	}
	s.payload_len = rnd() % 300;
	len = sl_pkt_build(&s, frame, sizeof(frame));
	if (len <= 0)
		return 0;
	n = rnd() % 4;
	for (i = 0; i < n; i++)
		frame[rnd() % len] ^= 1u << (rnd() % 8);
	if (rnd() % 8 == 0)
		len = 14 + rnd() % (len - 13);
	return len;
}

TEST(fuzz_random_and_mutated_frames_never_abort)
{
	const char *env = getenv("SL_FUZZ_SEED");
	__u64 seed = env ? strtoull(env, NULL, 0) : 0x5171cef00dull;
	struct lb lb;
	int i, ran = 0;

	rng_state = seed ? seed : 1;
	printf("     seed %#llx (set SL_FUZZ_SEED to reproduce)\n", (unsigned long long)seed);
	if (lb_open(&lb, NULL)) {
		FAILF("loading xdp_lb");
		return;
	}
	if (setup_lab(&lb))
		goto out;
	prime(&lb);
	for (i = 0; ran < N_RANDOM && i < 2 * N_RANDOM; i++) {
		size_t len = random_frame();
		char what[48];

		if (!len)
			continue;
		snprintf(what, sizeof(what), "random frame %d", i);
		if (probe(&lb, frame, len, what))
			break;
		ran++;
	}
	ASSERT_EQ(ran, N_RANDOM, "random frames run");
	printf("     %d frames\n", ran);
out:
	lb_close(&lb);
}
