#!/bin/bash
# Every benchmark figure in one command; writes bench/RESULTS.md with each
# figure next to its peers' from the same run, the command that measured it,
# and the machine.  Installs what it needs (scripts/deps.sh bench).
#
#   sudo bench/run.sh                 the full run (about an hour)
#   sudo bench/run.sh --quick         smoke run: every section, seconds each,
#                                     our switch and one peer; figures are not
#                                     meaningful (CI runs this)
#   options: --out FILE (default bench/RESULTS.md), --only LIST (comma list
#            of: idle,veth,rxpath,vhost,stream,core), --runs N (veth runs,
#            default 3),
#            --workdir DIR (keep the raw figures there; a section not run
#            this time keeps the figures DIR has from an earlier run, so
#            --only can measure one section again into a whole report)
#
# Peer harnesses come from ../shared/bench (VSWITCH_PEER_BENCH to change):
# veth/bench.sh (Linux bridge, vde_switch, Open vSwitch AF_PACKET and AF_XDP,
# bare veth) and vhost/vhost-bench.sh (DPDK testpmd, Open vSwitch with DPDK).
# Each measurement takes /tmp/vswitch-bench.lock, so benchmarks on a shared
# machine take turns.  Everything runs in namespaces the harnesses create.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEER=${VSWITCH_PEER_BENCH:-$ROOT/../shared/bench}
OUT=$ROOT/bench/RESULTS.md
QUICK=0 ONLY=idle,veth,rxpath,vhost,stream,core RUNS=3 W=
while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--out) OUT=$2; shift ;;
	--only) ONLY=$2; shift ;;
	--runs) RUNS=$2; shift ;;
	--workdir) W=$2; shift ;;
	*) echo "usage: $0 [--quick] [--out FILE] [--only LIST] [--runs N] [--workdir DIR]" >&2; exit 2 ;;
	esac
	shift
done
want() { [[ ",$ONLY," == *",$1,"* ]]; }
[ "$(id -u)" = 0 ] || { echo "bench/run.sh: run as root (namespaces, veths)" >&2; exit 1; }
[ -x "$PEER/veth/bench.sh" ] || { echo "bench/run.sh: no peer harness at $PEER" >&2; exit 1; }

"$ROOT/scripts/deps.sh" bench
B=${VSWITCH_BENCH_BUILD:-$ROOT/build-bench}
[ -f "$B/build.ninja" ] || meson setup "$B" "$ROOT" -Dbuildtype=release -Dtests=false >/dev/null
ninja -C "$B" >/dev/null
export VSWITCH_BENCH_BUILD=$B

if [ -n "$W" ]; then
	mkdir -p "$W"
else
	W=$(mktemp -d /tmp/vsbench.XXXXXX)
	trap 'rm -rf "$W"' EXIT
fi
# Namespaces of our own, so that two runs (or a run and CI's smoke run) never
# meet; their measurements still take turns through the lock.
export CB_PREFIX=${CB_PREFIX:-cb-vs$$}
log() { echo "bench: $*" >&2; }
COMMIT=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)
# How fast the shared machine is at the moment: seconds for a fixed loop on
# one core.  Other tenants' load makes it larger, and every figure of that
# section slower with it, peers' included.
probe() {
	local t0 t1
	t0=$(date +%s.%N)
	awk 'BEGIN { for (i = 0; i < 2e7; i++) s += i }'
	t1=$(date +%s.%N)
	echo "$t0 $t1" | awk '{ printf "%.2f\n", $2 - $1 }'
}
# Where the host runs our two CPUs at the moment (bench/xcore.c): ~130 ns
# on cores sharing a cache, ~460 ns apart.
cc -O2 -pthread -o "$W/xcore" "$ROOT/bench/xcore.c"
stamp() { # SECTION: when, from which commit, and how fast the machine was
	local p
	p="$(probe) xcore=$("$W/xcore")"
	{ grep -v "^$1 " "$W/sections" 2>/dev/null || true
	  echo "$1 $(date -u '+%Y-%m-%d %H:%M') $COMMIT probe=$p"; } >"$W/sections.new"
	mv "$W/sections.new" "$W/sections"
}
if [ $QUICK = 1 ]; then
	RUNS=1 T=1 IDLE=2 STREAM_D=1 STREAM_PORTS="2 8" VH="--duration 1 --warmup 1" VH_SIZES=64
	RXPATH="1 1"
	KINDS_OFF="bridge custom" KINDS_ON="custom"
	export CORE_MACS=1000 CORE_PORTS=2
	# No waiting for a quiet machine: the figures do not count.
	export CB_MAX_BG=0
	VH="$VH --retries 0"
