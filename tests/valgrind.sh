#!/bin/sh
# The integration tests with vswitchd under valgrind --leak-check=full
# (a build without sanitizers): a test fails if its daemon leaked, read or
# wrote memory it should not have, or used an uninitialised value.  Slow;
# not part of test.sh.  Reports the summary line of test.sh.
#   tests/valgrind.sh [pytest arguments]   (default: tests/netns)
set -eu
cd "$(dirname "$0")/.."
./scripts/deps.sh test
B=build-valgrind
[ -f $B/build.ninja ] || meson setup $B -Dbuildtype=debugoptimized >/dev/null
ninja -C $B >/dev/null
export VSWITCH_BUILD="$PWD/$B"
export VSWITCH_DAEMON_WRAP="valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --track-origins=yes --log-file={log}.vg"
[ $# -gt 0 ] || set -- tests/netns
/usr/bin/python3 -m pytest -p no:cacheprovider -q --junitxml=$B/results.xml "$@" || true
/usr/bin/python3 scripts/summary.py $B/results.xml
