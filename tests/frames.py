"""Ethernet frames by hand, and a client speaking QEMU's stream framing
(`-netdev stream`: a 4-byte big-endian length, then the frame)."""

import select
import socket
import struct
import time

BCAST = "ff:ff:ff:ff:ff:ff"


def mac_bytes(mac):
    return bytes(int(x, 16) for x in mac.split(":"))


def mac_str(b):
    return ":".join(f"{x:02x}" for x in b)


def ip_bytes(ip):
    return socket.inet_aton(ip)


def eth(dst, src, ethertype, payload):
    f = mac_bytes(dst) + mac_bytes(src) + struct.pack("!H", ethertype) + payload
    return f + b"\0" * max(0, 60 - len(f))


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data)//2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def arp_request(src_mac, src_ip, dst_ip):
    body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac_bytes(src_mac),
                       ip_bytes(src_ip), b"\0" * 6, ip_bytes(dst_ip))
    return eth(BCAST, src_mac, 0x0806, body)


def arp_reply(src_mac, src_ip, dst_mac, dst_ip):
    body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 2, mac_bytes(src_mac),
                       ip_bytes(src_ip), mac_bytes(dst_mac), ip_bytes(dst_ip))
    return eth(dst_mac, src_mac, 0x0806, body)


def parse_arp(f):
    """(op, sender mac, sender ip, target ip) or None."""
    if len(f) < 42 or f[12:14] != b"\x08\x06":
        return None
    op, smac, sip, _, tip = struct.unpack("!6x H 6s 4s 6s 4s", f[14:42])
    return op, mac_str(smac), socket.inet_ntoa(sip), socket.inet_ntoa(tip)


def udp4(dst_mac, src_mac, src_ip, dst_ip, sport, dport, payload, with_csum=True):
    ulen = 8 + len(payload)
    pseudo = ip_bytes(src_ip) + ip_bytes(dst_ip) + struct.pack("!BBH", 0, 17, ulen)
    udp = struct.pack("!HHHH", sport, dport, ulen, 0) + payload
    c = csum(pseudo + udp) if with_csum else 0
    if with_csum and c == 0:
        c = 0xFFFF
    udp = udp[:6] + struct.pack("!H", c) + udp[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ulen, 1, 0, 64, 17, 0, ip_bytes(src_ip),
                     ip_bytes(dst_ip))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return eth(dst_mac, src_mac, 0x0800, ip + udp)


def udp4_checksum_ok(f):
    """True if f is IPv4/UDP whose UDP checksum verifies (or is absent)."""
    if f[12:14] != b"\x08\x00" or f[23] != 17:
        return None
    ihl = (f[14] & 0xF) * 4
    tot = struct.unpack("!H", f[16:18])[0]
    ip = f[14:14 + tot]
    udp = ip[ihl:]
    if struct.unpack("!H", udp[6:8])[0] == 0:
        return True
    pseudo = ip[12:20] + struct.pack("!BBH", 0, 17, len(udp))
    return csum(pseudo + udp) == 0


class StreamClient:
    """A peer speaking QEMU's stream framing on a UNIX socket."""

    def __init__(self, path, timeout=5):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    @classmethod
    def connect_when_ready(cls, path, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            try:
                return cls(path)
            except (FileNotFoundError, ConnectionRefusedError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def send(self, frame):
        self.sock.sendall(struct.pack("!I", len(frame)) + frame)

    def send_raw(self, data):
        self.sock.sendall(data)

    def recv(self, timeout=2.0):
        """The next frame, or None after timeout."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 4:
                n = struct.unpack("!I", self.buf[:4])[0]
                if len(self.buf) >= 4 + n:
                    f = self.buf[4:4 + n]
                    self.buf = self.buf[4 + n:]
                    return f
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                return None
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buf += data

    def recv_all(self, timeout=0.5):
        out = []
        while True:
            f = self.recv(timeout)
            if f is None:
                return out
            out.append(f)

    def recv_match(self, pred, timeout=3.0):
        """The first frame for which pred(frame) holds, or None."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            f = self.recv(left)
            if f is None:
                return None
            if pred(f):
                return f

    def closed_by_peer(self, timeout=3.0):
        deadline = time.monotonic() + timeout
        self.sock.settimeout(0.2)
        while time.monotonic() < deadline:
            try:
                d = self.sock.recv(65536)
                if not d:
                    return True
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError):
                return True
        return False

    def close(self):
        self.sock.close()


class StreamServer:
    """Listens like QEMU `-netdev stream,server=on` and accepts the switch."""

    def __init__(self, path):
        self.lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.lsock.bind(path)
        self.lsock.listen(1)
        self.path = path
        self.client = None

    def accept(self, timeout=10):
        self.lsock.settimeout(timeout)
        conn, _ = self.lsock.accept()
        c = StreamClient.__new__(StreamClient)
        c.sock = conn
        c.sock.settimeout(5)
        c.buf = b""
        self.client = c
        return c

    def close(self):
        if self.client:
            self.client.close()
        self.lsock.close()


def framed(frames):
    """Frames joined with QEMU's stream framing, ready for send_raw()."""
    return b"".join(struct.pack("!I", len(f)) + f for f in frames)


def random_frames(n, seed_bytes, dst=None, min_len=60, max_len=200):
    """n frames built from random bytes: random unicast source MACs, and a
    random destination, EtherType, VLAN tag and length unless dst is given.
    Deterministic for the same seed_bytes (os.urandom is not used here)."""
    import hashlib
    out = []
    block = b""
    i = 0
    while len(out) < n:
        if len(block) < 64:
            block += hashlib.sha256(seed_bytes + i.to_bytes(8, "big")).digest() * 2
            i += 1
        r, block = block[:64], block[64:]
        src = bytes([r[0] & 0xFE | 0x02]) + r[1:6]
        d = mac_bytes(dst) if dst else r[6:12]
        length = min_len + (r[12] | r[13] << 8) % (max_len - min_len + 1)
        if dst:
            body = struct.pack("!H", 0x88B5)
        elif r[14] & 1:  # a VLAN tag with a random VID and EtherType after it
            body = struct.pack("!HHH", 0x8100, (r[15] << 8 | r[16]) & 0xFFFF, r[17] << 8 | r[18])
        else:
            body = struct.pack("!H", r[17] << 8 | r[18])
        f = d + src + body
        out.append(f + r[19:] * ((length - len(f)) // 45 + 1))
        out[-1] = out[-1][:length]
    return out
