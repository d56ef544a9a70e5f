#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# bench_splice: a bulk download through an upgraded (101) L7 connection,
# moved by sluice's sockmap splice, by its user-space copy (a second sluiced
# with --no-splice) and by HAProxy 2.6 (the same upgrade, as an HTTP tunnel;
# with and without its splice(2) through pipes). Measures, never asserts.
#
#   sudo sh tests/bench/bench_splice.sh     (from the repository root, after make)
#
# One namespace of its own (bench-splice-PID) with only lo: the backend
# tests/bench/splice_bulk on 198.18.0.1:9000, sluice (splice) on
# 198.19.0.10:80, sluice --no-splice on 198.19.0.13:80, HAProxy on
# 198.19.0.11:80 (copy) and :81 (splice(2)); every proxy with 2 workers or
# threads. The client (splice_bulk get, in the namespace) sends one upgrade
# request and reads SIZE bytes (1 GiB; QUICK=1: 256 MiB) until EOF, checking
# the count and a sampled pattern. Per transfer: the throughput, the proxy's
# CPU (utime+stime of all its threads, /proc/PID/stat) and the CPU of the
# whole path (the proxy, both ends, and the kernel threads: kworkers move
# spliced bytes, so the proxy's own CPU alone would flatter the splice).
# Rounds are interleaved (every proxy once per round); medians of the
# throughput and of the CPU per GiB.
#
# Knobs: QUICK=1, SIZE=bytes, ROUNDS=n. Prints its markdown section on
# stdout, progress on stderr; everything it creates is removed in a trap.
set -u
cd "$(dirname "$0")/../.." || exit 1

OUT=${OUTPUT:-.output}
SLUICED="$OUT/bin/sluiced"
SLUICECTL="$OUT/bin/sluicectl"
BULK="$OUT/bin/bench/splice_bulk"
JSONPATH="$OUT/bin/e2e/jsonpath"
if [ "${QUICK:-0}" = 1 ]; then
	QUICK=1
	SIZE=${SIZE:-$((256 << 20))}
	ROUNDS=${ROUNDS:-3}
else
	QUICK=0
	SIZE=${SIZE:-$((1 << 30))}
	ROUNDS=${ROUNDS:-5}
fi
WORKERS=2
NAME="bench-splice-$$"
NS=$NAME
DIR="/tmp/$NAME"
BE=198.18.0.1
SL=198.19.0.10
SC=198.19.0.13
HA=198.19.0.11
HZ=$(getconf CLK_TCK)
PIDS=""

log() { echo "bench-splice: $*" >&2; }
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
	rm -rf "/sys/fs/bpf/$NAME-s" "/sys/fs/bpf/$NAME-c" "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

[ "$(id -u)" -eq 0 ] || die "needs root (a network namespace, BPF)"
for b in "$SLUICED" "$SLUICECTL" "$BULK" "$JSONPATH"; do
	[ -x "$b" ] || die "$b is missing (run make)"
done
for c in haproxy nsenter; do
	command -v "$c" >/dev/null || die "needs $c (sh mk/deps.sh bench)"
done

in_ns() { nsenter --net="/run/netns/$NS" "$@"; }
# bg NAME CMD...: start CMD in the namespace, in the background; LAST_PID.
bg() {
	_n=$1
	shift
	nsenter --net="/run/netns/$NS" "$@" >"$DIR/$_n.log" 2>&1 &
	LAST_PID=$!
	PIDS="$LAST_PID $PIDS"
}
# wait_line FILE TEXT PID: until FILE holds TEXT (5 s).
wait_line() {
	_i=0
	until grep -q "$2" "$1" 2>/dev/null; do
		kill -0 "$3" 2>/dev/null || return 1
		_i=$((_i + 1))
		[ "$_i" -le 50 ] || return 1
		sleep 0.1
	done
}

mkdir -p "$DIR/res"
ip netns add "$NS" || die "cannot create namespace $NS"
ip -n "$NS" link set lo up
for a in $BE $SL $SC $HA; do
	ip -n "$NS" addr add "$a/32" dev lo || die "cannot add $a to lo in $NS"
done

bg backend "$BULK" serve 9000
BE_PID=$LAST_PID
wait_line "$DIR/backend.log" listening "$BE_PID" || die "splice_bulk serve did not start"

