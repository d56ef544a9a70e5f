# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The end-to-end lab: a client, a balancer and three backends, each in its own
# network namespace, joined by point-to-point veth pairs. Sourced by
# tests/e2e/demo.sh and tests/e2e/test_*.sh (POSIX sh, from the repository root).
#
#   NAME-cli                    NAME-lb                          NAME-bN (N = 1..3)
#   to-lb ------------------- to-cli
#   198.18.0.2/24             198.18.0.1/24
#   2001:db8::2/64            2001:db8::1/64
#                             to-bN ---------------------------- to-lb
#                             198.18.1N.1/24                   198.18.1N.2/24
#                             2001:db8:1N::1/64                2001:db8:1N::2/64
#                                                              lo: the VIPs (DSR, IPIP)
#
# - VIPs live in 198.19.0.0/16 and 2001:db8:f::/64; the client routes
#   everything (default route) through the balancer, so do the backends.
#   Every backend holds the VIPs of $LAB_VIPS on its loopback, with
#   arp_ignore=1/arp_announce=2 so it never answers ARP for them (what DSR and
#   IPIP need; harmless for NAT).
# - The balancer forwards (IPv4 and IPv6); rp_filter is 0 everywhere.
# - MACs are fixed: balancer 02:5c:00:00:00:01 (to-cli) and 02:5c:00:00:0N:01
#   (to-bN), client 02:c1:00:00:00:02, backend N 02:be:00:00:0N:02; every
#   neighbour entry is permanent, so bpf_fib_lookup() always finds the next
#   hop (without one, the XDP program passes the packet to the kernel).
# - Every veth end has GRO on (switched on while the link is up): that gives it
#   NAPI, without which frames that XDP redirects or transmits into a veth are
#   silently dropped. And tx checksum offload off, so every packet carries a
#   full checksum (see _lab_end).
# - Every backend runs tests/e2e/httpd on ports 80 and 8080, answering with
#   its name (b1, b2, b3).
#
# Interface names are the same in every lab: each lives in the lab's own
# namespaces. Everything a lab creates is named after NAME (give it $$) and is
# removed by lab_down, pass or fail: call lab_trap NAME right after sourcing.
#
# Under a sanitizer build (OUTPUT=.output/asan) every lab process writes its
# ASan/UBSan reports under the lab's directory, and lab_down fails the script
# when there is any.
#
# Functions: lab_up NAME, lab_down NAME, lab_trap NAME, lab_decap_start/stop,
# lab_sluiced_start, lab_sluiced_stop, lab_sluiced_kill, lab_attach, ctl,
# in_cli, in_lb, in_be N, hammer, jget, and the test helpers at the end (fail,
# step, must, count, within, share_check, ka_start, ka_backend, ka_stop).

# Its variables are used by the scripts that source it:
# shellcheck shell=sh disable=SC2034

OUT=${OUTPUT:-.output}
SLUICED="$OUT/bin/sluiced"
SLUICECTL="$OUT/bin/sluicectl"
HTTPD="$OUT/bin/e2e/httpd"
HAMMER="$OUT/bin/e2e/hammer"
DECAP="$OUT/bin/e2e/decap_load"
JSONPATH="$OUT/bin/e2e/jsonpath"

CLI4=198.18.0.2
CLI6=2001:db8::2
LB4=198.18.0.1
LB6=2001:db8::1
# Backend N is 198.18.1N.2 and 2001:db8:1N::2: be4 N / be6 N.
be4() { echo "198.18.1$1.2"; }
be6() { echo "2001:db8:1$1::2"; }
VIP4=198.19.0.10
VIP6=2001:db8:f::10
LAB_VIPS="198.19.0.10 198.19.0.11 198.19.0.12 2001:db8:f::10 2001:db8:f::11 2001:db8:f::12"

LAB=""
LAB_DIR=""

# _lab_vars NAME: the names everything of lab NAME is derived from.
_lab_vars() {
	LAB=$1
	NS_CLI="$1-cli"
	NS_LB="$1-lb"
	LAB_DIR="/tmp/sluice-e2e-$1"
	LAB_SOCK="$LAB_DIR/sluiced.sock"
	LAB_STATE="$LAB_DIR/state"
	LAB_BPFFS="/sys/fs/bpf/sluice-e2e-$1"
	LAB_LOG="$LAB_DIR/sluiced.log"
}

