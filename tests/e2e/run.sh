#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# End-to-end suite: real TCP/HTTP through sluiced in labs of network
# namespaces (tests/e2e/lab.sh). Runs every tests/e2e/test_*.sh, or those whose
# name contains FILTER: `sh tests/e2e/run.sh [FILTER]`. Each test builds its own
# lab and removes it, pass or fail. Prints ok/FAIL per test (a failing test's
# output follows it; V=1 shows every test's output), then
# "e2e: N passed, N failed"; exits non-zero if anything failed.
# OUTPUT selects the build to test (default .output; .output/asan for ASan).
# SL_E2E_SKIP="test_a test_b" leaves those tests out (said as "skip"); tests
# scale their data down when SL_E2E_IN_VM=1 (inside vmtest's QEMU).
set -u
cd "$(dirname "$0")/../.." || exit 1

OUT=${OUTPUT:-.output}
filter=${1:-}
passed=0
failed=0
log=$(mktemp /tmp/sluice-e2e-log.XXXXXX)
trap 'rm -f "$log"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

missing=""
for b in sluiced sluicectl e2e/httpd e2e/hammer e2e/decap_load e2e/jsonpath e2e/rawhttp \
	e2e/bulk e2e/jwtmint; do
	[ -x "$OUT/bin/$b" ] || missing="$missing $OUT/bin/$b"
done
if [ "$(id -u)" -ne 0 ]; then
	echo "e2e: needs root (network namespaces, XDP)"
	echo "e2e: 0 passed, 1 failed"
	exit 1
fi
if [ -n "$missing" ]; then
	echo "e2e: missing:$missing (run make)"
	echo "e2e: 0 passed, 1 failed"
	exit 1
fi

for t in tests/e2e/test_*.sh; do
	name=$(basename "$t" .sh)
	case "$name" in *"$filter"*) ;; *) continue ;; esac
	# SL_E2E_SKIP: names not to run here (vmtest skips the browser test);
	# a skipped test is said, and counted neither way.
	case " ${SL_E2E_SKIP:-} " in *" $name "*)
		echo "skip $name (SL_E2E_SKIP)"
		continue
		;;
	esac
	start=$(date +%s)
	OUTPUT="$OUT" sh "$t" >"$log" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	if [ "$rc" -eq 0 ]; then
		passed=$((passed + 1))
		echo "ok   $name (${secs}s)"
		[ "${V:-0}" = 1 ] && sed 's/^/     /' "$log"
	else
		failed=$((failed + 1))
		echo "FAIL $name (${secs}s, exit $rc)"
		sed 's/^/     /' "$log"
	fi
done

[ $((passed + failed)) -eq 0 ] && echo "e2e: no test matches '$filter'"
echo "e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
