#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# test_l7_smuggle: the L7 gateway refuses every ambiguous or malformed request
# framing instead of guessing, so no request can be smuggled past it. Each case
# sends one connection's bytes with tests/e2e/rawhttp: a request with bad
# framing followed by "GET /smuggled-CASE". Each must get exactly one answer,
# 400 (431 for the oversized ones), the connection must be closed by the
# proxy, and no backend may ever see /smuggled-* (the backends log every
# request line they receive: HTTPD_LOG=1). The first, legitimate part may or
# may not reach a backend. Every refusal is counted in the VIP's bad_request.
# The VIP has small limits (max_request_line 256, max_head 1024, max_headers
# 10) so that the oversize cases stay small. Under SL_E2E_IN_VM=1 (QEMU,
# software emulation) rawhttp waits 10 s instead of 3 for the close.
set -u
. tests/e2e/lab.sh
lab_trap "ls$$"
RAWHTTP="$OUT/bin/e2e/rawhttp"
export HTTPD_LOG=1
[ -x "$RAWHTTP" ] || fail "$RAWHTTP is missing (run make)"
wait_s=3
[ "${SL_E2E_IN_VM:-0}" = 1 ] && wait_s=10

lab_up "ls$$" || fail "lab_up failed"
lab_sluiced_start --workers 2 || fail "sluiced did not start"
must lab_attach
ip -n "$NS_LB" addr add "$VIP4/32" dev lo || fail "cannot add $VIP4 to the balancer's lo"
cat >"$LAB_DIR/l7.json" <<'EOF'
{"limits": {"max_request_line": 256, "max_head": 1024, "max_headers": 10}}
EOF
must ctl vip add web "$VIP4:80" --strategy rr --l7 "$LAB_DIR/l7.json"
for n in 1 2 3; do must ctl backend add web "$(be4 $n):8080"; done
req="$LAB_DIR/req"
out="$LAB_DIR/out"

# smuggled CASE: the request that must never reach a backend.
smuggled() { printf 'GET /smuggled-%s HTTP/1.1\r\nHost: x\r\n\r\n' "$1"; }

# backend_log: every request line the three backends received.
backend_log() { cat "$LAB_DIR"/httpd-b1.log "$LAB_DIR"/httpd-b2.log "$LAB_DIR"/httpd-b3.log; }

# send: the bytes of $req over one connection to the VIP; the answer in $out.
send() {
	in_cli "$RAWHTTP" -t "$wait_s" -f "$req" "$VIP4" 80 >"$out" 2>&1 ||
		fail "rawhttp could not talk to $VIP4:80: $(cat "$out")"
}

refused=0
# refused_check CASE STATUS: $req (a bad request, then GET /smuggled-CASE) got
# exactly one answer, with STATUS, and then the proxy closed the connection;
# no backend saw /smuggled-CASE.
refused_check() {
	send
	case "$2" in
	400) _want="HTTP/1.1 400 Bad Request" ;;
	431) _want="HTTP/1.1 431 Request Header Fields Too Large" ;;
	esac
	_got=$(head -n 1 "$out" | tr -d '\r')
	_answers=$(grep -c '^HTTP/' "$out")
	_closed=$(tail -n 1 "$out")
	echo "    $1: $_got, $_closed"
	[ "$_got" = "$_want" ] ||
		fail "$1: expected '$_want', got '$_got'; the whole answer: $(cat "$out")"
	[ "$_answers" -eq 1 ] || fail "$1: expected one answer, got $_answers: $(cat "$out")"
	[ "$_closed" = "closed: yes" ] ||
		fail "$1: expected the proxy to close the connection, got '$_closed'"
	if backend_log | grep -q "/smuggled-$1"; then
		fail "$1: a backend received the smuggled request: $(backend_log | grep /smuggled)"
	fi
	refused=$((refused + 1))
}

step "control: valid pipelined requests reach the backends, each logged"
printf 'GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >"$req"
send
[ "$(grep -c '^HTTP/1.1 200 OK' "$out")" -eq 2 ] || fail "expected two 200 answers, got: $(cat "$out")"
[ "$(tail -n 1 "$out")" = "closed: yes" ] || fail "Connection: close did not close: $(tail -n 1 "$out")"
backend_log | grep -q '^req GET /first$' || fail "no backend logged GET /first: $(backend_log)"
backend_log | grep -q '^req GET /second$' || fail "no backend logged GET /second: $(backend_log)"

