#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""sluicectl against a fake agent: the exact request of every command, exit
codes 0/1/2/3, one-line errors, human tables and --json.

    python3 tests/cli/test_cli.py [SLUICECTL] [NAME-FILTER]

SLUICECTL defaults to .output/bin/sluicectl (try .output/asan/bin/sluicectl).
The last line is "cli: N passed, N failed".
"""
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
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
        "VIP   BACKEND             WEIGHT  STATE           ACTIVE         PACKETS       BYTES     NEW\n"
        "web   198.18.1.2:8080          3  active              12            1234      567890      40\n"
        "web   198.18.1.3               1  draining(250s)       2              99       10240       7\n"
        "web   198.18.1.4:8080          0  idle                 0               0           0       0\n"
        "dns6  [2001:db8::2]:5353   65535  active               1  18446744073709  9876543210  123456\n"))
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
        "VIP  BACKEND  WEIGHT  STATE  ACTIVE  PACKETS  BYTES  NEW\n"
        "web  1.2.3.4       -  -           -        -      -    -\n"),
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
    usage_err("stats_extra", ["stats", "a", "b"], "unexpected argument 'b' (usage: sluicectl stats [VIP])")
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
        help_and_files()
        unreachable()
    finally:
        srv.shutdown()
        subprocess.run(["rm", "-rf", TMP])
    print(f"cli: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