in_cli() { ip netns exec "$NS_CLI" "$@"; }
in_lb() { ip netns exec "$NS_LB" "$@"; }
in_be() {
	_n=$1
	shift
	ip netns exec "$LAB-b$_n" "$@"
}
# The client's view: hammer ARGS... (see tests/e2e/hammer.c).
hammer() { in_cli "$HAMMER" "$@"; }
# sluicectl talking to this lab's agent.
ctl() { "$SLUICECTL" --socket "$LAB_SOCK" "$@"; }
# jget PATH: a value from the JSON on stdin (tests/e2e/jsonpath.c), e.g.
# `ctl --json stats | jget drops.rl_conn`.
jget() { "$JSONPATH" "$1"; }

# _lab_bg NAME CMD...: start CMD in the background, remember its pid for
# lab_down. Output goes to $LAB_DIR/NAME.log. Sets LAST_PID. CMD must be a
# program, not a shell function, so that the pid is the program's own
# (`ip netns exec` and nsenter exec their command).
_lab_bg() {
	_name=$1
	shift
	"$@" >"$LAB_DIR/$_name.log" 2>&1 &
	LAST_PID=$!
	echo "$LAST_PID $_name" >>"$LAB_DIR/pids"
}

# _lab_wait_line FILE TEXT PID [TENTHS]: wait until FILE holds TEXT (default 5 s).
_lab_wait_line() {
	_i=0
	while ! grep -q "$2" "$1" 2>/dev/null; do
		if ! kill -0 "$3" 2>/dev/null; then
			echo "lab: process $3 died; its output:" >&2
			cat "$1" >&2
			return 1
		fi
		_i=$((_i + 1))
		if [ "$_i" -gt "${4:-50}" ]; then
			echo "lab: timed out waiting for '$2' in $1" >&2
			return 1
		fi
		sleep 0.1
	done
}

# _lab_forget PID: PID has ended and been reaped: drop it from the list, so
# that lab_down never signals a later process that reuses the number.
_lab_forget() {
	grep -v "^$1 " "$LAB_DIR/pids" >"$LAB_DIR/pids.new"
	mv "$LAB_DIR/pids.new" "$LAB_DIR/pids"
}

# _lab_stop PID: SIGTERM, then SIGKILL after 3 s; reap it and forget it.
# Only ever called with pids this lab started (listed in $LAB_DIR/pids).
_lab_stop() {
	if kill -TERM "$1" 2>/dev/null; then
		_i=0
		while kill -0 "$1" 2>/dev/null && [ "$_i" -lt 30 ]; do
			sleep 0.1
			_i=$((_i + 1))
		done
		kill -KILL "$1" 2>/dev/null
	fi
	wait "$1" 2>/dev/null
	_lab_forget "$1"
	return 0
}

# _lab_end NS IF: bring one veth end up, ready for XDP forwarding.
_lab_end() {
	ip netns exec "$1" sysctl -qw "net.ipv4.conf.$2.rp_filter=0"
	ip -n "$1" link set "$2" up || return 1
	# gro on: gives the veth NAPI, without which frames that XDP redirects or
	# transmits into it are dropped (seen only as rx_queue_0_drops on the
	# sender's ethtool -S). It must be switched on while the link is UP:
	# set on a down veth it does not enable NAPI (6.18).
	# tx off: a veth otherwise sends CHECKSUM_PARTIAL packets whose TCP
	# checksum holds only the pseudo-header sum; once XDP forwards such a
	# frame the receiver checks it and drops it (TcpInCsumErrors). A real NIC
	# delivers full checksums; so does every lab interface.
	ip netns exec "$1" ethtool -K "$2" gro on tx off >/dev/null
}

# _lab_link NS_A IF_A MAC_A NS_B IF_B MAC_B: a veth pair between two namespaces.
_lab_link() {
	ip -n "$1" link add "$2" address "$3" type veth peer name "$5" address "$6" netns "$4" &&
		_lab_end "$1" "$2" && _lab_end "$4" "$5"
}

# _lab_ns NS: a namespace with lo up, rp_filter off, no IPv6 DAD delays.
_lab_ns() {
	ip netns add "$1"
	ip -n "$1" link set lo up
	ip netns exec "$1" sysctl -qw net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.default.rp_filter=0 net.ipv6.conf.all.accept_dad=0 \
		net.ipv6.conf.default.accept_dad=0
}

