#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# test_circuit: an L7 backend's circuit breaker, driven by real requests.
# An L7 VIP "web" (round robin) over two backends: b1:9000, a small server
# whose answer status is switched by a file (500 = broken, 200 = fixed) and
# that logs every request it gets, and b2:8080 (httpd, always 200). The VIP's
# "circuit" (applied with `sluicectl apply`): failure_threshold 3,
# success_threshold 2, open_ms 2500, half_open_max 1, call_timeout_ms 1000.
# - closed -> open after exactly failure_threshold consecutive 500s from b1
#   (still closed after 2; `backend list` says open after the 3rd);
# - while open, b1 receives nothing (its request log stays the same) while the
#   client keeps sending, and the client sees no 5xx: every request is
#   answered 200 by b2;
# - after open_ms it goes half-open by itself (the agent's 1 s tick) and
#   admits a trial; b1 still broken: that one trial failure opens it again;
# - b1 fixed: half-open again, and success_threshold successful trials close
#   it; b1 serves its share again;
# - broken again, open after 3 failures; `circuit reset web B1` closes it at
#   once (reason reset) and b1 gets requests again;
# - each transition is exactly one circuit.* event, in order (seq 1..7) with
#   the reason that fired: failures, timer, trial_failure, timer, successes,
#   failures, reset.
# Under SL_E2E_IN_VM=1 (QEMU, software emulation) open_ms is 15 s and
# call_timeout_ms 5 s, so that the "while open" window holds the requests
# (6 s was too short once, on 6.1 with the host busy: 25 curls took longer).
set -u
. tests/e2e/lab.sh
lab_trap "ci$$"
if [ "${SL_E2E_IN_VM:-0}" = 1 ]; then
	open_ms=15000
	call_ms=5000
	wait_s=10
else
	open_ms=2500
	call_ms=1000
	wait_s=3
fi
B1="$(be4 1):9000"
B2="$(be4 2):8080"

lab_up "ci$$" || fail "lab_up failed"
lab_sluiced_start --workers 2 || fail "sluiced did not start"
ip -n "$NS_LB" addr add "$VIP4/32" dev lo || fail "cannot add $VIP4 to the balancer's lo"
out="$LAB_DIR/out"

# The switchable backend: answers the status in $LAB_DIR/b1.status (read
# at every request) with the body "b1", and prints "req STATUS PATH" for
# every request it receives.
cat >"$LAB_DIR/b1.py" <<'EOF'
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

addr, port, status_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        with open(status_file) as f:
            status = int(f.read().strip())
        print("req %d %s" % (status, self.path), flush=True)
        body = b"b1\n"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

srv = ThreadingHTTPServer((addr, port), H)
srv.daemon_threads = True
print("listening", flush=True)
srv.serve_forever()
EOF
echo 500 >"$LAB_DIR/b1.status"
_lab_bg b1py ip netns exec "$LAB-b1" python3 "$LAB_DIR/b1.py" "$(be4 1)" 9000 "$LAB_DIR/b1.status"
_lab_wait_line "$LAB_DIR/b1py.log" listening "$LAST_PID" || fail "the b1 server did not start"
b1_reqs() { grep -c '^req ' "$LAB_DIR/b1py.log"; }

cat >"$LAB_DIR/conf.json" <<EOF
{
  "interfaces": [{"name": "to-cli"}, {"name": "to-b1"}, {"name": "to-b2"}, {"name": "to-b3"}],
  "vips": [{
    "name": "web", "address": "$VIP4", "port": 80, "strategy": "rr", "l7": true,
    "circuit": {"failure_threshold": 3, "success_threshold": 2, "open_ms": $open_ms,
                "half_open_max": 1, "call_timeout_ms": $call_ms},
    "backends": [{"address": "$(be4 1)", "port": 9000}, {"address": "$(be4 2)", "port": 8080}]
  }]
}
EOF
must ctl apply "$LAB_DIR/conf.json"
ev0=$(ctl events | tail -n 1 | awk '{ print $1 + 1 }')
[ -n "$ev0" ] || ev0=0

