"""Faults the switch survives, and attacks it repels.

    - the daemon dies in the middle of writing its state (fault injection)
      or is kill -9'd while ports are being added: the state is always
      whole, and the daemon always starts with it;
    - a port sends frames from 1,000,000 random source MACs: the table stays
      at its bound, memory stays bounded, two VMs keep talking;
    - 1,000,000 random frames (any MAC, EtherType, VLAN) into one switch never
      come out of another.

    ns host: vswitchd; vm1 10.9.0.1 / vm2 10.9.0.2 on netdev ports; stream
    clients (QEMU framing) as attackers and listeners
"""
import json
import os
import random
import signal
import subprocess
import time

from frames import BCAST, StreamClient, eth, framed, random_frames
from lib import wait_until


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def names(d):
    return sorted((s["name"], tuple(sorted(p["name"] for p in s["ports"])))
                  for s in d.j("switch", "list"))


def state_names(d):
    with open(d.state_file()) as f:
        st = json.load(f)  # whole JSON, never torn
    return sorted((s["name"], tuple(sorted(
        ["host"] * s["host_nic"] + ["uplink"] * bool(s["uplink"]) +
        [p["name"] for p in s["ports"]]))) for s in st["switches"])


STEPS = [["port", "add", "p0", "a", "--type", "stream"],
         ["switch", "create", "p1", "--type", "private"],
         ["port", "add", "p1", "b", "--type", "dgram"],
         ["switch", "create", "i1", "--type", "internal"],
         ["port", "delete", "p0", "a"],
         ["switch", "delete", "p1"]]


def test_crash_while_saving_leaves_old_or_new_state(topo, daemon_factory):
    """The Nth save aborts half-way (VSWITCH_FAULT=save-abort:N).  Whatever
    N, the state file is whole and is one of the states a run without
    faults goes through, and the daemon starts with it."""
    host = topo.ns("host")
    d = daemon_factory(host)
    d.ctl("switch", "create", "p0", "--type", "private")
    d.stop()
    with open(d.state_file()) as f:
        baseline = f.read()

    def reset():
        with open(d.state_file(), "w") as f:
            f.write(baseline)
        topo.run(host, ["ip", "link", "del", "i1"], check=False)

    # A run without faults: every state it goes through.
    reset()
    d.start()
    good = [state_names(d)]
    for step in STEPS:
        d.ctl(*step)
        good.append(state_names(d))
    d.stop()

    k = 0
    while True:
        k += 1
        reset()
        d.start(extra_env={"VSWITCH_FAULT": f"save-abort:{k}"}, wait=False)
        try:
            wait_until(d.ready, timeout=15, what="vswitchd")
        except AssertionError:
            pass  # died already at its first save
        for step in STEPS:
            if d.proc.poll() is not None:
                break
            d.ctl(*step, check=False)
        if d.proc.poll() is None:
            d.stop()
            break  # k is past the last save of the sequence
        assert d.proc.wait(timeout=10) != 0
        after = state_names(d)  # json.load: the file is whole
        assert after in good, (k, after)
        d.start()  # and the daemon starts with it
        assert names(d) == after
        d.stop()
    assert k > len(STEPS), "the sequence saved fewer times than it has steps"


def test_kill9_during_port_add_loop(topo, daemon_factory):
    host = topo.ns("host")
    d = daemon_factory(host)
    d.ctl("switch", "create", "p0", "--type", "private")
    rnd = random.Random(7)
    n = 0
    for rnd_i in range(12):
        adder = subprocess.Popen(
            ["sh", "-c", "i=0; while :; do i=$((i+1)); "
             f"{' '.join(d.ctl_argv())} port add p0 r{rnd_i}x$i --type stream "
             ">/dev/null 2>&1; done"])
        topo.procs.append(adder)
        time.sleep(rnd.uniform(0.05, 0.4))
        d.kill9()
        adder.kill()
        adder.wait()
        after = state_names(d)  # whole JSON every time
        d.start()
        assert names(d) == after
        for p in d.j("port", "list", "p0"):
            assert os.path.exists(p["socket"]), p  # every saved port really exists
        n += len(after[0][1]) if after else 0
    assert n > 0


