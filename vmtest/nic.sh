#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# vmtest's real-NIC scenario, the guest's side (run by vmtest/guest.sh; the
# host's side is nic_client in vmtest/run.sh). TCP from the host, through the
# guest's virtio-net NIC with sluice's XDP program attached in native mode
# (virtio_net's own XDP), NATed to three backends in guest namespaces:
#
#   host: namespace sl-vm-PID       guest: root namespace          guest: vmnic-PID-bN
#   tap 198.18.100.1 ---(virtio)--- NIC 198.18.100.2, sluiced
#       2001:db8:100::1                 2001:db8:100::2
#   routes to the VIPs via the NIC  to-bN 198.18.1N.1 ------------ to-lb 198.18.1N.2
#                                         2001:db8:1N::1                 2001:db8:1N::2
#                                                                  httpd "bN" on :80
#
# VIPs 198.19.0.10:80 and [2001:db8:f::10]:80 (rr, nat). Replies come back
# over to-bN (XDP native too, the NAT reply path) and leave through the NIC
# with XDP_REDIRECT, i.e. virtio_net's ndo_xdp_xmit. Steps: build it, say "@@VMTEST nic-ready" on the
# console, wait (bounded) until the host drops its client's output in
# $VMTEST_RUN/nic-done, then check the guest's side: every connection the
# host made is a new flow in sluice's stats, replies were NATed, the NIC's XDP
# redirected and transmitted frames. Prints "nic: N passed, N failed".
set -u
cd "${VMTEST_REPO:-.}" || exit 1
OUT=${OUTPUT:-.output}
SLUICED="$OUT/bin/sluiced"
SLUICECTL="$OUT/bin/sluicectl"
HTTPD="$OUT/bin/e2e/httpd"
JSONPATH="$OUT/bin/e2e/jsonpath"
RUN=${VMTEST_RUN:?vmtest/nic.sh runs inside a vmtest guest (VMTEST_RUN unset)}
GUEST_MAC=02:5c:00:00:64:02
HOST_MAC=02:5c:00:00:64:01
HOST_IP=198.18.100.1
GUEST_IP=198.18.100.2
VIP=198.19.0.10
HOST_IP6=2001:db8:100::1
GUEST_IP6=2001:db8:100::2
VIP6=2001:db8:f::10
WAIT=${VMTEST_NIC_WAIT:-600}

tag="vmnic$$"
dir="/tmp/$tag"
bpffs="/sys/fs/bpf/$tag"
sock="$dir/sluiced.sock"
passed=0
failed=0
pids=""

cleanup() {
	for p in $pids; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in $pids; do
		wait "$p" 2>/dev/null
	done
	for n in 1 2 3; do
		ip netns del "$tag-b$n" 2>/dev/null
		ip link del "to-b$n" 2>/dev/null
	done
	rm -rf "$bpffs" "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ok() {
	echo "  ok   $*"
	passed=$((passed + 1))
}
bad() {
	echo "  FAIL $*"
	failed=$((failed + 1))
}
# check DESCRIPTION COMMAND...: one named claim
check() {
	_d=$1
	shift
	if "$@"; then ok "$_d"; else bad "$_d"; fi
}
# give_up MESSAGE: the scenario cannot go on
give_up() {
	bad "$*"
	[ -s "$dir/sluiced.log" ] && sed 's/^/  | /' "$dir/sluiced.log" | tail -n 15
	echo "nic: $passed passed, $failed failed"
	exit 1
}
ctl() { "$SLUICECTL" --socket "$sock" "$@"; }
jget() { "$JSONPATH" "$1"; }
# nicstat TOTAL PERQUEUE: a virtio_net counter from ethtool -S: TOTAL where the
# driver reports one (6.12: rx_xdp_redirects), else the sum of the per-queue
# counters matching the regex PERQUEUE (6.1: rx_queue_N_xdp_redirects).
nicstat() {
	ethtool -S "$nic" 2>/dev/null | awk -v t="$1" -v re="$2" '
		{ sub(":$", "", $1) }
		$1 == t { tot = $2; have = 1 }
		$1 ~ re { s += $2 }
		END { print have ? tot : s + 0 }'
}
redirects() { nicstat rx_xdp_redirects '^rx_queue_[0-9]+_xdp_redirects$'; }
xdp_sent() { nicstat tx_xdp_tx '^tx_queue_[0-9]+_xdp_tx$'; }

