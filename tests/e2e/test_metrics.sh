#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# test_metrics: sluiced's admin endpoint, as a real Prometheus server sees it.
# - The lab with an L4 NAT VIP "web" over the three backends plus a fourth one
#   that refuses connections (b1:9), and an L7 VIP "web7" with two routes:
#   "api" (/api/, JWT required) and "pub" (/); HTTP health checks on both
#   VIPs. Traffic runs in the background for the whole test: new L4
#   connections, L7 requests on "pub" and JWT-authenticated ones on "api".
# - A Prometheus server (Debian's prometheus) runs in the balancer's
#   namespace with a configuration of this test (one job, one target,
#   127.0.0.1:9100, scraped every second) and its storage in the lab's
#   directory. Through its HTTP API (/api/v1/query): up{job} is 1;
#   sluice_vip_packets_total{vip="web"} grows between two queries 3 s apart;
#   sluice_backend_packets_total has a series for each of web's four backends,
#   > 0 for the three live ones; sluice_backend_up is 1 for the live ones and 0
#   for the refusing one; sum(sluice_l7_requests_total{vip="web7",code="2xx"})
#   grows, and the "api" route has 2xx answers and JWT verifications with
#   result "ok"; sluice_drops_total has one series per drop reason, exactly
#   the reasons of /stats' "drops"; the p99 of web7's request durations
#   (histogram_quantile over a rate of the buckets) is a number > 0.
# - `promtool check metrics` finds nothing to say about /metrics, whose
#   Content-Type is the 0.0.4 text format.
# - /healthz answers 200 with "ready": true; /stats is JSON whose "window" is
#   null or a number on the first call and a number on the second; an
#   unknown path gets 404, a POST 405.
# - sluiced asked to serve the admin endpoint on a non-loopback address
#   (--admin 198.18.0.1:9101) without --admin-public refuses to start: it
#   exits non-zero within 10 s, naming --admin-public.
# Under SL_E2E_IN_VM=1 (QEMU, software emulation) the Prometheus part is
# skipped (said as "skipped"): the guest sees the host's prometheus, but a Go
# server under TCG scraping every second is too slow for the windows used
# here. Everything else runs there, with slower health checks; promtool runs
# when it is installed (else that check says skipped).
set -u
. tests/e2e/lab.sh
T="mt$$"
lab_trap "$T"
# The refused agent below gets its own bpffs directory; remove it too.
REFUSE_BPFFS="/sys/fs/bpf/sluice-e2e-$T-refuse"
# shellcheck disable=SC2064
trap "rm -rf '$REFUSE_BPFFS'; lab_down '$T'" EXIT

JWTMINT="$OUT/bin/e2e/jwtmint"
VIP_L7=198.19.0.11
ADMIN=127.0.0.1:9100
PROM_PORT=9090
if [ "${SL_E2E_IN_VM:-0}" = 1 ]; then
	IVL=500
	TMO=400
	WAIT=300 # tenths of a second
	PROM=0
else
	# not shorter: a 100 ms timeout with fall 1 flaps while Chromium or
	# Prometheus start on a 2-CPU host (seen in test_status_page)
	IVL=300
	TMO=250
	WAIT=80
	PROM=1
	command -v prometheus >/dev/null ||
		fail "prometheus is not installed (Debian package prometheus; see mk/deps.sh)"
fi
PY=$(python3 -c 'import sys; print(sys.executable)') || fail "python3 is needed"

lab_up "$T" || fail "lab_up failed"
out="$LAB_DIR/out"

# The helpers in python (see each subcommand's comment).
cat >"$LAB_DIR/m.py" <<'EOF'
import json, sys

def prom():
    # A Prometheus API answer on stdin -> one line per sample,
    # 'name{k="v",...} VALUE' (labels sorted), or 'scalar VALUE'.
    # Exit 2 (the answer on stderr) when it is not a success.
    raw = sys.stdin.read()
    try:
        d = json.loads(raw)
    except ValueError:
        sys.exit("not JSON: " + raw[:300])
    if d.get("status") != "success":
        sys.exit("query failed: " + raw[:300])
    r = d["data"]
    if r["resultType"] in ("scalar", "string"):
        print("scalar", r["result"][1])
        return
    for s in r["result"]:
        m = dict(s["metric"])
        name = m.pop("__name__", "")
        labels = ",".join('%s="%s"' % (k, m[k]) for k in sorted(m))
        print("%s{%s} %s" % (name, labels, s["value"][1]))

