#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# test_l7_cors: an L7 route's CORS policy is enforced at the gateway, and a
# real browser agrees with it. The route /api/ on an L7 VIP allows the origin
# http://198.18.0.2:8001 (methods GET, POST, PUT; headers Content-Type and
# X-Test; max_age 60; exposes X-Request-Id). The backend
# (tests/e2e/cors/backend.py) logs every request it receives.
#   curl: a preflight is answered at the edge (204, exact Access-Control-*
#     and Vary headers, cors_preflights + 1, no OPTIONS at the backend); the
#     actual response carries Allow-Origin, Vary and Expose-Headers; a
#     disallowed origin, method or header gets a 403 without any
#     Access-Control-* header (cors_denied + 1), and a disallowed origin's
#     simple GET is proxied without any Access-Control-* header.
#   browser: headless Chromium in the client namespace loads
#     tests/e2e/cors/index.html from :8001 (allowed) and :8002 (not allowed),
#     whose script PUTs with X-Test (preflighted) and GETs the VIP. From
#     :8001 both succeed and the exposed X-Request-Id is readable (and is the
#     one the backend saw); from :8002 the browser itself blocks both
#     (TypeError: Failed to fetch), the PUT never reaching the backend.
# The dumped DOMs stay in $LAB_DIR while the test runs (printed on failure).
# Under SL_E2E_IN_VM=1 the browser part is skipped (Chromium under software
# emulation is too slow); the curl part still runs.
set -u
. tests/e2e/lab.sh
lab_trap "co$$"

OK_ORIGIN="http://$CLI4:8001"
BAD_ORIGIN="http://$CLI4:8002"
PAGES=tests/e2e/cors

lab_up "co$$" || fail "lab_up failed"
lab_sluiced_start --workers 2 || fail "sluiced did not start"
must lab_attach
# The gateway terminates TCP on the VIP: the address must be local.
ip -n "$NS_LB" addr add "$VIP4/32" dev lo || fail "cannot add $VIP4 to the balancer's lo"

cat >"$LAB_DIR/l7.json" <<EOF
{"routes": [{"name": "api", "path": "/api/",
  "cors": {"origins": ["$OK_ORIGIN"], "methods": ["GET", "POST", "PUT"],
           "headers": ["Content-Type", "X-Test"], "credentials": false,
           "max_age": 60, "expose": ["X-Request-Id"]}}]}
EOF
must ctl vip add web "$VIP4:80" --strategy rr --l7 "$LAB_DIR/l7.json"
BE_LOG="$LAB_DIR/backend-b1.log"
_lab_bg backend-b1 ip netns exec "$LAB-b1" python3 -u "$PAGES/backend.py" b1 "$(be4 1)" 8081
_lab_wait_line "$BE_LOG" listening "$LAST_PID" 100 || fail "the logging backend did not start"
must ctl backend add web "$(be4 1):8081"

# l7stat NAME: the VIP's L7 counter NAME.
l7stat() {
	_v=$(ctl --json stats | jget "l7.web.$1") || _v=missing
	echo "$_v"
}
# be_count METHOD: how many METHOD requests reached the backend so far.
be_count() { grep -c "^$1 " "$BE_LOG"; }
# req TAG CURL_ARGS...: one request from the client; the status code lands in
# $LAB_DIR/TAG.code, the head in TAG.head, the body in TAG.body.
req() {
	_t="$LAB_DIR/$1"
	shift
	in_cli curl -s -m 5 -D "$_t.head" -o "$_t.body" -w '%{http_code}' "$@" >"$_t.code"
}
# cors_of TAG: the Access-Control-* and Vary lines of TAG's response, sorted.
cors_of() { tr -d '\r' <"$LAB_DIR/$1.head" | grep -i -e '^access-control-' -e '^vary:' | LC_ALL=C sort; }
# expect TAG STATUS BODY HEADERS: TAG got STATUS, BODY ("" for empty) and
# exactly the Access-Control-*/Vary lines HEADERS (newline-separated, sorted).
expect() {
	_code=$(cat "$LAB_DIR/$1.code")
	[ "$_code" = "$2" ] || fail "$1: status $_code, expected $2; head: $(cat "$LAB_DIR/$1.head")"
	_body=$(cat "$LAB_DIR/$1.body")
	[ "$_body" = "$3" ] || fail "$1: body '$_body', expected '$3'"
	_got=$(cors_of "$1")
	[ "$_got" = "$4" ] || fail "$1: CORS headers
---- got:
$_got
---- expected:
$4"
	echo "    $1: $_code${_body:+ $_body}, $(echo "$_got" | grep -c .) CORS header lines as expected"
}

URL="http://$VIP4/api/x"

step "curl: an allowed preflight is answered at the edge with the exact CORS headers"
pf0=$(l7stat cors_preflights)
opt0=$(be_count OPTIONS)
req pf_ok -X OPTIONS -H "Origin: $OK_ORIGIN" -H "Access-Control-Request-Method: PUT" \
	-H "Access-Control-Request-Headers: x-test, content-type" "$URL"
