#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Loads vmtest/broken/bswap_bounds.bpf.o with bpftool and says whether the
# running kernel's verifier accepted it: "broken: 1 passed, 0 failed" or
# "broken: 0 passed, 1 failed" with libbpf's "BPF program load failed" and
# the verifier log. vmtest/run.sh -b runs it in the guest (the object built by
# run.sh, in $VMTEST_RUN/broken); on a host, `sh vmtest/broken/load.sh`
# builds the object itself into a temporary directory. Root (bpffs pin).
set -u
cd "$(dirname "$0")/../.." || exit 1
obj=${1:-${VMTEST_RUN:+$VMTEST_RUN/broken/bswap_bounds.bpf.o}}
pin="/sys/fs/bpf/vmtest-broken-$$"
tmp=""
cleanup() {
	rm -f "$pin"
	[ -n "$tmp" ] && rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -z "$obj" ]; then
	tmp=$(mktemp -d /tmp/vmtest-broken.XXXXXX) || exit 1
	obj="$tmp/bswap_bounds.bpf.o"
	clang -g -O2 -target bpf -mcpu=v3 -Wall -Werror -I"/usr/include/$(uname -m)-linux-gnu" \
		-c vmtest/broken/bswap_bounds.bpf.c -o "$obj" || exit 1
fi
echo "  - bpftool prog load $(basename "$obj") on $(uname -r)"
if bpftool prog load "$obj" "$pin" type xdp 2>&1; then
	echo "  ok   the verifier accepted bswap_bounds: $(bpftool prog show pinned "$pin" | head -n 1)"
	echo "broken: 1 passed, 0 failed"
	exit 0
fi
echo "  FAIL the verifier rejected bswap_bounds on $(uname -r)"
echo "broken: 0 passed, 1 failed"
exit 1
