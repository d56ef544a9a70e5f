#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# test_l7_jwt: an L7 route with "jwt" lets a request through only with a valid
# bearer token. Keys and tokens are made at test time by tests/e2e/jwtmint
# (RSA, EC P-256/P-384 and HMAC keys in a JWKS file). Through the proxy, with
# curl from the client:
# - valid RS256, ES256, ES384 and HS256 tokens are answered by a backend (200,
#   body bN), and the backend receives the token's subject in the configured
#   header (a small echo backend; a client's own copy of that header is
#   dropped);
# - an expired, not yet valid, wrong-issuer, wrong-audience, "alg": "none",
#   algorithm-confusion (HS256 keyed with the RSA public key), not allowed
#   algorithm, unknown-kid and tampered token each get 401 with
#   `WWW-Authenticate: Bearer error="invalid_token"`, and each counts under its
#   own reason in the route's jwt stats; no token at all gets 401 with a bare
#   `WWW-Authenticate: Bearer`;
# - a token repeated is verified once and then served from the cache;
# - key rotation: a new JWKS (a new kid alone) written over the file is picked
#   up within seconds (the file is checked at most once a second): the new
#   kid's token gets 200, the old kid's tokens 401, even one the proxy had
#   verified and cached before the rotation;
# - the VIP's "unauthorized" counter equals the number of 401s sent, and no
#   token ever appears in the sluiced log (run with -v).
# Under SL_E2E_IN_VM=1 the wait for the rotation is longer (30 s instead of 5 s).
set -u
. tests/e2e/lab.sh
lab_trap "jw$$"

JWTMINT="$OUT/bin/e2e/jwtmint"
ISS=https://idp.e2e.test
AUD=api
if [ "${SL_E2E_IN_VM:-0}" = 1 ]; then rot_tenths=300; else rot_tenths=50; fi

lab_up "jw$$" || fail "lab_up failed"
keys="$LAB_DIR/keys"
hdr="$LAB_DIR/resp.head"
body="$LAB_DIR/resp.body"
must "$JWTMINT" keygen "$keys"

# The echo backend: answers "sub=V\n" with every X-Auth-Subject value it got
# (comma-joined; "sub=\n" when none), so the test sees what reached upstream.
cat >"$LAB_DIR/echo.py" <<'EOF'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        b = ("sub=" + ",".join(self.headers.get_all("X-Auth-Subject") or []) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1])), H)
print("listening", flush=True)
s.serve_forever()
EOF
_lab_bg echo-b1 ip netns exec "$LAB-b1" python3 "$LAB_DIR/echo.py" 9090
_lab_wait_line "$LAB_DIR/echo-b1.log" listening "$LAST_PID" || fail "echo backend did not start"

jwt_conf() {
	cat <<EOF
{"jwks": "$keys/jwks.json", "algs": ["RS256", "ES256", "ES384", "HS256"],
 "issuer": "$ISS", "audience": ["$AUD", "other"], "forward_subject": "X-Auth-Subject"}
EOF
}
printf '{"routes": [{"name": "api", "path": "/", "jwt": %s}]}\n' "$(jwt_conf)" >"$LAB_DIR/web.json"
printf '{"routes": [{"name": "who", "path": "/", "jwt": %s}]}\n' "$(jwt_conf)" >"$LAB_DIR/echo.json"

lab_sluiced_start --workers 2 -v || fail "sluiced did not start"
must lab_attach
ip -n "$NS_LB" addr add "$VIP4/32" dev lo
ip -n "$NS_LB" addr add 198.19.0.11/32 dev lo
must ctl vip add web "$VIP4:80" --strategy rr --l7 "$LAB_DIR/web.json"
for n in 1 2 3; do must ctl backend add web "$(be4 $n):8080"; done
must ctl vip add echo 198.19.0.11:80 --strategy rr --l7 "$LAB_DIR/echo.json"
must ctl backend add echo "$(be4 1):9090"

# mint ARGS...: a token (jwtmint sign); remembered in $LAB_DIR/tokens for the log check.
mint() {
	_t=$("$JWTMINT" sign "$keys" "$@") || return 1
	echo "$_t" >>"$LAB_DIR/tokens"
	echo "$_t"
}
claims() { printf '{"sub":"%s","iss":"%s","aud":"%s"}' "$1" "${2:-$ISS}" "${3:-$AUD}"; }

