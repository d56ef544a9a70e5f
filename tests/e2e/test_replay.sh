#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# test_replay: the agent's state survives both kinds of restart.
# - SIGTERM: sluiced exits, XDP stays attached (no --detach-on-exit), traffic
#   keeps flowing with no agent, and the next agent serves the same config;
# - a reboot, simulated by killing the agent and removing its bpffs directory
#   (maps and XDP links gone, the VIP stops answering): the next agent
#   rebuilds everything from its journal: the same `show config`, XDP
#   attached again, traffic flowing, and, Maglev tables being built from the
#   backends alone, every fixed client 4-tuple on the same backend as before.
set -u
. tests/e2e/lab.sh
lab_trap "rp$$"
PORTS="20001 20002 20003 20004 20005 20006"

lab_web "rp$$" maglev weighted
must ctl limit set web --conn-rate 1000 --conn-burst 1000
ctl show config >"$LAB_DIR/config.before" || fail "show config failed"
out="$LAB_DIR/out"

# placements FILE: the backend of each fixed source port, one "PORT NAME" a line.
placements() {
	: >"$1"
	for p in $PORTS; do
		hammer -n 1 -q -s "$p" -a "$VIP4" >"$out"
		_b=$(grep '^b[0-9] ' "$out" | cut -d' ' -f1)
		[ -n "$_b" ] || fail "source port $p: no answer"
		echo "$p $_b" >>"$1"
	done
}
# flows N: N requests must all succeed.
flows() {
	hammer -n "$1" -q -a "$VIP4" >"$out"
	echo "    $(grep -E '^(b[0-9]|failed) ' "$out" | tr '\n' ' ')"
	[ "$(count failed "$out")" -eq 0 ] || fail "$2: $(count failed "$out") of $1 failed"
}
same_config() {
	ctl show config >"$LAB_DIR/config.now" || fail "show config failed"
	cmp -s "$LAB_DIR/config.before" "$LAB_DIR/config.now" ||
		fail "$1: show config changed: $(diff "$LAB_DIR/config.before" "$LAB_DIR/config.now")"
}
placements "$LAB_DIR/placed.before"

step "SIGTERM: the agent exits, XDP keeps forwarding"
lab_sluiced_stop
flows 60 "without the agent"
lab_sluiced_start || fail "sluiced did not start again"
same_config "after a SIGTERM restart"

step "a reboot: agent killed, pins removed; the VIP stops answering"
lab_sluiced_kill
rm -rf "$LAB_BPFFS"
hammer -n 1 -q -t 300 -a "$VIP4" >"$out"
[ "$(count failed "$out")" -eq 1 ] || fail "the VIP still answers with no XDP program"

step "the next agent replays its journal"
lab_sluiced_start || fail "sluiced did not start after the reboot"
same_config "after the journal replay"
in_lb ip link show to-cli | grep -q xdp || fail "to-cli has no XDP program after the replay"
flows 60 "after the journal replay"
placements "$LAB_DIR/placed.after"
sed 's/^/    source port /' "$LAB_DIR/placed.after"
cmp -s "$LAB_DIR/placed.before" "$LAB_DIR/placed.after" ||
	fail "maglev placements changed: $(diff "$LAB_DIR/placed.before" "$LAB_DIR/placed.after")"