# lab_up NAME: build the lab (see the top of this file) and start the httpds.
lab_up() {
	_lab_vars "$1"
	mkdir -p "$LAB_DIR"
	: >"$LAB_DIR/pids"
	# Under an ASan/UBSan build (OUTPUT=.output/asan) every report of every
	# lab process lands in $LAB_DIR/sanitizer.PID; lab_down fails on any.
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$LAB_DIR/sanitizer"
	export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$LAB_DIR/sanitizer"
	for _ns in "$NS_CLI" "$NS_LB" "$LAB-b1" "$LAB-b2" "$LAB-b3"; do
		_lab_ns "$_ns" || return 1
	done
	in_lb sysctl -qw net.ipv4.conf.all.forwarding=1 net.ipv6.conf.all.forwarding=1

	# client <-> balancer
	_lab_link "$NS_LB" to-cli 02:5c:00:00:00:01 "$NS_CLI" to-lb 02:c1:00:00:00:02 || return 1
	ip -n "$NS_LB" addr add "$LB4/24" dev to-cli
	ip -n "$NS_LB" -6 addr add "$LB6/64" dev to-cli nodad
	ip -n "$NS_CLI" addr add "$CLI4/24" dev to-lb
	ip -n "$NS_CLI" -6 addr add "$CLI6/64" dev to-lb nodad
	ip -n "$NS_CLI" route add default via "$LB4" dev to-lb
	ip -n "$NS_CLI" -6 route add default via "$LB6" dev to-lb
	ip -n "$NS_LB" neigh replace "$CLI4" lladdr 02:c1:00:00:00:02 dev to-cli nud permanent
	ip -n "$NS_LB" -6 neigh replace "$CLI6" lladdr 02:c1:00:00:00:02 dev to-cli nud permanent
	ip -n "$NS_CLI" neigh replace "$LB4" lladdr 02:5c:00:00:00:01 dev to-lb nud permanent
	ip -n "$NS_CLI" -6 neigh replace "$LB6" lladdr 02:5c:00:00:00:01 dev to-lb nud permanent

	# balancer <-> backend N
	for _n in 1 2 3; do
		_b="$LAB-b$_n"
		_lab_link "$NS_LB" "to-b$_n" "02:5c:00:00:0$_n:01" \
			"$_b" to-lb "02:be:00:00:0$_n:02" || return 1
		ip -n "$NS_LB" addr add "198.18.1$_n.1/24" dev "to-b$_n"
		ip -n "$NS_LB" -6 addr add "2001:db8:1$_n::1/64" dev "to-b$_n" nodad
		ip -n "$_b" addr add "$(be4 "$_n")/24" dev to-lb
		ip -n "$_b" -6 addr add "$(be6 "$_n")/64" dev to-lb nodad
		ip -n "$_b" route add default via "198.18.1$_n.1" dev to-lb
		ip -n "$_b" -6 route add default via "2001:db8:1$_n::1" dev to-lb
		ip -n "$NS_LB" neigh replace "$(be4 "$_n")" lladdr "02:be:00:00:0$_n:02" \
			dev "to-b$_n" nud permanent
		ip -n "$NS_LB" -6 neigh replace "$(be6 "$_n")" lladdr "02:be:00:00:0$_n:02" \
			dev "to-b$_n" nud permanent
		ip -n "$_b" neigh replace "198.18.1$_n.1" lladdr "02:5c:00:00:0$_n:01" \
			dev to-lb nud permanent
		ip -n "$_b" -6 neigh replace "2001:db8:1$_n::1" lladdr "02:5c:00:00:0$_n:01" \
			dev to-lb nud permanent
		# The VIPs on loopback, never announced: DSR and IPIP deliver VIP packets.
		in_be "$_n" sysctl -qw net.ipv4.conf.all.arp_ignore=1 \
			net.ipv4.conf.all.arp_announce=2
		for _v in $LAB_VIPS; do
			case "$_v" in
			*:*) ip -n "$_b" -6 addr add "$_v/128" dev lo nodad ;;
			*) ip -n "$_b" addr add "$_v/32" dev lo ;;
			esac
		done
		_lab_bg "httpd-b$_n" ip netns exec "$_b" "$HTTPD" "b$_n" 80 8080
		_lab_wait_line "$LAB_DIR/httpd-b$_n.log" listening "$LAST_PID" || return 1
	done
}

