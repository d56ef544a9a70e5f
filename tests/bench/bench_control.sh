#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# bench_control: the control plane's speed.
# 1. Backend changes: N backends added (N = 1, 100, 1,000; QUICK=1: 1, 10,
#    100) to Maglev VIPs, once as one `sluicectl apply` of a file that adds
#    them all and once as N `sluicectl backend add` calls; total and per
#    change, wall clock (what an operator waits for) and sluiced's own CPU
#    (schedstat of its threads). Side by side: the same changes to wrr VIPs
#    (the peer without a Maglev table: the ratio is what the Maglev rebuild
#    costs), `apply` of the same file again (nothing changes: parsing,
#    validation, the diff and the journal record) and one `sluicectl vip list`
#    (the CLI's round trip: exec, connect, one request).
# 2. Restart with 1,000 backends (4 Maglev VIPs of 250, one XDP interface):
#    SIGTERM, then a new sluiced over the same state dir, pins and socket,
#    until `sluicectl vip list` answers; and the same after kill -9; with the
#    new agent's CPU time and run-queue wait until then (schedstat). Three
#    journals: one `apply` record and 1,000 single `backend add` records (the
#    same state), and the journal part 1 left behind (every change it made:
#    the journal is never compacted). The floor: a first start (no journal,
#    no pins).
#    sluicectl gives up after 10 s (exit 3) on an `apply` that takes longer;
#    sluiced carries on, and the time runs until it answers again.
# Median of RUNS runs (default 5; QUICK=1: 3). SIZES="..." and RUNS=... override.
#
#   sudo sh tests/bench/bench_control.sh    (from the repository root, after make)
#
# Everything runs in a namespace bench-control-PID (lo and a veth pair, no
# traffic); pins under /sys/fs/bpf/bench-control-PID, state under
# /tmp/bench-control-PID (the journal's fdatasync goes to that disk).
# Prints only its markdown section on stdout; progress on stderr. Everything
# it creates is removed on exit, pass or fail. Measures, never asserts.
set -u
cd "$(dirname "$0")/../.." || exit 1

OUT=${OUTPUT:-.output}
SLUICED="$OUT/bin/sluiced"
SLUICECTL="$OUT/bin/sluicectl"
ABI=include/sluice/abi.h
if [ "${QUICK:-0}" = 1 ]; then
	SIZES=${SIZES:-1 10 100}
	RUNS=${RUNS:-3}
else
	SIZES=${SIZES:-1 100 1000}
	RUNS=${RUNS:-5}
fi
STRATEGIES="maglev wrr"
RESTART_BE=1000
LIST_CALLS=5 # vip list calls per run (the CLI round-trip floor)
NAME="bench-control-$$"
NS=$NAME
DIR="/tmp/$NAME"
BPFFS="/sys/fs/bpf/$NAME"
PID=""
SOCK=""

