#!/bin/sh
# tests/mutation/run.sh [MUTATIONS]: does the suite catch a broken library?
#
# Applies each mutation of tests/mutation/mutations (or MUTATIONS) on its own
# to a copy of the committed tree, rebuilds, runs the tests the mutation names,
# and reports each one: "caught" (a test failed), "MISSED" (every test passed:
# a hole in the suite) or "STALE" (its text is no longer in the file: the list
# needs updating, which is a failure too). Exit status 0 only when every
# mutation is caught. The checkout itself is never touched.
#
# About 30 s per mutation on two cores (an incremental build and the tests it
# names); `make mutation` runs it. Not part of make check: the suites it
# judges are.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
list=${1:-$here/mutations}
work=$(mktemp -d /tmp/coldplug-mutation.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM

# A copy of what git tracks (committed and staged changes both), so that a
# mutation never lands in the user's tree.
mkdir "$work/tree"
git -C "$src" ls-files -z | tar -C "$src" --null -T - -cf - | tar -C "$work/tree" -xf -
meson setup "$work/build" "$work/tree" -Dqemu_tests=false >"$work/setup.log" 2>&1 ||
	{ cat "$work/setup.log"; echo "mutation: meson setup failed" >&2; exit 2; }
ninja -C "$work/build" >"$work/build.log" 2>&1 ||
	{ tail -20 "$work/build.log"; echo "mutation: the unmutated tree does not build" >&2; exit 2; }

exec python3 "$here/apply.py" "$list" "$work/tree" "$work/build"
