#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# test_status_page: the status page at GET / of the admin endpoint, as a real
# browser renders it from a live agent under traffic.
# - The lab with an L4 NAT VIP "web" over the three backends plus a fourth one
#   that refuses connections (b1:9, TCP health checks take it down), and an
#   L7 VIP "web7" over the backends' port 80 with two routes ("api" /api/ and
#   "pages" /), HTTP health checks and a circuit breaker. Traffic runs in the
#   background all along: new L4 connections, L7 requests on both routes.
# - GET / answers text/html, byte for byte user/agent/status.html.
# - Headless Chromium in the balancer's namespace loads
#   http://127.0.0.1:9100/ and runs in real time (driven over
#   --remote-debugging-pipe: under --virtual-time-budget the page's timers
#   outrun the agent's 0.5 s minimum rate window, so every rate would stay
#   null) until the page has had 4 answers from /stats; then its DOM and
#   screenshots are taken. The DOM must show: no error banner, the agent
#   ready; web with a packet rate > 0, every one of its four backends, the
#   three live ones up with a packet rate > 0 and the refusing one down;
#   web7 with a request rate > 0, a p95 latency, its three backends up with
#   their breaker closed, and the "api" and "pages" routes with 2xx answers;
#   the events panel, unless /events answers 404, listing events.
# - The screenshot (1366x900) is a PNG of that size. It and a full-page one
#   and the DOM are kept in $OUT/e2e-artifacts/test_status_page/ (the path is
#   printed) for whoever reads the CI log; nothing else of the test outlives it.
# Under SL_E2E_IN_VM=1 the test is skipped: Chromium under QEMU's software
# emulation is too slow (as for test_l7_cors' browser part).
set -u
. tests/e2e/lab.sh
T="sp$$"
lab_trap "$T"

if [ "${SL_E2E_IN_VM:-0}" = 1 ]; then
	echo "  - skipped in VM (SL_E2E_IN_VM=1): no headless Chromium under QEMU"
	exit 0
fi
command -v chromium >/dev/null || fail "chromium is not installed (make deps installs it)"
PY=$(python3 -c 'import sys; print(sys.executable)') || fail "python3 is needed"

ADMIN=127.0.0.1:9100
VIP_L7=198.19.0.11
DEAD="$(be4 1):9" # nothing listens on port 9
POLLS=4
ART="${SL_E2E_ARTIFACTS:-$OUT/e2e-artifacts}/test_status_page"

lab_up "$T" || fail "lab_up failed"
out="$LAB_DIR/out"

# The helpers in python (see each one's comment).
cat >"$LAB_DIR/page.py" <<'EOF'
import base64, fcntl, json, os, select, struct, subprocess, sys, time
from html.parser import HTMLParser


