#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# bench_pps: real packets per second through sluice's XDP data plane, between
# namespaces over veth, in native XDP mode, against a forwarding floor run
# over the same path with the same generator and the same counting.
# Measures, never asserts.
#
#   sudo sh tests/bench/bench_pps.sh      (from the repository root, after make)
#
#   NAME-cli                NAME-lb                              NAME-be
#   to-lb ----------------- inPID        to-b1 ----------------- bePID
#   pktgen: live frames     sluice or fwd_floor (native XDP);    pps_sink:
#   (pps_gen, XDP_TX),      NAPI threaded, pinned to CPU 1       counts, drops
#   pinned to CPU 0
#
# The generator (tests/bench/pktgen.c) runs pps_gen with BPF_PROG_RUN in
# live-frames mode on the client's veth: every frame really leaves through
# the veth into the balancer's receive ring. The balancer's veth runs its
# NAPI in a kernel thread pinned to CPU 1, so the generator and the
# forwarding never share a CPU; the backend's receive, raised from that
# thread, runs in it as well. A veth accepts XDP_TX'd or redirected frames
# only when its peer has NAPI: every receiving end has an XDP program (and
# GRO on, as in tests/e2e/lab.sh).
#
# Paths, each RUNS times (default 2; medians reported), SECS seconds each
# (10, QUICK=1: 3) after a warm-up: "drop" (pps_sink on the balancer's veth:
# the cost of receiving), the floor (tests/bench/fwd_floor.bpf.c: MAC
# rewrite and a devmap redirect), sluice NAT and DSR over 1024 established
# UDP flows, sluice NAT with a new flow every frame and (not with QUICK=1)
# NAT's established flows again in the connection table the new flows
# filled. Each run starts a fresh sluiced.
#
# Prints its markdown section on stdout, progress on stderr; exits 1 when it
# could not measure. Everything it creates (namespaces, pins, sluiced, temp
# dir) is removed on exit, pass or fail.
# The awk programs are in single quotes on purpose:
# shellcheck disable=SC2016
set -u
cd "$(dirname "$0")/../.." || exit 1

OUT=${OUTPUT:-.output}
SLUICED="$OUT/bin/sluiced"
SLUICECTL="$OUT/bin/sluicectl"
PKTGEN="$OUT/bin/bench/pktgen"
if [ "${QUICK:-}" = 1 ]; then
	SECS=${SECS:-3}
	WARM=0.5
	PATHS="drop floor nat dsr natnew"
else
	SECS=${SECS:-10}
	WARM=1
	PATHS="drop floor nat dsr natnew natfull"
fi
RUNS=${RUNS:-2}
FLOWS=1024

NAME="bench-pps-$$"
NS_CLI="$NAME-cli"
NS_LB="$NAME-lb"
NS_BE="$NAME-be"
# The balancer's client-side veth: its name makes its NAPI thread
# (napi/inPID-ID) ours to find and pin. The backend's veth, named alike.
IN="in$$"
BE_IF="be$$"
BPFFS="/sys/fs/bpf/bench-pps-$$"
DIR=""
SLUICED_PID=""
PG_PID=""
PERF_PID=""
# perf samples the forwarding thread for 2 s of these paths' first run (where
# the forwarding CPU goes, for the report), when perf is installed
PERF=$(command -v perf || true)
PERF_PATHS="nat natnew"

MAC_CLI=02:c1:00:00:00:02
MAC_LB_IN=02:5c:00:00:00:01
MAC_LB_OUT=02:5c:00:00:01:01
MAC_BE=02:be:00:00:01:02
BE=198.18.11.2
VIP_NAT=198.19.0.10
VIP_DSR=198.19.0.11
VPORT=5001
SRC=198.18.128.1:1024 # flow N: 198.18.128.1 + N / 32768, port 1024 + N % 32768

log() { echo "bench_pps: $*" >&2; }
die() {
	log "$*"
	exit 1
}

