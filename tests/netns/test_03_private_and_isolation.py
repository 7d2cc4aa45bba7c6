"""Private switches, isolation between switches, and routing between subnets.

    private switch p0:  vm1 10.1.0.11 --+-- vm2 10.1.0.12        (no host vNIC)
    private switch p1:  vm3 10.1.0.13 --+                         (same subnet, other switch)

    subnets on one switch:  vm1 10.1.0.11/24 --[ p0 ]-- vm4 10.2.0.14/24
                                                |  |
                                     router r0 10.1.0.1 / r1 10.2.0.1 (ip_forward)
"""
import os

from frames import BCAST, StreamClient, eth, mac_bytes
from lib import RAWFRAME, wait_until


def test_private_switch_vms_talk_host_cannot(topo, daemon_factory):
    host = topo.ns("host")
    d = daemon_factory(host)
    d.ctl("switch", "create", "p0", "--type", "private")
    sw = d.j("switch", "show", "p0")
    assert sw["host_nic"] is None and sw["uplink"] is None
    assert not topo.link_exists(host, "p0")
    vm1 = topo.vm("vm1", host, "vm1p", "10.1.0.11/24")
    vm2 = topo.vm("vm2", host, "vm2p", "10.1.0.12/24")
    d.ctl("port", "add", "p0", "vm1", "--type", "netdev", "--ifname", "vm1p")
    d.ctl("port", "add", "p0", "vm2", "--type", "netdev", "--ifname", "vm2p")
    topo.ping(vm1, "10.1.0.12", count=3)
    # The host has no interface on the switch: it cannot reach the VMs even
    # with an address in their subnet on its side of their veths.
    topo.run(host, ["ip", "route", "add", "10.1.0.0/24", "dev", "vm1p"])
    assert not topo.ping(host, "10.1.0.11", check=False)


def test_two_switches_are_isolated(topo, daemon_factory):
    host = topo.ns("host")
    d = daemon_factory(host)
    d.ctl("switch", "create", "p0", "--type", "private")
    d.ctl("switch", "create", "p1", "--type", "private")
    vm1 = topo.vm("vm1", host, "vm1p", "10.1.0.11/24")
    vm3 = topo.vm("vm3", host, "vm3p", "10.1.0.13/24")
    d.ctl("port", "add", "p0", "vm1", "--type", "netdev", "--ifname", "vm1p")
    d.ctl("port", "add", "p1", "vm3", "--type", "netdev", "--ifname", "vm3p")
    for sw, port in (("p0", "a"), ("p0", "b"), ("p1", "c")):
        d.ctl("port", "add", sw, port, "--type", "stream")
    a = StreamClient.connect_when_ready(d.port("p0", "a")["socket"])
    b = StreamClient.connect_when_ready(d.port("p0", "b")["socket"])
    c = StreamClient.connect_when_ready(d.port("p1", "c")["socket"])
    wait_until(lambda: all(d.port(s, n)["state"] == "up"
                           for s, n in (("p0", "a"), ("p0", "b"), ("p1", "c"))))
    assert not topo.ping(vm1, "10.1.0.13", count=2, check=False)
    # Frames of every kind from p0 reach p0's ports, never p1's.
    sent = 0
    for i in range(200):
        dst = [BCAST, "01:00:5e:00:00:01", "02:00:00:00:99:99", "33:33:00:00:00:01"][i % 4]
        etype = [0x0800, 0x86dd, 0x0806, 0x88b5, 0x8100, 0x1234][i % 6]
        a.send(eth(dst, f"02:00:00:00:aa:{i % 256:02x}", etype, bytes([i % 256]) * 50))
        sent += 1
    ours = bytes.fromhex("02000000aa")
    got_b = [f for f in b.recv_all(timeout=1.0) if f[6:11] == ours]
    assert len(got_b) == sent
    # p1 sees its own VM's frames at most (vm3 may solicit routers), never p0's.
    leaked = [f for f in c.recv_all(timeout=1.0) if f[6:11] == ours]
    assert leaked == [], "frames crossed from one switch to another"
    st = d.j("switch", "show", "p1")["stats"]
    assert st["macs"] <= 2


