#!/bin/sh
# The command line as a user meets it (TAP): every subcommand's --help and
# -h print its usage and exit 0 at once, without doing anything else (no
# connection, no daemon); bad options and missing arguments exit 2 with the
# usage hint. Usage: test_cli.sh COLDPLUG_BINARY
set -u
bin=$1
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
n=0
fails=0

ok() { # ok COND DESCRIPTION
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fails=$((fails + 1)); fi
}

run() { # run ARGS...: rc in $rc, stdout in $tmp/out, stderr in $tmp/err
	timeout 5 "$bin" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
}

cmds=$("$bin" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z-]*\) .*/\1/p')
[ -n "$cmds" ]
ok $? "coldplug --help lists the commands ($(echo $cmds))"

for c in $cmds; do
	for h in --help -h; do
		run "$c" "$h"
		head -n1 "$tmp/out" | grep -q "^Usage: coldplug $c"
		ok $(( rc != 0 || $? != 0 || $(wc -c <"$tmp/err") != 0 )) \
			"coldplug $c $h: usage on stdout, exit 0 (rc=$rc), nothing on stderr"
	done
	run help "$c"
	head -n1 "$tmp/out" | grep -q "^Usage: coldplug $c"
	ok $(( rc != 0 || $? != 0 )) "coldplug help $c: the same usage"
	run "$c" --no-such-option
	grep -q "unknown option '--no-such-option'" "$tmp/err" && grep -q "coldplug $c --help" "$tmp/err"
	ok $(( rc != 2 || $? != 0 )) "coldplug $c --no-such-option: exit 2 (rc=$rc), names it and the help"
done

for c in rehome inventory qmp; do
	run "$c"
	grep -q -- "--qmp SOCKET is required" "$tmp/err"
	ok $(( rc != 2 || $? != 0 )) "coldplug $c without --qmp: exit 2 (rc=$rc), says what is needed"
done

run rehome --qmp "$tmp/none.sock" --timeout 300
grep -q "none.sock" "$tmp/err"
ok $(( rc != 1 || $? != 0 )) "coldplug rehome on a missing socket: exit 1 (rc=$rc), names the socket"

run no-such-command
ok $(( rc != 2 )) "an unknown command: exit 2 (rc=$rc)"
run --version
grep -q "^coldplug [0-9]" "$tmp/out"
ok $(( rc != 0 || $? != 0 )) "coldplug --version"

echo "1..$n"
[ "$fails" = 0 ]
