"""vhost-user ports, driven by our own frontend (tests/tools/vhost-peer,
the part a VM's virtio-net driver plays), mixed with other port types.

    vhost-peer ==vhost-user== a --+
    vhost-peer ==vhost-user== b --+-- switch v0 (private) --+-- q (stream client)
                                                            +-- vm1p (netdev) == ns vm1
"""
import os
import socket
import subprocess
import time

from frames import StreamClient, eth
from lib import BUILD, wait_until

PEER = os.path.join(BUILD, "tests", "tools", "vhost-peer")
MA, MB = "02:00:00:00:0a:01", "02:00:00:00:0b:02"


def peer(topo, ns, *args, timeout=60):
    return subprocess.run(["ip", "netns", "exec", ns, PEER] + list(args), capture_output=True,
                          text=True, timeout=timeout)


def switch_with_two_vhost(topo, daemon_factory, extra=()):
    host = topo.ns("host")
    d = daemon_factory(host)
    d.ctl("switch", "create", "v0", "--type", "private", *extra)
    d.ctl("port", "add", "v0", "a", "--type", "vhost-user")
    d.ctl("port", "add", "v0", "b", "--type", "vhost-user")
    return host, d


def test_vhost_to_vhost(topo, daemon_factory):
    host, d = switch_with_two_vhost(topo, daemon_factory)
    a, b = d.port("v0", "a"), d.port("v0", "b")
    assert a["state"] == "down" and a["socket"].endswith("/v0/a.sock")
    q = a["qemu"]
    assert "-netdev vhost-user" in q and f"path={a['socket']}" in q and "share=on" in q
    assert "reconnect=1" in q and "virtio-net-pci" in q
    p = peer(topo, host, "--port", f"{a['socket']},tx,mac={MA},dst={MB}",
             "--port", f"{b['socket']},rx,mac={MB}", "-n", "20000", "-r", "20000",
             "--verify", "full", "--expect-rx", "20000")
    assert p.returncode == 0, p.stdout + p.stderr
    sa, sb = d.stats("v0", "a"), d.stats("v0", "b")
    assert sa["rx_packets"] >= 20000 and sb["tx_packets"] >= 20000
    assert sa["rx_dropped"] == 0 and sb["tx_dropped"] == 0
    assert sa["resets"] == 0 and sb["resets"] == 0
    # The peer went away: both ports are down again and forgot their MACs.
    wait_until(lambda: d.port("v0", "a")["state"] == "down")
    assert d.j("fdb", "show", "v0") == []


def test_vhost_meets_stream_and_netdev(topo, daemon_factory):
    host, d = switch_with_two_vhost(topo, daemon_factory)
    d.ctl("port", "add", "v0", "q", "--type", "stream")
    vm1 = topo.vm("vm1", host, "vm1p", "10.10.0.1/24")
    d.ctl("port", "add", "v0", "vm1", "--type", "netdev", "--ifname", "vm1p")
    c = StreamClient.connect_when_ready(d.port("v0", "q")["socket"])
    wait_until(lambda: d.port("v0", "q")["state"] == "up")
    qmac = "52:54:00:00:0c:0c"
    c.send(eth("ff:ff:ff:ff:ff:ff", qmac, 0x88b5, b"hello"))  # the switch learns q
    time.sleep(0.2)
    a = d.port("v0", "a")
    p = peer(topo, host, "--port", f"{a['socket']},tx,mac={MA},dst={qmac}", "-n", "500",
             "-r", "5000", "--verify", "none")
    assert p.returncode == 0, p.stdout + p.stderr
    got = [f for f in c.recv_all(timeout=1.0) if f[6:12] == bytes.fromhex(MA.replace(":", ""))]
    assert len(got) == 500
    assert d.stats("v0", "q")["tx_packets"] >= 500
    assert d.stats("v0", "vm1")["tx_packets"] < 500  # unicast: not flooded to the VM


def test_vhost_connect_mode(topo, daemon_factory):
    """--connect: the frontend listens (QEMU server=on), the switch connects
    and reconnects when the frontend comes back."""
    host, d = switch_with_two_vhost(topo, daemon_factory)
    path = os.path.join(topo.tmp, "front.sock")
    d.ctl("port", "add", "v0", "c", "--type", "vhost-user", "--connect", path)
    assert d.port("v0", "c")["state"] == "connecting"
    assert "server=on" in d.port("v0", "c")["qemu"]
    b = d.port("v0", "b")
    for rnd in range(2):
        p = peer(topo, host, "--port", f"{path},listen,tx,mac={MA},dst={MB}",
                 "--port", f"{b['socket']},rx,mac={MB}", "-n", "5000", "-r", "20000",
                 "--expect-rx", "5000", timeout=90)
        assert p.returncode == 0, (rnd, p.stdout + p.stderr)
        wait_until(lambda: d.port("v0", "c")["state"] == "connecting", timeout=5)


def test_garbage_on_vhost_socket_resets_only_that_port(topo, daemon_factory):
    host, d = switch_with_two_vhost(topo, daemon_factory)
    d.ctl("port", "add", "v0", "q", "--type", "stream")
    c = StreamClient.connect_when_ready(d.port("v0", "q")["socket"])
    wait_until(lambda: d.port("v0", "q")["state"] == "up")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(d.port("v0", "a")["socket"])
    s.sendall(os.urandom(4096))
    s.settimeout(3)
    try:
        closed = s.recv(100) == b""
    except ConnectionResetError:
        closed = True
    assert closed, "the switch kept talking to a frontend that sent garbage"
    wait_until(lambda: d.stats("v0", "a")["resets"] >= 1)
    assert "vhost" in d.read_log().lower()
    # Everyone else is fine: the stream client still gets a broadcast.
    c2 = StreamClient.connect_when_ready(d.j("switch", "show", "v0")["plug"])
    c2.send(eth("ff:ff:ff:ff:ff:ff", "02:00:00:00:99:01", 0x88b5, b"still here"))
    assert c.recv_match(lambda f: b"still here" in f) is not None
    # And the port takes a well-behaved frontend again.
    b = d.port("v0", "b")
    p = peer(topo, host, "--port", f"{d.port('v0', 'a')['socket']},tx,mac={MA},dst={MB}",
             "--port", f"{b['socket']},rx,mac={MB}", "-n", "1000", "-r", "10000",
             "--expect-rx", "1000")
    assert p.returncode == 0, p.stdout + p.stderr