expect pf_ok 204 "" "Access-Control-Allow-Headers: X-Test, Content-Type
Access-Control-Allow-Methods: GET, POST, PUT
Access-Control-Allow-Origin: $OK_ORIGIN
Access-Control-Max-Age: 60
Vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
[ "$(l7stat cors_preflights)" = $((pf0 + 1)) ] ||
	fail "cors_preflights is $(l7stat cors_preflights), expected $((pf0 + 1))"
[ "$(be_count OPTIONS)" = "$opt0" ] || fail "the preflight reached the backend: $(cat "$BE_LOG")"

step "curl: the actual response carries Allow-Origin, Vary and Expose-Headers"
req put_ok -X PUT -H "Origin: $OK_ORIGIN" -H "X-Test: 1" -H "Content-Type: application/json" \
	--data-binary '{"curl":1}' "$URL"
expect put_ok 200 b1 "Access-Control-Allow-Origin: $OK_ORIGIN
Access-Control-Expose-Headers: X-Request-Id
Vary: Origin"
grep -q "^PUT /api/x origin=$OK_ORIGIN rid=[0-9a-f]*-[0-9]* body={\"curl\":1}\$" "$BE_LOG" ||
	fail "the backend did not log the PUT with its body; its log: $(cat "$BE_LOG")"

step "curl: a disallowed origin, method or header: 403 without CORS headers, cors_denied"
den0=$(l7stat cors_denied)
pf0=$(l7stat cors_preflights)
req pf_origin -X OPTIONS -H "Origin: $BAD_ORIGIN" -H "Access-Control-Request-Method: PUT" \
	-H "Access-Control-Request-Headers: x-test" "$URL"
expect pf_origin 403 "CORS preflight refused" ""
req pf_method -X OPTIONS -H "Origin: $OK_ORIGIN" -H "Access-Control-Request-Method: DELETE" "$URL"
expect pf_method 403 "CORS preflight refused" ""
req pf_header -X OPTIONS -H "Origin: $OK_ORIGIN" -H "Access-Control-Request-Method: PUT" \
	-H "Access-Control-Request-Headers: x-test, x-other" "$URL"
expect pf_header 403 "CORS preflight refused" ""
[ "$(l7stat cors_denied)" = $((den0 + 3)) ] ||
	fail "cors_denied is $(l7stat cors_denied), expected $((den0 + 3))"
[ "$(l7stat cors_preflights)" = $((pf0 + 3)) ] ||
	fail "cors_preflights is $(l7stat cors_preflights), expected $((pf0 + 3))"
[ "$(be_count OPTIONS)" = "$opt0" ] || fail "a preflight reached the backend: $(cat "$BE_LOG")"

step "curl: a disallowed origin's simple GET is proxied without CORS headers"
req get_bad -H "Origin: $BAD_ORIGIN" "$URL"
expect get_bad 200 b1 ""

# ---- the browser -------------------------------------------------------
if [ "${SL_E2E_IN_VM:-0}" = 1 ]; then
	echo "  - browser part skipped in VM (SL_E2E_IN_VM=1): only the curl checks ran"
	exit 0
fi
command -v chromium >/dev/null || fail "chromium is not installed (make deps installs it)"

# The page on two origins: :8001 is allowed, :8002 is not.
# Both start at once (Python starts slowly on a loaded host: up to 10 s each).
waits=""
for port in 8001 8002; do
	_lab_bg "page-$port" ip netns exec "$NS_CLI" python3 -u -m http.server "$port" \
		--bind "$CLI4" --directory "$PAGES"
	waits="$waits $port:$LAST_PID"
done
for w in $waits; do
	_lab_wait_line "$LAB_DIR/page-${w%%:*}.log" "Serving HTTP" "${w#*:}" 100 ||
		fail "the page server on :${w%%:*} did not start"
done
PAGE_PIDS=$(sed -n 's/ page-800[12]$//p' "$LAB_DIR/pids" | sort | tr '\n' ' ')

