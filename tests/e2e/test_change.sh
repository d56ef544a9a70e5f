#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# test_change: configuration changes never move an established connection.
# Four long-lived keep-alive connections send a request every 100 ms while
# the VIP changes under them: a weight raised, a backend added, a weight set
# to 0 (no new flows), the strategy switched to maglev. Every request on every
# connection must be answered by the backend it started on; meanwhile new
# connections must see the changes (the added backend gets some, the weight-0
# one none).
set -u
. tests/e2e/lab.sh
lab_trap "ch$$"

lab_up "ch$$" || fail "lab_up failed"
lab_sluiced_start || fail "sluiced did not start"
must lab_attach
must ctl vip add web "$VIP4:80" --strategy wrr --forward nat
must ctl backend add web "$(be4 1):8080"
must ctl backend add web "$(be4 2):8080"
out="$LAB_DIR/out"

step "four long-lived connections"
kas=""
for i in 1 2 3 4; do
	ka_start "ka$i" -a "$VIP4" || fail "keep-alive connection $i got no answer"
	kas="$kas $LAST_PID:ka$i"
	echo "    ka$i on $(ka_backend "ka$i")"
done

step "changes under them"
for change in "backend set web $(be4 1):8080 --weight 5" \
	"backend add web $(be4 3):8080 --weight 3" \
	"backend set web $(be4 2):8080 --weight 0" \
	"vip set web --strategy maglev"; do
	echo "    sluicectl $change"
	# shellcheck disable=SC2086
	must ctl $change
	sleep 0.3
done

step "new connections follow the new configuration"
hammer -n 120 -q -a "$VIP4" >"$out"
echo "    $(grep -E '^(b[0-9]|failed) ' "$out" | tr '\n' ' ')"
[ "$(count failed "$out")" -eq 0 ] || fail "$(count failed "$out") of 120 new connections failed"
[ "$(count b3 "$out")" -gt 0 ] || fail "the added backend b3 got no new connection"
[ "$(count b2 "$out")" -eq 0 ] || fail "b2 (weight 0) got $(count b2 "$out") new connections"

step "every long-lived connection kept its backend, no request failed"
for k in $kas; do
	ka_stop "${k%%:*}" "${k#*:}"
done
