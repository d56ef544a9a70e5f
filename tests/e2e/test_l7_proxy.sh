#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# test_l7_proxy: the L7 gateway's proxying, one behaviour a step: per-request
# round robin over three backends (exact counts), keep-alive and pipelined
# requests answered in order, the X-Forwarded-For / X-Forwarded-Proto /
# X-Request-Id headers it sets (client-supplied ones replaced, hop-by-hop ones
# dropped), a large chunked upload forwarded intact (the backend's SHA-256 of
# what it received), 404 without a matching route, 503 without a backend, 502
# when the backend refuses, one retry elsewhere for an idempotent GET but none
# for a POST, 408 when a request head does not arrive in time, 504 when the
# answer does not, and an IPv6 L7 VIP.
# Under SL_E2E_IN_VM=1 (QEMU, software emulation) the upload is 1 MiB instead
# of 4 MiB and the timeouts are longer.
set -u
. tests/e2e/lab.sh
lab_trap "lp$$"
RAWHTTP="$OUT/bin/e2e/rawhttp"
export HTTPD_LOG=1
[ -x "$RAWHTTP" ] || fail "$RAWHTTP is missing (run make)"
if [ "${SL_E2E_IN_VM:-0}" = 1 ]; then
	upload_kib=1024
	hdr_ms=2000
	req_ms=4000
	slow_ms=12000
	wait_s=10
else
	upload_kib=4096
	hdr_ms=500
	req_ms=1000
	slow_ms=4000
	wait_s=3
fi

lab_up "lp$$" || fail "lab_up failed"
lab_sluiced_start --workers 2 || fail "sluiced did not start"
must lab_attach
ip -n "$NS_LB" addr add "$VIP4/32" dev lo || fail "cannot add $VIP4 to the balancer's lo"
ip -n "$NS_LB" -6 addr add "$VIP6/128" dev lo nodad || fail "cannot add $VIP6 to the balancer's lo"
out="$LAB_DIR/out"
req="$LAB_DIR/req"

# l7stat VIP COUNTER: one of the VIP's L7 counters.
l7stat() {
	_v=$(ctl --json stats | jget "l7.$1.$2") || fail "no l7.$1.$2 in the stats"
	echo "$_v"
}
# code URL [CURL ARGS...]: the HTTP status of one request from the client.
code() {
	_u=$1
	shift
	in_cli curl -s -o /dev/null -w '%{http_code}' -m "$wait_s" "$@" "$_u"
}
# expect_counter VIP COUNTER BEFORE DELTA: the counter moved by exactly DELTA.
expect_counter() {
	_now=$(l7stat "$1" "$2")
	[ "$_now" -eq $(($3 + $4)) ] ||
		fail "vip $1: $2 went from $3 to $_now, expected +$4"
}

must ctl vip add web "$VIP4:80" --strategy rr --l7 default
for n in 1 2 3; do must ctl backend add web "$(be4 $n):8080"; done

step "round robin per request: 30 requests on one keep-alive connection, 10 per backend"
conns=$(l7stat web connections)
# curl's URL glob: 30 requests, one connection.
in_cli curl -s -m 10 "http://$VIP4/rr[1-30]" >"$out" || fail "curl failed: $(cat "$out")"
for n in 1 2 3; do
	got=$(grep -c "^b$n\$" "$out")
	echo "    b$n: $got"
	[ "$got" -eq 10 ] || fail "b$n answered $got of 30 requests, expected 10: $(tr '\n' ' ' <"$out")"
done
expect_counter web connections "$conns" 1

step "round robin per connection: 9 connections, 3 per backend"
: >"$out"
for i in 1 2 3 4 5 6 7 8 9; do
	in_cli curl -s -m "$wait_s" "http://$VIP4/c$i" >>"$out" || fail "request $i failed"
done
for n in 1 2 3; do
	got=$(grep -c "^b$n\$" "$out")
	[ "$got" -eq 3 ] || fail "b$n answered $got of 9 connections, expected 3: $(tr '\n' ' ' <"$out")"
