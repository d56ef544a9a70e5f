#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# test_strategies: how each balancing strategy splits real connections.
# - wrr 1:2:3 gives each backend its share within 10% over 600 connections
#   (smooth wrr is exact, so this is far inside the margin);
# - rr gives an even split within 10% over 600, ignoring the weights;
# - maglev sends the same client 4-tuple (a fixed source port) to the same
#   backend every time, and its weights hold within 10%. rr, with the same
#   fixed port, does not stick: the affinity check can fail;
# - one `apply` that changes every backend of a maglev VIP (an apply builds
#   each Maglev table once, at its end) leaves the table right: 1:1:1;
# - random with weights 1:2:3 holds its weights within 10%;
# - leastconn with six concurrent long-lived connections, weights 1:2:3,
#   ends with exactly 1, 2 and 3 open flows (the allocation minimising
#   active/weight), and `backend list` shows those counts.
# Maglev and random place each flow by a hash or a random draw, so their
# splits are binomial samples: 6000 connections keep the 10% margin more
# than 3 standard deviations wide for the smallest share (1/6: 1000 ± 29).
set -u
. tests/e2e/lab.sh
lab_trap "st$$"

lab_web "st$$" wrr weighted
out="$LAB_DIR/out"

step "wrr 1:2:3 over 600 connections"
hammer -n 600 -q -a "$VIP4" >"$out"
[ "$(count failed "$out")" -eq 0 ] || fail "$(count failed "$out") of 600 requests failed"
share_check "$out" 600 1 2 3

step "rr over 600 connections: even, whatever the weights"
must ctl vip set web --strategy rr
hammer -n 600 -q -a "$VIP4" >"$out"
[ "$(count failed "$out")" -eq 0 ] || fail "$(count failed "$out") of 600 requests failed"
share_check "$out" 600 1 1 1

# Fixed source ports are below ip_local_port_range (32768-60999): an ephemeral
# port of an earlier connection, in TIME_WAIT towards the same VIP, would make
# connect() from the same port fail with EADDRNOTAVAIL.
step "rr does not keep a fixed source port on one backend (control for maglev)"
hammer -n 6 -q -s 20000 -a "$VIP4" >"$out"
names=$(grep -c '^b[0-9] ' "$out")
echo "    source port 20000 x6 under rr: $(grep '^b[0-9] ' "$out" | tr '\n' ' ')"
[ "$names" -gt 1 ] || fail "rr sent 6 connections from one source port to a single backend"

step "maglev: each fixed source port lands on one backend, every time"
must ctl vip set web --strategy maglev
for port in 20001 20002 20003 20004 20005 20006 20007 20008; do
	hammer -n 5 -q -s "$port" -a "$VIP4" >"$out"
	got=$(grep '^b[0-9] ' "$out" | tr '\n' ' ')
	echo "    source port $port x5: $got"
	[ "$(count failed "$out")" -eq 0 ] || fail "port $port: $(count failed "$out") failed"
	[ "$(grep -c '^b[0-9] 5$' "$out")" -eq 1 ] ||
		fail "source port $port went to more than one backend: $got"
done

step "maglev 1:2:3 over 6000 connections"
hammer -n 6000 -q -a "$VIP4" >"$out"
[ "$(count failed "$out")" -eq 0 ] || fail "$(count failed "$out") of 6000 requests failed"
share_check "$out" 6000 1 2 3

step "maglev after one apply that reweighs every backend to 1:1:1 (its table is built once, at the end)"
cfg="$LAB_DIR/cfg.json"
ctl --json show config | python3 -c '
import json, sys
c = json.load(sys.stdin)
for v in c["vips"]:
    if v["name"] == "web":
        for b in v["backends"]:
            b["weight"] = 1
json.dump(c, sys.stdout)' >"$cfg" || fail "cannot write $cfg"
must ctl apply "$cfg"
hammer -n 6000 -q -a "$VIP4" >"$out"
[ "$(count failed "$out")" -eq 0 ] || fail "$(count failed "$out") of 6000 requests failed"
share_check "$out" 6000 1 1 1
# back to 1:2:3 the same way, for the strategies below
ctl --json show config | python3 -c '
import json, sys
c = json.load(sys.stdin)
for v in c["vips"]:
    if v["name"] == "web":
        for i, b in enumerate(v["backends"]):
            b["weight"] = i + 1
json.dump(c, sys.stdout)' >"$cfg" || fail "cannot write $cfg"
must ctl apply "$cfg"

step "random 1:2:3 over 6000 connections"
must ctl vip set web --strategy random
hammer -n 6000 -q -a "$VIP4" >"$out"
[ "$(count failed "$out")" -eq 0 ] || fail "$(count failed "$out") of 6000 requests failed"
share_check "$out" 6000 1 2 3

step "leastconn 1:2:3 with six concurrent long-lived connections"
must ctl vip set web --strategy leastconn
pids=""
for i in 1 2 3 4 5 6; do
	ka_start "lc$i" -a "$VIP4" || fail "keep-alive connection $i got no answer"
	pids="$pids $LAST_PID:lc$i"
done
for n in 1 2 3; do
	c=0
	for i in 1 2 3 4 5 6; do
		[ "$(ka_backend "lc$i")" = "b$n" ] && c=$((c + 1))
	done
	active=$(ctl --json backend list web | jget "[address=$(be4 $n)].active_flows")
	echo "    b$n (weight $n): $c connections, active_flows $active"
	[ "$c" -eq "$n" ] || fail "leastconn gave b$n $c of 6 connections, expected $n"
	[ "$active" = "$n" ] || fail "backend list: b$n active_flows $active, expected $n"
done
for p in $pids; do
	ka_stop "${p%%:*}" "${p#*:}"
done
