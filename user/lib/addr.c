// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "addr.h"
#include "sluice/abi.h"

int sl_addr_parse(const char *s, __be32 addr[4], __u8 *family)
{
	__be32 a[4] = { 0 };

	if (inet_pton(AF_INET, s, &a[0]) == 1) {
		*family = SL_AF_INET;
	} else if (inet_pton(AF_INET6, s, a) == 1) {
		*family = SL_AF_INET6;
	} else {
		return -EINVAL;
	}
	memcpy(addr, a, sizeof(a));
	return 0;
}

const char *sl_addr_str(const __be32 addr[4], __u8 family, char *buf, size_t len)
{
	if (!inet_ntop(family == SL_AF_INET ? AF_INET : AF_INET6, addr, buf, len))
		snprintf(buf, len, "?");
	return buf;
}

static int parse_port(const char *p, __u16 *port, char *err, size_t errlen)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(p, &end, 10);
	if (!*p || *end || errno || v < 1 || v > 65535) {
		snprintf(err, errlen, "port '%s' is not in 1..65535", p);
		return -EINVAL;
	}
	*port = (__u16)v;
	return 0;
}

int sl_endpoint_parse(const char *s, struct sl_endpoint *ep, int need_port, char *err,
		      size_t errlen)
{
	char host[64];
	const char *port = NULL, *colon;
	struct sl_endpoint e = { .port = 0 };
	size_t n;

	if (!s || !*s) {
		snprintf(err, errlen, "empty address");
		return -EINVAL;
	}
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || (close[1] && close[1] != ':')) {
			snprintf(err, errlen, "'%s' is not an address: write IPv6 as [2001:db8::2]:8080", s);
			return -EINVAL;
		}
		n = close - s - 1;
		if (close[1] == ':')
			port = close + 2;
		if (n >= sizeof(host))
			n = sizeof(host) - 1;
		memcpy(host, s + 1, n);
		host[n] = 0;
	} else {
		colon = strchr(s, ':');
		if (colon && strchr(colon + 1, ':'))
			colon = NULL; /* a bare IPv6 address */
		n = colon ? (size_t)(colon - s) : strlen(s);
		if (n >= sizeof(host)) {
			snprintf(err, errlen, "'%s' is not an address", s);
			return -EINVAL;
		}
		memcpy(host, s, n);
		host[n] = 0;
		if (colon)
			port = colon + 1;
	}
	if (sl_addr_parse(host, e.addr, &e.family)) {
		snprintf(err, errlen, "'%s' is not an IPv4 or IPv6 address", host);
		return -EINVAL;
	}
	if (s[0] == '[' && e.family != SL_AF_INET6) {
		snprintf(err, errlen, "'%s': brackets are for IPv6 addresses only", s);
		return -EINVAL;
	}
	if (port && parse_port(port, &e.port, err, errlen))
		return -EINVAL;
	if (!port && need_port) {
		snprintf(err, errlen, "'%s' has no port: write ADDR:PORT (IPv6: [ADDR]:PORT)", s);
		return -EINVAL;
	}
	*ep = e;
	return 0;
}

const char *sl_endpoint_str(const struct sl_endpoint *ep, char *buf, size_t len)
{
	char a[64];

	sl_addr_str(ep->addr, ep->family, a, sizeof(a));
	if (!ep->port)
		snprintf(buf, len, "%s", a);
	else if (ep->family == SL_AF_INET6)
		snprintf(buf, len, "[%s]:%u", a, ep->port);
	else
		snprintf(buf, len, "%s:%u", a, ep->port);
	return buf;
}

static const char *const strategies[SL_STRAT__MAX] = { "rr", "wrr", "random", "leastconn",
						       "maglev" };
static const char *const fwds[SL_FWD__MAX] = { "nat", "dsr", "ipip" };
static const char *const drops[SL_DROP__MAX] = {
	"none",	      "fragment", "rl_conn",   "rl_pkt",	"no_backend", "no_group",
	"ct_insert", "encap",	 "family",    "rl_contended", "decap",
};
static const char *const counters[SL_C__MAX] = {
	"pass_not_vip", "pass_unparsed", "pass_l7",	"pass_fib",	 "tx",	      "redirect",
	"ct_new",	"ct_reselect",	 "ct_closed",	"ct_expired",	 "nat_reply", "icmp_fwd",
	"icmp_no_flow", "rl_new_bucket", "rl_evict",	"event_lost",	 "decap",
};

static int name_index(const char *const *names, int n, const char *s)
{
	int i;

	for (i = 0; s && i < n; i++)
		if (!strcmp(names[i], s))
			return i;
	return -1;
}

int sl_strategy_from(const char *s)
{
	return name_index(strategies, SL_STRAT__MAX, s);
}

const char *sl_strategy_name(int v)
{
	return v >= 0 && v < SL_STRAT__MAX ? strategies[v] : "?";
}

int sl_fwd_from(const char *s)
{
	return name_index(fwds, SL_FWD__MAX, s);
}

const char *sl_fwd_name(int v)
{
	return v >= 0 && v < SL_FWD__MAX ? fwds[v] : "?";
}

int sl_proto_from(const char *s)
{
	if (s && !strcmp(s, "tcp"))
		return IPPROTO_TCP;
	if (s && !strcmp(s, "udp"))
		return IPPROTO_UDP;
	return -1;
}

const char *sl_proto_name(int v)
{
	return v == IPPROTO_TCP ? "tcp" : v == IPPROTO_UDP ? "udp" : "?";
}

const char *sl_drop_name(int r)
{
	return r >= 0 && r < SL_DROP__MAX ? drops[r] : "?";
}

const char *sl_counter_name(int i)
{
	return i >= 0 && i < SL_C__MAX ? counters[i] : "?";
}
