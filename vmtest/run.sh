#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# vmtest: the BPF program tests, the end-to-end suite and a real-NIC scenario
# inside QEMU, on each kernel of vmtest/KERNELS (Debian packages only).
#
#   vmtest/run.sh [-k KERNEL]... [-s] [-b] [-t SECONDS] [-- COMMAND...]
#
#   -k KERNEL   a label of vmtest/KERNELS (6.1, 6.12; repeatable; default: all)
#   -s          a shell in the guest instead of the suites (for debugging)
#   -b          also load vmtest/broken/bswap_bounds.bpf.c, a program the 6.1
#               verifier rejects: shows that the harness fails
#   -t SECONDS  per-kernel timeout (default 1800, or $VMTEST_TIMEOUT)
#   -- COMMAND  run COMMAND (sh -c, from the repository) in the guest instead
#               (no NIC unless VMTEST_NIC=1)
#
# Environment: VMTEST_SUITES (default "bpf,e2e,nic"; "broken" is what -b adds),
# VMTEST_ACCEL (kvm or tcg: skip the KVM probe), VMTEST_MEM (MiB, default
# 2048), VMTEST_KERNELS (another kernel list), OUTPUT (the build to test,
# default .output), V=1 (stream the kernel log too).
#
# How: the guest boots the package's vmlinuz with a busybox initramfs
# (vmtest/init) that loads virtio and 9p modules, mounts the host's / read-only
# over virtio-9p, puts tmpfs over the writable directories and a bpffs on
# /sys/fs/bpf, and runs vmtest/guest.sh: the same binaries and scripts as on
# the host. The guest has one virtio-net NIC on a tap device in a network
# namespace of this run (198.18.100.1 here, 198.18.100.2 in the guest), for
# the NIC scenario (vmtest/nic.sh): TCP from here through virtio_net's native
# XDP. Everything this creates is named after the run ($$) and removed on
# exit, pass or fail. Kernels, console logs: .output/vmtest/. docs/kernels.md
# has the kernel matrix and the measured results.
set -u

REPO=$(cd "$(dirname "$0")/.." && pwd -P) || exit 1
cd "$REPO" || exit 1
OUT=${OUTPUT:-.output}
case "$OUT" in /*) ;; *) OUT="$REPO/$OUT" ;; esac
VMDIR="$REPO/.output/vmtest"
RUN="$VMDIR/run-$$"
NS="sl-vm-$$"
TAP="slvm$$"
# the host end and the guest's NIC (locally administered MACs, fixed so both
# sides get permanent neighbour entries)
HOST_IP=198.18.100.1
GUEST_IP=198.18.100.2
HOST_MAC=02:5c:00:00:64:01
GUEST_MAC=02:5c:00:00:64:02
VIP=198.19.0.10
HOST_IP6=2001:db8:100::1
GUEST_IP6=2001:db8:100::2
VIP6=2001:db8:f::10

usage() {
	sed -n '/^#   vmtest/,/^#   --/p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

kernels=""
mode=suites
broken=0
timeout=${VMTEST_TIMEOUT:-1800}
while getopts "k:sbt:h" o; do
	case "$o" in
	k) kernels="$kernels $OPTARG" ;;
	s) mode=shell ;;
	b) broken=1 ;;
	t) timeout=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
if [ $# -gt 0 ]; then
	[ "$mode" = shell ] && {
		echo "vmtest: -s and -- COMMAND exclude each other" >&2
		exit 2
	}
	mode=cmd
fi
suites=${VMTEST_SUITES:-bpf,e2e,nic}
case ",$suites," in *,broken,*) broken=1 ;; esac
[ "$broken" = 1 ] && suites="$(echo ",$suites," | sed 's/,broken,/,/g'),broken"
suites=$(echo "$suites" | sed 's/^,*//; s/,,*/,/g; s/,*$//')
case "$timeout" in '' | *[!0-9]*) echo "vmtest: -t wants seconds, got '$timeout'" >&2 && exit 2 ;; esac

