#!/bin/sh
# The `custom` switch for ../shared/bench/veth/bench.sh: vswitchd with one
# private switch whose two netdev ports are the harness's veth ends.
#   bench.sh custom --attach 'exec bench/vswitch-attach.sh "$1" "$2" [vswitchd options]'
# VSWITCH_BENCH_BUILD: the build to use (default build-bench, a release build).
set -eu
B=${VSWITCH_BENCH_BUILD:-$(dirname "$0")/../build-bench}
R=${CB_RUNDIR:-$(mktemp -d)}
IF_A=$1 IF_B=$2
shift 2
"$B/src/daemon/vswitchd" --rundir "$R/run" --statedir "$R/state" --log-level warn "$@" &
pid=$!
i=0
until "$B/src/cli/vswitchctl" --rundir "$R/run" switch list >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -lt 100 ] || exit 1; sleep 0.05
done
C="$B/src/cli/vswitchctl --rundir $R/run"
$C switch delete vswitch0 >/dev/null
$C switch create b0 --type private >/dev/null
$C port add b0 a --type netdev --ifname "$IF_A" >/dev/null
$C port add b0 b --type netdev --ifname "$IF_B" >/dev/null
wait $pid
