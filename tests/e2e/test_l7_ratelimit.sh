#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# test_l7_ratelimit: an L7 route's "limit" (token bucket) admits a burst, then
# the configured rate, per key, and refuses the rest with 429 and the
# RateLimit headers.
# - Keyed by client: one client sends requests back to back over one
#   keep-alive connection for ~3 s (a python http.client loop). The first BURST
#   requests are all answered by a backend; in all, the 200s number
#   BURST + RATE * elapsed (the client's own measure of the time between its
#   first and last request; small tolerances for timing and rounding); every
#   refusal is 429 with Retry-After, RateLimit-Limit = BURST,
#   RateLimit-Remaining = 0 and RateLimit-Reset, and leaves the connection open.
# - Keyed by subject (a route with "jwt"): two subjects from the same client
#   address each get their own budget of 3 (1 a minute): alice 200 200 200 429,
#   then bob 200 200 200 429, then alice still 429 (Retry-After ~60 s).
# - The VIP's "rate_limited" counter equals the number of 429s sent.
# Under SL_E2E_IN_VM=1 (software emulation, slow requests) the client-keyed
# route runs at 5/s with a burst of 5 instead of 20/s and 10, so that the
# client still outpaces it.
set -u
. tests/e2e/lab.sh
lab_trap "rl7$$"

JWTMINT="$OUT/bin/e2e/jwtmint"
if [ "${SL_E2E_IN_VM:-0}" = 1 ]; then
	RATE=5
	BURST=5
else
	RATE=20
	BURST=10
fi
SECS=3

lab_up "rl7$$" || fail "lab_up failed"
keys="$LAB_DIR/keys"
must "$JWTMINT" keygen "$keys"
cat >"$LAB_DIR/web.json" <<EOF
{"routes": [
 {"name": "byclient", "path": "/",
  "limit": {"key": "client", "rate": $RATE, "per_ms": 1000, "burst": $BURST}},
 {"name": "bysubject", "path": "/s/",
  "jwt": {"jwks": "$keys/jwks.json", "algs": ["RS256"]},
  "limit": {"key": "subject", "rate": 1, "per_ms": 60000, "burst": 3}}
]}
EOF

# The client: GET http://HOST/PATH back to back on one keep-alive connection
# (http.client reopens it only if the server closed it) for SECONDS. Prints
# the count of each status, how many connections it opened, the index of the
# first 429, the time from the first request to the last in ms, and each
# distinct set of RateLimit headers seen on 429s with its count.
cat >"$LAB_DIR/rlclient.py" <<'EOF'
import http.client, sys, time
host, path, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
c = http.client.HTTPConnection(host, 80, timeout=5)
status, sets, conns, first429, n = {}, {}, 0, -1, 0
start = time.monotonic()
last = start
while True:
    now = time.monotonic()
    if now - start >= secs:
        break
    if c.sock is None:
        conns += 1
    last = now
    c.request("GET", path)
    r = c.getresponse()
    r.read()
    status[r.status] = status.get(r.status, 0) + 1
    if r.status == 429:
        if first429 < 0:
            first429 = n
        k = " ".join("%s=%s" % (h, r.getheader(h, "absent")) for h in
                     ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "Retry-After"))
        sets[k] = sets.get(k, 0) + 1
    n += 1
for s in sorted(status):
    print("status%d %d" % (s, status[s]))
print("connections %d" % conns)
print("first429 %d" % first429)
print("elapsed_ms %d" % int((last - start) * 1000))
for k in sorted(sets):
    print("h429 %s count=%d" % (k, sets[k]))
EOF

lab_sluiced_start --workers 2 || fail "sluiced did not start"
must lab_attach
ip -n "$NS_LB" addr add "$VIP4/32" dev lo
must ctl vip add web "$VIP4:80" --strategy rr --l7 "$LAB_DIR/web.json"
for n in 1 2 3; do must ctl backend add web "$(be4 $n):8080"; done
n429=0

step "keyed by client: a burst of $BURST, then $RATE/s, for ${SECS} s on one connection"
out="$LAB_DIR/client.out"
in_cli python3 "$LAB_DIR/rlclient.py" "$VIP4" /x "$SECS" >"$out" 2>&1 ||
	fail "the client failed: $(cat "$out")"