done

step "pipelining: two requests in one write get two answers, in order; the connection stays open"
printf 'GET /status/201 HTTP/1.1\r\nHost: x\r\n\r\nGET /status/202 HTTP/1.1\r\nHost: x\r\n\r\n' >"$req"
in_cli "$RAWHTTP" -t 1 -f "$req" "$VIP4" 80 >"$out" 2>&1 || fail "rawhttp: $(cat "$out")"
got=$(grep '^HTTP/' "$out" | tr -d '\r' | tr '\n' '|')
[ "$got" = "HTTP/1.1 201 Created|HTTP/1.1 202 Accepted|" ] ||
	fail "expected 201 then 202, got '$got': $(cat "$out")"
[ "$(tail -n 1 "$out")" = "closed: no (timeout)" ] ||
	fail "the keep-alive connection was closed: $(tail -n 1 "$out")"
ids=$(grep -i '^x-request-id:' "$out" | tr -d '\r' | sort -u | wc -l)
[ "$ids" -eq 2 ] || fail "expected two distinct X-Request-Id answers, got $ids: $(cat "$out")"

step "X-Forwarded-For appended, X-Forwarded-Proto and X-Request-Id set by the proxy"
in_cli curl -s -m "$wait_s" -D "$LAB_DIR/resp" -H 'X-Forwarded-For: 198.18.0.99' \
	-H 'X-Forwarded-Proto: https' -H 'X-Request-Id: forged-by-client' \
	-H 'Connection: keep-alive, X-Hop' -H 'X-Hop: secret' -H 'X-Kept: yes' \
	"http://$VIP4/echo" >"$out" || fail "curl /echo failed"
tr -d '\r' <"$out" >"$out.head"
echo "    the backend got: $(grep -i '^x-' "$out.head" | tr '\n' ' ')"
[ "$(grep -ci '^x-forwarded-for:' "$out.head")" -eq 1 ] || fail "not one X-Forwarded-For: $(cat "$out.head")"
grep -qx "X-Forwarded-For: 198.18.0.99, $CLI4" "$out.head" ||
	fail "expected 'X-Forwarded-For: 198.18.0.99, $CLI4': $(cat "$out.head")"
[ "$(grep -ci '^x-forwarded-proto:' "$out.head")" -eq 1 ] || fail "not one X-Forwarded-Proto: $(cat "$out.head")"
grep -qx "X-Forwarded-Proto: http" "$out.head" ||
	fail "expected 'X-Forwarded-Proto: http' (the client's https replaced): $(cat "$out.head")"
[ "$(grep -ci '^x-request-id:' "$out.head")" -eq 1 ] || fail "not one X-Request-Id: $(cat "$out.head")"
rid=$(sed -n 's/^[Xx]-[Rr]equest-[Ii]d: //p' "$out.head")
if [ "$rid" = forged-by-client ] || [ -z "$rid" ]; then
	fail "the client's X-Request-Id was forwarded: '$rid'"
fi
crid=$(tr -d '\r' <"$LAB_DIR/resp" | sed -n 's/^[Xx]-[Rr]equest-[Ii]d: //p')
[ "$rid" = "$crid" ] || fail "the backend got request id '$rid', the client '$crid'"
grep -qi '^x-hop:' "$out.head" && fail "X-Hop (listed in Connection) was forwarded: $(cat "$out.head")"
grep -qx 'X-Kept: yes' "$out.head" || fail "X-Kept was not forwarded: $(cat "$out.head")"
in_cli curl -s -m "$wait_s" "http://$VIP4/echo" | tr -d '\r' >"$out.head"
grep -qx "X-Forwarded-For: $CLI4" "$out.head" ||
	fail "expected 'X-Forwarded-For: $CLI4' without a client one: $(cat "$out.head")"

