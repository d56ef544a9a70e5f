#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# test_l7_splice: authorized tunnels move their bytes in the kernel, exactly.
# An L7 VIP with two routes: "/ws" (default splice "never": an HTTP upgrade
# becomes a tunnel after the backend's 101) and "/bulk" ("splice":
# "after-auth": a tunnel right after the request head). tests/e2e/bulk
# (serve on every backend, client in the client namespace) moves SIZE bytes
# each way at once and compares both streams byte by byte and by SHA-256.
#  (a) upgrade: 101, then SIZE each way byte-exact; both ends say ok and each
#      side's sent hash is the other side's received hash;
#  (b) after-auth: 200 (close-delimited), the same;
#  (c) half-close through an upgrade: the server sends nothing before the
#      client's FIN (bulk -w), so all of its SIZE/8 bytes cross a connection
#      whose client side is already shut; byte-exact;
#  (d) sluiced did not copy them: over the three flows copied_bytes grew by
#      < 1 MiB (the heads), spliced_flows and tunnels by 3, and once
#      _splice.active is 0 spliced_bytes + copied_bytes covers the payload
#      (4 * SIZE + 2 * SIZE/8 bytes), the verdict program itself redirected at
#      least half of it (_splice.kernel_bytes), and spliced_bytes is at most the payload
#      plus the after-auth response head (that route's response is never
#      parsed, so its head is spliced with the body).
# SIZE is 1 GiB, or 32 MiB when SL_E2E_IN_VM=1 (QEMU under TCG is 10-50x
# slower; waits are longer there too). Throughput is printed, never asserted.
# If the kernel splice is unavailable or broken, (a), (b) and (c) still pass
# through the user-space copy and (d) fails.
set -u
. tests/e2e/lab.sh
lab_trap "sp$$"

BULK="$OUT/bin/e2e/bulk"
[ -x "$BULK" ] || fail "$BULK is missing (run make)"
if [ "${SL_E2E_IN_VM:-0}" = 1 ]; then
	SIZE=$((32 << 20))
	WAIT_TENTHS=1200
else
	SIZE=$((1 << 30))
	WAIT_TENTHS=200
fi
HALF=$((SIZE / 8))

lab_up "sp$$" || fail "lab_up failed"
lab_sluiced_start --workers 2 || fail "sluiced did not start"
must lab_attach
ip -n "$NS_LB" addr add "$VIP4/32" dev lo
cat >"$LAB_DIR/l7.json" <<'EOF'
{"routes": [
  {"name": "ws", "path": "/ws"},
  {"name": "bulk", "path": "/bulk", "splice": "after-auth"}
]}
EOF
must ctl vip add sp "$VIP4:80" --strategy rr --l7 "$LAB_DIR/l7.json"
for n in 1 2 3; do
	_lab_bg "bulk-b$n" ip netns exec "$LAB-b$n" "$BULK" serve 9000
	_lab_wait_line "$LAB_DIR/bulk-b$n.log" listening "$LAST_PID" || fail "bulk serve on b$n"
	must ctl backend add sp "$(be4 "$n"):9000"
done

# l7stat KEY: a counter of the VIP (or _splice.KEY) now; 0 when absent.
l7stat() {
	_v=$(ctl --json stats | jget "l7.$1") || _v=0
	echo "$_v"
}

# results: every result line the backends printed so far.
results() { cat "$LAB_DIR"/bulk-b[123].log | grep '^bulk: sent '; }

