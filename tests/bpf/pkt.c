// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Packet toolkit for the BPF program tests: see pkt.h. Everything here is
 * plain byte writing with explicit offsets, so a fixture's expected bytes never
 * depend on the code under test. The checker computes each checksum in one
 * pass over a freshly assembled buffer (pseudo-header + segment) with its own
 * summing routine, separate from the builder's.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "pkt.h"

#define ETH_HLEN_ 14
#define VLAN_HLEN_ 4
#define IP4_HLEN 20
#define IP6_HLEN 40
#define TCP_HLEN 20
#define UDP_HLEN 8
#define ICMP_HLEN 8

#define ETHERTYPE_IP4 0x0800
#define ETHERTYPE_IP6 0x86dd
#define ETHERTYPE_8021Q 0x8100
#define ETHERTYPE_8021AD 0x88a8

/* ---- small byte writers ------------------------------------------------ */

static void put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put32(__u8 *p, __u32 v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static __u16 get16(const __u8 *p)
{
	return (__u16)(p[0] << 8 | p[1]);
}

static __u32 get32(const __u8 *p)
{
	return (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3];
}

/* ---- builder ------------------------------------------------------------ */

/* Builder's checksum: a running 32-bit sum of big-endian 16-bit words. */
static __u32 b_sum(__u32 sum, const __u8 *p, size_t n)
{
	while (n > 1) {
		sum += get16(p);
		if (sum & 0x80000000u)
			sum = (sum & 0xffff) + (sum >> 16);
		p += 2;
		n -= 2;
	}
	if (n)
		sum += (__u32)p[0] << 8;
	return sum;
}

static __u16 b_fold(__u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

int sl_pkt_mac(const char *text, __u8 mac[6])
{
	unsigned int b[6];
	char tail;
	int i;

	if (!text || sscanf(text, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
			    &tail) != 6)
		return -EINVAL;
	for (i = 0; i < 6; i++) {
		if (b[i] > 0xff)
			return -EINVAL;
		mac[i] = b[i];
	}
	return 0;
}

int sl_pkt_addr(const char *text, __be32 addr[4], __u8 *family)
{
	__u8 raw[16] = {};

	if (!text)
		return -EINVAL;
	if (inet_pton(AF_INET, text, raw) == 1)
		*family = 4;
	else if (inet_pton(AF_INET6, text, raw) == 1)
		*family = 6;
	else
		return -EINVAL;
	memcpy(addr, raw, 16);
	return 0;
}

/* What follows the IP header(s): the L4 header kind and the bytes after it. */
struct l4_plan {
	__u8 proto;	  /* IP protocol number written in the chain */
	size_t hlen;	  /* L4 header bytes the builder writes */
	const __u8 *data; /* payload (NULL: pattern) */
	size_t data_len;
	int too_big; /* ICMP error: frag needed / packet too big */
	__u32 mtu;
};

static size_t ext_size(const struct sl_pkt_ext *e)
{
	return e->type == IPPROTO_FRAGMENT ? 8 : ((size_t)e->len + 1) * 8;
}

static int build_ip(const struct sl_pkt_spec *s, const struct l4_plan *l4, __u8 *buf, size_t cap)
{
	size_t opt_len = ((size_t)s->ip_opt_len + 3) & ~(size_t)3;
	size_t hdr_len, l4_len, tot_len, off, i;
	__u8 saddr[16], daddr[16], ph[40];
	__u8 *l4p, next;
	__u32 sum;
	int k;

	if (s->family != 4 && s->family != 6)
		return -EINVAL;
	if (inet_pton(s->family == 4 ? AF_INET : AF_INET6, s->src ? s->src : "", saddr) != 1 ||
	    inet_pton(s->family == 4 ? AF_INET : AF_INET6, s->dst ? s->dst : "", daddr) != 1)
		return -EINVAL;
	if (s->family == 4) {
		if (opt_len > SL_PKT_IP4_OPT_MAX || s->n_ext)
			return -EINVAL;
		hdr_len = IP4_HLEN + opt_len;
	} else {
		if (s->ip_opt_len || s->n_ext < 0 || s->n_ext > SL_PKT_MAX_EXTS)
			return -EINVAL;
		hdr_len = IP6_HLEN;
		for (k = 0; k < s->n_ext; k++) {
			__u8 t = s->ext[k].type;

			if (t != IPPROTO_HOPOPTS && t != IPPROTO_ROUTING && t != IPPROTO_DSTOPTS &&
			    t != IPPROTO_FRAGMENT)
				return -EINVAL;
			/* Hop-by-hop is only allowed first (RFC 8200 4.1). */
			if (t == IPPROTO_HOPOPTS && k)
				return -EINVAL;
			hdr_len += ext_size(&s->ext[k]);
		}
	}
	if ((l4->proto == IPPROTO_ICMP && s->family != 4) ||
	    (l4->proto == IPPROTO_ICMPV6 && s->family != 6))
		return -EINVAL;
	l4_len = l4->hlen + l4->data_len;
	tot_len = hdr_len + l4_len;
	if (s->family == 4 ? tot_len > 0xffff : tot_len - IP6_HLEN > 0xffff)
		return -EINVAL;
	if (tot_len > cap)
		return -ENOSPC;
	memset(buf, 0, tot_len);

	/* L4 header and payload first: the IP header does not depend on them. */
	l4p = buf + hdr_len;
	if (l4->data)
		memcpy(l4p + l4->hlen, l4->data, l4->data_len);
	else
		for (i = 0; i < l4->data_len; i++)
			l4p[l4->hlen + i] = (__u8)(s->pattern_seed + i * 7);
	switch (l4->hlen ? l4->proto : 0) {
	case IPPROTO_TCP:
		put16(l4p, s->sport);
		put16(l4p + 2, s->dport);
		put32(l4p + 4, s->seq);
		put32(l4p + 8, s->tcp_flags & 0x10 ? 1 : 0); /* ack */
		l4p[12] = (TCP_HLEN / 4) << 4;
		l4p[13] = s->tcp_flags;
		put16(l4p + 14, 8192); /* window */
		break;
	case IPPROTO_UDP:
		put16(l4p, s->sport);
		put16(l4p + 2, s->dport);
		put16(l4p + 4, (__u16)l4_len);
		break;
	case IPPROTO_ICMP:
		if (l4->too_big) {
			l4p[0] = 3; /* destination unreachable */
			l4p[1] = 4; /* fragmentation needed and DF set */
			put16(l4p + 6, (__u16)l4->mtu);
		} else {
			l4p[0] = 8; /* echo request */
			put16(l4p + 4, s->sport);
			put16(l4p + 6, (__u16)s->seq);
		}
		break;
	case IPPROTO_ICMPV6:
		if (l4->too_big) {
			l4p[0] = 2; /* packet too big */
			put32(l4p + 4, l4->mtu);
		} else {
			l4p[0] = 128; /* echo request */
			put16(l4p + 4, s->sport);
			put16(l4p + 6, (__u16)s->seq);
		}
		break;
	}

	/* L4 checksum over the pseudo-header (not for ICMPv4) and the segment. */
	sum = 0;
	if (l4->proto != IPPROTO_ICMP) {
		if (s->family == 4) {
			memcpy(ph, saddr, 4);
			memcpy(ph + 4, daddr, 4);
			ph[8] = 0;
			ph[9] = l4->proto;
			put16(ph + 10, (__u16)l4_len);
			sum = b_sum(0, ph, 12);
		} else {
			memcpy(ph, saddr, 16);
			memcpy(ph + 16, daddr, 16);
			put32(ph + 32, (__u32)l4_len);
			ph[36] = ph[37] = ph[38] = 0;
			ph[39] = l4->proto;
			sum = b_sum(0, ph, 40);
		}
	}
	switch (l4->hlen ? l4->proto : 0) {
	case IPPROTO_TCP:
		put16(l4p + 16, b_fold(b_sum(sum, l4p, l4_len)));
		break;
	case IPPROTO_UDP:
		if (s->family == 4 && s->udp_csum_zero)
			break;
		sum = b_fold(b_sum(sum, l4p, l4_len));
		put16(l4p + 6, sum ? sum : 0xffff);
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		put16(l4p + 2, b_fold(b_sum(sum, l4p, l4_len)));
		break;
	}

	if (s->family == 4) {
		buf[0] = 0x40 | (__u8)(hdr_len / 4);
		buf[1] = s->tos;
		put16(buf + 2, (__u16)tot_len);
		put16(buf + 4, s->ip_id);
		put16(buf + 6,
		      (s->df ? 0x4000 : 0) | (s->mf ? 0x2000 : 0) | (s->frag_off & 0x1fff));
		buf[8] = s->ttl ? s->ttl : 64;
		buf[9] = l4->proto;
		memcpy(buf + 12, saddr, 4);
		memcpy(buf + 16, daddr, 4);
		/* Options: NOPs, then End of Option List padding to a 4-byte boundary. */
		memset(buf + IP4_HLEN, 1, s->ip_opt_len);
		memset(buf + IP4_HLEN + s->ip_opt_len, 0, opt_len - s->ip_opt_len);
		put16(buf + 10, b_fold(b_sum(0, buf, hdr_len)));
		return (int)tot_len;
	}

	put32(buf, 6u << 28 | (__u32)s->tos << 20 | (s->flow_label & 0xfffff));
	put16(buf + 4, (__u16)(tot_len - IP6_HLEN));
	buf[7] = s->ttl ? s->ttl : 64;
	memcpy(buf + 8, saddr, 16);
	memcpy(buf + 24, daddr, 16);
	off = IP6_HLEN;
	for (k = 0; k < s->n_ext; k++) {
		const struct sl_pkt_ext *e = &s->ext[k];
		size_t n = ext_size(e);
		__u8 *h = buf + off;

		next = k + 1 < s->n_ext ? s->ext[k + 1].type : l4->proto;
		h[0] = next;
		switch (e->type) {
		case IPPROTO_FRAGMENT:
			put16(h + 2, (__u16)(e->frag_off << 3 | (e->more ? 1 : 0)));
			put32(h + 4, e->frag_id);
			break;
		case IPPROTO_ROUTING:
			h[1] = e->len;
			h[2] = 253; /* routing type: RFC 4727 experiment; segments left 0 */
			break;
		default:
			/* Hop-by-hop / destination options: one PadN filling the header. */
			h[1] = e->len;
			h[2] = 1;
			h[3] = (__u8)(n - 4);
			break;
		}
		off += n;
	}
	buf[6] = s->n_ext ? s->ext[0].type : l4->proto;
	return (int)tot_len;
}

static int plan_from_spec(const struct sl_pkt_spec *s, struct l4_plan *l4)
{
	memset(l4, 0, sizeof(*l4));
	l4->proto = s->l4;
	l4->data = s->payload;
	l4->data_len = s->payload_len;
	switch (s->l4) {
	case IPPROTO_TCP:
		l4->hlen = TCP_HLEN;
		break;
	case IPPROTO_UDP:
		l4->hlen = UDP_HLEN;
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		l4->hlen = ICMP_HLEN;
		break;
	}
	return 0;
}

static int build_l2(const struct sl_pkt_spec *s, __u8 *buf, size_t cap)
{
	__u8 mac[6];
	size_t off;
	int i;

	if (s->vlans < 0 || s->vlans > SL_PKT_MAX_VLANS)
		return -EINVAL;
	if (s->family != 4 && s->family != 6)
		return -EINVAL;
	off = ETH_HLEN_ + (size_t)s->vlans * VLAN_HLEN_;
	if (off > cap)
		return -ENOSPC;
	if (sl_pkt_mac(s->eth_dst ? s->eth_dst : "02:00:00:00:00:02", mac))
		return -EINVAL;
	memcpy(buf, mac, 6);
	if (sl_pkt_mac(s->eth_src ? s->eth_src : "02:00:00:00:00:01", mac))
		return -EINVAL;
	memcpy(buf + 6, mac, 6);
	for (i = 0; i < s->vlans; i++) {
		put16(buf + 12 + i * 4, s->vlan_tpid[i] ? s->vlan_tpid[i] : ETHERTYPE_8021Q);
		put16(buf + 14 + i * 4, s->vlan_tci[i]);
	}
	put16(buf + off - 2, s->family == 4 ? ETHERTYPE_IP4 : ETHERTYPE_IP6);
	return (int)off;
}

int sl_pkt_build_ip(const struct sl_pkt_spec *spec, void *buf, size_t cap)
{
	struct l4_plan l4;

	plan_from_spec(spec, &l4);
	return build_ip(spec, &l4, buf, cap);
}

static int build_frame(const struct sl_pkt_spec *spec, const struct l4_plan *l4, void *buf,
		       size_t cap)
{
	int l2, l3;

	l2 = build_l2(spec, buf, cap);
	if (l2 < 0)
		return l2;
	l3 = build_ip(spec, l4, (__u8 *)buf + l2, cap - (size_t)l2);
	if (l3 < 0)
		return l3;
	return l2 + l3;
}

int sl_pkt_build(const struct sl_pkt_spec *spec, void *buf, size_t cap)
{
	struct l4_plan l4;

	plan_from_spec(spec, &l4);
	return build_frame(spec, &l4, buf, cap);
}

int sl_pkt_build_icmp_too_big(const struct sl_pkt_spec *spec, __u32 mtu, const void *quote,
			      size_t quote_len, void *buf, size_t cap)
{
	struct l4_plan l4 = {
		.proto = spec->family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6,
		.hlen = ICMP_HLEN,
		.data = quote,
		.data_len = quote_len,
		.too_big = 1,
		.mtu = mtu,
	};

	if (!quote && quote_len)
		return -EINVAL;
	if (spec->family == 4 && mtu > 0xffff)
		return -EINVAL;
	return build_frame(spec, &l4, buf, cap);
}

/* ---- parser --------------------------------------------------------------- */

static void addr_text(int family, const __u8 *raw, char *out)
{
	if (!inet_ntop(family == 4 ? AF_INET : AF_INET6, raw, out, 46))
		out[0] = '\0';
}

/* Parse the L4 header at ip->l4_off (first fragments only). */
static int parse_l4(const __u8 *p, struct sl_pkt_ip *ip)
{
	size_t seg = ip->off + ip->tot_len - ip->l4_off;
	const __u8 *h = p + ip->l4_off;

	ip->payload_off = ip->l4_off;
	if (!ip->first_frag)
		return 0;
	switch (ip->proto) {
	case IPPROTO_TCP:
		if (seg < TCP_HLEN || (size_t)(h[12] >> 4) * 4 < TCP_HLEN ||
		    (size_t)(h[12] >> 4) * 4 > seg)
			return -EBADMSG;
		ip->sport = get16(h);
		ip->dport = get16(h + 2);
		ip->seq = get32(h + 4);
		ip->tcp_flags = h[13];
		ip->payload_off = ip->l4_off + (size_t)(h[12] >> 4) * 4;
		break;
	case IPPROTO_UDP:
		if (seg < UDP_HLEN)
			return -EBADMSG;
		ip->sport = get16(h);
		ip->dport = get16(h + 2);
		ip->payload_off = ip->l4_off + UDP_HLEN;
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if (seg < ICMP_HLEN)
			return -EBADMSG;
		ip->icmp_type = h[0];
		ip->icmp_code = h[1];
		ip->sport = get16(h + 4);
		ip->payload_off = ip->l4_off + ICMP_HLEN;
		break;
	}
	return 0;
}

/* Parse an IP header at off, bounded by len (the bytes available to it). */
static int parse_ip(const __u8 *p, size_t len, size_t off, struct sl_pkt_ip *ip)
{
	size_t end;
	__u8 next;
	int n;

	memset(ip, 0, sizeof(*ip));
	ip->off = off;
	if (off >= len)
		return -EBADMSG;
	if (p[off] >> 4 == 4) {
		const __u8 *h = p + off;
		__u16 frag;

		if (len - off < IP4_HLEN)
			return -EBADMSG;
		ip->family = 4;
		ip->hdr_len = (size_t)(h[0] & 0xf) * 4;
		ip->tot_len = get16(h + 2);
		if (ip->hdr_len < IP4_HLEN || ip->tot_len < ip->hdr_len || ip->tot_len > len - off)
			return -EBADMSG;
		frag = get16(h + 6);
		ip->is_frag = (frag & 0x3fff) != 0;
		ip->first_frag = (frag & 0x1fff) == 0;
		ip->ttl = h[8];
		ip->proto = h[9];
		memcpy(ip->saddr, h + 12, 4);
		memcpy(ip->daddr, h + 16, 4);
		ip->l4_off = off + ip->hdr_len;
	} else if (p[off] >> 4 == 6) {
		const __u8 *h = p + off;

		if (len - off < IP6_HLEN)
			return -EBADMSG;
		ip->family = 6;
		ip->tot_len = IP6_HLEN + get16(h + 4);
		if (ip->tot_len > len - off)
			return -EBADMSG;
		ip->ttl = h[7];
		memcpy(ip->saddr, h + 8, 16);
		memcpy(ip->daddr, h + 24, 16);
		ip->first_frag = 1;
		end = off + ip->tot_len;
		next = h[6];
		off += IP6_HLEN;
		for (n = 0; n < 8; n++) {
			size_t sz;

			if (next != IPPROTO_HOPOPTS && next != IPPROTO_ROUTING &&
			    next != IPPROTO_DSTOPTS && next != IPPROTO_FRAGMENT &&
			    next != IPPROTO_AH)
				break;
			if (end - off < 8)
				return -EBADMSG;
			if (next == IPPROTO_FRAGMENT) {
				__u16 fo = get16(p + off + 2);

				sz = 8;
				ip->is_frag = (fo & 0xfff9) != 0;
				ip->first_frag = (fo >> 3) == 0;
			} else if (next == IPPROTO_AH) {
				sz = ((size_t)p[off + 1] + 2) * 4;
			} else {
				sz = ((size_t)p[off + 1] + 1) * 8;
			}
			if (sz > end - off)
				return -EBADMSG;
			next = p[off];
			off += sz;
		}
		ip->proto = next;
		ip->l4_off = off;
		ip->hdr_len = off - ip->off;
	} else {
		return -EBADMSG;
	}
	addr_text(ip->family, ip->saddr, ip->src);
	addr_text(ip->family, ip->daddr, ip->dst);
	return parse_l4(p, ip);
}

int sl_pkt_parse(const void *frame, size_t len, struct sl_pkt_view *v)
{
	const __u8 *p = frame;
	__u16 type;
	size_t off;
	int err;

	memset(v, 0, sizeof(*v));
	if (len < ETH_HLEN_)
		return -EBADMSG;
	memcpy(v->eth_dst, p, 6);
	memcpy(v->eth_src, p + 6, 6);
	off = 12;
	type = get16(p + off);
	while (type == ETHERTYPE_8021Q || type == ETHERTYPE_8021AD) {
		if (v->vlans == SL_PKT_MAX_VLANS)
			return -EPROTONOSUPPORT;
		if (len - off < 2 + VLAN_HLEN_)
			return -EBADMSG;
		v->vlan_tpid[v->vlans] = type;
		v->vlan_tci[v->vlans] = get16(p + off + 2);
		v->vlans++;
		off += VLAN_HLEN_;
		type = get16(p + off);
	}
	v->eth_proto = type;
	v->l2_len = off + 2;
	if (type != ETHERTYPE_IP4 && type != ETHERTYPE_IP6)
		return -EPROTONOSUPPORT;
	err = parse_ip(p, len, v->l2_len, &v->outer);
	if (err)
		return err;
	if ((type == ETHERTYPE_IP4) != (v->outer.family == 4))
		return -EBADMSG;
	if ((v->outer.proto == IPPROTO_IPIP || v->outer.proto == IPPROTO_IPV6) &&
	    !v->outer.is_frag) {
		err = parse_ip(p, v->outer.off + v->outer.tot_len, v->outer.l4_off, &v->inner);
		if (err)
			return err;
		if ((v->outer.proto == IPPROTO_IPIP) != (v->inner.family == 4))
			return -EBADMSG;
		v->tunnel = 1;
	}
	return 0;
}

/* ---- checker -------------------------------------------------------------- */

/*
 * The checker's own checksum: the RFC 1071 one's complement sum of a buffer,
 * accumulated in 64 bits and folded once at the end.
 */
static __u16 c_csum(const __u8 *p, size_t n)
{
	__u64 sum = 0;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (__u64)p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += (__u64)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

static int why_set(char *why, size_t why_len, int err, const char *fmt, ...)
{
	va_list ap;

	if (why && why_len) {
		va_start(ap, fmt);
		vsnprintf(why, why_len, fmt, ap);
		va_end(ap);
	}
	return err;
}

static const char *l4_name(__u8 proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return "TCP";
	case IPPROTO_UDP:
		return "UDP";
	case IPPROTO_ICMP:
		return "ICMP";
	default:
		return "ICMPv6";
	}
}

/* Check the IPv4 header and the L4 checksum of one IP layer. */
static int check_ip(const __u8 *p, const struct sl_pkt_ip *ip, const char *layer, char *why,
		    size_t why_len)
{
	__u8 seg[40 + 65536];
	size_t ph_len, l4_len, csum_at;
	__u16 got, exp;

	if (ip->family == 4) {
		memcpy(seg, p + ip->off, ip->hdr_len);
		seg[10] = seg[11] = 0;
		exp = c_csum(seg, ip->hdr_len);
		got = get16(p + ip->off + 10);
		if (got != exp)
			return why_set(why, why_len, -EBADMSG,
				       "%s IPv4 header checksum 0x%04x, expected 0x%04x", layer,
				       got, exp);
	}
	/* A fragment's checksum covers the reassembled datagram: not checkable here. */
	if (ip->is_frag)
		return 0;
	l4_len = ip->off + ip->tot_len - ip->l4_off;
	switch (ip->proto) {
	case IPPROTO_TCP:
		csum_at = 16;
		break;
	case IPPROTO_UDP:
		csum_at = 6;
		if (l4_len < UDP_HLEN || get16(p + ip->l4_off + 4) != l4_len)
			return why_set(why, why_len, -EBADMSG, "%s UDP length %u, segment is %zu",
				       layer, l4_len < UDP_HLEN ? 0 : get16(p + ip->l4_off + 4),
				       l4_len);
		break;
	case IPPROTO_ICMP:
		if (ip->family != 4)
			return why_set(why, why_len, -EBADMSG, "%s ICMPv4 inside IPv6", layer);
		csum_at = 2;
		break;
	case IPPROTO_ICMPV6:
		if (ip->family != 6)
			return why_set(why, why_len, -EBADMSG, "%s ICMPv6 inside IPv4", layer);
		csum_at = 2;
		break;
	default:
		return 0;
	}
	if (l4_len < csum_at + 2)
		return why_set(why, why_len, -EBADMSG, "%s L4 header truncated (%zu bytes)", layer,
			       l4_len);

	/* Assemble pseudo-header + segment (checksum field zeroed), sum it once. */
	ph_len = 0;
	if (ip->proto != IPPROTO_ICMP && ip->family == 4) {
		memcpy(seg, ip->saddr, 4);
		memcpy(seg + 4, ip->daddr, 4);
		seg[8] = 0;
		seg[9] = ip->proto;
		put16(seg + 10, (__u16)l4_len);
		ph_len = 12;
	} else if (ip->proto != IPPROTO_ICMP) {
		memcpy(seg, ip->saddr, 16);
		memcpy(seg + 16, ip->daddr, 16);
		put32(seg + 32, (__u32)l4_len);
		seg[36] = seg[37] = seg[38] = 0;
		seg[39] = ip->proto;
		ph_len = 40;
	}
	memcpy(seg + ph_len, p + ip->l4_off, l4_len);
	seg[ph_len + csum_at] = seg[ph_len + csum_at + 1] = 0;
	exp = c_csum(seg, ph_len + l4_len);
	got = get16(p + ip->l4_off + csum_at);
	if (ip->proto == IPPROTO_UDP) {
		if (got == 0 && ip->family == 4)
			return 0;
		if (exp == 0)
			exp = 0xffff;
	}
	if (got != exp)
		return why_set(why, why_len, -EBADMSG, "%s %s checksum 0x%04x, expected 0x%04x",
			       layer, l4_name(ip->proto), got, exp);
	return 0;
}

int sl_pkt_check(const void *frame, size_t len, char *why, size_t why_len)
{
	struct sl_pkt_view v;
	int err;

	err = sl_pkt_parse(frame, len, &v);
	if (err)
		return why_set(why, why_len, err, "frame does not parse (%s)", strerror(-err));
	err = check_ip(frame, &v.outer, "outer", why, why_len);
	if (!err && v.tunnel)
		err = check_ip(frame, &v.inner, "inner", why, why_len);
	if (!err)
		why_set(why, why_len, 0, "ok");
	return err;
}

/* ---- test_run ------------------------------------------------------------- */

int sl_xdp_run(int prog_fd, const void *in, size_t in_len, void *out, size_t out_cap,
	       size_t *out_len, __u32 ingress_ifindex, __u32 *retval)
{
	/* data and data_meta 0, data_end the packet size: what the kernel demands. */
	struct xdp_md ctx = {
		.data_end = (__u32)in_len,
		.ingress_ifindex = ingress_ifindex,
	};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = (__u32)in_len,
		    .data_out = out, .data_size_out = (__u32)out_cap, .repeat = 1);
	int err;

	if (ingress_ifindex) {
		opts.ctx_in = &ctx;
		opts.ctx_size_in = sizeof(ctx);
	}
	err = bpf_prog_test_run_opts(prog_fd, &opts);
	if (err)
		return err < 0 ? err : -EINVAL;
	*out_len = opts.data_size_out;
	*retval = opts.retval;
	return 0;
}
