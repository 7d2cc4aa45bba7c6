#!/bin/sh
# Long fuzzing runs, one target after the other, from the seed corpora.
#   tests/fuzz/run-long.sh [RUNS]      (default 10000000 executions each)
# Needs the fuzz build: CC=clang meson setup build-fuzz -Dfuzz=true -Dtests=false \
#   -Db_sanitize=address,undefined -Db_lundef=false && ninja -C build-fuzz
# Prints one line per target: executions and the result; inputs that fail
# are left in build-fuzz/findings/.  fuzz-ctl needs root (its own netns).
set -u
cd "$(dirname "$0")/../.."
RUNS=${1:-10000000}
mkdir -p build-fuzz/findings
for corpus in tests/fuzz/corpus/*; do
	t=$(basename "$corpus")
	work=build-fuzz/long-corpus/$t
	mkdir -p "$work"
	dict=""
	[ -f tests/fuzz/$t.dict ] && dict="-dict=tests/fuzz/$t.dict"
	start=$(date +%s)
	build-fuzz/tests/fuzz/$t $dict -runs="$RUNS" -max_len=4096 -timeout=10 \
		-artifact_prefix=build-fuzz/findings/$t- "$work" "$corpus" \
		>build-fuzz/findings/$t.log 2>&1
	rc=$?
	done_line=$(grep -E "^Done [0-9]+ runs" build-fuzz/findings/$t.log | tail -1)
	echo "$t: rc=$rc ${done_line:-no Done line} ($(($(date +%s) - start)) s)"
done
