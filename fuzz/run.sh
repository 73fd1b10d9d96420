#!/bin/sh
# make fuzz: run each fuzz target, time-boxed, one at a time.
#
#   FUZZ=<builddir> FUZZ_SECONDS=N [FUZZ_RUNS=N] fuzz/run.sh [TARGET...]
#
# Each target runs FUZZ_SECONDS (default 60), or FUZZ_RUNS executions when
# that is set; fuzz_serve_vm runs FUZZ_SERVE_VM_RUNS executions (default
# 10000000, issue 12's figure: about 1.5 h with FUZZ_JOBS=2 on two idle
# cores; fuzz/results.md).
# FUZZ_JOBS=J (default 1) runs J processes of a target side by side on the
# same work directory, each with 1/J of the executions (each its own log,
# BUILDDIR/fuzz-work/<target>.job-N.log); the total is their sum.
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
FUZZ_RUNS=${FUZZ_RUNS:-}
FUZZ_SERVE_VM_RUNS=${FUZZ_SERVE_VM_RUNS:-10000000}
FUZZ_JOBS=${FUZZ_JOBS:-1}
case $FUZZ_JOBS in '' | *[!0-9]* | 0) echo "fuzz/run.sh: FUZZ_JOBS must be a positive count" >&2; exit 2 ;; esac
[ $# -gt 0 ] || set -- fuzz_qmp_stream fuzz_qmp_classify fuzz_hmp_network fuzz_stub_request \
	fuzz_profile_check fuzz_inventory fuzz_serve_vm
# An undefined behaviour is a finding too: stop at it (the default only
# reports it and runs on, and libFuzzer would not keep the input).
UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export UBSAN_OPTIONS
# A 16 MB quarantine (default 256) and 5-frame allocation stacks (default 30)
# make fuzz_serve_vm twice as fast (475 -> 1000 exec/s a job, RSS 704 -> 145
# MB): its json-c churn kept ASan's allocator recycling a quarantine far
# larger than the cache. A use after free is still caught while the block is
# among the last 16 MB freed; replay a crash with the defaults for full stacks.
ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=16:malloc_context_size=5}
export ASAN_OPTIONS
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
	# How long: a number of executions (shared among the jobs), or a time box.
	runs=$FUZZ_RUNS
	[ "$t" != fuzz_serve_vm ] || runs=$FUZZ_SERVE_VM_RUNS
	if [ -n "$runs" ]; then
		length="-runs=$(((runs + FUZZ_JOBS - 1) / FUZZ_JOBS))"
		echo "== $t: $runs executions in $FUZZ_JOBS job(s) on $corpus"
	else
		length="-max_total_time=$FUZZ_SECONDS"
		echo "== $t: ${FUZZ_SECONDS}s in $FUZZ_JOBS job(s) on $corpus"
	fi
	# Plain processes, no -jobs/-fork: each job's exit status and its own
	# final stats are what count.
	rm -f "$work".job-*.log
	echo "== $t: progress in $work.job-*.log"
	pids=
	j=1
	while [ "$j" -le "$FUZZ_JOBS" ]; do
		"$exe" "$length" -print_final_stats=1 \
			-dict=fuzz/qmp.dict -max_len=65536 -artifact_prefix="$corpus/" \
			"$work" "$corpus" >"$work.job-$j.log" 2>&1 &
		pids="$pids $!"
		j=$((j + 1))
	done
	j=1
	for pid in $pids; do
		if ! wait "$pid"; then
			echo "== $t: job $j CRASHED; the reproducer is in $corpus (crash-*)," \
				"the log is $work.job-$j.log" >&2
			tail -n 40 "$work.job-$j.log" >&2
			status=1
		fi
		j=$((j + 1))
	done
	# libFuzzer's final stats: executions and rate of each job, summed.
	for log in "$work".job-*.log; do
		grep -h '	DONE ' "$log" | sed "s|^|== $t: $(basename "$log"): |"
	done
	cat "$work".job-*.log | awk -v t="$t" '
		/^stat::number_of_executed_units:/ { runs += $2; jobs++ }
		/^stat::average_exec_per_sec:/ { rate += $2 }
		END { printf "== %s: %d executions in %d job(s), %d exec/s together\n", t, runs, jobs, rate }'
	"$exe" -merge=1 -dict=fuzz/qmp.dict "$corpus" "$work" >/dev/null 2>&1 ||
		echo "== $t: merging into $corpus failed" >&2
	echo "== $t: corpus now $(ls "$corpus" | wc -l) files"
done
exit $status