# browse PORT: load the page from origin :PORT in headless Chromium inside the
# client namespace and wait until it exits; its DOM lands in
# $LAB_DIR/dom-PORT.html. Chromium runs as pid 1 of its own pid namespace
# (unshare --pid --kill-child): when the recorded pid (unshare) dies, the
# kernel kills every process Chromium forked, so lab_down leaves none behind.
browse() {
	_dom="$LAB_DIR/dom-$1.html"
	mkdir -p "$LAB_DIR/profile-$1"
	ip netns exec "$NS_CLI" unshare --pid --fork --kill-child --mount-proc \
		chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$LAB_DIR/profile-$1" --virtual-time-budget=10000 \
		--dump-dom "http://$CLI4:$1/index.html?vip=$VIP4" \
		>"$_dom" 2>"$LAB_DIR/chromium-$1.log" &
	_pid=$!
	echo "$_pid chromium-$1" >>"$LAB_DIR/pids"
	_i=0
	while kill -0 "$_pid" 2>/dev/null; do
		_i=$((_i + 1))
		if [ "$_i" -gt 300 ]; then
			_lab_stop "$_pid"
			fail "chromium (:$1) did not finish within 30 s; its log:" \
				"$(tail -n 20 "$LAB_DIR/chromium-$1.log")"
		fi
		sleep 0.1
	done
	wait "$_pid"
	_rc=$?
	_lab_forget "$_pid"
	[ "$_rc" -eq 0 ] || fail "chromium (:$1) exited $_rc; its log:" \
		"$(tail -n 20 "$LAB_DIR/chromium-$1.log")"
	# Nothing of Chromium may outlive it: only the page servers stay.
	_left=$(ip netns pids "$NS_CLI" | sort | tr '\n' ' ')
	[ "$_left" = "$PAGE_PIDS" ] || fail "processes left in the client namespace after" \
		"chromium: $(for p in $_left; do ps -o pid=,args= -p "$p"; done)"
	grep -q '<pre id="done">done</pre>' "$_dom" ||
		page_fail "$1" "the page did not finish its fetches"
}
# page_fail PORT MESSAGE: fail, showing the DOM the page from :PORT left.
page_fail() { fail "$2; the DOM from :$1: $(cat "$LAB_DIR/dom-$1.html")"; }
# line PORT ID: the text of <pre id="ID"> in the DOM from :PORT.
line() { sed -n "s|.*<pre id=\"$2\">\\(.*\\)</pre>.*|\\1|p" "$LAB_DIR/dom-$1.html"; }

step "browser from the allowed origin: preflighted PUT and GET succeed"
pf0=$(l7stat cors_preflights)
den0=$(l7stat cors_denied)
opt0=$(be_count OPTIONS)
put0=$(be_count PUT)
browse 8001
put=$(line 8001 put)
get=$(line 8001 get)
echo "    $put"
echo "    $get"
rid=${put##* request-id }
case "$put" in
"put: status 200 body b1 request-id "[0-9a-f]*-[0-9]*) ;;
*) page_fail 8001 "the allowed origin's PUT: '$put', expected status 200 body b1 and a request id" ;;
esac
case "$get" in
"get: status 200 body b1 request-id "[0-9a-f]*-[0-9]*) ;;
*) page_fail 8001 "the allowed origin's GET: '$get', expected status 200 body b1 and a request id" ;;
esac
grep -q "^PUT /api/put origin=$OK_ORIGIN rid=$rid body={\"probe\":\"put\"}\$" "$BE_LOG" ||
	fail "the backend did not see the browser's PUT with request id $rid; its log:" \
		"$(cat "$BE_LOG")"
[ "$(l7stat cors_preflights)" = $((pf0 + 1)) ] ||
	fail "cors_preflights is $(l7stat cors_preflights), expected $((pf0 + 1)) (the browser's preflight)"
[ "$(l7stat cors_denied)" = "$den0" ] || fail "cors_denied moved to $(l7stat cors_denied) from $den0"
[ "$(be_count OPTIONS)" = "$opt0" ] || fail "the browser's preflight reached the backend"
[ "$(be_count PUT)" = $((put0 + 1)) ] || fail "$(($(be_count PUT) - put0)) PUTs reached the backend, expected 1"

step "browser from a disallowed origin: the browser blocks both"
pf0=$(l7stat cors_preflights)
den0=$(l7stat cors_denied)
put0=$(be_count PUT)
browse 8002
put=$(line 8002 put)
get=$(line 8002 get)
echo "    $put"
echo "    $get"
[ "$put" = "put: blocked: TypeError: Failed to fetch" ] ||
	page_fail 8002 "the disallowed origin's PUT: '$put', expected blocked by the browser"
[ "$get" = "get: blocked: TypeError: Failed to fetch" ] ||
	page_fail 8002 "the disallowed origin's GET: '$get', expected blocked by the browser"
[ "$(l7stat cors_preflights)" = $((pf0 + 1)) ] ||
	fail "cors_preflights is $(l7stat cors_preflights), expected $((pf0 + 1))"
[ "$(l7stat cors_denied)" = $((den0 + 1)) ] ||
	fail "cors_denied is $(l7stat cors_denied), expected $((den0 + 1)) (the refused preflight)"
[ "$(be_count PUT)" = "$put0" ] || fail "the disallowed origin's PUT reached the backend"
# The simple GET was proxied; its answer, without CORS headers, was refused
# by the browser, not by the gateway.
grep -q "^GET /api/get origin=$BAD_ORIGIN " "$BE_LOG" ||
	fail "the disallowed origin's simple GET did not reach the backend; its log: $(cat "$BE_LOG")"
[ "$(be_count OPTIONS)" = "$opt0" ] || fail "a preflight reached the backend"