# get [TOKEN] [CURL_ARGS...]: GET http://VIP/PATH (PATH defaults to /x) with
# "Authorization: Bearer TOKEN" unless TOKEN is empty; sets $code, the response
# head in $hdr (CRs removed), the body in $body.
get() {
	_tok=$1
	shift
	set -- -s -m 5 -o "$body" -D "$hdr.raw" -w '%{http_code}' "$@"
	[ -n "$_tok" ] && set -- -H "Authorization: Bearer $_tok" "$@"
	code=$(in_cli curl "$@") || fail "curl $* exited $?"
	tr -d '\r' <"$hdr.raw" >"$hdr"
}
url="http://$VIP4/x"
n401=0
stats() { ctl --json stats >"$LAB_DIR/stats.json" || fail "sluicectl stats failed"; }
sget() { jget "$1" <"$LAB_DIR/stats.json" || fail "no $1 in stats: $(cat "$LAB_DIR/stats.json")"; }

# expect_ok WHAT TOKEN: 200 from a backend.
expect_ok() {
	get "$2" "$url"
	[ "$code" = 200 ] || fail "$1: expected 200, got $code ($(cat "$body"))"
	grep -qx 'b[123]' "$body" || fail "$1: expected a backend name as the body, got '$(cat "$body")'"
	echo "    $1: 200 from $(cat "$body")"
}

# expect_refused WHAT TOKEN REASON: 401, WWW-Authenticate: Bearer
# error="invalid_token", and the route's failed.REASON counter up by one.
expect_refused() {
	stats
	_before=$(sget "l7.web.jwt.api.failed.$3")
	get "$2" "$url"
	[ "$code" = 401 ] || fail "$1: expected 401, got $code ($(cat "$body"))"
	n401=$((n401 + 1))
	grep -qx 'WWW-Authenticate: Bearer error="invalid_token"' "$hdr" ||
		fail "$1: no 'WWW-Authenticate: Bearer error=\"invalid_token\"' in: $(cat "$hdr")"
	stats
	_after=$(sget "l7.web.jwt.api.failed.$3")
	[ "$_after" -eq $((_before + 1)) ] ||
		fail "$1: expected jwt failed.$3 $_before -> $((_before + 1)), got $_after"
	echo "    $1: 401 invalid_token ($3)"
}

step "valid tokens of every allowed algorithm are let through"
tok_rs=$(mint --alg RS256 --claims "$(claims alice)" --exp-in 600) || fail "jwtmint failed"
expect_ok "RS256" "$tok_rs"
expect_ok "ES256" "$(mint --alg ES256 --claims "$(claims alice)" --exp-in 600)"
expect_ok "ES384" "$(mint --alg ES384 --claims "$(claims alice)" --exp-in 600)"
expect_ok "HS256" "$(mint --alg HS256 --claims "$(claims alice)" --exp-in 600)"
expect_ok "audience 'other' of the list" \
	"$(mint --claims '{"sub":"alice","iss":"'"$ISS"'","aud":["x","other"]}' --exp-in 600)"

step "the backend receives the subject, never the client's own copy of the header"
tok_bob=$(mint --claims "$(claims bob)" --exp-in 600) || fail "jwtmint failed"
get "$tok_bob" -H "X-Auth-Subject: mallory" http://198.19.0.11/who
[ "$code" = 200 ] || fail "echo: expected 200, got $code ($(cat "$body"))"
[ "$(cat "$body")" = "sub=bob" ] || fail "echo: upstream saw '$(cat "$body")', expected 'sub=bob'"
echo "    upstream saw $(cat "$body")"

step "no token: 401 with a bare WWW-Authenticate: Bearer"
get "" "$url"
[ "$code" = 401 ] || fail "no token: expected 401, got $code"
n401=$((n401 + 1))
grep -qx 'WWW-Authenticate: Bearer' "$hdr" ||
	fail "no token: expected 'WWW-Authenticate: Bearer' alone, got: $(grep -i www-auth "$hdr")"
echo "    no token: 401, $(grep -i www-auth "$hdr")"

step "invalid tokens: 401 invalid_token, each for its own reason"
expect_refused "expired" "$(mint --claims "$(claims alice)" --exp-in -60)" expired
expect_refused "not yet valid" \
	"$(mint --claims "$(claims alice)" --exp-in 600 --nbf-in 120)" not_yet_valid
