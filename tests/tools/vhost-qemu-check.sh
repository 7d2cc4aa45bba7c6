#!/bin/sh
# Two QEMU guests (TCG) with virtio-net on vhost-user ports of vhost-harness:
# each pings the other, then guest 2 sends 20 MB over TCP to guest 1 (partial
# checksums and TSO frames cross the switch).  Prints one VSCHECK line per
# check and exits non-zero if one failed.
#
#   tests/tools/vhost-qemu-check.sh [BUILD_DIR]      (default: build)
#
# Needs qemu-system-x86_64, a static busybox and the host's kernel with its
# virtio modules (/boot/vmlinuz-*, /lib/modules/*): the guest is a tiny
# initramfs made here, nothing is downloaded.  Under TCG QEMU 7.2 needs
# vectors=0 on virtio-net-pci (it crashes wiring MSI-X irqfds otherwise).
set -eu

BUILD=${1:-build}
HARNESS=$BUILD/tests/tools/vhost-harness
KVER=${KVER:-$(ls /lib/modules | sort | tail -1)}
KERNEL=${KERNEL:-/boot/vmlinuz-$KVER}
MODDIR=/lib/modules/$KVER/kernel
BUSYBOX=${BUSYBOX:-$(command -v busybox)}
TIMEOUT=${TIMEOUT:-240}

for f in "$HARNESS" "$KERNEL" "$BUSYBOX"; do
	[ -e "$f" ] || { echo "vhost-qemu-check: missing $f" >&2; exit 2; }
done
command -v qemu-system-x86_64 >/dev/null || { echo "vhost-qemu-check: no qemu" >&2; exit 2; }

W=$(mktemp -d /tmp/vhost-qemu.XXXXXX)
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[ -n "${KEEP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT INT TERM

# The guest: busybox, the virtio-net modules, and an init that configures
# 10.0.0.N (N from vsid= on the command line) and runs the checks.
R=$W/root
mkdir -p "$R/bin" "$R/proc" "$R/sys" "$R/dev" "$R/mod" "$R/tmp"
cp "$BUSYBOX" "$R/bin/busybox"
for m in virtio/virtio.ko virtio/virtio_ring.ko virtio/virtio_pci_legacy_dev.ko \
	 virtio/virtio_pci_modern_dev.ko virtio/virtio_pci.ko; do
	cp "$MODDIR/drivers/$m"* "$R/mod/"
done
cp "$MODDIR/net/core/failover.ko"* "$MODDIR/drivers/net/net_failover.ko"* \
   "$MODDIR/drivers/net/virtio_net.ko"* "$R/mod/"
cat > "$R/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci \
	 failover net_failover virtio_net; do
	insmod /mod/$m.ko* || echo "VSGUEST insmod $m failed"
done
[ -e /sys/class/net/eth0 ] || { echo "VSGUEST no eth0:"; dmesg | tail -20; }
id=$(sed -n 's/.*vsid=\([0-9]\).*/\1/p' /proc/cmdline)
peer=$((3 - id))
ip link set lo up
ip link set eth0 up
ip addr add 10.0.0.$id/24 dev eth0
echo "VSGUEST $id up: $(cat /sys/class/net/eth0/address)"
sleep 3
if ping -c 5 -W 5 10.0.0.$peer > /tmp/ping 2>&1; then
	echo "VSGUEST $id ping ok: $(grep 'packets' /tmp/ping)"
else
	echo "VSGUEST $id ping FAILED: $(cat /tmp/ping)"
fi
if [ "$id" = 1 ]; then
	sleep 60 | nc -l -p 5001 > /tmp/got &  # stdin open: EOF would close it
	sleep 20
	echo "VSGUEST 1 tcp received $(wc -c < /tmp/got) bytes"
else
	sleep 5
	t0=$(date +%s)
	dd if=/dev/zero bs=65536 count=320 2>/dev/null | nc 10.0.0.1 5001
	echo "VSGUEST 2 tcp sent (nc status $?) in $(( $(date +%s) - t0 )) s"
	sleep 10
fi
echo "VSGUEST $id tcp: $(grep Tcp: /proc/net/snmp | tail -1)"
echo "VSGUEST $id done"
poweroff -f
EOF
chmod +x "$R/init"
(cd "$R" && find . | cpio -o -H newc 2>/dev/null | gzip -1) > "$W/initramfs.gz"

S0=$W/s0
S1=$W/s1
"$HARNESS" "$S0" "$S1" > "$W/harness.out" 2> "$W/harness.err" &
PIDS="$PIDS $!"
HP=$!
i=0
while [ ! -S "$S1" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done

for id in 1 2; do
	sock=$W/s$((id - 1))
	qemu-system-x86_64 -machine q35,accel=tcg -cpu max -m 256 -smp 1 -nographic -nodefaults \
		-no-user-config \
		-object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem \
		-chardev socket,id=c0,path="$sock",server=off \
		-netdev vhost-user,id=n0,chardev=c0,queues=1 \
		-device virtio-net-pci,netdev=n0,mac=52:54:00:00:00:0$id,romfile=,vectors=0 \
		-serial file:"$W/console$id.log" -monitor none -display none -no-reboot \
		-kernel "$KERNEL" -initrd "$W/initramfs.gz" \
		-append "console=ttyS0 panic=-1 quiet vsid=$id" > "$W/qemu$id.out" 2>&1 &
	PIDS="$PIDS $!"
done

t=0
while [ $t -lt "$TIMEOUT" ]; do
	if grep -q "VSGUEST 1 done" "$W/console1.log" 2>/dev/null &&
	   grep -q "VSGUEST 2 done" "$W/console2.log" 2>/dev/null; then
		break
	fi
	sleep 2
	t=$((t + 2))
done

kill "$HP" 2>/dev/null || true
sleep 0.5
grep -h VSGUEST "$W/console1.log" "$W/console2.log" || true
sed 's/^/harness: /' "$W/harness.out"
grep -E "running|stopped|warn" "$W/harness.err" | sed 's/^/harness: /' || true

fail=0
for id in 1 2; do
	if grep -q "VSGUEST $id ping ok" "$W/console$id.log" 2>/dev/null; then
		echo "VSCHECK guest$id-ping: ok"
	else
		echo "VSCHECK guest$id-ping: FAILED"
		fail=1
	fi
done
if grep -q "tcp received 20971520 bytes" "$W/console1.log" 2>/dev/null; then
	echo "VSCHECK tcp-20MB: ok"
else
	echo "VSCHECK tcp-20MB: FAILED"
	fail=1
fi
if grep -q "resets=[1-9]" "$W/harness.out"; then
	echo "VSCHECK no-resets: FAILED"
	fail=1
fi
[ $fail = 0 ] || { KEEP=1; echo "vhost-qemu-check: logs kept in $W" >&2; }
exit $fail
