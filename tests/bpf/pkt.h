/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packet toolkit for BPF_PROG_TEST_RUN fixtures: a frame builder driven by a
 * spec struct, an ICMP error builder, a checksum checker that recomputes every
 * checksum from scratch, a parser that exposes offsets and fields, and a
 * test_run wrapper for XDP programs.
 *
 * Functions return 0 (or a length) on success and a negative errno on failure.
 * Multi-byte spec fields are host order; the builder converts them.
 */
#ifndef SL_TEST_PKT_H
#define SL_TEST_PKT_H

#include <stddef.h>
#include <linux/types.h>
#include <netinet/in.h>

#define SL_PKT_MAX 4096	      /* largest frame the builder writes */
#define SL_PKT_MAX_VLANS 2    /* VLAN tags the builder writes and the parser reads */
#define SL_PKT_MAX_EXTS 4     /* IPv6 extension headers in one spec */
#define SL_PKT_GROWTH 64      /* out buffer slack for programs that grow frames */
#define SL_PKT_IP4_OPT_MAX 40 /* IPv4 option bytes (ihl 15) */

/* One IPv6 extension header, written in the order given. */
struct sl_pkt_ext {
	__u8 type;	/* 0 hop-by-hop, 43 routing, 60 destination options, 44 fragment */
	__u8 len;	/* 0/43/60: Hdr Ext Len (size is (len + 1) * 8 bytes); 44: unused */
	__u16 frag_off; /* 44: fragment offset in 8-byte units */
	__u8 more;	/* 44: M flag */
	__u8 pad[3];
	__u32 frag_id; /* 44: identification */
};

/*
 * Everything one frame needs. Zero means "default" where a default is named.
 * l4 is the protocol after the IP header (and IPv6 extension headers):
 * IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP (echo request, IPv4 only),
 * IPPROTO_ICMPV6 (echo request, IPv6 only), or anything else, in which case
 * the payload alone follows the IP header with that protocol number (this is
 * how a tunnel is built: l4 = IPPROTO_IPIP or IPPROTO_IPV6 and payload = the
 * inner IP packet).
 */
struct sl_pkt_spec {
	const char *eth_src;		   /* "02:..:..": default 02:00:00:00:00:01 */
	const char *eth_dst;		   /* default 02:00:00:00:00:02 */
	int vlans;			   /* 0, 1 or 2 tags */
	__u16 vlan_tpid[SL_PKT_MAX_VLANS]; /* outermost first; 0 = 0x8100 */
	__u16 vlan_tci[SL_PKT_MAX_VLANS];  /* PCP/DEI/VID as written */

	int family;	       /* 4 or 6 */
	const char *src, *dst; /* IP addresses as text */
	__u8 ttl;	       /* TTL / hop limit; 0 = 64 */
	__u8 tos;	       /* IPv4 TOS / IPv6 traffic class */
	__u16 ip_id;	       /* IPv4 identification */
	__u8 df, mf;	       /* IPv4 flags */
	__u16 frag_off;	       /* IPv4 fragment offset in 8-byte units */
	__u8 ip_opt_len;       /* IPv4 option bytes; rounded up to 4, at most 40 */
	__u32 flow_label;      /* IPv6 flow label (20 bits) */
	int n_ext;	       /* IPv6 extension headers used in ext[] */
	struct sl_pkt_ext ext[SL_PKT_MAX_EXTS];

	__u8 l4;	    /* IPPROTO_* as described above */
	__u16 sport, dport; /* TCP/UDP ports; ICMP echo: sport is the identifier */
	__u8 tcp_flags;	    /* TH_* style: 0x02 SYN, 0x10 ACK, ... */
	__u32 seq;	    /* TCP sequence number; ICMP echo: sequence number */
	__u8 udp_csum_zero; /* IPv4 UDP: leave the checksum 0 (not computed) */

	const void *payload; /* payload bytes, or NULL for the pattern */
	size_t payload_len;  /* payload length */
	__u8 pattern_seed;   /* pattern byte i is (seed + i * 7) & 0xff */
};

/*
 * Write the frame described by spec into buf. Returns its length, or
 * -EINVAL (bad spec or address) or -ENOSPC (cap too small).
 */
int sl_pkt_build(const struct sl_pkt_spec *spec, void *buf, size_t cap);

/* As sl_pkt_build(), without the Ethernet/VLAN header: the bare IP packet. */
int sl_pkt_build_ip(const struct sl_pkt_spec *spec, void *buf, size_t cap);