# stop PID: SIGTERM, SIGKILL after 3 s, reap. Only pids this script started.
stop() {
	if kill -TERM "$1" 2>/dev/null; then
		i=0
		while kill -0 "$1" 2>/dev/null && [ "$i" -lt 30 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -KILL "$1" 2>/dev/null
	fi
	wait "$1" 2>/dev/null
	return 0
}

cleanup() {
	[ -n "$PG_PID" ] && stop "$PG_PID"
	[ -n "$PERF_PID" ] && stop "$PERF_PID"
	[ -n "$SLUICED_PID" ] && stop "$SLUICED_PID"
	for ns in "$NS_CLI" "$NS_LB" "$NS_BE"; do
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$BPFFS"
	[ -n "$DIR" ] && rm -rf "$DIR"
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

[ "$(id -u)" -eq 0 ] || die "needs root (namespaces, XDP, BPF)"
for f in "$SLUICED" "$SLUICECTL" "$PKTGEN" "$OUT/bench/pps_xdp.bpf.o" \
	"$OUT/bench/fwd_floor.bpf.o"; do
	[ -e "$f" ] || die "$f is missing (run make)"
done
NCPU=$(nproc)
if [ "$NCPU" -ge 2 ]; then
	GEN_CPU=0
	FWD_CPU=1
else
	GEN_CPU=0
	FWD_CPU=0
	log "one CPU only: the generator and the forwarding share it"
fi
DIR=$(mktemp -d /tmp/bench-pps-$$.XXXXXX) || die "mktemp failed"
SOCK="$DIR/sluiced.sock"

ctl() { "$SLUICECTL" --socket "$SOCK" "$@"; }
must() { "$@" >"$DIR/must.out" 2>&1 || die "'$*' failed: $(cat "$DIR/must.out")"; }

# ---- the namespaces ----

# end NS IF: bring a veth end up: rp_filter off, GRO on (NAPI: see lab.sh;
# switched on while the link is up), tx checksum offload off.
end() {
	ip netns exec "$1" sysctl -qw "net.ipv4.conf.$2.rp_filter=0" &&
		ip -n "$1" link set "$2" up &&
		ip netns exec "$1" ethtool -K "$2" gro on tx off >/dev/null
}

setup() {
	for ns in "$NS_CLI" "$NS_LB" "$NS_BE"; do
		ip netns add "$ns" || return 1
		ip -n "$ns" link set lo up
		ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 \
			net.ipv4.conf.default.rp_filter=0 || return 1
	done
	ip netns exec "$NS_LB" sysctl -qw net.ipv4.conf.all.forwarding=1 || return 1
	ip -n "$NS_CLI" link add to-lb address $MAC_CLI type veth \
		peer name "$IN" address $MAC_LB_IN netns "$NS_LB" || return 1
	ip -n "$NS_LB" link add to-b1 address $MAC_LB_OUT type veth \
		peer name "$BE_IF" address $MAC_BE netns "$NS_BE" || return 1
	end "$NS_CLI" to-lb && end "$NS_LB" "$IN" && end "$NS_LB" to-b1 &&
		end "$NS_BE" "$BE_IF" || return 1
	ip -n "$NS_CLI" addr add 198.18.0.2/24 dev to-lb
	ip -n "$NS_LB" addr add 198.18.0.1/24 dev "$IN"
	ip -n "$NS_LB" addr add 198.18.11.1/24 dev to-b1
	ip -n "$NS_BE" addr add $BE/24 dev "$BE_IF"
	ip -n "$NS_BE" addr add $VIP_DSR/32 dev lo
	ip -n "$NS_LB" neigh replace $BE lladdr $MAC_BE dev to-b1 nud permanent || return 1
	# The balancer's receive in a kernel thread of its own (pinned before
	# each run: see napi_tid). The backend's is not: raised from that
	# thread, it runs there, in its softirq, on the same CPU.
	ip netns exec "$NS_LB" sh -c "echo 1 >/sys/class/net/$IN/threaded"
}

# napi_tid IF CPU: the NAPI thread of IF, pinned to CPU.
napi_tid() {
	tids=$(ps -eo pid=,comm= | awk -v p="napi/$1-" 'index($2, p) == 1 { print $1 }')
	[ -n "$tids" ] || die "no NAPI thread napi/$1-* (threaded NAPI on veth?)"
	for t in $tids; do
		taskset -pc "$2" "$t" >/dev/null || die "cannot pin thread $t to CPU $2"
	done
	# one receive queue, one thread
	echo "$tids" | head -n 1
}

# sluiced_start: a fresh sluiced (empty tables) with the two VIPs, attached to
# to-b1 (where NAT replies would come back; not to $IN yet).
sluiced_start() {
	rm -rf "$DIR/state" "$BPFFS"
	mkdir -p "$DIR/state"
	nsenter --net="/run/netns/$NS_LB" "$SLUICED" --state-dir "$DIR/state" --bpffs "$BPFFS" \
		--socket "$SOCK" --admin none >"$DIR/sluiced.log" 2>&1 &
	SLUICED_PID=$!
	i=0
	while :; do
		ctl vip list >/dev/null 2>&1
		[ $? -ne 3 ] && break
		kill -0 "$SLUICED_PID" 2>/dev/null || die "sluiced exited: $(cat "$DIR/sluiced.log")"
		i=$((i + 1))
		[ "$i" -gt 300 ] && die "sluiced did not answer on $SOCK within 30 s"
		sleep 0.1
	done
	must ctl vip add pps-nat "$VIP_NAT:$VPORT/udp" --strategy rr --forward nat
	must ctl backend add pps-nat "$BE:8080"
	must ctl vip add pps-dsr "$VIP_DSR:$VPORT/udp" --strategy rr --forward dsr
	must ctl backend add pps-dsr "$BE"
	must ctl attach to-b1 --mode native
}

# sluiced_stop: detach (sluice pins its links: they outlive the agent), stop, forget.
sluiced_stop() {
	for i in "$IN" to-b1; do
		ctl detach "$i" >/dev/null 2>&1
	done
	stop "$SLUICED_PID"
	SLUICED_PID=""
	rm -rf "$DIR/state" "$BPFFS"
}

# gen TAG RUN ARGS...: one pktgen run; its "key value" output in $DIR/TAG.RUN.
gen() {
	tag=$1
	run=$2
	shift 2
	fwd_tid=$(napi_tid "$IN" "$FWD_CPU") || exit 1
	nsenter --net="/run/netns/$NS_CLI" "$PKTGEN" --iface to-lb --dmac $MAC_LB_IN \
		--src $SRC --sink "$NS_BE:$BE_IF" --lb "$NS_LB:$IN:to-b1" --seconds "$SECS" \
		--warmup "$WARM" --cpu "$GEN_CPU" --fwd-tid "$fwd_tid" "$@" \
		>"$DIR/$tag.$run" 2>"$DIR/$tag.$run.err" &
	PG_PID=$!
	case " $PERF_PATHS " in *" $tag "*)
		# from 0.5 s after the warm-up, for 2 s (-D: ms before it starts)
		if [ -n "$PERF" ] && [ "$run" -eq 1 ]; then
			"$PERF" record -q -F 999 -t "$fwd_tid" -o "$DIR/perf.$tag" \
				-D "$(awk -v w="$WARM" 'BEGIN { print int(w * 1000) + 500 }')" \
				-- sleep "$(awk -v w="$WARM" 'BEGIN { print w + 2.5 }')" \
				>/dev/null 2>&1 &
			PERF_PID=$!
		fi
		;;
	esac
	wait "$PG_PID"
	rc=$?
	PG_PID=""
	if [ -n "$PERF_PID" ]; then
		wait "$PERF_PID"
		PERF_PID=""
	fi
	[ "$rc" -eq 0 ] || die "pktgen ($tag, run $run) failed: $(cat "$DIR/$tag.$run.err")"
	log "$tag run $run: $(awk '/_pps|busy|_ms|ns_per/ { printf "%s %s  ", $1, $2 }' "$DIR/$tag.$run")"
}

# val TAG KEY: the median over the runs of KEY in TAG's outputs.
val() {
	for r in $(seq 1 "$RUNS"); do
		awk -v k="$2" '$1 == k { print $2 }' "$DIR/$1.$r"
	done | sort -g | awk '{ v[NR] = $1 }
		END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ---- measure ----

log "setting up namespaces $NAME-{cli,lb,be}"
setup || die "could not build the namespaces"
log "host load before: $(cut -d' ' -f1-3 /proc/loadavg); $SECS s a path, $RUNS runs"

# Each run starts with empty tables; the established-flow paths come before
# the new-flow one, which fills the connection table (an LRU: it then
# evicts); "natfull" is the established flows again, in that full table.
# "drop": pps_sink on the balancer's veth itself, what receiving costs.
for run in $(seq 1 "$RUNS"); do
	sluiced_start
	gen drop "$run" --dst "$VIP_NAT:$VPORT" --expect "$VIP_NAT:$VPORT" --flows $FLOWS \
		--sink "$NS_LB:$IN"
	gen floor "$run" --dst "$VIP_NAT:$VPORT" --expect "$VIP_NAT:$VPORT" --flows $FLOWS \
		--floor $MAC_BE
	must ctl attach "$IN" --mode native
	gen nat "$run" --dst "$VIP_NAT:$VPORT" --expect "$BE:8080" --flows $FLOWS
	gen dsr "$run" --dst "$VIP_DSR:$VPORT" --expect "$VIP_DSR:$VPORT" --flows $FLOWS
	gen natnew "$run" --dst "$VIP_NAT:$VPORT" --expect "$BE:8080" --flows 0
	case " $PATHS " in *" natfull "*)
		gen natfull "$run" --dst "$VIP_NAT:$VPORT" --expect "$BE:8080" --flows $FLOWS ;;
	esac
	sluiced_stop
done

# ---- report ----

# runs TAG KEY SCALE FORMAT: KEY of every run of TAG over SCALE, comma-separated.
runs() {
	for r in $(seq 1 "$RUNS"); do
		awk -v k="$2" -v s="$3" -v f="$4" '$1 == k { printf f "\n", $2 / s }' "$DIR/$1.$r"
	done | paste -sd, - | sed 's/,/, /g'
}
# each AWK: the AWK program run over every run's output, one output a line.
each() {
	for t in $PATHS; do
		for r in $(seq 1 "$RUNS"); do
			awk "$1" "$DIR/$t.$r"
		done
	done
}

# best TAG KEY: the smallest KEY over TAG's runs. For a CPU cost a frame:
# other load on the machine only ever adds to it.
best() {
	for r in $(seq 1 "$RUNS"); do
		awk -v k="$2" '$1 == k { print $2 }' "$DIR/$1.$r"
	done | sort -g | head -n 1
}

F_PPS=$(val floor delivered_pps)
F_NS=$(best floor fwd_ns_per_pkt)
# row TAG LABEL: one line of the table.
row() {
	awk -v l="$2" -v p="$(val "$1" delivered_pps)" -v n="$(best "$1" fwd_ns_per_pkt)" \
		-v fp="$F_PPS" -v fn="$F_NS" -v rp="$(runs "$1" delivered_pps 1e6 %.2f)" \
		-v rn="$(runs "$1" fwd_ns_per_pkt 1 %.0f)" -v w="$(val "$1" fwd_wait_ms)" \
		-v s="$(val "$1" seconds)" -v g="$(val "$1" generated_pps)" \
		-v o="$(val "$1" offered_pps)" 'BEGIN {
		printf "| %s | %.2f (%s) | %.2f | %.0f (%s) | %.2f | %.0f%% | %.2f | %.2f |\n",
			l, p / 1e6, rp, p / fp, n, rn, n / fn, w / 10 / s, g / 1e6, o / 1e6 }'
}
# goal TAG BOUND: TAG's forwarding cost against BOUND x the floor's.
goal() {
	awk -v n="$(best "$1" fwd_ns_per_pkt)" -v f="$F_NS" -v b="$2" 'BEGIN {
		x = n / f
		printf "%.2fx the floor'"'"'s cost a frame, %s; sluice adds %.0f ns to the floor'"'"'s %.0f",
			x, x <= b ? "met" : sprintf("missed by %.0f%%", (x / b - 1) * 100), n - f, f }'
}
# hot TAG: the top symbols perf sampled on the forwarding thread in TAG.
hot() {
	[ -s "$DIR/perf.$1" ] || return 0
	"$PERF" report -i "$DIR/perf.$1" --no-children --stdio --sort sym 2>/dev/null |
		awk '/^ +[0-9.]+%/ && n < 8 {
			sym = $NF
			sub(/^bpf_prog_[0-9a-f]+_/, "BPF:", sym)
			printf "%s`%s` %s", n ? ", " : "", sym, $1
			n++ }'
}

