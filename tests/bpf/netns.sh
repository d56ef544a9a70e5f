#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Runs a command inside a throw-away network namespace laid out for the BPF
# program tests, and removes the namespace afterwards, pass or fail.
# No packet is sent: the layout only gives bpf_fib_lookup() real routes and
# neighbours to answer from, so forwarding verdicts and MACs are predictable.
#
#   slc0  198.18.0.1/24  2001:db8::1/64      client side (the XDP "ingress")
#         neigh 198.18.0.2 / 2001:db8::2 = 02:c1:00:00:00:02 (client router)
#         neigh 198.18.0.50 / 2001:db8::50 = 02:be:00:00:00:50 (backend on the
#         ingress side: XDP_TX)
#         routes 198.18.128.0/17 via 198.18.0.2, 2001:db8:c::/48 via 2001:db8::2
#   slb0  198.18.1.1/24  2001:db8:1::1/64    backend side (XDP_REDIRECT)
#         neigh 198.18.1.N / 2001:db8:1::N = 02:be:00:00:01:0N for N = 2..9
#         198.18.1.99 / 2001:db8:1::99 have no neighbour entry (kernel fallback)
#   MACs: slc0 02:5c:00:00:00:01, slb0 02:5c:00:00:01:01
#
# Usage: netns.sh NAME COMMAND [ARGS...]   (NAME should be unique per run)
set -eu

ns="$1"
shift

cleanup() {
	ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

ip netns add "$ns"
run() { ip netns exec "$ns" "$@"; }

run ip link set lo up
run ip link add slc0 address 02:5c:00:00:00:01 type veth peer name slc1
run ip link add slb0 address 02:5c:00:00:01:01 type veth peer name slb1
for l in slc0 slc1 slb0 slb1; do run ip link set "$l" up; done
run sysctl -qw net.ipv4.conf.all.forwarding=1 net.ipv6.conf.all.forwarding=1
run ip addr add 198.18.0.1/24 dev slc0
run ip addr add 198.18.1.1/24 dev slb0
run ip -6 addr add 2001:db8::1/64 dev slc0 nodad
run ip -6 addr add 2001:db8:1::1/64 dev slb0 nodad

run ip neigh add 198.18.0.2 lladdr 02:c1:00:00:00:02 dev slc0 nud permanent
run ip -6 neigh add 2001:db8::2 lladdr 02:c1:00:00:00:02 dev slc0 nud permanent
run ip neigh add 198.18.0.50 lladdr 02:be:00:00:00:50 dev slc0 nud permanent
run ip -6 neigh add 2001:db8::50 lladdr 02:be:00:00:00:50 dev slc0 nud permanent
for n in 2 3 4 5 6 7 8 9; do
	run ip neigh add "198.18.1.$n" lladdr "02:be:00:00:01:0$n" dev slb0 nud permanent
	run ip -6 neigh add "2001:db8:1::$n" lladdr "02:be:00:00:01:0$n" dev slb0 nud permanent
done
run ip route add 198.18.128.0/17 via 198.18.0.2 dev slc0
run ip -6 route add 2001:db8:c::/48 via 2001:db8::2 dev slc0

run "$@"
