"""External switch: the seed's picture, with a veth as the physical NIC.

    ns lan ("the LAN")                     ns host (vswitchd)
      lan0 192.168.50.1/24 ===== veth ===== eth1 192.168.50.2/24, default via .1
      203.0.113.10 (a server, routed)        |
      dnsmasq (DHCP .100-.150)               | after `switch create ext0 --uplink eth1`:
                                             |   ext0 (host vNIC) 192.168.50.2/24, default via .1
      ns vm1: eth0 192.168.50.11 ==veth== vm1p (netdev port)
      ns vm2: eth0 (DHCP)         ==veth== vm2p (netdev port)
"""
import json
import os
import re
import time

import pytest

from lib import wait_until

TCPCHECK = os.path.join(os.path.dirname(__file__), "..", "tcpcheck.py")
SERVER = "203.0.113.10"


def make_lan(topo, with_dhcp=True):
    lan = topo.ns("lan")
    host = topo.ns("host")
    topo.veth(lan, "lan0", host, "eth1")
    topo.addr(lan, "lan0", "192.168.50.1/24")
    topo.addr(lan, "lo", f"{SERVER}/32")
    topo.run(lan, ["sysctl", "-qw", "net.ipv4.ip_forward=1"])
    topo.addr(host, "eth1", "192.168.50.2/24")
    topo.addr(host, "eth1", "fd00:50::2/64")  # with DAD, as a user's address is
    topo.run(host, ["ip", "route", "add", "default", "via", "192.168.50.1", "dev", "eth1"])
    topo.run(host, ["ip", "route", "add", "198.51.100.0/24", "via", "192.168.50.1", "metric",
                    "50"])
    # An IPv6 route with a source address: it can only be added once the
    # address has passed duplicate address detection, or with nodad.
    topo.run(lan, ["ip", "addr", "add", "fd00:50::1/64", "dev", "lan0", "nodad"])
    wait_until(lambda: not topo.run(host, ["ip", "-6", "addr", "show", "dev", "eth1",
                                           "tentative"]).stdout.strip(), what="IPv6 DAD")
    topo.run(host, ["ip", "-6", "route", "add", "fd00:99::/64", "via", "fd00:50::1", "src",
                    "fd00:50::2"])
    topo.popen(lan, ["/usr/bin/python3", TCPCHECK, "server", SERVER, "8080"])
    if with_dhcp:
        topo.popen(lan, ["dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0",
                         "--interface=lan0", "--bind-interfaces", "--user=root",
                         "--dhcp-range=192.168.50.100,192.168.50.150,255.255.255.0,1h",
                         f"--dhcp-leasefile={topo.tmp}/leases", "--pid-file="])
    return lan, host


def host_config(topo, host, ifname):
    routes = topo.ip_json(host, "route", "dev", ifname)
    v6 = [f"{a['local']}/{a['prefixlen']}" for l in topo.ip_json(host, "addr", "dev", ifname)
          for a in l.get("addr_info", []) if a["family"] == "inet6" and a["scope"] == "global"]
    return {
        "addrs": topo.addrs(host, ifname),
        "default": any(r["dst"] == "default" and r.get("gateway") == "192.168.50.1"
                       for r in routes),
        "static": any(r["dst"] == "198.51.100.0/24" for r in routes),
        "v6": v6,
        "v6route": [(r["dst"], r.get("gateway"), r.get("prefsrc"))
                    for r in topo.ip_json(host, "-6", "route", "dev", ifname)
                    if r["dst"] == "fd00:99::/64"],
    }


def tcp_ok(topo, ns, ip=SERVER):
    return topo.run(ns, ["/usr/bin/python3", TCPCHECK, "client", ip, "8080", "100000"],
                    check=False, timeout=40).returncode == 0