# sluiced TAG ADDR [ARGS]: an agent with one L7 VIP on ADDR:80 (route /ws,
# upgrades become tunnels) over the backend; sets LAST_PID.
cat >"$DIR/l7.json" <<'EOF'
{"routes": [{"name": "ws", "path": "/ws"}]}
EOF
sluiced() {
	_tag=$1
	_addr=$2
	shift 2
	mkdir -p "$DIR/$_tag"
	bg "sluiced-$_tag" "$SLUICED" --state-dir "$DIR/$_tag" --bpffs "/sys/fs/bpf/$NAME-$_tag" \
		--socket "$DIR/$_tag.sock" --admin none --workers $WORKERS "$@"
	_pid=$LAST_PID
	_i=0
	until "$SLUICECTL" --socket "$DIR/$_tag.sock" vip list >/dev/null 2>&1; do
		kill -0 "$_pid" 2>/dev/null || die "sluiced ($_tag) exited: $(cat "$DIR/sluiced-$_tag.log")"
		_i=$((_i + 1))
		[ "$_i" -le 100 ] || die "sluiced ($_tag) did not answer"
		sleep 0.1
	done
	if ! "$SLUICECTL" --socket "$DIR/$_tag.sock" vip add bulk "$_addr:80" --strategy rr \
		--l7 "$DIR/l7.json" >/dev/null ||
		! "$SLUICECTL" --socket "$DIR/$_tag.sock" backend add bulk "$BE:9000" >/dev/null; then
		die "sluiced ($_tag): cannot add the L7 VIP: $(tail -n 5 "$DIR/sluiced-$_tag.log")"
	fi
	LAST_PID=$_pid
}
sluiced s "$SL"
SL_PID=$LAST_PID
sluiced c "$SC" --no-splice
SC_PID=$LAST_PID
grep -q 'sockmap splice available' "$DIR/sluiced-s.log" ||
	die "sluiced cannot splice on this kernel: $(grep -i splice "$DIR/sluiced-s.log")"
st() { "$SLUICECTL" --socket "$DIR/$1.sock" --json stats | "$JSONPATH" "l7.$2"; }

cat >"$DIR/haproxy.cfg" <<EOF
global
	nbthread $WORKERS
	maxconn 4096
defaults
	mode http
	timeout connect 2s
	timeout client 60s
	timeout server 60s
	timeout tunnel 1h
listen copy
	bind $HA:80
	server b1 $BE:9000
listen splice
	bind $HA:81
	option splice-request
	option splice-response
	server b1 $BE:9000
EOF
haproxy -c -q -f "$DIR/haproxy.cfg" >"$DIR/haproxy.check" 2>&1 ||
	die "haproxy refused its configuration: $(cat "$DIR/haproxy.check")"
bg haproxy haproxy -f "$DIR/haproxy.cfg" -db
HA_PID=$LAST_PID
_i=0
until in_ns ss -Hltn "src $HA:81" | grep -q .; do
	kill -0 "$HA_PID" 2>/dev/null || die "haproxy exited: $(cat "$DIR/haproxy.log")"
	_i=$((_i + 1))
	[ "$_i" -le 50 ] || die "haproxy does not listen on $HA:81"
	sleep 0.1
done

# ticks PID: utime+stime of PID (every thread), in clock ticks.
ticks() {
	sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}
# kticks: utime+stime of every kworker and ksoftirqd (where the kernel moves
# redirected bytes and runs deferred softirqs), as "pid ticks" lines. Other
# kernel threads (another namespace's threaded NAPI, say) are not ours.
kticks() {
	for _f in /proc/[0-9]*/stat; do
		cat "$_f" 2>/dev/null
	done | awk '$2 ~ /^\((kworker|ksoftirqd)\// { pid = $1; sub(/^.*\) /, ""); if ($2 == 2) print pid, $12 + $13 }'
}
# idle: "total idle" clock ticks of the whole machine (/proc/stat; idle
# includes iowait; guest time is already in user).
idle() {
	awk '$1 == "cpu" { print $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9, $5 + $6; exit }' /proc/stat
}
# kdelta BEFORE AFTER: the ticks kernel threads used in between (threads that
# appeared count from 0).
kdelta() {
	awk 'NR == FNR { b[$1] = $2; next } { d += $2 - (($1 in b) ? b[$1] : 0) } END { print d + 0 }' "$1" "$2"
}

