#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `make demo`: sluice balancing real HTTP traffic in a throw-away lab of network
# namespaces, driven through sluicectl the way an operator would. Builds
# nothing (make did); needs root; runs unattended; removes everything it made
# when it ends, also on Ctrl-C.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/lab.sh

say() { printf '\n== %s\n' "$*"; }
# sctl ARGS...: show the command, run it, indent its output.
sctl() {
	echo "   \$ sluicectl $*"
	_o=$(ctl "$@" 2>&1)
	_rc=$?
	[ -n "$_o" ] && printf '%s\n' "$_o" | sed 's/^/     /'
	[ "$_rc" -eq 0 ] || fail "sluicectl $* exited $_rc"
}
# pct PART WHOLE: PART as a rounded percentage of WHOLE.
pct() { echo $(((200 * $1 / $2 + 1) / 2)); }
# split FILE TOTAL ADDRFN W1 W2 W3: the per-backend table for hammer's output
# FILE; ADDRFN is be4 or be6 (the backends' addresses).
split() {
	_sum=$(($4 + $5 + $6))
	printf '   %-8s %-16s %6s %9s %9s\n' backend address weight expected answered
	_n=1
	for _w in "$4" "$5" "$6"; do
		_got=$(count "b$_n" "$1")
		printf '   %-8s %-16s %6s %8s%% %8s%%   (%s of %s)\n' "b$_n" "$($3 $_n)" "$_w" \
			"$(pct "$_w" "$_sum")" "$(pct "$_got" "$2")" "$_got" "$2"
		_n=$((_n + 1))
	done
	echo "   failed requests: $(count failed "$1")"
}

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: needs root (network namespaces, XDP): run 'sudo make demo'" >&2
	exit 1
fi
for b in "$SLUICED" "$SLUICECTL" "$HTTPD" "$HAMMER" "$OUT/bin/e2e/jwtmint"; do
	[ -x "$b" ] || {
		echo "demo: $b is missing: run 'make' first" >&2
		exit 1
	}
done

NAME="demo$$"
lab_trap "$NAME"
N=600

say "1. A lab of five network namespaces (a client, a balancer, three backends)"
lab_up "$NAME" || fail "could not build the lab"
cat <<EOF
   $NS_CLI  198.18.0.2      ── veth ──  $NS_LB  198.18.0.1
   $NAME-b1   198.18.11.2     ── veth ──  $NS_LB  198.18.11.1
   $NAME-b2   198.18.12.2     ── veth ──  $NS_LB  198.18.12.1
   $NAME-b3   198.18.13.2     ── veth ──  $NS_LB  198.18.13.1
   Each backend runs a tiny HTTP server on ports 80 and 8080 that answers with
   its own name (b1, b2, b3). The client routes the VIP 198.19.0.10 through
   the balancer. Nothing answers on the VIP yet:
EOF
hammer -n 1 -t 500 -q -a "$VIP4" -p 80 >"$LAB_DIR/before.txt"
echo "   client -> $VIP4:80: $(count failed "$LAB_DIR/before.txt") of 1 request failed"

say "2. Start the agent, sluiced, in the balancer's namespace"
lab_sluiced_start || fail "sluiced did not start"
echo "   sluiced (pid $SLUICED_PID) loaded the XDP program and pinned its maps under"
echo "   $LAB_BPFFS; sluicectl talks to it over"
echo "   $LAB_SOCK (all removed at the end)."

say "3. Attach the XDP program to the balancer's interfaces"
echo "   (the client side, and each backend side: NAT replies come back there)"
for i in to-cli to-b1 to-b2 to-b3; do
	sctl attach "$i" --mode native
done

say "4. A virtual IP with three backends, weighted 1:2:3"
echo "   wrr = smooth weighted round-robin; nat = the balancer rewrites the"
echo "   destination to the backend and the reply's source back to the VIP."
sctl vip add web "$VIP4:80" --strategy wrr --forward nat
for n in 1 2 3; do
	sctl backend add web "$(be4 $n):8080" --weight "$n"
done
sctl vip list

