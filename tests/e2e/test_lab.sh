#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# test_lab: the lab itself works before sluice is involved, so that a failure
# in the other tests points at sluice, not at the lab. The client reaches
# every backend through the balancer's kernel routing, over IPv4 and IPv6, on
# ports 80 and 8080, and each backend answers with its own name; the VIP
# answers nothing yet; every veth end is set up for XDP forwarding.
set -u
. tests/e2e/lab.sh
lab_trap "lab$$"

step "build the lab"
lab_up "lab$$" || fail "lab_up failed"

step "client -> each backend directly, IPv4 and IPv6, ports 80 and 8080"
for n in 1 2 3; do
	for a in "$(be4 $n)" "$(be6 $n)"; do
		for p in 80 8080; do
			hammer -n 3 -q -t 1000 -a "$a" -p "$p" >"$LAB_DIR/out" 2>&1
			[ "$(count "b$n" "$LAB_DIR/out")" -eq 3 ] ||
				fail "$a port $p: expected 3 answers from b$n," \
					"got: $(tr '\n' ' ' <"$LAB_DIR/out")"
		done
	done
done

step "many requests on one keep-alive connection"
hammer -k 0.5 -q -a "$(be4 1)" -p 80 >"$LAB_DIR/out" 2>&1
if [ "$(count failed "$LAB_DIR/out")" -ne 0 ] || [ "$(count b1 "$LAB_DIR/out")" -lt 3 ]; then
	fail "keep-alive to b1: $(tr '\n' ' ' <"$LAB_DIR/out")"
fi

step "the VIPs answer nothing without sluice"
for v in "$VIP4" "$VIP6"; do
	hammer -n 1 -q -t 300 -a "$v" -p 80 >"$LAB_DIR/out" 2>&1
	[ "$(count failed "$LAB_DIR/out")" -eq 1 ] || fail "$v answered without sluice"
done

step "every veth end: GRO on (NAPI for XDP frames), tx checksum offload off"
for ns in "$NS_CLI:to-lb" "$NS_LB:to-cli" "$NS_LB:to-b1" "$NS_LB:to-b2" "$NS_LB:to-b3" \
	"$LAB-b1:to-lb" "$LAB-b2:to-lb" "$LAB-b3:to-lb"; do
	k=$(ip netns exec "${ns%%:*}" ethtool -k "${ns#*:}")
	echo "$k" | grep -q '^generic-receive-offload: on' || fail "$ns: GRO is off"
	echo "$k" | grep -q '^tx-checksumming: off' || fail "$ns: tx checksumming is on"
done
