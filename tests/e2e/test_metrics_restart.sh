#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# test_metrics_restart: no counter of /metrics ever goes down across a kill -9
# of sluiced and a new agent over the same pinned maps.
# - The lab with an L4 NAT VIP "web" and an L7 VIP "web7" (routes "api", JWT
#   required, and "pub"), HTTP health checks on both, traffic on both for the
#   whole test (new L4 connections, L7 requests with and without a token).
# - /metrics is scraped, sluiced is killed with SIGKILL, a new one starts with
#   the same state dir, bpffs dir and socket (it adopts the pins), and after
#   more traffic /metrics is scraped again: 1.5 s of it against 6 s before
#   the first scrape, so that a counter the new agent started again from 0
#   (maps recreated, counters kept in memory only) would show as going down.
# - Every sample present in both scrapes whose family is a counter, and every
#   _bucket, _sum and _count of a histogram, is >= after than before (the
#   offending series are printed otherwise). The comparison must have covered
#   sluice_vip_packets_total, sluice_backend_packets_total,
#   sluice_l7_requests_total, sluice_l7_request_duration_seconds_bucket,
#   sluice_health_checks_total and sluice_agent_restarts_total, and
#   sluice_agent_restarts_total went up by exactly 1; and the first five of
#   those grew (their sum over the series in both scrapes), so the traffic
#   and the checks did reach the counters.
# The exposition format is parsed by a small python script of this test
# (label values with \\, \" and \n escapes; the family of a sample found from
# its TYPE line, _bucket/_sum/_count belonging to their histogram).
# Under SL_E2E_IN_VM=1 the health checks are slower and the waits longer.
set -u
. tests/e2e/lab.sh
T="mr$$"
lab_trap "$T"

JWTMINT="$OUT/bin/e2e/jwtmint"
VIP_L7=198.19.0.11
ADMIN=127.0.0.1:9100
# BEFORE, AFTER: seconds of traffic before the first scrape, and after the
# new agent is ready before the second. AFTER is much shorter, so that
# counters the new agent started again from 0 could not catch up with the
# first scrape, and the comparison would see them go down.
if [ "${SL_E2E_IN_VM:-0}" = 1 ]; then
	IVL=500
	TMO=400
	WAIT=600 # tenths of a second
	BEFORE=16
	AFTER=4
else
	IVL=200
	TMO=100
	WAIT=100
	BEFORE=6
	AFTER=1.5
fi
PY=$(python3 -c 'import sys; print(sys.executable)') || fail "python3 is needed"

lab_up "$T" || fail "lab_up failed"

# The exposition-format comparison (see the top of this file).
cat >"$LAB_DIR/cmp.py" <<'EOF'
import math, sys

def parse_labels(s, i):
    # s[i] is just past '{': returns ({name: value}, index past '}').
    labels = {}
    while True:
        while s[i] in " \t,":
            i += 1
        if s[i] == "}":
            return labels, i + 1
        j = s.index("=", i)
        name = s[i:j].strip()
        i = j + 1
        while s[i] in " \t":
            i += 1
        if s[i] != '"':
            raise ValueError("label %s: value not quoted" % name)
        i += 1
        v = []
        while s[i] != '"':
            c = s[i]
            if c == "\\":
                i += 1
                e = s[i]
                if e == "n":
                    v.append("\n")
                elif e in '\\"':
                    v.append(e)
                else:
                    raise ValueError("label %s: bad escape \\%s" % (name, e))
            else:
                v.append(c)
            i += 1
        if name in labels:
            raise ValueError("label %s given twice" % name)
        labels[name] = "".join(v)
        i += 1

def parse(path):
    # -> (types {family: type}, samples {(name, labels tuple): value})
    types, samples = {}, {}
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        line = line.rstrip("\n")
        try:
            if not line.strip():
                continue
            if line.startswith("#"):
                f = line.split(None, 3)
                if len(f) >= 4 and f[1] == "TYPE":
                    if f[2] in types:
                        raise ValueError("second TYPE for " + f[2])
                    types[f[2]] = f[3].strip()
                continue
            i = 0
            while i < len(line) and line[i] not in "{ \t":
                i += 1
            name, labels = line[:i], {}
            if i < len(line) and line[i] == "{":
                labels, i = parse_labels(line, i + 1)
            rest = line[i:].split()
            if not name or len(rest) not in (1, 2):
                raise ValueError("not NAME[{LABELS}] VALUE [TIMESTAMP]")
            key = (name, tuple(sorted(labels.items())))
            if key in samples:
                raise ValueError("the same series twice")
            samples[key] = float(rest[0])
        except (ValueError, IndexError) as e:
            sys.exit("%s:%d: %s: %r" % (path, n, e, line))
    return types, samples

