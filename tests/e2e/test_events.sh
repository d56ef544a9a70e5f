#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# test_events: the event stream (`sluicectl events`), one behaviour a step.
# - kill -9 and restart: `events --from 0` after the restart starts with
#   exactly the events read before the kill (same offsets, same bytes),
#   including the one of the last change acknowledged before the kill; the
#   new agent's agent.start follows directly (no gap, no duplicate); and the
#   same holds for a kill in the middle of a stream of changes (a torn last
#   record, if any, is cut off without a gap). Offsets are 1, 2, 3, ...
# - a SYN flood from one client (raw sockets, ~3 s, as fast as one Python
#   loop sends) against a connection-rate limit of 10/s: the data plane drops
#   every SYN beyond the allowance (rl_conn ~ sent), while the stream gets at
#   most one ratelimit.drop event per client per second, each with a drops
#   count, whose sum is about rl_conn (the 1-in-64 sampling): thousands of
#   drops, a handful of events.
# - `events --follow --type health`, started before a backend dies, prints
#   that backend's health.down, and nothing else: neither the older
#   health.down from before it started nor the config changes.
# - `events --from 1` after 100 changes: every event in offset order, the
#   100 weight changes in the order they were made; `--from K` is the tail
#   from K; `--type config` is exactly the config.* events of the full list.
# Under SL_E2E_IN_VM=1 (QEMU, software emulation) health checks and the
# flood run slower; no bound depends on speed except "far more drops than
# events", which holds at any rate above a few hundred SYNs a second.
set -u
. tests/e2e/lab.sh
lab_trap "ev$$"
if [ "${SL_E2E_IN_VM:-0}" = 1 ]; then
	hc_interval=1s
	hc_timeout=500ms
	hc_wait=20
	flood_s=4
else
	hc_interval=200ms
	hc_timeout=100ms
	hc_wait=5
	flood_s=3
fi

lab_web "ev$$" rr
out="$LAB_DIR/out"

# evt ARGS...: `sluicectl events ARGS...`, runs of spaces squeezed to one.
evt() {
	_ev=$(ctl events "$@") || return 1
	[ -z "$_ev" ] || printf '%s\n' "$_ev" | tr -s ' '
}

# offsets_check FILE: the first column of FILE (`events` text lines) is
# FIRST, FIRST+1, ... with no gap and no repeat; prints the last one.
offsets_check() {
	awk -v f="$1" 'NR == 1 { want = $1 }
		$1 != want { printf "line %d of %s: offset %s, expected %d\n", NR, f, $1, want; bad = 1; exit 1 }
		{ want++ }
		END { if (!bad) print want - 1 }' "$1"
}

# ---- (a) kill -9 and restart ----------------------------------------------

step "kill -9 right after an acknowledged change; restart: the stream resumes exactly"
must ctl backend set web "$(be4 1):8080" --weight 3
ctl --json events --from 0 >"$LAB_DIR/ev.before" || fail "events --from 0 failed"
n_before=$(wc -l <"$LAB_DIR/ev.before")
last_before=$(evt --from 0 | tail -n 1 | awk '{ print $1 }')
[ "$(head -n 1 "$LAB_DIR/ev.before" | jget offset)" = 1 ] ||
	fail "the first event's offset is not 1: $(head -n 1 "$LAB_DIR/ev.before")"
must ctl backend set web "$(be4 2):8080" --weight 4
lab_sluiced_kill
lab_sluiced_start || fail "sluiced did not restart"
ctl --json events --from 0 >"$LAB_DIR/ev.after" || fail "events --from 0 failed after the restart"
evt --from 0 >"$LAB_DIR/ev.after.txt"
head -n "$n_before" "$LAB_DIR/ev.after" | cmp -s - "$LAB_DIR/ev.before" ||
	fail "the $n_before events read before the kill changed: $(head -n "$n_before" "$LAB_DIR/ev.after" | diff "$LAB_DIR/ev.before" - | head -n 6)"
