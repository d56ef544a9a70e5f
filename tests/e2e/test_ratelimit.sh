#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# test_ratelimit: a per-client connection-rate limit set through sluicectl
# holds against a 3-second burst of real connection attempts:
# - accepted connections <= burst + rate * 3 (+1 for the refill rounding),
#   and at least the burst gets through;
# - a refused attempt is a SYN dropped in XDP, silently: the client's connect
#   times out. The connect timeout (150 ms) is below TCP's first SYN
#   retransmission (1 s), so every refused attempt sent exactly one SYN, and
#   the data plane's rl_conn drop counter must equal the refused attempts;
# - `limit clear` lifts the limit.
set -u
. tests/e2e/lab.sh
lab_trap "rl$$"
RATE=5
BURST=8
SECS=3

lab_web "rl$$" rr
out="$LAB_DIR/out"

step "limit set web --conn-rate $RATE --conn-burst $BURST"
must ctl limit set web --conn-rate "$RATE" --conn-burst "$BURST"
rl_before=$(ctl --json stats | jget drops.rl_conn)

step "a ${SECS}s burst of connection attempts from one client"
hammer -l "$SECS" -t 150 -q -a "$VIP4" >"$out"
attempts=$(count attempts "$out")
failed=$(count failed "$out")
timeouts=$(count timeouts "$out")
accepted=$((attempts - failed))
rl=$(($(ctl --json stats | jget drops.rl_conn) - rl_before))
max=$((BURST + RATE * SECS + 1))
echo "    attempts $attempts, accepted $accepted (at most $max), refused $timeouts, rl_conn $rl"
[ "$failed" -eq "$timeouts" ] ||
	fail "$((failed - timeouts)) attempts failed otherwise than by an unanswered SYN"
[ "$accepted" -le "$max" ] || fail "accepted $accepted connections, expected at most $max"
[ "$accepted" -ge "$BURST" ] || fail "accepted $accepted connections, less than the burst $BURST"
[ "$timeouts" -gt 0 ] || fail "no attempt was refused"
[ "$rl" -eq "$timeouts" ] ||
	fail "rl_conn counted $rl drops, expected $timeouts (the refused attempts)"

step "limit clear web: nothing refused any more"
must ctl limit clear web
hammer -n 100 -t 1000 -q -a "$VIP4" >"$out"
[ "$(count failed "$out")" -eq 0 ] || fail "$(count failed "$out") of 100 failed after limit clear"
