#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# bench/scrape: what one scrape of sluiced's admin endpoint costs with 1,000
# backends: GET /metrics and GET /stats, each N times (default 50; QUICK=1:
# 10; N=... to choose). Measures, never asserts.
#
#   sudo sh tests/bench/bench_scrape.sh          (from the repository root; run make first)
#
# A namespace of its own (bench-scrape-PID) with only lo, a sluiced started
# there with --config: 10 L4 VIPs x 100 backends, no interface attached, no
# health checks, no traffic (every counter 0: the size of the answer does not
# depend on the values). Each request is timed by curl (%{time_total}, from
# inside the namespace, one new connection each); sluiced's CPU time per
# request is the growth of utime+stime in /proc/PID/stat over the N requests
# (all threads; clock ticks, so a resolution of 1/CLK_TCK s over the whole
# run), less what it used idle over the same time, measured first; and the
# same from the threads' schedstat (nanoseconds) where the kernel has it.
# Prints a markdown block for docs/benchmarks.md with the command and host.
# Everything it creates (namespace, state dir, pins, the agent) is removed on
# exit, pass or fail. Not part of any test suite.
set -u
cd "$(dirname "$0")/../.." || exit 1

OUT=${OUTPUT:-.output}
SLUICED="$OUT/bin/sluiced"
SLUICECTL="$OUT/bin/sluicectl"
if [ "${QUICK:-0}" = 1 ]; then N=${N:-10}; else N=${N:-50}; fi
VIPS=10
BACKENDS=100
NAME="bench-scrape-$$"
NS=$NAME
DIR="/tmp/$NAME"
BPFFS="/sys/fs/bpf/$NAME"
SOCK="$DIR/sluiced.sock"
ADMIN=127.0.0.1:9100
PID=""

die() {
	echo "bench-scrape: $*" >&2
	exit 1
}

