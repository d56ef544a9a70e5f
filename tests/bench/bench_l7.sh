#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# bench_l7: the L7 gateway against HAProxy 2.6 and nginx 1.22, side by side,
# with wrk (closed loop: -t2 -c64, keep-alive). Measures, never asserts.
#
#   sudo sh tests/bench/bench_l7.sh        (from the repository root, after make)
#
# One namespace of its own (bench-l7-PID) with only lo, holding every
# address: the backends 198.18.0.1:8081 and :8082 (one nginx, 2 workers,
# `return 200 "bN\n"`), sluice's L7 VIPs on 198.19.0.10, HAProxy's frontends
# on 198.19.0.11 and nginx's proxy on 198.19.0.12. Three configurations, the
# same on every proxy (round robin over the two backends, keep-alive to them,
# X-Forwarded-For / X-Forwarded-Proto / a request id added as sluice does):
#   plain  proxying only (port 80; nginx takes part here only);
#   jwt    a bearer token checked on every request, HS256 (port 81, a
#          64-character secret) and RS256 (port 82, a 2048-bit RSA public key
#          in PEM), signature and exp, 401 otherwise. sluice is measured
#          with its verified-token cache (the default) and without it
#          (ports 84, 85: "cache_size": 0), since HAProxy has none;
#   cors   Access-Control-Allow-Origin and Vary: Origin added for the one
#          allowed Origin (port 83).
# Every cell is checked with curl first (200 with a valid token, 401 without
# or with a bad signature, the CORS header for the allowed origin and none for
# another); a wrk run with more than 0.1 % non-2xx answers makes the cell
# INVALID and the script exit 1 after printing its section. Rounds are
# interleaved (every cell once per round) and the medians reported, so load
# from other tenants of the machine falls on every proxy alike; the proxies'
# CPU per request comes from the schedstat of all their threads (and of
# nginx's workers). In the full run, strace -c over a short extra run counts
# the system calls per request of sluice and HAProxy.
#
# Knobs: QUICK=1 (1 round of 3 s), DUR=seconds, ROUNDS=n, CONNS=n, PIN=1
# (wrk pinned to CPU 0 with taskset, the rest free).
# Prints its markdown section on stdout, progress on stderr; everything it
# creates (namespace, pins, processes, /tmp/bench-l7-PID) goes in a trap.
set -u
cd "$(dirname "$0")/../.." || exit 1

OUT=${OUTPUT:-.output}
SLUICED="$OUT/bin/sluiced"
SLUICECTL="$OUT/bin/sluicectl"
JWTMINT="$OUT/bin/e2e/jwtmint"
HTTPD="$OUT/bin/e2e/httpd"
if [ "${QUICK:-0}" = 1 ]; then
	QUICK=1
	DUR=${DUR:-3}
	ROUNDS=${ROUNDS:-1}
	WARM=1
else
	QUICK=0
	DUR=${DUR:-10}
	ROUNDS=${ROUNDS:-3}
	WARM=2
fi
THREADS=2
CONNS=${CONNS:-64}
WORKERS=2
NAME="bench-l7-$$"
NS=$NAME
DIR="/tmp/$NAME"
BPFFS="/sys/fs/bpf/$NAME"
SOCK="$DIR/sluiced.sock"
BE=198.18.0.1
SL=198.19.0.10
HA=198.19.0.11
NG=198.19.0.12
ORIGIN=http://app.bench.test
PIDS=""

log() { echo "bench-l7: $*" >&2; }
die() {
	log "$*"
	exit 1
}

