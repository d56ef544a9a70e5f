#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""A stand-in for sluiced's control socket, to test sluicectl without the agent.

It speaks the protocol of docs/api.md: it reads JSON lines, records each one,
and answers canned replies shaped like the agent's. Run alone:

    python3 tests/cli/fake_agent.py /tmp/sl.sock [--log FILE] [--replies FILE]

prints every request line on stdout (and appends it to --log). --replies names
a JSON file, re-read at every request, that maps a cmd to the reply to send
instead of the canned one: a reply object, or one of these behaviours:

    "@silent"     never answer (sluicectl must time out)
    "@close"      close the connection without answering
    "@garbage"    answer a line that is not JSON
    "@noteok"     answer a JSON object without "ok"
    "@nonewline"  answer the canned reply, then close without the newline
    "@chunked"    answer the canned reply a few bytes at a time
    "@big"        answer a vip.list of 20,000 VIPs (about 3 MB)
    {"@seq": [R1, R2, ...]}
                  answer R1 to the first request of that cmd, R2 to the second,
                  and so on, the last one again after the end (a reply object
                  or one of the behaviours above); `stats` replies are filtered
                  by "args": {"vip": NAME} like the canned one

or a list, for a streaming reply (events --follow): its items are sent one a
line in a single write (objects as JSON, other strings as they are) and then
the connection is closed, except for these items:

    "@flush"      send what came before now, and wait 50 ms
    "@sleep N"    send what came before now, and wait N seconds
    "@hold"       send what came before now, and keep the connection open
                  until the client closes it

