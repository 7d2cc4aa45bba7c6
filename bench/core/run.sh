#!/bin/sh
# The forwarding core's cost in instructions per frame (callgrind): learned
# unicast with 1,000 to 1,000,000 stations, and broadcast to 2 to 1,024
# ports.  Deterministic: the same binary and CORE_COST_SEED (the MAC table's
# hash keys, default 1) give the same counts whatever the machine does.
#   bench/core/run.sh [BUILD_DIR]   (default build-bench)
# CORE_MACS, CORE_PORTS: the table sizes and port counts to measure.
set -eu
B=${1:-$(cd "$(dirname "$0")/../.." && pwd)/build-bench}
ninja -C "$B" bench/core/core-cost >/dev/null
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cost() { # MODE N -> instructions per frame in sw_input and its callees
	out=$(valgrind --tool=callgrind --toggle-collect=sw_input --callgrind-out-file="$T/cg" \
		"$B/bench/core/core-cost" "$1" "$2" 2>/dev/null)
	frames=$(echo "$out" | awk '{print $2}')
	ir=$(callgrind_annotate "$T/cg" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
	# The null port's own tx_burst (counting, freeing) is the backend's work,
	# not the core's: subtract it, inclusive of what it calls.
	be=$(callgrind_annotate --inclusive=yes "$T/cg" 2>/dev/null |
		awk '/:null_tx/ {gsub(",", "", $1); print $1; exit}')
	printf '%-8s %8s  core %6.1f  with-null-backend %6.1f  instructions/frame   (%s)\n' "$1" "$2" \
		"$(echo "scale=2; ($ir - ${be:-0}) / $frames" | bc)" "$(echo "scale=2; $ir / $frames" | bc)" \
		"$(echo "$out" | cut -d' ' -f3-)"
}
MACS=${CORE_MACS:-1000 10000 100000 1000000}
PORTS=${CORE_PORTS:-2 8 32 128 1024}
for m in $MACS; do cost unicast $m; done
for p in $PORTS; do cost flood $p; done