last=$(offsets_check "$LAB_DIR/ev.after.txt") || fail "$last"
tail -n +$((n_before + 1)) "$LAB_DIR/ev.after.txt" | sed 's/^/    /'
sed -n "$((n_before + 1))p" "$LAB_DIR/ev.after.txt" >"$out"
grep -q "^$((last_before + 1)) .* config.change .*cmd=backend.set args.vip=web args.address=$(be4 2) .*args.weight=4" "$out" ||
	fail "offset $((last_before + 1)) should be the acknowledged weight change, got: $(cat "$out")"
sed -n "$((n_before + 2))p" "$LAB_DIR/ev.after.txt" >"$out"
grep -q "^$((last_before + 2)) .* agent.start " "$out" ||
	fail "offset $((last_before + 2)) should be the new agent's agent.start, got: $(cat "$out")"
grep -q ' agent.stop ' "$LAB_DIR/ev.after.txt" && fail "an agent.stop after a kill -9"

step "kill -9 in the middle of a stream of changes: no gap, no duplicate"
cp "$LAB_DIR/ev.after" "$LAB_DIR/ev.before"
n_before=$(wc -l <"$LAB_DIR/ev.before")
# a loop of weight changes as fast as sluicectl goes; the agent is killed under it
cat >"$LAB_DIR/churn.sh" <<EOF
i=0
while :; do
	i=\$((i % 100 + 1))
	"$SLUICECTL" --socket "$LAB_SOCK" backend set web "$(be4 3):8080" --weight \$i >/dev/null 2>&1
done
EOF
_lab_bg churn sh "$LAB_DIR/churn.sh"
CHURN_PID=$LAST_PID
sleep 0.5
lab_sluiced_kill
_lab_stop "$CHURN_PID"
lab_sluiced_start || fail "sluiced did not restart"
ctl --json events --from 0 >"$LAB_DIR/ev.after" || fail "events --from 0 failed after the restart"
evt --from 0 >"$LAB_DIR/ev.after.txt"
head -n "$n_before" "$LAB_DIR/ev.after" | cmp -s - "$LAB_DIR/ev.before" ||
	fail "the events from before the churn changed"
last=$(offsets_check "$LAB_DIR/ev.after.txt") || fail "$last"
starts=$(grep -c ' agent.start ' "$LAB_DIR/ev.after.txt")
churned=$(grep -c "cmd=backend.set args.vip=web args.address=$(be4 3) " "$LAB_DIR/ev.after.txt")
echo "    $churned changes recorded before the kill; offsets 1..$last, $starts agent.start"
[ "$churned" -gt 0 ] || fail "no change of the churn loop was recorded before the kill"
[ "$starts" -eq 3 ] || fail "expected 3 agent.start events (start, 2 restarts), got $starts"
tail -n 1 "$LAB_DIR/ev.after.txt" | grep -q " agent.start " ||
	fail "the newest event is not the restart's agent.start: $(tail -n 1 "$LAB_DIR/ev.after.txt")"

# ---- (b) a flood above the rate limit -----------------------------------------

step "a ${flood_s}s SYN flood from one client above --conn-rate 10 --conn-burst 10"
must ctl limit set web --conn-rate 10 --conn-burst 10
# flood.py SRC DST PORT SECONDS: raw TCP SYNs from SRC (4096 source ports in
# turn, full checksums) to DST:PORT as fast as it can for SECONDS; prints "sent N".
cat >"$LAB_DIR/flood.py" <<'EOF'
import socket, struct, sys, time

src, dst, dport, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
s_ip, d_ip = socket.inet_aton(src), socket.inet_aton(dst)

def csum(b):
    if len(b) % 2:
        b += b"\0"
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while t >> 16:
        t = (t & 0xFFFF) + (t >> 16)
    return ~t & 0xFFFF