say() { echo "vmtest: $*"; }
die() {
	echo "vmtest: $*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "needs root (QEMU with a tap device, network namespaces): run 'sudo make vmtest'"
for t in qemu-system-x86_64 apt-get dpkg-deb depmod modprobe cpio gzip ip timeout flock; do
	command -v "$t" >/dev/null 2>&1 || die "'$t' is missing: run 'sudo make deps' (mk/deps.sh)"
done
[ -x /bin/busybox ] || die "/bin/busybox is missing: run 'sudo make deps' (busybox-static)"
if [ "$mode" = suites ]; then
	for b in bin/test_bpf bin/sluiced bin/sluicectl bin/e2e/hammer bin/e2e/httpd; do
		[ -x "$OUT/$b" ] || die "$OUT/$b is missing: run 'make all' first"
	done
fi

# The kernels to run: every line of vmtest/KERNELS, or those named by -k.
KERNELS=${VMTEST_KERNELS:-vmtest/KERNELS}
[ -r "$KERNELS" ] || die "cannot read $KERNELS"
klist=$(grep -v '^[[:space:]]*\(#\|$\)' "$KERNELS")
if [ -n "$kernels" ]; then
	sel=""
	for k in $kernels; do
		line=$(echo "$klist" | awk -v k="$k" '$1 == k')
		[ -n "$line" ] || die "no kernel '$k' in $KERNELS (known: $(echo "$klist" | awk '{print $1}' | tr '\n' ' '))"
		sel="$sel$line
"
	done
	klist=$sel
fi

# ---- cleanup: everything below is this run's, removed pass or fail --------
QPID=""
cleanup() {
	if [ -n "$QPID" ] && kill -0 "$QPID" 2>/dev/null; then
		kill -TERM "$QPID" 2>/dev/null
		sleep 1
		kill -KILL "$QPID" 2>/dev/null
		wait "$QPID" 2>/dev/null
	fi
	ip netns del "$NS" 2>/dev/null
	rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
mkdir -p "$RUN" "$VMDIR/cache" || die "cannot create $RUN"

# ---- kernels from Debian packages ------------------------------------------
# fetch LABEL PACKAGE VERSION: the package in .output/vmtest/cache (downloaded
# once) unpacked in .output/vmtest/LABEL, with modules.dep made by depmod.
# Sets KDIR and KVER.
APT_UPDATED=0
# apt_has PACKAGE VERSION: apt knows that exact version
apt_has() {
	apt-cache madison "$1" 2>/dev/null |
		awk -F'|' -v v="$2" '{ gsub(/ /, "", $2) } $2 == v { f = 1 } END { exit !f }'
}
fetch() {
	_label=$1 _pkg=$2 _ver=$3
	KDIR="$VMDIR/$_label"
	_stamp="$KDIR/.unpacked"
	# one run at a time downloads and unpacks (runs may overlap)
	exec 9>"$VMDIR/.fetch.lock"
	flock 9 || die "cannot lock $VMDIR/.fetch.lock"
	if [ "$(cat "$_stamp" 2>/dev/null)" != "$_pkg $_ver" ]; then
		_deb=$(ls "$VMDIR/cache/${_pkg}_"*.deb 2>/dev/null | while read -r _f; do
			[ "$(dpkg-deb -f "$_f" Version 2>/dev/null)" = "$_ver" ] && echo "$_f"
		done | head -n 1)
		if [ -z "$_deb" ]; then
			if ! apt_has "$_pkg" "$_ver" && [ "$APT_UPDATED" = 0 ]; then
				say "$_pkg=$_ver is not known to apt: running 'apt-get update' once"
				apt-get update -qq || true
				APT_UPDATED=1
			fi
			apt_has "$_pkg" "$_ver" ||
				die "$_pkg version $_ver is not available from apt, even after" \
					"'apt-get update'. The pinned kernels come from Debian's security archive:" \
					"add 'deb http://deb.debian.org/debian-security bookworm-security main' to" \
					"/etc/apt/sources.list, run 'sudo apt-get update', check with" \
					"'apt-cache policy $_pkg', and fix the version in $KERNELS if it was replaced"
			say "downloading $_pkg=$_ver into $VMDIR/cache"
			# Sandbox::User=root: apt's _apt user may not write into the cache.
			(cd "$VMDIR/cache" && apt-get download -q -o APT::Sandbox::User=root "$_pkg=$_ver") ||
				die "apt-get download $_pkg=$_ver failed"
			_deb=$(ls "$VMDIR/cache/${_pkg}_"*.deb 2>/dev/null | while read -r _f; do
				[ "$(dpkg-deb -f "$_f" Version 2>/dev/null)" = "$_ver" ] && echo "$_f"
			done | head -n 1)
			[ -n "$_deb" ] || die "apt-get download $_pkg=$_ver left no .deb in $VMDIR/cache"
		fi
		say "unpacking $(basename "$_deb") into $KDIR"
		rm -rf "$KDIR"
		mkdir -p "$KDIR"
		dpkg-deb -x "$_deb" "$KDIR" || die "dpkg-deb -x $_deb failed"
		_kv=$(ls "$KDIR/lib/modules" 2>/dev/null | head -n 1)
		[ -n "$_kv" ] || die "$_deb holds no lib/modules/VERSION"
		depmod -b "$KDIR" "$_kv" || die "depmod -b $KDIR $_kv failed"
		echo "$_pkg $_ver" >"$_stamp"
	fi
	exec 9>&-
	KVER=$(ls "$KDIR/lib/modules" | head -n 1)
	[ -f "$KDIR/boot/vmlinuz-$KVER" ] || die "$KDIR/boot/vmlinuz-$KVER is missing"
}

# mkinitrd OUT: the initramfs for $KDIR/$KVER: busybox, vmtest/init and the
# modules it loads (and what they depend on, in modprobe's order; compressed
# modules unpacked, since busybox's insmod reads plain ELF).
INITRD_MODULES="virtio_pci 9pnet_virtio 9p virtio_net veth"
# 6.12's modules are .ko.xz: xz-utils is not always installed, busybox is
XZCAT="/bin/busybox xzcat"
command -v xz >/dev/null 2>&1 && XZCAT="xz -dc"
mkinitrd() {
	_st="$RUN/initrd"
	rm -rf "$_st"
	mkdir -p "$_st/bin" "$_st/dev" "$_st/proc" "$_st/sys" "$_st/modules"
	cp /bin/busybox "$_st/bin/busybox"
	cp vmtest/init "$_st/init"
	chmod 755 "$_st/init"
	mknod "$_st/dev/console" c 5 1
	# shellcheck disable=SC2086
	modprobe -d "$KDIR" -S "$KVER" --show-depends -a $INITRD_MODULES >"$RUN/deps" ||
		die "modprobe --show-depends failed for $KVER ($INITRD_MODULES)"
	awk '$1 == "insmod" && !seen[$2]++ { print $2 }' "$RUN/deps" | while read -r _m; do
		_b=$(basename "$_m")
		case "$_b" in
		*.xz) $XZCAT "$_m" >"$_st/modules/${_b%.xz}" && _b=${_b%.xz} ;;
		*.zst) zstd -qdc "$_m" >"$_st/modules/${_b%.zst}" && _b=${_b%.zst} ;;
		*) cp "$_m" "$_st/modules/$_b" ;;
		esac || exit 1
		echo "$_b" >>"$_st/modules/order"
	done || die "cannot copy the modules into the initramfs"
	(cd "$_st" && find . | cpio -o -H newc --quiet) | gzip -1 >"$1" || die "cpio failed"
	rm -rf "$_st"
}