def stats():
    # /stats on stdin: check it is a JSON object; print window, ready-ness and
    # the drop reasons: 'window W', 'drops R1 R2 ...'.
    d = json.load(sys.stdin)
    w = d["window"]
    if w is not None and not isinstance(w, (int, float)):
        sys.exit("window is %r" % (w,))
    print("window", "null" if w is None else w)
    print("drops", " ".join(sorted(d["drops"])))

def healthz():
    # /healthz's JSON on stdin: prints live and ready as true/false.
    d = json.load(sys.stdin)
    print("live", json.dumps(d.get("live")), "ready", json.dumps(d.get("ready")))

{"prom": prom, "stats": stats, "healthz": healthz}[sys.argv[1]]()
EOF

# admin METHOD PATH FILE: one request to the admin endpoint from inside the
# balancer's namespace (a POST carries a small form body); the body in FILE,
# the head in FILE.head; prints the status code.
admin() {
	if [ "$1" = POST ]; then set -- "$@" --data x=1; else set -- "$@" -X "$1"; fi
	_p=$2
	_f=$3
	shift 3
	in_lb curl -s -m 5 -o "$_f" -D "$_f.head" -w '%{http_code}' "$@" "http://$ADMIN$_p"
}
# wait_admin: until /healthz answers at all (the agent opens it as it starts).
wait_admin() {
	_i=0
	until in_lb curl -s -m 2 -o /dev/null "http://$ADMIN/healthz"; do
		_i=$((_i + 1))
		[ "$_i" -le "$WAIT" ] || fail "no answer on http://$ADMIN/healthz after $((WAIT / 10)) s"
		sleep 0.1
	done
}
# q PROMQL FILE: the result of an instant query to the test's Prometheus, one
# sample a line (see m.py prom), into FILE.
q() {
	in_lb curl -s -m 5 -G "http://127.0.0.1:$PROM_PORT/api/v1/query" \
		--data-urlencode "query=$1" >"$2.json" || fail "the query '$1' got no answer"
	"$PY" "$LAB_DIR/m.py" prom <"$2.json" >"$2" || fail "the query '$1' failed"
}
# q1 PROMQL: sets V to the value of a query that must give exactly one sample.
q1() {
	q "$1" "$out.q1"
	[ "$(wc -l <"$out.q1")" -eq 1 ] ||
		fail "'$1': expected one sample, got $(wc -l <"$out.q1"): $(cat "$out.q1")"
	V=$(awk '{ print $NF }' "$out.q1")
}
# gt A B: A > B as numbers (NaN and Inf are never greater here).
gt() {
	case "$1" in *[!0-9.e+-]* | "") return 1 ;; esac
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 > b + 0) }'
}

step "agent, VIPs and routes: web (L4 NAT, plus a refusing backend), web7 (L7, JWT on /api/)"
must "$JWTMINT" keygen "$LAB_DIR/keys"
cat >"$LAB_DIR/web7.json" <<EOF
{"routes": [
  {"name": "api", "path": "/api/", "jwt": {"jwks": "$LAB_DIR/keys/jwks.json", "algs": ["RS256"]}},
  {"name": "pub", "path": "/"}
]}
EOF
lab_sluiced_start --workers 2 || fail "sluiced did not start"
must lab_attach
wait_admin
ip -n "$NS_LB" addr add "$VIP_L7/32" dev lo || fail "cannot add $VIP_L7 to the balancer's lo"
must ctl vip add web "$VIP4:80" --strategy rr --forward nat
DEAD="$(be4 1):9" # nothing listens on port 9
for b in "$(be4 1):8080" "$(be4 2):8080" "$(be4 3):8080" "$DEAD"; do
	must ctl backend add web "$b"