def test_external_switch_moves_host_config_and_back(topo, daemon_factory):
    lan, host = make_lan(topo)
    before = host_config(topo, host, "eth1")
    assert before["addrs"] and before["default"] and before["static"]
    eth1_mac = topo.ip_json(host, "link", "dev", "eth1")[0]["address"]
    d = daemon_factory(host)
    d.ctl("switch", "create", "ext0", "--type", "external", "--uplink", "eth1", "--yes")

    sw = d.j("switch", "show", "ext0")
    assert (sw["type"], sw["uplink"], sw["host_nic"]) == ("external", "eth1", "ext0")
    # The host's address and routes, the default one included, are on the vNIC now.
    assert host_config(topo, host, "ext0") == before
    assert topo.addrs(host, "eth1") == []
    assert topo.ip_json(host, "route", "dev", "eth1") == []
    assert topo.ip_json(host, "link", "dev", "ext0")[0]["address"] == eth1_mac
    # The host still reaches the server beyond the LAN, through the switch.
    topo.ping_until(host, SERVER)
    assert tcp_ok(topo, host)
    assert d.stats("ext0", "uplink")["tx_packets"] > 0
    assert d.stats("ext0", "host")["rx_packets"] > 0

    # A VM with a static address reaches the server and the host.
    vm1 = topo.vm("vm1", host, "vm1p", "192.168.50.11/24")
    topo.run(vm1, ["ip", "route", "add", "default", "via", "192.168.50.1"])
    d.ctl("port", "add", "ext0", "vm1", "--type", "netdev", "--ifname", "vm1p")
    topo.ping_until(vm1, SERVER)
    topo.ping(vm1, "192.168.50.2", count=2)
    assert tcp_ok(topo, vm1)

    # A VM gets a DHCP lease through the switch.
    vm2 = topo.vm("vm2", host, "vm2p")
    d.ctl("port", "add", "ext0", "vm2", "--type", "netdev", "--ifname", "vm2p")
    p = topo.run(vm2, ["busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-t", "8", "-T", "1",
                       "-s", "/bin/true"], check=False, timeout=60)
    assert p.returncode == 0 and "obtained" in (p.stdout + p.stderr), p.stdout + p.stderr
    leases = open(f"{topo.tmp}/leases").read()
    # dnsmasq's range is .100 to .150, both ends included.
    assert re.search(r" 192\.168\.50\.(1[0-4][0-9]|150) ", leases), leases

    # Delete: everything back on the physical NIC.
    d.ctl("switch", "delete", "ext0")
    assert not topo.link_exists(host, "ext0")
    assert host_config(topo, host, "eth1") == before
    topo.ping_until(host, SERVER)
    assert tcp_ok(topo, host)
    assert "ext0" not in [s["name"] for s in d.j("switch", "list")]


def test_no_host_nic(topo, daemon_factory):
    lan, host = make_lan(topo, with_dhcp=False)
    before = host_config(topo, host, "eth1")
    d = daemon_factory(host)
    d.ctl("switch", "create", "ext0", "--type", "external", "--uplink", "eth1",
          "--no-host-nic", "--yes")
    assert d.j("switch", "show", "ext0")["host_nic"] is None
    assert not topo.link_exists(host, "ext0")
    assert topo.addrs(host, "eth1") == []
    # What was removed is kept in the saved state.
    state = json.load(open(d.state_file()))
    rec = [s for s in state["switches"] if s["name"] == "ext0"][0]
    saved = [a["address"] for a in rec["uplink_saved"]["ifconfig"]["addrs"]]
    assert "192.168.50.2" in saved

    vm1 = topo.vm("vm1", host, "vm1p", "192.168.50.11/24")
    topo.run(vm1, ["ip", "route", "add", "default", "via", "192.168.50.1"])
    d.ctl("port", "add", "ext0", "vm1", "--type", "netdev", "--ifname", "vm1p")
    topo.ping_until(vm1, SERVER)
    assert tcp_ok(topo, vm1)
    assert not topo.ping(host, SERVER, check=False)

    d.ctl("switch", "delete", "ext0")
    assert host_config(topo, host, "eth1") == before
    topo.ping_until(host, SERVER)


