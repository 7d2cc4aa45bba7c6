"""Internal switch: the host vNIC and two "VMs" talk through the switch.

    ns host (vswitchd)                       ns vm1
      sw0 (host vNIC, TAP) 10.0.0.1/24         eth0 10.0.0.11/24
      vm1p ----------------------- veth ------ eth0
      vm2p ----------------------- veth ------ eth0   ns vm2 10.0.0.12/24
           [ switch sw0: host, vm1, vm2 ]

The VMs' veths keep their default offloads (checksum, TSO), so TCP between
them and to the host crosses the switch as 64 KiB segments with partial
checksums; a transfer with a checked digest proves nothing is corrupted.
"""
import os
import time

from lib import sh

TCPCHECK = os.path.join(os.path.dirname(__file__), "..", "tcpcheck.py")


def setup_internal(topo, daemon_factory):
    host = topo.ns("host")
    d = daemon_factory(host)
    d.ctl("switch", "create", "sw0", "--type", "internal")
    topo.addr(host, "sw0", "10.0.0.1/24")
    vm1 = topo.vm("vm1", host, "vm1p", "10.0.0.11/24")
    vm2 = topo.vm("vm2", host, "vm2p", "10.0.0.12/24")
    d.ctl("port", "add", "sw0", "vm1", "--type", "netdev", "--ifname", "vm1p")
    d.ctl("port", "add", "sw0", "vm2", "--type", "netdev", "--ifname", "vm2p")
    return host, d, vm1, vm2


def test_host_and_vms_ping_each_other(topo, daemon_factory):
    host, d, vm1, vm2 = setup_internal(topo, daemon_factory)
    sw = d.j("switch", "show", "sw0")
    assert sw["type"] == "internal" and sw["host_nic"] == "sw0" and sw["uplink"] is None
    assert [p["name"] for p in sw["ports"]] == ["host", "vm1", "vm2"]
    assert all(p["state"] == "up" for p in sw["ports"])
    link = topo.ip_json(host, "link", "dev", "sw0")[0]
    assert "UP" in link["flags"]

    topo.ping(vm1, "10.0.0.12", count=3)
    topo.ping(vm2, "10.0.0.11", count=3)
    topo.ping(vm1, "10.0.0.1", count=3)
    topo.ping(host, "10.0.0.11", count=3)
    topo.ping(host, "10.0.0.12", count=3)

    # The switch learned every station on its own port.
    fdb = {e["mac"]: e["port"] for e in d.j("fdb", "show", "sw0")}
    vm1_mac = topo.ip_json(vm1, "link", "dev", "eth0")[0]["address"]
    host_mac = topo.ip_json(host, "link", "dev", "sw0")[0]["address"]
    assert fdb[vm1_mac] == "vm1"
    assert fdb[host_mac] == "host"
    st = d.stats("sw0", "vm1")
    assert st["rx_packets"] >= 6 and st["tx_packets"] >= 6
    assert st["rx_dropped"] == 0 and st["tx_dropped"] == 0


def test_attached_interface_is_off_the_host_stack(topo, daemon_factory):
    host, d, vm1, vm2 = setup_internal(topo, daemon_factory)
    # No ARP answers for the host's addresses, no IPv6, no addresses.
    arp = topo.run(host, ["cat", "/proc/sys/net/ipv4/conf/vm1p/arp_ignore"]).stdout.strip()
    v6 = topo.run(host, ["cat", "/proc/sys/net/ipv6/conf/vm1p/disable_ipv6"]).stdout.strip()
    assert arp == "8" and v6 == "1"
    assert topo.addrs(host, "vm1p") == []
    # GRO on (a veth has it off): the switch reads a TCP flow's segments
    # joined into one frame.
    assert gro(topo, host, "vm1p") == "on"
    # Detach: the settings come back.
    d.ctl("port", "delete", "sw0", "vm1")
    arp = topo.run(host, ["cat", "/proc/sys/net/ipv4/conf/vm1p/arp_ignore"]).stdout.strip()
    v6 = topo.run(host, ["cat", "/proc/sys/net/ipv6/conf/vm1p/disable_ipv6"]).stdout.strip()
    assert arp == "0" and v6 == "0"
    assert gro(topo, host, "vm1p") == "off"


def gro(topo, ns, ifname):
    out = topo.run(ns, ["ethtool", "-k", ifname]).stdout
    return next(line.split()[1] for line in out.splitlines()
                if line.startswith("generic-receive-offload:"))


def tcp_transfers(topo, servers, clients, nbytes="20000000"):
    """Start tcpcheck servers (ns, ip, port), then run each client (ns, ip,
    port) to completion: 20 MB each, checked end to end."""
    for ns, ip, port in servers:
        topo.popen(ns, ["/usr/bin/python3", TCPCHECK, "server", ip, port])
    time.sleep(0.5)
    for ns, ip, port in clients:
        topo.run(ns, ["/usr/bin/python3", TCPCHECK, "client", ip, port, nbytes], timeout=60)