# ---- accelerator: KVM only when it answers --------------------------------
# A guest that prints a line and powers off, under KVM, within 15 s; anything
# else (an error, a hang: /dev/kvm hangs on some hosts) means TCG.
probe_accel() {
	[ -n "${VMTEST_ACCEL:-}" ] && {
		ACCEL=$VMTEST_ACCEL
		return
	}
	ACCEL=tcg
	[ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ] || return
	timeout -s KILL 15 qemu-system-x86_64 -machine q35,accel=kvm -cpu host -smp 1 -m 256 \
		-nodefaults -display none -no-reboot -serial "file:$RUN/kvm-probe.log" \
		-kernel "$KDIR/boot/vmlinuz-$KVER" -initrd "$RUN/initrd.gz" \
		-append "console=ttyS0 quiet panic=-1 vmtest.probe=1" \
		>"$RUN/kvm-probe.err" 2>&1 </dev/null
	if grep -q '@@VMTEST probe-ok' "$RUN/kvm-probe.log" 2>/dev/null; then
		ACCEL=kvm
	else
		_why=$(grep -v warning "$RUN/kvm-probe.err" | head -n 1 | cut -c1-100)
		say "KVM does not work here (${_why:-no answer within 15 s}): using TCG"
	fi
}

# ---- the NIC's network namespace -------------------------------------------
nic_up() {
	ip netns add "$NS" || die "cannot create network namespace $NS"
	ip -n "$NS" link set lo up
	ip -n "$NS" tuntap add dev "$TAP" mode tap multi_queue || die "cannot create tap $TAP in $NS"
	ip -n "$NS" link set "$TAP" address "$HOST_MAC"
	ip -n "$NS" addr add "$HOST_IP/24" dev "$TAP"
	ip -n "$NS" link set "$TAP" up
	ip -n "$NS" route add 198.19.0.0/16 via "$GUEST_IP" dev "$TAP"
	ip -n "$NS" neigh replace "$GUEST_IP" lladdr "$GUEST_MAC" dev "$TAP" nud permanent
	ip -n "$NS" -6 addr add "$HOST_IP6/64" dev "$TAP" nodad
	ip -n "$NS" -6 route add 2001:db8:f::/64 via "$GUEST_IP6" dev "$TAP"
	ip -n "$NS" -6 neigh replace "$GUEST_IP6" lladdr "$GUEST_MAC" dev "$TAP" nud permanent
}