# circuit_of ADDR:PORT: what backend list says of that backend's breaker.
circuit_of() {
	ctl --json backend list web | python3 -c '
import json, sys
addr, port = sys.argv[1].rsplit(":", 1)
for b in json.load(sys.stdin):
    if b["address"] == addr and b["port"] == int(port):
        print(b.get("circuit", "none"))' "$1"
}
# cevents: the circuit events since the test began, "TYPE BACKEND from=F reason=R seq=N".
cevents() { ctl events --from "$ev0" --type circuit | awk '{ $1 = ""; $2 = ""; $4 = ""; print }' | sed 's/^ *//; s/  */ /g'; }
# wait_circuit N: wait (up to WAIT s) until there are N circuit events.
wait_circuit() {
	_i=0
	while [ "$(cevents | wc -l)" -lt "$1" ]; do
		_i=$((_i + 1))
		[ "$_i" -gt $((${2:-5} * 20)) ] &&
			fail "expected $1 circuit events within ${2:-5}s, got: $(cevents | tr '\n' '|')"
		sleep 0.05
	done
}
# get TAG: one request from the client; prints "STATUS BODY".
get() {
	in_cli curl -s -m "$wait_s" -w ' %{http_code}' "http://$VIP4/$1" | tr -d '\n' |
		awk '{ print $2, $1 }'
}

step "closed -> open after exactly 3 consecutive 500s from b1"
[ "$(circuit_of "$B1")" = closed ] || fail "b1's breaker is '$(circuit_of "$B1")', expected closed"
i=0
while [ "$(b1_reqs)" -lt 3 ]; do
	i=$((i + 1))
	[ "$i" -le 10 ] || fail "b1 got $(b1_reqs) of 10 requests, expected 3 by now (round robin)"
	got=$(get "f$i")
	echo "    request f$i: $got"
	n=$(b1_reqs)
	if [ "$n" -lt 3 ]; then
		[ "$(circuit_of "$B1")" = closed ] ||
			fail "after $n failures b1's breaker is '$(circuit_of "$B1")', expected closed"
		[ "$(cevents | wc -l)" -eq 0 ] || fail "a circuit event after $n failures: $(cevents)"
	fi
done
wait_circuit 1
[ "$(circuit_of "$B1")" = open ] || fail "b1's breaker is '$(circuit_of "$B1")', expected open"
echo "    $(cevents | tail -n 1)"

step "open: b1 gets nothing, the client gets 200 from b2 every time"
n=$(b1_reqs)
# 20 requests on one keep-alive connection (round robin is per request), then
# 5 on new connections: well within open_ms
in_cli curl -s -m "$wait_s" -w '%{http_code}\n' "http://$VIP4/o[1-20]" >"$out"
for i in 1 2 3 4 5; do get "n$i" >>"$out"; done
[ "$(cevents | wc -l)" -eq 1 ] || fail "expected still 1 circuit event while open: $(cevents)"
[ "$(b1_reqs)" -eq "$n" ] || fail "b1 got $(($(b1_reqs) - n)) requests while its breaker was open"
ok=$(grep -c '^200' "$out")
b2=$(grep -c 'b2$' "$out")
if [ "$ok" -ne 25 ] || [ "$b2" -ne 25 ] || grep -q '^[1-9][0-9][0-9] b[13]' "$out"; then
	fail "expected 25 answers 200 from b2 while open; got: $(tr '\n' '|' <"$out")"
fi
[ "$(circuit_of "$B2")" = closed ] || fail "b2's breaker is '$(circuit_of "$B2")', expected closed"
echo "    25 requests, all 200 from b2; b1 still at $n requests"