expect_refused "wrong issuer" \
	"$(mint --claims "$(claims alice https://evil.e2e.test)" --exp-in 600)" bad_issuer
expect_refused "wrong audience" \
	"$(mint --claims "$(claims alice "$ISS" web)" --exp-in 600)" bad_audience
expect_refused "alg none" "$(mint --alg-none --claims "$(claims alice)" --exp-in 600)" bad_alg
expect_refused "alg confusion (HS256 keyed with the RSA public key)" \
	"$(mint --confuse --claims "$(claims alice)" --exp-in 600)" bad_alg
expect_refused "RS384 (not in algs)" \
	"$(mint --alg RS384 --kid rsa1 --claims "$(claims alice)" --exp-in 600)" bad_alg
expect_refused "unknown kid" \
	"$(mint --kid nosuch --key "$keys/rsa.pem" --claims "$(claims alice)" --exp-in 600)" \
	unknown_kid
expect_refused "tampered payload" \
	"$(mint --tamper --claims "$(claims alice)" --exp-in 600)" bad_signature
expect_refused "tampered signature" \
	"$(mint --tamper-sig --claims "$(claims alice)" --exp-in 600)" bad_signature

step "a repeated token is verified once, then served from the cache"
tok_carol=$(mint --claims "$(claims carol)" --exp-in 600) || fail "jwtmint failed"
stats
hits0=$(sget l7.web.jwt.api.cache_hits)
miss0=$(sget l7.web.jwt.api.cache_misses)
for i in 1 2 3 4 5; do expect_ok "carol #$i" "$tok_carol"; done
stats
hits=$(($(sget l7.web.jwt.api.cache_hits) - hits0))
miss=$(($(sget l7.web.jwt.api.cache_misses) - miss0))
echo "    5 requests: $miss signature check(s), $hits cache hit(s)"
if [ "$hits" -ne 4 ] || [ "$miss" -ne 1 ]; then
	fail "expected 1 signature check and 4 cache hits for 5 requests, got $miss and $hits"
fi

step "rotation: a new JWKS with only kid rsa2 replaces the file"
must "$JWTMINT" keygen "$keys" --only rsa --kid rsa2
tok_new=$(mint --kid rsa2 --claims "$(claims dave)" --exp-in 600) || fail "jwtmint failed"
# Until a request notices the new file, the new kid is unknown (401, counted);
# the file is re-checked at most once a second.
i=0
while :; do
	get "$tok_new" "$url"
	case "$code" in
	200) break ;;
	401) n401=$((n401 + 1)) ;;
	*) fail "new kid: expected 200 (or 401 before the reload), got $code" ;;
	esac
	i=$((i + 1))
	[ "$i" -lt "$rot_tenths" ] || fail "new kid rsa2 still refused after $((i / 10)) s"
	sleep 0.1
done
grep -qx 'b[123]' "$body" || fail "new kid: expected a backend name as the body, got '$(cat "$body")'"
echo "    new kid rsa2: 200 from $(cat "$body") after $i refusal(s)"
stats
echo "    jwks reloads $(sget l7.web.jwt.api.jwks_reloads), keys $(sget l7.web.jwt.api.keys)"
[ "$(sget l7.web.jwt.api.keys)" -eq 1 ] || fail "expected 1 key after the rotation"
expect_refused "old kid rsa1, a token never seen" \
	"$(mint --kid rsa1 --key "$keys/rsa.pem" --claims "$(claims erin)" --exp-in 600)" \
	unknown_kid

step "counters: unauthorized equals the 401s sent"
stats
got=$(sget l7.web.unauthorized)
echo "    unauthorized $got, 401s sent $n401"
[ "$got" -eq "$n401" ] || fail "l7.web.unauthorized is $got, expected $n401"

step "no token appears in the sluiced log"
[ -s "$LAB_LOG" ] || fail "the sluiced log is empty"
while read -r t; do
	sig=${t##*.}
	if grep -qF -e "$t" "$LAB_LOG" || { [ -n "$sig" ] && grep -qF -e "$sig" "$LAB_LOG"; }; then
		fail "a token (or its signature) is in $LAB_LOG: $t"
	fi
done <"$LAB_DIR/tokens"
echo "    $(wc -l <"$LAB_DIR/tokens") tokens, none in $(wc -l <"$LAB_LOG") log lines"

step "rotation revokes a token verified and cached under the removed key"
expect_refused "old kid rsa1, cached before the rotation" "$tok_rs" unknown_kid