def browse(url, prof, dom_out, shot_out, full_out, polls, limit):
    # Chromium, headless, in real time, driven over CDP on fds 3 (it reads)
    # and 4 (it writes), each message ending in NUL (--remote-debugging-pipe).
    # Loads URL in a 1366x900 window, waits until the page has had POLLS
    # answers from /stats (body[data-polls]), then writes the DOM, a
    # screenshot of the window and one of the whole page. Gives up after
    # LIMIT seconds, saying what it waited for.
    to_c_r, to_c_w = os.pipe()
    from_c_r, from_c_w = os.pipe()
    hi_r = fcntl.fcntl(to_c_r, fcntl.F_DUPFD, 10)
    hi_w = fcntl.fcntl(from_c_w, fcntl.F_DUPFD, 10)

    def fds():
        os.dup2(hi_r, 3)
        os.dup2(hi_w, 4)

    proc = subprocess.Popen(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--hide-scrollbars", "--remote-debugging-pipe",
         "--user-data-dir=" + prof, "--window-size=1366,900", "about:blank"],
        preexec_fn=fds, pass_fds=(3, 4), stdin=subprocess.DEVNULL)
    for fd in (to_c_r, from_c_w, hi_r, hi_w):
        os.close(fd)
    buf = b""
    seq = 0
    deadline = time.monotonic() + limit

    def call(method, params=None, session=None):
        nonlocal buf, seq
        seq += 1
        msg = {"id": seq, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(to_c_w, json.dumps(msg).encode() + b"\0")
        while True:
            while b"\0" not in buf:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([from_c_r], [], [], left)[0]:
                    sys.exit("chromium: no answer to %s within %d s" % (method, limit))
                chunk = os.read(from_c_r, 1 << 20)
                if not chunk:
                    sys.exit("chromium closed its pipe (exit status %s)" % proc.poll())
                buf += chunk
            raw, buf = buf.split(b"\0", 1)
            r = json.loads(raw)
            if r.get("id") == seq:
                if "error" in r:
                    sys.exit("chromium: %s: %s" % (method, r["error"]))
                return r["result"]

    def js(s, expr):
        r = call("Runtime.evaluate", {"expression": expr, "returnByValue": True}, s)
        return r["result"].get("value")

    def shot(s, height, path):
        call("Emulation.setDeviceMetricsOverride",
             {"width": 1366, "height": height, "deviceScaleFactor": 1, "mobile": False}, s)
        with open(path, "wb") as f:
            f.write(base64.b64decode(call("Page.captureScreenshot", {"format": "png"}, s)["data"]))

    try:
        pages = [t for t in call("Target.getTargets")["targetInfos"] if t["type"] == "page"]
        tid = pages[0]["targetId"] if pages else \
            call("Target.createTarget", {"url": "about:blank"})["targetId"]
        s = call("Target.attachToTarget", {"targetId": tid, "flatten": True})["sessionId"]
        call("Emulation.setDeviceMetricsOverride",
             {"width": 1366, "height": 900, "deviceScaleFactor": 1, "mobile": False}, s)
        call("Page.navigate", {"url": url}, s)
        n = 0
        while n < polls:
            if time.monotonic() > deadline:
                with open(dom_out, "w") as f:
                    f.write(js(s, "document.documentElement.outerHTML") or "")
                sys.exit("the page had %d answers from /stats within %d s, expected %d"
                         % (n, limit, polls))
            time.sleep(0.2)
            n = js(s, "+(document.body && document.body.getAttribute('data-polls')) || 0") or 0
        with open(dom_out, "w") as f:
            f.write(js(s, "document.documentElement.outerHTML"))
        shot(s, 900, shot_out)
        shot(s, int(js(s, "document.documentElement.scrollHeight")), full_out)
        call("Browser.close")
    finally:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Dom(HTMLParser):
    # The facts the test checks, one a line, from the page's DOM:
    #   polls N / banner hidden|shown / ready true|false / version V
    #   vip NAME METRIC VALUE          (pkt-rate, req-rate, p95, ...; "" = unknown)
    #   backend VIP ADDR:PORT health H circuit C pkt-rate V
    #   route VIP NAME 2xx N
    #   events hidden|shown N
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
            "source", "track", "wbr"}
    METRICS = {"pkt-rate", "byte-rate", "flow-rate", "active-flows", "req-rate", "err-rate",
               "p95", "p99"}

    def __init__(self):
        super().__init__()
        self.stack = []
        self.out = []
        self.be = None
        self.route = None
        self.text_of = None
        self.events = 0

    def ctx(self, key):
        for _, a in reversed(self.stack):
            if key in a:
                return a[key]
        return None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = set((a.get("class") or "").split())
        if tag == "body":
            self.out.append("polls %s" % a.get("data-polls", "0"))
        if a.get("id") == "banner":
            self.out.append("banner " + ("hidden" if "hidden" in a else "shown"))
        if a.get("id") == "ready":
            self.out.append("ready %s" % a.get("data-value", ""))
        if a.get("id") == "version":
            self.text_of = "version"
        if a.get("id") == "events":
            self.events_hidden = "hidden" in a
        if "event" in cls and tag == "tr":
            self.events += 1
        vip = self.ctx("data-vip")
        if tag == "tr" and "backend" in cls:
            self.be = {"vip": a.get("data-vip"), "addr": a.get("data-backend")}
        elif self.be is not None and tag == "td":
            for k in ("be-health", "be-circuit", "be-pkt-rate"):
                if k in cls:
                    self.be[k[3:]] = a.get("data-value", "")
        elif tag == "tr" and "route-row" in cls:
            self.route = {"name": a.get("data-route"), "cells": []}
        elif self.route is not None and tag == "td" and "num" in cls:
            self.route["cells"].append(a.get("data-value", ""))
        elif vip is not None and self.be is None and cls & self.METRICS:
            for m in cls & self.METRICS:
                self.out.append("vip %s %s %s" % (vip, m, a.get("data-value", "")))
        if tag not in self.VOID:
            self.stack.append((tag, a))

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        while self.stack:
            t, _ = self.stack.pop()
            if t == tag:
                break
        if tag == "tr" and self.be is not None:
            b = self.be
            self.out.append("backend %s %s health %s circuit %s pkt-rate %s" % (
                b["vip"], b["addr"], b.get("health", "") or "-", b.get("circuit", "") or "-",
                b.get("pkt-rate", "")))
            self.be = None
        if tag == "tr" and self.route is not None:
            r = self.route
            self.out.append("route %s %s 2xx %s" % (self.ctx("data-vip"), r["name"],
                                                   r["cells"][1] if len(r["cells"]) > 1 else ""))
            self.route = None

    def handle_data(self, data):
        if self.text_of:
            self.out.append("%s %s" % (self.text_of, data.strip()))
            self.text_of = None