# nic_client LABEL: the host's side of the NIC scenario, once the guest said
# nic-ready: real TCP to the VIPs through the guest's virtio_net XDP, IPv4
# then IPv6. Every request must be answered, and every backend must answer some.
nic_client() {
	NIC_HOST=pass
	: >"$RUN/nic-done.tmp"
	for _fam in v4 v6; do
		_vip=$VIP _n=300
		[ "$_fam" = v6 ] && _vip=$VIP6 _n=150
		say "[$1] NIC client: hammer -n $_n -a $_vip from $NS (via $TAP)"
		# bounded: hammer prints its totals when timeout stops it
		timeout -s TERM 300 ip netns exec "$NS" "$OUT/bin/e2e/hammer" -n "$_n" -t 3000 \
			-T 3000 -a "$_vip" >"$RUN/nic-hammer" 2>"$RUN/nic-hammer.err"
		_rc=$?
		sed 's/^/    /' "$RUN/nic-hammer" | tr '\n' ' '
		echo
		head -n 5 "$RUN/nic-hammer.err" | sed 's/^/    hammer: /'
		if [ "$_rc" -ne 0 ] || ! grep -q '^failed 0$' "$RUN/nic-hammer" ||
			! grep -q '^b1 [1-9]' "$RUN/nic-hammer" || ! grep -q '^b2 [1-9]' "$RUN/nic-hammer" ||
			! grep -q '^b3 [1-9]' "$RUN/nic-hammer"; then
			NIC_HOST=fail
		fi
		sed "s/^/$_fam /" "$RUN/nic-hammer" >>"$RUN/nic-done.tmp"
	done
	# the guest reads this over 9p, then checks its side and goes on
	mv "$RUN/nic-done.tmp" "$RUN/nic-done"
}

# ---- one kernel --------------------------------------------------------------
TABLE="$RUN/table"
: >"$TABLE"
row() { printf '%-6s %-8s %-8s %6s %6s %7s  %s\n' "$@" >>"$TABLE"; }
FAILED=0
# the tests of every suite on every kernel, for the last line; a failure
# without counts (no boot, a dirty kernel log, a timeout) counts as one
NPASS=0
NFAIL=0

