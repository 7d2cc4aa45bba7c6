"""Real VMs on the switch: tiny Linux guests under QEMU (tests/vm/).

    internal switch sw0 (host vNIC 10.11.0.1/24)
      vm-a  virtio-net  ==vhost-user (QEMU reconnect=1)==  port va
      vm-b  virtio-net  ==vhost-user==                      port vb
      vm-c  e1000       ==stream (QEMU client)==            port sc
      vm-d  virtio-net  ==stream, switch connects (--connect)== port sd

    external switch ext0 on a veth "NIC" to a LAN namespace with dnsmasq and
    a web server behind the LAN's router; vm-e gets its address by DHCP.

The "synthetic" (vhost-user) and "legacy" (e1000 on a socket) NICs carry
the same traffic; guests survive a kill -9 of the switch; a dead or paused
guest never stalls the others.  Guests run under TCG when there is no KVM.
"""
import os
import shlex
import sys
import threading
import time

import pytest

from frames import StreamClient, eth, framed
from lib import wait_until

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "vm"))
import guest as vm  # noqa: E402


@pytest.fixture(scope="session")
def guest_image():
    return vm.build()


@pytest.fixture
def guests(guest_image, topo):
    """guests(...) starts a Guest; all are killed at the end of the test."""
    made = []

    def start(name, nic_args, ip=None, job="serve", **kw):
        g = vm.Guest(name, nic_args=nic_args, ip=ip, job=job, end="serve",
                     logdir=os.path.join(topo.tmp, "vm-logs"), **kw)
        made.append(g)
        g.start()
        return g

    yield start
    for g in made:
        g.kill()


def vhost_nic(id, sock, reconnect=True, mac=None):
    return (vm.vhost_user_netdev(id, sock, reconnect=1 if reconnect else None) +
            vm.nic("virtio-net-pci", id, mac=mac, vectors0=True))


def internal_switch(topo, daemon_factory):
    host = topo.ns("host")
    d = daemon_factory(host)
    d.ctl("switch", "create", "sw0", "--type", "internal")
    topo.addr(host, "sw0", "10.11.0.1/24")
    return host, d


def ping_ok(g, *targets, timeout=60):
    rs = g.run("ping:%s,timeout=30" % ",".join(targets), timeout=timeout)
    bad = [r for r in rs if not r.ok]
    assert rs and not bad, "%s: %s\n%s" % (g.name, rs, g.tail(20))


def test_two_virtio_vms_on_vhost_user(topo, daemon_factory, guests):
    host, d = internal_switch(topo, daemon_factory)
    d.ctl("port", "add", "sw0", "va", "--type", "vhost-user")
    d.ctl("port", "add", "sw0", "vb", "--type", "vhost-user")
    a = guests("vm-a", vhost_nic("n0", d.port("sw0", "va")["socket"]), ip="10.11.0.11/24")
    b = guests("vm-b", vhost_nic("n0", d.port("sw0", "vb")["socket"]), ip="10.11.0.12/24")
    a.wait_ready(120)
    b.wait_ready(120)
    assert d.port("sw0", "va")["state"] == "up" and d.port("sw0", "vb")["state"] == "up"
    ping_ok(a, "10.11.0.12", "10.11.0.1")
    ping_ok(b, "10.11.0.11")
    topo.ping(host, "10.11.0.11", count=2, timeout=5)
    for p in ("va", "vb"):
        st = d.stats("sw0", p)
        assert st["rx_packets"] > 0 and st["tx_packets"] > 0 and st["resets"] == 0
    fdb = {e["mac"]: e["port"] for e in d.j("fdb", "show", "sw0")}
    assert fdb[a.macs[0]] == "va" and fdb[b.macs[0]] == "vb"


def test_vm_with_the_printed_qemu_arguments(topo, daemon_factory, guests):
    """What `port show` prints, word for word, plugs a VM in: it gets link
    and pings the host vNIC, under whichever accelerator works here.  The
    vhost-user line always has vectors=0: QEMU 7.2 under TCG crashes with
    MSI-X for vhost-user, and /dev/kvm may exist without working."""
    host, d = internal_switch(topo, daemon_factory)
    d.ctl("port", "add", "sw0", "vq", "--type", "vhost-user")
    d.ctl("port", "add", "sw0", "sq", "--type", "stream")
    for port, ip in (("vq", "10.11.0.31/24"), ("sq", "10.11.0.32/24")):
        args = shlex.split(d.port("sw0", port)["qemu"])
        if port == "vq":
            assert "-m" in args and "vectors=0" in " ".join(args)
        g = guests("vm-" + port, args, ip=ip, memory=port != "vq")
        r = g.wait_for(r"^VST-NIC eth0 .*carrier=1", 120)
        assert r, g.tail(20)
        g.wait_ready(120)
        ping_ok(g, "10.11.0.1")
        assert d.port("sw0", port)["state"] == "up"


