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
# Every request line received, in order, as text (without the newline).
REQUESTS = []
LOG_FILE = None
LOCK = threading.Lock()


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
