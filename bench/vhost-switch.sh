#!/bin/sh
# The `custom` backend for ../shared/bench/vhost/vhost-bench.sh: vswitchd,
# busy-polling (as testpmd and OVS-DPDK do), with one private switch whose
# two vhost-user ports serve the harness's sockets.
#   vhost-bench.sh custom --no-taskset -- bench/vhost-switch.sh {sock0} {sock1} {cpu}
# The daemon runs in a network namespace of its own (unshare -n), so its
# default host vNIC never appears in the machine's namespace; it is pinned to
# core {cpu}, the core the harness gives every backend.
# VSWITCH_BENCH_BUILD: the build to use (default build-bench, a release build).
set -eu
B=${VSWITCH_BENCH_BUILD:-$(cd "$(dirname "$0")/.." && pwd)/build-bench}
S0=$1 S1=$2 CPU=${3:-1}
R=$(mktemp -d)
C="$B/src/cli/vswitchctl --rundir $R/run"
pid=
stop() { [ -z "$pid" ] || kill "$pid" 2>/dev/null; wait; rm -rf "$R" "$S0" "$S1"; }
trap 'stop; exit 0' TERM INT
trap stop EXIT
taskset -c "$CPU" unshare -n "$B/src/daemon/vswitchd" --rundir "$R/run" --statedir "$R/state" \
	--log-level warn --busy-poll &
pid=$!
i=0
until $C switch list >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -lt 100 ] || exit 1; sleep 0.05
done
$C switch delete vswitch0 >/dev/null
$C switch create b0 --type private >/dev/null
$C port add b0 a --type vhost-user >/dev/null
$C port add b0 b --type vhost-user >/dev/null
# The harness connects to the paths it chose; point them at the switch's.
ln -s "$R/run/b0/a.sock" "$S0"
ln -s "$R/run/b0/b.sock" "$S1"
wait "$pid"
