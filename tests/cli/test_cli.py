#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""sluicectl against a fake agent: the exact request of every command, exit
codes 0/1/2/3, one-line errors, human tables and --json; stats --watch on a
pseudo-terminal (frames, rates, 80 columns, the terminal given back).

    python3 tests/cli/test_cli.py [SLUICECTL] [NAME-FILTER]

SLUICECTL defaults to .output/bin/sluicectl (try .output/asan/bin/sluicectl).
The last line is "cli: N passed, N failed".
"""
import fcntl
import json
import os
import pty
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_agent  # noqa: E402

BIN = sys.argv[1] if len(sys.argv) > 1 else ".output/bin/sluicectl"
FILTER = sys.argv[2] if len(sys.argv) > 2 else ""
TMP = tempfile.mkdtemp(prefix="sl-cli-")
SOCK = os.path.join(TMP, "sluiced.sock")
passed = failed = 0


def run(args, env=None, sock=True, stdout=subprocess.PIPE):
    e = {k: v for k, v in os.environ.items() if k != "SLUICE_SOCKET"}
    e.update(env or {})
    argv = [BIN] + (["--socket", SOCK] if sock else []) + args
    start = len(fake_agent.REQUESTS)
    p = subprocess.run(argv, env=e, stdout=stdout, stderr=subprocess.PIPE, timeout=30)
    out = p.stdout.decode() if p.stdout is not None else ""
    return p.returncode, out, p.stderr.decode(), fake_agent.REQUESTS[start:]


def check(name, args, rc, request=None, out=None, err="", replies=None, env=None, sock=True,
          contacts=None, stdout=subprocess.PIPE):
    """request: the exact request line expected (None: the agent is not contacted).
    out/err: exact text, or a compiled regex to search."""
    global passed, failed
    if FILTER and FILTER not in name:
        return
    fake_agent.OVERRIDES = replies or {}
    got_rc, got_out, got_err, reqs = run(args, env, sock, stdout)
    problems = []
    if got_rc != rc:
        problems.append(f"exit {got_rc}, expected {rc}")
    want_reqs = contacts if contacts is not None else ([request] if request else [])
    if reqs != want_reqs:
        problems.append(f"requests {reqs}, expected {want_reqs}")
    for what, got, want in (("stdout", got_out, out), ("stderr", got_err, err)):
        if want is None:
            continue
        if isinstance(want, re.Pattern):
            if not want.search(got):
                problems.append(f"{what} {got!r} does not match {want.pattern!r}")
        elif got != want:
            problems.append(f"{what} {got!r}, expected {want!r}")
    if got_err.count("\n") > 1 or (got_err and not got_err.startswith("sluicectl: ")):
        problems.append(f"stderr is not one 'sluicectl: ' line: {got_err!r}")
    if problems:
        failed += 1
        print(f"FAIL {name}: sluicectl {' '.join(args)}")
        for p in problems:
            print(f"     {p}")
    else:
        passed += 1
        print(f"ok   {name}")


def req(cmd, args=None):
    r = {"cmd": cmd}
    if args is not None:
        r["args"] = args
    return json.dumps(r, separators=(",", ":"))


def usage_err(name, args, err):
    """A usage error: exit 2, the exact message, and the agent never contacted."""
    check(name, args, 2, err=f"sluicectl: {err}\n")


def tmpfile(name, text):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def requests():
    v4 = {"vip": "web", "address": "198.18.1.2", "port": 8080}
    check("attach_default_mode_native", ["attach", "eth0"], 0,
          req("attach", {"iface": "eth0", "mode": "native"}), out="")
    check("attach_mode_generic", ["attach", "eth0", "--mode", "generic"], 0,
          req("attach", {"iface": "eth0", "mode": "generic"}), out="")
    check("attach_option_before_iface_with_equals", ["attach", "--mode=generic", "eth0"], 0,
          req("attach", {"iface": "eth0", "mode": "generic"}), out="")
    check("detach", ["detach", "eth0"], 0, req("detach", {"iface": "eth0"}), out="")
    check("vip_add_defaults_tcp_wrr_nat", ["vip", "add", "web", "198.19.0.10:80"], 0,
          req("vip.add", {"name": "web", "address": "198.19.0.10", "port": 80,
                          "protocol": "tcp", "strategy": "wrr", "forward": "nat"}), out="")
    check("vip_add_v6_udp_maglev_dsr",
          ["vip", "add", "dns6", "[2001:db8::53]:53/udp", "--strategy", "maglev",
           "--forward", "dsr"], 0,
          req("vip.add", {"name": "dns6", "address": "2001:db8::53", "port": 53,
                          "protocol": "udp", "strategy": "maglev", "forward": "dsr"}), out="")
    check("vip_add_tcp_suffix_rr_ipip",
          ["vip", "add", "web", "198.19.0.10:443/tcp", "--forward=ipip", "--strategy=rr"], 0,
          req("vip.add", {"name": "web", "address": "198.19.0.10", "port": 443,
                          "protocol": "tcp", "strategy": "rr", "forward": "ipip"}), out="")
    check("vip_add_l7_default_sends_true", ["vip", "add", "api", "198.19.0.10:80", "--l7",
                                             "default"], 0,
          req("vip.add", {"name": "api", "address": "198.19.0.10", "port": 80,
                          "protocol": "tcp", "strategy": "wrr", "forward": "nat", "l7": True}),
          out="")
    l7file = tmpfile("l7.json", '{"routes": [{"name": "api", "path": "/api/"}]}')
    check("vip_add_l7_file_sends_its_object", ["vip", "add", "api", "198.19.0.10:80", "--l7",
                                               l7file], 0,
          req("vip.add", {"name": "api", "address": "198.19.0.10", "port": 80,
                          "protocol": "tcp", "strategy": "wrr", "forward": "nat",
                          "l7": {"routes": [{"name": "api", "path": "/api/"}]}}), out="")
    check("vip_set_strategy_only", ["vip", "set", "web", "--strategy", "leastconn"], 0,
          req("vip.set", {"name": "web", "strategy": "leastconn"}), out="")
    check("vip_set_forward_only", ["vip", "set", "web", "--forward", "dsr"], 0,
          req("vip.set", {"name": "web", "forward": "dsr"}), out="")
    check("vip_set_both", ["vip", "set", "web", "--forward", "nat", "--strategy", "random"], 0,
          req("vip.set", {"name": "web", "strategy": "random", "forward": "nat"}), out="")
    check("vip_del", ["vip", "del", "web"], 0, req("vip.del", {"name": "web"}), out="")
    check("vip_list_no_args", ["vip", "list"], 0, req("vip.list"))
    check("backend_add_default_weight_1", ["backend", "add", "web", "198.18.1.2:8080"], 0,
          req("backend.add", dict(v4, weight=1)), out="")
    check("backend_add_no_port_is_0_weight_0",
          ["backend", "add", "web", "198.18.1.2", "--weight", "0"], 0,
          req("backend.add", {"vip": "web", "address": "198.18.1.2", "port": 0, "weight": 0}),
          out="")
    check("backend_add_v6_weight_max",
          ["backend", "add", "dns6", "[2001:db8::2]:5353", "--weight", "65535"], 0,
          req("backend.add", {"vip": "dns6", "address": "2001:db8::2", "port": 5353,
                              "weight": 65535}), out="")
    check("backend_add_bare_v6_normalized",
          ["backend", "add", "dns6", "2001:0db8:0:0::0002"], 0,
          req("backend.add", {"vip": "dns6", "address": "2001:db8::2", "port": 0,
                              "weight": 1}), out="")
    check("backend_set_weight", ["backend", "set", "web", "198.18.1.2:8080", "--weight", "5"], 0,
          req("backend.set", dict(v4, weight=5)), out="")
    check("backend_drain_timeout_max",
          ["backend", "drain", "web", "198.18.1.2:8080", "--timeout", "604800"], 0,
          req("backend.drain", dict(v4, timeout=604800)),
          out="draining 198.18.1.2:8080 in web: 3 active flows; removed when they end or in 604800 s\n")
    check("backend_drain_timeout",
          ["backend", "drain", "web", "198.18.1.2:8080", "--timeout", "60"], 0,
          req("backend.drain", dict(v4, timeout=60)),
          out="draining 198.18.1.2:8080 in web: 3 active flows; removed when they end or in 60 s\n")
    check("backend_drain_default_timeout_300", ["backend", "drain", "web", "198.18.1.2:8080"], 0,
          req("backend.drain", dict(v4, timeout=300)),
          out="draining 198.18.1.2:8080 in web: 3 active flows; removed when they end or in 300 s\n")
    check("backend_drain_one_flow",
          ["backend", "drain", "web", "[2001:db8::2]:80"], 0,
          req("backend.drain", {"vip": "web", "address": "2001:db8::2", "port": 80,
                                "timeout": 300}),
          out="draining [2001:db8::2]:80 in web: 1 active flow; removed when it ends or in 300 s\n",
          replies={"backend.drain": {"ok": True, "result": {"active": 1}}})
    check("backend_drain_no_flows", ["backend", "drain", "web", "198.18.1.2"], 0,
          req("backend.drain", {"vip": "web", "address": "198.18.1.2", "port": 0,
                                "timeout": 300}),
          out="draining 198.18.1.2 in web: no active flows; removed shortly\n",
          replies={"backend.drain": {"ok": True, "result": {"active": 0}}})
    check("backend_del", ["backend", "del", "web", "198.18.1.2:8080"], 0,
          req("backend.del", v4), out="")
    check("backend_list_all", ["backend", "list"], 0, req("backend.list"))
    check("backend_list_vip", ["backend", "list", "web"], 0, req("backend.list", {"vip": "web"}))
    check("limit_set_conn_sends_no_per",
          ["limit", "set", "web", "--conn-rate", "100", "--conn-burst", "200"], 0,
          req("limit.set", {"vip": "web", "conn_rate": 100, "conn_burst": 200}), out="")
    check("limit_set_pkt_per_prefix",
          ["limit", "set", "web", "--pkt-rate", "5000", "--pkt-burst", "10000", "--per",
           "prefix"], 0,
          req("limit.set", {"vip": "web", "pkt_rate": 5000, "pkt_burst": 10000,
                            "per": "prefix"}), out="")
    check("limit_set_both",
          ["limit", "set", "web", "--per=addr", "--pkt-rate", "2", "--pkt-burst", "3",
           "--conn-rate", "1", "--conn-burst", "1"], 0,
          req("limit.set", {"vip": "web", "conn_rate": 1, "conn_burst": 1, "pkt_rate": 2,
                            "pkt_burst": 3, "per": "addr"}), out="")
    check("limit_set_rate_0_burst_0_lifts_a_limit",
          ["limit", "set", "web", "--conn-rate", "0", "--conn-burst", "0"], 0,
          req("limit.set", {"vip": "web", "conn_rate": 0, "conn_burst": 0}), out="")
    check("limit_set_maxima",
          ["limit", "set", "web", "--conn-rate", "100000000", "--conn-burst", "100000000",
           "--pkt-rate", "1000000000", "--pkt-burst", "1000000000"], 0,
          req("limit.set", {"vip": "web", "conn_rate": 100000000, "conn_burst": 100000000,
                            "pkt_rate": 1000000000, "pkt_burst": 1000000000}), out="")
    check("limit_set_rate_alone_keeps_burst", ["limit", "set", "web", "--conn-rate", "50"], 0,
          req("limit.set", {"vip": "web", "conn_rate": 50}), out="")
    check("limit_set_burst_alone", ["limit", "set", "web", "--pkt-burst", "0"], 0,
          req("limit.set", {"vip": "web", "pkt_burst": 0}), out="")
    check("limit_set_per_only", ["limit", "set", "web", "--per", "prefix"], 0,
          req("limit.set", {"vip": "web", "per": "prefix"}), out="")
    check("limit_clear", ["limit", "clear", "web"], 0, req("limit.clear", {"vip": "web"}), out="")
    check("stats_all", ["stats"], 0, req("stats"))
    check("stats_vip", ["stats", "web"], 0, req("stats", {"vip": "web"}))
    check("show_config", ["show", "config"], 0, req("config.show"),
          out=json.dumps(fake_agent.CONFIG, indent=2) + "\n")

    conf = {"vips": [{"name": "web", "address": "198.19.0.10", "port": 80}],
            "weird": [1, 2.5, None, True, "é"]}
    path = tmpfile("good.json", json.dumps(conf, indent=4, ensure_ascii=False))
    check("apply_sends_file_as_config", ["apply", path], 0,
          json.dumps({"cmd": "apply", "args": {"config": conf}}, separators=(",", ":"),
                     ensure_ascii=False), out="applied 4 changes\n")
    fake_agent.OVERRIDES = {}


def json_output():
    check("json_change_prints_empty_object", ["--json", "vip", "del", "web"], 0,
          req("vip.del", {"name": "web"}), out="{}\n")
    check("json_after_command", ["vip", "list", "--json"], 0, req("vip.list"),
          out=json.dumps(fake_agent.VIPS, separators=(",", ":")) + "\n")
    check("json_backend_list", ["--json", "backend", "list"], 0, req("backend.list"),
          out=json.dumps(fake_agent.BACKENDS, separators=(",", ":")) + "\n")
    check("json_stats", ["--json", "stats"], 0, req("stats"),
          out=json.dumps(fake_agent.STATS, separators=(",", ":")) + "\n")
    check("json_drain", ["--json", "backend", "drain", "web", "198.18.1.2"], 0,
          req("backend.drain", {"vip": "web", "address": "198.18.1.2", "port": 0,
                                "timeout": 300}), out='{"active":3}\n')
    check("json_show_config_one_line", ["--json", "show", "config"], 0, req("config.show"),
          out=json.dumps(fake_agent.CONFIG, separators=(",", ":")) + "\n")
    path = tmpfile("one.json", "{}")
    check("json_apply", ["--json", "apply", path], 0, req("apply", {"config": {}}),
          out='{"changes":4}\n')
    check("apply_one_change_singular", ["apply", path], 0, req("apply", {"config": {}}),
          out="applied 1 change\n", replies={"apply": {"ok": True, "result": {"changes": 1}}})


def human_output():
    check("vip_list_table", ["vip", "list"], 0, req("vip.list"), out=(
        "NAME  ADDRESS            PROTO  STRATEGY   FORWARD  BACKENDS  LIMIT\n"
        "web   198.19.0.10:80     tcp    wrr        nat             3  conn 100/s burst 200, per addr\n"
        "dns6  [2001:db8::53]:53  udp    maglev     dsr            12  pkt 5000/s burst 10000, per prefix\n"
        "api   198.19.0.11:443    tcp    leastconn  ipip            0  -\n"))
    check("vip_list_empty_is_header_only", ["vip", "list"], 0, req("vip.list"),
          out="NAME  ADDRESS  PROTO  STRATEGY  FORWARD  BACKENDS  LIMIT\n",
          replies={"vip.list": {"ok": True, "result": []}})
    check("backend_list_table", ["backend", "list"], 0, req("backend.list"), out=(
        "VIP   BACKEND             WEIGHT  STATE           HEALTH     CIRCUIT    ACTIVE     NEW\n"
        "web   198.18.1.2:8080          3  active          up         closed         12      40\n"
        "web   198.18.1.3               1  draining(250s)  down       open            2       7\n"
        "web   198.18.1.4:8080          0  idle            unchecked  half-open       0       0\n"
        "dns6  [2001:db8::2]:5353   65535  active          unchecked  closed          1  123456\n"))
    old = [{k: v for k, v in b.items() if k not in ("health", "circuit")}
           for b in fake_agent.BACKENDS]
    check("backend_list_older_agent_without_health_prints_dash", ["backend", "list"], 0,
          req("backend.list"), out=(
              "VIP   BACKEND             WEIGHT  STATE           HEALTH  CIRCUIT  ACTIVE     NEW\n"
              "web   198.18.1.2:8080          3  active          -       -            12      40\n"
              "web   198.18.1.3               1  draining(250s)  -       -             2       7\n"
              "web   198.18.1.4:8080          0  idle            -       -             0       0\n"
              "dns6  [2001:db8::2]:5353   65535  active          -       -             1  123456\n"),
          replies={"backend.list": {"ok": True, "result": old}})
    check("stats_table", ["stats"], 0, req("stats"), out=(
        "VIP                   PACKETS   BYTES  NEW  ACTIVE  DROPS\n"
        "web                      1333  578130   47      14      5\n"
        "  198.18.1.2:8080        1234  567890   40      12\n"
        "  198.18.1.3               99   10240    7       2\n"
        "dns6                       10    1000   10       1      0\n"
        "  [2001:db8::2]:5353       10    1000   10       1\n"
        "drops: fragment 2, rl_conn 3\n"
        "counters: pass_not_vip 4711, tx 1300, ct_new 57, ct_closed 40, ct_expired 3, "
        "rl_new_bucket 9\n"))
    check("stats_all_zero", ["stats"], 0, req("stats"), out=(
        "VIP  PACKETS  BYTES  NEW  ACTIVE  DROPS\n"
        "drops: none\n"
        "counters: none\n"),
        replies={"stats": {"ok": True, "result": {"vips": [], "drops": {"fragment": 0},
                                                  "counters": {"tx": 0}}}})
    check("missing_fields_print_dash", ["backend", "list"], 0, req("backend.list"), out=(
        "VIP  BACKEND  WEIGHT  STATE  HEALTH  CIRCUIT  ACTIVE  NEW\n"
        "web  1.2.3.4       -  -      -       -             -    -\n"),
        replies={"backend.list": {"ok": True, "result": [{"vip": "web", "address": "1.2.3.4"}]}})
    check("result_not_a_list_is_exit_3", ["vip", "list"], 3, req("vip.list"),
          err="sluicectl: sluiced's answer to vip.list is not a list (is sluicectl older than "
              "sluiced?)\n",
          replies={"vip.list": {"ok": True, "result": {}}})
    check("stdout_full_is_an_error", ["vip", "list"], 1, req("vip.list"),
          err="sluicectl: cannot write to standard output: No space left on device\n",
          stdout=open("/dev/full", "w"))


def refusals():
    e1 = "vip web already exists (use 'vip set' to change it)"
    check("refused_exit_1", ["vip", "del", "web"], 1, req("vip.del", {"name": "web"}), out="",
          err=f"sluicectl: {e1}\n", replies={"vip.del": {"ok": False, "error": e1, "exit": 1}})
    e2 = "vip name 'we b' has a blank: use letters, digits, '-' and '_'"
    check("refused_exit_2", ["vip", "del", "we b"], 2, req("vip.del", {"name": "we b"}), out="",
          err=f"sluicectl: {e2}\n", replies={"vip.del": {"ok": False, "error": e2, "exit": 2}})
    check("refused_query_exit_1", ["backend", "list", "nope"], 1,
          req("backend.list", {"vip": "nope"}), out="",
          err="sluicectl: no vip 'nope' (see 'sluicectl vip list')\n",
          replies={"backend.list": {"ok": False, "error": "no vip 'nope' (see 'sluicectl vip "
                                                          "list')", "exit": 1}})
    check("refused_without_exit_is_1", ["vip", "del", "web"], 1, req("vip.del", {"name": "web"}),
          err="sluicectl: no\n", replies={"vip.del": {"ok": False, "error": "no"}})
    check("refused_with_odd_exit_is_1", ["vip", "del", "web"], 1,
          req("vip.del", {"name": "web"}), err="sluicectl: no\n",
          replies={"vip.del": {"ok": False, "error": "no", "exit": 7}})
    check("refused_multiline_error_printed_on_one_line", ["vip", "del", "web"], 1,
          req("vip.del", {"name": "web"}), err="sluicectl: first line second line\n",
          replies={"vip.del": {"ok": False, "error": "first line\nsecond line", "exit": 1}})
    check("refused_without_error_text", ["vip", "del", "web"], 1,
          req("vip.del", {"name": "web"}),
          err="sluicectl: sluiced refused the request without saying why (see its log)\n",
          replies={"vip.del": {"ok": False, "exit": 1}})
    check("apply_refused", ["apply", tmpfile("a.json", "{}")], 1, req("apply", {"config": {}}),
          out="", err="sluicectl: config: vip web: port 0 is not in 1..65535\n",
          replies={"apply": {"ok": False, "error": "config: vip web: port 0 is not in 1..65535",
                             "exit": 1}})


def unreachable():
    missing = os.path.join(TMP, "missing.sock")
    check("no_socket_exit_3", ["--socket", missing, "vip", "list"], 3, sock=False,
          err=f"sluicectl: sluiced is not running: {missing}: No such file or directory\n")
    dead = os.path.join(TMP, "dead.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(dead)
    s.close()
    check("dead_socket_exit_3", ["--socket", dead, "vip", "list"], 3, sock=False,
          err=f"sluicectl: sluiced is not running: {dead}: Connection refused\n")
    check("env_socket_used", ["vip", "list"], 3, sock=False, env={"SLUICE_SOCKET": missing},
          err=f"sluicectl: sluiced is not running: {missing}: No such file or directory\n")
    check("env_socket_reaches_agent", ["vip", "del", "web"], 0, req("vip.del", {"name": "web"}),
          sock=False, env={"SLUICE_SOCKET": SOCK})
    check("socket_option_beats_env", ["--socket=" + SOCK, "vip", "del", "web"], 0,
          req("vip.del", {"name": "web"}), sock=False, env={"SLUICE_SOCKET": missing})
    check("socket_option_after_command", ["vip", "del", "web", "--socket", SOCK], 0,
          req("vip.del", {"name": "web"}), sock=False, env={"SLUICE_SOCKET": missing})
    if not os.path.exists("/run/sluice/sluiced.sock"):
        check("default_socket", ["vip", "list"], 3, sock=False,
              err="sluicectl: sluiced is not running: /run/sluice/sluiced.sock: "
                  "No such file or directory\n")
    check("closed_without_answer_exit_3", ["vip", "list"], 3, req("vip.list"), out="",
          err=f"sluicectl: sluiced closed the connection without answering: {SOCK} "
              "(see its log)\n", replies={"vip.list": "@close"})
    check("garbage_reply_exit_3", ["vip", "list"], 3, req("vip.list"), out="",
          err=re.compile(r"^sluicectl: sluiced answered something that is not JSON \(.*\): "
                         + re.escape(SOCK) + r" \(see its log\)\n$"),
          replies={"vip.list": "@garbage"})
    check("reply_without_ok_exit_3", ["vip", "list"], 3, req("vip.list"), out="",
          err=f"sluicectl: sluiced answered a JSON object without \"ok\": true or false: {SOCK} "
              "(see its log)\n", replies={"vip.list": "@noteok"})
    check("reply_without_newline_accepted", ["--json", "vip", "list"], 0, req("vip.list"),
          out=json.dumps(fake_agent.VIPS, separators=(",", ":")) + "\n",
          replies={"vip.list": "@nonewline"})
    check("reply_in_small_pieces", ["--json", "stats"], 0, req("stats"),
          out=json.dumps(fake_agent.STATS, separators=(",", ":")) + "\n",
          replies={"stats": "@chunked"})
    check("big_reply_grows_the_buffer", ["vip", "list"], 0, req("vip.list"),
          out=re.compile(r"\A(NAME .*\n)(v\d+ .*\n){20000}\Z"), replies={"vip.list": "@big"})
    t = time.monotonic()
    check("silent_agent_times_out_exit_3", ["vip", "list"], 3, req("vip.list"), out="",
          err=f"sluicectl: sluiced did not answer within 10 s: {SOCK} (is it stuck? "
              "see its log)\n", replies={"vip.list": "@silent"})
    if not FILTER or FILTER in "silent_agent_times_out_exit_3":
        print(f"     (timed out after {time.monotonic() - t:.1f} s)")

U_HSET = ("usage: sluicectl health set VIP [ADDR[:PORT]] [--type tcp|http] [--path P] "
          "[--host H] [--expect STATUS] [--interval DUR] [--timeout DUR] [--rise N] [--fall N]")
U_EVENTS = "usage: sluicectl events [--from OFFSET] [--type T[,T...]] [--follow]"
FOLLOWING = {"ok": True, "result": {"following": True, "from": 41}}
CLOSED = "sluicectl: the agent closed the event stream\n"


def jline(o):
    return json.dumps(o, separators=(",", ":")) + "\n"


def health_requests():
    web = {"vip": "web"}
    be = {"vip": "web", "address": "198.18.1.2", "port": 8080}
    check("health_set_vip_every_option",
          ["health", "set", "web", "--type", "http", "--path", "/healthz", "--host",
           "api.example.com", "--expect", "204", "--interval", "1s", "--timeout", "500ms",
           "--rise", "2", "--fall", "3"], 0,
          req("health.set", dict(web, type="http", path="/healthz", host="api.example.com",
                                 expect_status=204, interval_ms=1000, timeout_ms=500, rise=2,
                                 fall=3)), out="")
    check("health_set_no_option_sends_vip_only", ["health", "set", "web"], 0,
          req("health.set", web), out="")
    check("health_set_backend_override", ["health", "set", "web", "198.18.1.2:8080", "--fall",
                                          "5"], 0,
          req("health.set", dict(be, fall=5)), out="")
    check("health_set_backend_without_port_is_0",
          ["health", "set", "web", "198.18.1.2", "--type=tcp", "--rise=1"], 0,
          req("health.set", {"vip": "web", "address": "198.18.1.2", "port": 0, "type": "tcp",
                             "rise": 1}), out="")
    check("health_set_backend_v6", ["health", "set", "web", "[2001:db8::2]:80", "--path", "/"],
          0, req("health.set", {"vip": "web", "address": "2001:db8::2", "port": 80,
                                "path": "/"}), out="")
    check("health_set_http_options_without_type",
          ["health", "set", "web", "--host", "h", "--expect", "599", "--path", "/a?b=c"], 0,
          req("health.set", dict(web, path="/a?b=c", host="h", expect_status=599)), out="")
    check("health_set_bounds", ["health", "set", "web", "--interval", "1h", "--timeout",
                                "3599999", "--rise", "100", "--fall", "1", "--expect", "100"],
          0, req("health.set", dict(web, expect_status=100, interval_ms=3600000,
                                    timeout_ms=3599999, rise=100, fall=1)), out="")
    for text, ms in (("500ms", 500), ("1s", 1000), ("1.5s", 1500), ("2m", 120000),
                     ("750", 750), ("100", 100), ("0.1s", 100), ("1.25m", 75000),
                     ("0.5h", 1800000), ("2.5ms", None), ("007s", 7000)):
        if ms is None:
            continue
        check(f"duration_interval_{text}", ["health", "set", "web", "--interval", text], 0,
              req("health.set", dict(web, interval_ms=ms)), out="")
    for text, ms in (("10ms", 10), ("10", 10), ("1.5s", 1500), ("1h", 3600000)):
        check(f"duration_timeout_alone_{text}", ["health", "set", "web", "--timeout", text], 0,
              req("health.set", dict(web, timeout_ms=ms)), out="")
    check("health_set_json_prints_result", ["--json", "health", "set", "web", "--rise", "2"], 0,
          req("health.set", dict(web, rise=2)), out="{}\n")
    check("health_clear_vip", ["health", "clear", "web"], 0, req("health.clear", web), out="")
    check("health_clear_backend", ["health", "clear", "web", "198.18.1.2:8080"], 0,
          req("health.clear", be), out="")
    check("health_clear_backend_no_port", ["health", "clear", "web", "198.18.1.2"], 0,
          req("health.clear", {"vip": "web", "address": "198.18.1.2", "port": 0}), out="")
    check("health_show_all_sends_empty_args", ["health", "show"], 0, req("health.show", {}))
    check("health_show_vip", ["health", "show", "web"], 0, req("health.show", web))
    check("circuit_reset", ["circuit", "reset", "web", "198.18.1.2:8080"], 0,
          req("circuit.reset", be), out="")
    check("circuit_reset_v6_no_port", ["circuit", "reset", "web", "2001:db8::2"], 0,
          req("circuit.reset", {"vip": "web", "address": "2001:db8::2", "port": 0}), out="")
    check("circuit_reset_json", ["circuit", "reset", "web", "198.18.1.2:8080", "--json"], 0,
          req("circuit.reset", be), out="{}\n")
    check("circuit_reset_refused", ["circuit", "reset", "web", "198.18.1.9"], 1,
          req("circuit.reset", {"vip": "web", "address": "198.18.1.9", "port": 0}),
          err="sluicectl: vip web: no backend 198.18.1.9\n",
          replies={"circuit.reset": {"ok": False, "error": "vip web: no backend 198.18.1.9",
                                     "exit": 1}})
    check("events_no_args", ["events"], 0, req("events", {}))
    check("events_from_and_types", ["events", "--from", "5", "--type", "health,circuit.open"], 0,
          req("events", {"from": 5, "type": "health,circuit.open"}))
    check("events_from_0", ["events", "--from=0"], 0, req("events", {"from": 0}))
    check("events_type_chars", ["events", "--type", "rate_limit,config-x"], 0,
          req("events", {"type": "rate_limit,config-x"}))
    check("events_follow_request", ["events", "--follow"], 3,
          req("events", {"follow": True}), err=CLOSED)
    check("events_follow_from_type_request",
          ["events", "--type", "health", "--follow", "--from", "43"], 3,
          req("events", {"from": 43, "type": "health", "follow": True}), err=CLOSED)


def health_output():
    check("health_show_table", ["health", "show"], 0, req("health.show", {}), out=(
        "VIP   BACKEND             TYPE  STATE      SINCE                      CHECKS  LATENCY  LAST-ERROR\n"
        "web   198.18.1.2:8080     http  up         2026-12-05T00:01:02Z         1200   0.42ms  -\n"
        "web   198.18.1.3:80       http  down       2026-12-05T00:03:04Z           57   1500ms  status 503, expected 200\n"
        "dns6  [2001:db8::2]:5353  tcp   unchecked  -                               0        -  -\n"
        "api   198.18.2.2:443      tcp   up         2026-12-05T00:00:00+01:00       3   12.0ms  connect: Connection refused retrying\n"))
    check("health_show_vip_table", ["health", "show", "dns6"], 0, req("health.show",
                                                                      {"vip": "dns6"}), out=(
        "VIP   BACKEND             TYPE  STATE      SINCE  CHECKS  LATENCY  LAST-ERROR\n"
        "dns6  [2001:db8::2]:5353  tcp   unchecked  -           0        -  -\n"))
    check("health_show_empty_is_header_only", ["health", "show"], 0, req("health.show", {}),
          out="VIP  BACKEND  TYPE  STATE  SINCE  CHECKS  LATENCY  LAST-ERROR\n",
          replies={"health.show": {"ok": True, "result": []}})
    check("health_show_missing_fields_dash", ["health", "show"], 0, req("health.show", {}),
          out=("VIP  BACKEND  TYPE  STATE  SINCE  CHECKS  LATENCY  LAST-ERROR\n"
               "web  -        -     -      -           -        -  -\n"),
          replies={"health.show": {"ok": True, "result": [{"vip": "web"}]}})
    check("health_show_json", ["--json", "health", "show"], 0, req("health.show", {}),
          out=jline(fake_agent.HEALTH))
    check("health_show_not_a_list_exit_3", ["health", "show"], 3, req("health.show", {}),
          out="", err="sluicectl: sluiced's answer to health.show is not a list (is sluicectl "
                      "older than sluiced?)\n",
          replies={"health.show": {"ok": True, "result": {}}})
    check("health_show_refused", ["health", "show", "nope"], 1, req("health.show",
                                                                    {"vip": "nope"}),
          err="sluicectl: no vip 'nope'\n",
          replies={"health.show": {"ok": False, "error": "no vip 'nope'", "exit": 1}})


EVENT_LINES = [
    "41  2026-12-05T00:01:02.123456789Z  agent.start  -  -  version=0.6.0 pid=4242\n",
    "42  2026-12-05T00:01:03.000000001Z  health.down  web  198.18.11.2:8080  failures=3 "
    "last_error=\"connect: Connection refused\" latency_ms=1.5 check.type=http "
    "check.path=/healthz ok=false prev=null\n",
    "43  2026-12-05T00:01:04.5Z  circuit.open  api  [2001:db8::2]:443\n",
    "44  2026-12-05T00:01:05Z  ratelimit.drop  web  -  client=198.18.0.9 drops=12000 "
    "reasons=[\"rl_conn\",\"rl_pkt\"] note=\"x=\\\"y\\\"\"\n",
]


def events_output():
    evs = fake_agent.EVENTS
    check("events_human_one_line_each", ["events"], 0, req("events", {}),
          out="".join(EVENT_LINES))
    check("events_json_one_envelope_a_line", ["events", "--json"], 0, req("events", {}),
          out="".join(jline(e) for e in evs))
    check("events_none", ["events", "--from", "45"], 0, req("events", {"from": 45}), out="",
          replies={"events": {"ok": True, "result": {"events": [], "earliest": 1,
                                                      "next": 45}}})
    odd = {"offset": 7, "ts": "t", "type": "x", "vip": "a b", "backend": 5,
           "data": {"k y": "v\nw", "": "", "n": {"m": {"o": 1}}, "e": {}}}
    check("events_odd_values_stay_on_one_line", ["events"], 0, req("events", {}),
          out='7  t  x  "a b"  -  "k y"="v\\nw" ""="" n.m.o=1 e={}\n',
          replies={"events": {"ok": True, "result": {"events": [odd]}}})
    check("events_missing_list_exit_3", ["events"], 3, req("events", {}), out="",
          err="sluicectl: sluiced's answer to events has no \"events\" list (is sluicectl "
              "older than sluiced?)\n",
          replies={"events": {"ok": True, "result": [1]}})
    check("events_item_not_object_exit_3", ["events"], 3, req("events", {}),
          out=EVENT_LINES[0],
          err="sluicectl: sluiced's answer to events has an item that is not an object (is "
              "sluicectl older than sluiced?)\n",
          replies={"events": {"ok": True, "result": {"events": [evs[0], 3]}}})
    gone = "offset 5 is no longer kept; the earliest is 1200 (use --from 1200)"
    check("events_from_too_old_refused", ["events", "--from", "5"], 1, req("events", {"from": 5}),
          out="", err=f"sluicectl: {gone}\n",
          replies={"events": {"ok": False, "error": gone, "exit": 1}})

    fol = req("events", {"follow": True})
    check("follow_human_then_agent_closes_exit_3", ["events", "--follow"], 3, fol,
          out="".join(EVENT_LINES), err=CLOSED)
    check("follow_json_then_agent_closes_exit_3", ["events", "--follow", "--json"], 3, fol,
          out="".join(jline(e) for e in evs), err=CLOSED)
    check("follow_lines_in_separate_writes", ["events", "--follow"], 3, fol,
          out="".join(EVENT_LINES[:3]), err=CLOSED,
          replies={"events": [FOLLOWING, "@flush", evs[0], "@flush", evs[1], "@flush", evs[2]]})
    check("follow_no_events_then_close", ["events", "--follow", "--json"], 3, fol, out="",
          err=CLOSED, replies={"events": [FOLLOWING]})
    slow = "too slow: cut off at offset 43; reconnect with --from 43"
    check("follow_cut_off_as_too_slow_exit_1", ["events", "--follow"], 1, fol,
          out="".join(EVENT_LINES[:2]), err=f"sluicectl: {slow}\n",
          replies={"events": [FOLLOWING, evs[0], evs[1], {"error": slow, "offset": 43}, evs[2]]})
    check("follow_error_reply_exit_1", ["events", "--follow", "--from", "5"], 1,
          req("events", {"from": 5, "follow": True}), out="", err=f"sluicectl: {gone}\n",
          replies={"events": {"ok": False, "error": gone, "exit": 1}})
    check("follow_usage_error_reply_exit_2", ["events", "--follow", "--type", "nope"], 2,
          req("events", {"type": "nope", "follow": True}), out="",
          err="sluicectl: unknown event type 'nope'\n",
          replies={"events": {"ok": False, "error": "unknown event type 'nope'", "exit": 2}})
    check("follow_first_reply_not_following_exit_3", ["events", "--follow"], 3, fol, out="",
          err="sluicectl: sluiced's answer to events --follow does not say \"following\": true "
              "(is sluicectl newer than sluiced?)\n",
          replies={"events": [{"ok": True, "result": {"events": []}}, evs[0]]})
    check("follow_garbage_line_exit_3", ["events", "--follow"], 3, fol, out=EVENT_LINES[0],
          err=re.compile(r"^sluicectl: sluiced sent a stream line that is not JSON \(.*\): "
                         + re.escape(SOCK) + r" \(see its log\)\n$"),
          replies={"events": [FOLLOWING, evs[0], "not json", evs[1]]})
    check("follow_array_line_exit_3", ["events", "--follow"], 3, fol, out="",
          err=f"sluicectl: sluiced sent a stream line that is not a JSON object: {SOCK} "
              "(see its log)\n", replies={"events": [FOLLOWING, "[1]"]})
    check("follow_closed_without_answer_exit_3", ["events", "--follow"], 3, fol, out="",
          err=f"sluicectl: sluiced closed the connection without answering: {SOCK} "
              "(see its log)\n", replies={"events": "@close"})
    # The 10 s reply timeout covers the first line only: a quiet stream is waited for.
    check("follow_waits_longer_than_the_reply_timeout", ["events", "--follow"], 3, fol,
          out="".join(EVENT_LINES[:2]), err=CLOSED,
          replies={"events": [FOLLOWING, evs[0], "@sleep 11", evs[1]]})
    for sig in (signal.SIGINT, signal.SIGTERM):
        follow_signal(f"follow_{sig.name}_after_events_exit_0", sig,
                      [FOLLOWING, evs[0], evs[1], "@hold"], EVENT_LINES[:2])
    follow_signal("follow_SIGINT_before_first_reply_exit_0", signal.SIGINT, "@silent", [])


def follow_signal(name, sig, reply, lines):
    """events --follow against a stream that stays open: @lines arrive (so stdout
    is flushed per event), then @sig ends sluicectl with exit 0 and no message."""
    global passed, failed
    if FILTER and FILTER not in name:
        return
    fake_agent.OVERRIDES = {"events": reply}
    start = len(fake_agent.REQUESTS)
    p = subprocess.Popen([BIN, "--socket", SOCK, "events", "--follow"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    problems, buf = [], b""
    try:
        # Each event must arrive while sluicectl runs: read with a deadline, not readline().
        deadline = time.monotonic() + 10
        while buf.count(b"\n") < len(lines) and time.monotonic() < deadline:
            if select.select([p.stdout], [], [], 0.1)[0]:
                chunk = os.read(p.stdout.fileno(), 65536)
                if not chunk:
                    break
                buf += chunk
        got = buf.decode().splitlines(keepends=True)
        deadline = time.monotonic() + 10
        while len(fake_agent.REQUESTS) == start and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)  # let it reach its wait for the reply or the next line
        p.send_signal(sig)
        rc = p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
        problems.append("did not exit within 10 s of the signal")
    rest, err = p.stdout.read().decode(), p.stderr.read().decode()
    p.stdout.close()
    p.stderr.close()
    if got != lines:
        problems.append(f"stdout {got!r} before the signal, expected {lines!r}")
    if rc != 0 or rest or err:
        problems.append(f"exit {rc}, then stdout {rest!r}, stderr {err!r}; expected 0, '', ''")
    reqs = fake_agent.REQUESTS[start:]
    if reqs != [req("events", {"follow": True})]:
        problems.append(f"requests {reqs}")
    if problems:
        failed += 1
        print(f"FAIL {name}")
        for m in problems:
            print(f"     {m}")
    else:
        passed += 1
        print(f"ok   {name}")


def health_usage_errors():
    usage_err("health_without_command", ["health"],
              "health: missing command: use health set, clear or show")
    usage_err("health_unknown_command", ["health", "check"],
              "unknown health command 'check': use health set, clear or show")
    usage_err("circuit_without_command", ["circuit"], "circuit: missing command: use circuit reset")
    usage_err("circuit_unknown_command", ["circuit", "open"],
              "unknown circuit command 'open': use circuit reset")
    usage_err("health_set_missing_vip", ["health", "set"], f"missing VIP ({U_HSET})")
    usage_err("health_set_extra_argument", ["health", "set", "web", "198.18.1.2", "x"],
              f"unexpected argument 'x' ({U_HSET})")
    usage_err("health_set_foreign_option", ["health", "set", "web", "--weight", "1"],
              f"unknown option '--weight' ({U_HSET})")
    usage_err("health_set_bad_backend", ["health", "set", "web", "backend1:80"],
              "backend address: 'backend1' is not an IPv4 or IPv6 address")
    usage_err("health_set_bad_type", ["health", "set", "web", "--type", "udp"],
              "type 'udp' is not one of tcp|http")
    usage_err("health_set_type_is_lower_case", ["health", "set", "web", "--type", "HTTP"],
              "type 'HTTP' is not one of tcp|http")
    for opt, val in (("path", "/healthz"), ("host", "h"), ("expect", "200")):
        usage_err(f"health_set_tcp_with_{opt}",
                  ["health", "set", "web", "--type", "tcp", f"--{opt}", val],
                  f"--{opt} is for http checks, not --type tcp: drop it or use --type http")
    usage_err("health_set_path_without_slash", ["health", "set", "web", "--path", "healthz"],
              "path 'healthz' does not start with '/': write e.g. /healthz")
    usage_err("health_set_path_empty", ["health", "set", "web", "--path="],
              "path '' does not start with '/': write e.g. /healthz")
    usage_err("health_set_path_blank", ["health", "set", "web", "--path", "/a b"],
              "path '/a b' has a blank or control character: percent-encode it (a blank is %20)")
    usage_err("health_set_path_newline", ["health", "set", "web", "--path", "/a\rb"],
              "path '/a b' has a blank or control character: percent-encode it (a blank is %20)")
    usage_err("health_set_host_empty", ["health", "set", "web", "--host", ""],
              "host is empty: give the Host header to send, e.g. api.example.com")
    usage_err("health_set_host_blank", ["health", "set", "web", "--host", "a b"],
              "host 'a b' has a blank or control character: give a host name like "
              "api.example.com")
    usage_err("health_set_expect_99", ["health", "set", "web", "--expect", "99"],
              "expect 99 is not in 100..599")
    usage_err("health_set_expect_600", ["health", "set", "web", "--expect", "600"],
              "expect 600 is not in 100..599")
    usage_err("health_set_expect_word", ["health", "set", "web", "--expect", "ok"],
              "expect 'ok' is not a number: write one in 100..599")
    usage_err("health_set_rise_0", ["health", "set", "web", "--rise", "0"],
              "rise 0 is not in 1..100")
    usage_err("health_set_fall_101", ["health", "set", "web", "--fall", "101"],
              "fall 101 is not in 1..100")
    usage_err("health_set_fall_word", ["health", "set", "web", "--fall", "3x"],
              "fall '3x' is not a number: write one in 1..100")
    dur = "is not a duration: write e.g. 500ms, 1s, 1.5s, 2m or a number of milliseconds"
    for text in ("2x", "s", "1.", ".5s", "-1s", "1 s", "1sec", "1S", "1h1m", "", "1.0000000001s"):
        usage_err(f"duration_not_a_duration_{text!r}", ["health", "set", "web", "--interval",
                                                         text], f"interval '{text}' {dur}")
    usage_err("duration_timeout_not_a_duration", ["health", "set", "web", "--timeout", "5 m"],
              f"timeout '5 m' {dur}")
    for text in ("1.5", "2.5ms", "1.0005s"):
        usage_err(f"duration_fraction_of_ms_{text}", ["health", "set", "web", "--interval", text],
                  f"interval '{text}' is not a whole number of milliseconds")
    for text in ("9ms", "9", "0", "0.009s", "61m", "3600001", "1.0001h",
                 "99999999999999999999h"):
        usage_err(f"duration_interval_out_of_range_{text}",
                  ["health", "set", "web", "--interval", text],
                  f"interval {text} is not in 10ms..1h")
    for text in ("0ms", "0s", "2h"):
        usage_err(f"duration_timeout_out_of_range_{text}",
                  ["health", "set", "web", "--timeout", text],
                  f"timeout {text} is not in 1ms..1h")
    usage_err("health_set_timeout_equal_interval",
              ["health", "set", "web", "--interval", "1s", "--timeout", "1000"],
              "timeout 1000 is not shorter than interval 1s: a check must end before the next "
              "one starts")
    usage_err("health_set_timeout_over_interval",
              ["health", "set", "web", "--timeout", "2s", "--interval", "500ms"],
              "timeout 2s is not shorter than interval 500ms: a check must end before the next "
              "one starts")
    usage_err("health_set_interval_twice",
              ["health", "set", "web", "--interval", "1s", "--interval=2s"],
              "--interval is given twice: give it once")
    usage_err("health_clear_missing_vip", ["health", "clear"],
              "missing VIP (usage: sluicectl health clear VIP [ADDR[:PORT]])")
    usage_err("health_clear_option", ["health", "clear", "web", "--type", "tcp"],
              "unknown option '--type' (usage: sluicectl health clear VIP [ADDR[:PORT]])")
    usage_err("health_show_extra", ["health", "show", "a", "b"],
              "unexpected argument 'b' (usage: sluicectl health show [VIP])")
    usage_err("circuit_reset_missing_backend", ["circuit", "reset", "web"],
              "missing ADDR[:PORT] (usage: sluicectl circuit reset VIP ADDR[:PORT])")
    usage_err("circuit_reset_bad_port", ["circuit", "reset", "web", "198.18.1.2:0x50"],
              "backend address: port '0x50' is not in 1..65535")
    usage_err("events_positional", ["events", "web"], f"unexpected argument 'web' ({U_EVENTS})")
    usage_err("events_follow_with_value", ["events", "--follow=yes"],
              f"--follow takes no value ({U_EVENTS})")
    usage_err("events_follow_twice", ["events", "--follow", "--follow"],
              "--follow is given twice: give it once")
    usage_err("events_foreign_option", ["events", "--interval", "1s"],
              f"unknown option '--interval' ({U_EVENTS})")
    usage_err("events_type_without_value", ["events", "--type"],
              f"--type needs a value ({U_EVENTS})")
    usage_err("events_from_without_value", ["events", "--follow", "--from"],
              f"--from needs a value ({U_EVENTS})")
    for text in ("x", "-1", "1e3", ""):
        usage_err(f"events_from_not_a_number_{text!r}", ["events", "--from", text],
                  f"from '{text}' is not a number: write one in 0..9223372036854775807")
    usage_err("events_from_too_big", ["events", "--from", "9223372036854775808"],
              "from 9223372036854775808 is not in 0..9223372036854775807")
    for text in ("", "Health", "health circuit", "health,,circuit", ",health", "health,",
                 "health;x", "ratelimit.drop2"):
        usage_err(f"events_bad_type_{text!r}", ["events", "--type", text],
                  f"type '{text}' is not a list of event types: write e.g. health or "
                  "circuit,config (a-z, '.', '_', '-', separated by commas)")


def usage_errors():
    U_VIPADD = ("usage: sluicectl vip add NAME ADDR:PORT[/tcp|/udp] "
                "[--strategy rr|wrr|random|leastconn|maglev] [--forward nat|dsr|ipip] "
                "[--l7 default|FILE]")
    usage_err("no_command", [], "no command given (see 'sluicectl --help')")
    usage_err("unknown_command", ["frob"], "unknown command 'frob' (see 'sluicectl --help')")
    usage_err("unknown_global_option", ["--frob", "vip", "list"],
              "unknown option '--frob' (see 'sluicectl --help')")
    usage_err("group_without_command", ["vip"], "vip: missing command: use vip add, set, del or list")
    usage_err("unknown_vip_command", ["vip", "frob"],
              "unknown vip command 'frob': use vip add, set, del or list")
    usage_err("unknown_backend_command", ["backend", "frob"],
              "unknown backend command 'frob': use backend add, set, drain, del or list")
    usage_err("show_without_config", ["show"], "show: missing command: use show config")
    usage_err("show_unknown", ["show", "vips"], "unknown show command 'vips': use show config")
    usage_err("vip_add_missing_address", ["vip", "add", "web"], f"missing ADDR:PORT ({U_VIPADD})")
    usage_err("vip_add_missing_name", ["vip", "add"], f"missing NAME ({U_VIPADD})")
    bad = tmpfile("bad-l7.json", '{"routes": [')
    usage_err("vip_add_l7_file_not_json", ["vip", "add", "api", "198.19.0.10:80", "--l7", bad],
              f"--l7 {bad}: ']' expected near end of file (line 1): give a JSON file "
              "holding the \"l7\" object, or 'default'")
    usage_err("vip_add_extra_argument", ["vip", "add", "web", "198.19.0.10:80", "x"],
              f"unexpected argument 'x' ({U_VIPADD})")
    usage_err("vip_add_foreign_option", ["vip", "add", "web", "198.19.0.10:80", "--weight", "3"],
              f"unknown option '--weight' ({U_VIPADD})")
    usage_err("vip_add_short_option", ["vip", "add", "web", "198.19.0.10:80", "-s", "rr"],
              f"unknown option '-s' ({U_VIPADD})")
    usage_err("vip_add_no_port", ["vip", "add", "web", "198.19.0.10"],
              "VIP address: '198.19.0.10' has no port: write ADDR:PORT (IPv6: [ADDR]:PORT)")
    usage_err("vip_add_v6_without_brackets", ["vip", "add", "web", "2001:db8::1"],
              "VIP address: '2001:db8::1' has no port: write ADDR:PORT (IPv6: [ADDR]:PORT)")
    usage_err("vip_add_port_0", ["vip", "add", "web", "198.19.0.10:0"],
              "VIP address: port '0' is not in 1..65535")
    usage_err("vip_add_port_70000", ["vip", "add", "web", "198.19.0.10:70000/udp"],
              "VIP address: port '70000' is not in 1..65535")
    usage_err("vip_add_bad_address", ["vip", "add", "web", "198.19.0:80"],
              "VIP address: '198.19.0' is not an IPv4 or IPv6 address")
    usage_err("vip_add_brackets_on_v4", ["vip", "add", "web", "[198.19.0.10]:80"],
              "VIP address: '[198.19.0.10]:80': brackets are for IPv6 addresses only")
    usage_err("vip_add_bad_protocol", ["vip", "add", "web", "198.19.0.10:80/sctp"],
              "protocol 'sctp' in '198.19.0.10:80/sctp' is not one of tcp|udp")
    usage_err("vip_add_empty_protocol", ["vip", "add", "web", "198.19.0.10:80/"],
              "protocol '' in '198.19.0.10:80/' is not one of tcp|udp")
    usage_err("vip_add_bad_strategy",
              ["vip", "add", "web", "198.19.0.10:80", "--strategy", "fast"],
              "strategy 'fast' is not one of rr|wrr|random|leastconn|maglev")
    usage_err("vip_add_bad_forward", ["vip", "add", "web", "198.19.0.10:80", "--forward", "gre"],
              "forward 'gre' is not one of nat|dsr|ipip")
    usage_err("vip_set_nothing", ["vip", "set", "web"],
              "vip set web: nothing to change: give --strategy and/or --forward")
    usage_err("vip_set_option_without_value", ["vip", "set", "web", "--strategy"],
              "--strategy needs a value (usage: sluicectl vip set NAME [--strategy S] "
              "[--forward F])")
    usage_err("vip_set_bad_strategy", ["vip", "set", "web", "--strategy", "RR"],
              "strategy 'RR' is not one of rr|wrr|random|leastconn|maglev")
    usage_err("vip_del_missing_name", ["vip", "del"], "missing NAME (usage: sluicectl vip del NAME)")
    usage_err("vip_list_extra", ["vip", "list", "web"],
              "unexpected argument 'web' (usage: sluicectl vip list)")
    usage_err("weight_too_big", ["backend", "add", "web", "198.18.1.2", "--weight", "70000"],
              "weight 70000 is not in 0..65535")
    usage_err("weight_huge", ["backend", "add", "web", "198.18.1.2", "--weight",
                              "99999999999999999999999"],
              "weight 99999999999999999999999 is not in 0..65535")
    usage_err("weight_not_a_number", ["backend", "add", "web", "198.18.1.2", "--weight", "3x"],
              "weight '3x' is not a number: write one in 0..65535")
    usage_err("weight_negative", ["backend", "add", "web", "198.18.1.2", "--weight", "-1"],
              "weight '-1' is not a number: write one in 0..65535")
    usage_err("weight_blank", ["backend", "add", "web", "198.18.1.2", "--weight", " 1"],
              "weight ' 1' is not a number: write one in 0..65535")
    usage_err("weight_twice", ["backend", "add", "web", "198.18.1.2", "--weight", "1",
                               "--weight=2"], "--weight is given twice: give it once")
    usage_err("backend_set_needs_weight", ["backend", "set", "web", "198.18.1.2"],
              "backend set: --weight is required (usage: sluicectl backend set VIP ADDR[:PORT] "
              "--weight N)")
    usage_err("backend_missing_address", ["backend", "del", "web"],
              "missing ADDR[:PORT] (usage: sluicectl backend del VIP ADDR[:PORT])")
    usage_err("backend_bad_port", ["backend", "del", "web", "198.18.1.2:http"],
              "backend address: port 'http' is not in 1..65535")
    usage_err("backend_unclosed_bracket", ["backend", "del", "web", "[2001:db8::2:80"],
              "backend address: '[2001:db8::2:80' is not an address: write IPv6 as "
              "[2001:db8::2]:8080")
    usage_err("backend_hostname", ["backend", "add", "web", "backend1:80"],
              "backend address: 'backend1' is not an IPv4 or IPv6 address")
    usage_err("drain_timeout_not_a_number",
              ["backend", "drain", "web", "198.18.1.2", "--timeout", "5m"],
              "timeout '5m' is not a number: write one in 0..604800")
    usage_err("drain_timeout_too_big",
              ["backend", "drain", "web", "198.18.1.2", "--timeout", "604801"],
              "timeout 604801 is not in 0..604800")
    usage_err("backend_list_extra", ["backend", "list", "a", "b"],
              "unexpected argument 'b' (usage: sluicectl backend list [VIP])")
    usage_err("limit_set_nothing", ["limit", "set", "web"],
              "limit set web: nothing to set: give --conn-rate N --conn-burst N, --pkt-rate N "
              "--pkt-burst N and/or --per addr|prefix ('limit clear' removes the limits)")
    usage_err("limit_burst_0", ["limit", "set", "web", "--conn-rate", "10", "--conn-burst", "0"],
              "conn-burst 0 cannot admit anything at conn-rate 10: give a burst of at least 1")
    usage_err("limit_pkt_rate_too_big",
              ["limit", "set", "web", "--pkt-rate", "1000000001", "--pkt-burst", "1"],
              "pkt-rate 1000000001 is not in 0..1000000000")
    usage_err("limit_conn_rate_too_big", ["limit", "set", "web", "--conn-rate", "100000001"],
              "conn-rate 100000001 is not in 0..100000000")
    usage_err("limit_conn_burst_too_big", ["limit", "set", "web", "--conn-burst", "200000000"],
              "conn-burst 200000000 is not in 0..100000000")
    usage_err("limit_rate_not_a_number",
              ["limit", "set", "web", "--pkt-rate", "1e3", "--pkt-burst", "1"],
              "pkt-rate '1e3' is not a number: write one in 0..1000000000")
    usage_err("limit_conn_rate_twice",
              ["limit", "set", "web", "--conn-rate", "1", "--conn-rate", "2"],
              "--conn-rate is given twice: give it once")
    usage_err("limit_bad_per",
              ["limit", "set", "web", "--conn-rate", "1", "--conn-burst", "1", "--per", "host"],
              "per 'host' is not one of addr|prefix")
    usage_err("limit_clear_missing_vip", ["limit", "clear"],
              "missing VIP (usage: sluicectl limit clear VIP)")
    usage_err("attach_missing_iface", ["attach"],
              "missing IFACE (usage: sluicectl attach IFACE [--mode native|generic])")
    usage_err("attach_bad_mode", ["attach", "eth0", "--mode", "offload"],
              "mode 'offload' is not one of native|generic")
    usage_err("attach_mode_prefix_is_not_a_mode", ["attach", "eth0", "--mode", "nat"],
              "mode 'nat' is not one of native|generic")
    usage_err("attach_mode_is_one_word", ["attach", "eth0", "--mode", "native|generic"],
              "mode 'native|generic' is not one of native|generic")
    usage_err("attach_mode_empty", ["attach", "eth0", "--mode="],
              "mode '' is not one of native|generic")
    usage_err("attach_long_iface", ["attach", "averyveryverylongname"],
              "interface name 'averyveryverylongname' is not 1..15 characters long")
    usage_err("attach_slash_iface", ["attach", "eth/0"],
              "'eth/0' is not an interface name (see 'ip link')")
    usage_err("detach_mode", ["detach", "eth0", "--mode", "native"],
              "unknown option '--mode' (usage: sluicectl detach IFACE)")
    usage_err("stats_extra", ["stats", "a", "b"],
              "unexpected argument 'b' (usage: sluicectl stats [VIP] [--watch])")
    usage_err("apply_missing_file", ["apply"], "missing FILE (usage: sluicectl apply FILE)")
    check("socket_without_value", ["--socket"], 2, sock=False,
          err="sluicectl: --socket needs a value: --socket PATH\n")
    check("socket_empty", ["--socket", "", "vip", "list"], 2, sock=False,
          err="sluicectl: --socket is empty: give the path of sluiced's socket\n")
    usage_err("socket_twice", ["--socket", SOCK, "vip", "list"],
              "--socket is given twice: give it once")
    long_path = "/tmp/" + "x" * 120
    check("socket_path_too_long", ["--socket", long_path, "vip", "list"], 2, sock=False,
          err=f"sluicectl: socket path '{long_path}' is too long (at most 107 bytes): "
              "use a shorter --socket\n")


def help_and_files():
    for args in (["-h"], ["--help"], ["help"], ["vip", "add", "--help"], ["--json", "help", "x"]):
        check("help_" + "_".join(a.strip("-") for a in args), args, 0,
              out=re.compile(r"\Ausage: sluicectl \[--socket PATH\] \[--json\] COMMAND\n"
                             r"(.|\n)*  vip add NAME ADDR:PORT\[/tcp\|/udp\](.|\n)*exit status"),
              err="")
    check("help_lists_health_circuit_events", ["--help"], 0, err="", out=re.compile(
        r"\n  health set VIP \[ADDR\[:PORT\]\] \[--type tcp\|http\] .*\[--fall N\]\n"
        r"  health clear VIP \[ADDR\[:PORT\]\]\n  health show \[VIP\]\n"
        r"  circuit reset VIP ADDR\[:PORT\]\n"
        r"  events \[--from OFFSET\] \[--type T\[,T...\]\] \[--follow\]\n"))
    missing = os.path.join(TMP, "nope.json")
    check("apply_unreadable_file", ["apply", missing], 1,
          err=f"sluicectl: cannot read {missing}: No such file or directory\n")
    check("apply_directory", ["apply", TMP], 1, err=f"sluicectl: cannot read {TMP}: Is a directory\n")
    bad = tmpfile("bad.json", '{\n  "vips": [\n    {"name": "web",}\n  ]\n}\n')
    check("apply_syntax_error_file_line_col", ["apply", bad], 1,
          err=f"sluicectl: {bad}:3:20: string or '}}' expected near '}}'\n")
    dup = tmpfile("dup.json", '{"vips": [],\n "vips": []}')
    check("apply_duplicate_key", ["apply", dup], 1,
          err=f"sluicectl: {dup}:2:7: duplicate object key near '\"vips\"'\n")
    empty = tmpfile("empty.json", "")
    check("apply_empty_file", ["apply", empty], 1,
          err=f"sluicectl: {empty}:1:0: '[' or '{{' expected near end of file\n")
    arr = tmpfile("arr.json", "[]")
    check("apply_array_is_not_a_config", ["apply", arr], 1,
          err=f"sluicectl: {arr}: the configuration must be a JSON object {{ ... }}, "
              "not an array\n")


def stats_snapshot():
    """Plain stats and --json stats on the issue-7 snapshot (window, rates, agent, l7 ...)."""
    snap = fake_agent.SNAPSHOTS[1]
    one = {"stats": {"ok": True, "result": snap}}
    check("stats_table_new_snapshot_shows_totals", ["stats"], 0, req("stats"), out=(
        "VIP                                                   PACKETS   BYTES     NEW   ACTIVE  DROPS\n"
        "web                                                    777001  777002  777003       14      3\n"
        "  198.18.1.2:8080                                      777001  777002  777003       12\n"
        "  198.18.1.3                                           777001  777002  777003        2\n"
        "  198.18.1.4:8080                                      777001  777002  777003        0\n"
        "gw                                                     777001  777002  777003        3      3\n"
        "  198.18.2.2:8080                                      777001  777002  777003        3\n"
        "a-very-long-vip-name-that-does-not-fit-in-its-column   777001  777002  777003  2500000      3\n"
        "  [2001:db8:1234:5678:9abc:def0:1234:5678]:65535       777001  777002  777003  2500000\n"
        "dns6                                                   777001  777002  777003        1      3\n"
        "  [2001:db8::2]:5353                                   777001  777002  777003        1\n"
        "drops: fragment 2, rl_conn 777004, no_backend 5\n"
        "counters: pass_not_vip 4711, pass_l7 20, rl_new_bucket 9\n"
        "\n"
        "L7 VIP  REQUESTS  2XX  4XX  5XX  401  429  COPIED  SPLICED\n"
        "gw           415  400   10    5    1    0  123456        0\n"), replies=one)
    check("json_stats_new_snapshot_as_sent", ["--json", "stats"], 0, req("stats"),
          out=jline(snap), replies=one)
    usage_err("json_with_watch_refused", ["--json", "stats", "--watch"],
              "--json and --watch do not go together: --watch is a live view for people; "
              "use 'sluicectl --json stats' for the snapshot as JSON")
    usage_err("json_after_watch_refused", ["stats", "web", "--watch", "--json"],
              "--json and --watch do not go together: --watch is a live view for people; "
              "use 'sluicectl --json stats' for the snapshot as JSON")
    usage_err("watch_with_value_refused", ["stats", "--watch=1"],
              "--watch takes no value (usage: sluicectl stats [VIP] [--watch])")
    # check() runs sluicectl with stdout on a pipe: not a terminal.
    usage_err("watch_stdout_not_a_tty_refused", ["stats", "--watch"],
              "stats --watch needs a terminal; use 'sluicectl --json stats' in scripts")


# ---- stats --watch on a pseudo-terminal ----

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
ENTER, LEAVE = "\x1b[?1049h", "\x1b[?25h\x1b[?1049l"
SEQ3 = {"stats": {"@seq": [{"ok": True, "result": s} for s in fake_agent.SNAPSHOTS]}}
UTF8 = {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TZ": "UTC"}

# The three snapshots on 80x24, as drawn (escapes removed): rates per second,
# "-" where the first answer has none, never a total (777001 ...).
FRAMES = [[
    "sluiced 0.7.0  pid 4242  up 3h04m  ready    rates: next frame  02:50:00  q: quit",
    "VIP                         PKT/S BYTES/S NEW/S ACTIVE REQ/S 5XX/S    P95    P99",
    "  BACKEND                                               HEALTH    CIRCUIT",
    "web                             -       -     -     14",
    "  198.18.1.2:8080               -       -     -     12  up        closed",
    "  198.18.1.3                    -       -     -      2  down      open",
    "  198.18.1.4:8080               -       -     -      0  unchecked",
    "gw                              -       -     -      3     -     -      -      -",
    "  198.18.2.2:8080               -       -     -      3  up        half-open",
    "a-very-long-vip-name-that-\u2026     -       -     -   2.5M",
    "  [2001:db8:1234:5678:9abc\u2026     -       -     -   2.5M  up        closed",
    "dns6                            -       -     -      1",
    "  [2001:db8::2]:5353            -       -     -      1  unchecked",
    "drops:  fragment -  rl_conn -  no_backend -",
], [
    "sluiced 0.7.0  pid 4242  up 3h04m  ready      rates over 1.0s  02:50:01  q: quit",
    "VIP                         PKT/S BYTES/S NEW/S ACTIVE REQ/S 5XX/S    P95    P99",
    "  BACKEND                                               HEALTH    CIRCUIT",
    "web                           12k  1.23MB    45     14",
    "  198.18.1.2:8080            9000  1.00MB    40     12  up        closed",
    "  198.18.1.3                 3345   235kB   5.4      2  down      open",
    "  198.18.1.4:8080               0      0B     0      0  unchecked",
    "gw                              0      0B     0      3   120   2.5 4.00ms 9.50ms",
    "  198.18.2.2:8080               0      0B     0      3  up        half-open",
    "a-very-long-vip-name-that-\u2026  2.5M  3.40GB   12k   2.5M",
    "  [2001:db8:1234:5678:9abc\u2026  2.5M  3.40GB   12k   2.5M  up        closed",
    "dns6                            0      0B     0      1",
    "  [2001:db8::2]:5353            0      0B     0      1  unchecked",
    "drops:  fragment 0/s  rl_conn 150/s  no_backend 0.2/s",
], [
    "sluiced 0.7.0  pid 4242  up 3h04m  ready      rates over 1.0s  02:50:02  q: quit",
    "VIP                         PKT/S BYTES/S NEW/S ACTIVE REQ/S 5XX/S    P95    P99",
    "  BACKEND                                               HEALTH    CIRCUIT",
    "web                           9.0    512B   0.5     14",
    "  198.18.1.2:8080             6.0    384B   0.5     12  up        closed",
    "  198.18.1.3                  3.0    128B     0      2  down      open",
    "  198.18.1.4:8080               0      0B     0      0  unchecked",
    "gw                              0      0B     0      3   7.0     0 0.42ms  1.50s",
    "  198.18.2.2:8080               0      0B     0      3  up        half-open",
    "a-very-long-vip-name-that-\u2026  1.0M    999B    99   2.5M",
    "  [2001:db8:1234:5678:9abc\u2026  1.0M    999B    99   2.5M  up        closed",
    "dns6                            0      0B     0      1",
    "  [2001:db8::2]:5353            0      0B     0      1  unchecked",
    "drops:  fragment 0/s  rl_conn 0/s  no_backend 1.0/s",
]]


class Term:
    """A pseudo-terminal of @rows x @cols; the test reads its master side."""

    def __init__(self, rows=24, cols=80):
        self.master, self.slave = pty.openpty()
        self.resize(rows, cols)
        self.buf = b""

    def resize(self, rows, cols):
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def pump(self, wait=0.05):
        """Read what the program wrote so far (the pty would block it when full)."""
        try:
            while select.select([self.master], [], [], wait)[0]:
                data = os.read(self.master, 65536)
                if not data:
                    return
                self.buf += data
                wait = 0
        except OSError:
            pass  # EIO: the slave side is closed

    def text(self):
        return self.buf.decode("utf-8", "replace")

    def frames(self):
        """Each frame starts with cursor home: its lines, escapes and CRs removed."""
        out = []
        for part in self.text().split("\x1b[H")[1:]:
            lines = ANSI.sub("", part).replace("\r", "").split("\n")
            while lines and not lines[-1]:
                lines.pop()
            if lines:
                out.append(lines)
        return out

    def close(self):
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


class Watch:
    """sluicectl ARGS on @term (stdin and stdout; stdout on @out if given), its
    controlling terminal unless ctty=False, so that Ctrl-C and Ctrl-Z through
    the pty become SIGINT and SIGTSTP, as in a shell."""

    def __init__(self, args, term, out=None, ctty=True, sock=SOCK, env=None, stdin=None,
                 stderr=subprocess.PIPE):
        e = {k: v for k, v in os.environ.items() if k not in ("SLUICE_SOCKET", "LANG")}
        e.update(UTF8)
        e.update(env or {})
        self.term, self.out = term, out or term
        self.before = termios.tcgetattr(term.slave)
        self.start = len(fake_agent.REQUESTS)
        argv = (["setsid", "-c"] if ctty else []) + [BIN, "--socket", sock] + args
        self.p = subprocess.Popen(argv, stdin=term.slave if stdin is None else stdin,
                                  stdout=self.out.slave, stderr=stderr, env=e)
        self.rc, self.err = None, ""

    def wait_for(self, what, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.out.pump()
            if what():
                return True
            if self.p.poll() is not None:
                self.out.pump()
                return what()
        return False

    def frames_started(self, n, timeout=10):
        return self.wait_for(lambda: len(self.out.frames()) >= n, timeout)

    def key(self, data):
        os.write(self.term.master, data)

    def end(self, timeout=10):
        """Wait for the exit; the exit status, or None after killing it."""
        try:
            self.rc = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self.out.pump()
        if self.p.stderr:
            self.err = self.p.stderr.read().decode()
            self.p.stderr.close()
        return self.rc

    def raw_now(self):
        """The terminal as the program set it: no ICANON, no ECHO."""
        lflag = termios.tcgetattr(self.term.slave)[3]
        return not lflag & (termios.ICANON | termios.ECHO)

    def restored(self):
        return termios.tcgetattr(self.term.slave) == self.before

    def requests(self):
        return fake_agent.REQUESTS[self.start:]


def result(name, problems):
    global passed, failed
    if problems:
        failed += 1
        print(f"FAIL {name}")
        for m in problems:
            print(f"     {m}")
    else:
        passed += 1
        print(f"ok   {name}")


def wanted(name):
    return not FILTER or FILTER in name


def frame_problems(frames, rows, cols):
    """Every line of every frame within @cols, every frame within @rows."""
    out = []
    for i, f in enumerate(frames):
        if len(f) > rows:
            out.append(f"frame {i + 1} has {len(f)} lines on a terminal of {rows}: {f}")
        for line in f:
            if len(line) > cols:
                out.append(f"frame {i + 1}: {len(line)} columns > {cols}: {line!r}")
    return out


def end_problems(w, rc, err="", left=True):
    """Exit @rc with stderr @err (text or regex), the terminal as it was before,
    and the alternate screen left (when it was entered; @left)."""
    out = []
    if w.rc != rc:
        out.append(f"exit {w.rc}, expected {rc}")
    if isinstance(err, re.Pattern) and not err.search(w.err):
        out.append(f"stderr {w.err!r} does not match {err.pattern!r}")
    elif not isinstance(err, re.Pattern) and w.err != err:
        out.append(f"stderr {w.err!r}, expected {err!r}")
    if not w.restored():
        out.append(f"terminal modes {termios.tcgetattr(w.term.slave)} after the exit, "
                   f"before {w.before}")
    text = w.out.text()
    if left and ENTER in text and not text.endswith(LEAVE):
        out.append(f"output does not end by leaving the alternate screen: {text[-80:]!r}")
    return out


def watch_frames_and_q():
    name = "watch_redraws_rates_per_second_q_exits_0"
    if not wanted(name):
        return
    fake_agent.reset(SEQ3)
    t = Term(24, 80)
    w = Watch(["stats", "--watch"], t)
    problems = []
    if not w.frames_started(4, timeout=15):
        problems.append(f"fewer than 4 frames within 15 s: {t.text()[-300:]!r}")
    raw = w.raw_now()
    w.key(b"q")
    w.end()
    frames = t.frames()
    if not raw:
        problems.append("the terminal was not in non-canonical no-echo mode while watching")
    if frames[:3] != FRAMES:
        for i, (got, want) in enumerate(zip(frames, FRAMES)):
            if got != want:
                problems.append(f"frame {i + 1}:\n       " + "\n       ".join(got) +
                                "\n     expected:\n       " + "\n       ".join(want))
    if len(frames) > 3 and frames[3][3:] != FRAMES[2][3:]:
        problems.append(f"frame 4 is not the last snapshot again: {frames[3]}")
    problems += frame_problems(frames, 24, 80)
    for total in ("777001", "777002", "777003", "777004"):
        if total in t.text():
            problems.append(f"a total ({total}) is shown")
    if not t.text().startswith(ENTER):
        problems.append(f"does not start on the alternate screen: {t.text()[:40]!r}")
    if set(w.requests()) != {req("stats")} or len(w.requests()) < 4:
        problems.append(f"requests {w.requests()}, expected {req('stats')} once a frame")
    problems += end_problems(w, 0)
    t.close()
    result(name, problems)


def watch_small_and_resized():
    name = "watch_80x10_shows_what_fits_and_how_many_more"
    if wanted(name):
        fake_agent.reset(SEQ3)
        t = Term(10, 80)
        w = Watch(["stats", "--watch"], t)
        problems = []
        if not w.frames_started(3, timeout=15):
            problems.append(f"fewer than 3 frames: {t.text()[-300:]!r}")
        w.key(b"q")
        w.end()
        frames = t.frames()
        want = FRAMES[1][:8] + [
            "\u2026 5 more (a taller window shows them, or watch one VIP)", FRAMES[1][-1]]
        if len(frames) < 2 or frames[1] != want:
            problems.append(f"frame 2 {frames[1:2]}, expected {want}")
        problems += frame_problems(frames, 10, 80)
        problems += end_problems(w, 0)
        t.close()
        result(name, problems)

    name = "watch_resize_redraws_within_the_new_size"
    if wanted(name):
        fake_agent.reset({"stats": {"ok": True, "result": fake_agent.SNAPSHOTS[1]}})
        t = Term(24, 80)
        w = Watch(["stats", "--watch"], t)
        problems = []
        if not w.frames_started(1):
            problems.append("no first frame")
        n = len(w.requests())
        t.resize(6, 50)  # SIGWINCH: drawn again at once, before the next answer
        if not w.frames_started(2, timeout=0.8) or len(w.requests()) != n:
            problems.append(f"not redrawn at once on SIGWINCH ({len(t.frames())} frames, "
                            f"{len(w.requests()) - n} more requests)")
        w.frames_started(3)
        w.key(b"q")
        w.end()
        frames = t.frames()
        problems += frame_problems(frames[1:], 6, 50)
        want = ["sluiced 0.7.0  pid 4242  up 3h04m  ready      rat\u2026",
                "VIP                         PKT/S BYTES/S NEW/S A\u2026",
                "  BACKEND                                        \u2026",
                "web                           12k  1.23MB    45  \u2026",
                "\u2026 9 more (a taller window shows them, or watch on\u2026",
                "drops:  fragment 0/s  rl_conn 150/s  no_backend 0\u2026"]
        if frames[1:2] != [want]:
            problems.append(f"frame after the resize {frames[1:2]}, expected {[want]}")
        problems += end_problems(w, 0)
        t.close()
        result(name, problems)

    name = "watch_ascii_locale_marks_cuts_with_tilde"
    if wanted(name):
        fake_agent.reset({"stats": {"ok": True, "result": fake_agent.SNAPSHOTS[1]}})
        t = Term(8, 80)
        w = Watch(["stats", "--watch", "a-very-long-vip-name-that-does-not-fit-in-its-column"],
                  t, env={"LC_ALL": "C", "LANG": "C"})
        problems = []
        w.frames_started(1)
        w.key(b"q")
        w.end()
        frames = t.frames()
        want = FRAMES[1][:3] + [
            "a-very-long-vip-name-that-~  2.5M  3.40GB   12k   2.5M",
            "  [2001:db8:1234:5678:9abc~  2.5M  3.40GB   12k   2.5M  up        closed",
            FRAMES[1][-1]]
        if frames[:1] != [want]:
            problems.append(f"frame {frames[:1]}, expected {[want]}")
        if "\u2026" in t.text():
            problems.append("a UTF-8 marker in the C locale")
        problems += end_problems(w, 0)
        t.close()
        result(name, problems)


def watch_filter():
    name = "watch_vip_filter_asks_for_and_shows_one_vip"
    if not wanted(name):
        return
    fake_agent.reset(SEQ3)
    t = Term(24, 80)
    w = Watch(["stats", "--watch", "gw"], t)
    problems = []
    w.frames_started(3)
    w.key(b"Q")
    w.end()
    frames = t.frames()
    want = FRAMES[1][:3] + FRAMES[1][7:9] + [FRAMES[1][-1]]
    if frames[1:2] != [want]:
        problems.append(f"frame 2 {frames[1:2]}, expected {[want]}")
    if set(w.requests()) != {req("stats", {"vip": "gw"})}:
        problems.append(f"requests {w.requests()}")
    problems += end_problems(w, 0)
    t.close()
    result(name, problems)


def watch_signals():
    for name, act in (("watch_ctrl_c_exits_0_terminal_restored", lambda w: w.key(b"\x03")),
                      ("watch_sigterm_exits_0_terminal_restored",
                       lambda w: w.p.send_signal(signal.SIGTERM)),
                      ("watch_sighup_exits_0_terminal_restored",
                       lambda w: w.p.send_signal(signal.SIGHUP))):
        if not wanted(name):
            continue
        fake_agent.reset(SEQ3)
        t = Term(24, 80)
        w = Watch(["stats", "--watch"], t)
        problems = []
        if not w.frames_started(2):
            problems.append("fewer than 2 frames")
        if not w.raw_now():
            problems.append("the terminal was not in non-canonical no-echo mode")
        act(w)
        w.end()
        problems += end_problems(w, 0)
        t.close()
        result(name, problems)

    name = "watch_ctrl_z_gives_the_terminal_back_fg_takes_it_again"
    if not wanted(name):
        return
    fake_agent.reset(SEQ3)
    t = Term(24, 80)
    w = Watch(["stats", "--watch"], t)
    problems = []
    w.frames_started(1)
    w.key(b"\x1a")

    def stopped():
        with open(f"/proc/{w.p.pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "T"
    if not w.wait_for(stopped, 5):
        problems.append("not stopped by Ctrl-Z")
    if not w.restored() or not t.text().endswith(LEAVE):
        problems.append("the terminal is not given back while stopped")
    n = len(t.frames())
    os.kill(w.p.pid, signal.SIGCONT)
    if not w.frames_started(n + 1, timeout=3) or not w.raw_now():
        problems.append("not drawing again in raw mode after SIGCONT")
    w.key(b"q")
    w.end()
    problems += end_problems(w, 0)
    t.close()
    result(name, problems)


def watch_failures():
    name = "watch_agent_gone_exit_3_terminal_restored"
    if wanted(name):
        fake_agent.reset(SEQ3)
        sock2 = os.path.join(TMP, "gone.sock")
        srv2 = fake_agent.start(sock2)
        t = Term(24, 80)
        # stderr on the terminal too: the message must come after the terminal is given back.
        w = Watch(["stats", "--watch"], t, sock=sock2, stderr=t.slave)
        problems = []
        if not w.frames_started(2):
            problems.append("fewer than 2 frames")
        srv2.shutdown()
        srv2.server_close()
        os.unlink(sock2)
        if w.end() is None:
            problems.append("still running 10 s after the agent went away")
        msg = f"sluicectl: sluiced is not running: {sock2}: No such file or directory\r\n"
        problems += end_problems(w, 3, left=False)
        if not t.text().endswith(LEAVE + msg):
            problems.append(f"output ends {t.text()[-120:]!r}, expected the alternate screen "
                            f"left, then {msg!r}")
        t.close()
        result(name, problems)

    cases = (
        ("watch_agent_closes_mid_watch_exit_3", "@close", 3,
         f"sluicectl: sluiced closed the connection without answering: {SOCK} (see its log)\n"),
        ("watch_agent_garbage_mid_watch_exit_3", "@garbage", 3,
         re.compile(r"^sluicectl: sluiced answered something that is not JSON \(.*\n$")),
        ("watch_vip_deleted_mid_watch_exit_1", {"ok": False, "error": "no vip 'web'", "exit": 1},
         1, "sluicectl: no vip 'web'\n"),
        ("watch_answer_not_a_snapshot_exit_3", {"ok": True, "result": {"vips": {}}}, 3,
         "sluicectl: sluiced's answer to stats is not a snapshot with a \"vips\" list of "
         "objects (is sluicectl older than sluiced?)\n"),
    )
    for name, bad, rc, err in cases:
        if not wanted(name):
            continue
        first = {"ok": True, "result": fake_agent.SNAPSHOTS[0]}
        fake_agent.reset({"stats": {"@seq": [first, bad]}})
        t = Term(24, 80)
        w = Watch(["stats", "--watch"], t)
        w.frames_started(1)
        w.end()
        problems = end_problems(w, rc, err)
        if len(t.frames()) != 1:
            problems.append(f"{len(t.frames())} frames, expected 1")
        t.close()
        result(name, problems)

    name = "watch_refused_at_once_leaves_the_terminal_alone"
    if wanted(name):
        fake_agent.reset({"stats": {"ok": False, "error": "no vip 'nope'", "exit": 1}})
        t = Term(24, 80)
        w = Watch(["stats", "--watch", "nope"], t)
        w.end()
        problems = end_problems(w, 1, "sluicectl: no vip 'nope'\n")
        if t.buf:
            problems.append(f"wrote {t.buf!r} on the terminal")
        t.close()
        result(name, problems)

    name = "watch_stdout_error_exit_1_terminal_restored"
    if wanted(name):
        fake_agent.reset(SEQ3)
        t, out = Term(24, 80), Term(24, 80)
        w = Watch(["stats", "--watch"], t, out=out, ctty=False)
        problems = []
        if not w.frames_started(1):
            problems.append("no first frame")
        os.close(out.master)  # the slave side now fails every write with EIO
        out.master = os.open("/dev/null", os.O_RDONLY)
        w.end()
        problems += end_problems(w, 1, "sluicectl: cannot write to standard output: "
                                       "Input/output error\n", left=False)
        t.close()
        out.close()
        result(name, problems)

    name = "watch_stdin_not_a_tty_refused"
    if wanted(name):
        fake_agent.reset(SEQ3)
        t = Term(24, 80)
        w = Watch(["stats", "--watch"], t, ctty=False, stdin=subprocess.DEVNULL)
        w.end()
        problems = end_problems(w, 2, "sluicectl: stats --watch needs a terminal; use "
                                      "'sluicectl --json stats' in scripts\n")
        if t.buf or w.requests():
            problems.append(f"wrote {t.buf!r}, asked {w.requests()}")
        t.close()
        result(name, problems)


def watch():
    watch_frames_and_q()
    watch_small_and_resized()
    watch_filter()
    watch_signals()
    watch_failures()
    fake_agent.reset()


def main():
    if not os.access(BIN, os.X_OK):
        print(f"cli: {BIN} is not built (make {BIN})")
        print("cli: 0 passed, 1 failed")
        return 1
    srv = fake_agent.start(SOCK)
    try:
        requests()
        json_output()
        human_output()
        refusals()
        usage_errors()
        health_requests()
        health_output()
        events_output()
        health_usage_errors()
        help_and_files()
        stats_snapshot()
        watch()
        unreachable()
    finally:
        srv.shutdown()
        subprocess.run(["rm", "-rf", TMP])
    print(f"cli: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
