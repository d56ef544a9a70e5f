#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# test_badinput: every wrong request is refused with the documented exit code
# (1 refused, 2 usage, 3 agent not reachable) and one line on stderr that
# names what was wrong (nothing on stdout), and changes nothing: `show config`
# is byte for byte the same afterwards, and traffic still flows as before.
set -u
. tests/e2e/lab.sh
lab_trap "bi$$"

lab_web "bi$$" wrr weighted
ctl show config >"$LAB_DIR/config.before"
cases=0

# refused RC TEXT ARGS...: `sluicectl ARGS` exits RC and prints exactly one
# line, on stderr, containing TEXT.
refused() {
	_rc=$1
	_text=$2
	shift 2
	ctl "$@" >"$LAB_DIR/stdout" 2>"$LAB_DIR/stderr"
	_got=$?
	_msg=$(cat "$LAB_DIR/stderr")
	echo "    sluicectl $* -> $_got: $_msg"
	[ "$_got" -eq "$_rc" ] || fail "sluicectl $*: exit $_got, expected $_rc"
	[ "$(wc -l <"$LAB_DIR/stderr")" -eq 1 ] ||
		fail "sluicectl $*: expected one line on stderr, got: $_msg"
	[ ! -s "$LAB_DIR/stdout" ] ||
		fail "sluicectl $*: printed on stdout: $(cat "$LAB_DIR/stdout")"
	case "$_msg" in
	*"$_text"*) ;;
	*) fail "sluicectl $*: message does not mention '$_text': $_msg" ;;
	esac
	cases=$((cases + 1))
}

step "malformed addresses and ports (exit 2)"
refused 2 198.19.0.300 vip add bad 198.19.0.300:80
refused 2 70000 vip add bad 198.19.0.20:70000
refused 2 http vip add bad 198.19.0.20:http
refused 2 198.19.0.20 vip add bad 198.19.0.20
refused 2 sctp vip add bad 198.19.0.20:80/sctp
refused 2 198.18.11.999 backend add web 198.18.11.999:8080
refused 2 99999 backend add web 198.18.11.5:99999
refused 2 foo vip add bad 198.19.0.20:80 --strategy foo
refused 2 bar vip add bad 198.19.0.20:80 --forward bar

step "unknown VIP or backend (exit 1)"
refused 1 nosuch backend add nosuch "$(be4 1):8080"
refused 1 nosuch vip del nosuch
refused 1 nosuch vip set nosuch --strategy rr
refused 1 nosuch limit set nosuch --conn-rate 1 --conn-burst 1
refused 1 198.18.11.9:8080 backend del web 198.18.11.9:8080
refused 1 198.18.11.9:8080 backend set web 198.18.11.9:8080 --weight 2
refused 1 198.18.11.9:8080 backend drain web 198.18.11.9:8080

step "duplicates and conflicts (exit 1)"
refused 1 web vip add web 198.19.0.20:80
refused 1 "$(be4 1):8080" backend add web "$(be4 1):8080"
refused 1 "198.19.0.10:80/tcp" vip add web2 198.19.0.10:80
refused 1 "198.19.0.10:80/tcp" vip add web2 198.19.0.10:80/tcp
refused 1 IPv6 backend add web "[$(be6 1)]:8080"

step "weights out of range (exit 2)"
refused 2 65536 backend add web 198.18.11.3:8080 --weight 65536
refused 2 70000 backend set web "$(be4 1):8080" --weight 70000
refused 2 -1 backend add web 198.18.11.3:8080 --weight -1

step "interfaces (exit 1)"
refused 1 nosuch0 attach nosuch0
refused 1 to-cli attach to-cli
refused 1 nosuch0 detach nosuch0

step "apply: invalid configuration, cited by its JSON path (exit 1)"
cat >"$LAB_DIR/weight.json" <<EOF
{"vips": [
  {"name": "a", "address": "198.19.0.20", "port": 80, "backends": []},
  {"name": "b", "address": "198.19.0.21", "port": 80,
   "backends": [{"address": "$(be4 1)", "port": 8080, "weight": 70000}]}
]}
EOF
refused 1 "vips[1].backends[0].weight: must be 0..65535" apply "$LAB_DIR/weight.json"
cat >"$LAB_DIR/address.json" <<EOF
{"vips": [{"name": "a", "address": "198.19.0.300", "port": 80, "backends": []}]}
EOF
refused 1 "vips[0].address" apply "$LAB_DIR/address.json"
cat >"$LAB_DIR/port.json" <<EOF
{"vips": [{"name": "a", "address": "198.19.0.20", "port": 0, "backends": []}]}
EOF
refused 1 "vips[0].port" apply "$LAB_DIR/port.json"
cat >"$LAB_DIR/field.json" <<EOF
{"vips": [{"name": "a", "address": "198.19.0.20", "port": 80, "colour": "red"}]}
EOF
refused 1 "vips[0].colour" apply "$LAB_DIR/field.json"
printf '{"vips": [{"name": "a",\n' >"$LAB_DIR/syntax.json"
refused 1 "syntax.json" apply "$LAB_DIR/syntax.json"

step "nothing changed"
ctl show config >"$LAB_DIR/config.after"
cmp -s "$LAB_DIR/config.before" "$LAB_DIR/config.after" ||
	fail "show config changed: $(diff "$LAB_DIR/config.before" "$LAB_DIR/config.after")"
hammer -n 60 -q -a "$VIP4" >"$LAB_DIR/out"
share_check "$LAB_DIR/out" 60 1 2 3 0
echo "    $cases refusals, show config unchanged, traffic split as before"

step "agent not reachable (exit 3)"
LAB_SOCK_SAVED=$LAB_SOCK
LAB_SOCK="$LAB_DIR/nonexistent.sock"
refused 3 "sluiced is not running: $LAB_SOCK: No such file or directory" vip list
LAB_SOCK=$LAB_SOCK_SAVED
lab_sluiced_kill
refused 3 "sluiced is not running: $LAB_SOCK: Connection refused" vip list