def test_mac_flood_stays_bounded(topo, daemon_factory):
    host = topo.ns("host")
    d = daemon_factory(host)
    d.ctl("switch", "create", "f0", "--type", "private", "--max-macs", "65536")
    vm1 = topo.vm("vm1", host, "vm1p", "10.9.0.1/24")
    vm2 = topo.vm("vm2", host, "vm2p", "10.9.0.2/24")
    d.ctl("port", "add", "f0", "vm1", "--type", "netdev", "--ifname", "vm1p")
    d.ctl("port", "add", "f0", "vm2", "--type", "netdev", "--ifname", "vm2p")
    d.ctl("port", "add", "f0", "evil", "--type", "stream")
    evil = StreamClient.connect_when_ready(d.port("f0", "evil")["socket"])
    wait_until(lambda: d.port("f0", "evil")["state"] == "up")
    topo.ping(vm1, "10.9.0.2")
    # The attacker's frames go to a MAC behind its own port: the switch
    # learns every source and filters every frame.
    own = "02:00:00:ee:ee:ee"
    evil.send(eth("ff:ff:ff:ff:ff:ff", own, 0x88b5, b"hello"))
    pid = int(subprocess.run(["ip", "netns", "pids", host], capture_output=True,
                             text=True).stdout.split()[0])
    rss0 = rss_kb(pid)
    ping = subprocess.Popen(["ip", "netns", "exec", vm1, "ping", "-n", "-q", "-i", "0.02",
                             "-W", "2", "10.9.0.2"], stdout=subprocess.PIPE, text=True)
    topo.procs.append(ping)
    total = 0
    rss = []
    for rnd in range(2):
        for chunk in range(10):
            frames = random_frames(50000, b"flood%d-%d" % (rnd, chunk), dst=own)
            evil.send_raw(framed(frames))
            total += len(frames)
        wait_until(lambda: d.stats("f0", "evil")["rx_packets"] == total + 1, timeout=120,
                   what="the flood to be read")
        rss.append(rss_kb(pid))
    ping.send_signal(signal.SIGINT)
    out, _ = ping.communicate(timeout=20)
    assert total == 1000000
    sw = d.j("switch", "show", "f0")
    assert sw["stats"]["macs"] == 65536
    assert sw["stats"]["table_full"] >= 1000000 - 65536
    st = d.stats("f0", "evil")
    assert st["rx_filtered"] + st["rx_flooded"] == total + 1
    # Memory: bounded by the table (2 MiB here) and the stream buffers, and
    # flat once the table is full.
    assert rss[0] - rss0 < 32 * 1024, (rss0, rss)
    assert rss[1] - rss[0] < 2 * 1024, (rss0, rss)
    # The VMs lost nothing.
    assert " 0% packet loss" in out, out
    assert d.stats("f0", "vm1")["macs"] == 1 and d.stats("f0", "vm2")["macs"] == 1


def test_million_random_frames_never_cross_switches(topo, daemon_factory):
    host = topo.ns("host")
    d = daemon_factory(host)
    d.ctl("switch", "create", "a0", "--type", "private")
    d.ctl("switch", "create", "b0", "--type", "private")
    for sw, port in (("a0", "in"), ("a0", "peer"), ("b0", "watch")):
        d.ctl("port", "add", sw, port, "--type", "stream")
    cin = StreamClient.connect_when_ready(d.port("a0", "in")["socket"])
    peer = StreamClient.connect_when_ready(d.port("a0", "peer")["socket"])
    watch = StreamClient.connect_when_ready(d.port("b0", "watch")["socket"])
    wait_until(lambda: all(d.port(s, p)["state"] == "up"
                           for s, p in (("a0", "in"), ("a0", "peer"), ("b0", "watch"))))
    total = 0
    for chunk in range(20):
        frames = random_frames(50000, b"iso%d" % chunk)
        cin.send_raw(framed(frames))
        total += len(frames)
        # Drain the peer so its queue does not overflow the test.
        peer.recv_all(timeout=0.01)
    wait_until(lambda: d.stats("a0", "in")["rx_packets"] == total, timeout=180,
               what="the frames to be read")
    assert total == 1000000
    assert watch.recv_all(timeout=1.0) == []
    b = d.stats("b0", "watch")
    assert b["tx_packets"] == 0 and b["rx_packets"] == 0
    assert d.j("switch", "show", "b0")["stats"]["macs"] == 0


def test_out_of_file_descriptors_sheds_connections_and_serves_the_rest(topo, daemon_factory):
    """A local user opening plug connections until the daemon has no file
    descriptors left: new connections are refused (closed at once, logged),
    the daemon does not spin on its listening socket, and the ports it has
    keep forwarding.  (The daemon raises its soft limit to the hard one;
    here the hard limit is 64.)"""
    import socket
    import time
    host = topo.ns("host")
    d = daemon_factory(host, prefix=["prlimit", "--nofile=64:64"])
    d.ctl("switch", "create", "p0", "--type", "private")
    for port in ("a", "b"):
        d.ctl("port", "add", "p0", port, "--type", "stream")
    a = StreamClient.connect_when_ready(d.port("p0", "a")["socket"])
    b = StreamClient.connect_when_ready(d.port("p0", "b")["socket"])
    wait_until(lambda: d.port("p0", "a")["state"] == "up" and d.port("p0", "b")["state"] == "up")
    plug = d.j("switch", "show", "p0")["plug"]
    hogs = []
    deadline = time.monotonic() + 20
    for _ in range(100):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setblocking(False)
        while True:  # a daemon that stops accepting leaves its backlog full
            try:
                s.connect(plug)
                break
            except BlockingIOError:
                assert time.monotonic() < deadline, "the daemon stopped taking connections"
                time.sleep(0.01)
        hogs.append(s)
    wait_until(lambda: "out of file descriptors" in d.read_log(), what="the shedding log line")
    t0 = cpu_ticks(d.proc.pid)
    time.sleep(2)
    used = cpu_ticks(d.proc.pid) - t0
    assert used < 100, f"the daemon used {used} ticks in 2 s: spinning on its listener?"
    frame = eth("02:00:00:00:00:0b", "02:00:00:00:00:0a", 0x88B5, b"still forwarding")
    b.send(eth(BCAST, "02:00:00:00:00:0b", 0x88B5, b"hello"))
    a.recv_match(lambda f: b"hello" in f)
    a.send(frame)
    assert b.recv_match(lambda f: b"still forwarding" in f) is not None
    for s in hogs:
        s.close()


def cpu_ticks(pid):
    """utime + stime of the vswitchd process under `ip netns exec` (pid is
    ip's, which execs the wrappers and vswitchd in turn: same pid)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])
