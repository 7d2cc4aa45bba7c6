"""Every bad request gets a one-line error starting with "vswitchctl: ",
exit status 1 (refused) or 2 (usage), and changes nothing: neither the
switches nor the saved state nor the host.

    ns host (vswitchd): switches s0 (private, port q), i0 (internal)
      veth lan0<->eth1 (a "NIC"), vm1p (attached as netdev on s0), free0 (free)
"""
import json
import os

import pytest

from lib import sh

BAD_REFUSED = [
    # names
    ["switch", "create", "way-too-long-name-x", "--type", "private"],
    ["switch", "create", "a/b", "--type", "private"],
    ["switch", "create", "..", "--type", "private"],
    ["switch", "create", ".", "--type", "private"],
    ["switch", "create", "sp ace", "--type", "private"],
    ["switch", "create", "", "--type", "private"],
    ["switch", "create", "s0", "--type", "private"],           # exists
    ["switch", "create", "n1", "--type", "bogus"],
    ["switch", "create", "n1", "--type", "external"],           # no uplink
    ["switch", "create", "n1", "--type", "internal", "--uplink", "eth1"],
    ["switch", "create", "n1", "--type", "internal", "--no-host-nic"],
    ["switch", "create", "n1", "--type", "external", "--uplink", "nosuch0", "--yes"],
    ["switch", "create", "n1", "--type", "external", "--uplink", "lo", "--yes"],
    ["switch", "create", "n1", "--type", "external", "--uplink", "vm1p", "--yes"],  # in use
    ["switch", "create", "n1", "--type", "external", "--uplink", "i0", "--yes"],    # our vNIC
    ["switch", "create", "eth1", "--type", "internal"],        # interface name taken
    ["switch", "create", "n1", "--type", "private", "--mtu", "20"],
    ["switch", "create", "n1", "--type", "private", "--mtu", "100000"],
    ["switch", "create", "n1", "--type", "private", "--aging", "0"],
    ["switch", "create", "n1", "--type", "private", "--max-macs", "0"],
    ["switch", "delete", "nosuch"],
    ["switch", "show", "nosuch"],
    # ports
    ["port", "add", "nosuch", "p", "--type", "stream"],
    ["port", "add", "s0", "q", "--type", "stream"],            # exists
    ["port", "add", "s0", "host", "--type", "stream"],         # reserved
    ["port", "add", "s0", "uplink", "--type", "stream"],
    ["port", "add", "s0", "plug-3", "--type", "stream"],
    ["port", "add", "s0", "../x", "--type", "stream"],
    ["port", "add", "s0", "..", "--type", "stream"],
    ["port", "add", "s0", "p", "--type", "bogus"],
    ["port", "add", "s0", "p", "--type", "host", "--ifname", "free0"],
    ["port", "add", "s0", "p", "--type", "netdev"],            # no --ifname
    ["port", "add", "s0", "p", "--type", "netdev", "--ifname", "nosuch0"],
    ["port", "add", "s0", "p", "--type", "netdev", "--ifname", "vm1p"],  # in use
    ["port", "add", "s0", "p", "--type", "netdev", "--ifname", "lo"],
    ["port", "add", "s0", "p", "--type", "netdev", "--ifname", "../../x"],
    ["port", "add", "s0", "p", "--type", "stream", "--ifname", "free0"],
    ["port", "add", "s0", "p", "--type", "dgram", "--connect", "/tmp/x.sock"],
    ["port", "add", "s0", "p", "--type", "stream", "--connect", "relative.sock"],
    ["port", "delete", "s0", "nosuch"],
    ["port", "delete", "i0", "host"],
    ["port", "show", "s0", "nosuch"],
    ["port", "list", "nosuch"],
    ["fdb", "show", "nosuch"],
    ["fdb", "flush", "s0", "nosuch"],
    ["stats", "nosuch"],
    ["stats", "s0", "nosuch"],
]

BAD_USAGE = [
    [],
    ["frobnicate"],
    ["switch"],
    ["switch", "frobnicate"],
    ["switch", "create"],
    ["switch", "create", "n1"],                      # no --type
    ["switch", "create", "n1", "--type"],            # no value
    ["switch", "create", "n1", "--type", "private", "--bogus"],
    ["switch", "create", "n1", "--type", "private", "--mtu", "abc"],
    ["switch", "create", "n1", "--type", "private", "--mtu", "-5"],
    ["switch", "create", "n1", "n2", "--type", "private"],
    ["switch", "delete"],
    ["port", "add", "s0"],
    ["port", "add", "s0", "p"],                      # no --type
    ["port", "show", "s0"],
    ["fdb", "show"],
    ["stats"],
]


