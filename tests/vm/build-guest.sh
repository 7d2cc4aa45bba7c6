#!/bin/bash
# Build the tiny test guest used by the VM tests.
#
#   tests/vm/build-guest.sh OUTDIR
#
# Produces, from installed Debian packages only (linux-image-amd64,
# busybox-static; no network, no root-only step):
#   OUTDIR/vmlinux            the uncompressed kernel ELF, pulled out of the
#                             bzImage; QEMU boots it through PVH.  If that
#                             fails, OUTDIR/bzImage instead (slower boots).
#   OUTDIR/initramfs.cpio.gz  busybox, the NIC driver modules, tests/vm/init
#   OUTDIR/kernel-release     the kernel release the two belong to
#
# Idempotent: each output is rebuilt only when one of its inputs changed
# (recorded in OUTDIR/.stamp-*), so a second run takes a few milliseconds.
#
# Environment overrides:
#   VST_KERNEL=/boot/vmlinuz-X   kernel image (default: newest with modules)
#   VST_BUSYBOX=/bin/busybox     a statically linked busybox
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
out=$1
mkdir -p "$out"
out=$(cd "$out" && pwd)

say() { echo "build-guest: $*"; }
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }
die() { echo "build-guest: error: $*" >&2; exit 1; }

# Drivers the guest may need; their dependencies are added from modinfo.
# virtio_pci + virtio_net: virtio-net-pci (legacy, transitional, modern);
# e1000 and e1000e: QEMU's emulated Intel NICs.
WANT_MODULES="virtio_pci virtio_net e1000 e1000e"

# ---- pick the kernel -------------------------------------------------------
kernel=${VST_KERNEL:-}
if [ -z "$kernel" ]; then
    for k in $(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V -r); do
        if [ -d "/lib/modules/${k#/boot/vmlinuz-}/kernel" ]; then kernel=$k; break; fi
    done
fi
[ -n "$kernel" ] && [ -r "$kernel" ] || die "no readable /boot/vmlinuz-* with modules (install linux-image-amd64)"
kver=${kernel##*/vmlinuz-}
moddir=/lib/modules/$kver
[ -d "$moddir" ] || die "no $moddir for $kernel"

busybox=${VST_BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || die "no $busybox (install busybox-static)"
if command -v readelf >/dev/null && readelf -l "$busybox" 2>/dev/null | grep -q 'program interpreter'; then
    die "$busybox is dynamically linked (install busybox-static)"
fi

# A fingerprint of files: path, size and mtime for big packaged files,
# content hash for our own small sources.
statsig() { stat -L -c '%n %s %Y' "$@"; }
hashsig() { sha256sum "$@"; }

# ---- 1. vmlinux ------------------------------------------------------------
# The bzImage's payload is a compressed vmlinux; find it by the magic of the
# compressor the kernel was built with and decompress it with the usual tool.
extract_vmlinux() {
    local img=$1 dst=$2 magic tool off
    local config=/boot/config-$kver
    local -a candidates=()
    if [ -r "$config" ]; then
        case $(grep -E '^CONFIG_KERNEL_(GZIP|XZ|ZSTD|LZ4|LZMA|BZIP2|LZO)=y' "$config") in
            *XZ*)    candidates=(xz) ;;
            *ZSTD*)  candidates=(zstd) ;;
            *GZIP*)  candidates=(gzip) ;;
            *LZ4*)   candidates=(lz4) ;;
            *LZMA*)  candidates=(lzma) ;;
            *BZIP2*) candidates=(bzip2) ;;
            *LZO*)   candidates=(lzo) ;;
        esac
    fi
    [ ${#candidates[@]} -gt 0 ] || candidates=(xz zstd gzip lz4 bzip2 lzma)
    for c in "${candidates[@]}"; do
        case $c in
            xz)    magic='\xfd7zXZ\x00';         tool='xz -dc --single-stream' ;;
            zstd)  magic='\x28\xb5\x2f\xfd';     tool='zstd -dc' ;;
            gzip)  magic='\x1f\x8b\x08';         tool='gzip -dc' ;;
            lz4)   magic='\x02\x21\x4c\x18';     tool='lz4 -dc' ;;
            bzip2) magic='BZh';                  tool='bzip2 -dc' ;;
            lzma)  magic='\x5d\x00\x00\x00';     tool='xz -dc --format=lzma' ;;
            *)     say "no extractor for $c compression"; continue ;;
        esac
        command -v "${tool%% *}" >/dev/null || { say "kernel is $c-compressed but ${tool%% *} is missing"; continue; }
        # Several offsets may carry the magic by chance: try each until one
        # decompresses to an ELF image.
        for off in $(LC_ALL=C grep -obUaP "$magic" "$img" 2>/dev/null | cut -d: -f1 | head -20); do
            if tail -c +$((off + 1)) "$img" | $tool > "$dst.tmp" 2>/dev/null || [ -s "$dst.tmp" ]; then
                if [ "$(head -c 4 "$dst.tmp" | od -An -c | tr -d ' ')" = '177ELF' ]; then
                    mv "$dst.tmp" "$dst"
                    say "extracted vmlinux ($c payload at offset $off of $img, $(stat -c %s "$dst") bytes)"
                    return 0
                fi
            fi
        done
    done
    rm -f "$dst.tmp"
    return 1
}

