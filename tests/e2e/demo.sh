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
for b in "$SLUICED" "$SLUICECTL" "$HTTPD" "$HAMMER"; do
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

say "7. What the data plane counted (read from the per-CPU BPF maps)"
sctl stats
sctl backend list

say "8. Done: the trap now stops sluiced and the httpds and removes the lab"
v4_failed=$(count failed "$LAB_DIR/v4.txt")
v6_failed=$(count failed "$LAB_DIR/v6.txt")
if [ "$v4_failed" -ne 0 ] || [ "$v6_failed" -ne 0 ]; then
	fail "$v4_failed IPv4 and $v6_failed IPv6 requests failed"
fi
echo "   demo: ok"