step "a ${upload_kib} KiB chunked upload reaches the backend intact"
head -c $((upload_kib * 1024)) /dev/urandom >"$LAB_DIR/upload"
want="body $((upload_kib * 1024)) $(sha256sum <"$LAB_DIR/upload" | cut -d' ' -f1)"
# curl -T - sends stdin chunked; "Expect:" spares the wait for a 100 Continue
in_cli curl -s -m 30 -H 'Expect:' -T - "http://$VIP4/echo" <"$LAB_DIR/upload" | tr -d '\r' >"$out" ||
	fail "the chunked upload failed"
grep -qi '^transfer-encoding: chunked$' "$out" || fail "the upload was not chunked: $(head -n 8 "$out")"
got=$(tail -n 1 "$out")
[ "$got" = "$want" ] || fail "the backend got '$got', expected '$want'"
in_cli curl -s -m 30 -H 'Expect:' --data-binary "@$LAB_DIR/upload" "http://$VIP4/echo" | tr -d '\r' >"$out" ||
	fail "the Content-Length upload failed"
got=$(tail -n 1 "$out")
[ "$got" = "$want" ] || fail "Content-Length upload: the backend got '$got', expected '$want'"

step "404 when no route matches the host"
cat >"$LAB_DIR/api.json" <<'EOF'
{"routes": [{"name": "api", "host": "api.example", "path": "/"}]}
EOF
must ctl vip add api "$VIP4:8081" --strategy rr --l7 "$LAB_DIR/api.json"
must ctl backend add api "$(be4 1):8080"
before=$(l7stat api no_route)
got=$(code "http://$VIP4:8081/x" -H 'Host: other.example')
[ "$got" = 404 ] || fail "a request for host other.example got $got, expected 404"
expect_counter api no_route "$before" 1
got=$(code "http://$VIP4:8081/x" -H 'Host: api.example')
[ "$got" = 200 ] || fail "a request for host api.example got $got, expected 200"

step "503 when the VIP has no backend, or only one of weight 0"
must ctl vip add empty "$VIP4:8082" --strategy rr --l7 default
before=$(l7stat empty no_backend)
got=$(code "http://$VIP4:8082/x")
[ "$got" = 503 ] || fail "a VIP without backends answered $got, expected 503"
must ctl backend add empty "$(be4 1):8080" --weight 0
got=$(code "http://$VIP4:8082/x")
[ "$got" = 503 ] || fail "a VIP whose only backend has weight 0 answered $got, expected 503"
expect_counter empty no_backend "$before" 2

step "502 when the only backend refuses connections"
must ctl vip add dead "$VIP4:8083" --strategy rr --l7 default
must ctl backend add dead "$(be4 1):9" # nothing listens on port 9
before=$(l7stat dead upstream_errors)
got=$(code "http://$VIP4:8083/x")
[ "$got" = 502 ] || fail "a refusing backend gave $got, expected 502"
expect_counter dead upstream_errors "$before" 1

step "a GET is retried at most once: two refusing backends give 502 after one retry"
must ctl backend add dead "$(be4 2):9"
before=$(l7stat dead retries)
errs=$(l7stat dead upstream_errors)
got=$(code "http://$VIP4:8083/twice")
[ "$got" = 502 ] || fail "two refusing backends gave $got, expected 502"
expect_counter dead retries "$before" 1
expect_counter dead upstream_errors "$errs" 1

step "an idempotent GET is retried once on another backend"
must ctl vip add retry "$VIP4:8084" --strategy rr --l7 default
must ctl backend add retry "$(be4 1):8080"
must ctl backend add retry "$(be4 2):9" # refuses
before=$(l7stat retry retries)
for i in 1 2 3 4 5 6 7 8 9 10; do
	got=$(code "http://$VIP4:8084/get$i")
	[ "$got" = 200 ] || fail "GET $i got $got, expected 200 (retried on b1)"
done
retries=$(($(l7stat retry retries) - before))
echo "    10 GETs answered 200, $retries retries"
got=$(grep -c '^req GET /get' "$LAB_DIR/httpd-b1.log")
[ "$got" -eq 10 ] || fail "b1 received $got GETs, expected each of the 10 once"
if [ "$retries" -lt 1 ] || [ "$retries" -gt 10 ]; then
	fail "expected 1..10 retries, got $retries"