ksig=$(echo "kernel v1"; statsig "$kernel")
if [ -f "$out/.stamp-kernel" ] && [ "$(cat "$out/.stamp-kernel")" = "$ksig" ] \
   && { [ -f "$out/vmlinux" ] || [ -f "$out/bzImage" ]; }; then
    say "kernel up to date ($( [ -f "$out/vmlinux" ] && echo vmlinux || echo bzImage) from $kernel)"
else
    rm -f "$out/.stamp-kernel" "$out/vmlinux" "$out/bzImage"
    t0=$(date +%s.%N)
    if extract_vmlinux "$kernel" "$out/vmlinux"; then
        :
    else
        say "WARNING: could not extract an uncompressed vmlinux from $kernel;"
        say "WARNING: falling back to the bzImage (boots ~4 s slower under TCG)"
        cp "$kernel" "$out/bzImage"
    fi
    echo "$ksig" > "$out/.stamp-kernel"
    say "kernel step took $(elapsed "$t0") s"
fi
echo "$kver" > "$out/kernel-release.tmp" && mv "$out/kernel-release.tmp" "$out/kernel-release"

# ---- 2. initramfs ----------------------------------------------------------
# Inputs: busybox, the kernel's module tree (depmod rewrites modules.dep
# whenever it changes) and our own files.
isig=$(echo "initramfs v1 $kver $WANT_MODULES"; statsig "$busybox" "$moddir/modules.dep" "$moddir/modules.alias";
       hashsig "$here/init" "$here/mkcpio.py" "${BASH_SOURCE[0]}")
if [ -f "$out/.stamp-initramfs" ] && [ "$(cat "$out/.stamp-initramfs")" = "$isig" ] \
   && [ -f "$out/initramfs.cpio.gz" ]; then
    say "initramfs up to date ($out/initramfs.cpio.gz)"
    exit 0
fi

# Resolve module dependencies (depth first, so each module follows its deps).
declare -A seen=() modpath=()
order=()
resolve() {
    local m=$1 d deps path
    [ -n "${seen[$m]:-}" ] && return 0
    seen[$m]=1
    path=$(modinfo -k "$kver" -n "$m" 2>/dev/null) || die "module $m not found for $kver"
    case $path in
        (builtin|*"(builtin)"*) return 0 ;;
    esac
    deps=$(modinfo -k "$kver" -F depends "$m" | tr ',' ' ')
    for d in $deps; do resolve "$d"; done
    order+=("$m")
    modpath[$m]=$path
}
for m in $WANT_MODULES; do resolve "$m"; done