def dom(path):
    p = Dom()
    with open(path) as f:
        p.feed(f.read())
    p.close()
    print("\n".join(p.out))
    print("events %s %d" % ("hidden" if getattr(p, "events_hidden", True) else "shown", p.events))


def png(path):
    # Prints WIDTHxHEIGHT of a PNG file; exits 1 when it is not one.
    with open(path, "rb") as f:
        head = f.read(24)
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        sys.exit("%s: not a PNG" % path)
    print("%dx%d" % struct.unpack(">II", head[16:24]))


cmd = sys.argv[1]
if cmd == "browse":
    a = sys.argv[2:]
    browse(a[0], a[1], a[2], a[3], a[4], int(a[5]), int(a[6]))
elif cmd == "dom":
    dom(sys.argv[2])
else:
    png(sys.argv[2])
EOF

# wait_admin: until /healthz answers at all (the agent opens it as it starts).
wait_admin() {
	_i=0
	until in_lb curl -s -m 2 -o /dev/null "http://$ADMIN/healthz"; do
		_i=$((_i + 1))
		[ "$_i" -le 50 ] || fail "no answer on http://$ADMIN/healthz after 5 s"
		sleep 0.1
	done
}
# gt0 V: V is a number > 0.
gt0() {
	case "$1" in *[!0-9.e+-]* | "") return 1 ;; esac
	awk -v a="$1" 'BEGIN { exit !(a + 0 > 0) }'
}
# fact KEY...: the rest of the DOM fact line that starts with KEY... ("" if none).
fact() {
	_k="$*"
	awk -v k="$_k" 'index($0, k " ") == 1 { print substr($0, length(k) + 2); exit }' "$out.facts"
}
# word N TEXT: the Nth word of TEXT; of a backend's facts ("health H circuit C
# pkt-rate V"): 2 is its health, 4 its circuit, 6 its packet rate.
word() { echo "$2" | awk -v n="$1" '{ print $n }'; }
# page_fail MESSAGE: fail, showing what the page showed.
page_fail() {
	fail "$1; the page showed:
$(sed 's/^/    /' "$out.facts")
(the DOM, screenshots: $ARTABS)"
}

step "agent, VIPs and routes: web (L4 NAT, plus a refusing backend), web7 (L7, two routes)"
lab_sluiced_start --workers 2 || fail "sluiced did not start"
must lab_attach
wait_admin
ip -n "$NS_LB" addr add "$VIP_L7/32" dev lo || fail "cannot add $VIP_L7 to the balancer's lo"
# Checks every 500 ms, 400 ms to answer, down after 3 failures: Chromium's
# start loads a 2-CPU host enough that 100 ms checks time out (seen: all three
# web7 backends down at once, and a 503 "no backend").
cat >"$LAB_DIR/conf.json" <<EOF
{
  "interfaces": [{"name": "to-cli", "mode": "native"}, {"name": "to-b1", "mode": "native"},
                 {"name": "to-b2", "mode": "native"}, {"name": "to-b3", "mode": "native"}],
  "vips": [{
    "name": "web", "address": "$VIP4", "port": 80, "strategy": "rr", "forward": "nat",
    "health": {"type": "tcp", "interval_ms": 500, "timeout_ms": 400, "rise": 1, "fall": 3},
    "backends": [{"address": "$(be4 1)", "port": 8080}, {"address": "$(be4 2)", "port": 8080},
                 {"address": "$(be4 3)", "port": 8080}, {"address": "$(be4 1)", "port": 9}]
  }, {
    "name": "web7", "address": "$VIP_L7", "port": 80, "strategy": "rr",
    "l7": {"routes": [{"name": "api", "path": "/api/"}, {"name": "pages", "path": "/"}]},
    "health": {"type": "http", "path": "/", "interval_ms": 500, "timeout_ms": 400,
               "rise": 1, "fall": 3},
    "circuit": {},
    "backends": [{"address": "$(be4 1)", "port": 80}, {"address": "$(be4 2)", "port": 80},
                 {"address": "$(be4 3)", "port": 80}]
  }]
}
EOF
must ctl apply "$LAB_DIR/conf.json"

