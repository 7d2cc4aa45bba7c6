#!/bin/sh
# Install, build and run every test; the last line is "N passed, N failed".
#   sudo ./test.sh [pytest arguments, e.g. -k learning]
# Tests run as root in network namespaces they create and always remove.
# The build under test uses AddressSanitizer and UndefinedBehaviorSanitizer.
set -eu
cd "$(dirname "$0")"
./scripts/deps.sh test
B=build-test
[ -f $B/build.ninja ] || meson setup $B -Dbuildtype=debug -Db_sanitize=address,undefined \
	-Db_lundef=false -Dwerror=true >/dev/null
ninja -C $B >/dev/null || { ninja -C $B; echo "0 passed, 1 failed"; exit 1; }
# The libFuzzer targets, built with clang (tests/test_fuzz.py runs them).
F=build-fuzz
[ -f $F/build.ninja ] || CC=clang meson setup $F -Dfuzz=true -Dtests=false \
	-Db_sanitize=address,undefined -Db_lundef=false >/dev/null
ninja -C $F >/dev/null || { ninja -C $F; echo "0 passed, 1 failed"; exit 1; }
export VSWITCH_BUILD="$PWD/$B" VSWITCH_FUZZ_BUILD="$PWD/$F"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=0"
rc=0
/usr/bin/python3 -m pytest tests -p no:cacheprovider -q -rfE --junitxml=$B/results.xml "$@" &
pid=$!
trap 'kill $pid 2>/dev/null' INT TERM
wait $pid || rc=$?
# Namespaces a killed test run could not remove (they carry pytest's PID).
for ns in $(ip netns list | awk '{print $1}' | grep "^vst${pid}x" || true); do
	ip netns pids "$ns" | xargs -r kill -9
	ip netns del "$ns"
done
/usr/bin/python3 scripts/summary.py $B/results.xml