cleanup() {
	if [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null; then
		_i=0
		while kill -0 "$PID" 2>/dev/null && [ "$_i" -lt 50 ]; do
			sleep 0.1
			_i=$((_i + 1))
		done
		kill -KILL "$PID" 2>/dev/null
		wait "$PID" 2>/dev/null
	fi
	ip netns del "$NS" 2>/dev/null
	rm -rf "$BPFFS" "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

[ "$(id -u)" -eq 0 ] || die "needs root (a network namespace, BPF)"
for b in "$SLUICED" "$SLUICECTL"; do
	[ -x "$b" ] || die "$b is missing (run make)"
done
command -v curl >/dev/null || die "needs curl"
command -v python3 >/dev/null || die "needs python3"

mkdir -p "$DIR/state"
ip netns add "$NS" || die "cannot create namespace $NS"
ip -n "$NS" link set lo up

# The configuration: VIP v (1..10) is 198.19.1.v:80, its backends
# 198.18.v.1 .. 198.18.v.100, port 8080.
{
	printf '{"vips": ['
	v=1
	while [ "$v" -le "$VIPS" ]; do
		[ "$v" -gt 1 ] && printf ','
		printf '\n {"name": "v%d", "address": "198.19.1.%d", "port": 80, "strategy": "rr",' "$v" "$v"
		printf ' "backends": ['
		b=1
		while [ "$b" -le "$BACKENDS" ]; do
			[ "$b" -gt 1 ] && printf ','
			printf '{"address": "198.18.%d.%d", "port": 8080}' "$v" "$b"
			b=$((b + 1))
		done
		printf ']}'
		v=$((v + 1))
	done
	printf '\n]}\n'
} >"$DIR/config.json"

nsenter --net="/run/netns/$NS" "$SLUICED" --config "$DIR/config.json" --state-dir "$DIR/state" \
	--bpffs "$BPFFS" --socket "$SOCK" --admin "$ADMIN" >"$DIR/sluiced.log" 2>&1 &
PID=$!
i=0
until [ "$(ip netns exec "$NS" curl -s -m 2 -o /dev/null -w '%{http_code}' \
	"http://$ADMIN/healthz")" = 200 ]; do
	kill -0 "$PID" 2>/dev/null || die "sluiced exited: $(cat "$DIR/sluiced.log")"
	i=$((i + 1))
	[ "$i" -le 600 ] || die "sluiced not ready within 60 s: $(tail -n 20 "$DIR/sluiced.log")"
	sleep 0.1
done
nb=$("$SLUICECTL" --socket "$SOCK" --json backend list | grep -o '"address"' | wc -l)
[ "$nb" -eq $((VIPS * BACKENDS)) ] ||
	die "sluiced has $nb backends, expected $((VIPS * BACKENDS)): $(tail -n 5 "$DIR/sluiced.log")"

TCK=$(getconf CLK_TCK)
# ticks: utime + stime of sluiced, every thread (fields 14 and 15 of
# /proc/PID/stat; the comm field has no space: "sluiced").
ticks() { awk '{ print $14 + $15 }' "/proc/$PID/stat"; }
# sched_ns: the CPU time of every thread of sluiced, in ns (schedstat's first
# field), or empty without schedstats.
sched_ns() {
	cat "/proc/$PID/task"/*/schedstat 2>/dev/null | awk '{ s += $1 } END { if (NR) print s }'
}
now_ns() { date +%s%N; }

# The idle cost: what sluiced uses over 3 s with nobody asking.
t0=$(ticks)
s0=$(sched_ns)
w0=$(now_ns)
sleep 3
idle_tick_rate=$(awk -v a="$t0" -v b="$(ticks)" -v w="$(($(now_ns) - w0))" \
	'BEGIN { print (b - a) / (w / 1e9) }')
idle_ns_rate=""
[ -n "$s0" ] && idle_ns_rate=$(awk -v a="$s0" -v b="$(sched_ns)" -v w="$(($(now_ns) - w0))" \
	'BEGIN { print (b - a) / (w / 1e9) }')

# run PATH: N GETs of PATH (after 3 not counted); prints one markdown row.
run() {
	_path=$1
	for _i in 1 2 3; do
		ip netns exec "$NS" curl -s -m 10 -o "$DIR/body" "http://$ADMIN$_path" ||
			die "GET $_path failed"
	done
	: >"$DIR/times"
	_t0=$(ticks)
	_s0=$(sched_ns)
	_w0=$(now_ns)
	_i=0
	while [ "$_i" -lt "$N" ]; do
		ip netns exec "$NS" curl -s -m 10 -o "$DIR/body" -w '%{http_code} %{time_total}\n' \
			"http://$ADMIN$_path" >>"$DIR/times" || die "GET $_path failed"
		_i=$((_i + 1))
	done
	_w=$(($(now_ns) - _w0))
	_t1=$(ticks)
	_s1=$(sched_ns)
	grep -qv '^200 ' "$DIR/times" && die "GET $_path: not every answer was 200: $(sort -u "$DIR/times" | head -3)"
	_bytes=$(wc -c <"$DIR/body")
	if [ "$_path" = /metrics ]; then
		_samples=$(grep -cv '^#\|^$' "$DIR/body")
	else
		_samples="-"
	fi
	python3 - "$DIR/times" "$N" "$_w" "$TCK" "$_t0" "$_t1" "$idle_tick_rate" \
		"${_s0:-}" "${_s1:-}" "${idle_ns_rate:-}" "$_path" "$_bytes" "$_samples" \
		"$VIPS x $BACKENDS" <<'EOF'
import sys
(f, n, wall, tck, t0, t1, itr, s0, s1, inr, path, size, samples, shape) = sys.argv[1:]
n, wall, tck = int(n), int(wall) / 1e9, int(tck)
ts = sorted(float(l.split()[1]) * 1000 for l in open(f))
med = ts[len(ts) // 2] if len(ts) % 2 else (ts[len(ts) // 2 - 1] + ts[len(ts) // 2]) / 2
p90 = ts[min(len(ts) - 1, -(-9 * len(ts) // 10) - 1)]
cpu = max(0.0, (int(t1) - int(t0) - float(itr) * wall)) / tck * 1000 / n
sched = "-"
if s0 and s1 and inr:
    sched = "%.2f" % (max(0.0, int(s1) - int(s0) - float(inr) * wall) / 1e6 / n)
print("| GET %s | %s | %d | %.2f | %.2f | %s | %s | %.2f | %s |" %
      (path, shape, n, med, p90, size, samples, cpu, sched))
EOF
}

# (not in $(...): a die inside run must end the script)
run /metrics >"$DIR/row.metrics"
run /stats >"$DIR/row.stats"
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
cat <<EOF
## Admin endpoint: one scrape with $((VIPS * BACKENDS)) backends

\`sudo N=$N sh tests/bench/bench_scrape.sh\` ($(date -u +%Y-%m-%d), $(git rev-parse --short HEAD 2>/dev/null || echo '?'),
kernel $(uname -r), $cpu, $(nproc) CPUs). Counters all 0, no traffic; curl
inside the namespace, a new connection per request; CPU = sluiced's
utime+stime (all threads, 1/$TCK s ticks) over the run less its idle use,
per request; "sched" the same from schedstat (ns).

| request | VIPs x backends | requests | median ms | p90 ms | body bytes | samples | sluiced CPU ms/req | sched CPU ms/req |
|---|---|---|---|---|---|---|---|---|
$(cat "$DIR/row.metrics")
$(cat "$DIR/row.stats")
EOF