# The targets: ID|label|address|port|pid whose CPU is the proxy's (- none)|
# the namespace's tcp_wmem for it (- the default). The "wide" rows are the
# diagnosis: a sockmap redirect that finds the destination's send buffer
# full is retried by the psock's work one jiffy later, so the spliced rate
# follows the send buffer's size (tcp_wmem's maximum, autotuned).
WIDE="4096 16384 33554432"
WMEM=$(in_ns cat /proc/sys/net/ipv4/tcp_wmem | tr -s '\t ' '  ')
TARGETS="$DIR/targets"
cat >"$TARGETS" <<EOF
direct|no proxy (the client straight to the backend)|$BE|9000|-|-
sl_splice|sluice, sockmap splice|$SL|80|$SL_PID|-
sl_copy|sluice --no-splice (user-space copy)|$SC|80|$SC_PID|-
ha|HAProxy (HTTP tunnel after the 101)|$HA|80|$HA_PID|-
ha_splice|HAProxy, splice(2) (option splice-request, splice-response)|$HA|81|$HA_PID|-
sl_splice_w|sluice, sockmap splice, tcp_wmem max 32 MiB (diagnosis)|$SL|80|$SL_PID|$WIDE
sl_copy_w|sluice --no-splice, tcp_wmem max 32 MiB (diagnosis)|$SC|80|$SC_PID|$WIDE
EOF
# wmem VALUE|-: set the namespace's tcp_wmem (- the default).
wmem() {
	if [ "$1" = - ]; then set -- "$WMEM"; fi
	in_ns sysctl -qw net.ipv4.tcp_wmem="$1" || die "cannot set tcp_wmem to $1"
}

# A small transfer through each first: correctness and warm-up.
log "checking every path with a 16 MiB transfer"
while IFS='|' read -r id label addr port _pid wm; do
	wmem "$wm"
	in_ns "$BULK" get "$addr" "$port" $((16 << 20)) /ws upgrade >"$DIR/check.out" 2>&1 ||
		die "$label: the check transfer failed: $(cat "$DIR/check.out")"
done <"$TARGETS"
wmem -
k0=$(st s _splice.kernel_bytes)
c0=$(st c bulk.copied_bytes)
n0=$(st s _splice.pauses)

log "$ROUNDS round(s) of $SIZE bytes through each path"
r=1
while [ "$r" -le "$ROUNDS" ]; do
	while IFS='|' read -r id label addr port pid wm; do
		wmem "$wm"
		kticks >"$DIR/k0"
		i0=$(idle)
		b0=$(ticks "$BE_PID")
		p0=0
		p1=0
		[ "$pid" = - ] || p0=$(ticks "$pid")
		in_ns "$BULK" get "$addr" "$port" "$SIZE" /ws upgrade >"$DIR/get.out" 2>&1 ||
			die "$label: the transfer failed: $(cat "$DIR/get.out")"
		[ "$pid" = - ] || p1=$(ticks "$pid")
		b1=$(ticks "$BE_PID")
		i1=$(idle)
		kticks >"$DIR/k1"
		kd=$(kdelta "$DIR/k0" "$DIR/k1")
		# "MB/s proxy_ticks backend_ticks kernel_thread_ticks client_us idle%"
		awk -v p=$((p1 - p0)) -v b=$((b1 - b0)) -v k="$kd" -v i0="$i0" -v i1="$i1" '{
			split(i0, a, " "); split(i1, z, " ")
			print $6, p, b, k, $8, (z[2] - a[2]) * 100 / (z[1] - a[1])
		}' "$DIR/get.out" >>"$DIR/res/$id"
		log "round $r: $label: $(tail -n 1 "$DIR/res/$id")"
	done <"$TARGETS"
	r=$((r + 1))
done
wmem -
k1=$(st s _splice.kernel_bytes)
c1=$(st c bulk.copied_bytes)
n1=$(st s _splice.pauses)
# both sluice rows of each kind moved ROUNDS * SIZE bytes
payload=$((2 * ROUNDS * SIZE))