# boot LABEL: boot $KDIR/$KVER, stream its console, drive the NIC client,
# enforce the timeout; then read the results off the console log.
boot() {
	_label=$1
	# this run's own file while QEMU writes it (runs may overlap); it
	# replaces .output/vmtest/LABEL/console.log at the end
	_log="$RUN/console-$_label.log"
	mkinitrd "$RUN/initrd.gz"
	[ -n "${ACCEL:-}" ] || probe_accel
	_cpu=max
	[ "$ACCEL" = kvm ] && _cpu=host
	_nic=""
	if [ "$mode" != cmd ] || [ "${VMTEST_NIC:-0}" = 1 ]; then
		_nic="-netdev tap,id=n0,ifname=$TAP,script=no,downscript=no,queues=4,vhost=off
		-device virtio-net-pci,netdev=n0,mac=$GUEST_MAC,mq=on,vectors=10,guest_tso4=off,guest_tso6=off,guest_ecn=off,guest_ufo=off,guest_csum=off"
	fi
	_append="console=ttyS0 quiet panic=-1 vmtest.repo=$REPO vmtest.kroot=$KDIR vmtest.run=$RUN"
	_append="$_append vmtest.mode=$mode vmtest.suites=$suites vmtest.output=$OUT"
	rm -f "$RUN/nic-done" "$RUN/nic-hammer"
	NIC_HOST=""
	_where="console: $KDIR/console.log"
	[ "$mode" = shell ] && _where="a shell on this terminal"
	say "[$_label] booting $KVER ($ACCEL, 2 vCPUs, ${VMTEST_MEM:-2048} MiB); $_where"
	_t0=$(date +%s)
	if [ "$mode" = shell ]; then
		say "shell: Ctrl-A x stops QEMU. Host end of the NIC: 'ip netns exec $NS ...'" \
			"($HOST_IP, $HOST_IP6 on $TAP); vmtest/nic.sh in the guest waits for" \
			"$RUN/nic-done"
		# shellcheck disable=SC2086
		ip netns exec "$NS" qemu-system-x86_64 -machine "q35,accel=$ACCEL" -cpu "$_cpu" -smp 2 \
			-m "${VMTEST_MEM:-2048}" -nodefaults -display none -no-reboot -serial mon:stdio \
			-kernel "$KDIR/boot/vmlinuz-$KVER" -initrd "$RUN/initrd.gz" -append "$_append" \
			-virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap \
			-virtfs "local,path=$RUN,mount_tag=vmrun,security_model=none,readonly=on" $_nic
		return
	fi
	# shellcheck disable=SC2086
	ip netns exec "$NS" qemu-system-x86_64 -machine "q35,accel=$ACCEL" -cpu "$_cpu" -smp 2 \
		-m "${VMTEST_MEM:-2048}" -nodefaults -display none -no-reboot -serial "file:$_log" \
		-kernel "$KDIR/boot/vmlinuz-$KVER" -initrd "$RUN/initrd.gz" -append "$_append" \
		-virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap \
		-virtfs "local,path=$RUN,mount_tag=vmrun,security_model=none,readonly=on" $_nic \
		>"$RUN/qemu.err" 2>&1 </dev/null &
	QPID=$!
	_shown=0
	_booted=""
	_timedout=0
	while :; do
		_alive=0
		kill -0 "$QPID" 2>/dev/null && _alive=1
		# stream the complete lines that arrived (not the kernel log dump)
		_n=0
		[ -f "$_log" ] && _n=$(wc -l <"$_log")
		if [ "$_n" -gt "$_shown" ]; then
			sed -n "$((_shown + 1)),${_n}p" "$_log" | tr -d '\r' |
				if [ "${V:-0}" = 1 ]; then cat; else grep -v '^@@K '; fi |
				sed "s/^/[$_label] /"
			_shown=$_n
		fi
		[ "$_alive" = 1 ] || break
		_now=$(date +%s)
		if [ -z "$_booted" ] && grep -q '^@@VMTEST booted' "$_log" 2>/dev/null; then
			_booted=$((_now - _t0))
		fi
		if [ -z "$NIC_HOST" ] && grep -q '^@@VMTEST nic-ready' "$_log" 2>/dev/null; then
			nic_client "$_label"
		fi
		if [ $((_now - _t0)) -ge "$timeout" ]; then
			say "[$_label] TIMEOUT: the guest did not finish within ${timeout}s; stopping qemu (pid $QPID)"
			kill -TERM "$QPID" 2>/dev/null
			sleep 2
			kill -KILL "$QPID" 2>/dev/null
			_timedout=1
		fi
		sleep 1
	done
	wait "$QPID"
	_qrc=$?
	QPID=""
	_total=$(($(date +%s) - _t0))
	[ -s "$RUN/qemu.err" ] && sed "s/^/[$_label] qemu: /" "$RUN/qemu.err"
	results "$_label" "$_log" "$_booted" "$_total" "$_timedout" "$_qrc"
}