# stop PID: SIGTERM, SIGKILL after 5 s, reap.
# shellcheck disable=SC2317 # stop and cleanup run from the EXIT trap
stop() {
	kill -TERM "$1" 2>/dev/null || return 0
	_i=0
	while kill -0 "$1" 2>/dev/null && [ "$_i" -lt 50 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

# shellcheck disable=SC2317
cleanup() {
	for p in $PIDS; do
		stop "$p"
	done
	ip netns del "$NS" 2>/dev/null
	rm -rf "$BPFFS" "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

[ "$(id -u)" -eq 0 ] || die "needs root (a network namespace, BPF)"
for b in "$SLUICED" "$SLUICECTL" "$JWTMINT"; do
	[ -x "$b" ] || die "$b is missing (run make)"
done
for c in wrk haproxy nginx curl openssl nsenter taskset; do
	command -v "$c" >/dev/null || die "needs $c (sh mk/deps.sh bench)"
done

in_ns() { nsenter --net="/run/netns/$NS" "$@"; }
ctl() { "$SLUICECTL" --socket "$SOCK" "$@"; }
# bg NAME CMD...: start CMD in the namespace, in the background; LAST_PID.
bg() {
	_n=$1
	shift
	nsenter --net="/run/netns/$NS" "$@" >"$DIR/$_n.log" 2>&1 &
	LAST_PID=$!
	PIDS="$LAST_PID $PIDS"
}
# wait_port ADDR PORT PID: until something accepts on ADDR:PORT (5 s).
wait_port() {
	_i=0
	until in_ns curl -s -o /dev/null -m 1 "http://$1:$2/" 2>/dev/null; do
		kill -0 "$3" 2>/dev/null || return 1
		_i=$((_i + 1))
		[ "$_i" -le 50 ] || return 1
		sleep 0.1
	done
}

mkdir -p "$DIR/state" "$DIR/keys" "$DIR/res" "$DIR/ngtmp"
ip netns add "$NS" || die "cannot create namespace $NS"
ip -n "$NS" link set lo up
for a in $BE $SL $HA $NG; do
	ip -n "$NS" addr add "$a/32" dev lo || die "cannot add $a to lo in $NS"
done

# ---- keys and tokens ----------------------------------------------------------
"$JWTMINT" keygen "$DIR/keys" >/dev/null || die "jwtmint keygen failed"
# HS256: a printable secret, so that HAProxy's config can hold it as a string;
# sluice gets the same bytes as an "oct" JWK.
SECRET=$(openssl rand -hex 32)
printf '%s' "$SECRET" >"$DIR/keys/hsb.secret"
K=$(printf '%s' "$SECRET" | base64 -w0 | tr '+/' '-_' | tr -d '=')
printf '{"keys": [{"kty": "oct", "kid": "hsb", "alg": "HS256", "k": "%s"}]}\n' "$K" \
	>"$DIR/keys/hsb.jwks"
mint() { "$JWTMINT" sign "$DIR/keys" --claims '{"sub":"bench"}' --exp-in 3600 "$@"; }
TOK_HS=$(mint --alg HS256 --kid hsb --key "$DIR/keys/hsb.secret") || die "cannot mint HS256"
TOK_RS=$(mint --alg RS256) || die "cannot mint RS256"
BAD_HS=$(mint --alg HS256 --kid hsb --key "$DIR/keys/hsb.secret" --tamper-sig) || die "mint"
BAD_RS=$(mint --alg RS256 --tamper-sig) || die "cannot mint a bad RS256"

# ---- the backend: nginx, 2 workers, a 3-byte body -------------------------------
cat >"$DIR/backend.conf" <<EOF
worker_processes $WORKERS;
error_log $DIR/backend.err;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $DIR/ngtmp/bb;
	proxy_temp_path $DIR/ngtmp/bp;
	fastcgi_temp_path $DIR/ngtmp/bf;
	uwsgi_temp_path $DIR/ngtmp/bu;
	scgi_temp_path $DIR/ngtmp/bs;
	keepalive_requests 100000000;
	keepalive_timeout 120s;
	server { listen $BE:8081 reuseport; location / { return 200 "b1\n"; } }
	server { listen $BE:8082 reuseport; location / { return 200 "b2\n"; } }
}
EOF
bg backend nginx -e "$DIR/backend.err" -c "$DIR/backend.conf" -g "daemon off; pid $DIR/backend.pid;"
BE_PID=$LAST_PID
wait_port $BE 8081 "$BE_PID" || die "the nginx backend did not start: $(cat "$DIR/backend.log" "$DIR/backend.err")"
if [ "$QUICK" = 0 ] && [ -x "$HTTPD" ]; then
	# Only a reference row: tests/e2e/httpd (one epoll thread) is slower
	# than nginx's two workers, so nginx is the backend.
	bg httpd "$HTTPD" b1 9081
	HTTPD_PID=$LAST_PID
	wait_port $BE 9081 "$HTTPD_PID" || die "httpd did not start"
else
	HTTPD_PID=""
fi

# ---- sluice ----------------------------------------------------------------------
bg sluiced "$SLUICED" --state-dir "$DIR/state" --bpffs "$BPFFS" --socket "$SOCK" \
	--admin none --workers $WORKERS
SL_PID=$LAST_PID
_i=0
until ctl vip list >/dev/null 2>&1; do
	kill -0 "$SL_PID" 2>/dev/null || die "sluiced exited: $(cat "$DIR/sluiced.log")"
	_i=$((_i + 1))
	[ "$_i" -le 100 ] || die "sluiced did not answer on $SOCK"
	sleep 0.1
done
jwt_hs='"jwks": "'"$DIR/keys/hsb.jwks"'", "algs": ["HS256"]'
jwt_rs='"pem": "'"$DIR/keys/rsa_pub.pem"'", "pem_kid": "rsa1", "algs": ["RS256"]'
route() { printf '{"routes": [{"name": "r", "path": "/", %s}]}\n' "$1"; }
route '"jwt": {'"$jwt_hs"'}' >"$DIR/jwt_hs.json"
route '"jwt": {'"$jwt_rs"'}' >"$DIR/jwt_rs.json"
route '"cors": {"origins": ["'$ORIGIN'"]}' >"$DIR/cors.json"
route '"jwt": {'"$jwt_hs"', "cache_size": 0}' >"$DIR/jwt_hs_nc.json"
route '"jwt": {'"$jwt_rs"', "cache_size": 0}' >"$DIR/jwt_rs_nc.json"
# vip NAME PORT L7: an L7 VIP on $SL:PORT over both backends.
vip() {
	if ! ctl vip add "$1" "$SL:$2" --strategy rr --l7 "$3" >/dev/null ||
		! ctl backend add "$1" "$BE:8081" >/dev/null ||
		! ctl backend add "$1" "$BE:8082" >/dev/null; then
		die "cannot add the L7 VIP $1 on port $2: $(tail -n 5 "$DIR/sluiced.log")"
	fi
}
vip plain 80 default
vip jwths 81 "$DIR/jwt_hs.json"
vip jwtrs 82 "$DIR/jwt_rs.json"
vip cors 83 "$DIR/cors.json"
vip jwthsnc 84 "$DIR/jwt_hs_nc.json"
vip jwtrsnc 85 "$DIR/jwt_rs_nc.json"

# ---- HAProxy: the same four services ------------------------------------------------
# jwt_verify checks the signature only; the alg and exp checks are written
# out, as sluice makes them. Refusals answer 401 like sluice's.
ha_jwt() {
	cat <<EOF
	http-request set-var(txn.bearer) http_auth_bearer
	http-request set-var(txn.alg) var(txn.bearer),jwt_header_query('\$.alg')
	http-request set-var(txn.exp) var(txn.bearer),jwt_payload_query('\$.exp','int')
	http-request set-var(txn.now) date
	http-request return status 401 content-type text/plain string "unauthorized" hdr WWW-Authenticate "Bearer" unless { var(txn.alg) -m str $1 } { var(txn.bearer),jwt_verify(txn.alg,"$2") -m int 1 } { var(txn.exp),sub(txn.now) -m int gt 0 }
EOF
}
ha_front() {
	cat <<EOF
frontend $1
	bind $HA:$2
	option forwardfor
	http-request set-header X-Forwarded-Proto http
	unique-id-format %{+X}o%ci:%cp_%fi:%fp_%Ts_%rt:%pid
	unique-id-header X-Request-Id
	http-response set-header X-Request-Id %[unique-id]
	default_backend be
EOF
}
{
	cat <<EOF
global
	nbthread $WORKERS
	maxconn 4096
defaults
	mode http
	timeout connect 2s
	timeout client 60s
	timeout server 30s
	timeout http-keep-alive 60s
	option http-keep-alive
EOF
	ha_front plain 80
	ha_front jwths 81
	ha_jwt HS256 "$SECRET"
	ha_front jwtrs 82
	ha_jwt RS256 "$DIR/keys/rsa_pub.pem"
	ha_front cors 83
	cat <<EOF
	http-request set-var(txn.origin) req.hdr(origin)
	http-response set-header Access-Control-Allow-Origin %[var(txn.origin)] if { var(txn.origin) -m str $ORIGIN }
	http-response add-header Vary Origin if { var(txn.origin) -m str $ORIGIN }
backend be
	balance roundrobin
	http-reuse always
	server b1 $BE:8081
	server b2 $BE:8082
EOF
} >"$DIR/haproxy.cfg"
haproxy -c -q -f "$DIR/haproxy.cfg" >"$DIR/haproxy.check" 2>&1 ||
	die "haproxy refused its configuration: $(cat "$DIR/haproxy.check")"
bg haproxy haproxy -f "$DIR/haproxy.cfg" -db
HA_PID=$LAST_PID
wait_port $HA 80 "$HA_PID" || die "haproxy did not start: $(cat "$DIR/haproxy.log")"

# ---- nginx as a proxy (plain only) ----------------------------------------------------
cat >"$DIR/proxy.conf" <<EOF
worker_processes $WORKERS;
error_log $DIR/proxy.err;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $DIR/ngtmp/pb;
	proxy_temp_path $DIR/ngtmp/pp;
	fastcgi_temp_path $DIR/ngtmp/pf;
	uwsgi_temp_path $DIR/ngtmp/pu;
	scgi_temp_path $DIR/ngtmp/ps;
	keepalive_requests 100000000;
	keepalive_timeout 120s;
	upstream be {
		server $BE:8081;
		server $BE:8082;
		keepalive 128;
		keepalive_requests 100000000;
	}
	server {
		listen $NG:80 reuseport;
		location / {
			proxy_pass http://be;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
			proxy_set_header X-Forwarded-Proto http;
			proxy_set_header X-Request-Id \$request_id;
			add_header X-Request-Id \$request_id;
		}
	}
}
EOF
bg nginx nginx -e "$DIR/proxy.err" -c "$DIR/proxy.conf" -g "daemon off; pid $DIR/proxy.pid;"
NG_PID=$LAST_PID
wait_port $NG 80 "$NG_PID" || die "nginx did not start: $(cat "$DIR/nginx.log" "$DIR/proxy.err")"

# ---- correctness, before any measurement -------------------------------------------------
# code URL [CURL ARGS]: the status; the head in $DIR/h, the body in $DIR/b.
code() {
	_u=$1
	shift
	in_ns curl -s -m 5 -o "$DIR/b" -D "$DIR/h" -w '%{http_code}' "$@" "$_u"
}
# check_plain WHO URL: 200 from both backends over four requests.
check_plain() {
	: >"$DIR/seen"
	for _k in 1 2 3 4; do
		_c=$(code "$2")
		[ "$_c" = 200 ] || die "$1: $2 answered $_c, expected 200: $(cat "$DIR/b")"
		cat "$DIR/b" >>"$DIR/seen"
	done
	if ! grep -qx b1 "$DIR/seen" || ! grep -qx b2 "$DIR/seen"; then
		die "$1: expected answers from b1 and b2 (round robin), got: $(tr '\n' ' ' <"$DIR/seen")"
	fi
}
# check_jwt WHO URL GOOD BAD: 200 with GOOD, 401 with none and with BAD.
check_jwt() {
	_c=$(code "$2" -H "Authorization: Bearer $3")
	[ "$_c" = 200 ] || die "$1: a valid token got $_c, expected 200: $(cat "$DIR/b")"
	_c=$(code "$2")
	[ "$_c" = 401 ] || die "$1: no token got $_c, expected 401"
	_c=$(code "$2" -H "Authorization: Bearer $4")
	[ "$_c" = 401 ] || die "$1: a token with a bad signature got $_c, expected 401"
}
# check_cors WHO URL: the allowed origin gets Allow-Origin and Vary, another none.
check_cors() {
	_c=$(code "$2" -H "Origin: $ORIGIN")
	[ "$_c" = 200 ] || die "$1: $_c, expected 200"
	tr -d '\r' <"$DIR/h" | grep -qix "access-control-allow-origin: $ORIGIN" ||
		die "$1: no Access-Control-Allow-Origin: $ORIGIN in: $(cat "$DIR/h")"
	tr -d '\r' <"$DIR/h" | grep -qi '^vary:.*origin' || die "$1: no Vary: Origin in: $(cat "$DIR/h")"
	_c=$(code "$2" -H "Origin: http://other.bench.test")
	[ "$_c" = 200 ] || die "$1: $_c for another origin, expected 200"
	grep -qi '^access-control-' "$DIR/h" && die "$1: CORS headers for an origin not allowed: $(cat "$DIR/h")"
	return 0
}
log "checking every configuration with curl"
check_plain sluice "http://$SL:80/"
check_plain haproxy "http://$HA:80/"
check_plain nginx "http://$NG:80/"
check_jwt "sluice HS256" "http://$SL:81/" "$TOK_HS" "$BAD_HS"
check_jwt "sluice HS256 (no cache)" "http://$SL:84/" "$TOK_HS" "$BAD_HS"
check_jwt "haproxy HS256" "http://$HA:81/" "$TOK_HS" "$BAD_HS"
check_jwt "sluice RS256" "http://$SL:82/" "$TOK_RS" "$BAD_RS"
check_jwt "sluice RS256 (no cache)" "http://$SL:85/" "$TOK_RS" "$BAD_RS"
check_jwt "haproxy RS256" "http://$HA:82/" "$TOK_RS" "$BAD_RS"
check_cors sluice "http://$SL:83/"
check_cors haproxy "http://$HA:83/"

# ---- measurement ----------------------------------------------------------------------
# The cells: ID|config|proxy|url|pid whose CPU is counted|wrk header or -
CELLS="$DIR/cells"
{
	echo "direct|plain|backend direct (nginx)|http://$BE:8081/|$BE_PID|-"
	[ -n "$HTTPD_PID" ] &&
		echo "httpd|plain|backend direct (tests/e2e/httpd, reference only)|http://$BE:9081/|$HTTPD_PID|-"
	echo "sl_plain|plain|sluice|http://$SL:80/|$SL_PID|-"
	echo "ha_plain|plain|HAProxy|http://$HA:80/|$HA_PID|-"
	echo "ng_plain|plain|nginx|http://$NG:80/|$NG_PID|-"
	echo "sl_hs|JWT HS256|sluice|http://$SL:81/|$SL_PID|Authorization: Bearer $TOK_HS"
	echo "slnc_hs|JWT HS256|sluice, token cache off|http://$SL:84/|$SL_PID|Authorization: Bearer $TOK_HS"
	echo "ha_hs|JWT HS256|HAProxy|http://$HA:81/|$HA_PID|Authorization: Bearer $TOK_HS"
	echo "sl_rs|JWT RS256|sluice|http://$SL:82/|$SL_PID|Authorization: Bearer $TOK_RS"
	echo "slnc_rs|JWT RS256|sluice, token cache off|http://$SL:85/|$SL_PID|Authorization: Bearer $TOK_RS"
	echo "ha_rs|JWT RS256|HAProxy|http://$HA:82/|$HA_PID|Authorization: Bearer $TOK_RS"
	echo "sl_cors|CORS|sluice|http://$SL:83/|$SL_PID|Origin: $ORIGIN"
	echo "ha_cors|CORS|HAProxy|http://$HA:83/|$HA_PID|Origin: $ORIGIN"
} >"$CELLS"

# cpu_ns PID: nanoseconds on CPU of every thread of PID and of its children
# (nginx's workers).
cpu_ns() {
	_p="$1 $(cat /proc/"$1"/task/*/children 2>/dev/null)"
	_t=0
	for _q in $_p; do
		for _f in /proc/"$_q"/task/*/schedstat; do
			[ -r "$_f" ] || continue
			read -r _ns _rest <"$_f" || continue
			_t=$((_t + _ns))
		done
	done
	echo "$_t"
}
# run_wrk SECONDS URL HEADER|- OUTFILE (PIN=1: wrk on CPU 0)
run_wrk() {
	_d=$1
	_u=$2
	_h=$3
	_o=$4
	if [ "${PIN:-0}" = 1 ]; then set -- taskset -c 0 wrk; else set -- wrk; fi
	set -- "$@" -t$THREADS -c"$CONNS" -d"$_d"s --latency
	[ "$_h" = - ] || set -- "$@" -H "$_h"
	in_ns "$@" "$_u" >"$_o" 2>&1
}
# wrk_line FILE CPU_NS: "req/s p50_ms p99_ms requests non2xx errors cpu_ns"
wrk_line() {
	awk -v cpu="$2" '
	function ms(v) {
		if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
		if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
		if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000
		return -1
	}
	/^Requests\/sec:/ { rps = $2 }
	$1 == "50%" { p50 = ms($2) }
	$1 == "99%" { p99 = ms($2) }
	/ requests in / { n = $1 }
	/Non-2xx or 3xx responses:/ { bad = $NF }
	/Socket errors:/ { gsub(/,/, ""); err = $4 + $6 + $8 + $10 }
	END {
		if (rps == "" || n == "") exit 1
		printf "%s %s %s %d %d %d %s\n", rps, p50, p99, n, bad + 0, err + 0, cpu
	}' "$1"
}

ncells=$(wc -l <"$CELLS")
log "warming up ${WARM}s per cell, then $ROUNDS round(s) of $ncells cells x ${DUR}s" \
	"(wrk -t$THREADS -c$CONNS)"
while IFS='|' read -r id _cfg _who url _pid hdr; do
	run_wrk "$WARM" "$url" "$hdr" "$DIR/warm.out" || die "wrk failed on $url: $(cat "$DIR/warm.out")"
done <"$CELLS"
r=1
while [ "$r" -le "$ROUNDS" ]; do
	while IFS='|' read -r id _cfg who url pid hdr; do
		c0=$(cpu_ns "$pid")
		run_wrk "$DUR" "$url" "$hdr" "$DIR/wrk.out" || die "wrk failed on $url: $(cat "$DIR/wrk.out")"
		c1=$(cpu_ns "$pid")
		wrk_line "$DIR/wrk.out" $((c1 - c0)) >>"$DIR/res/$id" ||
			die "cannot read wrk's output: $(cat "$DIR/wrk.out")"
		log "round $r: $who $url: $(tail -n 1 "$DIR/res/$id")"
	done <"$CELLS"
	r=$((r + 1))
done

# ---- system calls per request (full run only) -------------------------------------------
# syscalls ID PID URL: strace -c on every thread of PID during a 3 s wrk run;
# writes "NAME calls_per_request" lines to $DIR/res/ID.sys.
syscalls() {
	strace -c -f -q -p "$2" -o "$DIR/strace.$1" 2>/dev/null &
	_st=$!
	sleep 0.5
	run_wrk 3 "$3" - "$DIR/wrk.sys" || return 1
	kill -INT "$_st" 2>/dev/null
	wait "$_st" 2>/dev/null
	_n=$(awk '/ requests in / { print $1 }' "$DIR/wrk.sys")
	[ -n "$_n" ] && [ "$_n" -gt 0 ] || return 1
	# strace -c lines: % time, seconds, usecs/call, calls, [errors,] syscall
	awk -v n="$_n" '$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" && $4 / n >= 0.05 {
		printf "%s %.2f\n", $NF, $4 / n
	}' "$DIR/strace.$1" | sort -k2 -nr >"$DIR/res/$1.sys"
	awk -v n="$_n" '$1 ~ /^[0-9.]+$/ && $NF == "total" { printf "%.1f\n", $4 / n }' \
		"$DIR/strace.$1" >"$DIR/res/$1.systotal"
}
if [ "$QUICK" = 0 ] && command -v strace >/dev/null; then
	log "strace -c: system calls per request, sluice and HAProxy (plain)"
	syscalls sl_plain "$SL_PID" "http://$SL:80/" || log "strace run failed for sluice"
	syscalls ha_plain "$HA_PID" "http://$HA:80/" || log "strace run failed for HAProxy"
fi

# ---- the section -------------------------------------------------------------------------
# agg ID: "rps p50 p99 requests non2xx errors cpu_us_per_request" (medians of
# the rounds; sums for the counts; CPU over all rounds).
# median: the median of the numbers on stdin, one a line.
median() {
	sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
agg() {
	_f="$DIR/res/$1"
	printf '%s %s %s ' "$(cut -d' ' -f1 "$_f" | median)" "$(cut -d' ' -f2 "$_f" | median)" \
		"$(cut -d' ' -f3 "$_f" | median)"
	awk '{ n += $4; bad += $5; err += $6; cpu += $7 } END { printf "%d %d %d %.1f\n", n, bad, err, cpu / 1000 / n }' "$_f"
}
invalid=""
while IFS='|' read -r id _rest; do
	agg "$id" >"$DIR/res/$id.agg"
	read -r _r _5 _9 n bad err _c <"$DIR/res/$id.agg"
	if [ $((bad * 1000)) -gt "$n" ]; then
		invalid="$invalid $id"
	fi
done <"$CELLS"

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
hav=$(haproxy -v 2>/dev/null | sed -n 's/^HAProxy version \([^ ]*\).*/\1/p')
ngv=$(nginx -v 2>&1 | sed -n 's|.*nginx/||p')
wrkv=$(wrk -v 2>&1 | sed -n 's/^wrk \([^ ]*\).*/\1/p')
echo "## L7 proxy: sluice vs HAProxy and nginx (wrk)"
echo
if [ "$QUICK" = 1 ]; then q=" QUICK=1"; qs="QUICK=1 "; else q=""; qs=""; fi
echo "Command: \`sudo make bench$q\` (this section alone: \`sudo ${qs}sh tests/bench/bench_l7.sh\`) ($(date -u +%Y-%m-%d)); machine: $cpu, $(nproc) CPUs, kernel $(uname -r); HAProxy $hav, nginx $ngv, wrk $wrkv."
echo
echo "Load: \`wrk -t$THREADS -c$CONNS -d${DUR}s --latency\` (keep-alive), $ROUNDS round(s) interleaved" \
	"(every cell once per round, after a ${WARM} s warm-up each); the table shows the median" \
	"of the rounds. Every proxy runs $WORKERS workers (sluiced \`--workers $WORKERS\`, HAProxy" \
	"\`nbthread $WORKERS\`, nginx \`worker_processes $WORKERS\`) in one namespace on lo," \
	"sharing the $(nproc) CPUs with wrk and the backend ($([ "${PIN:-0}" = 1 ] && echo 'wrk pinned to CPU 0 with taskset' || echo 'nothing pinned')):" \
	"a proxy that costs less CPU per request leaves more to the others, so req/s ranks CPU" \
	"efficiency as much as speed. CPU µs/req is the proxy's own on-CPU time (schedstat of" \
	"all its threads and processes) over all rounds divided by the requests."
echo
echo "| config | proxy | req/s | p50 ms | p99 ms | CPU µs/req | requests | non-2xx | socket errors |"
echo "|---|---|--:|--:|--:|--:|--:|--:|--:|"
while IFS='|' read -r id cfg who _url _pid _hdr; do
	read -r rps p50 p99 n bad err c <"$DIR/res/$id.agg"
	mark=""
	case " $invalid " in *" $id "*) mark=" **INVALID**" ;; esac
	printf '| %s | %s%s | %.0f | %.2f | %.2f | %s | %d | %d | %d |\n' "$cfg" "$who" "$mark" \
		"$rps" "$p50" "$p99" "$c" "$n" "$bad" "$err"
done <"$CELLS"
echo
echo "Ratios (goal: sluice req/s ≥ 1.2× HAProxy's with a p99 no worse, in each configuration):"
echo
echo "| config | sluice / HAProxy req/s | sluice / HAProxy p99 | sluice / HAProxy CPU per request | goal |"
echo "|---|--:|--:|--:|---|"
# ratio_row CONFIG SL_ID HA_ID
ratio_row() {
	read -r sr _5 sp _n _b _e sc <"$DIR/res/$2.agg"
	read -r hr _5 hp _n _b _e hc <"$DIR/res/$3.agg"
	awk -v cfg="$1" -v sr="$sr" -v hr="$hr" -v sp="$sp" -v hp="$hp" -v sc="$sc" -v hc="$hc" 'BEGIN {
		q = sr / hr; l = sp / hp
		if (q >= 1.2 && l <= 1) g = "met"
		else {
			g = "missed:"
			if (q < 1.2) g = g sprintf(" req/s %.2f× is %.0f %% short of 1.2×", q, (1.2 - q) / 1.2 * 100)
			if (l > 1) g = g sprintf("%s p99 %.0f %% worse", (q < 1.2) ? ";" : "", (l - 1) * 100)
		}
		printf "| %s | %.2f× | %.2f× | %.2f× | %s |\n", cfg, q, l, sc / hc, g
	}'
}
ratio_row plain sl_plain ha_plain
ratio_row "JWT HS256" sl_hs ha_hs
ratio_row "JWT RS256" sl_rs ha_rs
ratio_row CORS sl_cors ha_cors
ratio_row "JWT HS256, sluice's token cache off" slnc_hs ha_hs
ratio_row "JWT RS256, sluice's token cache off" slnc_rs ha_rs
echo
read -r sr _5 sp _n _b _e sc <"$DIR/res/sl_plain.agg"
read -r nr _5 np _n _b _e nc <"$DIR/res/ng_plain.agg"
read -r dr _rest <"$DIR/res/direct.agg"
awk -v sr="$sr" -v nr="$nr" -v sp="$sp" -v np="$np" -v sc="$sc" -v nc="$nc" -v dr="$dr" 'BEGIN {
	printf "sluice / nginx (plain): req/s %.2f×, p99 %.2f×, CPU per request %.2f×. The backend alone answered %.0f req/s; sluice reached %.0f %% of it.\n", sr / nr, sp / np, sc / nc, dr, sr / dr * 100
}'
echo
if [ -s "$DIR/res/sl_plain.sys" ] && [ -s "$DIR/res/ha_plain.sys" ]; then
	echo "System calls per request (plain, \`strace -c -f -p\` on the proxy during an extra 3 s run, wrk as above; strace slows the proxy, the counts per request are what matters):"
	echo
	echo "| proxy | total | per call |"
	echo "|---|--:|---|"
	for p in sl_plain ha_plain; do
		case $p in sl_*) w=sluice ;; *) w=HAProxy ;; esac
		printf '| %s | %s | %s |\n' "$w" "$(cat "$DIR/res/$p.systotal")" \
			"$(awk '{ printf "%s%s %s", sep, $1, $2; sep = ", " }' "$DIR/res/$p.sys")"
	done
	echo
	# The calls sluice makes per request beyond HAProxy's.
	extra=$(awk 'NR == FNR { h[$1] = $2; next } { d = $2 - (($1 in h) ? h[$1] : 0); if (d >= 0.5) printf "%s%s %.1f (HAProxy %.1f)", sep, $1, $2, ($1 in h) ? h[$1] : 0; if (d >= 0.5) sep = ", " }' \
		"$DIR/res/ha_plain.sys" "$DIR/res/sl_plain.sys")
	if [ -n "$extra" ]; then
		printf 'Per request sluice makes more of these system calls than HAProxy: %s.' "$extra"
		case "$extra" in *bpf*) printf ' bpf: the backend pick and its release, each a BPF_PROG_TEST_RUN of sl_l7_pick (user/agent/dp.c sl_dp_l7_pick, sl_dp_l7_release).' ;; esac
		case "$extra" in *epoll_ctl*) printf ' epoll_ctl: user/proxy/proxy.c changes the interest set as a request moves on (conn_interest) and takes a pooled upstream connection out of epoll and back in (pool_take, up_open, pool_put).' ;; esac
		echo
	fi
	echo
