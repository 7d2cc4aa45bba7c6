#!/bin/bash
# Stream-socket figures for bench/RESULTS.md: 64-byte frames between two
# clients writing batches, QEMU-like clients writing one frame per write,
# and N ports (2 to 1,024) each sending to the next: frames/s, the switch's
# CPU per frame and its memory (RSS).  The daemon runs in a namespace of its
# own (its default host vNIC stays there).
#   bench/stream/run.sh [DURATION] [PORTS...]
set -eu
D=${1:-5}; shift || true
PORTS=${*:-2 8 64 256 1024}
B=${VSWITCH_BENCH_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build-bench}
T=$(mktemp -d); NS=vsstream$$
cleanup() { ip netns pids $NS 2>/dev/null | xargs -r kill -9; ip netns del $NS 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
ip netns add $NS
ip netns exec $NS "$B/src/daemon/vswitchd" --rundir "$T/r" --statedir "$T/s" --log-level warn &
C="$B/src/cli/vswitchctl --rundir $T/r"
for i in $(seq 50); do $C switch list >/dev/null 2>&1 && break; sleep 0.1; done
$C switch create s0 --type private >/dev/null
PID=$(ip netns pids $NS | head -1)
rss() { awk '/VmRSS/ {print $2}' /proc/$PID/status; }
peak() { awk '/VmHWM/ {print $2}' /proc/$PID/status; }
reset_peak() { echo 5 > /proc/$PID/clear_refs; }
echo "idle RSS: $(rss) KiB"
ulimit -n 8192
"$B/bench/stream/stream-bench" --sock "$T/r/s0/plug.sock" --ports 2 --duration "$D" --pid "$PID"
"$B/bench/stream/stream-bench" --sock "$T/r/s0/plug.sock" --ports 2 --duration "$D" --pid "$PID" --single
for n in $PORTS; do
	reset_peak
	r=$("$B/bench/stream/stream-bench" --sock "$T/r/s0/plug.sock" --ports "$n" --duration "$D" \
		--pid "$PID")
	echo "$r peak_rss_kib=$(peak)"
	sleep 2 # the switch closes the ports
	echo "  after: RSS $(rss) KiB, ports left $($C --json port list s0 | jq length)"
done