# keep_logs LABEL: this run's console and kernel logs become the kernel's
# latest ones, each replaced in one rename.
keep_logs() {
	[ -f "$RUN/console-$1.log" ] && mv "$RUN/console-$1.log" "$KDIR/console.log"
	[ -f "$RUN/dmesg-$1.log" ] && mv "$RUN/dmesg-$1.log" "$KDIR/dmesg.log"
	return 0
}

# results LABEL LOG BOOTSECS TOTALSECS TIMEDOUT QEMURC: the table rows of one kernel.
results() {
	_label=$1 _log=$2 _kfail=0
	_clean="$RUN/console.txt"
	tr -d '\r' <"$_log" >"$_clean"
	if [ -n "$3" ]; then
		row "$_label" boot ok - - "${3}s" "$KVER, $ACCEL"
	else
		row "$_label" boot FAIL - - - "no '@@VMTEST booted' on the console (see $KDIR/console.log)"
		_kfail=1
		NFAIL=$((NFAIL + 1))
	fi
	_list=$suites
	[ "$mode" = cmd ] && _list=cmd
	for _s in $(echo "$_list" | tr , ' '); do
		_end=$(grep "^@@VMTEST end $_s " "$_clean" | tail -n 1)
		if [ -z "$_end" ]; then
			row "$_label" "$_s" FAIL - - - "no result (guest died, hung or timed out)"
			_kfail=1
			NFAIL=$((NFAIL + 1))
			continue
		fi
		_rc=$(echo "$_end" | sed -n 's/.* rc=\([0-9]*\).*/\1/p')
		_p=$(echo "$_end" | sed -n 's/.* passed=\([0-9]*\).*/\1/p')
		_f=$(echo "$_end" | sed -n 's/.* failed=\([0-9]*\).*/\1/p')
		_secs=$(echo "$_end" | sed -n 's/.* secs=\([0-9]*\).*/\1/p')
		_res=pass _note=""
		[ "$_rc" = 0 ] || _res=FAIL
		case "$_s" in
		nic)
			if [ "$NIC_HOST" != pass ]; then
				_res=FAIL
				_note="host client: ${NIC_HOST:-never ran}; "
			fi
			_note="${_note}$(sed -n 's/^nic-summary: //p' "$_clean" | tail -n 1)"
			;;
		broken)
			grep -q 'BPF program load failed' "$_clean" && _note="verifier rejected the program"
			;;
		cmd) _note="exit $_rc" ;;
		esac
		row "$_label" "$_s" "$_res" "$_p" "$_f" "${_secs}s" "$_note"
		NPASS=$((NPASS + ${_p:-0}))
		NFAIL=$((NFAIL + ${_f:-0}))
		if [ "$_res" != pass ]; then
			_kfail=1
			[ "${_f:-0}" -gt 0 ] || NFAIL=$((NFAIL + 1))
		fi
	done
	# The kernel log: any warning, BUG or oops fails the kernel; so does a
	# program the verifier refused anywhere in the console (libbpf's words).
	_klog="$RUN/dmesg-$_label.log"
	sed -n 's/^@@K //p' "$_clean" >"$_klog"
	_pat='WARNING:|BUG:|Oops|general protection fault|Kernel panic|Call Trace|UBSAN:|KASAN:|refcount_t:|soft lockup|hung_task|rcu_sched detected stall|segfault at'
	# the kernel log, and kernel messages that reached the console directly
	# (errors, panics: "[ seconds] ..."), not the tests' own output
	_kbad=$({
		cat "$_klog"
		grep -v '^@@K ' "$_clean" | grep -E '^\[ *[0-9]+\.[0-9]+\] '
	} | grep -E "$_pat" | head -n 3)
	_vbad=$(grep -v '^@@K ' "$_clean" | grep -E 'BPF program load failed|BEGIN PROG LOAD LOG|processed [0-9]+ insns \(limit' | head -n 1)
	if [ -n "$_kbad" ]; then
		row "$_label" kernel FAIL - - - "$(echo "$_kbad" | head -n 1 | cut -c1-100) (see $KDIR/dmesg.log)"
		_kfail=1
		NFAIL=$((NFAIL + 1))
	elif ! grep -q '^@@VMTEST dmesg-end' "$_clean"; then
		row "$_label" kernel FAIL - - - "no kernel log captured (see $KDIR/console.log)"
		_kfail=1
		NFAIL=$((NFAIL + 1))
	else
		row "$_label" kernel clean - - - "no warning, BUG or oops in $(wc -l <"$_klog") lines ($KDIR/dmesg.log)"
	fi
	if [ -n "$_vbad" ]; then
		row "$_label" verifier FAIL - - - "$(echo "$_vbad" | cut -c1-100)"
		_kfail=1
		NFAIL=$((NFAIL + 1))
	else
		row "$_label" verifier clean - - - "no program refused"
	fi
	[ "$5" = 1 ] && row "$_label" timeout FAIL - - "${timeout}s" "qemu stopped"
	[ "$5" = 1 ] && _kfail=1 && NFAIL=$((NFAIL + 1))
	if [ "$_kfail" = 0 ]; then
		row "$_label" total pass - - "${4}s" ""
	else
		row "$_label" total FAIL - - "${4}s" "qemu exit $6"
		FAILED=1
	fi
}

