#!/usr/bin/python3
"""Send or capture whole Ethernet frames on an interface with AF_PACKET,
for tests that need frames the kernel's own devices cannot make here (this
test kernel has no VLAN device type).

    rawframe.py send IFNAME HEXFRAME...
    rawframe.py recv IFNAME COUNT TIMEOUT   prints one hex frame per line

On receive the kernel hands an 802.1Q tag apart from the frame (in the
PACKET_AUXDATA control message); recv puts it back in place, so what it
prints is the frame as it was on the wire.
"""
import select
import socket
import struct
import sys
import time

SOL_PACKET = 263
PACKET_AUXDATA = 8
TP_STATUS_VLAN_VALID = 1 << 4
TP_STATUS_VLAN_TPID_VALID = 1 << 6
ETH_P_ALL = 3
SO_RCVBUFFORCE = 33


def send(ifname, frames):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((ifname, 0))
    for f in frames:
        s.send(bytes.fromhex(f))


def recv(ifname, count, timeout):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 16 << 20)  # bursts
    s.bind((ifname, ETH_P_ALL))
    print("ready", flush=True)
    deadline = time.monotonic() + timeout
    got = 0
    while got < count:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([s], [], [], left)[0]:
            break
        data, anc, _, addr = s.recvmsg(70000, 256)
        if addr[2] == socket.PACKET_OUTGOING:
            continue
        for level, typ, val in anc:
            if level == SOL_PACKET and typ == PACKET_AUXDATA:
                status, _, _, _, _, tci, tpid = struct.unpack("IIIHHHH", val[:20])
                if status & TP_STATUS_VLAN_VALID:
                    if not status & TP_STATUS_VLAN_TPID_VALID:
                        tpid = 0x8100
                    data = data[:12] + struct.pack("!HH", tpid, tci) + data[12:]
        print(data.hex(), flush=True)
        got += 1


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "send":
        send(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) == 5 and sys.argv[1] == "recv":
        recv(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
