#!/bin/bash
# Soak: eight ports of four kinds on one internal switch, steady traffic
# below capacity for DURATION seconds (default 600), ports added and removed
# every second throughout.  Writes bench/SOAK.md: the daemon's RSS over
# time, frames sent and received per flow, and every drop with its reason.
#
#   sudo bench/soak.sh [DURATION]
#
#   ns c1 (10.20.0.11) ==veth== c1p  --+
#   ns c2 (10.20.0.12) ==veth== c2p  --+
#   vhost-peer ==vhost-user== va, vb --+-- switch s0 (internal, host vNIC 10.20.0.1)
#   stream-bench ==plug.sock== 2 ports --+
#   churn: stream/dgram ports and plug clients come and go, one a second
set -eu
D=${1:-600}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${VSWITCH_BENCH_BUILD:-$ROOT/build-bench}
OUT=${SOAK_OUT:-$ROOT/bench/SOAK.md}
"$ROOT/scripts/deps.sh" bench >/dev/null
[ -f "$B/build.ninja" ] || meson setup "$B" -Dbuildtype=release -Dtests=false >/dev/null
ninja -C "$B" >/dev/null
T=$(mktemp -d); P=vsoak$$
cleanup() {
	for ns in $P-h $P-c1 $P-c2; do
		ip netns pids $ns 2>/dev/null | xargs -r kill -9
		ip netns del $ns 2>/dev/null || true
	done
	kill $(jobs -p) 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
for ns in h c1 c2; do ip netns add $P-$ns; ip -n $P-$ns link set lo up; done
H=$P-h
ip netns exec $H "$B/src/daemon/vswitchd" --rundir "$T/r" --statedir "$T/s" --log-level warn \
	2>"$T/vswitchd.log" &
C="$B/src/cli/vswitchctl --rundir $T/r"
for i in $(seq 50); do $C switch list >/dev/null 2>&1 && break; sleep 0.1; done
$C switch delete vswitch0
$C switch create s0 --type internal >/dev/null
ip -n $H addr add 10.20.0.1/24 dev s0
for n in 1 2; do
	ip link add eth0 netns $P-c$n type veth peer name c${n}p netns $H
	ip -n $P-c$n link set eth0 up
	ip -n $P-c$n addr add 10.20.0.1$n/24 dev eth0
	$C port add s0 c$n --type netdev --ifname c${n}p >/dev/null
done
$C port add s0 va --type vhost-user >/dev/null
$C port add s0 vb --type vhost-user >/dev/null
PID=$(ip netns pids $H | head -1)
rss() { awk '/VmRSS/ {print $2}' /proc/$PID/status 2>/dev/null || echo dead; }
ip netns exec $P-c1 ping -c 3 -q 10.20.0.12 >/dev/null

RSS0=$(rss); START=$(date -u +%FT%TZ)
echo "t_s,rss_kib" > "$T/rss.csv"
# Flows, each well below what the machine carries (see bench/RESULTS.md).
ip netns exec $P-c2 iperf3 -s -1 -D -J --logfile "$T/iperf-server.json"
sleep 0.5
ip netns exec $P-c1 iperf3 -c 10.20.0.12 -u -l 1000 -b 40M -t "$D" -J > "$T/iperf.json" &
FLOWS="$!"
ip netns exec $P-c1 ping -q -i 0.2 -w "$D" 10.20.0.1 > "$T/ping-host.txt" &
FLOWS="$FLOWS $!"
"$B/tests/tools/vhost-peer" --irq --port "$T/r/s0/va.sock,tx,mac=02:50:00:00:00:0a,dst=02:50:00:00:00:0b" \
	--port "$T/r/s0/vb.sock,rx,mac=02:50:00:00:00:0b" -r 20000 -d "$D" > "$T/vhost.txt" 2>&1 &
FLOWS="$FLOWS $!"
ulimit -n 4096
"$B/bench/stream/stream-bench" --sock "$T/r/s0/plug.sock" --ports 2 --rate 20000 --duration "$D" \
	> "$T/stream.txt" 2>&1 &
FLOWS="$FLOWS $!"
# Churn: a port added and one removed every second, plug clients in and out.
(
	i=0
	end=$(( $(date +%s) + D ))
	while [ "$(date +%s)" -lt "$end" ]; do
		i=$((i + 1))
		$C port add s0 x$((i % 20)) --type stream >/dev/null 2>&1 || true
		$C port add s0 y$((i % 20)) --type dgram >/dev/null 2>&1 || true
		$C port delete s0 x$(((i + 10) % 20)) >/dev/null 2>&1 || true
		$C port delete s0 y$(((i + 10) % 20)) >/dev/null 2>&1 || true
		timeout 0.3 socat -u /dev/null UNIX-CONNECT:"$T/r/s0/plug.sock" 2>/dev/null || true
		sleep 1
	done
) &
FLOWS="$FLOWS $!"
t=0
while [ $t -lt "$D" ]; do
	echo "$t,$(rss)" >> "$T/rss.csv"
	sleep 10
	t=$((t + 10))
done
for f in $FLOWS; do wait "$f" || true; done # each flow reports in its own output
if ! kill -0 "$PID" 2>/dev/null; then
	echo "soak: vswitchd died during the run; its log:" >&2
	cat "$T/vswitchd.log" >&2
	exit 1
fi
sleep 1
RSS1=$(rss)
$C --json stats s0 > "$T/stats.json"
# Where datagrams the switch delivered were lost after it: c2's own kernel.
ip netns exec $P-c2 nstat -saz UdpInDatagrams UdpRcvbufErrors UdpInErrors 2>/dev/null |
	awk 'NR > 1 {printf "%s%s %s", sep, $1, $2; sep = ", "}' > "$T/c2-nstat" || true
$C --json switch show s0 > "$T/switch.json"

{
	echo "# Soak run"
	echo
	echo "Started $START, $D s. Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, Linux $(uname -r). Command: \`sudo bench/soak.sh $D\`."
	echo
	echo "| | |"
	echo "|---|---|"
	echo "| daemon RSS at start | $RSS0 KiB |"
	echo "| daemon RSS at end | $RSS1 KiB |"
	echo "| RSS min..max over the run (every 10 s) | $(tail -n +2 "$T/rss.csv" | awk -F, 'NR == 1 || $2 < lo {lo = $2} NR == 1 || $2 > hi {hi = $2} END {print lo ".." hi}') KiB |"
	echo "| ports churned (added and removed) | about $((D * 4)) |"
	echo
	echo "## Flows"
	echo
	echo "| flow | sent | received | lost |"
	echo "|---|---|---|---|"
	jq -r '"| c1 -> c2 netdev, iperf3 UDP 1000 B at 40 Mbit/s | \(.end.sum.packets) | \(.end.sum.packets - .end.sum.lost_packets) | \(.end.sum.lost_packets) (\(.end.sum.lost_percent)%) |"' "$T/iperf.json" 2>/dev/null || echo "| iperf3 | (no result) | | |"
	echo "| c1 -> host vNIC, ping every 0.2 s | $(grep -oE '[0-9]+ packets transmitted' "$T/ping-host.txt" | cut -d' ' -f1) | $(grep -oE '[0-9]+ received' "$T/ping-host.txt" | cut -d' ' -f1) | $(grep -oE '[0-9.]+% packet loss' "$T/ping-host.txt") |"
	echo "| vhost-user va -> vb, 20 kpps | $(grep -oE 'tx=[0-9]+' "$T/vhost.txt" | head -1) | $(grep -oE 'rx=[0-9]+' "$T/vhost.txt" | head -1) | see below |"
	echo "| stream plug -> plug, 20 kfps | $(grep -oE 'tx_fps=[0-9]+' "$T/stream.txt") | $(grep -oE 'rx_fps=[0-9]+' "$T/stream.txt") | $(grep -oE 'loss_pct=[0-9.]+' "$T/stream.txt") |"
	echo
	echo "vhost-peer: \`$(tail -1 "$T/vhost.txt")\`"
	echo
	echo "c2's kernel (UDP receiver; losses after the switch delivered): $(cat "$T/c2-nstat")"
	echo
	echo "## Drops by port and reason (the switch's counters at the end)"
	echo
	jq -r '.[] | "- \(.name): rx \(.stats.rx_packets), tx \(.stats.tx_packets), " + ([.stats | to_entries[] | select((.key | test("drop_|refused|resets")) and .value > 0) | "\(.key)=\(.value)"] | if length == 0 then "no drops" else join(", ") end)' "$T/stats.json"
	echo
	echo "Switch: $(jq -c .stats "$T/switch.json")"
	echo
	echo "RSS samples (s, KiB): $(tail -n +2 "$T/rss.csv" | tr '\n' ' ')"
	echo
	echo "Warnings and errors the daemon logged: $(grep -cE 'warn|error' "$T/vswitchd.log" || true)"
	echo
	grep -E 'warn|error' "$T/vswitchd.log" | sort | uniq -c | sort -rn | head -20 | sed 's/^/    /' || true
} > "$OUT"
cat "$OUT"
