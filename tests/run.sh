#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Runs the test suites: `tests/run.sh [unit|cli|bpf|e2e]...` (default: all).
# Each suite prints its own results; the last line adds up every test:
# "tests: N passed, N failed". Exit status is non-zero if anything failed.
set -u

OUTPUT=${OUTPUT:-.output}
suites=${*:-unit cli fuzz bpf e2e}
log=$(mktemp /tmp/sluice-tests.XXXXXX)
trap 'rm -f "$log"' EXIT INT TERM
passed=0
failed=0
bad=""

# Add the counts a runner printed (cmocka's "[  PASSED  ] N test(s)." and
# "[  FAILED  ] N test(s)", or our "NAME: N passed, N failed").
count() {
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p; s/^[a-z0-9]*: \([0-9]*\) passed, [0-9]* failed.*/\1/p' "$log" | tail -1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p; s/^[a-z0-9]*: [0-9]* passed, \([0-9]*\) failed.*/\1/p' "$log" | tail -1)
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
}

# run NAME CMD...: run a suite, show its output, count its tests.
run() {
	name=$1
	shift
	"$@" >"$log" 2>&1
	rc=$?
	cat "$log"
	count
	if [ "$rc" -ne 0 ]; then
		bad="$bad $name"
		# a runner that died before printing its counts still counts as a failure
		grep -qE '^\[  FAILED  \]|[0-9]+ failed' "$log" || failed=$((failed + 1))
	fi
}

run_unit() {
	for t in "$OUTPUT"/bin/unit/test_*; do
		[ -x "$t" ] || continue
		echo "== unit: $(basename "$t")"
		run "$(basename "$t")" "$t"
	done
}

run_bpf() {
	echo "== bpf: BPF_PROG_TEST_RUN fixtures (namespace sl-bpf-$$)"
	if [ "$(id -u)" -ne 0 ]; then
		echo "bpf: needs root (loads BPF programs, makes a network namespace): run 'sudo make test'"
		failed=$((failed + 1))
		bad="$bad bpf"
		return
	fi
	run bpf sh tests/bpf/netns.sh "sl-bpf-$$" "$OUTPUT/bin/test_bpf"
}

run_cli() {
	echo "== cli: sluicectl against a scripted fake agent"
	run cli python3 tests/cli/test_cli.py "$OUTPUT/bin/sluicectl"
}

# Each libFuzzer target runs for SL_FUZZ_SECONDS (default 20) from its seed corpus
# (tests/fuzz/corpus/NAME, copied so the tree is never written). A crash, leak or
# sanitizer report fails it; the crashing input is kept under the work dir shown.
run_fuzz() {
	secs=${SL_FUZZ_SECONDS:-20}
	for t in "$OUTPUT"/bin/fuzz/fuzz_*; do
		[ -x "$t" ] || continue
		n=$(basename "$t")
		echo "== fuzz: $n for ${secs}s"
		tabs=$(cd "$(dirname "$t")" && pwd)/$n
		w=$(mktemp -d "/tmp/sluice-$n.XXXXXX")
		mkdir -p "$w/corpus"
		[ -d "tests/fuzz/corpus/$n" ] && cp -r "tests/fuzz/corpus/$n/." "$w/corpus/"
		if (cd "$w" && "$tabs" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
			-print_final_stats=1 corpus >"$w/log" 2>&1); then
			tail -3 "$w/log"
			echo "$n: 1 passed, 0 failed"
			rm -rf "$w"
		else
			tail -40 "$w/log"
			echo "$n: 0 passed, 1 failed (inputs and log kept in $w)"
		fi
	done >"$log.fuzz" 2>&1
	cat "$log.fuzz"
	p=$(sed -n 's/^fuzz_[a-z0-9_]*: \([0-9]*\) passed.*/\1/p' "$log.fuzz" | awk '{s+=$1} END {print s+0}')
	f=$(sed -n 's/^fuzz_[a-z0-9_]*: [0-9]* passed, \([0-9]*\) failed.*/\1/p' "$log.fuzz" | awk '{s+=$1} END {print s+0}')
	passed=$((passed + p))
	failed=$((failed + f))
	[ "$f" -eq 0 ] || bad="$bad fuzz"
	rm -f "$log.fuzz"
}

run_e2e() {
	echo "== e2e: real traffic through sluiced in a lab of namespaces"
	if [ "$(id -u)" -ne 0 ]; then
		echo "e2e: needs root (namespaces, XDP): run 'sudo make test'"
		failed=$((failed + 1))
		bad="$bad e2e"
		return
	fi
	run e2e sh tests/e2e/run.sh
}

for s in $suites; do
	case "$s" in
	unit) run_unit ;;
	bpf) run_bpf ;;
	cli) run_cli ;;
	e2e) run_e2e ;;
	fuzz) run_fuzz ;;
	*) echo "tests/run.sh: unknown suite '$s' (known: unit cli bpf e2e)" >&2; exit 2 ;;
	esac
done

echo
[ -n "$bad" ] && echo "failed:$bad"
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ -z "$bad" ]