done
must ctl vip add web7 "$VIP_L7:80" --strategy rr --l7 "$LAB_DIR/web7.json"
for n in 1 2 3; do must ctl backend add web7 "$(be4 $n):8080"; done
for v in web web7; do
	must ctl health set "$v" --type http --path / --interval "${IVL}ms" --timeout "${TMO}ms" \
		--rise 1 --fall 2
done

step "health checks settle: web's refusing backend down, every other backend up"
# hstate VIP BACKEND: its health state in health show.
hstate() { ctl --json health show "$1" | jget "[backend=$2].state"; }
i=0
while :; do
	settled=1
	[ "$(hstate web "$DEAD")" = down ] || settled=0
	for v in web web7; do
		for n in 1 2 3; do
			[ "$(hstate $v "$(be4 $n):8080")" = up ] || settled=0
		done
	done
	[ "$settled" = 1 ] && break
	i=$((i + 1))
	[ "$i" -le "$WAIT" ] || fail "health did not settle in $((WAIT / 10)) s: $(ctl health show)"
	sleep 0.1
done
ctl health show | sed 's/^/    /'

step "traffic in the background: L4 connections, L7 requests on / and JWT ones on /api/"
tok=$("$JWTMINT" sign "$LAB_DIR/keys" --claims '{"sub":"metrics"}' --exp-in 3600) ||
	fail "jwtmint sign failed"
got=$(in_cli curl -s -o /dev/null -w '%{http_code}' -m 5 -H "Authorization: Bearer $tok" \
	"http://$VIP_L7/api/first")
[ "$got" = 200 ] || fail "a GET /api/ with a valid token got $got, expected 200"
got=$(in_cli curl -s -o /dev/null -w '%{http_code}' -m 5 "http://$VIP_L7/api/notoken")
[ "$got" = 401 ] || fail "a GET /api/ without a token got $got, expected 401"
_lab_bg l4 ip netns exec "$NS_CLI" "$HAMMER" -l 3600 -i 20 -q -a "$VIP4"
_lab_bg l7 ip netns exec "$NS_CLI" "$HAMMER" -l 3600 -i 20 -q -a "$VIP_L7"
# curl's URL glob: one keep-alive connection, 20 requests a second; the
# bodies (backend names) go to the log
_lab_bg jwt ip netns exec "$NS_CLI" curl -s -m 5 --rate 20/s \
	-H "Authorization: Bearer $tok" "http://$VIP_L7/api/[1-1000000]"
sleep 1
for t in l4 l7 jwt; do
	pid=$(awk -v t="$t" '$2 == t { print $1 }' "$LAB_DIR/pids")
	kill -0 "$pid" 2>/dev/null || fail "the $t traffic stopped: $(tail -n 5 "$LAB_DIR/$t.log")"
done

step "the admin endpoint: /healthz, /stats, /metrics' Content-Type, 404, 405"
code=$(admin GET /healthz "$out") || fail "GET /healthz: curl exited $?"
h=$("$PY" "$LAB_DIR/m.py" healthz <"$out") || fail "/healthz is not JSON: $(cat "$out")"
echo "    /healthz: $code, $h"
[ "$code" = 200 ] || fail "GET /healthz answered $code, expected 200: $(cat "$out")"
[ "$h" = "live true ready true" ] || fail "/healthz: expected live and ready true, got '$h'"
code=$(admin GET /stats "$out") || fail "GET /stats: curl exited $?"
[ "$code" = 200 ] || fail "GET /stats answered $code, expected 200"
s1=$("$PY" "$LAB_DIR/m.py" stats <"$out") || fail "/stats (first call) is not the snapshot JSON"
sleep 1
code=$(admin GET /stats "$out") || fail "GET /stats: curl exited $?"
[ "$code" = 200 ] || fail "GET /stats answered $code the second time, expected 200"
tr -d '\r' <"$out.head" | grep -qi '^content-type: application/json' ||
	fail "/stats: no 'Content-Type: application/json': $(cat "$out.head")"