else
	T=10 IDLE=30 STREAM_D=5 STREAM_PORTS="2 8 64 256 1024" VH= VH_SIZES="64 1518"
	RXPATH="5 3"
	KINDS_OFF="none bridge vde ovs ovs-afxdp custom custom-busy custom-nice custom-fixed"
	KINDS_ON="none bridge custom custom-nice custom-fixed"
fi
want veth && printf "quick=%s\nruns=%s\n" "$QUICK" "$RUNS" >"$W/params"

# --- the machine ---------------------------------------------------------
{
	echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "cpu=$(awk -F: '/^model name/ {sub(/^ +/, "", $2); print $2; exit}' /proc/cpuinfo)"
	echo "cores=$(nproc)"
	echo "mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
	echo "kernel=$(uname -r)"
	echo "os=$(. /etc/os-release; echo "$PRETTY_NAME")"
	echo "commit=$COMMIT"
	echo "packages=$(dpkg-query -W -f='${Package} ${Version}, ' iperf3 vde2 openvswitch-switch \
		openvswitch-switch-dpdk dpdk 2>/dev/null | sed 's/, $//')"
} >"$W/machine"

# --- idle: CPU with ports attached and no traffic --------------------------
idle() { # LABEL [vswitchd options]: CPU % of one core over $IDLE seconds
	local label=$1 r pid t0 t1; shift
	r=$(mktemp -d "$W/idle.XXXX")
	unshare -n "$B/src/daemon/vswitchd" --rundir "$r/run" --statedir "$r/state" \
		--log-level warn "$@" 2>"$r/log" &
	pid=$!
	local C="$B/src/cli/vswitchctl --rundir $r/run" i=0
	until $C switch list >/dev/null 2>&1; do i=$((i + 1)); [ $i -lt 100 ]; sleep 0.05; done
	$C port add vswitch0 vm1 --type vhost-user >/dev/null
	$C port add vswitch0 vm2 --type stream >/dev/null
	$C port add vswitch0 vm3 --type dgram >/dev/null
	sleep 1
	t0=$(awk '{print $14 + $15}' /proc/$pid/stat)
	sleep "$IDLE"
	t1=$(awk '{print $14 + $15}' /proc/$pid/stat)
	kill "$pid"; wait "$pid" || true
	echo "$label $(echo "scale=2; ($t1 - $t0) * 100 / $(getconf CLK_TCK) / $IDLE" | bc)" >>"$W/idle"
}
if want idle; then
	rm -f "$W/idle"
	log "idle CPU ($IDLE s each)"
	idle default
	idle busy-poll --busy-poll
	stamp idle
fi

# --- kernel ports: two namespace hosts through the switch (veth) ----------
if want veth; then
	rm -f "$W/veth.csv" "$W/veth-modes"
	# Each switch's run is bracketed by bench/xcore.c too (see vhost-user).
	veth_rows() { cat "$W/veth.csv" 2>/dev/null | grep -c "^$1,[0-9]*,$2," || true; }
	VB=$PEER/veth/bench.sh
	for r in $(seq "$RUNS"); do # interleaved: each run measures every switch once
		for off in off on; do
			kinds=$KINDS_OFF; [ $off = on ] && kinds=$KINDS_ON
			for k in $kinds; do
				log "veth run $r/$RUNS: $k, offloads $off"
				args=(-n 1 -t "$T" --offload "$off" --no-header --csv "$W/veth.csv")
				label=$k opt= nice=
				case $k in
				custom) label=vswitch ;;
				custom-busy) label=vswitch-busy-poll opt=--busy-poll ;;
				custom-nice) label=vswitch-autogroup-nice10 nice=10 ;;
				custom-fixed) label=vswitch-fixed-window opt="--rx-usecs-max 0" ;;
				esac
				n0=$(veth_rows "$label" "$off") m0=$("$W/xcore")
				if [ "$label" != "$k" ]; then
					VSWITCH_AUTOGROUP_NICE=$nice "$VB" "${args[@]}" --label $label custom \
						--attach "exec $ROOT/bench/vswitch-attach.sh \"\$1\" \"\$2\" $opt" >/dev/null ||
						log "$label run failed"
				else
					"$VB" "${args[@]}" "$k" >/dev/null || log "$k run failed"
				fi
				m1=$("$W/xcore")
				[ "$(veth_rows "$label" "$off")" -gt "$n0" ] &&
					echo "$label $off $n0 $m0 $m1" >>"$W/veth-modes" || true
			done
		done
	done
	stamp veth