# transfer TAG BULK_ARGS...: run the bulk client; it must exit 0 and say ok
# with SIZE-exact counts; then wait for the backend's line (it prints once it
# has read the client's EOF) and compare both ends' hashes crosswise.
# Sets AFTER: the bytes the client received after its SHUT_WR.
transfer() {
	_tag=$1
	_n=$2
	shift 2
	_before=$(results | wc -l)
	_out="$LAB_DIR/$_tag.out"
	in_cli "$BULK" "$@" >"$_out" 2>&1
	_rc=$?
	sed 's/^/    client: /' "$_out"
	[ "$_rc" -eq 0 ] || fail "$_tag: bulk $* exited $_rc"
	# bulk: sent N sha256 H received N sha256 H ok
	# shellcheck disable=SC2046
	set -- $(grep '^bulk: sent ' "$_out")
	[ "$#" -eq 10 ] && [ "${10}" = ok ] && [ "$3" -eq "$_n" ] && [ "$7" -eq "$_n" ] ||
		fail "$_tag: expected 'sent $_n ... received $_n ... ok', got: $*"
	_ctx=$5
	_crx=$9
	AFTER=$(sed -n 's/^bulk: received \([0-9]*\) bytes after shutting.*/\1/p' "$_out")
	_i=0
	while [ "$(results | wc -l)" -le "$_before" ]; do
		_i=$((_i + 1))
		[ "$_i" -le "$WAIT_TENTHS" ] || fail "$_tag: no backend printed a result line"
		sleep 0.1
	done
	_line=$(results | tail -n 1)
	echo "    server: $_line"
	[ "$(results | wc -l)" -eq $((_before + 1)) ] || fail "$_tag: more than one new result line"
	# shellcheck disable=SC2086
	set -- $_line
	[ "$#" -eq 10 ] && [ "${10}" = ok ] || fail "$_tag: the backend did not say ok: $_line"
	[ "$3" -eq "$_n" ] && [ "$7" -eq "$_n" ] ||
		fail "$_tag: the backend sent $3 and received $7 bytes, expected $_n each"
	[ "$9" = "$_ctx" ] ||
		fail "$_tag: the client sent sha256 $_ctx, the backend received sha256 $9"
	[ "$5" = "$_crx" ] ||
		fail "$_tag: the backend sent sha256 $5, the client received sha256 $_crx"
}

c0=$(l7stat sp.copied_bytes)
f0=$(l7stat sp.spliced_flows)
b0=$(l7stat sp.spliced_bytes)
k0=$(l7stat _splice.kernel_bytes)
t0=$(l7stat sp.tunnels)

step "(a) upgrade on /ws: 101, then $SIZE bytes each way at once, byte-exact"
transfer upgrade "$SIZE" upgrade "$VIP4" 80 "$SIZE" /ws

step "(b) after-auth route /bulk: 200, then $SIZE bytes each way at once, byte-exact"
transfer stream "$SIZE" stream "$VIP4" 80 "$SIZE" /bulk

step "(c) half-close: the client's FIN first, then $HALF bytes back over an upgrade"
transfer half "$HALF" -w upgrade "$VIP4" 80 "$HALF" /ws
[ "$AFTER" = "$HALF" ] ||
	fail "the client received ${AFTER:-?} bytes after its SHUT_WR, expected all $HALF"

step "(d) the kernel moved them, not sluiced"
[ "$(l7stat _splice.available)" = true ] ||
	fail "splice is not available (.l7._splice: $(ctl --json stats | jget l7._splice));" \
		"the bytes went through the user-space copy"
# spliced_bytes is added when a spliced flow ends: wait for the last one.
_i=0
while [ "$(l7stat _splice.active)" != 0 ]; do
	_i=$((_i + 1))
	[ "$_i" -le "$WAIT_TENTHS" ] ||
		fail "spliced flows did not end: _splice.active $(l7stat _splice.active)"
	sleep 0.1
done
dc=$(($(l7stat sp.copied_bytes) - c0))
df=$(($(l7stat sp.spliced_flows) - f0))
db=$(($(l7stat sp.spliced_bytes) - b0))
dt=$(($(l7stat sp.tunnels) - t0))
payload=$((4 * SIZE + 2 * HALF))
echo "    copied_bytes +$dc, spliced_flows +$df, spliced_bytes +$db, tunnels +$dt" \
	"(payload $payload bytes)"
echo "    _splice: $(ctl --json stats | jget l7._splice)"
[ "$dt" -eq 3 ] || fail "tunnels grew by $dt, expected 3"
[ "$df" -eq 3 ] || fail "spliced_flows grew by $df, expected 3"
[ "$dc" -lt $((1 << 20)) ] ||
	fail "copied_bytes grew by $dc for $payload payload bytes, expected < 1 MiB (only the heads)"
# The after-auth route's response head (not parsed) is spliced too: allow 1 KiB.
[ "$db" -le $((payload + 1024)) ] ||
	fail "spliced_bytes grew by $db, more than the $payload payload bytes and a head"
[ $((db + dc)) -ge "$payload" ] ||
	fail "spliced_bytes +$db and copied_bytes +$dc do not cover the $payload payload bytes"
# Most of it by the verdict program itself (splice.c copies only what it
# drains at the hand-over and a paused direction's tail after its FIN).
dk=$(($(l7stat _splice.kernel_bytes) - k0))
echo "    kernel_bytes +$dk ($((100 * dk / payload))% of the payload)"
[ "$dk" -ge $((payload / 2)) ] ||
	fail "the kernel redirected only $dk of the $payload payload bytes (expected at least half)"