say "5. $N HTTP requests from the client, each on a new TCP connection"
echo "   \$ hammer -n $N -a $VIP4 -p 80"
hammer -n "$N" -q -a "$VIP4" -p 80 >"$LAB_DIR/v4.txt"
split "$LAB_DIR/v4.txt" "$N" be4 1 2 3
echo "   Every packet of every connection was forwarded by XDP, in the kernel;"
echo "   the balancer's own TCP/IP stack never saw them."

say "6. The same over IPv6, with plain round-robin (an even split)"
sctl vip add web6 "[$VIP6]:80" --strategy rr --forward nat
for n in 1 2 3; do
	sctl backend add web6 "[$(be6 $n)]:8080"
done
echo "   \$ hammer -n 300 -a $VIP6 -p 80"
hammer -n 300 -q -a "$VIP6" -p 80 >"$LAB_DIR/v6.txt"
split "$LAB_DIR/v6.txt" 300 be6 1 1 1

say "7. An L7 VIP: the HTTP gateway, with a route that needs a JWT"
L7VIP=198.19.0.20
JWTMINT="$OUT/bin/e2e/jwtmint"
ip -n "$NS_LB" addr add "$L7VIP/32" dev lo
"$JWTMINT" keygen "$LAB_DIR/keys" >/dev/null || fail "jwtmint keygen failed"
cat >"$LAB_DIR/l7.json" <<EOF
{"routes": [
  {"name": "public", "path": "/"},
  {"name": "api", "path": "/api/",
   "jwt": {"jwks": "$LAB_DIR/keys/jwks.json", "algs": ["RS256"], "issuer": "demo"}}
]}
EOF
echo "   The VIP address is local on the balancer (ip addr add $L7VIP/32 dev lo):"
echo "   XDP passes its packets to the stack, where sluiced's workers answer."
sed 's/^/     /' "$LAB_DIR/l7.json"
sctl vip add api "$L7VIP:80" --strategy rr --l7 "$LAB_DIR/l7.json"
for n in 1 2 3; do
	sctl backend add api "$(be4 $n):8080"
done
tok=$("$JWTMINT" sign "$LAB_DIR/keys" --alg RS256 --kid rsa1 \
	--claims '{"sub":"alice","iss":"demo"}' --exp-in 600)
# l7_try WHAT CURL-ARGS...: one request through the gateway, its body and status
l7_try() {
	_w=$1
	shift
	_r=$(in_cli curl -s -m 5 -w ' %{http_code}' "$@" 2>&1 | tr '\n' ' ')
	printf '   %-34s -> %s\n' "$_w" "$_r"
}
l7_try "GET /hello" "http://$L7VIP/hello"
l7_try "GET /api/x, no token" "http://$L7VIP/api/x"
l7_try "GET /api/x, a valid RS256 token" -H "Authorization: Bearer $tok" "http://$L7VIP/api/x"
l7_try "GET /api/x, the token tampered" -H "Authorization: Bearer ${tok%?}A" "http://$L7VIP/api/x"
l7_ok=$(in_cli curl -s -o /dev/null -w '%{http_code}' -m 5 -H "Authorization: Bearer $tok" \
	"http://$L7VIP/api/x")
l7_no=$(in_cli curl -s -o /dev/null -w '%{http_code}' -m 5 "http://$L7VIP/api/x")

say "8. What the data plane and the gateway counted (per-CPU BPF maps, proxy counters)"
sctl stats
sctl backend list

say "9. Done: the trap now stops sluiced and the httpds and removes the lab"
v4_failed=$(count failed "$LAB_DIR/v4.txt")
v6_failed=$(count failed "$LAB_DIR/v6.txt")
if [ "$v4_failed" -ne 0 ] || [ "$v6_failed" -ne 0 ]; then
	fail "$v4_failed IPv4 and $v6_failed IPv6 requests failed"
fi
[ "$l7_ok" = 200 ] && [ "$l7_no" = 401 ] ||
	fail "the gateway answered $l7_ok with a token and $l7_no without (expected 200, 401)"
echo "   demo: ok"
