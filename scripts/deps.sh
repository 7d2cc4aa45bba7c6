#!/bin/sh
# Install what vswitch needs from Debian's packages (Debian 12).
#   scripts/deps.sh run    build and run the switch
#   scripts/deps.sh test   ... and run every test
#   scripts/deps.sh bench  ... and the benchmarks' peers
# Quick when everything is there already.
set -eu
BUILD="gcc meson ninja-build pkg-config libmnl-dev libjansson-dev libcmocka-dev"
RUN="iproute2 kmod"
TEST="python3 python3-pytest iputils-ping dnsmasq-base busybox-static ethtool procps
      qemu-system-x86 linux-image-amd64 cpio gzip xz-utils zstd valgrind
      clang libclang-rt-14-dev"
BENCH="iperf3 jq vde2 openvswitch-switch openvswitch-switch-dpdk dpdk dpdk-dev libpcap-dev bc socat
       libxdp-dev libbpf-dev"

case "${1:-run}" in
run) want="$BUILD $RUN" ;;
test) want="$BUILD $RUN $TEST" ;;
bench) want="$BUILD $RUN $TEST $BENCH" ;;
*) echo "usage: $0 run|test|bench" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing; run as root (sudo) to install them" >&2
	exit 1
fi
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# linux-image-amd64 only provides a kernel for test guests; nothing boots it.
apt-get install -y -qq --no-install-recommends $missing >&2