# ---- main --------------------------------------------------------------------
nic_up
ACCEL=""
T0=$(date +%s)
[ "$mode" = cmd ] && printf '%s\n' "$*" >"$RUN/cmd"
echo "$klist" | awk 'NF == 3' >"$RUN/kernels"
for label in $(awk '{ print $1 }' "$RUN/kernels"); do
	fetch "$label" "$(awk -v l="$label" '$1 == l { print $2 }' "$RUN/kernels")" \
		"$(awk -v l="$label" '$1 == l { print $3 }' "$RUN/kernels")"
	if [ "$broken" = 1 ] && [ "$mode" = suites ] && [ ! -f "$RUN/broken/bswap_bounds.bpf.o" ]; then
		mkdir -p "$RUN/broken"
		clang -g -O2 -target bpf -mcpu=v3 -Wall -Werror -I"/usr/include/$(uname -m)-linux-gnu" \
			-c vmtest/broken/bswap_bounds.bpf.c -o "$RUN/broken/bswap_bounds.bpf.o" ||
			die "cannot build vmtest/broken/bswap_bounds.bpf.c"
	fi
	boot "$label"
	keep_logs "$label"
done

[ "$mode" = shell ] && exit 0
echo
echo "vmtest results ($(($(date +%s) - T0))s in all):"
printf '%-6s %-8s %-8s %6s %6s %7s  %s\n' KERNEL SUITE RESULT PASSED FAILED TIME NOTE
cat "$TABLE"
[ "$FAILED" = 0 ] || echo "vmtest: FAILED; console and kernel logs: $VMDIR/LABEL/{console,dmesg}.log"
# the line tests/run.sh adds up
echo "vmtest: $NPASS passed, $NFAIL failed"
[ "$FAILED" = 0 ]
