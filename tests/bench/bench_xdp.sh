#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# bench/xdp: the XDP per-packet cost of the real xdp_lb object under
# BPF_PROG_TEST_RUN (non-VIP, new flow, established; every strategy, forwarding
# mode and family; 1, 64Ki and 1Mi flows in the connection table), next to
# XDP_PASS / XDP_TX floors (tests/bench/floor.bpf.c) measured the same way in
# the same run. The work is done by .output/bin/bench/xdp_cost; see its header
# and the method notes it prints. Measures, never asserts.
#
#   sudo sh tests/bench/bench_xdp.sh        (from the repository root; run make first)
#   QUICK=1: 1 and 64Ki flows only, fewer packets (well under a minute)
#
# Prints only its markdown section on stdout; progress on stderr. No packet is
# sent anywhere: the namespace bench-xdp-PID only gives bpf_fib_lookup() a
# route and neighbours to answer from:
#   xb0 (peer xb1)  198.18.0.1/24  2001:db8::1/64  MAC 02:5c:00:00:00:01
#   backends 198.18.0.16-19 / 2001:db8::10-13 = 02:be:00:00:00:10-13 (on xb0,
#   so forwarded packets leave with XDP_TX, the verdict of the XDP_TX floor)
# The namespace is removed on exit, pass or fail.
set -u
cd "$(dirname "$0")/../.." || exit 1

OUT=${OUTPUT:-.output}
BIN="$OUT/bin/bench/xdp_cost"
FLOOR="$OUT/bench/floor.bpf.o"
NS="bench-xdp-$$"

if [ "$(id -u)" -ne 0 ]; then
	echo "bench_xdp: needs root (BPF, a network namespace): sudo sh $0" >&2
	exit 1
fi
for f in "$BIN" "$FLOOR"; do
	[ -e "$f" ] || {
		echo "bench_xdp: $f is missing (run make)" >&2
		exit 1
	}
done

cleanup() {
	ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ip netns add "$NS" || {
	echo "bench_xdp: cannot create namespace $NS" >&2
	exit 1
}
run() { ip -n "$NS" "$@"; }
set -e
run link set lo up
run link add xb0 address 02:5c:00:00:00:01 type veth peer name xb1
run link set xb0 up
run link set xb1 up
run addr add 198.18.0.1/24 dev xb0
run -6 addr add 2001:db8::1/64 dev xb0 nodad
for k in 0 1 2 3; do
	run neigh add "198.18.0.$((16 + k))" lladdr "02:be:00:00:00:1$k" dev xb0 nud permanent
	run -6 neigh add "2001:db8::1$k" lladdr "02:be:00:00:00:1$k" dev xb0 nud permanent
done
# bpf_fib_lookup() answers only where forwarding is on
nsenter --net="/run/netns/$NS" sysctl -qw net.ipv4.conf.all.forwarding=1 \
	net.ipv4.conf.xb0.forwarding=1 net.ipv6.conf.all.forwarding=1
set +e

quick=
[ "${QUICK:-0}" = 1 ] && quick=--quick
echo "bench_xdp: measuring${quick:+ (QUICK)}" >&2
nsenter --net="/run/netns/$NS" "$BIN" --floor "$FLOOR" --ifname xb0 $quick
rc=$?
[ $rc -eq 0 ] || echo "bench_xdp: xdp_cost failed ($rc)" >&2
exit $rc
