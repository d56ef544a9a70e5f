#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `make bench`: runs every tests/bench/bench_*.sh (or those whose name contains
# FILTER: `sh tests/bench/run.sh [FILTER]`) one after the other, as root, and
# writes docs/benchmarks.md: a header (machine, kernel, date, command) and each
# benchmark's own markdown section. Speed is measured here, never asserted:
# a benchmark fails only when it could not measure, and its section then says so.
# QUICK=1: fewer iterations (the whole run in under 5 minutes).
# BENCH_OUT=FILE writes somewhere else than docs/benchmarks.md (a trial run).
set -u
cd "$(dirname "$0")/../.." || exit 1

filter=${1:-}
out=${BENCH_OUT:-docs/benchmarks.md}
quick=${QUICK:-}
[ "$quick" = 0 ] && quick=
export QUICK="$quick"
if [ "$(id -u)" -ne 0 ]; then
	echo "bench: needs root (namespaces, XDP, BPF): run 'sudo make bench'" >&2
	exit 1
fi
[ -x .output/bin/sluiced ] || {
	echo "bench: .output/bin/sluiced is missing (run make)" >&2
	exit 1
}

tmp=$(mktemp -d /tmp/sluice-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
ncpu=$(nproc)
mem=$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
cmd="sudo make bench${quick:+ QUICK=1}"
start=$(date +%s)
failed=""
n=0

for b in tests/bench/bench_*.sh; do
	[ -e "$b" ] || continue
	name=$(basename "$b" .sh)
	case "$name" in *"$filter"*) ;; *) continue ;; esac
	n=$((n + 1))
	echo "== bench: $name${quick:+ (QUICK)}" >&2
	t0=$(date +%s)
	if sh "$b" >"$tmp/$name.md" 2>"$tmp/$name.log"; then
		echo "   done in $(($(date +%s) - t0)) s" >&2
	else
		echo "   FAILED after $(($(date +%s) - t0)) s; its log:" >&2
		tail -n 30 "$tmp/$name.log" >&2
		failed="$failed $name"
		{
			echo "## $name: could not measure"
			echo
			echo "The benchmark failed in this run (\`sh $b\`); the last lines of its log:"
			echo
			echo '```'
			tail -n 15 "$tmp/$name.log"
			echo '```'
		} >"$tmp/$name.md"
	fi
done
[ "$n" -gt 0 ] || {
	echo "bench: no benchmark matches '$filter'" >&2
	exit 1
}

{
	echo "# Benchmarks"
	echo
	echo "Written by \`$cmd\` (tests/bench/run.sh) on $(date -u +%Y-%m-%d) in $(($(date +%s) - start)) s."
	echo "Every number below comes from that one run: sluice and its floors or peers were"
	echo "measured side by side, on the same machine, minutes apart. On a shared virtual"
	echo "machine absolute numbers are noise; the ratios are the result. Nothing here is"
	echo "asserted by a test: \`make test\` never measures speed."
	echo
	echo "- Machine: $cpu, $ncpu CPUs, $mem"
	echo "- Kernel: $(uname -r); $(. /etc/os-release && echo "$PRETTY_NAME")"
	echo "- sluice: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with local changes)')"
	if [ -n "$quick" ]; then
		echo "- Mode: QUICK=1 (fewer iterations; the full run gives the numbers to quote)"
	else
		echo "- Mode: full"
	fi
	echo
	echo "Run one section with \`sudo sh tests/bench/run.sh NAME\` (e.g. \`xdp\`), or a"
	echo "benchmark alone with \`sudo sh tests/bench/bench_NAME.sh\` (it prints its section)."
	echo
	for b in tests/bench/bench_*.sh; do
		name=$(basename "$b" .sh)
		[ -s "$tmp/$name.md" ] || continue
		cat "$tmp/$name.md"
		echo
	done
} >"$tmp/all.md"
if [ -n "$filter" ] && [ -z "${BENCH_OUT:-}" ]; then
	# a partial run does not overwrite the published document
	out=".output/bench-$filter.md"
	mkdir -p .output
fi
cp "$tmp/all.md" "$out"
echo "bench: wrote $out${failed:+; could not measure:$failed}" >&2
[ -z "$failed" ]
