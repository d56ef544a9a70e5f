/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Includes and small definitions every sluice BPF program uses. */
#ifndef SL_BPF_COMMON_H
#define SL_BPF_COMMON_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/icmp.h>
#include <linux/icmpv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define SL_INLINE static __always_inline
#include "sluice/abi.h"
#include "sluice/select.h"

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif
#define SL_ETH_P_8021Q 0x8100
#define SL_ETH_P_8021AD 0x88a8
#define SL_IP_MF 0x2000
#define SL_IP_OFFSET 0x1fff
#define SL_IPV6_NEXTHDR_FRAG 44

/* Offsets come from a struct on the stack: mask them so the verifier keeps bounds. */
#define SL_OFF_MASK 0x3fff

#endif
