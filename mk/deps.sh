#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Installs, with apt-get, every Debian package that building and testing sluice
# needs. Idempotent: packages already installed are skipped, and apt-get is not
# called at all when nothing is missing.
set -eu

PKGS="make gcc clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libcmocka-dev libjansson-dev \
linux-libc-dev iproute2 pkg-config ethtool curl python3 qemu-system-x86 busybox-static \
kmod cpio libssl-dev node-llhttp libclang-rt-14-dev chromium prometheus"

# `deps.sh bench`: also the peers and load generators of `make bench`
if [ "${1:-}" = bench ]; then
	PKGS="$PKGS wrk haproxy nginx-light hyperfine linux-perf"
fi

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "deps: all packages present"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages:$missing; run 'sudo make deps' to install them" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Packages with a daemon (prometheus) must not start it: the tests start their
# own, in their own namespaces. A policy-rc.d of ours says so for this install.
policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
	policy=/usr/sbin/policy-rc.d
	trap 'rm -f "$policy"' EXIT INT TERM
	printf '#!/bin/sh\n# sluice mk/deps.sh: no daemons started while installing\nexit 101\n' >"$policy"
	chmod 755 "$policy"
fi
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
