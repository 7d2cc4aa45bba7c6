#!/bin/bash
# Quick datapath probe: two namespace hosts joined through vswitchd's netdev
# ports (veth, offloads off), 64-byte UDP from iperf3 for DURATION seconds.
# Prints frames forwarded per second and the switch's CPU time per frame.
#   bench/udp-probe.sh [DURATION] [vswitchd options...]
# PROBE_TCP=1: one TCP stream instead, veth offloads left on (64 KB segments);
# PROBE_TCP=off: one TCP stream with offloads off.  PROBE_GRO=on|off: set GRO
# on the switch's veth ends by hand first.  PROBE_NICE=N / PROBE_CPU=LIST:
# renice / pin vswitchd once it runs (tried for 64-byte UDP: neither moved the
# received rate, see doc/design.md).  PROBE_PIN="CPU CPU": pin the iperf3
# sender and receiver.  PROBE_CC=cubic|bbr|...: the TCP sender's congestion
# control (default: the system's).  PROBE_JSON=FILE: keep iperf3's report.  PROBE_BRIDGE=1: a Linux bridge instead of vswitchd,
# for a peer figure on the same setup.
# VSWITCH_BENCH_BUILD: the build (default build-bench).  Not a benchmark of
# record (see bench/run.sh): a tool for trying datapath changes.
set -eu
D=${1:-4}; shift || true
B=${VSWITCH_BENCH_BUILD:-$(cd "$(dirname "$0")/.." && pwd)/build-bench}
T=$(mktemp -d); P=vsp$$
cleanup() {
	for n in a b sw; do
		ip netns pids $P-$n 2>/dev/null | xargs -r kill -9
		ip netns del $P-$n 2>/dev/null || true
	done
	rm -rf "$T"
}
trap cleanup EXIT
for n in a b sw; do ip netns add $P-$n; ip -n $P-$n link set lo up; done
ip link add h0 netns $P-a type veth peer name swa netns $P-sw
ip link add h0 netns $P-b type veth peer name swb netns $P-sw
OFF="tx off tso off"; [ "${PROBE_TCP:-}" = 1 ] && OFF="tx on tso on"
for n in a b; do ip -n $P-$n link set h0 up; ip netns exec $P-$n ethtool -K h0 $OFF >/dev/null; done
ip -n $P-a addr add 10.77.0.1/24 dev h0; ip -n $P-b addr add 10.77.0.2/24 dev h0
for i in swa swb; do ip -n $P-sw link set $i up; ip netns exec $P-sw ethtool -K $i $OFF >/dev/null; done
if [ -n "${PROBE_GRO:-}" ]; then
	for i in swa swb; do ip netns exec $P-sw ethtool -K $i gro $PROBE_GRO; done
fi
if [ -n "${PROBE_BRIDGE:-}" ]; then
	ip -n $P-sw link add br0 type bridge
	ip -n $P-sw link set br0 up
	for i in swa swb; do ip -n $P-sw link set $i master br0; done
	sleep 1
else
	ip netns exec $P-sw "$B/src/daemon/vswitchd" --rundir "$T/r" --statedir "$T/s" --log-level warn "$@" 2>"${PROBE_LOG:-/dev/null}" &
	C="$B/src/cli/vswitchctl --rundir $T/r"
	for i in $(seq 50); do $C switch list >/dev/null 2>&1 && break; sleep 0.1; done
	$C switch delete vswitch0
	$C switch create b0 --type private >/dev/null
	$C port add b0 a --type netdev --ifname swa >/dev/null
	$C port add b0 b --type netdev --ifname swb >/dev/null
fi
ip netns exec $P-a ping -c 2 -q 10.77.0.2 >/dev/null
ip netns exec $P-a ping -c 50 -i 0.01 -q 10.77.0.2 | tail -1 | sed 's/^/ping: /'
read -r CS CR <<<"${PROBE_PIN:-}"
PS=${CS:+taskset -c $CS} PR=${CR:+taskset -c $CR}
ip netns exec $P-b $PR iperf3 -s -1 -D
sleep 0.3
if [ -z "${PROBE_BRIDGE:-}" ]; then
	PID=$(ip netns pids $P-sw | head -1)
	[ -z "${PROBE_NICE:-}" ] || renice -n "$PROBE_NICE" -p "$PID" >/dev/null
	[ -z "${PROBE_CPU:-}" ] || taskset -a -p -c "$PROBE_CPU" "$PID" >/dev/null
	read -r -a s0 < /proc/$PID/stat
	F0=$($C --json stats b0 b | jq '.[0].stats.tx_packets')
fi
PERF=""
if [ -n "${PROBE_PERF:-}" ]; then
	perf record -q -e cpu-clock -F 4000 -g -p "$PID" -o "$PROBE_PERF" -- sleep "$D" 2>/dev/null &
	PERF=$!
fi
if [ -n "${PROBE_TCP:-}" ]; then
	ip netns exec $P-a $PS iperf3 -c 10.77.0.2 ${PROBE_CC:+-C $PROBE_CC} -t "$D" -J > "$T/ipf.json"
else
	ip netns exec $P-a $PS iperf3 -c 10.77.0.2 -u -l 64 -b 0 -t "$D" -J > "$T/ipf.json"
fi
[ -z "$PERF" ] || wait "$PERF" # not a bare wait: vswitchd is a job of this shell too
echo "iperf3: $(jq -c '(.end.sum_received // .end.sum) | {packets, lost_percent, bits_per_second}' "$T/ipf.json")"
[ -z "${PROBE_JSON:-}" ] || cp "$T/ipf.json" "$PROBE_JSON"
[ -n "${PROBE_TCP:-}" ] || echo "received: $(jq '.end.sum | ((.packets - .lost_packets) / .seconds | floor)' "$T/ipf.json") datagrams/s"
[ -z "${PROBE_BRIDGE:-}" ] || exit 0
read -r -a s1 < /proc/$PID/stat
F1=$($C --json stats b0 b | jq '.[0].stats.tx_packets')
FW=$((F1 - F0)); TICKS=$(( ${s1[13]} + ${s1[14]} - ${s0[13]} - ${s0[14]} ))
echo "forwarded: $((FW / D)) frames/s; switch CPU: $((TICKS / D))% of a core, $((TICKS * 10000000 / (FW + 1))) ns/frame"
echo "drops, moderated: $($C --json stats b0 | jq -c '[.[] | {(.name): (.stats | with_entries(select((.key | test("drop|moderated")) and .value > 0)))}] | add')"