fi

step "a POST is not retried: with round robin, half of them get 502"
before=$(l7stat retry retries)
n502=0
n200=0
for i in 1 2 3 4 5 6 7 8 9 10; do
	got=$(code "http://$VIP4:8084/post$i" -d "x=$i")
	case "$got" in
	200) n200=$((n200 + 1)) ;;
	502) n502=$((n502 + 1)) ;;
	*) fail "POST $i got $got, expected 200 or 502" ;;
	esac
done
echo "    POSTs: $n200 got 200, $n502 got 502"
got=$(grep -c '^req POST /post' "$LAB_DIR/httpd-b1.log")
[ "$got" -eq 5 ] || fail "b1 received $got POSTs, expected 5"
if [ "$n200" -ne 5 ] || [ "$n502" -ne 5 ]; then
	fail "expected 5 POSTs answered 200 and 5 with 502"
fi
expect_counter retry retries "$before" 0

step "408 and a close when the request head does not arrive within timeouts_ms.header"
cat >"$LAB_DIR/slow.json" <<EOF
{"timeouts_ms": {"header": $hdr_ms, "request": $req_ms}}
EOF
must ctl vip add slow "$VIP4:8085" --strategy rr --l7 "$LAB_DIR/slow.json"
must ctl backend add slow "$(be4 1):8080"
before=$(l7stat slow timeouts)
printf 'GET /partial HTTP/1.1\r\nHost: x\r\n' >"$req"
in_cli "$RAWHTTP" -t $((wait_s * 2)) -f "$req" "$VIP4" 8085 >"$out" 2>&1 || fail "rawhttp: $(cat "$out")"
got=$(head -n 1 "$out" | tr -d '\r')
[ "$got" = "HTTP/1.1 408 Request Timeout" ] || fail "a partial head got '$got', expected 408: $(cat "$out")"
[ "$(tail -n 1 "$out")" = "closed: yes" ] || fail "not closed after the 408: $(tail -n 1 "$out")"
expect_counter slow timeouts "$before" 1
grep -q '/partial' "$LAB_DIR/httpd-b1.log" && fail "the partial request reached b1"

step "504 when the backend does not answer within timeouts_ms.request"
got=$(code "http://$VIP4:8085/slow/$slow_ms")
[ "$got" = 504 ] || fail "a ${slow_ms} ms answer with a ${req_ms} ms request timeout got $got, expected 504"
expect_counter slow timeouts "$before" 2

step "an IPv6 L7 VIP"
must ctl vip add web6 "[$VIP6]:80" --strategy rr --l7 default
for n in 1 2 3; do must ctl backend add web6 "[$(be6 $n)]:8080"; done
# -g (no globbing, for the brackets): the six URLs spelled out, one connection
in_cli curl -s -g -m 10 "http://[$VIP6]/v1" "http://[$VIP6]/v2" "http://[$VIP6]/v3" \
	"http://[$VIP6]/v4" "http://[$VIP6]/v5" "http://[$VIP6]/v6" >"$out" ||
	fail "curl over IPv6 failed"
for n in 1 2 3; do
	got=$(grep -c "^b$n\$" "$out")
	[ "$got" -eq 2 ] || fail "b$n answered $got of 6 IPv6 requests, expected 2: $(tr '\n' ' ' <"$out")"
done
in_cli curl -s -g -m "$wait_s" "http://[$VIP6]/echo" | tr -d '\r' >"$out.head"
grep -qx "X-Forwarded-For: $CLI6" "$out.head" ||
	fail "expected 'X-Forwarded-For: $CLI6' over IPv6: $(cat "$out.head")"
[ "$(l7stat web6 status_2xx)" -eq 7 ] || fail "web6: status_2xx is $(l7stat web6 status_2xx), expected 7"