t0=$(date +%s.%N)
rm -f "$out/.stamp-initramfs"
stage=$(mktemp -d "$out/.stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT

# The module files.  Debian ships them uncompressed for this kernel
# (CONFIG_MODULE_COMPRESS_NONE); should a later one compress them, unpack
# them here so the guest's busybox insmod needs no decompressor.
mkdir -p "$stage/mod"
for m in "${order[@]}"; do
    p=${modpath[$m]}
    case $p in
        *.ko)     cp "$p" "$stage/mod/$m.ko" ;;
        *.ko.xz)  xz -dc "$p" > "$stage/mod/$m.ko" ;;
        *.ko.zst) zstd -q -dc "$p" > "$stage/mod/$m.ko" ;;
        *.ko.gz)  gzip -dc "$p" > "$stage/mod/$m.ko" ;;
        *) die "unknown module file type $p" ;;
    esac
done

# modules.deps: "module dep dep ..." lines for the guest's loader.
for m in "${order[@]}"; do
    echo "$m $(modinfo -k "$kver" -F depends "$m" | tr ',' ' ')"
done > "$stage/modules.deps"

# modalias.sh: one shell 'case' mapping a device modalias to the module
# that drives it (in $mod), restricted to the modules we ship.
{
    echo "# generated by build-guest.sh from $moddir/modules.alias"
    echo 'vst_alias_module() {'
    echo '    case "$1" in'
    for m in "${order[@]}"; do
        awk -v m="$m" '$1 == "alias" && $3 == m { printf "        %s) mod=%s ;;\n", $2, m }' "$moddir/modules.alias"
    done
    echo '        *) mod= ; return 1 ;;'
    echo '    esac'
    echo '}'
} > "$stage/modalias.sh"

# udhcpc calls this script; it saves what it got for /init to report.
cat > "$stage/udhcpc.script" <<'EOF'
#!/bin/sh
# udhcpc event script: configure the address and record the lease.
case "$1" in
    deconfig)
        ip -4 addr flush dev "$interface"
        ip link set "$interface" up
        ;;
    bound|renew)
        pfx=${mask:-24}
        ip -4 addr flush dev "$interface"
        ip addr add "$ip/$pfx" dev "$interface"
        if [ -n "$router" ]; then
            ip route replace default via "${router%% *}" dev "$interface"
        fi
        {
            echo "ip=$ip/$pfx"
            echo "router=${router%% *}"
            echo "server=$serverid"
            echo "lease=$lease"
            echo "dns=$(echo $dns | tr ' ' ',')"
        } > "/run/dhcp.$interface"
        ;;
esac
exit 0
EOF

# The listing for mkcpio.py.
{
    for d in bin sbin dev proc sys run tmp etc lib lib/modules root; do
        echo "dir /$d 0755"
    done
    echo "nod /dev/console 0600 c 5 1"
    echo "nod /dev/null 0666 c 1 3"
    echo "file /bin/busybox 0755 $busybox"
    for a in $("$busybox" --list); do
        [ "$a" = busybox ] || echo "slink /bin/$a busybox"
    done
    echo "file /init 0755 $here/init"
    echo "file /etc/udhcpc.script 0755 $stage/udhcpc.script"
    echo "file /lib/modules/modules.deps 0644 $stage/modules.deps"
    echo "file /lib/modules/modalias.sh 0644 $stage/modalias.sh"
    for m in "${order[@]}"; do
        echo "file /lib/modules/$m.ko 0644 $stage/mod/$m.ko"
    done
} > "$stage/listing"

/usr/bin/python3 "$here/mkcpio.py" "$stage/listing" "$stage/initramfs.cpio"
gzip -n -6 < "$stage/initramfs.cpio" > "$out/initramfs.cpio.gz.tmp"
mv "$out/initramfs.cpio.gz.tmp" "$out/initramfs.cpio.gz"
echo "$isig" > "$out/.stamp-initramfs"
say "built initramfs: busybox ($("$busybox" --list | wc -l) applets), modules: ${order[*]}"
say "  $out/initramfs.cpio.gz: $(stat -c %s "$out/initramfs.cpio.gz") bytes (cpio $(stat -c %s "$stage/initramfs.cpio"))"
say "initramfs step took $(elapsed "$t0") s"
