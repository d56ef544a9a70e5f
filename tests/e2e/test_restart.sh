#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# test_restart: the data plane does not need the agent, and a new agent adopts
# what the old one left.
# - sluiced is killed with SIGKILL (no cleanup at all) in the middle of a loop
#   of new connections and of a long-lived keep-alive connection: not one
#   request fails, new connections keep reaching every backend;
# - a new sluiced with the same state dir, bpffs dir and socket (the old
#   socket file still there) answers, and `vip list`, `show config` and the
#   configuration columns of `backend list` (VIP, backend, weight, state,
#   active flows) are exactly as before; the packet counters kept counting
#   through the outage (the pinned maps were adopted, not recreated);
# - the new agent can change the configuration, and the change takes effect.
set -u
. tests/e2e/lab.sh
lab_trap "rs$$"

lab_web "rs$$" wrr weighted
must ctl vip add web6 "[$VIP6]:80" --strategy maglev --forward dsr
for n in 1 2 3; do
	must ctl backend add web6 "[$(be6 $n)]" --weight 2
done
must ctl limit set web6 --conn-rate 1000 --conn-burst 1000
out="$LAB_DIR/out"

# the configuration columns of backend list, and its packet counters
cfg_cols() { awk '{ print $1, $2, $3, $4, $5 }'; }

step "a long-lived connection, then a snapshot of the agent's view"
ka_start ka -a "$VIP4" || fail "the keep-alive connection got no answer"
KA_PID=$LAST_PID
hammer -n 30 -q -a "$VIP6" >/dev/null
ctl vip list >"$LAB_DIR/vips.before" || fail "vip list failed"
ctl backend list >"$LAB_DIR/backends.before" || fail "backend list failed"
ctl show config >"$LAB_DIR/config.before" || fail "show config failed"
pk_before=$(ctl --json stats | jget 'vips[name=web].packets')

step "kill -9 sluiced during a 3 s loop of new connections"
_lab_bg loop ip netns exec "$NS_CLI" "$HAMMER" -l 3 -a "$VIP4"
LOOP_PID=$LAST_PID
sleep 1
lab_sluiced_kill
echo "    sluiced killed at about 1 s"
wait "$LOOP_PID"
_lab_forget "$LOOP_PID"
echo "    $(grep -E '^(b[0-9]|failed) ' "$LAB_DIR/loop.log" | tr '\n' ' ')"
[ "$(count failed "$LAB_DIR/loop.log")" -eq 0 ] ||
	fail "$(count failed "$LAB_DIR/loop.log") requests failed:" \
		"$(grep hammer: "$LAB_DIR/loop.log" | head -3)"
for n in 1 2 3; do
	[ "$(count "b$n" "$LAB_DIR/loop.log")" -gt 0 ] || fail "b$n got no connection in the loop"
done
hammer -n 30 -q -a "$VIP6" >"$out"
[ "$(count failed "$out")" -eq 0 ] ||
	fail "IPv6 dsr VIP: $(count failed "$out") of 30 failed without the agent"

step "a new sluiced adopts the state"
[ -S "$LAB_SOCK" ] && echo "    (the killed agent's socket file is still there)"
lab_sluiced_start || fail "the new sluiced did not start"
ctl vip list >"$LAB_DIR/vips.after" || fail "vip list failed"
ctl backend list >"$LAB_DIR/backends.after" || fail "backend list failed"
ctl show config >"$LAB_DIR/config.after" || fail "show config failed"
sed 's/^/    /' "$LAB_DIR/vips.after" "$LAB_DIR/backends.after"
cmp -s "$LAB_DIR/vips.before" "$LAB_DIR/vips.after" ||
	fail "vip list changed: $(diff "$LAB_DIR/vips.before" "$LAB_DIR/vips.after")"
cmp -s "$LAB_DIR/config.before" "$LAB_DIR/config.after" ||
	fail "show config changed: $(diff "$LAB_DIR/config.before" "$LAB_DIR/config.after")"
cfg_cols <"$LAB_DIR/backends.before" >"$LAB_DIR/b.before"
cfg_cols <"$LAB_DIR/backends.after" >"$LAB_DIR/b.after"
cmp -s "$LAB_DIR/b.before" "$LAB_DIR/b.after" ||
	fail "backend list changed: $(diff "$LAB_DIR/b.before" "$LAB_DIR/b.after")"
pk_after=$(ctl --json stats | jget 'vips[name=web].packets')
echo "    web packets: $pk_before before the kill, $pk_after now"
[ "$pk_after" -gt "$pk_before" ] ||
	fail "web's packet counter went from $pk_before to $pk_after: were the maps recreated?"

step "the new agent changes the configuration"
must ctl backend set web "$(be4 1):8080" --weight 0
hammer -n 60 -q -a "$VIP4" >"$out"
echo "    $(grep -E '^(b[0-9]|failed) ' "$out" | tr '\n' ' ')"
[ "$(count failed "$out")" -eq 0 ] || fail "$(count failed "$out") of 60 failed after the restart"
[ "$(count b1 "$out")" -eq 0 ] || fail "b1 (weight 0 now) got $(count b1 "$out") new connections"

step "the long-lived connection lived through it all"
ka_stop "$KA_PID" ka
