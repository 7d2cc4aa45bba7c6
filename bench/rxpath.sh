#!/bin/bash
# Does AF_XDP on veth pay off over an AF_PACKET ring?  One namespace blasts
# 106-byte UDP frames (bench/rxpath.c send) into a veth; the other end is
# read by one thread through each receive path in turn, ROUNDS times
# interleaved so that the machine's noise falls on all of them alike.
#   bench/rxpath.sh [SECONDS] [ROUNDS] [MODES]
# MODES default: "v2 v2+50 v3 xdp" (v2+N: the V2 ring read every N
# microseconds under load, as vswitchd --rx-usecs N).  Prints one line per run: the sender's
# rate, the receiver's line (see rxpath.c), and the system's busy CPU per
# received frame (from /proc/stat, all cores: the kernel's share included).
set -eu
S=${1:-5}; R=${2:-3}; MODES=${3:-v2 v2+50 v3 xdp}
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d); P=vrx$$
cleanup() {
	for n in s r; do
		ip netns pids $P-$n 2>/dev/null | xargs -r kill -9
		ip netns del $P-$n 2>/dev/null || true
	done
	rm -rf "$T"
}
trap cleanup EXIT
cc -O2 -Wall -o "$T/rxpath" "$HERE/rxpath.c" -lxdp -lbpf
for n in s r; do ip netns add $P-$n; ip -n $P-$n link set lo up; done
ip link add tx0 netns $P-s type veth peer name rx0 netns $P-r
ip -n $P-s link set tx0 up; ip -n $P-r link set rx0 up
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8, $5+$6}' /proc/stat; }
one() { # MODE ROUND: one measurement; fails if the receiver failed
	local m=$1 us=0 RX b0 i0 b1 i1 frames
	case $m in v2+*) us=${m#v2+} ;; esac
	ip netns exec $P-r env COALESCE_US=$us "$T/rxpath" "${m%%+*}" rx0 $((S + 2)) > "$T/rx" &
	RX=$!
	sleep 1
	read -r b0 i0 < <(busy)
	ip netns exec $P-s "$T/rxpath" send tx0 "$S" > "$T/tx"
	read -r b1 i1 < <(busy)
	wait $RX || return 1
	frames=$(sed -n 's/.*frames=\([0-9]*\).*/\1/p' "$T/rx")
	awk -v r="$2" -v tx="$(cat "$T/tx")" -v rx="$m $(cut -d' ' -f2- "$T/rx")" \
		-v b=$((b1 - b0)) -v f="$frames" -v hz="$(getconf CLK_TCK)" -v s="$S" \
		'BEGIN { split(tx, t, " "); printf "round %s  sent %7.0f/s  received %7.0f/s  %s  busy %.2f cores  %.2f us/frame\n", r, t[3], f / s, rx, b / hz / s, f ? b / hz / f * 1e6 : 0 }'
}
for round in $(seq "$R"); do
	for m in $MODES; do
		# Once more if the receiver could not start (AF_XDP: the previous
		# program may still be leaving the interface).
		one "$m" "$round" || { sleep 1; one "$m" "$round"; } || echo "round $round $m failed" >&2
	done
done
