#!/bin/sh
# make check: build with gcc (warnings are errors), prepare the real-QEMU lab,
# build everything with clang under ASan+UBSan (warnings are errors), run every meson
# suite of the first and, in the second, every suite that starts no QEMU but
# style (unit, program, harness, security, fuzz; tests/README.md), then
# build the Debian package and run the real-Incus suite with it, and print
# the totals. A build
# that fails counts as one failed check; skipped tests are listed and never
# counted as passed. A build without an optional part the suite needs (the
# Starlark runner, tests/starlark) is a failed build that names the
# missing packages, never a shorter list of tests. The last line is
# "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ASAN=${ASAN:-build-asan}
passed=0
failed=0
skipped=0
subskips=""
failures=""

note_fail() {
	failed=$((failed + 1))
	failures="$failures
  FAIL $1"
}

build() { # dir, label, setup-args...
	dir=$1 label=$2
	shift 2
	if [ ! -f "$dir/build.ninja" ] && ! meson setup "$dir" "$@" >"$dir.setup.log" 2>&1; then
		cat "$dir.setup.log"
		note_fail "$label: meson setup (see $dir.setup.log)"
		return 1
	fi
	if ! ninja -C "$dir" >"$dir.build.log" 2>&1; then
		cat "$dir.build.log"
		note_fail "$label: build"
		return 1
	fi
	if [ ! -x "$dir/tests/starlark/incus-scriptlet" ]; then
		no_runner "$dir" "$label"
		return 1
	fi
	passed=$((passed + 1))
	return 0
}

# The Starlark runner is optional to meson (a plain `make` builds without Go)
# but not to the suite: the stub tests and the lab run the scriptlet with it.
# meson looks again by itself once a package is installed (see
# tests/starlark/meson.build); if it is still missing, say which
# packages it needs.
no_runner() { # dir, label
	need=""
	for p in golang-go golang-starlark-dev; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			need="$need $p"
	done
	echo "run-checks: $1 has no Starlark runner ($1/tests/starlark/incus-scriptlet):" >&2
	if [ -n "$need" ]; then
		echo "  the Debian packages$need are not installed (scripts/deps.sh check installs them)" >&2
		note_fail "$2: no Starlark runner, the suite cannot run: install$need"
	else
		echo "  golang-go and golang-starlark-dev are installed, but meson did not find them" >&2
		echo "  (see $1/meson-logs/meson-log.txt; 'meson setup --reconfigure $1' looks again)" >&2
		note_fail "$2: no Starlark runner although golang-go and golang-starlark-dev are installed"
	fi
}

# Run one `meson test` and count its per-test results from its JSON log. A
# run that fails without a failed test in its log (a rebuild that failed, no
# log at all) counts as one failure: a stale or missing log never passes.
# $logbase names the logs (default testlog): a second run in the same build
# directory keeps the first one's logs.
run_meson_test() { # dir, meson test args...
	dir=$1
	shift
	lb=${logbase:-testlog}
	log="$dir/meson-logs/$lb.json"
	rm -f "$log"
	meson test -C "$dir" --logbase "$lb" "$@"
	rc=$?
	if [ ! -f "$log" ]; then
		note_fail "meson test -C $dir: no test log (exit status $rc)"
		return
	fi
	ok=$(grep -c '"result": "OK"' "$log")
	bad=$(grep -Ec '"result": "(FAIL|TIMEOUT|UNEXPECTEDPASS|ERROR)"' "$log")
	# Skipped tests, and TAP subtests a passing test skipped ("# SKIP"):
	# listed and counted, never as passed.
	skip=$(($(grep -c '"result": "SKIP"' "$log") + $(grep -o 'ok [0-9]* # SKIP' "$log" | wc -l)))
	subskips="$subskips$(grep -o 'ok [0-9]* # SKIP[^\\]*' "$log" | sed 's/^ok [0-9]* # SKIP/\n  SKIP/')"
	passed=$((passed + ok))
	failed=$((failed + bad))
	skipped=$((skipped + skip))
	for name in $(grep -E '"result": "(FAIL|TIMEOUT|UNEXPECTEDPASS|ERROR|SKIP)"' "$log" |
		sed -n 's/.*"name": "\([^"]*\)".*"result": "\([A-Z]*\)".*/\2:\1/p' | tr ' ' '_'); do
		failures="$failures
  $name ($dir)"
	done
	[ "$rc" -ne 0 ] && [ "$bad" -eq 0 ] &&
		note_fail "meson test -C $dir: exit status $rc with no failed test in its log"
}

if build "$BUILD" "gcc" -Dwerror=true; then
	# The real-QEMU lab: QEMU 10.0, the test guest, the traffic tool. Without
	# it the qemu suite fails (never skips), so a failure here counts once.
	if tests/qemu/prepare.sh "$BUILD"; then
		passed=$((passed + 1))
	else
		note_fail "lab: tests/qemu/prepare.sh (the qemu suite cannot run)"
	fi
	run_meson_test "$BUILD" --print-errorlogs --num-processes 2 --no-suite incus
fi
if CC=clang build "$ASAN" "clang+asan+ubsan" -Dwerror=true -Db_sanitize=address,undefined \
	-Db_lundef=false; then
	export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
	# One test at a time: the stub's tests count polls against the 500 ms
	# that Incus gives a monitor command, and ASan makes them slow enough.
	run_meson_test "$ASAN" --print-errorlogs --num-processes 1 \
		--suite unit --suite program --suite harness --suite security --suite fuzz
fi
# Real Incus, alone (its VMs run under TCG on the same two cores), with
# coldplug installed from the Debian package this tree builds. A package
# that cannot be built counts as one failure, and the suite then fails too.
if [ -f "$BUILD/build.ninja" ]; then
	# An absolute path: meson runs the test from the build directory.
	if deb=$(scripts/deb.sh "$(realpath -m "$BUILD/deb")" 2>"$BUILD/deb.log" | tail -n 1) && [ -f "$deb" ]; then
		passed=$((passed + 1))
	else
		cat "$BUILD/deb.log"
		note_fail "deb: scripts/deb.sh (see $BUILD/deb.log)"
		deb=""
	fi
	COLDPLUG_DEB=$deb logbase=testlog-incus run_meson_test "$BUILD" --print-errorlogs --suite incus
fi

echo
echo "coldplug make check:"
[ -n "$failures" ] && echo "Not passed:$failures"
[ -n "$subskips" ] && printf 'Skipped inside passing tests:%b\n' "$subskips"
[ "$skipped" -gt 0 ] && echo "$skipped skipped (not counted as passed)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