sed 's/^/    /' "$out"
ok=$(count status200 "$out")
lim=$(count status429 "$out")
ms=$(count elapsed_ms "$out")
n429=$((n429 + lim))
others=$(grep '^status' "$out" | grep -v -e '^status200 ' -e '^status429 ')
[ -z "$others" ] || fail "only 200 and 429 expected, got: $others"
[ "$(count connections "$out")" -eq 1 ] ||
	fail "expected one keep-alive connection, the client opened $(count connections "$out")"
[ "$lim" -gt 0 ] || fail "no request was refused: the client did not outpace $RATE/s (or no limit)"
first=$(count first429 "$out")
[ "$first" -ge "$BURST" ] || fail "the first 429 came at request $first, before the burst of $BURST"
# At most BURST + RATE * elapsed (+1: the token of the first instant; +20 ms of
# slack between the client's clock and the proxy's); at least that less 250 ms
# worth of tokens (a request still in flight when the time ran out).
hi=$((BURST + RATE * (ms + 20) / 1000 + 1))
lo=$((BURST + RATE * (ms - 250) / 1000))
echo "    200s: $ok, expected $lo..$hi ($BURST + $RATE/s over $ms ms)"
[ "$ok" -le "$hi" ] || fail "$ok requests admitted, at most $hi expected"
[ "$ok" -ge "$lo" ] || fail "$ok requests admitted, at least $lo expected"

step "every 429 says when to retry: Retry-After 1, RateLimit-Limit $BURST, Remaining 0, Reset"
reset=$(((BURST * 1000 + RATE * 1000 - 1) / (RATE * 1000)))
good="RateLimit-Limit=$BURST RateLimit-Remaining=0 RateLimit-Reset=$reset Retry-After=1"
bad=$(grep '^h429 ' "$out" | grep -v "^h429 $good count=")
[ -z "$bad" ] || fail "429s with other headers than '$good': $bad"

step "keyed by subject: alice and bob have a budget of 3 each"
tok_a=$("$JWTMINT" sign "$keys" --claims '{"sub":"alice"}' --exp-in 600) || fail "jwtmint failed"
tok_b=$("$JWTMINT" sign "$keys" --claims '{"sub":"bob"}' --exp-in 600) || fail "jwtmint failed"
hdr="$LAB_DIR/resp.head"
# sub WHO TOKEN EXPECTED...: one request per EXPECTED status, in order.
sub() {
	_who=$1
	_tok=$2
	shift 2
	_got=""
	for _want in "$@"; do
		_c=$(in_cli curl -s -m 5 -o /dev/null -D "$hdr.raw" -w '%{http_code}' \
			-H "Authorization: Bearer $_tok" "http://$VIP4/s/x") || fail "curl exited $?"
		_got="$_got $_c"
		[ "$_c" = "$_want" ] || fail "$_who: expected$* got$_got"
		[ "$_c" = 429 ] || continue
		n429=$((n429 + 1))
		tr -d '\r' <"$hdr.raw" >"$hdr"
		_ra=$(sed -n 's/^Retry-After: //p' "$hdr")
		_rl=$(sed -n 's/^RateLimit-Limit: //p' "$hdr")
		_rr=$(sed -n 's/^RateLimit-Remaining: //p' "$hdr")
		_rs=$(sed -n 's/^RateLimit-Reset: //p' "$hdr")
		# 1 a minute, burst 3: a token is back in ~60 s, the bucket whole in ~180 s.
		if [ "$_rl" != 3 ] || [ "$_rr" != 0 ] || [ "${_ra:-0}" -lt 58 ] ||
			[ "$_ra" -gt 60 ] || [ "${_rs:-0}" -lt 178 ] || [ "$_rs" -gt 180 ]; then
			fail "$_who: 429 headers: Retry-After '$_ra' (58..60), Limit '$_rl' (3)," \
				"Remaining '$_rr' (0), Reset '$_rs' (178..180)"
		fi
	done
	echo "    $_who:$_got"
}
sub alice "$tok_a" 200 200 200 429
sub bob "$tok_b" 200 200 200 429
sub alice "$tok_a" 429

step "the rate_limited counter equals the 429s sent"
got=$(ctl --json stats | jget l7.web.rate_limited) || fail "no l7.web.rate_limited in the stats"
echo "    rate_limited $got, 429s sent $n429"
[ "$got" -eq "$n429" ] || fail "l7.web.rate_limited is $got, expected $n429"