# median: of the numbers on stdin.
median() {
	sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# agg ID: "MB/s proxy_s path_s": medians over the rounds of the throughput
# and of the CPU seconds per GiB (medians: a round that other work on the
# machine disturbed does not move them).
agg() {
	awk -v hz="$HZ" -v size="$SIZE" '{
		s = size / 1073741824
		printf "%s %.4f %.4f %.1f\n", $1, $2 / hz / s, (($2 + $3 + $4) / hz + $5 / 1e6) / s, $6
	}' "$DIR/res/$1" >"$DIR/res/$1.per"
	printf '%s %.3f %.3f %.0f\n' "$(cut -d' ' -f1 "$DIR/res/$1.per" | median)" \
		"$(cut -d' ' -f2 "$DIR/res/$1.per" | median)" "$(cut -d' ' -f3 "$DIR/res/$1.per" | median)" \
		"$(cut -d' ' -f4 "$DIR/res/$1.per" | median)"
}
while IFS='|' read -r id _rest; do
	agg "$id" >"$DIR/res/$id.agg"
done <"$TARGETS"

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
hav=$(haproxy -v 2>/dev/null | sed -n 's/^HAProxy version \([^ ]*\).*/\1/p')
if [ "$QUICK" = 1 ]; then q=" QUICK=1"; qs="QUICK=1 "; else q=""; qs=""; fi
echo "## Splice vs copy"
echo
echo "Command: \`sudo make bench$q\` (this section alone: \`sudo ${qs}sh tests/bench/bench_splice.sh\`) ($(date -u +%Y-%m-%d)); machine: $cpu, $(nproc) CPUs, kernel $(uname -r); HAProxy $hav."
echo
echo "One download of $((SIZE >> 20)) MiB per transfer through an upgraded connection" \
	"(\`GET /ws\` with \`Connection: Upgrade\`, the backend's 101, then the bytes), $ROUNDS" \
	"round(s) interleaved, on lo in one namespace; every proxy with $WORKERS workers" \
	"(threads). MB/s is the median of the rounds (10^6 bytes/s, from the request to the" \
	"last byte); CPU is the median of the rounds' CPU seconds per GiB moved: the proxy's own (utime+stime of all" \
	"its threads) and the whole path's (the proxy, both ends, and the kworker and" \
	"ksoftirqd threads: a sockmap redirect to another socket is sent by a kworker, which" \
	"the proxy's own CPU does not show); machine idle is the share of both CPUs' time" \
	"left idle during the transfer (/proc/stat)."
echo
echo "| path | MB/s | proxy CPU s/GiB | path CPU s/GiB | machine idle |"
echo "|---|--:|--:|--:|--:|"
while IFS='|' read -r id label _a _p pid _w; do
	read -r mbps pcpu path idl <"$DIR/res/$id.agg"
	[ "$pid" = - ] && pcpu="-"
	printf '| %s | %.0f | %s | %s | %s %% |\n' "$label" "$mbps" "$pcpu" "$path" "$idl"