step "half-open after open_ms; the trial fails (b1 still broken): open again"
wait_circuit 2 $((open_ms / 1000 + 3))
[ "$(circuit_of "$B1")" = half-open ] || fail "b1's breaker is '$(circuit_of "$B1")', expected half-open"
i=0
while [ "$(b1_reqs)" -eq "$n" ]; do
	i=$((i + 1))
	[ "$i" -le 4 ] || fail "half-open b1 got none of 4 requests"
	get "t$i" >/dev/null
done
wait_circuit 3
[ "$(b1_reqs)" -eq $((n + 1)) ] || fail "b1 got $(($(b1_reqs) - n)) trials, expected 1"
[ "$(circuit_of "$B1")" = open ] || fail "b1's breaker is '$(circuit_of "$B1")', expected open"
echo "    $(cevents | tail -n 2 | tr '\n' '|')"

step "b1 fixed: half-open, then closed after 2 successful trials"
echo 200 >"$LAB_DIR/b1.status"
wait_circuit 4 $((open_ms / 1000 + 3))
n=$(b1_reqs)
: >"$out"
i=0
while [ "$(cevents | wc -l)" -lt 5 ]; do
	i=$((i + 1))
	[ "$i" -le 10 ] || fail "half-open, b1 fixed: not closed after 10 requests: $(cevents | tr '\n' '|')"
	get "s$i" >>"$out"
done
wait_circuit 5
[ "$(b1_reqs)" -eq $((n + 2)) ] || fail "b1 got $(($(b1_reqs) - n)) trials before closing, expected 2"
grep -v '^200 ' "$out" && fail "a request failed while b1 was half-open and fixed"
[ "$(circuit_of "$B1")" = closed ] || fail "b1's breaker is '$(circuit_of "$B1")', expected closed"
: >"$out"
for i in 1 2 3 4 5 6; do get "c$i" >>"$out"; done
[ "$(grep -c '^200 b1$' "$out")" -eq 3 ] ||
	fail "closed again: expected b1 to answer 3 of 6, got: $(tr '\n' '|' <"$out")"

step "broken again: open after 3 failures; circuit reset closes it at once"
echo 500 >"$LAB_DIR/b1.status"
n=$(b1_reqs)
i=0
while [ "$(b1_reqs)" -lt $((n + 3)) ]; do
	i=$((i + 1))
	[ "$i" -le 10 ] || fail "b1 got $(($(b1_reqs) - n)) of 10 requests"
	get "g$i" >/dev/null
done
wait_circuit 6
[ "$(circuit_of "$B1")" = open ] || fail "b1's breaker is '$(circuit_of "$B1")', expected open"
must ctl circuit reset web "$B1"
[ "$(cevents | wc -l)" -eq 7 ] || fail "expected 7 circuit events right after the reset: $(cevents | tr '\n' '|')"
[ "$(circuit_of "$B1")" = closed ] || fail "b1's breaker is '$(circuit_of "$B1")' after reset, expected closed"
echo 200 >"$LAB_DIR/b1.status"
n=$(b1_reqs)
for i in 1 2 3 4; do get "r$i" >/dev/null; done
[ "$(b1_reqs)" -eq $((n + 2)) ] || fail "after reset b1 got $(($(b1_reqs) - n)) of 4 requests, expected 2"

step "one event per transition, in order"
cevents >"$out"
sed 's/^/    /' "$out"
cat >"$LAB_DIR/want" <<EOF
circuit.open $B1 from=closed reason=failures seq=1
circuit.half-open $B1 from=open reason=timer seq=2
circuit.open $B1 from=half-open reason=trial_failure seq=3
circuit.half-open $B1 from=open reason=timer seq=4
circuit.closed $B1 from=half-open reason=successes seq=5
circuit.open $B1 from=closed reason=failures seq=6
circuit.closed $B1 from=open reason=reset seq=7
EOF
diff "$LAB_DIR/want" "$out" >"$LAB_DIR/diff" || fail "circuit events differ: $(cat "$LAB_DIR/diff")"
