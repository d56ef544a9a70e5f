#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# bench_health: what active tcp health checks cost sluiced. For 1,000 and
# 10,000 backends (asked) — but there can never be more than SL_MAX_BACKENDS
# (include/sluice/abi.h), so the larger size is cut to that and the section
# says so — every backend checked every 1 s (tcp: a connect that completes
# passes): sluiced's CPU (utime+stime of every thread, /proc/PID/stat) over a
# window, less what the same agent with the same backends and no checks uses
# over the same length of time; the checks it actually did in that window
# (the growth of the `checks` counts of `sluicectl health show`); hence CPU %
# of one core and microseconds of CPU per check.
# The floor, measured side by side: tests/bench/health_load.c connecting to
# the same endpoints at the same rate with the same system calls and nothing
# else (its own getrusage). The ratio is sluiced's cost per check over it.
#
#   sudo sh tests/bench/bench_health.sh    (from the repository root, after make)
#   QUICK=1: 1,000 backends only, 10 s windows. SIZES="1000 10000" and
#   WINDOW=seconds override.
#
# A namespace bench-health-PID with only lo, 198.18.0.0/16 on lo (so every
# address of it is local), one health_load listening on 0.0.0.0 ports
# 20000..20015 (accepts and closes), and sluiced (--admin none). Backend j of
# VIP v is 198.18.v.(1 + j/16):(20000 + j%16): distinct address:port pairs,
# SL_GROUP_MAX per VIP at most, as few VIPs as that allows. Prints only its
# markdown section on stdout; progress on stderr. Everything it creates is
# removed on exit, pass or fail. Measures, never asserts.
set -u
cd "$(dirname "$0")/../.." || exit 1

OUT=${OUTPUT:-.output}
SLUICED="$OUT/bin/sluiced"
SLUICECTL="$OUT/bin/sluicectl"
LOAD="$OUT/bin/bench/health_load"
ABI=include/sluice/abi.h
if [ "${QUICK:-0}" = 1 ]; then
	SIZES=${SIZES:-1000}
	WINDOW=${WINDOW:-10}
else
	SIZES=${SIZES:-1000 10000}
	WINDOW=${WINDOW:-30}
fi
INTERVAL_MS=1000
PORT0=20000
NPORTS=16
WARM=3 # s after the checks are switched on: every target past its first random slot
NAME="bench-health-$$"
NS=$NAME
DIR="/tmp/$NAME"
BPFFS="/sys/fs/bpf/$NAME"
SOCK="$DIR/sluiced.sock"
PID=""
LPID=""
FPID=""

log() { echo "bench-health: $*" >&2; }
die() {
	log "$*"
	[ -s "$DIR/sluiced.log" ] && tail -n 10 "$DIR/sluiced.log" | sed 's/^/  | /' >&2
	exit 1
}

# stop PID: SIGTERM, SIGKILL after 5 s; reap it. Only pids this script started.
stop() {
	[ -n "$1" ] || return 0
	if kill -TERM "$1" 2>/dev/null; then
		_i=0
		while kill -0 "$1" 2>/dev/null && [ "$_i" -lt 50 ]; do
			sleep 0.1
			_i=$((_i + 1))
		done
		kill -KILL "$1" 2>/dev/null
	fi
	wait "$1" 2>/dev/null
	return 0
}