fi
echo "Method notes:"
echo
printf '%s\n' "- Backend: one nginx (\`worker_processes $WORKERS\`, \`return 200 \"bN\\n\"\` on $BE:8081 and :8082) for every proxy. It was picked over tests/e2e/httpd (one epoll thread per process) because its two workers serve one port from both CPUs$([ -n "$HTTPD_PID" ] && echo '; both are measured directly above, and either answers well above any proxy here, so the backend is not the bottleneck'). Each proxy balances round robin over both ports and keeps its backend connections alive (sluice's per-worker pool; HAProxy \`http-reuse always\`; nginx \`keepalive 128\`)."
echo "- Same work on every proxy: X-Forwarded-For, X-Forwarded-Proto and a request id header (sent upstream and returned) are added by all three, as sluice always does."
echo "- JWT: HAProxy's \`jwt_verify\` checks the signature only, so its configuration adds the alg check (\`jwt_header_query\`) and the exp check (\`jwt_payload_query('\$.exp','int')\` against \`date\`) and answers 401 with \`http-request return\`. wrk sends one token all along: sluice verifies it once and then serves it from its verified-token cache (SHA-256 of the token); HAProxy has no such cache and verifies every request. The \"token cache off\" rows (\`\"cache_size\": 0\`) compare the verification itself."
echo "- CORS: sluice's route allows one origin; HAProxy copies the Origin into a variable in the request and sets Access-Control-Allow-Origin and adds Vary: Origin on the response when it is that origin. wrk sends the allowed Origin on every request."
echo "- Correctness was checked with curl before measuring (plain: 200 from both backends; JWT: 200 with a valid token, 401 without one and with a bad signature; CORS: the headers for the allowed origin, none for another). A cell with more than 0.1 % non-2xx answers is marked INVALID and the script exits 1."
echo "- On a shared 2-CPU virtual machine other tenants' load moves the absolute numbers between runs; the ratios of interleaved cells are the result, and CPU µs/req is the steadiest of them (two full runs agreed within about 10 %; a single QUICK round's req/s and p99 can swing by tens of percent)."
if [ -n "$invalid" ]; then
	log "cells with more than 0.1 % non-2xx answers:$invalid"
	exit 1
fi
exit 0