def test_confirmation_required_without_terminal(topo, daemon_factory):
    lan, host = make_lan(topo, with_dhcp=False)
    before = host_config(topo, host, "eth1")
    d = daemon_factory(host)
    listed = d.config()
    p = d.ctl("switch", "create", "ext0", "--type", "external", "--uplink", "eth1",
              check=False)
    assert p.returncode == 1
    assert p.stderr.startswith("vswitchctl: ") and "--yes" in p.stderr
    assert "192.168.50.2/24" in p.stderr
    assert d.config() == listed
    assert host_config(topo, host, "eth1") == before
    assert not topo.link_exists(host, "ext0")


@pytest.mark.parametrize("point", ["create-host-nic", "create-strip", "create-move",
                                   "create-plug"])
def test_failure_at_any_step_rolls_back(topo, daemon_factory, point):
    lan, host = make_lan(topo, with_dhcp=False)
    before = host_config(topo, host, "eth1")
    sysctls = topo.run(host, ["sysctl", "net.ipv4.conf.eth1.arp_ignore",
                              "net.ipv6.conf.eth1.disable_ipv6"]).stdout
    d = daemon_factory(host, env={"VSWITCH_FAULT": f"fail:{point}"})
    listed = d.config()
    state_before = json.load(open(d.state_file()))
    p = d.ctl("switch", "create", "ext0", "--type", "external", "--uplink", "eth1", "--yes",
              check=False)
    assert p.returncode == 1 and p.stderr.startswith("vswitchctl: "), p.stderr
    assert host_config(topo, host, "eth1") == before
    assert topo.run(host, ["sysctl", "net.ipv4.conf.eth1.arp_ignore",
                           "net.ipv6.conf.eth1.disable_ipv6"]).stdout == sysctls
    assert not topo.link_exists(host, "ext0")
    assert d.config() == listed
    assert json.load(open(d.state_file())) == state_before
    topo.ping(host, SERVER)


def test_uplink_vanishes_and_returns(topo, daemon_factory):
    """The physical NIC disappears (unplugged, driver reloaded) and comes
    back: the uplink port goes down, the host keeps its addresses on the
    vNIC and keeps talking to the VMs, and the NIC is re-attached by itself
    (and taken off the host's stack again) when it is back."""
    lan, host = make_lan(topo, with_dhcp=False)
    d = daemon_factory(host)
    d.ctl("switch", "create", "ext0", "--type", "external", "--uplink", "eth1", "--yes")
    vm1 = topo.vm("vm1", host, "vm1p", "192.168.50.11/24")
    topo.run(vm1, ["ip", "route", "add", "default", "via", "192.168.50.1"])
    d.ctl("port", "add", "ext0", "vm1", "--type", "netdev", "--ifname", "vm1p")
    topo.ping_until(host, SERVER)
    mac = topo.ip_json(host, "link", "dev", "eth1")[0]["address"]
    lan_mac = topo.ip_json(lan, "link", "dev", "lan0")[0]["address"]

    topo.run(host, ["ip", "link", "del", "eth1"])
    wait_until(lambda: d.port("ext0", "uplink")["state"] == "down", timeout=5)
    assert "192.168.50.2/24" in topo.addrs(host, "ext0")
    topo.ping(vm1, "192.168.50.2", count=2)  # the switch serves the others
    assert not topo.ping(host, SERVER, check=False)

    topo.veth(lan, "lan0", host, "eth1")
    topo.run(host, ["ip", "link", "set", "eth1", "address", mac])
    topo.run(lan, ["ip", "link", "set", "lan0", "address", lan_mac])  # the LAN is the same
    topo.addr(lan, "lan0", "192.168.50.1/24")
    wait_until(lambda: d.port("ext0", "uplink")["state"] == "up", timeout=5)
    topo.ping_until(host, SERVER)
    topo.ping_until(vm1, SERVER)
    assert topo.addrs(host, "eth1") == []
    assert topo.run(host, ["cat", "/proc/sys/net/ipv4/conf/eth1/arp_ignore"]).stdout.strip() == "8"
    # And deleting the switch still gives the NIC its configuration back.
    d.ctl("switch", "delete", "ext0")
    assert "192.168.50.2/24" in topo.addrs(host, "eth1")
    topo.ping_until(host, SERVER)