def test_tcp_through_a_port_without_offloads(topo, daemon_factory):
    """Segmentation-offload frames (from vm1's TSO, or joined by GRO) that
    leave through an interface without TSO or checksum offload are segmented
    and checksummed on the way out, not dropped; both ways."""
    host, d, vm1, vm2 = setup_internal(topo, daemon_factory)
    topo.run(host, ["ethtool", "-K", "vm2p", "tx", "off", "tso", "off"])
    tcp_transfers(topo, servers=[(vm2, "10.0.0.12", "5001"), (vm1, "10.0.0.11", "5002")],
                  clients=[(vm1, "10.0.0.12", "5001"), (vm2, "10.0.0.11", "5002")])
    for p in ("vm1", "vm2"):
        st = d.stats("sw0", p)
        assert st["tx_dropped"] == 0 and st["rx_drop_malformed"] == 0, (p, st)


def test_tcp_with_default_offloads(topo, daemon_factory):
    host, d, vm1, vm2 = setup_internal(topo, daemon_factory)
    tcp_transfers(topo, servers=[(vm2, "10.0.0.12", "5001"), (host, "10.0.0.1", "5002")],
                  clients=[(vm1, "10.0.0.12", "5001"), (vm1, "10.0.0.1", "5002"),
                           (host, "10.0.0.12", "5001")])
    for p in ("vm1", "vm2", "host"):
        st = d.stats("sw0", p)
        assert st["rx_drop_malformed"] == 0 and st["tx_drop_offload"] == 0, (p, st)


def test_default_switch_and_ctrl_c(topo, daemon_factory):
    """First start: vswitch0 (internal) with its vNIC up.  SIGINT stops the
    daemon cleanly and leaves the vNIC configured; the next start adopts it."""
    host = topo.ns("host")
    d = daemon_factory(host)
    sws = d.j("switch", "list")
    assert [(s["name"], s["type"], s["host_nic"]) for s in sws] == [
        ("vswitch0", "internal", "vswitch0")]
    assert "UP" in topo.ip_json(host, "link", "dev", "vswitch0")[0]["flags"]
    assert "plug.sock" in d.read_log() and "qemu-system-x86_64" in d.read_log()
    topo.addr(host, "vswitch0", "10.9.0.1/24")
    ifindex = topo.ip_json(host, "link", "dev", "vswitch0")[0]["ifindex"]

    assert d.stop(sig=2) == 0  # SIGINT, as Ctrl-C
    assert topo.addrs(host, "vswitch0") == ["10.9.0.1/24"]
    d.start()
    assert [s["name"] for s in d.j("switch", "list")] == ["vswitch0"]
    assert topo.ip_json(host, "link", "dev", "vswitch0")[0]["ifindex"] == ifindex
    assert topo.addrs(host, "vswitch0") == ["10.9.0.1/24"]
    # A user who deleted every switch gets no default back.
    d.ctl("switch", "delete", "vswitch0")
    assert not topo.link_exists(host, "vswitch0")
    d.stop()
    d.start()
    assert d.j("switch", "list") == []


def test_busy_poll_mode_serves_every_port_type(topo, daemon_factory):
    """--busy-poll polls the AF_PACKET rings and vhost-user queues on every
    pass and asks epoll only now and then: kernel ports, the host vNIC (TAP,
    epoll only) and the control socket must all keep working, and TCP too."""
    host = topo.ns("host")
    d = daemon_factory(host, args=["--busy-poll"])
    d.ctl("switch", "create", "sw0", "--type", "internal")
    topo.addr(host, "sw0", "10.0.0.1/24")
    vm1 = topo.vm("vm1", host, "vm1p", "10.0.0.11/24")
    vm2 = topo.vm("vm2", host, "vm2p", "10.0.0.12/24")
    d.ctl("port", "add", "sw0", "vm1", "--type", "netdev", "--ifname", "vm1p")
    d.ctl("port", "add", "sw0", "vm2", "--type", "netdev", "--ifname", "vm2p")
    topo.ping_until(vm1, "10.0.0.12")
    topo.ping(vm2, "10.0.0.1", count=3)
    topo.popen(vm2, ["/usr/bin/python3", TCPCHECK, "server", "10.0.0.12", "5001"])
    time.sleep(0.5)
    topo.run(vm1, ["/usr/bin/python3", TCPCHECK, "client", "10.0.0.12", "5001", "20000000"],
             timeout=60)
    assert d.stats("sw0", "vm2")["tx_dropped"] == 0