def family(name, types):
    # (family, type) of a sample name: itself, or a histogram/summary's
    # _bucket/_sum/_count, or a counter declared without its _total.
    if name in types:
        return name, types[name]
    for suf in ("_bucket", "_sum", "_count", "_total"):
        if name.endswith(suf) and name[: -len(suf)] in types:
            return name[: -len(suf)], types[name[: -len(suf)]]
    return name, "untyped"

def show(key):
    name, labels = key
    return "%s{%s}" % (name, ",".join('%s="%s"' % (k, v.replace("\\", "\\\\")
                       .replace('"', '\\"').replace("\n", "\\n")) for k, v in labels))

def main(before, after, need):
    # need: sample names the comparison must cover; "+NAME": and whose sum
    # over the series in both scrapes grew.
    tb, sb = parse(before)
    ta, sa = parse(after)
    bad, covered, n = [], set(), 0
    for key, vb in sorted(sb.items()):
        if key not in sa:
            continue
        fam, typ = family(key[0], ta)
        if typ not in ("counter", "histogram", "summary"):
            continue
        if typ != "counter" and not key[0].endswith(("_bucket", "_sum", "_count")):
            continue  # a summary's quantiles may go down
        n += 1
        covered.add(key[0])
        va = sa[key]
        if not va >= vb:
            bad.append("%s: %r before, %r after" % (show(key), vb, va))
    fams = {family(k[0], ta)[0] for k in sa if k in sb}
    print("compared %d samples of %d families present in both scrapes" % (n, len(fams)))
    rc = 0
    for b in bad:
        print("went down: " + b)
        rc = 1
    for f in need:
        grow = f.startswith("+")
        f = f.lstrip("+")
        if grow:
            keys = [k for k in sb if k[0] == f and k in sa]
            b, a = sum(sb[k] for k in keys), sum(sa[k] for k in keys)
            print("%s: %g -> %g (sum of %d series)" % (f, b, a, len(keys)))
            if not a > b:
                print("%s did not grow under traffic" % f)
                rc = 1
        if f not in covered:
            print("not covered: %s (in the scrapes before/after: %s/%s)" %
                  (f, any(k[0] == f for k in sb), any(k[0] == f for k in sa)))
            rc = 1
    r = ("sluice_agent_restarts_total", ())
    if r in sb and r in sa:
        print("sluice_agent_restarts_total: %g -> %g" % (sb[r], sa[r]))
        if sa[r] - sb[r] != 1:
            print("sluice_agent_restarts_total went up by %g, expected 1" % (sa[r] - sb[r]))
            rc = 1
    else:
        print("no unlabelled sluice_agent_restarts_total in both scrapes")
        rc = 1
    sys.exit(rc)

main(sys.argv[1], sys.argv[2], sys.argv[3:])
EOF