step "health checks settle: web's refusing backend down, every other backend up"
# hstate VIP BACKEND: its health state in health show.
hstate() { ctl --json health show "$1" | jget "[backend=$2].state"; }
i=0
while :; do
	settled=1
	[ "$(hstate web "$DEAD")" = down ] || settled=0
	for n in 1 2 3; do
		[ "$(hstate web "$(be4 $n):8080")" = up ] || settled=0
		[ "$(hstate web7 "$(be4 $n):80")" = up ] || settled=0
	done
	[ "$settled" = 1 ] && break
	i=$((i + 1))
	[ "$i" -le 100 ] || fail "health did not settle in 10 s: $(ctl health show)"
	sleep 0.1
done

step "traffic in the background: new L4 connections, L7 requests on / and /api/"
_lab_bg l4 ip netns exec "$NS_CLI" "$HAMMER" -l 600 -i 10 -q -a "$VIP4"
_lab_bg l7 ip netns exec "$NS_CLI" "$HAMMER" -l 600 -i 20 -q -a "$VIP_L7"
# curl's URL glob: one keep-alive connection, 10 requests a second
_lab_bg api ip netns exec "$NS_CLI" curl -s -m 5 --rate 10/s -o /dev/null \
	"http://$VIP_L7/api/[1-1000000]"

step "GET / is the status page: text/html, exactly user/agent/status.html"
code=$(in_lb curl -s -m 5 -o "$out.page" -D "$out.head" -w '%{http_code}' "http://$ADMIN/") ||
	fail "GET /: curl exited $?"
[ "$code" = 200 ] || fail "GET / answered $code, expected 200: $(cat "$out.head")"
tr -d '\r' <"$out.head" | grep -qi '^content-type: text/html' ||
	fail "GET /: expected Content-Type text/html; head: $(cat "$out.head")"
cmp -s "$out.page" user/agent/status.html ||
	fail "GET / is not user/agent/status.html ($(wc -c <"$out.page") bytes served," \
		"$(wc -c <user/agent/status.html) in the tree): is sluiced built from this tree?"

step "headless Chromium renders the page until it has had $POLLS answers from /stats"
mkdir -p "$ART" || fail "cannot make $ART"
ARTABS=$(cd "$ART" && pwd)
rm -f "$ART/status-page.png" "$ART/status-page-full.png" "$ART/status-page.html"
mkdir -p "$LAB_DIR/profile"
before=$(ip netns pids "$NS_LB" | sort | tr '\n' ' ')
# Chromium runs under pid 1 of its own pid namespace (unshare --pid
# --kill-child): when the recorded pid (unshare) dies, the kernel kills every
# process Chromium forked, so lab_down leaves none behind.
ip netns exec "$NS_LB" unshare --pid --fork --kill-child --mount-proc \
	"$PY" "$LAB_DIR/page.py" browse "http://$ADMIN/" "$LAB_DIR/profile" "$LAB_DIR/dom.html" \
	"$LAB_DIR/shot.png" "$LAB_DIR/full.png" "$POLLS" 30 >"$LAB_DIR/chromium.log" 2>&1 &
pid=$!
echo "$pid chromium" >>"$LAB_DIR/pids"
i=0
while kill -0 "$pid" 2>/dev/null; do
	i=$((i + 1))
	if [ "$i" -gt 450 ]; then
		_lab_stop "$pid"
		fail "chromium did not finish within 45 s; its log: $(tail -n 20 "$LAB_DIR/chromium.log")"
	fi
	sleep 0.1
done
wait "$pid"
rc=$?
_lab_forget "$pid"
for f in dom.html:status-page.html shot.png:status-page.png full.png:status-page-full.png; do
	[ -f "$LAB_DIR/${f%%:*}" ] && cp "$LAB_DIR/${f%%:*}" "$ART/${f#*:}"
done
[ "$rc" -eq 0 ] || fail "chromium's driver exited $rc; its log:" \
	"$(grep -v -e dbus -e 'unexpected operator' "$LAB_DIR/chromium.log" | tail -n 20)"