# lab_down NAME: stop every process the lab started, remove the agent's pinned
# objects, the namespaces and the lab's directory. Safe to call more than once
# and on a half-built lab.
lab_down() {
	_lab_vars "$1"
	if [ -f "$LAB_DIR/pids" ]; then
		# _lab_stop rewrites the list: walk a copy.
		cp "$LAB_DIR/pids" "$LAB_DIR/pids.down"
		while read -r _pid _what; do
			_lab_stop "$_pid"
		done <"$LAB_DIR/pids.down"
	fi
	rm -rf "$LAB_BPFFS"
	for _ns in "$NS_CLI" "$NS_LB" "$LAB-b1" "$LAB-b2" "$LAB-b3"; do
		ip netns del "$_ns" 2>/dev/null
	done
	_san=0
	for _f in "$LAB_DIR"/sanitizer.*; do
		[ -f "$_f" ] || continue
		echo "lab: sanitizer report ($_f):" >&2
		cat "$_f" >&2
		_san=1
	done
	rm -rf "$LAB_DIR"
	# Called from the EXIT trap: a sanitizer report fails the script.
	[ "$_san" -eq 0 ] || exit 1
	return 0
}

# lab_trap NAME: remove the lab when the script ends, however it ends.
lab_trap() {
	_lab_vars "$1"
	# shellcheck disable=SC2064
	trap "lab_down '$1'" EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
	trap 'exit 141' PIPE
}

# lab_decap_start: run sl_decap (tests/e2e/decap_load) on every backend's
# to-lb, decapsulating IPIP packets addressed to the backend's own addresses.
lab_decap_start() {
	DECAP_PIDS=""
	for _n in 1 2 3; do
		_lab_bg "decap-b$_n" ip netns exec "$LAB-b$_n" "$DECAP" to-lb "$(be4 "$_n")" \
			"$(be6 "$_n")"
		_lab_wait_line "$LAB_DIR/decap-b$_n.log" ready "$LAST_PID" || return 1
		DECAP_PIDS="$DECAP_PIDS $LAST_PID"
	done
}

# lab_decap_stop: stop the decap loaders; each then writes how many packets
# it decapsulated into $LAB_DIR/decap-bN.log.
lab_decap_stop() {
	for _pid in $DECAP_PIDS; do
		_lab_stop "$_pid"
	done
	DECAP_PIDS=""
}

# lab_sluiced_start [ARGS...]: start sluiced in the balancer's namespace with
# this lab's own state directory, bpffs directory and socket, and wait until it
# answers on the socket. Sets SLUICED_PID. A socket file left by a killed agent
# is left alone: the new agent must cope with it.
# Uses nsenter --net rather than `ip netns exec`: the latter remounts /sys in
# a private mount namespace, which hides /sys/fs/bpf (pins would be invisible
# to the host and to the next agent, so nothing could be adopted).
lab_sluiced_start() {
	[ -x "$SLUICED" ] || {
		echo "lab: $SLUICED is missing (run make)" >&2
		return 1
	}
	mkdir -p "$LAB_STATE"
	nsenter --net="/run/netns/$NS_LB" "$SLUICED" --state-dir "$LAB_STATE" \
		--bpffs "$LAB_BPFFS" --socket "$LAB_SOCK" "$@" >>"$LAB_LOG" 2>&1 &
	SLUICED_PID=$!
	echo "$SLUICED_PID sluiced" >>"$LAB_DIR/pids"
	_i=0
	while :; do
		ctl vip list >/dev/null 2>&1
		[ $? -ne 3 ] && break
		if ! kill -0 "$SLUICED_PID" 2>/dev/null; then
			echo "lab: sluiced exited; its log:" >&2
			cat "$LAB_LOG" >&2
			return 1
		fi
		_i=$((_i + 1))
		# 60 s: under QEMU's software emulation sluiced takes ~5 s to answer
		if [ "$_i" -gt 600 ]; then
			echo "lab: sluiced did not answer on $LAB_SOCK within 60 s" >&2
			return 1
		fi
		sleep 0.1
	done
}

# lab_sluiced_stop: SIGTERM the agent and wait for it.
lab_sluiced_stop() {
	_lab_stop "$SLUICED_PID"
}

# lab_sluiced_kill: SIGKILL the agent (no chance to clean up) and reap it.
lab_sluiced_kill() {
	kill -KILL "$SLUICED_PID" 2>/dev/null
	wait "$SLUICED_PID" 2>/dev/null
	_lab_forget "$SLUICED_PID"
	return 0
}

# lab_attach: attach sluice's XDP program to every balancer interface: the
# client side and the three backend sides (NAT replies come back there).
lab_attach() {
	for _if in to-cli to-b1 to-b2 to-b3; do
		ctl attach "$_if" --mode native || return 1
	done
}