done <"$TARGETS"
echo
read -r smb spc spath sidle <"$DIR/res/sl_splice.agg"
read -r cmb cpc cpath cidle <"$DIR/res/sl_copy.agg"
read -r wsmb _wspc _wsp _wsi <"$DIR/res/sl_splice_w.agg"
read -r wcmb _wcpc _wcp _wci <"$DIR/res/sl_copy_w.agg"
echo "| ratio | throughput | proxy CPU per GiB | path CPU per GiB |"
echo "|---|--:|--:|--:|"
# ratio_row LABEL A_ID B_ID
ratio_row() {
	read -r am ap apath _ai <"$DIR/res/$2.agg"
	read -r bm bp bpath _bi <"$DIR/res/$3.agg"
	awk -v l="$1" -v am="$am" -v ap="$ap" -v apath="$apath" -v bm="$bm" -v bp="$bp" -v bpath="$bpath" '
	function r(a, b) { return (b > 0) ? sprintf("%.2f×", a / b) : "n/a" }
	BEGIN { printf "| %s | %s | %s | %s |\n", l, r(am, bm), r(ap, bp), r(apath, bpath) }'
}
ratio_row "sluice splice / sluice copy" sl_splice sl_copy
ratio_row "sluice splice / HAProxy" sl_splice ha
ratio_row "sluice splice / HAProxy splice(2)" sl_splice ha_splice
ratio_row "sluice copy / HAProxy" sl_copy ha
ratio_row "sluice splice / sluice copy, tcp_wmem max 32 MiB (diagnosis)" sl_splice_w sl_copy_w
echo
awk -v smb="$smb" -v spc="$spc" -v spath="$spath" -v cmb="$cmb" -v cpc="$cpc" -v cpath="$cpath" '
BEGIN {
	q = smb / cmb
	f = (cpc > 0) ? spc / cpc : 0
	printf "Goal (splice ≥ 2× the throughput of the copy path, with a fraction of its CPU): "
	if (q >= 2 && f < 1)
		printf "**met**: %.2f×, with %.0f %% of the proxy CPU of the copy path.\n", q, f * 100
	else {
		printf "**missed**:"
		if (q < 2) printf " throughput %.2f×, %.0f %% short of 2×;", q, (2 - q) / 2 * 100
		else printf " throughput %.2f×;", q
		if (f >= 1) printf " proxy CPU %.2f× that of the copy path", f
		else printf " proxy CPU %.0f %% of that of the copy path", f * 100
		printf " (whole path: %.2f×).\n", spath / cpath
	}
}'
echo
hz=$(zcat /proc/config.gz 2>/dev/null | sed -n 's/^CONFIG_HZ=//p')
awk -v smb="$smb" -v wsmb="$wsmb" -v wcmb="$wcmb" -v hz="${hz:-unknown}" -v wmem="$WMEM" \
	-v sidle="$sidle" -v cidle="$cidle" 'BEGIN {
	j = (hz + 0 > 0) ? sprintf("%g ms", 1000 / hz) : "a jiffy"
	printf "Why the spliced rate is what it is: it follows the send buffer of the client-side socket, not the CPU (the machine was %s %% idle during the spliced transfers, %s %% during the copied ones).", sidle, cidle
	printf " A sockmap redirect to another socket is sent by the psock'"'"'s backlog work (net/core/skmsg.c, sk_psock_backlog); when that socket'"'"'s send buffer is full the work is retried one jiffy later (CONFIG_HZ=%s here: %s), so a flow moves at most about one send buffer per jiffy. With this namespace'"'"'s tcp_wmem (%s, autotuned up to its maximum) splice moved %.0f MB/s; with the maximum at 32 MiB (the diagnosis rows) %.0f MB/s, %.2f× the copy path at the same setting (%.0f MB/s).\n", hz, j, wmem, smb, wsmb, wsmb / wcmb, wcmb
}'
echo
echo "Method notes:"
echo
echo "- The ends are tests/bench/splice_bulk: the backend sends the pattern from one static 256 KiB buffer and the client reads into one, checking the byte count and one 8-byte word every 4 KiB; neither generates nor hashes data, so the path's cost is the proxy's and the kernel's (tests/e2e/test_l7_splice.sh checks byte-exactness both ways with SHA-256)."
echo "- The spliced path was used: over the measured spliced transfers the verdict program redirected $(awk -v k=$((k1 - k0)) -v p=$payload 'BEGIN { printf "%.1f %%", k / p * 100 }') of the bytes (\`_splice.kernel_bytes\`), and the backlog cap paused a direction $((n1 - n0)) times (\`_splice.pauses\`); the --no-splice agent copied $(awk -v c=$((c1 - c0)) -v p=$payload 'BEGIN { printf "%.1f %%", c / p * 100 }') of its bytes itself (\`copied_bytes\`)."
echo "- HAProxy gets the same upgrade request and forwards the 101; the tunnel is then copied through its buffers (listen \`copy\`) or moved with splice(2) through pipes (listen \`splice\`: \`option splice-request\` and \`option splice-response\`; \`option splice-auto\` did not splice on this path in a trial, strace showing only recvfrom/sendto). Its \`mode tcp\` moves the same bytes the same way without the HTTP exchange (same rate in a trial)."
echo "- The diagnosis rows set the namespace's net.ipv4.tcp_wmem to \"$WIDE\" for their transfers only (a per-namespace sysctl; put back before the next row)."
echo "- CPU comes from /proc/PID/stat (clock ticks of $((1000 / HZ)) ms) and the client's getrusage; the path's kernel-thread part counts every kworker and ksoftirqd of the machine, so other work on the machine can add to it (the no-proxy row shows that background)."
exit 0
