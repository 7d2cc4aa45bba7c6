"""QEMU socket ports meet kernel ports, and ports come and go at run time.

    ns vm1: eth0 10.5.0.1/24 ==veth== vm1p (netdev) --+
    stream client "q" (QEMU framing, MAC 52:54:00:00:00:99, 10.5.0.99) --+-- switch s0 (private)
    dgram client, --connect peer, plug.sock clients ...                   --+
"""
import os
import signal
import socket
import subprocess
import time

import pytest
from frames import (BCAST, StreamClient, StreamServer, arp_reply, arp_request, eth,
                    parse_arp, udp4, udp4_checksum_ok)
from lib import RAWFRAME, VSWITCHD, wait_until

QMAC, QIP = "52:54:00:00:00:99", "10.5.0.99"


def open_fds(d):
    """The daemon's descriptors, as (number, what it points at) pairs."""
    fd = f"/proc/{d.proc.pid}/fd"
    return {(n, os.readlink(os.path.join(fd, n))) for n in os.listdir(fd)}


def switch_with_vm(topo, daemon_factory):
    host = topo.ns("host")
    d = daemon_factory(host)
    d.ctl("switch", "create", "s0", "--type", "private")
    vm1 = topo.vm("vm1", host, "vm1p", "10.5.0.1/24")
    d.ctl("port", "add", "s0", "vm1", "--type", "netdev", "--ifname", "vm1p")
    vm_mac = topo.ip_json(vm1, "link", "dev", "eth0")[0]["address"]
    return host, d, vm1, vm_mac


def arp_exchange(client, vm_mac):
    """The client asks for the VM's address and gets the answer."""
    client.send(arp_request(QMAC, QIP, "10.5.0.1"))
    f = client.recv_match(lambda f: (parse_arp(f) or (0,))[0] == 2, timeout=3)
    assert f is not None, "no ARP reply from the VM"
    op, smac, sip, tip = parse_arp(f)
    assert (smac, sip, tip) == (vm_mac, "10.5.0.1", QIP)


def udp_from_vm_has_valid_checksum(topo, vm1, client):
    """The VM's veth leaves UDP checksums to offload; a stream port cannot
    finish them, so the switch must."""
    topo.run(vm1, ["ip", "neigh", "replace", QIP, "lladdr", QMAC, "dev", "eth0"])
    topo.run(vm1, ["/usr/bin/python3", "-c",
                   "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
                   f"s.sendto(b'payload-xyz'*20, ('{QIP}', 4000))"])
    f = client.recv_match(lambda f: b"payload-xyz" in f, timeout=3)
    assert f is not None, "UDP from the VM did not arrive"
    assert udp4_checksum_ok(f) is True, "UDP checksum left unfinished"


def test_stream_port_and_netdev(topo, daemon_factory):
    host, d, vm1, vm_mac = switch_with_vm(topo, daemon_factory)
    out = d.ctl("port", "add", "s0", "q", "--type", "stream").stdout
    p = d.port("s0", "q")
    assert p["socket"].endswith("/s0/q.sock") and p["state"] == "down"
    assert f"addr.path={p['socket']}" in p["qemu"] and "-netdev stream" in p["qemu"]
    assert "qemu" in out
    c = StreamClient.connect_when_ready(p["socket"])
    wait_until(lambda: d.port("s0", "q")["state"] == "up")
    arp_exchange(c, vm_mac)
    udp_from_vm_has_valid_checksum(topo, vm1, c)
    # A second client on a named port is refused; the first keeps working.
    c2 = StreamClient(p["socket"])
    assert c2.closed_by_peer()
    arp_exchange(c, vm_mac)
    # The client leaves: the port goes down and forgets its MAC.
    c.close()
    wait_until(lambda: d.port("s0", "q")["state"] == "down")
    assert QMAC not in [e["mac"] for e in d.j("fdb", "show", "s0")]