step "Content-Length and Transfer-Encoding together (CL.TE shape): 400"
# A CL-framed reader takes "0\r\n\r\n" as the body; a TE one ends the body at
# "0\r\n\r\n" too but a CL of 6 would swallow part of what follows on others.
{
	printf 'POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'
	smuggled clte
} >"$req"
refused_check clte 400

step "Transfer-Encoding and Content-Length together (TE.CL shape): 400"
{
	printf 'POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n'
	printf '26\r\n'
	smuggled tecl
	printf '\r\n0\r\n\r\n'
} >"$req"
refused_check tecl 400

step "two differing Content-Length: 400"
{
	printf 'POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 43\r\n\r\nhello'
	smuggled twocl
} >"$req"
refused_check twocl 400

step "a Transfer-Encoding that is not a final chunked: 400"
{
	printf 'POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n'
	smuggled tenotlast
} >"$req"
refused_check tenotlast 400

step "obs-fold header line: 400"
{
	printf 'POST /a HTTP/1.1\r\nHost: x\r\nX-Fold: a\r\n Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n'
	smuggled obsfold
} >"$req"
refused_check obsfold 400

step "chunk size not hex: 400"
{
	printf 'POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'
	smuggled chunkhex
	printf '\r\n0\r\n\r\n'
} >"$req"
refused_check chunkhex 400

step "chunk size overflowing 64 bits: 400"
{
	printf 'POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n'
	smuggled chunkbig
	printf '\r\n0\r\n\r\n'
} >"$req"
refused_check chunkbig 400

step "bad chunk extension (unterminated quoted string): 400"
{
	printf 'POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;ext="open\r\nx\r\n0\r\n\r\n'
	smuggled chunkext
} >"$req"
refused_check chunkext 400

step "request line over max_request_line (256): 431"
{
	printf 'GET /%0300d HTTP/1.1\r\nHost: x\r\n\r\n' 0
	smuggled longline
} >"$req"
refused_check longline 431

step "head over max_head (1024): 431"
{
	printf 'GET /a HTTP/1.1\r\nHost: x\r\n'
	for i in 1 2 3 4 5 6 7; do printf 'X-Pad-%s: %0200d\r\n' "$i" 0; done
	printf '\r\n'
	smuggled bighead
} >"$req"
refused_check bighead 431

step "more header fields than max_headers (10): 431"
{
	printf 'GET /a HTTP/1.1\r\nHost: x\r\n'
	for i in 1 2 3 4 5 6 7 8 9 10 11; do printf 'X-H%s: v\r\n' "$i"; done
	printf '\r\n'
	smuggled manyheaders
} >"$req"
refused_check manyheaders 431

step "invalid character in a header name: 400"
{
	printf 'GET /a HTTP/1.1\r\nHost: x\r\nX@Bad: v\r\n\r\n'
	smuggled badname
} >"$req"
refused_check badname 400

step "whitespace before the colon: 400"
{
	printf 'POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n'
	smuggled spacecolon
} >"$req"
refused_check spacecolon 400

step "bare LF line ends: 400"
{
	printf 'GET /a HTTP/1.1\nHost: x\n\n'
	smuggled barelf
} >"$req"
refused_check barelf 400

step "a Content-Length that is not digits: 400"
{
	printf 'POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello'
	smuggled clsign
} >"$req"
refused_check clsign 400

step "no backend ever received a smuggled request"
if backend_log | grep -q /smuggled; then
	fail "smuggled requests reached a backend: $(backend_log | grep /smuggled)"
fi

step "every refusal counted in bad_request ($refused)"
stats=$(ctl --json stats) || fail "sluicectl stats failed"
got=$(printf '%s' "$stats" | jget l7.web.bad_request)
echo "    bad_request $got"
[ "$got" = "$refused" ] || fail "bad_request is $got, expected $refused"
got=$(printf '%s' "$stats" | jget l7.web.status_4xx)
[ "$got" = "$refused" ] || fail "status_4xx is $got, expected $refused"