s2=$("$PY" "$LAB_DIR/m.py" stats <"$out") || fail "/stats (second call) is not the snapshot JSON"
w1=$(echo "$s1" | sed -n 's/^window //p')
w2=$(echo "$s2" | sed -n 's/^window //p')
echo "    /stats: window $w1 on the first call, $w2 on the second"
[ "$w2" != null ] || fail "/stats: window is null on the second call, 1 s after the first"
reasons=$(echo "$s2" | sed -n 's/^drops //p')
[ -n "$reasons" ] || fail "/stats: no drop reasons in \"drops\""
code=$(admin GET /metrics "$out") || fail "GET /metrics: curl exited $?"
[ "$code" = 200 ] || fail "GET /metrics answered $code, expected 200"
ctype=$(tr -d '\r' <"$out.head" | sed -n 's/^[Cc]ontent-[Tt]ype: //p')
[ "$ctype" = "text/plain; version=0.0.4; charset=utf-8" ] ||
	fail "/metrics: Content-Type '$ctype', expected 'text/plain; version=0.0.4; charset=utf-8'"
cp "$out" "$LAB_DIR/metrics.txt"
code=$(admin GET /no/such/path "$out") || fail "GET /no/such/path: curl exited $?"
[ "$code" = 404 ] || fail "GET /no/such/path answered $code, expected 404"
code=$(admin POST /metrics "$out") || fail "POST /metrics: curl exited $?"
[ "$code" = 405 ] || fail "POST /metrics answered $code, expected 405"
echo "    unknown path: 404, POST: 405"

step "promtool check metrics: nothing to say about /metrics"
if command -v promtool >/dev/null; then
	promtool check metrics <"$LAB_DIR/metrics.txt" >"$out.lint" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ] || [ -s "$out.lint" ]; then
		fail "promtool check metrics exited $rc: $(head -n 20 "$out.lint")"
	fi
	echo "    $(grep -c '^sluice_' "$LAB_DIR/metrics.txt") samples, promtool silent"
else
	echo "    skipped: promtool is not installed"
fi

step "a non-loopback --admin without --admin-public: sluiced refuses to start"
mkdir -p "$LAB_DIR/refuse"
# timeout: an agent that starts anyway is stopped after 10 s (exit 124), and
# the claim fails.
timeout 10 nsenter --net="/run/netns/$NS_LB" "$SLUICED" --state-dir "$LAB_DIR/refuse" \
	--bpffs "$REFUSE_BPFFS" --socket "$LAB_DIR/refuse/sluiced.sock" \
	--admin 198.18.0.1:9101 >"$out.refuse" 2>&1
rc=$?
echo "    exit $rc: $(head -n 3 "$out.refuse")"
if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ]; then
	fail "sluiced --admin 198.18.0.1:9101 exited $rc, expected a refusal: $(cat "$out.refuse")"
fi
grep -q -- '--admin-public' "$out.refuse" ||
	fail "the refusal does not name --admin-public: $(cat "$out.refuse")"

if [ "$PROM" = 0 ]; then
	step "Prometheus: skipped under SL_E2E_IN_VM=1 (too slow under QEMU's emulation)"
	exit 0
fi

step "Prometheus in the balancer's namespace, scraping $ADMIN every second"
cat >"$LAB_DIR/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: sluice
    static_configs:
      - targets: ['$ADMIN']
EOF
_lab_bg prometheus ip netns exec "$NS_LB" prometheus --config.file="$LAB_DIR/prometheus.yml" \
	--storage.tsdb.path="$LAB_DIR/prom" --web.listen-address="127.0.0.1:$PROM_PORT" \
	--log.level=warn
PROM_PID=$LAST_PID
i=0
until in_lb curl -sf -m 2 -o /dev/null "http://127.0.0.1:$PROM_PORT/-/ready"; do
	kill -0 "$PROM_PID" 2>/dev/null || fail "prometheus exited: $(tail -n 20 "$LAB_DIR/prometheus.log")"
	i=$((i + 1))
	[ "$i" -le 300 ] || fail "prometheus not ready in 30 s: $(tail -n 20 "$LAB_DIR/prometheus.log")"
	sleep 0.1
done
# 12 s of scrapes: the 10 s rate() windows below hold several samples.
sleep 12