# scrape FILE: GET /metrics from inside the balancer's namespace into FILE.
scrape() {
	_c=$(in_lb curl -s -m 5 -o "$1" -w '%{http_code}' "http://$ADMIN/metrics") ||
		fail "GET /metrics: curl exited $?"
	[ "$_c" = 200 ] || fail "GET /metrics answered $_c"
	echo "    $(grep -c '^sluice_' "$1") samples"
}
# wait_ready: until /healthz answers 200 (the agent is ready).
wait_ready() {
	_i=0
	until [ "$(in_lb curl -s -m 2 -o /dev/null -w '%{http_code}' "http://$ADMIN/healthz")" = 200 ]; do
		_i=$((_i + 1))
		[ "$_i" -le "$WAIT" ] || fail "/healthz did not answer 200 within $((WAIT / 10)) s"
		sleep 0.1
	done
}
# hstate VIP BACKEND: its health state in health show.
hstate() { ctl --json health show "$1" | jget "[backend=$2].state"; }
# wait_up: until every backend of both VIPs is up.
wait_up() {
	_i=0
	while :; do
		_ok=1
		for _v in web web7; do
			for _n in 1 2 3; do
				[ "$(hstate $_v "$(be4 $_n):8080")" = up ] || _ok=0
			done
		done
		[ "$_ok" = 1 ] && return 0
		_i=$((_i + 1))
		[ "$_i" -le "$WAIT" ] || fail "backends not all up in $((WAIT / 10)) s: $(ctl health show)"
		sleep 0.1
	done
}

step "web (L4 NAT) and web7 (L7, JWT on /api/), health checks on both"
must "$JWTMINT" keygen "$LAB_DIR/keys"
cat >"$LAB_DIR/web7.json" <<EOF
{"routes": [
  {"name": "api", "path": "/api/", "jwt": {"jwks": "$LAB_DIR/keys/jwks.json", "algs": ["RS256"]}},
  {"name": "pub", "path": "/"}
]}
EOF
lab_sluiced_start --workers 2 || fail "sluiced did not start"
must lab_attach
ip -n "$NS_LB" addr add "$VIP_L7/32" dev lo || fail "cannot add $VIP_L7 to the balancer's lo"
must ctl vip add web "$VIP4:80" --strategy rr --forward nat
must ctl vip add web7 "$VIP_L7:80" --strategy rr --l7 "$LAB_DIR/web7.json"
for v in web web7; do
	for n in 1 2 3; do must ctl backend add $v "$(be4 $n):8080"; done
	must ctl health set $v --type http --path / --interval "${IVL}ms" --timeout "${TMO}ms" \
		--rise 1 --fall 2
done
wait_ready
wait_up

step "traffic in the background for the whole test"
tok=$("$JWTMINT" sign "$LAB_DIR/keys" --claims '{"sub":"restart"}' --exp-in 3600) ||
	fail "jwtmint sign failed"
_lab_bg l4 ip netns exec "$NS_CLI" "$HAMMER" -l 3600 -i 20 -q -a "$VIP4"
_lab_bg l7 ip netns exec "$NS_CLI" "$HAMMER" -l 3600 -i 20 -q -a "$VIP_L7"
# one keep-alive connection (curl reconnects after the outage), 20 requests a second
_lab_bg jwt ip netns exec "$NS_CLI" curl -s -m 5 --rate 20/s \
	-H "Authorization: Bearer $tok" "http://$VIP_L7/api/[1-1000000]"
# and a 401 now and then: 4xx and JWT failure counters move too
_lab_bg nojwt ip netns exec "$NS_CLI" curl -s -m 5 --rate 2/s "http://$VIP_L7/api/n[1-1000000]"
sleep "$BEFORE"
for t in l4 l7 jwt nojwt; do
	pid=$(awk -v t="$t" '$2 == t { print $1 }' "$LAB_DIR/pids")
	kill -0 "$pid" 2>/dev/null || fail "the $t traffic stopped: $(tail -n 5 "$LAB_DIR/$t.log")"
done

step "scrape /metrics, kill -9 sluiced, start a new one over the same pins"
scrape "$LAB_DIR/before.txt"
lab_sluiced_kill
echo "    sluiced killed"
sleep 1
lab_sluiced_start --workers 2 || fail "the new sluiced did not start"
wait_ready
wait_up
sleep "$AFTER"
scrape "$LAB_DIR/after.txt"

step "no counter went down; the required families were compared; one restart more"
# +FAMILY: its sum over the series of both scrapes must also have grown
"$PY" "$LAB_DIR/cmp.py" "$LAB_DIR/before.txt" "$LAB_DIR/after.txt" \
	+sluice_vip_packets_total +sluice_backend_packets_total +sluice_l7_requests_total \
	+sluice_l7_request_duration_seconds_bucket +sluice_health_checks_total \
	sluice_agent_restarts_total >"$LAB_DIR/cmp.out" 2>&1
rc=$?
sed 's/^/    /' "$LAB_DIR/cmp.out" | head -n 60
[ "$rc" -eq 0 ] || fail "the counters across the restart: see above"
