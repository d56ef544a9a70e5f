#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# test_drain: `backend drain` stops new flows to a backend while its
# established flows finish, then removes it:
# - a long-lived keep-alive connection to the drained backend keeps working
#   (a request every 100 ms, none fails) through and after the drain;
# - new connections avoid the drained backend;
# - `backend list` shows it draining while the connection lives, and no more
#   once the connection has closed (well before the drain timeout);
# - the drain timeout is a deadline: a backend whose flow never ends is
#   removed when it expires.
set -u
. tests/e2e/lab.sh
lab_trap "dr$$"

lab_web "dr$$" rr
out="$LAB_DIR/out"

step "a long-lived keep-alive connection"
ka_start ka -a "$VIP4" || fail "the keep-alive connection got no answer"
KA_PID=$LAST_PID
victim=$(ka_backend ka)
n=${victim#b}
addr="$(be4 "$n"):8080"
echo "    it landed on $victim ($addr)"

step "backend drain web $addr --timeout 60"
must ctl backend drain web "$addr" --timeout 60
state=$(ctl --json backend list web | jget "[address=$(be4 "$n")].state")
echo "    state: $state"
[ "$state" = draining ] || fail "backend list: $addr is '$state', expected draining"

step "new connections avoid $victim"
hammer -n 90 -q -a "$VIP4" >"$out"
echo "    $(grep -E '^(b[0-9]|failed) ' "$out" | tr '\n' ' ')"
[ "$(count failed "$out")" -eq 0 ] || fail "$(count failed "$out") of 90 new connections failed"
[ "$(count "$victim" "$out")" -eq 0 ] ||
	fail "$(count "$victim" "$out") new connections went to the draining $victim"

step "the long-lived connection still works, and the backend is still listed"
sleep 1
state=$(ctl --json backend list web | jget "[address=$(be4 "$n")].state")
[ "$state" = draining ] || fail "backend list: $addr is '$state' while its flow lives"
ka_stop "$KA_PID" ka

step "once the connection closed, $addr leaves backend list"
i=0
while ctl backend list web | grep -q "$(be4 "$n")"; do
	i=$((i + 1))
	[ "$i" -le 100 ] ||
		fail "$addr still listed 10 s after its last flow closed: $(ctl backend list web)"
	sleep 0.1
done
echo "    gone after about $((i / 10)).$((i % 10)) s"
ctl backend list web | sed 's/^/    /'
[ "$(ctl --json backend list web | jget '#')" -eq 2 ] || fail "expected 2 backends left"

step "drain --timeout 1 with a connection that stays open: removed at the deadline"
ka_start ka2 -a "$VIP4" || fail "the keep-alive connection got no answer"
KA2_PID=$LAST_PID
n=$(ka_backend ka2)
n=${n#b}
must ctl backend drain web "$(be4 "$n"):8080" --timeout 1
i=0
while ctl backend list web | grep -q "$(be4 "$n")"; do
	i=$((i + 1))
	[ "$i" -le 50 ] || fail "$(be4 "$n"):8080 still listed 5 s into a 1 s drain"
	sleep 0.1
done
echo "    $(be4 "$n"):8080 gone after about $((i / 10)).$((i % 10)) s, its connection still open"
_lab_stop "$KA2_PID"