/*
 * An ICMP "fragmentation needed" (IPv4 type 3 code 4) or "packet too big"
 * (ICMPv6 type 2) error carrying mtu and quoting quote_len bytes of quote (an
 * inner IP packet). spec supplies Ethernet/VLAN, family, src/dst, ttl, tos and
 * ip_id; its l4 and payload fields are ignored. Returns the frame length or a
 * negative errno.
 */
int sl_pkt_build_icmp_too_big(const struct sl_pkt_spec *spec, __u32 mtu, const void *quote,
			      size_t quote_len, void *buf, size_t cap);

/* One IP layer of a parsed frame. Offsets are from the start of the frame. */
struct sl_pkt_ip {
	int family;		   /* 4 or 6; 0 when absent */
	size_t off;		   /* start of the IP header */
	size_t hdr_len;		   /* IPv4 ihl*4; IPv6 40 + extension headers */
	size_t tot_len;		   /* IPv4 total length; IPv6 40 + payload length */
	size_t l4_off;		   /* start of the L4 header (== off + hdr_len) */
	__u8 proto;		   /* L4 protocol, after IPv6 extension headers */
	__u8 ttl;		   /* TTL / hop limit */
	__u8 is_frag;		   /* IPv4 MF or offset, IPv6 fragment header M or offset */
	__u8 first_frag;	   /* offset 0: the L4 header is in this fragment */
	__u8 saddr[16], daddr[16]; /* raw; IPv4 in the first 4 bytes */
	char src[46], dst[46];	   /* text (INET6_ADDRSTRLEN) */
	__u16 sport, dport;	   /* TCP/UDP ports, ICMP echo identifier in sport; host order */
	__u8 icmp_type, icmp_code; /* ICMP/ICMPv6 */
	__u8 tcp_flags;
	__u32 seq;	    /* TCP sequence, host order */
	size_t payload_off; /* after the L4 header (TCP data offset, 8 for UDP/ICMP) */
};

/* A parsed frame: the Ethernet/VLAN header and up to two IP layers. */
struct sl_pkt_view {
	__u8 eth_dst[6], eth_src[6];
	int vlans; /* tags seen (at most SL_PKT_MAX_VLANS) */
	__u16 vlan_tpid[SL_PKT_MAX_VLANS], vlan_tci[SL_PKT_MAX_VLANS];
	__u16 eth_proto;	/* EtherType after the tags, host order */
	size_t l2_len;		/* Ethernet + VLAN bytes */
	struct sl_pkt_ip outer; /* the first IP header */
	struct sl_pkt_ip inner; /* IPIP / IPv6-in-IPv6 inner packet (family 0 if none) */
	int tunnel;		/* 1 when inner is set */
};

/*
 * Parse a frame. Returns 0, or -EBADMSG when a header is truncated or
 * malformed (v holds what was parsed up to that point), or -EPROTONOSUPPORT
 * when the EtherType is not IPv4/IPv6.
 */
int sl_pkt_parse(const void *frame, size_t len, struct sl_pkt_view *v);

/*
 * Verify every checksum of a frame by recomputing it from scratch: IPv4
 * header, TCP/UDP/ICMP/ICMPv6 (with the pseudo-header; UDP 0 accepted over
 * IPv4), for the outer packet and for an IPIP/IPv6-in-IPv6 inner packet.
 * Fragments get their IPv4 header checked only. Returns 0 when all are valid,
 * else a negative errno with a description in why (if why_len > 0).
 */
int sl_pkt_check(const void *frame, size_t len, char *why, size_t why_len);

/*
 * BPF_PROG_TEST_RUN of an XDP program once (repeat 1) over in. out_cap must
 * leave room for growth (SL_PKT_GROWTH: IPIP encapsulation adds up to 40
 * bytes); a larger output fails with -ENOSPC. When ingress_ifindex is not 0
 * an xdp_md context carries it (data 0, data_end in_len), and the interface
 * must exist in the caller's network namespace. Returns 0 or a negative
 * errno; *out_len and *retval are set only on success.
 */
int sl_xdp_run(int prog_fd, const void *in, size_t in_len, void *out, size_t out_cap,
	       size_t *out_len, __u32 ingress_ifindex, __u32 *retval);

/* Parse "aa:bb:cc:dd:ee:ff". Returns 0 or -EINVAL. */
int sl_pkt_mac(const char *text, __u8 mac[6]);

/* Fill a 16-byte map address (IPv4 in the first 4 bytes) and its family from text. */
int sl_pkt_addr(const char *text, __be32 addr[4], __u8 *family);

#endif /* SL_TEST_PKT_H */