tests/cli/test_cli.py imports it and sets OVERRIDES directly.
"""
import json
import os
import socket
import socketserver
import sys
import threading
import time

VIPS = [
    {"name": "web", "address": "198.19.0.10", "port": 80, "protocol": "tcp",
     "strategy": "wrr", "forward": "nat",
     "limit": {"per": "addr", "conn_rate": 100, "conn_burst": 200, "pkt_rate": 0,
               "pkt_burst": 0},
     "backends": 3},
    {"name": "dns6", "address": "2001:db8::53", "port": 53, "protocol": "udp",
     "strategy": "maglev", "forward": "dsr",
     "limit": {"per": "prefix", "conn_rate": 0, "conn_burst": 0, "pkt_rate": 5000,
               "pkt_burst": 10000},
     "backends": 12},
    {"name": "api", "address": "198.19.0.11", "port": 443, "protocol": "tcp",
     "strategy": "leastconn", "forward": "ipip", "limit": None, "backends": 0},
]

BACKENDS = [
    {"vip": "web", "address": "198.18.1.2", "port": 8080, "weight": 3, "state": "active",
     "active_flows": 12, "packets": 1234, "bytes": 567890, "new_flows": 40,
     "health": "up", "circuit": "closed"},
    {"vip": "web", "address": "198.18.1.3", "port": 0, "weight": 1, "state": "draining",
     "drain_left": 250, "active_flows": 2, "packets": 99, "bytes": 10240, "new_flows": 7,
     "health": "down", "circuit": "open"},
    {"vip": "web", "address": "198.18.1.4", "port": 8080, "weight": 0, "state": "idle",
     "active_flows": 0, "packets": 0, "bytes": 0, "new_flows": 0,
     "health": "unchecked", "circuit": "half-open"},
    {"vip": "dns6", "address": "2001:db8::2", "port": 5353, "weight": 65535,
     "state": "active", "active_flows": 1, "packets": 18446744073709, "bytes": 9876543210,
     "new_flows": 123456, "health": "unchecked", "circuit": "closed"},
]

HEALTH = [
    {"vip": "web", "backend": "198.18.1.2:8080", "type": "http", "state": "up",
     "since": "2026-12-05T00:01:02.123456789Z", "checks": 1200, "failures": 0,
     "latency_ms": 0.42, "last_error": None},
    {"vip": "web", "backend": "198.18.1.3:80", "type": "http", "state": "down",
     "since": "2026-12-05T00:03:04Z", "checks": 57, "failures": 4, "latency_ms": 1500.25,
     "last_error": "status 503, expected 200"},
    {"vip": "dns6", "backend": "[2001:db8::2]:5353", "type": "tcp", "state": "unchecked",
     "since": None, "checks": 0, "failures": 0, "latency_ms": None, "last_error": None},
    {"vip": "api", "backend": "198.18.2.2:443", "type": "tcp", "state": "up",
     "since": "2026-12-05T00:00:00.5+01:00", "checks": 3, "failures": 1, "latency_ms": 12,
     "last_error": "connect: Connection refused\nretrying"},
]

EVENTS = [
    {"offset": 41, "ts": "2026-12-05T00:01:02.123456789Z", "type": "agent.start",
     "data": {"version": "0.6.0", "pid": 4242}},
    {"offset": 42, "ts": "2026-12-05T00:01:03.000000001Z", "type": "health.down",
     "vip": "web", "backend": "198.18.11.2:8080",
     "data": {"failures": 3, "last_error": "connect: Connection refused", "latency_ms": 1.5,
              "check": {"type": "http", "path": "/healthz"}, "ok": False, "prev": None}},
    {"offset": 43, "ts": "2026-12-05T00:01:04.5Z", "type": "circuit.open", "vip": "api",
     "backend": "[2001:db8::2]:443", "data": {}},
    {"offset": 44, "ts": "2026-12-05T00:01:05Z", "type": "ratelimit.drop", "vip": "web",
     "data": {"client": "198.18.0.9", "drops": 12000, "reasons": ["rl_conn", "rl_pkt"],
              "note": "x=\"y\""}},
]

STATS = {
    "vips": [
        {"name": "web", "packets": 1333, "bytes": 578130, "new_flows": 47, "active_flows": 14,
         "drops": 5,
         "backends": [
             {"address": "198.18.1.2", "port": 8080, "packets": 1234, "bytes": 567890,
              "new_flows": 40, "active_flows": 12},
             {"address": "198.18.1.3", "port": 0, "packets": 99, "bytes": 10240,
              "new_flows": 7, "active_flows": 2}]},
        {"name": "dns6", "packets": 10, "bytes": 1000, "new_flows": 10, "active_flows": 1,
         "drops": 0,
         "backends": [
             {"address": "2001:db8::2", "port": 5353, "packets": 10, "bytes": 1000,
              "new_flows": 10, "active_flows": 1}]},
    ],
    "drops": {"none": 0, "fragment": 2, "rl_conn": 3, "rl_pkt": 0, "no_backend": 0,
              "no_group": 0, "ct_insert": 0, "encap": 0, "family": 0, "rl_contended": 0,
              "decap": 0},
    "counters": {"pass_not_vip": 4711, "pass_unparsed": 0, "pass_l7": 0, "pass_fib": 0,
                 "tx": 1300, "redirect": 0, "ct_new": 57, "ct_reselect": 0, "ct_closed": 40,
                 "ct_expired": 3, "nat_reply": 0, "icmp_fwd": 0, "icmp_no_flow": 0,
                 "rl_new_bucket": 9, "rl_evict": 0, "event_lost": 0, "decap": 0},
}

# The snapshot shape of /stats and RPC stats (/tmp/obs/SPEC.md): three answers in a
# row, as sluiced gives them to a poller asking every second. The first has no
# earlier sample (window and every rate null); the totals (packets 777001 ...)
# are there to prove the watch view never shows them.
LATENCY_LE = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
LONG_VIP = "a-very-long-vip-name-that-does-not-fit-in-its-column"


def _snapshot(i):
    first = i == 0

    def be(addr, port, health, circuit, active, rates, **extra):
        b = {"address": addr, "port": port, "weight": 1, "state": "active",
             "active_flows": active, "packets": 777001, "bytes": 777002, "new_flows": 777003,
             "health": health}
        if circuit:
            b["circuit"] = circuit
        if health != "unchecked":
            b["health_checks"] = {"pass": 10, "fail": 1}
            b["health_latency"] = 0.0003
        b["rates"] = None if first else rates
        b.update(extra)
        return b

    def vip(name, addr, port, proto, l7, active, rates, backends):
        return {"name": name, "address": addr, "port": port, "protocol": proto,
                "strategy": "rr", "forward": "nat", "l7": l7, "packets": 777001,
                "bytes": 777002, "new_flows": 777003, "active_flows": active, "drops": 3,
                "rates": None if first else rates, "backends": backends}

    routes = {"api": {"requests": {"1xx": 0, "2xx": 400, "3xx": 0, "4xx": 7, "5xx": 5},
                      "latency": {"buckets": [1, 300, 90, 10, 5, 3, 1, 2, 0, 0, 0, 0, 0, 0, 0],
                                  "sum": 0.9}},
              "_unrouted": {"requests": {"1xx": 0, "2xx": 0, "3xx": 0, "4xx": 3, "5xx": 0},
                            "latency": {"buckets": [3] + [0] * 14, "sum": 0.0003}}}
    return {
        "time": 1733367000.25 + i, "window": None if first else 1.0, "latency_le": LATENCY_LE,
        "agent": {"version": "0.7.0", "pid": 4242, "start_time": 1733366000.0,
                  "uptime": 11045.25 + i, "ready": True, "restarts": 3,
                  "journal_offset": 42, "events_offset": 17,
                  "loop_lag": {"last": 0.0001, "max": 0.002},
                  "maps": [{"name": "sl_ct", "entries": 10, "capacity": 1048576}],
                  "counter_cells": {"used": 1200, "capacity": 1048576}},
        "vips": [
            vip("web", "198.19.0.10", 80, "tcp", False, 14,
                [{"packets": 12345.0, "bytes": 1234567.0, "new_flows": 45.4},
                 {"packets": 9.0, "bytes": 512.0, "new_flows": 0.5}][i - 1], [
                    be("198.18.1.2", 8080, "up", "closed", 12,
                       [{"packets": 9000.0, "bytes": 1000000.0, "new_flows": 40.0},
                        {"packets": 6.0, "bytes": 384.0, "new_flows": 0.5}][i - 1]),
                    be("198.18.1.3", 0, "down", "open", 2,
                       [{"packets": 3345.0, "bytes": 234567.0, "new_flows": 5.4},
                        {"packets": 3.0, "bytes": 128.0, "new_flows": 0.0}][i - 1]),
                    be("198.18.1.4", 8080, "unchecked", None, 0,
                       {"packets": 0.0, "bytes": 0.0, "new_flows": 0.0})]),
            vip("gw", "198.19.0.12", 80, "tcp", True, 3,
                {"packets": 0.0, "bytes": 0.0, "new_flows": 0.0}, [
                    be("198.18.2.2", 8080, "up", "half-open", 3,
                       [{"packets": 0.0, "bytes": 0.0, "new_flows": 0.0},
                        {"packets": 0.0, "bytes": 0.0, "new_flows": 0.0}][i - 1])]),
            vip(LONG_VIP, "2001:db8::10", 443, "tcp", False, 2500000,
                [{"packets": 2500000.0, "bytes": 3.4e9, "new_flows": 12000.0},
                 {"packets": 999500.0, "bytes": 999.0, "new_flows": 99.0}][i - 1], [
                    be("2001:db8:1234:5678:9abc:def0:1234:5678", 65535, "up", "closed", 2500000,
                       [{"packets": 2500000.0, "bytes": 3.4e9, "new_flows": 12000.0},
                        {"packets": 999500.0, "bytes": 999.0, "new_flows": 99.0}][i - 1])]),
            vip("dns6", "2001:db8::53", 53, "udp", False, 1,
                {"packets": 0.0, "bytes": 0.0, "new_flows": 0.0}, [
                    be("2001:db8::2", 5353, "unchecked", None, 1,
                       {"packets": 0.0, "bytes": 0.0, "new_flows": 0.0})]),
        ],
        "drops": {"fragment": 2, "rl_conn": 777004, "rl_pkt": 0, "no_backend": 5,
                  "no_group": 0},
        "drop_rates": None if first else [{"fragment": 0.0, "rl_conn": 150.0, "rl_pkt": 0.0,
                                           "no_backend": 0.2, "no_group": 0.0},
                                          {"fragment": 0.0, "rl_conn": 0.0, "rl_pkt": 0.0,
                                           "no_backend": 1.0, "no_group": 0.0}][i - 1],
        "counters": {"pass_not_vip": 4711, "pass_l7": 20, "rl_new_bucket": 9, "rl_evict": 0},
        "l7": {
            "gw": {"connections": 30, "connections_active": 3, "requests": 415,
                   "status_1xx": 0, "status_2xx": 400, "status_3xx": 0, "status_4xx": 10,
                   "status_5xx": 5, "no_route": 3, "bad_request": 0, "unauthorized": 1,
                   "rate_limited": 0, "cors_preflights": 0, "cors_denied": 0,
                   "no_backend": 0, "upstream_errors": 0, "timeouts": 0, "retries": 0,
                   "upstream_reused": 300, "copied_bytes": 123456, "spliced_flows": 0,
                   "spliced_bytes": 0, "tunnels": 0, "routes": routes,
                   "connect": {"buckets": [30] + [0] * 14, "sum": 0.001},
                   "rates": None if first else
                   [{"requests": 120.0, "errors": 2.5}, {"requests": 7.0, "errors": 0.0}][i - 1],
                   "latency_ms": None if first else
                   [{"p50": 1.2, "p95": 4.0, "p99": 9.5}, {"p50": 0.3, "p95": 0.42, "p99": 1500.0}][i - 1]},
            "_splice": {"available": True, "flows": 0, "active": 0, "bytes": 0,
                        "kernel_bytes": 0, "pauses": 0, "broken": 0}},
    }


SNAPSHOTS = [_snapshot(i) for i in range(3)]

CONFIG = {
    "vips": [{"name": "web", "address": "198.19.0.10", "port": 80, "protocol": "tcp",
              "strategy": "wrr", "forward": "nat",
              "backends": [{"address": "198.18.1.2", "port": 8080, "weight": 3}]}],
}

RESULTS = {
    "vip.list": VIPS,
    "backend.list": BACKENDS,
    "backend.drain": {"active": 3},
    "stats": STATS,
    "apply": {"changes": 4},
    "config.show": CONFIG,
    "health.show": HEALTH,
    "events": {"events": EVENTS, "earliest": 1, "next": 45},
}
KNOWN = {"attach", "detach", "vip.add", "vip.set", "vip.del", "backend.add", "backend.set",
         "backend.del", "limit.set", "limit.clear", "health.set", "health.clear",
         "circuit.reset"} | set(RESULTS)

# cmd -> reply object or "@behaviour"; the test sets it, or --replies loads it.
OVERRIDES = {}
REPLIES_FILE = None
# @seq replies: cmd -> how many were answered (reset() starts over).
SEQ = {}
# Every request line received, in order, as text (without the newline).
REQUESTS = []
LOG_FILE = None
LOCK = threading.Lock()


def reset(overrides=None):
    """New OVERRIDES, and @seq replies from their first again."""
    global OVERRIDES
    with LOCK:
        OVERRIDES = overrides or {}
        SEQ.clear()


def stats_for(result, args):
    """A stats result for {"vip": NAME}: that VIP only (and its L7 entry)."""
    if "vip" not in args or not isinstance(result, dict):
        return result
    out = dict(result, vips=[v for v in result.get("vips", []) if v.get("name") == args["vip"]])
    if isinstance(result.get("l7"), dict):
        out["l7"] = {k: v for k, v in result["l7"].items()
                     if k == args["vip"] or k.startswith("_")}
    return out


def canned(req):
    cmd = req.get("cmd") if isinstance(req, dict) else None
    if cmd not in KNOWN:
        return {"ok": False, "error": f"unknown command '{cmd}'", "exit": 2}
    result = RESULTS.get(cmd, {})
    args = req.get("args") or {}
    if cmd == "backend.list" and "vip" in args:
        result = [b for b in BACKENDS if b["vip"] == args["vip"]]
    if cmd == "stats" and "vip" in args:
        result = dict(STATS, vips=[v for v in STATS["vips"] if v["name"] == args["vip"]])
    if cmd == "health.show" and "vip" in args:
        result = [h for h in HEALTH if h["vip"] == args["vip"]]
    return {"ok": True, "result": result}


def canned_stream(req):
    """events --follow: the first reply, every event from "from" on, then the end."""
    args = req.get("args") or {}
    start = args.get("from", EVENTS[0]["offset"])
    return [{"ok": True, "result": {"following": True, "from": start}}] + \
        [e for e in EVENTS if e["offset"] >= start]


def overrides():
    if REPLIES_FILE:
        try:
            with open(REPLIES_FILE) as f:
                return json.load(f)
        except FileNotFoundError:
            return {}
    return OVERRIDES


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        for raw in self.rfile:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with LOCK:
                REQUESTS.append(line)
                if LOG_FILE:
                    with open(LOG_FILE, "a") as f:
                        f.write(line + "\n")
            if __name__ == "__main__":
                print(line, flush=True)
            try:
                req = json.loads(line)
            except ValueError:
                req = None
            cmd = req.get("cmd") if isinstance(req, dict) else None
            how = overrides().get(cmd)
            if isinstance(how, dict) and "@seq" in how:
                with LOCK:
                    n = SEQ.get(cmd, 0)
                    SEQ[cmd] = n + 1
                how = how["@seq"][min(n, len(how["@seq"]) - 1)]
                if cmd == "stats" and isinstance(how, dict) and how.get("ok"):
                    how = dict(how, result=stats_for(how.get("result"), req.get("args") or {}))
            if how is None and cmd == "events" and (req.get("args") or {}).get("follow"):
                how = canned_stream(req)
            if isinstance(how, list):
                self.stream(how)
                return
            if how is None or isinstance(how, dict):
                reply = how if how is not None else canned(req)
                self.wfile.write(json.dumps(reply).encode() + b"\n")
            elif how == "@silent":
                time.sleep(15)
                return
            elif how == "@close":
                return
            elif how == "@garbage":
                self.wfile.write(b"this is not json\n")
            elif how == "@noteok":
                self.wfile.write(b'{"result": {}}\n')
            elif how == "@nonewline":
                self.wfile.write(json.dumps(canned(req)).encode())
                return
            elif how == "@chunked":
                data = json.dumps(canned(req)).encode() + b"\n"
                for i in range(0, len(data), 7):
                    self.wfile.write(data[i:i + 7])
                    self.wfile.flush()
                    time.sleep(0.001)
            elif how == "@big":
                vips = [dict(VIPS[0], name=f"v{i}", port=1 + i % 65535) for i in range(20000)]
                self.wfile.write(json.dumps({"ok": True, "result": vips}).encode() + b"\n")
            self.wfile.flush()

    def stream(self, items):
        """A streaming reply (see the module's doc), then close."""
        chunk = b""
        for item in items:
            if isinstance(item, str) and item.startswith("@"):
                self.wfile.write(chunk)
                self.wfile.flush()
                chunk = b""
                if item == "@flush":
                    time.sleep(0.05)
                elif item.startswith("@sleep "):
                    time.sleep(float(item.split()[1]))
                elif item == "@hold":
                    self.rfile.read()  # until the client closes
                    return
                continue
            chunk += (item if isinstance(item, str) else json.dumps(item)).encode() + b"\n"
        self.wfile.write(chunk)
        self.wfile.flush()


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def start(path):
    """Listen on @path in a background thread; returns the server (call .shutdown())."""
    if os.path.exists(path):
        os.unlink(path)
    srv = Server(path, Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def main():
    global LOG_FILE, REPLIES_FILE
    args = sys.argv[1:]
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    path = args.pop(0)
    while args:
        opt = args.pop(0)
        if opt == "--log" and args:
            LOG_FILE = args.pop(0)
        elif opt == "--replies" and args:
            REPLIES_FILE = args.pop(0)
        else:
            print(f"fake_agent: unknown option '{opt}'", file=sys.stderr)
            return 2
    srv = start(path)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        srv.shutdown()
        os.unlink(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