mkdir -p "$dir/state"

# The NIC: the one with the MAC vmtest/run.sh gave it.
nic=""
for d in /sys/class/net/*; do
	[ "$(cat "$d/address" 2>/dev/null)" = "$GUEST_MAC" ] && nic=$(basename "$d")
done
[ -n "$nic" ] || give_up "no NIC with MAC $GUEST_MAC (is virtio_net loaded? run.sh adds the NIC)"
echo "  - NIC $nic: driver $(basename "$(readlink "/sys/class/net/$nic/device/driver" 2>/dev/null)")," \
	"$(ethtool -l "$nic" 2>/dev/null | awk '/^Combined/ { c[++i] = $2 } END { print "queues " c[2] " of " c[1] }')"
sysctl -qw net.ipv4.conf.all.forwarding=1 net.ipv6.conf.all.forwarding=1 \
	net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
	"net.ipv4.conf.$nic.rp_filter=0" net.ipv6.conf.all.accept_dad=0 \
	net.ipv6.conf.default.accept_dad=0
ip link set "$nic" up
ip addr add "$GUEST_IP/24" dev "$nic"
ip -6 addr add "$GUEST_IP6/64" dev "$nic" nodad
ip neigh replace "$HOST_IP" lladdr "$HOST_MAC" dev "$nic" nud permanent
ip -6 neigh replace "$HOST_IP6" lladdr "$HOST_MAC" dev "$nic" nud permanent

# Three backends, as tests/e2e/lab.sh builds them (gro on for NAPI, tx
# checksum offload off so XDP forwards full checksums; fixed MACs, permanent
# neighbours so bpf_fib_lookup always answers).
for n in 1 2 3; do
	ns="$tag-b$n"
	ip netns add "$ns" || give_up "ip netns add $ns"
	ip -n "$ns" link set lo up
	ip link add "to-b$n" address "02:5c:00:00:0$n:01" type veth peer name to-lb \
		address "02:be:00:00:0$n:02" netns "$ns" || give_up "veth to-b$n"
	sysctl -qw "net.ipv4.conf.to-b$n.rp_filter=0"
	ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.to-lb.rp_filter=0
	ip link set "to-b$n" up
	ip -n "$ns" link set to-lb up
	ethtool -K "to-b$n" gro on tx off >/dev/null
	ip netns exec "$ns" ethtool -K to-lb gro on tx off >/dev/null
	ip addr add "198.18.1$n.1/24" dev "to-b$n"
	ip -6 addr add "2001:db8:1$n::1/64" dev "to-b$n" nodad
	ip -n "$ns" addr add "198.18.1$n.2/24" dev to-lb
	ip -n "$ns" -6 addr add "2001:db8:1$n::2/64" dev to-lb nodad
	ip -n "$ns" route add default via "198.18.1$n.1" dev to-lb
	ip -n "$ns" -6 route add default via "2001:db8:1$n::1" dev to-lb
	ip neigh replace "198.18.1$n.2" lladdr "02:be:00:00:0$n:02" dev "to-b$n" nud permanent
	ip -6 neigh replace "2001:db8:1$n::2" lladdr "02:be:00:00:0$n:02" dev "to-b$n" nud permanent
	ip -n "$ns" neigh replace "198.18.1$n.1" lladdr "02:5c:00:00:0$n:01" dev to-lb nud permanent
	ip -n "$ns" -6 neigh replace "2001:db8:1$n::1" lladdr "02:5c:00:00:0$n:01" dev to-lb \
		nud permanent
	ip netns exec "$ns" "$HTTPD" "b$n" 80 >"$dir/httpd-b$n.log" 2>&1 &
	pids="$pids $!"
	i=0
	until grep -q listening "$dir/httpd-b$n.log" 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -le 300 ] || give_up "httpd b$n did not start: $(cat "$dir/httpd-b$n.log")"
		sleep 0.1
	done
done

# sluiced in the guest's root namespace, where the NIC is.
"$SLUICED" --state-dir "$dir/state" --bpffs "$bpffs" --socket "$sock" >"$dir/sluiced.log" 2>&1 &
spid=$!
pids="$pids $spid"
i=0
while :; do
	ctl vip list >/dev/null 2>&1
	[ $? -ne 3 ] && break
	kill -0 "$spid" 2>/dev/null || give_up "sluiced exited"
	i=$((i + 1))
	[ "$i" -le 600 ] || give_up "sluiced did not answer on $sock within 60 s"
	sleep 0.1
done
out=$(ctl attach "$nic" --mode native 2>&1) ||
	give_up "sluicectl attach $nic --mode native: $out ($(dmesg | tail -n 3 | tr '\n' ' '))"
for n in 1 2 3; do
	out=$(ctl attach "to-b$n" --mode native 2>&1) || give_up "sluicectl attach to-b$n: $out"
done
mode=$(ip -d link show dev "$nic" | grep -o 'xdp[a-z]*' | head -n 1)
check "XDP on $nic in native mode (ip link: '$mode')" [ "$mode" = xdp ]
out=$(ctl vip add web "$VIP:80/tcp" --strategy rr --forward nat 2>&1) || give_up "vip add: $out"
out=$(ctl vip add web6 "[$VIP6]:80/tcp" --strategy rr --forward nat 2>&1) ||
	give_up "vip add web6: $out"
for n in 1 2 3; do
	out=$(ctl backend add web "198.18.1$n.2:80" 2>&1) || give_up "backend add: $out"
	out=$(ctl backend add web6 "[2001:db8:1$n::2]:80" 2>&1) || give_up "backend add: $out"
done
red0=$(redirects)
xtx0=$(xdp_sent)

echo "@@VMTEST nic-ready"
i=0
while [ ! -f "$RUN/nic-done" ]; do
	i=$((i + 1))
	[ "$i" -le "$WAIT" ] || give_up "the host's client did not finish within ${WAIT}s"
	sleep 1
done

# The host's client output: hammer's lines, prefixed with the family
# ("v4 b1 100", "v6 failed 0", "v4 attempts 300").
sed 's/^/    host: /' "$RUN/nic-done"
stats=$(ctl --json stats)
summary=""
for fam in v4 v6; do
	vip=web
	[ "$fam" = v6 ] && vip=web6
	attempts=$(sed -n "s/^$fam attempts //p" "$RUN/nic-done")
	hfailed=$(sed -n "s/^$fam failed //p" "$RUN/nic-done")
	if [ "${hfailed:-1}" = 0 ] && [ "${attempts:-0}" -gt 0 ]; then
		ok "$fam: the host client made $attempts requests, none failed"
	else
		bad "$fam: the host client made ${attempts:-?} requests, ${hfailed:-?} failed"
	fi
	for n in 1 2 3; do
		c=$(sed -n "s/^$fam b$n //p" "$RUN/nic-done")
		check "$fam: backend b$n answered the host (${c:-0} requests)" [ "${c:-0}" -gt 0 ]
	done
	flows=$(echo "$stats" | jget "vips[name=$vip].new_flows")
	check "$fam: every host connection is a new flow in sl_xdp (${flows:-?} flows)" \
		[ "${flows:-0}" -ge "${attempts:-1}" ]
	summary="$summary$fam $((${attempts:-0} - ${hfailed:-0}))/${attempts:-?} ($(grep "^$fam b[0-9] " \
		"$RUN/nic-done" | cut -d' ' -f2- | tr ' \n' ':,' | sed 's/,$//')), "
done
echo "  - $nic XDP counters (ethtool -S, non-zero):" \
	"$(ethtool -S "$nic" 2>/dev/null | grep xdp | grep -v ': 0$' | tr -d ' ' | tr '\n' ' ')"
natr=$(echo "$stats" | jget counters.nat_reply)
fib=$(echo "$stats" | jget counters.pass_fib)
red=$(($(redirects) - red0))
xtx=$(($(xdp_sent) - xtx0))
check "replies NATed back to the VIPs by XDP (nat_reply ${natr:-?})" [ "${natr:-0}" -gt 0 ]
check "no packet left to the kernel for want of a next hop (pass_fib ${fib:-?})" [ "${fib:-1}" = 0 ]
check "$nic: virtio_net XDP redirected $red frames to the backends" [ "$red" -gt 0 ]
check "$nic: virtio_net transmitted $xtx XDP frames (replies, ndo_xdp_xmit)" [ "$xtx" -gt 0 ]
echo "nic-summary: ${summary}$nic native XDP: $red redirected, $xtx sent"
echo "nic: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
