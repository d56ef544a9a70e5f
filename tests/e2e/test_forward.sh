#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# test_forward: every forwarding mode carries real HTTP end to end, over IPv4
# and over IPv6, and the client gets answers from all three backends:
# - nat: the balancer rewrites destination (to backend:8080) and, on the way
#   back through it, the reply's source (to the VIP);
# - dsr: only MACs change; the backend holds the VIP on loopback and answers
#   the client directly (through the balancer's kernel routing here);
# - ipip: the balancer encapsulates; each backend runs sluice's decap program
#   (tests/e2e/decap_load), which must have stripped the tunnels it got.
# Each mode also shows up in the data plane's counters: NAT replies for nat,
# none for dsr and ipip.
set -u
. tests/e2e/lab.sh
lab_trap "fw$$"

lab_up "fw$$" || fail "lab_up failed"
lab_decap_start || fail "decap_load did not start on the backends"
lab_sluiced_start || fail "sluiced did not start"
must lab_attach
out="$LAB_DIR/out"
N=60

# vip_check NAME VIP BACKENDPORT FAMILY MODE: add a VIP, three backends, and
# send N requests; all must succeed and reach every backend.
vip_check() {
	name=$1
	vip=$2
	port=$3
	fam=$4
	mode=$5
	case "$fam" in
	4) vip_ep="$vip:80" ;;
	6) vip_ep="[$vip]:80" ;;
	esac
	must ctl vip add "$name" "$vip_ep" --strategy rr --forward "$mode"
	for n in 1 2 3; do
		case "$fam" in
		4) be="$(be4 $n)" ;;
		6) be="[$(be6 $n)]" ;;
		esac
		[ -n "$port" ] && be="$be:$port"
		must ctl backend add "$name" "$be"
	done
	before=$(ctl --json stats | jget counters.nat_reply)
	hammer -n "$N" -q -t 1000 -a "$vip" -p 80 >"$out" 2>&1
	after=$(ctl --json stats | jget counters.nat_reply)
	echo "    $(grep -E '^(b[0-9]|failed) ' "$out" | tr '\n' ' ')nat_reply +$((after - before))"
	[ "$(count failed "$out")" -eq 0 ] ||
		fail "$mode IPv$fam: $(count failed "$out") of $N failed"
	for n in 1 2 3; do
		[ "$(count "b$n" "$out")" -gt 0 ] || fail "$mode IPv$fam: b$n never answered"
	done
	if [ "$mode" = nat ]; then
		[ "$after" -gt "$before" ] || fail "nat IPv$fam: no NAT reply was counted"
	else
		[ "$after" -eq "$before" ] ||
			fail "$mode IPv$fam: $((after - before)) NAT replies counted"
	fi
}

step "nat, IPv4"
vip_check web-nat 198.19.0.10 8080 4 nat
step "nat, IPv6"
vip_check web6-nat 2001:db8:f::10 8080 6 nat
step "dsr, IPv4 (backends on the VIP's port)"
vip_check web-dsr 198.19.0.11 "" 4 dsr
step "dsr, IPv6"
vip_check web6-dsr 2001:db8:f::11 "" 6 dsr
step "ipip, IPv4 (backends decapsulate with sl_decap)"
vip_check web-ipip 198.19.0.12 "" 4 ipip
step "ipip, IPv6"
vip_check web6-ipip 2001:db8:f::12 "" 6 ipip

step "every backend's sl_decap stripped tunnel packets"
lab_decap_stop
for n in 1 2 3; do
	line=$(grep 'decapsulated' "$LAB_DIR/decap-b$n.log")
	echo "    b$n: $line"
	dec=$(echo "$line" | sed -n 's/.*: \([0-9]*\) packets decapsulated.*/\1/p')
	[ "${dec:-0}" -gt 0 ] || fail "b$n: sl_decap decapsulated nothing ($line)"
done