cleanup() {
	stop "$FPID"
	stop "$PID"
	stop "$LPID"
	ip netns del "$NS" 2>/dev/null
	rm -rf "$BPFFS" "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

[ "$(id -u)" -eq 0 ] || die "needs root (a network namespace, BPF)"
for b in "$SLUICED" "$SLUICECTL" "$LOAD"; do
	[ -x "$b" ] || die "$b is missing (run make)"
done
command -v python3 >/dev/null || die "needs python3"
abi() { sed -n "s/^#define $1 \\([0-9]*\\).*/\\1/p" "$ABI"; }
MAX_BE=$(abi SL_MAX_BACKENDS)
GROUP_MAX=$(abi SL_GROUP_MAX)
if [ -z "$MAX_BE" ] || [ -z "$GROUP_MAX" ]; then
	die "cannot read SL_MAX_BACKENDS/SL_GROUP_MAX from $ABI"
fi
[ "$GROUP_MAX" -le $((NPORTS * 254)) ] || die "SL_GROUP_MAX $GROUP_MAX: too many for the address plan"

ctl() { "$SLUICECTL" --socket "$SOCK" "$@"; }
now_ns() { date +%s%N; }
# commas N: 1000 -> 1,000
commas() { echo "$1" | sed ':a; s/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/; ta'; }
TCK=$(getconf CLK_TCK)
# ticks: utime + stime of sluiced, every thread (fields 14 and 15; comm has no space)
ticks() { awk '{ print $14 + $15 }' "/proc/$PID/stat"; }

# config S HEALTH: S backends over as few VIPs as SL_GROUP_MAX allows, with a
# tcp check every INTERVAL_MS when HEALTH is 1. Also writes DIR/eps (the
# endpoints, for the floor) and sets NVIPS.
config() {
	_s=$1
	NVIPS=$(((_s + GROUP_MAX - 1) / GROUP_MAX))
	: >"$DIR/eps"
	{
		printf '{"vips": ['
		_v=1
		while [ "$_v" -le "$NVIPS" ]; do
			# spread evenly: the first S % NVIPS VIPs get one more
			_per=$((_s / NVIPS + (_v <= _s % NVIPS ? 1 : 0)))
			[ "$_v" -gt 1 ] && printf ','
			printf '\n {"name": "h%d", "address": "198.19.0.%d", "port": 80, "strategy": "rr",' \
				"$_v" "$_v"
			[ "$2" = 1 ] && printf ' "health": {"type": "tcp", "interval_ms": %d},' \
				"$INTERVAL_MS"
			printf ' "backends": ['
			_j=0
			while [ "$_j" -lt "$_per" ]; do
				[ "$_j" -gt 0 ] && printf ','
				_a="198.18.$_v.$((1 + _j / NPORTS))"
				_p=$((PORT0 + _j % NPORTS))
				printf '{"address": "%s", "port": %d}' "$_a" "$_p"
				echo "$_a $_p" >>"$DIR/eps"
				_j=$((_j + 1))
			done
			printf ']}'
			_v=$((_v + 1))
		done
		printf '\n]}\n'
	} >"$DIR/config.json"
}

# apply FILE: sluicectl apply; sluicectl gives up after 10 s (exit 3) while
# sluiced carries on, so then wait until the agent answers again.
apply() {
	ctl apply "$1" >/dev/null 2>"$DIR/apply.err" && return 0
	grep -q 'did not answer within' "$DIR/apply.err" || die "apply: $(cat "$DIR/apply.err")"
	log "sluicectl gave up waiting for the apply; waiting for sluiced"
	_i=0
	until ctl vip list >/dev/null 2>&1; do
		kill -0 "$PID" 2>/dev/null || die "sluiced exited"
		_i=$((_i + 1))
		[ "$_i" -le 12 ] || die "sluiced busy for more than 2 minutes after an apply"
	done
}

# hshow FILE: `health show` as JSON into FILE; prints the time (ns) it was
# taken: the middle of the call.
hshow() {
	_a=$(now_ns)
	ctl --json health show >"$1" || die "health show failed"
	_b=$(now_ns)
	echo $(((_a + _b) / 2))
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p "$DIR/state" || die "cannot create $DIR"
ip netns add "$NS" || die "cannot create namespace $NS"
ip -n "$NS" link set lo up
# on lo the prefix route is a local one: every 198.18.0.0/16 address is ours
ip -n "$NS" addr add 198.18.0.1/16 dev lo || die "cannot add 198.18.0.1/16 to lo"

nsenter --net="/run/netns/$NS" "$LOAD" listen "$PORT0" "$NPORTS" >"$DIR/listen.log" 2>&1 &
LPID=$!
i=0
until grep -q listening "$DIR/listen.log"; do
	kill -0 "$LPID" 2>/dev/null || die "health_load listen exited: $(cat "$DIR/listen.log")"
	i=$((i + 1))
	[ "$i" -le 50 ] || die "health_load listen not ready within 5 s"
	sleep 0.1
done

nsenter --net="/run/netns/$NS" "$SLUICED" --state-dir "$DIR/state" --bpffs "$BPFFS" \
	--socket "$SOCK" --admin none >"$DIR/sluiced.log" 2>&1 &
PID=$!
i=0
until ctl vip list >/dev/null 2>&1; do
	kill -0 "$PID" 2>/dev/null || die "sluiced exited"
	i=$((i + 1))
	[ "$i" -le 600 ] || die "sluiced did not answer within 60 s"
	sleep 0.1
done

: >"$DIR/rows"
: >"$DIR/limits"
: >"$DIR/notes"
for asked in $SIZES; do
	s=$asked
	if [ "$s" -gt "$MAX_BE" ]; then
		s=$MAX_BE
		echo "$(commas "$asked") backends cannot exist: SL_MAX_BACKENDS is $MAX_BE ($ABI;" \
			"the sl_backends map and every per-backend array are that size), so the" \
			"largest possible, $(commas "$MAX_BE"), was measured instead." >>"$DIR/limits"
	fi
	log "$s backends: configuring (no checks yet)"
	config "$s" 0
	apply "$DIR/config.json"
	nb=$(ctl --json health show | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
	[ "$nb" -eq "$s" ] || die "sluiced has $nb backends, expected $s"

	# The floor and sluiced's idle use, over the same WINDOW: the floor
	# connects to the listener, not to sluiced, which has no checks yet.
	log "$s backends: floor (health_load connect) and sluiced idle, $WINDOW s"
	nsenter --net="/run/netns/$NS" "$LOAD" connect "$INTERVAL_MS" "$WINDOW" "$DIR/eps" \
		>"$DIR/floor.out" 2>&1 &
	FPID=$!
	it0=$(ticks)
	iw0=$(now_ns)
	wait "$FPID" || die "health_load connect failed: $(cat "$DIR/floor.out")"
	FPID=""
	it1=$(ticks)
	iw1=$(now_ns)

	log "$s backends: checks on (tcp, every $INTERVAL_MS ms), $WARM s warm-up, $WINDOW s window"
	config "$s" 1
	apply "$DIR/config.json"
	sleep "$WARM"
	c0=$(hshow "$DIR/h0.json")
	t0=$(ticks)
	w0=$(now_ns)
	sleep "$WINDOW"
	t1=$(ticks)
	w1=$(now_ns)
	c1=$(hshow "$DIR/h1.json")

	if [ "${QUICK:-0}" != 1 ] && command -v perf >/dev/null; then
		log "$s backends: a 5 s profile of sluiced (perf record)"
		perf record -q -F 999 -o "$DIR/perf.data" -p "$PID" -- sleep 5 >/dev/null 2>&1 &&
			perf report -q -i "$DIR/perf.data" --no-children --sort sym --stdio 2>/dev/null |
			awk 'NF >= 3 && $1 ~ /%$/ { printf "%s%s %s", (n ? ", " : ""), $NF, $1; if (++n == 6) exit }' \
				>"$DIR/profile"
		[ -s "$DIR/profile" ] &&
			echo "Profile of sluiced with $(commas "$s") backends checked (perf, 5 s, top self symbols):" \
				"$(cat "$DIR/profile")." >>"$DIR/notes"
	fi

	python3 - "$s" "$asked" "$NVIPS" "$INTERVAL_MS" "$TCK" "$DIR/h0.json" "$DIR/h1.json" \
		"$c0" "$c1" "$t0" "$t1" "$w0" "$w1" "$it0" "$it1" "$iw0" "$iw1" \
		"$DIR/floor.out" >>"$DIR/rows" <<'EOF' || die "could not compute the results"
import json, statistics, sys
(s, asked, nvips, ivl, tck, h0, h1, c0, c1, t0, t1, w0, w1, it0, it1, iw0, iw1,
 floor) = sys.argv[1:]
s, asked, ivl, tck = int(s), int(asked), int(ivl), int(tck)
a, b = json.load(open(h0)), json.load(open(h1))
key = lambda r: (r["vip"], r["backend"])
before = {key(r): r["checks"] for r in a}
checks = sum(r["checks"] - before.get(key(r), 0) for r in b)
rate = checks / ((int(c1) - int(c0)) / 1e9)
not_up = sum(1 for r in b if r["state"] != "up")
errs = sum(1 for r in b if r["last_error"])
lat = [r["latency_ms"] for r in b if r["latency_ms"] is not None]
wall = (int(w1) - int(w0)) / 1e9
cpu = (int(t1) - int(t0)) / tck
idle = (int(it1) - int(it0)) / tck / ((int(iw1) - int(iw0)) / 1e9)
net = max(0.0, cpu - idle * wall)
f = dict(l.split() for l in open(floor) if len(l.split()) == 2)
f_us = int(f["cpu_us"]) / max(1, int(f["connects"]))
f_rate = int(f["connects"]) / (int(f["wall_us"]) / 1e6)
us = net / (rate * wall) * 1e6 if rate else float("nan")
shown = "%s" % format(s, ",") if s == asked else "%s (%s asked)" % (format(s, ","), format(asked, ","))
print("| %s | %s x %s | %.0f (%d expected) | %.1f | %.2f | %.1f | %.1f | %.1f | %.1f | %.1fx | %d / %d | %s |" % (
    shown, nvips, "~%d" % round(s / int(nvips)), rate, s * 1000 // ivl, cpu / wall * 100,
    cpu / wall * 60, idle * 100, net / wall * 100, us, f_us, us / f_us,
    not_up, errs, "%.3f" % statistics.median(lat) if lat else "-"))
print("floor %s: %.0f connects/s, %s failed, %s unfinished" % (
    format(s, ","), f_rate, f["failed"], f["unfinished"]), file=sys.stderr)
EOF
done

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
accepted=""
stop "$LPID"
LPID=""
accepted=$(sed -n 's/^accepted //p' "$DIR/listen.log")
cat <<EOF
## Health-check cost

\`sudo ${QUICK:+QUICK=$QUICK }sh tests/bench/bench_health.sh\` ($(date -u +%Y-%m-%d),
$(git rev-parse --short HEAD 2>/dev/null || echo '?'), kernel $(uname -r), $cpu, $(nproc) CPUs;
load average $LOAD0 before the run, $(cut -d' ' -f1-3 /proc/loadavg) after it).
tcp checks (a connect that completes passes; closed with an RST), every
backend every $INTERVAL_MS ms, timeout 500 ms, against one listener
(\`health_load listen\`: 0.0.0.0, $NPORTS ports, accept and close) in the
agent's own namespace; backend j of VIP v is 198.18.v.(1 + j/$NPORTS):($PORT0 + j%$NPORTS),
all local on lo. sluiced's CPU is utime+stime of every thread from
/proc/PID/stat over a $WINDOW s window ($WARM s after the checks started;
1/$TCK s ticks); *over idle* subtracts what the same agent with the same
backends and no checks used over another $WINDOW s. Checks done are the
growth of the \`checks\` counts of \`sluicectl --json health show\` between
two calls around the window. The floor is \`health_load connect\`: the same
endpoints at the same interval with the same system calls (socket,
connect, epoll, SO_LINGER 0, close) and no bookkeeping, its own getrusage.
Kernel time of the handshake is charged to whichever process runs it
(mostly the connecting side), the same for both. "not up / erring" counts
backends not up, and with a last error, at the end of the window.

| backends | VIPs x backends | checks/s done | sluiced CPU % of one core | CPU s per minute | idle % | over idle % | µs CPU per check | floor µs per connect | sluiced / floor | not up / erring | median check latency ms |
|---|---|---|---|---|---|---|---|---|---|---|---|
$(cat "$DIR/rows")

$(cat "$DIR/limits" "$DIR/notes" | sed 's/^/- /')
- The listener accepted ${accepted:-?} connections in all (checks and floor).
EOF