def test_legacy_e1000_and_virtio_on_one_switch(topo, daemon_factory, guests):
    """Every kind of port on one switch: e1000 on a QEMU stream socket,
    e1000 on a QEMU dgram socket, virtio-net on vhost-user, a container
    (namespace) on a veth netdev port, and the host vNIC."""
    host, d = internal_switch(topo, daemon_factory)
    d.ctl("port", "add", "sw0", "sc", "--type", "stream")
    d.ctl("port", "add", "sw0", "dg", "--type", "dgram")
    d.ctl("port", "add", "sw0", "va", "--type", "vhost-user")
    ct = topo.vm("ct", host, "ctp", "10.11.0.21/24")
    d.ctl("port", "add", "sw0", "ct", "--type", "netdev", "--ifname", "ctp")
    c = guests("vm-c", vm.stream_netdev("n0", d.port("sw0", "sc")["socket"], server=False) +
               vm.nic("e1000", "n0"), ip="10.11.0.13/24")
    g = guests("vm-g", vm.dgram_netdev("n0", os.path.join(topo.tmp, "vm-g.sock"),
                                       d.port("sw0", "dg")["socket"]) +
               vm.nic("e1000", "n0"), ip="10.11.0.15/24")
    a = guests("vm-a", vhost_nic("n0", d.port("sw0", "va")["socket"]), ip="10.11.0.11/24")
    for x in (c, g, a):
        x.wait_ready(120)
    ping_ok(c, "10.11.0.11", "10.11.0.1", "10.11.0.21", "10.11.0.15")
    ping_ok(a, "10.11.0.13", "10.11.0.15")
    ping_ok(g, "10.11.0.21")
    topo.ping(ct, "10.11.0.13", count=2, timeout=5)
    for p in ("sc", "dg", "va", "ct"):
        assert d.stats("sw0", p)["rx_packets"] > 0, p


def test_vm_on_external_switch_gets_dhcp_and_reaches_lan(topo, daemon_factory, guests):
    lan = topo.ns("lan")
    host = topo.ns("host")
    topo.veth(lan, "lan0", host, "eth1")
    topo.addr(lan, "lan0", "192.168.61.1/24")
    topo.addr(lan, "lo", "203.0.113.20/32")
    topo.addr(host, "eth1", "192.168.61.2/24")
    topo.run(host, ["ip", "route", "add", "default", "via", "192.168.61.1"])
    web = os.path.join(topo.tmp, "www")
    os.makedirs(web)
    with open(os.path.join(web, "hello.txt"), "w") as f:
        f.write("vswitch-e2e-ok\n")
    topo.popen(lan, ["/usr/bin/python3", "-m", "http.server", "--bind", "203.0.113.20",
                     "--directory", web, "8080"])
    topo.popen(lan, ["dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0",
                     "--interface=lan0", "--bind-interfaces", "--user=root", "--no-ping",
                     "--dhcp-range=192.168.61.100,192.168.61.150,255.255.255.0,1h",
                     "--dhcp-option=option:router,192.168.61.1",
                     f"--dhcp-leasefile={topo.tmp}/leases", "--pid-file="])
    d = daemon_factory(host)
    d.ctl("switch", "create", "ext0", "--type", "external", "--uplink", "eth1", "--yes")
    d.ctl("port", "add", "ext0", "ve", "--type", "vhost-user")
    e = guests("vm-e", vhost_nic("n0", d.port("ext0", "ve")["socket"]))
    e.wait_ready(120)
    r = e.run("dhcp:eth0,timeout=30", timeout=60)
    assert r and r[0].ok, (r, e.tail(30))
    assert r[0]["ip"].startswith("192.168.61.1"), r[0]
    ping_ok(e, "203.0.113.20", "192.168.61.2")
    fetch = e.run("sh:wget -q -O - http://203.0.113.20:8080/hello.txt | grep -q vswitch-e2e-ok",
                  timeout=60)
    assert fetch and fetch[0].ok, (fetch, e.tail(20))
    topo.ping(host, "203.0.113.20")  # and the host still reaches the LAN through ext0


