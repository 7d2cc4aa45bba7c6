#!/bin/sh
# Long fuzzing runs from the seed corpora, one target after the other.
#   tests/fuzz/run-long.sh [RUNS [TARGET...]]   (default 10000000 executions each, every target)
# FUZZ_SECONDS=N stops each target after N seconds if it has not reached RUNS.
# Needs the fuzz build: CC=clang meson setup build-fuzz -Dfuzz=true -Dtests=false \
#   -Db_sanitize=address,undefined -Db_lundef=false && ninja -C build-fuzz
# Prints one line per target: executions, time and the result; inputs that
# fail are left in build-fuzz/findings/.  fuzz-ctl needs root (its own netns).
set -u
cd "$(dirname "$0")/../.."
RUNS=${1:-10000000}
[ $# -gt 0 ] && shift
TARGETS=${*:-$(ls tests/fuzz/corpus)}
mkdir -p build-fuzz/findings
for t in $TARGETS; do
	corpus=tests/fuzz/corpus/$t
	work=build-fuzz/long-corpus/$t
	mkdir -p "$work"
	dict=""
	[ -f tests/fuzz/$t.dict ] && dict="-dict=tests/fuzz/$t.dict"
	limit=""
	[ -n "${FUZZ_SECONDS:-}" ] && limit="-max_total_time=$FUZZ_SECONDS"
	start=$(date +%s)
	build-fuzz/tests/fuzz/$t $dict -runs="$RUNS" $limit -max_len=4096 -timeout=10 \
		-print_final_stats=1 -artifact_prefix=build-fuzz/findings/$t- "$work" "$corpus" \
		>build-fuzz/findings/$t.log 2>&1
	rc=$?
	execs=$(awk '/stat::number_of_executed_units:/ {print $2}' build-fuzz/findings/$t.log | tail -1)
	result="no finding"
	[ $rc = 0 ] || result="FINDING or error (rc=$rc, see build-fuzz/findings/$t.log)"
	echo "$t: ${execs:-?} executions in $(($(date +%s) - start)) s: $result"
done
