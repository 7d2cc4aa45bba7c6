"""Learning and flooding, watched from three stream ports (QEMU's framing):

    A (02:..:0a) --+
    B (02:..:0b) --+-- switch l0 (private)
    C (02:..:0c) --+

A frame for a MAC the switch has not learned is flooded like a hub (C sees
it); once the destination has spoken, only its port gets frames for it.
"""
import time

from frames import BCAST, StreamClient, eth, mac_str
from lib import wait_until

MA, MB, MC = "02:00:00:00:00:0a", "02:00:00:00:00:0b", "02:00:00:00:00:0c"


def three_ports(topo, daemon_factory, *create_args):
    host = topo.ns("host")
    d = daemon_factory(host)
    d.ctl("switch", "create", "l0", "--type", "private", *create_args)
    clients = {}
    for name in ("a", "b", "c"):
        d.ctl("port", "add", "l0", name, "--type", "stream")
        clients[name] = StreamClient.connect_when_ready(d.port("l0", name)["socket"])
    wait_until(lambda: all(d.port("l0", n)["state"] == "up" for n in "abc"))
    return d, clients["a"], clients["b"], clients["c"]


def frame(dst, src, tag):
    return eth(dst, src, 0x88b5, tag.encode() * 4)


def test_flood_until_learned(topo, daemon_factory):
    d, a, b, c = three_ports(topo, daemon_factory)
    a.send(frame(MB, MA, "one"))
    assert b.recv_match(lambda f: b"one" in f) is not None
    assert c.recv_match(lambda f: b"one" in f) is not None  # unknown: flooded
    assert d.stats("l0", "a")["rx_flooded"] == 1
    assert d.stats("l0", "c")["tx_flooded"] == 1

    b.send(frame(MA, MB, "two"))  # B speaks: learned on port b; A known: unicast
    assert a.recv_match(lambda f: b"two" in f) is not None
    assert c.recv_match(lambda f: b"two" in f, timeout=0.5) is None

    a.send(frame(MB, MA, "three"))
    assert b.recv_match(lambda f: b"three" in f) is not None
    assert c.recv_match(lambda f: b"three" in f, timeout=0.5) is None

    fdb = {e["mac"]: e for e in d.j("fdb", "show", "l0")}
    assert fdb[MA]["port"] == "a" and fdb[MB]["port"] == "b" and MC not in fdb
    assert fdb[MA]["vlan"] == 0 and 0 <= fdb[MA]["age"] <= 2


def test_station_moves_and_flush(topo, daemon_factory):
    d, a, b, c = three_ports(topo, daemon_factory)
    b.send(frame(BCAST, MB, "hello"))
    c.send(frame(BCAST, MB, "moved"))  # B's MAC now behind port c
    a.recv_all(timeout=0.3)
    a.send(frame(MB, MA, "where"))
    assert c.recv_match(lambda f: b"where" in f) is not None
    assert b.recv_match(lambda f: b"where" in f, timeout=0.5) is None
    assert d.j("switch", "show", "l0")["stats"]["moved"] >= 1
    # Flushing the port forgets the station: flooded again.
    out = d.ctl("fdb", "flush", "l0", "c").stdout
    assert "1 entries flushed" in out
    a.send(frame(MB, MA, "again"))
    assert b.recv_match(lambda f: b"again" in f) is not None


def test_entries_age_out(topo, daemon_factory):
    d, a, b, c = three_ports(topo, daemon_factory, "--aging", "2")
    b.send(frame(BCAST, MB, "hello"))
    a.recv_all(timeout=0.3)
    c.recv_all(timeout=0.3)
    assert MB in [e["mac"] for e in d.j("fdb", "show", "l0")]
    time.sleep(3.2)
    assert d.j("fdb", "show", "l0") == []
    a.send(frame(MB, MA, "late"))
    assert c.recv_match(lambda f: b"late" in f) is not None  # flooded again


def test_bad_frames_dropped_and_counted(topo, daemon_factory):
    d, a, b, c = three_ports(topo, daemon_factory, "--mtu", "1500")
    a.send(frame(MB, BCAST, "bcast-src"))          # multicast source
    a.send(frame(MB, "00:00:00:00:00:00", "zero"))  # all-zero source
    a.send(b"\x02\x00\x00\x00\x00\x0b\x02")         # runt
    a.send(eth(MB, MA, 0x88b5, b"x" * 1600))        # longer than the MTU allows
    a.send(eth(MB, MA, 0x88b5, b"y" * 1500))        # the largest allowed
    got = b.recv_all(timeout=0.5)
    assert len(got) == 1 and len(got[0]) == 1514
    st = d.stats("l0", "a")
    assert st["rx_drop_bad_src"] == 2 and st["rx_drop_runt"] == 1 and st["rx_drop_oversize"] == 1
    assert st["rx_dropped"] == 4 and st["rx_packets"] == 5
    assert MB not in [e["mac"] for e in d.j("fdb", "show", "l0")]
    assert "00:00:00:00:00:00" not in [e["mac"] for e in d.j("fdb", "show", "l0")]


def test_table_bound(topo, daemon_factory):
    d, a, b, c = three_ports(topo, daemon_factory, "--max-macs", "10")
    for i in range(50):
        a.send(frame(BCAST, f"02:00:00:01:00:{i:02x}", "flood"))
    assert len(b.recv_all(timeout=0.5)) == 50
    sw = d.j("switch", "show", "l0")
    assert sw["stats"]["macs"] == 10 and sw["stats"]["table_full"] == 40
    assert d.stats("l0", "a")["learn_refused"] == 40