@pytest.fixture
def world(topo, daemon_factory):
    host = topo.ns("host")
    lan = topo.ns("lan")
    topo.veth(lan, "lan0", host, "eth1")
    topo.addr(host, "eth1", "192.168.60.2/24")
    topo.veth(host, "free0", lan, "free0peer")
    d = daemon_factory(host)
    d.ctl("switch", "delete", "vswitch0")
    d.ctl("switch", "create", "s0", "--type", "private")
    d.ctl("switch", "create", "i0", "--type", "internal")
    d.ctl("port", "add", "s0", "q", "--type", "stream")
    topo.veth(host, "vm1p", lan, "vm1")
    d.ctl("port", "add", "s0", "vm1", "--type", "netdev", "--ifname", "vm1p")
    return topo, host, d


def snapshot(topo, host, d):
    """What a command could change, without what moves by itself (IPv6
    lifetimes and DAD flags, carrier)."""
    links = sorted((l["ifname"], l.get("address"), "UP" in l["flags"])
                   for l in topo.ip_json(host, "link"))
    addrs = sorted((l["ifname"], a["family"], a["local"], a["prefixlen"])
                   for l in topo.ip_json(host, "addr") for a in l.get("addr_info", []))
    routes = sorted((r["dst"], r.get("dev"), r.get("gateway"))
                    for fam in ("-4", "-6") for r in topo.ip_json(host, fam, "route"))
    sysctls = topo.run(host, ["sysctl", "net.ipv4.conf.eth1.arp_ignore",
                              "net.ipv6.conf.eth1.disable_ipv6",
                              "net.ipv4.conf.free0.arp_ignore"]).stdout
    return {
        "switches": d.j("switch", "list"),
        "state": open(d.state_file()).read(),
        "files": sorted(os.listdir(d.rundir)) + sorted(os.listdir(os.path.join(d.rundir, "s0"))),
        "links": links,
        "addrs": addrs,
        "routes": routes,
        "sysctls": sysctls,
    }


def strip_counters(snap):
    """Counters move (the VM's veth may send something); compare the rest."""
    s = json.loads(json.dumps(snap))
    for sw in s["switches"]:
        sw.pop("stats")
        for p in sw["ports"]:
            p.pop("stats")
    return s


@pytest.mark.parametrize("args", BAD_REFUSED, ids=lambda a: " ".join(a) or "empty")
def test_refused_and_nothing_changes(world, args):
    topo, host, d = world
    before = strip_counters(snapshot(topo, host, d))
    p = d.ctl(*args, check=False)
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vswitchctl: ") and len(lines[0]) > 20, \
        p.stderr
    assert p.stdout == ""
    assert strip_counters(snapshot(topo, host, d)) == before


@pytest.mark.parametrize("args", BAD_USAGE, ids=lambda a: " ".join(a) or "empty")
def test_usage_errors_exit_2(world, args):
    topo, host, d = world
    before = strip_counters(snapshot(topo, host, d))
    p = d.ctl(*args, check=False)
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert p.stderr.startswith("vswitchctl: ") or p.stderr.startswith("usage:") or \
        "usage" in p.stderr, p.stderr
    assert strip_counters(snapshot(topo, host, d)) == before


def test_help_everywhere(world):
    topo, host, d = world
    for args in (["--help"], ["switch", "--help"], ["switch", "create", "--help"],
                 ["port", "add", "--help"], ["fdb", "--help"], ["stats", "--help"]):
        p = d.ctl(*args)
        assert "usage" in p.stdout.lower() or "vswitchctl" in p.stdout, args


def test_malformed_control_requests(world):
    """The control socket itself: garbage in, an error out, daemon alive."""
    import socket
    topo, host, d = world
    for req in (b"not json\n", b"[1,2]\n", b'{"cmd": 5}\n', b'{"cmd":"switch.create",'
                b'"args":{"name":"x","type":"private","mtu":"big"}}\n',
                b'{"cmd":"nope"}\n', b'{"cmd":"switch.show","args":{"name":"s0\\u0000x"}}\n',
                b'{"cmd":"stats","args":[]}\n',
                # Invalid UTF-8 that the parser's message would echo back.
                b'{"cmd":"switch.show","ar\\u\xd0\x8c\xff\xfe"}}\xff\n'):
        s = socket.socket(socket.AF_UNIX)
        s.connect(os.path.join(d.rundir, "vswitchd.sock"))
        s.sendall(req)
        resp = json.loads(s.makefile().readline())
        assert resp["ok"] is False and resp["error"], req
        s.close()
    # An over-long request is refused, and the daemon carries on.
    s = socket.socket(socket.AF_UNIX)
    s.connect(os.path.join(d.rundir, "vswitchd.sock"))
    try:
        s.sendall(b"x" * 200000)
    except (BrokenPipeError, ConnectionResetError):
        pass
    s.close()
    assert sorted(x["name"] for x in d.j("switch", "list")) == ["i0", "s0"]


def test_daemon_rejects_bad_arguments(topo):
    from lib import VSWITCHD
    p = sh([VSWITCHD, "--log-level", "loud"], check=False)
    assert p.returncode == 2 and "log level" in p.stderr
    p = sh([VSWITCHD, "--rundir", "relative"], check=False)
    assert p.returncode == 2
    p = sh([VSWITCHD, "--rundir", "/tmp/" + "x" * 80], check=False)
    assert p.returncode == 2 and "108" in p.stderr
