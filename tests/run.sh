#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Runs the test suites: `tests/run.sh [unit|bpf]...` (default: all).
# Each suite prints its own results; the last line sums them up as
# "tests: N passed, N failed". Exit status is non-zero if anything failed.
set -u

OUTPUT=${OUTPUT:-.output}
suites=${*:-unit bpf}
passed=0
failed=0
bad=""

run_unit() {
	for t in "$OUTPUT"/bin/unit/test_*; do
		[ -x "$t" ] || continue
		echo "== unit: $(basename "$t")"
		if "$t"; then passed=$((passed + 1)); else failed=$((failed + 1)); bad="$bad $(basename "$t")"; fi
	done
}

run_bpf() {
	echo "== bpf: BPF_PROG_TEST_RUN fixtures (namespace sl-bpf-$$)"
	if [ "$(id -u)" -ne 0 ]; then
		echo "bpf: needs root (loads BPF programs, makes a network namespace): run 'sudo make test'" >&2
		failed=$((failed + 1)); bad="$bad bpf"
		return
	fi
	if sh tests/bpf/netns.sh "sl-bpf-$$" "$OUTPUT/bin/test_bpf"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1)); bad="$bad bpf"
	fi
}

for s in $suites; do
	case "$s" in
	unit) run_unit ;;
	bpf) run_bpf ;;
	*) echo "tests/run.sh: unknown suite '$s' (known: unit bpf)" >&2; exit 2 ;;
	esac
done

echo
[ -n "$bad" ] && echo "failed suites:$bad"
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