pkts = []
for i in range(4096):
    sport = 20000 + i
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 1000 + i, 0, 5 << 4, 0x02, 64240, 0, 0)
    tcp = tcp[:16] + struct.pack("!H", csum(s_ip + d_ip + struct.pack("!BBH", 0, 6, 20) + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0, 64, 6, 0, s_ip, d_ip)
    pkts.append(ip + tcp)

s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
addr = (dst, 0)
sent = 0
i = 0
end = time.monotonic() + secs
while (i & 1023) or time.monotonic() < end:
    try:
        s.sendto(pkts[i & 4095], addr)
        sent += 1
    except OSError:
        pass
    i += 1
print("sent %d" % sent)
EOF
rl_before=$(ctl --json stats | jget drops.rl_conn)
ev_from=$(($(evt --from 0 | tail -n 1 | awk '{ print $1 }') + 1))
in_cli python3 "$LAB_DIR/flood.py" "$CLI4" "$VIP4" 80 "$flood_s" >"$out" 2>&1 ||
	fail "the flood failed: $(cat "$out")"
sent=$(sed -n 's/^sent //p' "$out")
# the aggregation emits a second's count once that second is over (1 s tick)
sleep 2.2
rl=$(($(ctl --json stats | jget drops.rl_conn) - rl_before))
evt --from "$ev_from" --type ratelimit.drop >"$LAB_DIR/rl.ev"
events=$(wc -l <"$LAB_DIR/rl.ev")
sed 's/^/    /' "$LAB_DIR/rl.ev"
echo "    sent $sent SYNs; rl_conn +$rl; $events ratelimit.drop events"
# all but the allowance (burst 10 + 10/s, a second more for the start) are
# dropped in XDP; 1% slack for SYNs lost before XDP (the veth's queue)
[ "$rl" -le "$sent" ] || fail "rl_conn grew by $rl, more than the $sent SYNs sent"
[ "$rl" -ge $((sent - 10 - 10 * (flood_s + 1) - sent / 100)) ] ||
	fail "rl_conn grew by $rl for $sent SYNs: the data plane did not drop the flood"
[ "$rl" -ge 2000 ] || fail "only $rl drops: the flood was too slow to show anything ($sent sent)"
# a flood of flood_s seconds has drops in at least flood_s calendar seconds
[ "$events" -ge "$flood_s" ] ||
	fail "$events ratelimit.drop events for a ${flood_s}s flood, expected one a second"
# at most one event per client per second, for the seconds of the flood
dups=$(sed -n 's/.* client=\([^ ]*\) .* second=\([^ ]*\).*/\1 \2/p' "$LAB_DIR/rl.ev" | sort | uniq -d)
[ -z "$dups" ] || fail "more than one ratelimit.drop event for one client in one second: $dups"
[ "$events" -le $((flood_s + 2)) ] ||
	fail "$events ratelimit.drop events for a ${flood_s}s flood, expected at most $((flood_s + 2))"
grep -v " ratelimit.drop web - client=$CLI4 drops=[1-9][0-9]* " "$LAB_DIR/rl.ev" &&
	fail "a ratelimit.drop event not for client $CLI4 with a drops count (above)"
sum=$(sed -n 's/.* drops=\([0-9]*\) .*/\1/p' "$LAB_DIR/rl.ev" | awk '{ s += $1 } END { print s + 0 }')
echo "    the events' drops add up to $sum (sampled 1 in 64)"
within "$sum" "$rl" 25 || fail "the events count $sum drops, the data plane $rl (expected within 25%)"
must ctl limit clear web

# ---- (c) a live follower -----------------------------------------------------

step "events --follow --type health sees a health.down that happens after it started"
must ctl backend add web "$(be4 3):9" # nothing listens on port 9
must ctl health set web "$(be4 3):9" --type tcp --interval "$hc_interval" \
	--timeout "$hc_timeout" --rise 2 --fall 2
i=0
until evt --type health | grep -q " health.down web $(be4 3):9 "; do
	i=$((i + 1))
	[ "$i" -le $((hc_wait * 10)) ] || fail "no health.down for $(be4 3):9 within ${hc_wait}s"
	sleep 0.1
done
_lab_bg follow "$SLUICECTL" --socket "$LAB_SOCK" events --follow --type health
FOLLOW_PID=$LAST_PID
# connected: the follower holds a unix socket (ss lists it with its pid)
i=0
until ss -xp 2>/dev/null | grep -q "pid=$FOLLOW_PID,"; do
	i=$((i + 1))
	[ "$i" -le 50 ] || fail "the follower did not connect: $(cat "$LAB_DIR/follow.log")"
	sleep 0.1
done
sleep 0.2
must ctl backend add web "$(be4 2):9"
must ctl health set web "$(be4 2):9" --type tcp --interval "$hc_interval" \
	--timeout "$hc_timeout" --rise 2 --fall 2
i=0
until tr -s ' ' <"$LAB_DIR/follow.log" | grep -q " health.down web $(be4 2):9 "; do
	i=$((i + 1))
	if [ "$i" -gt $((hc_wait * 10)) ] || ! kill -0 "$FOLLOW_PID" 2>/dev/null; then
		fail "the follower printed no health.down for $(be4 2):9: '$(cat "$LAB_DIR/follow.log")';" \
			"the stored events: $(evt --type health | tr '\n' '|')"
	fi
	sleep 0.1
done
_lab_stop "$FOLLOW_PID"
sed 's/^/    /' "$LAB_DIR/follow.log"
[ "$(wc -l <"$LAB_DIR/follow.log")" -eq 1 ] ||
	fail "expected the follower to print only the new health.down, got: $(cat "$LAB_DIR/follow.log")"
must ctl backend del web "$(be4 2):9"
must ctl backend del web "$(be4 3):9"

# ---- (d) reading back many events -------------------------------------------

step "100 changes: events --from 1 returns every event in order; --type config filters"
from=$(($(evt --from 0 | tail -n 1 | awk '{ print $1 }') + 1))
i=1
while [ "$i" -le 100 ]; do
	ctl backend set web "$(be4 1):8080" --weight "$i" >/dev/null || fail "backend set --weight $i failed"
	i=$((i + 1))
done
evt --from 1 >"$LAB_DIR/all.txt" || fail "events --from 1 failed"
last=$(offsets_check "$LAB_DIR/all.txt") || fail "$last"
[ "$(head -n 1 "$LAB_DIR/all.txt" | awk '{ print $1 }')" = 1 ] ||
	fail "events --from 1 does not start at 1: $(head -n 1 "$LAB_DIR/all.txt")"
echo "    offsets 1..$last, consecutive"
sed -n "s/.* config.change .*cmd=backend.set args.vip=web args.address=$(be4 1) args.port=8080 args.weight=\([0-9]*\).*/\1/p" \
	"$LAB_DIR/all.txt" | tail -n 100 >"$out"
seq 1 100 | cmp -s - "$out" || fail "the 100 weight changes are not in order: $(tr '\n' ' ' <"$out")"
evt --from "$from" >"$LAB_DIR/tail.txt"
awk -v f="$from" '$1 >= f' "$LAB_DIR/all.txt" | cmp -s - "$LAB_DIR/tail.txt" ||
	fail "events --from $from is not the tail of events --from 1"
evt --from 1 --type config >"$LAB_DIR/config.txt" || fail "events --type config failed"
awk '$3 ~ /^config\./' "$LAB_DIR/all.txt" | cmp -s - "$LAB_DIR/config.txt" ||
	fail "--type config is not the config.* events: $(awk '$3 ~ /^config\./' "$LAB_DIR/all.txt" | diff - "$LAB_DIR/config.txt" | head -n 4)"
others=$(awk '$3 !~ /^config\./' "$LAB_DIR/all.txt" | wc -l)
echo "    --type config: $(wc -l <"$LAB_DIR/config.txt") events; $others of other types left out"
[ "$others" -gt 0 ] || fail "no event of another type to filter out"