fi

# --- receive paths on a bare veth: AF_PACKET rings, moderation, AF_XDP ----
if want rxpath; then
	log "receive paths on veth (AF_PACKET V2, V2 moderated, V3, AF_XDP)"
	# shellcheck disable=SC2086
	flock /tmp/vswitch-bench.lock "$ROOT/bench/rxpath.sh" $RXPATH >"$W/rxpath" 2>"$W/rxpath.log" ||
		log "rxpath run failed (see $W/rxpath.log)"
	stamp rxpath
fi

# --- vhost-user: two DPDK virtio_user endpoints through the switch --------
if want vhost; then
	rm -f "$W"/vhost-*.csv "$W"/vhost-*.log
	VHB=$PEER/vhost/vhost-bench.sh
	"$VHB" build >/dev/null 2>&1 || "$VHB" setup >/dev/null
	"$VHB" build >/dev/null
	# Trials interleaved (vswitch, testpmd, OVS, then again), one frame size
	# each, and each bracketed by bench/xcore.c: the host moves this VM's two
	# CPUs between cores that share a cache (a cache line crosses in ~130
	# ns) and cores that do not (~460 ns) every few seconds to minutes, and
	# every backend's figure moves 3x with it.  report.py compares backends
	# only between trials that began and ended in the same mode.
	rows() { [ -f "$1" ] && echo $(($(wc -l <"$1") - 1)) || echo 0; }
	vh_trial() { # NAME SIZE KIND [vhost-bench args]: one trial and its modes
		local name=$1 size=$2 kind=$3 n0 m0 m1
		shift 3
		n0=$(rows "$W/vhost-$name.csv")
		m0=$("$W/xcore")
		# shellcheck disable=SC2086
		"$VHB" "$kind" $VH --sizes "$size" --trials 1 --results "$W/vhost-$name.csv" \
			"$@" >>"$W/vhost-$name.log" 2>&1 || log "vhost-user $name run failed (see $W/vhost-$name.log)"
		m1=$("$W/xcore")
		[ "$(rows "$W/vhost-$name.csv")" -gt "$n0" ] &&
			echo "$name $n0 $m0 $m1" >>"$W/vhost-modes" || true
	}
	rm -f "$W/vhost-modes"
	ntrials=5; [ $QUICK = 1 ] && ntrials=1
	for t in $(seq $ntrials); do
		for size in $VH_SIZES; do
			log "vhost-user trial $t/$ntrials, $size B: vswitch"
			vh_trial vswitch "$size" custom --no-taskset -- \
				"$ROOT/bench/vhost-switch.sh" {sock0} {sock1} {cpu}
			[ $QUICK = 1 ] && continue
			log "vhost-user trial $t/$ntrials, $size B: testpmd io"
			vh_trial testpmd "$size" testpmd --fwd io
			log "vhost-user trial $t/$ntrials, $size B: OVS-DPDK NORMAL"
			vh_trial ovs "$size" ovs --ovs-flows normal
		done
	done
	stamp vhost
fi

# --- stream sockets, and 2 to 1,024 ports ---------------------------------
if want stream; then
	log "stream sockets and port scale"
	# shellcheck disable=SC2086
	"$ROOT/bench/stream/run.sh" "$STREAM_D" $STREAM_PORTS >"$W/stream" 2>&1 ||
		log "stream run failed"
	stamp stream
fi

# --- the forwarding core's cost (callgrind: deterministic) ----------------
if want core; then
	log "forwarding core cost (callgrind)"
	"$ROOT/bench/core/run.sh" "$B" >"$W/core" 2>&1 || log "core run failed"
	stamp core
fi

/usr/bin/python3 "$ROOT/bench/report.py" "$W" "$OUT"
log "wrote $OUT"