# The claims below are computed from every run, not assumed.
NRUNS=$(each '$1 == "refused" { print }' | wc -l)
NOREF=$(each '$1 == "refused" && $2 == 0 { print }' | wc -l)
REF=$(each '$1 == "generated" { g = $2 } $1 == "refused" { f = $2 }
	END { if (g) printf "%.0f\n", 100 * f / g }' | sort -n |
	awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s-%s%%", lo, hi }')
# frames taken that did not reach the sink (a frame of the warm-up may land
# in the window: a negative difference is that)
LOST=$(each '$1 == "offered" { o = $2 } $1 == "delivered" { d = $2 }
	END { print (o > d ? o - d : 0) }' | awk '{ s += $1 } END { print s + 0 }')
TAKEN=$(each '$1 == "offered" { print $2 }' | awk '{ s += $1 } END { print s + 0 }')
STRAY=$(each '$1 == "stray" { print $2 }' | awk '{ s += $1 } END { print s + 0 }')
# the most the forwarding thread waited for its CPU in a run, in % of the run
WAIT=$(each '$1 == "seconds" { s = $2 } $1 == "fwd_wait_ms" { w = $2 }
	END { printf "%.0f\n", w / 10 / s }' | sort -n | tail -n 1)
if [ "$NOREF" -eq 0 ]; then
	GEN_NOTE="in all $NRUNS runs the generator made more frames than the balancer took (its ring refused $REF of them): the forwarding, not the generator, set the rate"
else
	GEN_NOTE="in $NOREF of $NRUNS runs the balancer's ring refused nothing: there the generator may have set the rate"
fi
LOST_NOTE=$(awk -v l="$LOST" -v t="$TAKEN" 'BEGIN {
	if (l == 0) print "every frame the balancer took reached the backend, in every run"
	else printf "%d of the %d frames the balancer took (%.3f%%) did not reach the backend\n",
		l, t, 100 * l / t }')
if [ "${QUICK:-}" = 1 ]; then CMD="sudo make bench QUICK=1"; else CMD="sudo make bench"; fi
has_full=0
case " $PATHS " in *" natfull "*) has_full=1 ;; esac
HOT_NAT=$(hot nat)
HOT_NEW=$(hot natnew)
TABLE=$(
	row floor "**floor**: MAC rewrite, devmap redirect"
	row nat "sluice NAT, $FLOWS established flows"
	row dsr "sluice DSR, $FLOWS established flows"
	row natnew "sluice NAT, a new flow every frame"
	[ "$has_full" -eq 0 ] || row natfull "sluice NAT, $FLOWS established flows, full connection table"
	row drop "(reference) receive and drop at the balancer's veth"
)

cat <<MD
## Real traffic over veth (native XDP)

Frames that really cross the balancer, between namespaces over veth: a client,
a balancer and a backend namespace; sluice in native XDP mode on the
balancer's client-side veth, with one UDP VIP and one backend (\`vip add NAME
198.19.0.10:5001/udp --forward nat\`, \`backend add NAME 198.18.11.2:8080\`; a
second VIP with \`--forward dsr\`); then the same path with sluice replaced by
a floor program; same generator, same counting. 60-byte frames (64 on a
wire); ${RUNS} runs of ${SECS} s per path after a ${WARM} s warm-up; each
run in brackets. \`$CMD\`, or \`sudo sh tests/bench/bench_pps.sh\`
(\`QUICK=1\`: 3 s a path, and not the full-table path).

| path | delivered to the backend, Mpps: median (runs) | vs floor | forwarding CPU, ns a frame: best (runs) | vs floor | forwarding thread waited for its CPU | generated, Mpps | taken by the balancer, Mpps |
|---|---|---|---|---|---|---|---|
$TABLE

$([ "$WAIT" -gt 10 ] && cat <<BUSY
- **Contended run**: other tasks on the machine kept the forwarding thread
  off its CPU for up to ${WAIT}% of a run (the "waited" column). The Mpps
  columns are low by about that much and the ratios below are not
  reliable; run it again on an otherwise idle machine.
BUSY
)
- **Goals** (issue 8): established flows at most 2x the floor: NAT
  $(goal nat 2). New flows at most 4x: $(goal natnew 4). These are whole
  paths: each includes what every forwarder pays alike (the veth receive,
  the redirect into the backend's veth, the backend's receive and drop; the
  reference row is one receive and drop), so the programs' own ratios are
  larger; the XDP per-packet cost section measures the programs alone.
$([ -n "$HOT_NAT$HOT_NEW" ] && cat <<HOT
- **Where the forwarding CPU goes** (perf, 2 s of the first run, by symbol;
  BPF: a program): established NAT: ${HOT_NAT:-not sampled}. New flows:
  ${HOT_NEW:-not sampled}. The \`htab_lru\`/\`bpf_lru\` symbols are
  sluice's LRU connection tables, \`page_pool_put_unrefed_netmem\` with
  \`_raw_spin_lock\`/\`__pv_queued_spin_lock_slowpath\` the delivered
  frames' pages going back to the generator's page pool, whose lock the
  generator's CPU takes too (for the frames the ring refused): a cost of
  this generator that every path here pays and a NIC recycling its own
  pages would not.
HOT
)
- **Generator**: \`tests/bench/pktgen.c\` runs \`pps_gen\`
  (tests/bench/pps_xdp.bpf.c) with \`BPF_PROG_RUN\` in live-frames mode
  (\`BPF_F_TEST_XDP_LIVE_FRAMES\`, batches of 64) on the client's veth,
  pinned to CPU $GEN_CPU. The program writes the Ethernet/IPv4/UDP header
  (source address and port from a counter: $FLOWS flows in turn, or a new
  one every frame; both checksums updated) and returns \`XDP_TX\`, which
  that mode turns into a real transmit into the balancer's veth receive
  ring (256 frames). Here $GEN_NOTE. \`pps_gen\` is also attached to the
  client's veth while it runs: otherwise each \`BPF_PROG_RUN\` call adds it
  to the kernel's XDP dispatcher and takes it out again, each time waiting
  for an RCU grace period in which nothing is sent (that halved the rate).
  Pacing it to just above the balancer's rate (\`pktgen --rate\`) made the
  forwarding dearer, not cheaper: the ring then runs empty and the
  balancer's thread wakes for a few frames at a time.
- **Forwarding**: the balancer's veth runs its NAPI in a kernel thread
  (\`echo 1 > /sys/class/net/IF/threaded\`) pinned to CPU $FWD_CPU, so the
  generator and the forwarding never share a CPU; the backend's receive,
  raised from that thread, runs in it too (softirq). "Forwarding CPU, ns a
  frame" is that thread's CPU time (\`/proc/TID/schedstat\`) over the frames
  the balancer's program ran on. A veth accepts \`XDP_TX\`'d or redirected
  frames only when its peer has NAPI: every receiving end has an XDP
  program (and GRO on, as in tests/e2e/lab.sh).
- **Floor**: \`tests/bench/fwd_floor.bpf.c\` writes both MAC addresses and
  redirects through a devmap to the backend's veth; no parsing, no lookup,
  no rewrite (sluice also redirects through a devmap, after a FIB lookup).
- **Counting**: \`pps_sink\` on the backend's veth counts the frames whose
  destination is what the path must produce (the backend's address and
  port for NAT, the VIP for DSR and the floor) and drops them:
  $LOST_NOTE; frames with any other destination: $STRAY. Each run starts a
  fresh sluiced (empty tables); the new-flow path fills the connection
  table (an LRU map, which then evicts)$([ "$has_full" -eq 1 ] && echo ", which the full-table path then uses").
- **Other load**: "waited" (median) is how long the forwarding thread was
  runnable but not running (other tasks on the machine), as a share of the
  run. The Mpps columns need it near 0%. The ns columns suffer less, but
  they suffer too (cold caches): they take each path's best run, as other
  load only ever adds to a cost.
MD