def test_subnets_need_a_router(topo, daemon_factory):
    host = topo.ns("host")
    d = daemon_factory(host)
    d.ctl("switch", "create", "p0", "--type", "private")
    vm1 = topo.vm("vm1", host, "vm1p", "10.1.0.11/24")
    vm4 = topo.vm("vm4", host, "vm4p", "10.2.0.14/24")
    topo.run(vm1, ["ip", "route", "add", "default", "via", "10.1.0.1"])
    topo.run(vm4, ["ip", "route", "add", "default", "via", "10.2.0.1"])
    d.ctl("port", "add", "p0", "vm1", "--type", "netdev", "--ifname", "vm1p")
    d.ctl("port", "add", "p0", "vm4", "--type", "netdev", "--ifname", "vm4p")
    # Layer 2 only: two subnets on one switch do not talk by themselves.
    assert not topo.ping(vm1, "10.2.0.14", count=2, check=False)
    r = topo.ns("router")
    topo.veth(r, "r0", host, "r0p")
    topo.veth(r, "r1", host, "r1p")
    topo.addr(r, "r0", "10.1.0.1/24")
    topo.addr(r, "r1", "10.2.0.1/24")
    topo.run(r, ["sysctl", "-qw", "net.ipv4.ip_forward=1"])
    d.ctl("port", "add", "p0", "r0", "--type", "netdev", "--ifname", "r0p")
    d.ctl("port", "add", "p0", "r1", "--type", "netdev", "--ifname", "r1p")
    topo.ping_until(vm1, "10.2.0.14")
    topo.ping(vm4, "10.1.0.11", count=3)



def test_vlan_tagged_frames_cross_netdev_ports(topo, daemon_factory):
    """A tagged frame keeps its tag and every byte through a netdev port, both
    ways. The kernel hands an AF_PACKET reader the tag apart from the frame
    (the switch puts it back) and takes a tagged frame whole on send.

        vm1: eth0 == vm1p --+-- p0 --+-- stream client "s"
    """
    import struct
    host = topo.ns("host")
    d = daemon_factory(host)
    d.ctl("switch", "create", "p0", "--type", "private")
    vm = topo.vm("vm1", host, "vm1p")
    d.ctl("port", "add", "p0", "vm1", "--type", "netdev", "--ifname", "vm1p")
    d.ctl("port", "add", "p0", "s", "--type", "stream")
    c = StreamClient.connect_when_ready(d.port("p0", "s")["socket"])
    wait_until(lambda: d.port("p0", "vm1")["state"] == "up" and d.port("p0", "s")["state"] == "up")
    vm_mac = topo.ip_json(vm, "link", "eth0")[0]["address"]
    s_mac = "02:00:00:00:05:01"

    def tagged(dst, src, vid, pcp, size, marker):
        tci = (pcp << 13) | vid
        body = marker + bytes(range(256)) * (size // 256 + 1)
        f = mac_bytes(dst) + mac_bytes(src) + struct.pack("!HHH", 0x8100, tci, 0x88B5)
        return f + body[:size - len(f)]

    # Guest (vm1) to switch: a short and a full-size tagged frame. The first
    # is broadcast so it floods; it also teaches the switch where vm1 is.
    out = [tagged(BCAST, vm_mac, 100, 5, 64, b"vlan-out-1"),
           tagged(s_mac, vm_mac, 4094, 0, 1518, b"vlan-out-2")]
    topo.run(vm, ["/usr/bin/python3", RAWFRAME, "send", "eth0"] + [f.hex() for f in out])
    got = [c.recv_match(lambda f, m=f[18:28]: m in f) for f in out]
    assert got == out, "tagged frames from a netdev port arrive changed"

    # Switch to guest: the stream client answers with tagged frames to vm1.
    cap = topo.capture(vm, "eth0", 10, 10)
    back = [tagged(vm_mac, s_mac, 100, 5, 64, b"vlan-in--1"),
            tagged(vm_mac, s_mac, 7, 3, 1518, b"vlan-in--2")]
    for f in back:
        c.send(f)
    seen = topo.frames(cap, b"vlan-in-", len(back))
    assert seen == back, "tagged frames sent to a netdev port arrive changed"
    st = d.stats("p0", "vm1")
    assert st["rx_packets"] >= 2 and st["tx_packets"] >= 2