left=$(ip netns pids "$NS_LB" | sort | tr '\n' ' ')
[ "$left" = "$before" ] || fail "processes left in the balancer's namespace after chromium:" \
	"$(for p in $left; do case " $before " in *" $p "*) ;; *) ps -o pid=,args= -p "$p" ;; esac; done)"
echo "    screenshot: $ARTABS/status-page.png"
echo "    (the whole page: status-page-full.png, the DOM: status-page.html)"
"$PY" "$LAB_DIR/page.py" dom "$LAB_DIR/dom.html" >"$out.facts" ||
	fail "cannot read the page's DOM ($ARTABS/status-page.html)"

step "the page: no error banner, the agent ready"
echo "    agent $(fact version), $(fact polls) answers from /stats"
[ "$(fact banner)" = hidden ] || page_fail "the page shows its error banner"
[ "$(fact ready)" = true ] || page_fail "the page does not show the agent ready"

step "web: a packet rate > 0, its four backends, the live ones up with packets, b1:9 down"
v=$(fact vip web pkt-rate)
echo "    web: $v packets/s"
gt0 "$v" || page_fail "web's packet rate is '$v', expected a number > 0"
for n in 1 2 3; do
	b="$(be4 $n):8080"
	line=$(fact backend web "$b")
	echo "    $b: $line"
	[ -n "$line" ] || page_fail "web's backend $b is not on the page"
	[ "$(word 2 "$line")" = up ] ||
		page_fail "web's backend $b shows health '$(word 2 "$line")', expected up"
	gt0 "$(word 6 "$line")" ||
		page_fail "web's backend $b shows a packet rate '$(word 6 "$line")', expected > 0"
done
line=$(fact backend web "$DEAD")
echo "    $DEAD: $line"
[ -n "$line" ] || page_fail "web's backend $DEAD is not on the page"
[ "$(word 2 "$line")" = down ] ||
	page_fail "web's refusing backend $DEAD shows health '$(word 2 "$line")', expected down"

step "web7: a request rate > 0, a p95, its three backends up and closed, both routes"
v=$(fact vip web7 req-rate)
p95=$(fact vip web7 p95)
echo "    web7: $v requests/s, p95 $p95 ms, $(fact vip web7 pkt-rate) packets/s"
gt0 "$v" || page_fail "web7's request rate is '$v', expected a number > 0"
gt0 "$p95" || page_fail "web7's p95 latency is '$p95', expected a number > 0"
for n in 1 2 3; do
	b="$(be4 $n):80"
	line=$(fact backend web7 "$b")
	echo "    $b: $line"
	[ -n "$line" ] || page_fail "web7's backend $b is not on the page"
	[ "$(word 2 "$line")" = up ] ||
		page_fail "web7's backend $b shows health '$(word 2 "$line")', expected up"
	[ "$(word 4 "$line")" = closed ] ||
		page_fail "web7's backend $b shows circuit '$(word 4 "$line")', expected closed"
done
for r in api pages; do
	v=$(fact route web7 "$r" 2xx)
	echo "    route $r: $v 2xx"
	gt0 "$v" || page_fail "web7's route $r shows '$v' 2xx answers, expected > 0"
done

step "the events panel: hidden when /events answers 404, else listing events"
ev=$(fact events)
ecode=$(in_lb curl -s -m 5 -o /dev/null -w '%{http_code}' "http://$ADMIN/events?limit=20")
echo "    /events answers $ecode; the panel: $ev"
case "$ecode $ev" in
"404 hidden "*) ;;
"200 shown "[1-9]*) ;;
*) page_fail "/events answers $ecode and the events panel is '$ev'" ;;
esac

step "the screenshots are PNGs, the window one 1366x900"
size=$("$PY" "$LAB_DIR/page.py" png "$ART/status-page.png") ||
	fail "$ARTABS/status-page.png: not a PNG"
[ "$size" = 1366x900 ] || fail "$ARTABS/status-page.png is $size, expected 1366x900"
[ "$(wc -c <"$ART/status-page.png")" -gt 10000 ] ||
	fail "$ARTABS/status-page.png has only $(wc -c <"$ART/status-page.png") bytes"
"$PY" "$LAB_DIR/page.py" png "$ART/status-page-full.png" >/dev/null ||
	fail "$ARTABS/status-page-full.png: not a PNG"
echo "    $ARTABS/status-page.png: $size, $(wc -c <"$ART/status-page.png") bytes"