step "up{job=\"sluice\"} is 1"
q1 'up{job="sluice"}'
got=$V
[ "$got" = 1 ] || fail "up{job=\"sluice\"} is $got, expected 1: $(in_lb curl -s \
	"http://127.0.0.1:$PROM_PORT/api/v1/targets")"

step "sluice_vip_packets_total{vip=\"web\"} grows"
q1 'sluice_vip_packets_total{vip="web"}'
p1=$V
sleep 3
q1 'sluice_vip_packets_total{vip="web"}'
p2=$V
echo "    $p1, then $p2 3 s later"
gt "$p2" "$p1" || fail "sluice_vip_packets_total{vip=\"web\"} went from $p1 to $p2 under traffic"

step "sluice_backend_packets_total: a series per backend of web, > 0 for the live ones"
q 'sluice_backend_packets_total{vip="web"}' "$out.bp"
sed 's/^/    /' "$out.bp"
for b in "$(be4 1):8080" "$(be4 2):8080" "$(be4 3):8080" "$DEAD"; do
	v=$(grep -F "backend=\"$b\"" "$out.bp" | awk '{ print $NF }')
	[ -n "$v" ] || fail "no sluice_backend_packets_total series for web's backend $b"
	[ "$b" = "$DEAD" ] && continue
	gt "$v" 0 || fail "sluice_backend_packets_total for $b is $v under traffic"
done

step "sluice_backend_up: 1 for the live backends, 0 for the refusing one"
q 'sluice_backend_up' "$out.up"
sed 's/^/    /' "$out.up"
for v in web web7; do
	for n in 1 2 3; do
		b="$(be4 $n):8080"
		got=$(grep -F "vip=\"$v\"" "$out.up" | grep -F "backend=\"$b\"" | awk '{ print $NF }')
		[ "$got" = 1 ] || fail "sluice_backend_up{vip=\"$v\",backend=\"$b\"} is '$got', expected 1"
	done
done
got=$(grep -F 'vip="web"' "$out.up" | grep -F "backend=\"$DEAD\"" | awk '{ print $NF }')
[ "$got" = 0 ] || fail "sluice_backend_up{vip=\"web\",backend=\"$DEAD\"} is '$got', expected 0"

step "sluice_l7_requests_total{vip=\"web7\",code=\"2xx\"} grows; the JWT route answers and verifies"
q1 'sum(sluice_l7_requests_total{vip="web7",code="2xx"})'
r1=$V
sleep 3
q1 'sum(sluice_l7_requests_total{vip="web7",code="2xx"})'
r2=$V
echo "    2xx: $r1, then $r2 3 s later"
gt "$r2" "$r1" || fail "web7's 2xx requests went from $r1 to $r2 under traffic"
q1 'sluice_l7_requests_total{vip="web7",route="api",code="2xx"}'
got=$V
gt "$got" 0 || fail "route api has $got 2xx answers, under JWT traffic"
q1 'sluice_l7_requests_total{vip="web7",route="api",code="4xx"}'
got=$V
gt "$got" 0 || fail "route api has $got 4xx answers, after a request without a token"
q1 'sluice_l7_jwt_verifications_total{vip="web7",route="api",result="ok"}'
got=$V
echo "    route api: $got verified tokens"
gt "$got" 0 || fail "sluice_l7_jwt_verifications_total{route=\"api\",result=\"ok\"} is $got"

step "sluice_drops_total: one series per drop reason of /stats"
q 'sluice_drops_total' "$out.drops"
sed -n 's/.*reason="\([^"]*\)".*/\1/p' "$out.drops" | sort >"$out.reasons"
echo "$reasons" | tr ' ' '\n' | sort >"$out.want"
echo "    $(tr '\n' ' ' <"$out.reasons")"
cmp -s "$out.reasons" "$out.want" ||
	fail "drop reasons in Prometheus differ from /stats' drops: $(diff "$out.want" "$out.reasons")"

step "the p99 of web7's request durations is a number > 0"
q1 'histogram_quantile(0.99, sum by (le) (rate(sluice_l7_request_duration_seconds_bucket{vip="web7"}[10s])))'
p99=$V
echo "    p99: $p99 s"
gt "$p99" 0 || fail "histogram_quantile(0.99, ...) over web7's durations is $p99"
