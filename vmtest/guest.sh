#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# PID 1 of a vmtest guest, started by vmtest/init on the host's root (read-only
# over 9p, tmpfs where the tests write). Runs what the kernel command line
# asks for, from the host's repository, then powers the guest off:
#
#   vmtest.repo=PATH     the repository (the host's path; the same in the guest)
#   vmtest.kroot=DIR     the unpacked kernel package (read by vmtest/modprobe)
#   vmtest.run=DIR       this run's directory on the host (read-only here):
#                        DIR/cmd holds the command of `run.sh -- COMMAND`,
#                        DIR/nic-done appears when the host's NIC client is done
#   vmtest.mode=MODE     suites (default), shell, or cmd
#   vmtest.suites=A,B    suites to run: bpf, e2e, nic, broken
#
# The host reads the console. Lines it parses start with "@@VMTEST ":
#   @@VMTEST booted KERNEL UPTIME        the guest is up (UPTIME: seconds since boot)
#   @@VMTEST begin SUITE
#   @@VMTEST end SUITE rc=N passed=N failed=N secs=N
#   @@VMTEST nic-ready                   the NIC scenario waits for the host's client
#   @@VMTEST dmesg-begin / dmesg-end     the kernel log, at the end
#   @@VMTEST done                        about to power off
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 TERM="${TERM:-vt100}"

repo=/
run=
mode=suites
suites=bpf,e2e
for a in $(cat /proc/cmdline); do
	case "$a" in
	vmtest.repo=*) repo=${a#*=} ;;
	vmtest.run=*) run=${a#*=} ;;
	vmtest.mode=*) mode=${a#*=} ;;
	vmtest.suites=*) suites=${a#*=} ;;
	vmtest.output=*) export OUTPUT="${a#*=}" ;;
	esac
done
export VMTEST_RUN="$run" VMTEST_REPO="$repo"

say() { echo "@@VMTEST $*"; }

# finish: the kernel log for the host to scan, then power off. As PID 1 this
# script must never simply exit: the kernel would panic.
finish() {
	if [ "$mode" != shell ]; then
		say dmesg-begin
		dmesg | sed 's/^/@@K /'
		say dmesg-end
	fi
	say "done"
	sync
	/bin/busybox poweroff -f
	echo o >/proc/sysrq-trigger
	sleep 60
}

cd "$repo" || {
	echo "vmtest: no repository at $repo"
	finish
}
say booted "$(uname -r)" "$(cut -d' ' -f1 /proc/uptime)"

# Modules: the kernel asks vmtest/modprobe for what it lacks (see there).
# veth and virtio_net come with the initramfs; this is the fallback.
# A copy on tmpfs: the kernel needs it executable, whatever git checked out.
cp "$repo/vmtest/modprobe" /run/vmtest-modprobe && chmod 755 /run/vmtest-modprobe
echo /run/vmtest-modprobe >/proc/sys/kernel/modprobe
for m in veth virtio_net; do
	grep -qw "^$m" /proc/modules && continue
	[ -d "/sys/module/$m" ] && continue
	/run/vmtest-modprobe "$m" || echo "vmtest: modprobe $m failed"
done
hostname vmtest
ip link set lo up

# suite NAME COMMAND...: run one suite, its output to the console, and report
# its counts from the "tests: N passed, N failed" (or "NAME: ...") last line.
suite() {
	_name=$1
	shift
	say begin "$_name"
	_t0=$(date +%s)
	_log=/tmp/vmtest-suite.log
	rm -f /tmp/vmtest-suite.rc
	"$@" 2>&1 | tee "$_log"
	_rc=$(cat /tmp/vmtest-suite.rc 2>/dev/null || echo 1)
	_line=$(grep -E '^[a-z0-9]+: [0-9]+ passed, [0-9]+ failed' "$_log" | tail -1)
	_p=$(echo "$_line" | sed -n 's/^[a-z0-9]*: \([0-9]*\) passed.*/\1/p')
	_f=$(echo "$_line" | sed -n 's/^[a-z0-9]*: [0-9]* passed, \([0-9]*\) failed.*/\1/p')
	say end "$_name" "rc=$_rc" "passed=${_p:-0}" "failed=${_f:-0}" "secs=$(($(date +%s) - _t0))"
}
# rc COMMAND...: run COMMAND, keep its exit status for suite() (a pipe loses it).
rc() {
	"$@"
	echo $? >/tmp/vmtest-suite.rc
}

case "$mode" in
shell)
	echo "vmtest: a shell in $(uname -r), repository at $repo; 'exit' powers off."
	echo "vmtest: the suites: sh tests/run.sh bpf e2e; the NIC scenario: sh vmtest/nic.sh"
	# a real tty (not /dev/console) so that the shell gets job control
	setsid -c /bin/bash -l <>/dev/ttyS0 >&0 2>&1 || setsid -c /bin/sh <>/dev/ttyS0 >&0 2>&1
	;;
cmd)
	suite cmd rc /bin/sh -c "$(cat "$run/cmd")" </dev/null
	;;
*)
	for s in $(echo "$suites" | tr , ' '); do
		case "$s" in
		bpf) suite bpf rc sh tests/run.sh bpf ;;
		e2e)
			# Under software emulation: smaller transfers, and no browser (Chromium
			# under TCG takes minutes to start; the host run covers CORS and the
			# status page in a browser) and no Prometheus server (the host run has
			# it; test_metrics_restart checks the pinned counters here).
			export SL_E2E_IN_VM=1 SL_E2E_SKIP="test_l7_cors test_status_page test_metrics"
			suite e2e rc sh tests/run.sh e2e
			;;
		nic) suite nic rc sh vmtest/nic.sh ;;
		broken) suite broken rc sh vmtest/broken/load.sh ;;
		*) echo "vmtest: unknown suite '$s'" ;;
		esac
	done
	;;
esac
finish
