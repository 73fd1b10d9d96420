#!/bin/sh
# make fuzz: run each fuzz target, time-boxed, one at a time.
#
#   FUZZ=<builddir> FUZZ_SECONDS=N fuzz/run.sh [TARGET...]
#
# BUILDDIR is a build configured with -Dfuzzing=true (clang). Each target
# starts from its committed corpus fuzz/corpus/<target>/ and works in
# BUILDDIR/fuzz-work/<target>/; at the end, the inputs that add coverage are
# merged (-merge=1) into the committed corpus, which so stays small. A crash
# reproducer is written into the committed corpus as crash-<sha1> (libFuzzer
# adds "crash-" to -artifact_prefix=fuzz/corpus/<target>/), so that
# `make check` replays it from then on (and fails until the bug is fixed).
# Exits non-zero if any target crashed.
set -u
cd "$(dirname "$0")/.." || exit 1
FUZZ=${FUZZ:?set FUZZ to a build directory configured with -Dfuzzing=true}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
[ $# -gt 0 ] || set -- fuzz_qmp_stream fuzz_qmp_classify fuzz_hmp_network fuzz_stub_request \
	fuzz_profile_check fuzz_inventory
status=0
for t in "$@"; do
	exe=$FUZZ/fuzz/$t
	corpus=fuzz/corpus/$t
	work=$FUZZ/fuzz-work/$t
	if [ ! -x "$exe" ]; then
		echo "fuzz/run.sh: $exe is missing (configure $FUZZ with -Dfuzzing=true)" >&2
		exit 1
	fi
	mkdir -p "$corpus" "$work"
	echo "== $t: ${FUZZ_SECONDS}s on $corpus"
	# One process (no -jobs/-fork): CPU is shared, and targets run one at a time.
	if ! "$exe" -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 \
		-dict=fuzz/qmp.dict -max_len=65536 -artifact_prefix="$corpus/" \
		"$work" "$corpus"; then
		echo "== $t: CRASHED; the reproducer is in $corpus (crash-*)" >&2
		status=1
	fi
	"$exe" -merge=1 -dict=fuzz/qmp.dict "$corpus" "$work" >/dev/null 2>&1 ||
		echo "== $t: merging into $corpus failed" >&2
	echo "== $t: corpus now $(ls "$corpus" | wc -l) files"
done
exit $status
