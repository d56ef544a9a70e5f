/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Addresses, endpoints and the names of enums as people write them:
 * "198.18.1.2", "198.18.1.2:8080", "2001:db8::2", "[2001:db8::2]:8080",
 * "rr", "nat", "tcp". Shared by sluiced and sluicectl.
 */
#ifndef SLUICE_ADDR_H
#define SLUICE_ADDR_H

#include <stddef.h>
#include <linux/types.h>

struct sl_endpoint {
	__be32 addr[4]; /* network order; IPv4 in addr[0] */
	__u8 family;	/* SL_AF_INET / SL_AF_INET6 */
	__u16 port;	/* host order; 0 when none was given */
};

/* An address alone. Returns 0 or -EINVAL. */
int sl_addr_parse(const char *s, __be32 addr[4], __u8 *family);
/* Text of an address (INET6_ADDRSTRLEN fits). Returns buf. */
const char *sl_addr_str(const __be32 addr[4], __u8 family, char *buf, size_t len);

/*
 * "ADDR", "ADDR:PORT", "[V6]" or "[V6]:PORT" (a bare IPv6 address has no
 * port). @need_port: the port may not be left out. On error returns -EINVAL
 * and writes why into @err (e.g. "port 70000 is not in 1..65535").
 */
int sl_endpoint_parse(const char *s, struct sl_endpoint *ep, int need_port, char *err,
		      size_t errlen);
/* "198.18.1.2:8080" / "[2001:db8::2]:8080", or the address alone for port 0. */
const char *sl_endpoint_str(const struct sl_endpoint *ep, char *buf, size_t len);

/* Enum names. *_from return the value or -1; *_name return a static string. */
int sl_strategy_from(const char *s);
const char *sl_strategy_name(int v);
int sl_fwd_from(const char *s);
const char *sl_fwd_name(int v);
int sl_proto_from(const char *s); /* "tcp" -> IPPROTO_TCP, "udp" -> IPPROTO_UDP */
const char *sl_proto_name(int v);
const char *sl_drop_name(int reason); /* "fragment", "rl_conn", ... */
const char *sl_counter_name(int idx); /* "pass_not_vip", ... */

#define SL_STRATEGY_NAMES "rr|wrr|random|leastconn|maglev"
#define SL_FWD_NAMES "nat|dsr|ipip"

#endif