log() { echo "bench-control: $*" >&2; }
die() {
	log "$*"
	for _l in "$DIR"/*.log; do
		[ -s "$_l" ] && tail -n 5 "$_l" | sed "s|^|  $(basename "$_l"): |" >&2
	done
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
	# the pinned XDP links go with their pins; then the namespace with the veths
	rm -rf "$BPFFS"
	ip netns del "$NS" 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

[ "$(id -u)" -eq 0 ] || die "needs root (a network namespace, BPF)"
for b in "$SLUICED" "$SLUICECTL"; do
	[ -x "$b" ] || die "$b is missing (run make)"
done
command -v python3 >/dev/null || die "needs python3"
GROUP_MAX=$(sed -n 's/^#define SL_GROUP_MAX \([0-9]*\).*/\1/p' "$ABI")
[ -n "$GROUP_MAX" ] || die "cannot read SL_GROUP_MAX from $ABI"

ctl() { "$SLUICECTL" --socket "$SOCK" "$@" </dev/null; }
now_ns() { date +%s%N; }
# commas N: 1000 -> 1,000
commas() { echo "$1" | sed ':a; s/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/; ta'; }
# agent_ns: sluiced's CPU time so far, every thread (schedstat, ns), and its
# time ready to run but waiting for a CPU (run-queue delay, ns): "CPU,WAIT"
agent_ns() {
	cat "/proc/$PID/task"/*/schedstat 2>/dev/null |
		awk '{ c += $1; w += $2 } END { printf "%.0f,%.0f\n", c, w }'
}
# backends: how many backends sluiced has
backends() {
	ctl --json vip list | python3 -c 'import json,sys; print(sum(v["backends"] for v in json.load(sys.stdin)))'
}

# use TAG: talk to (and start) the agent of state dir DIR/TAG.
use() {
	TAG=$1
	SOCK="$DIR/$TAG.sock"
}

# wait_ready [SECONDS]: until `vip list` answers (exit 3: not reachable yet;
# the socket of a killed agent may still be there). No sleep: the time is the
# result. Fails after SECONDS (default 60) or when the agent exits.
wait_ready() {
	_end=$(($(now_ns) + ${1:-60} * 1000000000))
	while :; do
		ctl vip list >/dev/null 2>&1
		_rc=$?
		[ "$_rc" -eq 0 ] && return 0
		[ "$_rc" -eq 3 ] || die "$TAG: vip list exited $_rc"
		kill -0 "$PID" 2>/dev/null || die "$TAG: sluiced exited"
		[ "$(now_ns)" -lt "$_end" ] || die "$TAG: sluiced did not answer within ${1:-60} s"
	done
}

# start: sluiced for TAG in the namespace, in the background; sets PID.
# (Not in a subshell: the script must be able to wait for it.)
start() {
	mkdir -p "$DIR/$TAG"
	nsenter --net="/run/netns/$NS" "$SLUICED" --state-dir "$DIR/$TAG" --bpffs "$BPFFS/$TAG" \
		--socket "$SOCK" --admin none >>"$DIR/$TAG.log" 2>&1 &
	PID=$!
}

# halt SIG: send SIG to the agent and reap it.
halt() {
	kill "-$1" "$PID" || die "$TAG: cannot signal sluiced ($PID)"
	wait "$PID"
	PID=""
}

# cfg FILE STRATEGY NVIPS N [IFACE]: N backends spread evenly over NVIPS VIPs
# c1..cNVIPS (198.19.0.v:80). Backend j of VIP v: 198.18.v.(1 + j/16):(8000 +
# j%16). Also writes FILE.adds: "VIP ADDR:PORT" per backend, in file order.
cfg() {
	_f=$1
	: >"$_f.adds"
	{
		printf '{'
		[ -n "${5:-}" ] && printf '"interfaces": [{"name": "%s"}], ' "$5"
		printf '"vips": ['
		_v=1
		while [ "$_v" -le "$3" ]; do
			_per=$(($4 / $3 + (_v <= $4 % $3 ? 1 : 0)))
			[ "$_v" -gt 1 ] && printf ','
			printf '\n {"name": "c%d", "address": "198.19.0.%d", "port": 80, "strategy": "%s",' \
				"$_v" "$_v" "$2"
			printf ' "backends": ['
			_j=0
			while [ "$_j" -lt "$_per" ]; do
				[ "$_j" -gt 0 ] && printf ','
				_a="198.18.$_v.$((1 + _j / 16))"
				_p=$((8000 + _j % 16))
				printf '{"address": "%s", "port": %d}' "$_a" "$_p"
				echo "c$_v $_a:$_p" >>"$_f.adds"
				_j=$((_j + 1))
			done
			printf ']}'
			_v=$((_v + 1))
		done
		printf '\n]}\n'
	} >"$_f"
}

# timed_apply FILE: `sluicectl apply FILE`; sets APPLY_NS (until the agent
# has done it) and GAVE_UP. sluicectl waits 10 s for an answer and then gives
# up (exit 3) while sluiced carries on: then the time runs on until the
# agent answers `vip list` again (its loop does one request at a time).
timed_apply() {
	GAVE_UP=0
	_t0=$(now_ns)
	ctl apply "$1" >/dev/null 2>"$DIR/apply.err"
	_rc=$?
	if [ "$_rc" -eq 3 ] && grep -q 'did not answer within' "$DIR/apply.err"; then
		GAVE_UP=1
		wait_ready 900
	elif [ "$_rc" -ne 0 ]; then
		die "apply $1 exited $_rc: $(cat "$DIR/apply.err")"
	fi
	APPLY_NS=$(($(now_ns) - _t0))
}

# add_all FILE.adds: one `backend add` per line.
add_all() {
	while read -r _v _ep; do
		ctl backend add "$_v" "$_ep" || die "$TAG: backend add $_v $_ep failed"
	done <"$1"
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p "$DIR" || die "cannot create $DIR"
ip netns add "$NS" || die "cannot create namespace $NS"
ip -n "$NS" link set lo up
ip -n "$NS" link add bc0 type veth peer name bc1 || die "cannot create a veth pair in $NS"
ip -n "$NS" link set bc0 up
ip -n "$NS" link set bc1 up
echo '{}' >"$DIR/empty.json"

# ---- 1. backend changes ----------------------------------------------------
use c
start
wait_ready
: >"$DIR/changes"
for n in $SIZES; do
	nv=$(((n + GROUP_MAX - 1) / GROUP_MAX))
	for strat in $STRATEGIES; do
		cfg "$DIR/base.json" "$strat" "$nv" 0
		cfg "$DIR/target.json" "$strat" "$nv" "$n"
		r=1
		while [ "$r" -le "$RUNS" ]; do
			log "$n changes, $strat, run $r of $RUNS"
			# reset: the VIPs go whole (one step each), then come back empty
			ctl apply "$DIR/empty.json" >/dev/null || die "apply {} failed"
			ctl apply "$DIR/base.json" >/dev/null || die "apply of the base failed"
			c0=$(agent_ns)
			timed_apply "$DIR/target.json"
			c1=$(agent_ns)
			[ "$(backends)" -eq "$n" ] || die "after apply: $(backends) backends, expected $n"
			t2=$(now_ns)
			ctl apply "$DIR/target.json" >"$DIR/again" || die "apply again failed"
			t3=$(now_ns)
			grep -q 'applied 0 changes' "$DIR/again" ||
				die "applying the same file again: $(cat "$DIR/again")"

			ctl apply "$DIR/empty.json" >/dev/null || die "apply {} failed"
			ctl apply "$DIR/base.json" >/dev/null || die "apply of the base failed"
			c2=$(agent_ns)
			t4=$(now_ns)
			add_all "$DIR/target.json.adds"
			t5=$(now_ns)
			c3=$(agent_ns)
			[ "$(backends)" -eq "$n" ] || die "after backend add: $(backends) backends, expected $n"

			k=0
			t6=$(now_ns)
			while [ "$k" -lt "$LIST_CALLS" ]; do
				ctl vip list >/dev/null || die "vip list failed"
				k=$((k + 1))
			done
			t7=$(now_ns)
			echo "$strat $n $nv $APPLY_NS $c0 $c1 $((t3 - t2)) $((t5 - t4))" \
				"$c2 $c3 $(((t7 - t6) / LIST_CALLS)) $GAVE_UP" >>"$DIR/changes"
			r=$((r + 1))
		done
	done
done
jrec=$(wc -l <"$DIR/c/journal")
jkib=$(($(wc -c <"$DIR/c/journal") / 1024))
log "part 1 left a journal of $jrec records, $jkib KiB"

# ---- 2. restart ------------------------------------------------------------
# restarts SCENARIO: RUNS times SIGTERM + start, then RUNS times kill -9 +
# start, each until vip list answers; the state is checked after each.
restarts() {
	for _mode in TERM KILL; do
		_r=1
		while [ "$_r" -le "$RUNS" ]; do
			log "restart ($1), $_mode, run $_r of $RUNS"
			_t0=$(now_ns)
			halt "$_mode"
			_t1=$(now_ns)
			start
			wait_ready
			_t2=$(now_ns)
			_c=$(agent_ns)
			[ "$(backends)" -eq "$want" ] || die "after the restart: $(backends) backends, expected $want"
			echo "$1 $_mode $((_t1 - _t0)) $((_t2 - _t1)) $_c" >>"$DIR/restarts"
			_r=$((_r + 1))
		done
	done
	grep -q 'adopted maps' "$DIR/$TAG.log" || die "$TAG: the restarted agent did not adopt the pinned maps"
	echo "$1 $(wc -l <"$DIR/$TAG/journal") $(($(wc -c <"$DIR/$TAG/journal") / 1024)) $2" \
		>>"$DIR/journals"
}
: >"$DIR/restarts"
: >"$DIR/journals"

# the journal of part 1, as it is (its state: the last size and strategy)
want=$(backends)
last=$(tail -n 1 "$DIR/changes")
restarts history "$(commas "$want"), $(echo "$last" | awk '{ print $3 " " $1 }') VIPs"
halt TERM
rm -rf "$BPFFS/c"

# The floor: a first start (empty state dir, no pins): loading the programs.
use r0
r=1
while [ "$r" -le "$RUNS" ]; do
	log "first start, run $r of $RUNS"
	rm -rf "${DIR:?}/r0" "$BPFFS/r0"
	t0=$(now_ns)
	start
	wait_ready
	t1=$(now_ns)
	echo "first START 0 $((t1 - t0)) $(agent_ns)" >>"$DIR/restarts"
	halt TERM
	r=$((r + 1))
done
rm -rf "$BPFFS/r0"

# R1: one apply record. The file uses wrr, then `vip set` switches each VIP
# to Maglev: one table build per VIP (applying Maglev VIPs directly would
# rebuild a table per backend, part 1's slow path).
nv=$(((RESTART_BE + GROUP_MAX - 1) / GROUP_MAX))
want=$RESTART_BE
cfg "$DIR/r.json" wrr "$nv" "$RESTART_BE" bc0
use r1
start
wait_ready
ctl apply "$DIR/r.json" >/dev/null || die "r1: apply failed"
v=1
while [ "$v" -le "$nv" ]; do
	ctl vip set "c$v" --strategy maglev || die "r1: vip set c$v failed"
	v=$((v + 1))
done
restarts apply "$(commas "$RESTART_BE"), $nv maglev VIPs"
halt TERM
rm -rf "$BPFFS/r1"

# R2: the same state from 1,000 single backend adds (after one apply of
# the interface and the empty VIPs).
cfg "$DIR/r.json" wrr "$nv" 0 bc0
use r2
start
wait_ready
ctl apply "$DIR/r.json" >/dev/null || die "r2: apply of the empty VIPs failed"
cfg "$DIR/r.json" wrr "$nv" "$RESTART_BE" bc0
add_all "$DIR/r.json.adds"
v=1
while [ "$v" -le "$nv" ]; do
	ctl vip set "c$v" --strategy maglev || die "r2: vip set c$v failed"
	v=$((v + 1))
done
restarts adds "$(commas "$RESTART_BE"), $nv maglev VIPs"

# ---- the section -----------------------------------------------------------
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
python3 - "$DIR/changes" "$DIR/restarts" "$DIR/journals" "$RUNS" "$RESTART_BE" "$nv" \
	>"$DIR/tables" <<'EOF' || die "could not compute the results"
import statistics, sys
changes, restarts, journals, runs, rbe, rnv = sys.argv[1:]
med = statistics.median
ms = lambda ns: ns / 1e6

def f(v):
    return "%.3f" % v if v < 1 else "%.2f" % v if v < 10 else "%.1f" % v if v < 100 else "%.0f" % v

rows = {}
def delta(a, b):
    (ca, wa), (cb, wb) = (map(int, x.split(",")) for x in (a, b))
    return cb - ca, wb - wa
for l in open(changes):
    s, n, nv, ap, a0, a1, again, ad, d0, d1, lst, gave_up = l.split()
    apc, apw = delta(a0, a1)
    adc, adw = delta(d0, d1)
    rows.setdefault((int(n), s, int(nv)), []).append(
        [int(x) for x in (ap, apc, again, ad, adc, lst, gave_up, apw, adw)])
print("| changes | VIPs x backends | strategy | one `apply`: total ms | per change ms | sluiced CPU per change ms | N x `backend add`: total ms | per change ms | sluiced CPU per change ms | floor: `apply` again, 0 changes, ms | floor: one `vip list` ms | sluiced waiting for a CPU per change ms (apply / add) |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
per = {}
for (n, s, nv) in sorted(rows, key=lambda k: (k[0], k[1] != "maglev")):
    r = rows[(n, s, nv)]
    c = [med(x[i] for x in r) for i in range(9)]
    gave_up = sum(x[6] for x in r)
    per[(n, s)] = (ms(c[0]) / n, ms(c[3]) / n)
    print("| %s | %d x %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
        format(n, ","), nv, "~%d" % round(n / nv), s,
        f(ms(c[0])) + (" (sluicectl gave up at 10 s in %d of %d runs)" % (gave_up, len(r))
                       if gave_up else ""), f(ms(c[0]) / n),
        f(ms(c[1]) / n), f(ms(c[3])), f(ms(c[3]) / n), f(ms(c[4]) / n), f(ms(c[2])), f(ms(c[5])),
        "%s / %s" % (f(ms(c[7]) / n), f(ms(c[8]) / n))))
print()
print("Maglev over wrr, per change (the cost of the table rebuild): " + "; ".join(
    "%s change%s: `apply` %.1fx, `backend add` %.1fx" % (
        format(n, ","), "" if n == 1 else "s", per[(n, "maglev")][0] / per[(n, "wrr")][0],
        per[(n, "maglev")][1] / per[(n, "wrr")][1])
    for n in sorted({k[0] for k in per}) if (n, "maglev") in per and (n, "wrr") in per) + ".")
print()
jr = {l.split()[0]: l.split(None, 3)[1:] for l in open(journals)}
names = {
    "apply": "one `apply` (+ %s `vip set`)" % rnv,
    "adds": "%s `backend add` (+ 1 `apply`, %s `vip set`)" % (format(int(rbe), ","), rnv),
    "history": "left by the changes above",
}
rs = {}
for l in open(restarts):
    sc, mode, stop, startt, cw = l.split()
    c, w = map(int, cw.split(","))
    rs.setdefault((sc, mode), []).append((int(stop), int(startt), c, w))
print("| journal | records | KiB | backends | SIGTERM: exit ms | start until `vip list` answers ms | total ms | new agent's CPU until then ms | its wait for a CPU ms | kill -9: start until answers ms | total ms |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
m = lambda xs, i: f(ms(med(x[i] for x in xs)))
for sc in ("apply", "adds", "history"):
    if (sc, "TERM") not in rs:
        continue
    t, k = rs[(sc, "TERM")], rs[(sc, "KILL")]
    rec, kib, desc = jr[sc]
    print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
        names[sc], format(int(rec), ","), format(int(kib), ","), desc.strip(),
        m(t, 0), m(t, 1), f(ms(med(x[0] + x[1] for x in t))), m(t, 2), m(t, 3),
        m(k, 1), f(ms(med(x[0] + x[1] for x in k)))))
if ("first", "START") in rs:
    t = rs[("first", "START")]
    print("| floor: none (first start: empty state dir, no pins) | 0 | 0 | 0 | - | %s | %s | %s | %s | - | - |" % (
        m(t, 1), m(t, 1), m(t, 2), m(t, 3)))
EOF
cat <<EOF
## Control plane

\`sudo ${QUICK:+QUICK=$QUICK }sh tests/bench/bench_control.sh\` ($(date -u +%Y-%m-%d),
$(git rev-parse --short HEAD 2>/dev/null || echo '?'), kernel $(uname -r), $cpu, $(nproc) CPUs).
Load average $LOAD0 before the run, $(cut -d' ' -f1-3 /proc/loadavg) after it
(anything else running shows in the wall clock and in sluiced's wait for a
CPU, schedstat's run-queue delay; its CPU time is the steadier number).
Median of $RUNS runs each. sluiced in a namespace of its own (\`--admin none\`, no
traffic), state dir on $(df -T /tmp | awk 'NR == 2 { print $2 }') (/tmp: every change is
one journal record, fdatasync'd before the answer).

**Backend changes.** N backends added to VIPs that have none (at most
$GROUP_MAX backends a VIP: 1,000 go to 4 VIPs of 250): once by one
\`sluicectl apply\` of a file that adds them all, once by N \`sluicectl backend
add\` calls from a shell loop (each one exec, one connection, one request).
Wall clock from the shell, and sluiced's own CPU (schedstat of its threads)
over the same span. Before each, \`apply {}\` then \`apply\` of the empty VIPs
(not timed). sluicectl waits 10 s for an answer, then gives up (exit 3)
while sluiced carries on; the time of such an \`apply\` runs on until the
agent answers \`vip list\` again, and its row says so. The wrr rows are the peer: the same changes without a Maglev
table. Floors: \`apply\` of the same file once more (validation, diff, journal
record; prints \`applied 0 changes\`), and one \`sluicectl vip list\`.

$(sed -n '1,/^$/p' "$DIR/tables")

$(sed -n '/^Maglev/p' "$DIR/tables")

**Restart with $(commas "$RESTART_BE") backends** ($nv Maglev VIPs, XDP attached to one veth in
native mode). SIGTERM: from the signal until the process has exited, then
from the new start (same \`--state-dir\`, \`--bpffs\`, \`--socket\`) until
\`sluicectl vip list\` answers, polled without pause; kill -9: the same,
exit being immediate. Three journals: the same state from one \`apply\`
and from single adds (set up as wrr VIPs, then \`vip set --strategy maglev\`,
so that the 1,000 single adds need no table rebuild each), and the
journal the changes above left behind, never compacted (its state: the last
row of the table). After every restart the backend count is checked, and
that the new agent adopted the pinned maps. The new agent's CPU time (every
thread, schedstat) and its time waiting for a CPU are read as soon as it
answers: under load from elsewhere the wall clock grows by the wait, not the
CPU. The floor: a first start, with an empty state dir and no pins (loading
and verifying the BPF programs).

$(sed -n '/^| journal/,$p' "$DIR/tables")
EOF
