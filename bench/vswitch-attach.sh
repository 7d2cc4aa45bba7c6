#!/bin/sh
# The `custom` switch for ../shared/bench/veth/bench.sh: vswitchd with one
# private switch whose two netdev ports are the harness's veth ends.
#   bench.sh custom --attach 'exec bench/vswitch-attach.sh "$1" "$2" [vswitchd options]'
# VSWITCH_BENCH_BUILD: the build to use (default build-bench, a release build).
# VSWITCH_AUTOGROUP_NICE=N: lower (N > 0) the CPU weight of the switch's
# scheduling group (the harness starts it in a session of its own, which the
# kernel's autogroup scheduling weighs as much as all the other sessions'
# processes together); only done when this script leads its session, so a
# user's shell is never reniced.  See doc/design.md, "CPU weight".
set -eu
if [ -n "${VSWITCH_AUTOGROUP_NICE:-}" ]; then
	[ "$(ps -o sid= -p $$ | tr -d ' ')" = "$$" ] && [ -w /proc/self/autogroup ] ||
		{ echo "vswitch-attach: not a session leader, cannot set the autogroup's nice" >&2; exit 1; }
	echo "$VSWITCH_AUTOGROUP_NICE" >/proc/self/autogroup
fi
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