def test_dgram_port(topo, daemon_factory):
    host, d, vm1, vm_mac = switch_with_vm(topo, daemon_factory)
    d.ctl("port", "add", "s0", "g", "--type", "dgram")
    p = d.port("s0", "g")
    assert "-netdev dgram" in p["qemu"] and f"remote.path={p['socket']}" in p["qemu"]
    mine = os.path.join(topo.tmp, "g-peer.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(mine)
    s.settimeout(3)
    s.sendto(arp_request(QMAC, QIP, "10.5.0.1"), p["socket"])
    deadline = time.monotonic() + 3
    reply = None
    while time.monotonic() < deadline and reply is None:
        f = s.recv(65536)
        if (parse_arp(f) or (0,))[0] == 2:
            reply = f
    assert reply is not None and parse_arp(reply)[1] == vm_mac
    assert d.port("s0", "g")["state"] == "up"


def test_connect_mode_reconnects(topo, daemon_factory):
    """--connect: QEMU listens (server=on), the switch connects, and
    connects again when the connection drops."""
    host, d, vm1, vm_mac = switch_with_vm(topo, daemon_factory)
    path = os.path.join(topo.tmp, "qemu-serves.sock")
    d.ctl("port", "add", "s0", "q", "--type", "stream", "--connect", path)
    assert d.port("s0", "q")["state"] == "connecting"
    assert "server=on" in d.port("s0", "q")["qemu"]
    srv = StreamServer(path)
    c = srv.accept(timeout=5)
    wait_until(lambda: d.port("s0", "q")["state"] == "up")
    arp_exchange(c, vm_mac)
    c.close()  # QEMU's side drops the connection (VM restarted, say)
    wait_until(lambda: d.port("s0", "q")["state"] == "connecting", timeout=5)
    c = srv.accept(timeout=5)
    wait_until(lambda: d.port("s0", "q")["state"] == "up")
    arp_exchange(c, vm_mac)
    srv.close()


def test_plug_socket_ports_come_and_go(topo, daemon_factory):
    host, d, vm1, vm_mac = switch_with_vm(topo, daemon_factory)
    plug = d.j("switch", "show", "s0")["plug"]
    c = StreamClient.connect_when_ready(plug)
    wait_until(lambda: any(p["name"].startswith("plug-") for p in d.j("port", "list", "s0")))
    name = [p["name"] for p in d.j("port", "list", "s0") if p["name"].startswith("plug-")][0]
    assert d.port("s0", name)["state"] == "up"
    arp_exchange(c, vm_mac)
    c.close()
    wait_until(lambda: not any(p["name"].startswith("plug-") for p in d.j("port", "list", "s0")))
    # Anonymous ports are not saved.
    assert "plug-" not in open(d.state_file()).read()


def test_churn_loses_no_ping(topo, daemon_factory):
    """Ports of every kind come and go, some with a peer still connected,
    while two VMs ping through the switch: no ping is lost, and the daemon
    holds as many file descriptors afterwards as before."""
    host, d, vm1, vm_mac = switch_with_vm(topo, daemon_factory)
    vm2 = topo.vm("vm2", host, "vm2p", "10.5.0.2/24")
    d.ctl("port", "add", "s0", "vm2", "--type", "netdev", "--ifname", "vm2p")
    topo.ping(vm1, "10.5.0.2", count=2)

    before = open_fds(d)
    ping = subprocess.Popen(["ip", "netns", "exec", vm1, "ping", "-n", "-q", "-i", "0.01",
                             "-c", "400", "-W", "1", "10.5.0.2"], stdout=subprocess.PIPE,
                            text=True)
    topo.procs.append(ping)
    for i in range(12):
        d.ctl("port", "add", "s0", f"x{i}", "--type", "stream")
        d.ctl("port", "add", "s0", f"y{i}", "--type", "dgram")
        if i % 3 == 0:
            ns = topo.vm(f"c{i}", host, f"c{i}p", f"10.5.1.{i + 1}/24")
            d.ctl("port", "add", "s0", f"c{i}", "--type", "netdev", "--ifname", f"c{i}p")
        cl = StreamClient.connect_when_ready(d.j("switch", "show", "s0")["plug"])
        cl.close()
        # Deleted while its peer is connected and has just sent.
        peer = StreamClient.connect_when_ready(d.port("s0", f"x{i}")["socket"])
        peer.send(eth(BCAST, "02:00:00:00:0a:%02x" % i, 0x88B5, b"churn"))
        d.ctl("port", "delete", "s0", f"x{i}")
        peer.close()
    for i in range(12):
        d.ctl("port", "delete", "s0", f"y{i}")
        if i % 3 == 0:
            d.ctl("port", "delete", "s0", f"c{i}")
    out, _ = ping.communicate(timeout=60)
    assert " 0% packet loss" in out, out
    wait_until(lambda: len(d.j("switch", "show", "s0")["ports"]) == 2,
               what="the plugged ports to go with their peers")
    # Nothing may be new: receive moderation holds no descriptor of its own.
    assert open_fds(d) == before, f"descriptors left behind by deleted ports: {open_fds(d) - before}"


@pytest.mark.parametrize("kind", ["stream", "dgram"])
def test_deleting_a_busy_port_leaves_no_descriptor(topo, daemon_factory, kind):
    """A port deleted while its peer is connected and its receive
    moderation is engaged (a backlog read on the moderation alarm) gives
    back every descriptor it had: ports come and go by the thousand."""
    host = topo.ns("host")
    topo.run(host, ["sysctl", "-qw", "net.unix.max_dgram_qlen=1024"])
    d = daemon_factory(host)
    # Only the port under test comes and goes: no host vNIC that the
    # kernel's own frames (IPv6 DAD, MLD) keep busy beside it.
    d.ctl("switch", "delete", "vswitch0")
    d.ctl("switch", "create", "s0", "--type", "private")
    before = open_fds(d)
    for round_ in range(3):
        d.ctl("port", "add", "s0", "busy", "--type", kind)
        path = d.port("s0", "busy")["socket"]
        if kind == "stream":
            peer = StreamClient.connect_when_ready(path)
            peer.sock.setsockopt(socket.SOL_SOCKET, 32, 8 << 20)  # SO_SNDBUFFORCE
            send, size = peer.send, 1000  # > one 128 KiB read in all
        else:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.setsockopt(socket.SOL_SOCKET, 32, 8 << 20)
            sock.bind(os.path.join(topo.tmp, f"busy-peer-{round_}.sock"))
            size = 100

            def send(x, sock=sock):
                sock.sendto(x, socket.MSG_DONTWAIT, path)
            send(eth(BCAST, "02:00:00:00:00:01", 0x88B5, b"hello"))
            wait_until(lambda: d.port("s0", "busy")["state"] == "up")
        frame = eth(BCAST, "02:00:00:00:00:01", 0x88B5, b"x" * size)
        os.kill(d.proc.pid, signal.SIGSTOP)
        try:
            for _ in range(300):
                send(frame)
        finally:
            os.kill(d.proc.pid, signal.SIGCONT)
        wait_until(lambda: d.stats("s0", "busy")["rx_moderated"] > 0,
                   what="the backlog to be read on the moderation alarm")
        assert open_fds(d) - before, "the busy port's own descriptors are not seen"
        d.ctl("port", "delete", "s0", "busy")
        if kind == "stream":
            peer.close()
        else:
            sock.close()
        assert open_fds(d) == before, f"left behind: {open_fds(d) - before}"


def test_peer_that_stops_reading_stalls_nobody(topo, daemon_factory):
    """A stream peer that never reads: its queue fills, its frames are
    dropped and counted, and two VMs keep talking undisturbed."""
    host, d, vm1, vm_mac = switch_with_vm(topo, daemon_factory)
    vm2 = topo.vm("vm2", host, "vm2p", "10.5.0.2/24")
    d.ctl("port", "add", "s0", "vm2", "--type", "netdev", "--ifname", "vm2p")
    d.ctl("port", "add", "s0", "deaf", "--type", "stream")
    d.ctl("port", "add", "s0", "loud", "--type", "stream")
    deaf = StreamClient.connect_when_ready(d.port("s0", "deaf")["socket"])
    loud = StreamClient.connect_when_ready(d.port("s0", "loud")["socket"])
    deaf.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    wait_until(lambda: d.port("s0", "deaf")["state"] == "up" and
               d.port("s0", "loud")["state"] == "up")
    ping = subprocess.Popen(["ip", "netns", "exec", vm1, "ping", "-n", "-q", "-i", "0.01",
                             "-c", "300", "-W", "1", "10.5.0.2"], stdout=subprocess.PIPE,
                            text=True)
    topo.procs.append(ping)
    # ~30 MB of broadcast: far more than the deaf peer's socket and queue hold.
    frame = eth(BCAST, "02:00:00:00:10:ad", 0x88b5, b"z" * 1400)
    for _ in range(20000):
        loud.send(frame)
    out, _ = ping.communicate(timeout=60)
    assert " 0% packet loss" in out, out
    st = d.stats("s0", "deaf")
    assert st["tx_drop_queue_full"] > 0 and st["tx_dropped"] == st["tx_drop_queue_full"]
    # The netdev VMs got the whole flood (their queues are the kernel's).
    assert d.stats("s0", "loud")["rx_packets"] == 20000
    assert d.port("s0", "deaf")["state"] == "up"


def test_netdev_transmit_keeps_frames_whole_and_in_order(topo, daemon_factory):
    """Frames to a kernel interface go through a transmit ring, bigger ones by
    a second socket: after the ring has wrapped around twice every frame has
    arrived unchanged and in order, and a frame too big for the interface is
    counted as an error without holding up the ones after it."""
    host = topo.ns("host")
    d = daemon_factory(host)
    d.ctl("switch", "create", "s0", "--type", "private", "--mtu", "9000")
    vm = topo.vm("vm1", host, "vm1p")
    for ns, ifname in ((vm, "eth0"), (host, "vm1p")):
        topo.run(ns, ["ip", "link", "set", ifname, "mtu", "5000"])
    d.ctl("port", "add", "s0", "vm1", "--type", "netdev", "--ifname", "vm1p")
    d.ctl("port", "add", "s0", "q", "--type", "stream")
    c = StreamClient.connect_when_ready(d.port("s0", "q")["socket"])
    wait_until(lambda: all(d.port("s0", n)["state"] == "up" for n in ("vm1", "q")))
    vm_mac = topo.ip_json(vm, "link", "dev", "eth0")[0]["address"]

    def f(i, size):
        body = f"ring-{i:04d}".encode() + bytes((i + k) & 0xFF for k in range(size))
        return eth(vm_mac, QMAC, 0x88B5, body[:size - 14])

    sizes = (60, 1514, 4000, 200, 1000)
    frames = [f(i, sizes[i % len(sizes)]) for i in range(300)]
    too_big = f(9999, 6000)  # fits the switch (MTU 9000), not the interface (5000)
    sent = frames[:150] + [too_big] + frames[150:]
    cap = topo.capture(vm, "eth0", 400, 20)
    c.send_raw(b"".join(len(x).to_bytes(4, "big") + x for x in sent))
    seen = topo.frames(cap, b"ring-", len(frames))
    st = d.stats("s0", "vm1")
    assert len(seen) == len(frames), f"{len(seen)} of {len(frames)} frames arrived; {st}"
    assert seen == frames, "frames arrived changed or out of order"
    assert st["tx_drop_error"] == 1 and st["tx_packets"] >= len(frames)


@pytest.mark.parametrize("rx_usecs", [None, "0"])
@pytest.mark.parametrize("kind", ["netdev", "host", "dgram", "stream"])
def test_receive_moderation(topo, daemon_factory, kind, rx_usecs):
    """Under load a port the kernel would wake per frame (netdev: AF_PACKET,
    host: TAP, dgram, stream with one frame per write as QEMU sends) is read
    on a timer instead (--rx-usecs, default on).  A backlog (300 frames
    queued in the kernel while the daemon is stopped) puts the port in that
    mode: every frame still arrives, in order, counted in rx_moderated; then
    the port goes back to wakeups, so a lone frame later is read at once, not
    on the timer.  With --rx-usecs 0 nothing is read on the timer."""
    host = topo.ns("host")
    d = daemon_factory(host, args=[] if rx_usecs is None else ["--rx-usecs", rx_usecs])
    d.ctl("switch", "create", "s0", "--type", "internal")
    # Only the test's frames: no IPv6 chatter from the host's or VM's stack.
    topo.run(host, ["sysctl", "-qw", "net.ipv6.conf.s0.disable_ipv6=1"])
    vm2 = topo.vm("vm2", host, "vm2p")
    d.ctl("port", "add", "s0", "vm2", "--type", "netdev", "--ifname", "vm2p")
    mac2 = topo.ip_json(vm2, "link", "dev", "eth0")[0]["address"]
    if kind == "netdev":
        vm1 = topo.vm("vm1", host, "vm1p")
        topo.run(vm1, ["sysctl", "-qw", "net.ipv6.conf.eth0.disable_ipv6=1"])
        d.ctl("port", "add", "s0", "in", "--type", "netdev", "--ifname", "vm1p")

        def send(frames):
            topo.run(vm1, ["/usr/bin/python3", RAWFRAME, "send", "eth0"] + [x.hex() for x in frames])
    elif kind == "host":
        def send(frames):
            topo.run(host, ["/usr/bin/python3", RAWFRAME, "send", "s0"] + [x.hex() for x in frames])
    elif kind == "stream":
        d.ctl("port", "add", "s0", "in", "--type", "stream")
        client = StreamClient.connect_when_ready(d.port("s0", "in")["socket"])
        client.sock.setsockopt(socket.SOL_SOCKET, 32, 8 << 20)  # SO_SNDBUFFORCE

        def send(frames):
            for x in frames:
                client.send(x)
    else:
        # A unix datagram socket queues 10 datagrams unless told more (per
        # namespace, when the socket is made); our side must buffer them too.
        topo.run(host, ["sysctl", "-qw", "net.unix.max_dgram_qlen=1024"])
        d.ctl("port", "add", "s0", "in", "--type", "dgram")
        peer = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        peer.setsockopt(socket.SOL_SOCKET, 32, 8 << 20)  # SO_SNDBUFFORCE
        peer.bind(os.path.join(topo.tmp, "mod-peer.sock"))
        path = d.port("s0", "in")["socket"]

        def send(frames):
            for x in frames:
                peer.sendto(x, socket.MSG_DONTWAIT, path)
    port = "host" if kind == "host" else "in"
    send([eth(mac2, "02:00:00:00:00:01", 0x88B5, b"hello")])  # a dgram port is up once heard
    wait_until(lambda: all(p["state"] == "up" for p in d.j("switch", "show", "s0")["ports"]))

    def f(i):
        # A stream read takes up to 128 KiB: 300 frames of 1,000 bytes are
        # more than two reads' worth, the backlog a timer has to catch up on.
        pad = b"." * (1000 if kind == "stream" else 0)
        return eth(mac2, "02:00:00:00:00:01", 0x88B5, f"burst-{i:04d}".encode() + pad)

    frames = [f(i) for i in range(300)]
    cap = topo.capture(vm2, "eth0", len(frames) + 1, 20)
    os.kill(d.proc.pid, signal.SIGSTOP)
    try:
        send(frames)
    finally:
        os.kill(d.proc.pid, signal.SIGCONT)
    seen = topo.frames(cap, b"burst-", len(frames))
    st = d.stats("s0", port)
    assert seen == frames, f"{len(seen)} of {len(frames)} arrived (or reordered); {st}"
    assert st["rx_dropped"] == 0
    if rx_usecs == "0":
        assert st["rx_moderated"] == 0
    else:
        assert st["rx_moderated"] > 0, f"the backlog was not read on the timer: {st}"
    time.sleep(0.3)  # the timer has found the queue empty and handed back
    cap = topo.capture(vm2, "eth0", 1, 10)
    lone = f(9999)
    send([lone])
    assert topo.frames(cap, b"burst-9999", 1) == [lone]
    assert d.stats("s0", port)["rx_moderated"] == st["rx_moderated"], \
        "a lone frame waited for the moderation timer"


def test_rx_usecs_option_is_checked(topo):
    """A bad --rx-usecs or --rx-usecs-max is refused with a message naming
    it, before anything starts."""
    for opt, bad in [("--rx-usecs", b) for b in ("abc", "-1", "1001", "")] + \
                    [("--rx-usecs-max", b) for b in ("x", "-5", "10001", "")]:
        r = subprocess.run([VSWITCHD, opt, bad], capture_output=True, text=True, timeout=10)
        assert r.returncode == 2 and f"vswitchd: {opt} wants" in r.stderr, (opt, bad, r)