# ---- test helpers ----------------------------------------------------------
# The first failing claim of a test prints what was expected and what
# happened, and the script exits 1 (its trap removes the lab). Call fail
# directly, never inside $(...), where exit would only leave the subshell.

# fail MESSAGE...: report and end the test.
fail() {
	echo "  FAIL: $*" >&2
	if [ -n "$LAB_DIR" ] && [ -s "$LAB_LOG" ]; then
		echo "  --- last lines of the sluiced log ($LAB_LOG):" >&2
		tail -n 15 "$LAB_LOG" | sed 's/^/  | /' >&2
	fi
	exit 1
}

# step MESSAGE: say what the test does next.
step() { echo "  - $*"; }

# must COMMAND...: run COMMAND; fail with its output if it does not exit 0.
must() {
	_out=$("$@" 2>&1) || fail "'$*' exited $?: $_out"
	[ -n "$_out" ] && printf '%s\n' "$_out" | sed 's/^/    /'
	return 0
}

# count NAME FILE: the count hammer printed for NAME (0 when absent).
count() {
	_c=$(sed -n "s/^$1 \\([0-9]*\\)\$/\\1/p" "$2")
	echo "${_c:-0}"
}

# within GOT EXPECTED PERCENT: |GOT - EXPECTED| <= EXPECTED * PERCENT / 100.
within() {
	_d=$(($1 - $2))
	[ "$_d" -lt 0 ] && _d=$((-_d))
	[ $((_d * 100)) -le $(($2 * $3)) ]
}

# share_check FILE TOTAL W1 W2 W3 [PERCENT]: the b1..b3 counts in hammer's
# output FILE are within PERCENT (default 10) of TOTAL * Wn / sum(W).
# "within 10% of its share" reads as 10% of the share itself.
share_check() {
	_f=$1
	_t=$2
	_sum=$(($3 + $4 + $5))
	_pct=${6:-10}
	_n=1
	for _w in "$3" "$4" "$5"; do
		_exp=$((_t * _w / _sum))
		_got=$(count "b$_n" "$_f")
		echo "    b$_n: $_got of $_t (expected $_exp, weight $_w)"
		within "$_got" "$_exp" "$_pct" ||
			fail "b$_n got $_got of $_t, expected $_exp ± $_pct%"
		_n=$((_n + 1))
	done
}

# ka_start TAG HAMMER_ARGS...: one keep-alive connection from the client
# (hammer -k 0: a request every 100 ms until stopped) in the background;
# returns once it got its first answer. Sets LAST_PID; the output goes to
# $LAB_DIR/TAG.log. ka_backend TAG: the backend it landed on.
ka_start() {
	_tag=$1
	shift
	_lab_bg "$_tag" ip netns exec "$NS_CLI" "$HAMMER" -k 0 "$@"
	_lab_wait_line "$LAB_DIR/$_tag.log" '^connected ' "$LAST_PID"
}
ka_backend() { sed -n 's/^connected //p' "$LAB_DIR/$1.log"; }

# ka_stop PID TAG: stop a keep-alive hammer (it prints its totals) and check
# that every request succeeded on the one backend it first landed on.
ka_stop() {
	_lab_stop "$1"
	_be=$(ka_backend "$2")
	_f="$LAB_DIR/$2.log"
	_ok=$(count "$_be" "$_f")
	_n=$(grep -c '^b[0-9] ' "$_f")
	echo "    $2: $_ok requests on $_be, $(count failed "$_f") failed"
	if [ "$(count failed "$_f")" -ne 0 ] || [ "$_n" -ne 1 ] || [ "$_ok" -eq 0 ]; then
		fail "$2: expected every request answered by $_be on one connection;" \
			"got: $(tr '\n' ' ' <"$_f")"
	fi
}

# lab_web NAME STRATEGY [weighted]: the usual start of a test: the lab up,
# sluiced running and attached to the balancer's interfaces, and a NAT VIP
# "web" on $VIP4:80 over the three backends' port 8080 — weighted 1:2:3 when
# the third argument is "weighted", equal otherwise.
lab_web() {
	lab_up "$1" || fail "lab_up failed"
	lab_sluiced_start || fail "sluiced did not start"
	must lab_attach
	must ctl vip add web "$VIP4:80" --strategy "$2" --forward nat
	for n in 1 2 3; do
		if [ "${3:-}" = weighted ]; then
			must ctl backend add web "$(be4 $n):8080" --weight "$n"
		else
			must ctl backend add web "$(be4 $n):8080"
		fi
	done
}