def test_vms_survive_kill9_of_the_switch(topo, daemon_factory, guests):
    """kill -9 while two VMs ping each other: once the switch is back the
    pings resume, and neither VM was restarted.  One VM is on vhost-user
    (QEMU reconnects), the other on a stream port the switch connects to."""
    host, d = internal_switch(topo, daemon_factory)
    d.ctl("port", "add", "sw0", "va", "--type", "vhost-user")
    dsock = os.path.join(topo.tmp, "vm-d.sock")
    d_guest = guests("vm-d", vm.stream_netdev("n0", dsock, server=True) +
                     vm.nic("virtio-net-pci", "n0"), ip="10.11.0.14/24")
    a = guests("vm-a", vhost_nic("n0", d.port("sw0", "va")["socket"]), ip="10.11.0.11/24")
    vm.wait_path(dsock, guest=d_guest)
    d.ctl("port", "add", "sw0", "sd", "--type", "stream", "--connect", dsock)
    a.wait_ready(120)
    d_guest.wait_ready(120)
    ping_ok(a, "10.11.0.14")
    a_pid, d_pid = a.pid, d_guest.pid
    mark = a.mark()
    a.send("pingloop:10.11.0.14,interval=0.5")
    a.wait_for(r"^VST-RESULT pingloop \S+ ok", 60, since=mark)
    d.kill9()
    down = a.mark()
    a.wait_for(r"^VST-RESULT pingloop \S+ fail", 60, since=down)  # really cut off
    d.start()
    back = a.mark()
    m = a.wait_for(r"^VST-RESULT pingloop \S+ ok", 60, since=back)
    assert m, a.tail(20)
    assert a.alive() and d_guest.alive() and a.pid == a_pid and d_guest.pid == d_pid
    assert d.port("sw0", "va")["state"] == "up" and d.port("sw0", "sd")["state"] == "up"


def test_deaf_paused_or_dead_vm_stalls_nobody(topo, daemon_factory, guests):
    host, d = internal_switch(topo, daemon_factory)
    for p in ("va", "vb", "vc"):
        d.ctl("port", "add", "sw0", p, "--type", "vhost-user")
    a = guests("vm-a", vhost_nic("n0", d.port("sw0", "va")["socket"]), ip="10.11.0.11/24")
    b = guests("vm-b", vhost_nic("n0", d.port("sw0", "vb")["socket"]), ip="10.11.0.12/24")
    c = guests("vm-c", vhost_nic("n0", d.port("sw0", "vc")["socket"]), ip="10.11.0.13/24",
               qmp=True)
    for g in (a, b, c):
        g.wait_ready(180)
    ping_ok(a, "10.11.0.12", "10.11.0.13")

    # vm-c stops reading: its driver goes down inside the guest and never
    # refills its RX ring, while the device keeps running.  Frames for its
    # MAC (known: they go to its port only) fill the ring and are dropped
    # there, while a and b ping each other.
    c.run("sh:ip link set eth0 down", timeout=30)
    d.ctl("port", "add", "sw0", "flood", "--type", "stream")
    fl = StreamClient.connect_when_ready(d.port("sw0", "flood")["socket"])
    wait_until(lambda: d.port("sw0", "flood")["state"] == "up")
    stop = threading.Event()

    def flood():
        blob = framed([eth(c.macs[0], "02:00:00:00:f1:00", 0x88b5, b"x" * 200)] * 256)
        while not stop.is_set():
            fl.send_raw(blob)
            time.sleep(0.01)

    def offered(port):
        st = d.stats("sw0", port)
        return st["tx_packets"] + st["tx_dropped"]

    before = {p: offered(p) for p in ("va", "vb", "vc")}
    t = threading.Thread(target=flood, daemon=True)
    t.start()
    try:
        rs = a.run("pingloop:10.11.0.12,count=10,interval=0.3", timeout=60)
        assert len([r for r in rs if r.ok]) == 10, (rs, a.tail(20))
        wait_until(lambda: d.stats("sw0", "vc")["tx_drop_queue_full"] > 1000, timeout=10,
                   what="drops at the deaf VM's port")
    finally:
        stop.set()
        t.join()
    assert d.port("sw0", "vc")["state"] == "up"
    # The flood went to the deaf VM's port only: a and b were offered no more
    # than their own pings and announcements.  (A TCG guest may still drop
    # one of its own frames at a momentarily full ring: that is its port's
    # own count, not the deaf VM's traffic landing elsewhere.)
    grown = {p: offered(p) - before[p] for p in before}
    assert grown["vc"] > 1000 and grown["va"] < 200 and grown["vb"] < 200, grown

    # Paused (QEMU stops the device): the port goes down, and comes back
    # up when the VM resumes.
    c.qmp("stop")
    wait_until(lambda: d.port("sw0", "vc")["state"] == "down", timeout=10)
    ping_ok(a, "10.11.0.12")
    c.qmp("cont")
    wait_until(lambda: d.port("sw0", "vc")["state"] == "up", timeout=10)
    c.run("sh:ip link set eth0 up", timeout=30)
    ping_ok(a, "10.11.0.13")

    # Killed outright: its port goes down, a and b carry on.
    c.kill()
    wait_until(lambda: d.port("sw0", "vc")["state"] == "down", timeout=10)
    rs = a.run("pingloop:10.11.0.12,count=5,interval=0.3", timeout=60)
    assert len([r for r in rs if r.ok]) == 5, (rs, a.tail(20))
