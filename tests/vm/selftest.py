#!/usr/bin/python3
"""Self-test of the VM test machinery, without the switch.

    /usr/bin/python3 tests/vm/selftest.py [--outdir DIR] [--logdir DIR] [--keep-logs]

1. builds the guest (timed: a fresh build in a scratch directory, then the
   up-to-date rerun; the guests boot from the default directory);
2. boots guests wired to each other by QEMU stream netdevs over UNIX
   sockets and checks they ping each other:
     pair 1: virtio-net-pci,vectors=0 (server) <-> e1000 (client), both
             serving console commands: pings both ways, a pingloop, the cmd
             and sh jobs, then poweroff from the console;
     pair 2: virtio-net-pci (MSI-X) <-> e1000e, pings given on the kernel
             command line, both power off by themselves;
3. pingloop across a peer that is killed and booted again;
4. runs the dhcp job against dnsmasq in a network namespace of its own
   (QEMU runs in the namespace with -netdev tap on a TAP device there),
   then deletes the namespace;
5. prints the measured figures.

Exits 0 when everything passed, 1 otherwise.  Needs root (namespace, TAP).
"""

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import guest  # noqa: E402
from guest import Guest, nic, stream_netdev, tap_netdev, wait_path  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

failures = []
figures = []


def check(cond, what):
    print("  %s: %s" % ("ok  " if cond else "FAIL", what), flush=True)
    if not cond:
        failures.append(what)
    return cond


def figure(name, value):
    figures.append((name, value))


def section(title):
    print("\n== %s" % title, flush=True)


# ---------------------------------------------------------------------------

def test_build(outdir):
    section("build")
    scratch = tempfile.mkdtemp(prefix="vst-build-")
    try:
        t0 = time.monotonic()
        p = subprocess.run(["bash", guest.BUILD_SCRIPT, scratch], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        t_fresh = time.monotonic() - t0
        print(p.stdout, end="")
        check(p.returncode == 0, "fresh build exits 0")
        check(os.path.exists(os.path.join(scratch, "vmlinux")), "vmlinux extracted")
        t0 = time.monotonic()
        p2 = subprocess.run(["bash", guest.BUILD_SCRIPT, scratch], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
        t_again = time.monotonic() - t0
        print(p2.stdout, end="")
        check(p2.returncode == 0 and "up to date" in p2.stdout
              and "extracted" not in p2.stdout and "built initramfs" not in p2.stdout,
              "second build is a no-op")
        figure("guest build, fresh", "%.2f s" % t_fresh)
        figure("guest build, up to date", "%.2f s" % t_again)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    t0 = time.monotonic()
    guest.build(outdir, verbose=True)
    print("  (default guest dir %s ready in %.2f s)" % (outdir, time.monotonic() - t0))


def ready_time(g, what):
    t = g.wait_ready(90)
    nic_line = g.wait_for(r"^VST-NIC eth0 .*$", 5).group(0)
    check("carrier=1" in nic_line, "%s: eth0 has carrier (%s)" % (g.name, nic_line))
    boot = g.event_time(r"^VST-BOOT ")
    print("  %s: QEMU start -> /init %.2f s, -> VST-READY %.2f s" % (g.name, boot, t))
    ready_times.setdefault(what, []).append(t)
    return t


ready_times = {}
rtts = []


def test_pair_console(tmp, common):
    section("pair 1: virtio-net-pci,vectors=0 <-> e1000, console commands")
    sock = os.path.join(tmp, "pair1.sock")
    # b's QEMU (the stream client) needs a's socket at start-up
    a = Guest("p1-virtio", ip="10.0.0.5/24", job="serve",
              nic_args=stream_netdev("n0", sock, server=True)
              + nic("virtio-net-pci", "n0", vectors0=True), **common)
    with a:
        wait_path(sock, guest=a)
        b = Guest("p1-e1000", ip="10.0.0.6/24", job="serve",
                  nic_args=stream_netdev("n0", sock, server=False) + nic("e1000", "n0"),
                  **common)
        with b:
            ready_time(a, "virtio-net-pci,vectors=0")
            ready_time(b, "e1000")
            check(a.macs[0] != b.macs[0], "distinct MACs %s %s" % (a.macs[0], b.macs[0]))

            r = a.run("ping:10.0.0.6", timeout=60)
            check(len(r) == 1 and r[0].ok and r[0].target == "10.0.0.6",
                  "virtio guest pings e1000 guest: %s" % r)
            if r and r[0].ok:
                rtts.append(float(r[0]["rtt_ms"]))
            r = b.run("ping:10.0.0.5,count=5", timeout=60)
            check(len(r) == 1 and r[0].ok, "e1000 guest pings virtio guest: %s" % r)
            if r and r[0].ok:
                rtts.append(float(r[0]["rtt_ms"]))
            r = b.run("ping:10.0.0.99,timeout=2,count=0", timeout=30)
            check(len(r) == 1 and not r[0].ok, "ping to an absent address fails: %s" % r)

            r = a.run("pingloop:10.0.0.6,count=3", timeout=30)
            check(len(r) == 3 and all(x.ok and x.job == "pingloop" for x in r)
                  and [x["seq"] for x in r] == ["1", "2", "3"],
                  "pingloop count=3 gives 3 ok lines: %s" % [x.line for x in r])
            if len(r) == 3:
                ts = [float(x["t"]) for x in r]
                check(0.7 < ts[2] - ts[0] < 3.5, "pingloop paces ~1 line/s (t=%s)" % ts)

            r = a.run("cmd:%s;sh:echo hello-$((6*7)); exit 3" % guest.b64("ip -o link show eth0"),
                      timeout=30)
            check([x.job for x in r] == ["cmd", "sh"] and r[0].ok and not r[1].ok
                  and r[1]["rc"] == "3", "cmd ok and sh fails with rc=3: %s" % r)
            check("hello-42" in a.output, "sh output reaches the console")

            check(all(x.ok for x in a.results() + b.results() if x.job == "sleep"),
                  "no stray results")
            a.send("poweroff")
            b.send("poweroff")
            check(a.wait_exit(30) == 0 and b.wait_exit(30) == 0,
                  "both QEMUs exit when the guests power off")


def test_pair_cmdline(tmp, common):
    section("pair 2: virtio-net-pci (MSI-X) <-> e1000e, jobs on the kernel command line")
    sock = os.path.join(tmp, "pair2.sock")
    # a has two more NICs that go nowhere, e1000 then virtio: eth1 must be
    # the e1000 (PCI order) though virtio_net is loaded first
    a = Guest("p2-virtio", ip="10.0.1.5/24", job="ping:10.0.1.6,fd00:1::6;cmd;sleep:2",
              params={"ip6": "fd00:1::5/64", "ip1": "10.0.9.5/24", "mac1": "02:00:00:00:09:05",
                      "mtu": "1400"},
              cmd="set -e; ip -o addr show eth1 | grep -q 10.0.9.5/24;"
                  " grep -q 02:00:00:00:09:05 /sys/class/net/eth1/address;"
                  " grep -q 1400 /sys/class/net/eth0/mtu; ip -6 -o addr show eth0 | grep -q fd00:1::5",
              nic_args=stream_netdev("n0", sock, server=True) + nic("virtio-net-pci", "n0")
              + ["-netdev", "hubport,id=n1,hubid=1"] + nic("e1000", "n1")
              + ["-netdev", "hubport,id=n2,hubid=2"] + nic("virtio-net-pci", "n2"),
              **common)
    with a:
        wait_path(sock, guest=a)
        b = Guest("p2-e1000e", ip="10.0.1.6/24", job="ping:10.0.1.5,fd00:1::5;sleep:2",
                  params={"ip6": "fd00:1::6/64"},
                  nic_args=stream_netdev("n0", sock, server=False) + nic("e1000e", "n0"),
                  **common)
        with b:
            ready_time(a, "virtio-net-pci")
            ready_time(b, "e1000e")
            ra = a.wait_result("ping", "10.0.1.6", timeout=60)
            rb = b.wait_result("ping", "10.0.1.5", timeout=60)
            check(ra.ok, "virtio guest pings e1000e guest: %s" % ra)
            check(rb.ok, "e1000e guest pings virtio guest: %s" % rb)
            for r in (ra, rb):
                if r.ok:
                    rtts.append(float(r["rtt_ms"]))
            r6 = a.wait_result("ping", "fd00:1::6", timeout=60)
            check(r6.ok, "IPv6 ping: %s" % r6)
            r6 = b.wait_result("ping", "fd00:1::5", timeout=60)
            check(r6.ok, "IPv6 ping back: %s" % r6)
            nics = re.findall(r"^VST-NIC (eth\d) mac=(\S+) driver=(\S+)", a.output, re.M)
            check([(n, d) for n, m, d in nics] == [("eth0", "virtio_net"), ("eth1", "e1000"),
                                                   ("eth2", "virtio_net")],
                  "NICs named in PCI order: %s" % nics)
            check(len(a.macs) == 3 and nics and nics[0][1] == a.macs[0]
                  and nics[2][1] == a.macs[2], "QEMU-assigned MACs seen in the guest")
            rc = a.wait_result("cmd", timeout=60)
            check(rc.ok, "vst.ip1/mac1/mtu/ip6 applied (cmd checks them): %s" % rc)
            check(a.wait_exit(60) == 0 and b.wait_exit(60) == 0,
                  "both power off by themselves after their jobs")
            check("VST-DONE" in a.output and "VST-DONE" in b.output, "VST-DONE printed")


def test_restart(tmp, common):
    section("pingloop across a peer restart (stand-in for restarting the switch)")
    sock = os.path.join(tmp, "restart.sock")
    mac = guest.new_mac()      # the same MAC after the restart: no stale ARP
    def peer():
        return Guest("rs-peer", ip="10.0.3.6/24", job="serve",
                     nic_args=stream_netdev("n0", sock, server=False) + nic("e1000", "n0", mac=mac),
                     **common)
    a = Guest("rs-loop", ip="10.0.3.5/24", job="pingloop:10.0.3.6",
              nic_args=stream_netdev("n0", sock, server=True) + nic("virtio-net-pci", "n0"),
              **common)
    with a:
        wait_path(sock, guest=a)
        with peer() as b:
            b.wait_ready(90)
            a.wait_for(r"^VST-RESULT pingloop 10\.0\.3\.6 ok ", 60)
            m = a.mark()
        down = a.wait_for(r"^VST-RESULT pingloop 10\.0\.3\.6 fail .*$", 10, m)
        check(True, "pingloop reports the peer gone: %s" % down.group(0))
        m = down.end()
        t_down = time.monotonic()
        with peer() as b:
            b.wait_ready(90)
            up = a.wait_for(r"^VST-RESULT pingloop 10\.0\.3\.6 ok .*$", 30, m)
            check(True, "pingloop reports it back: %s" % up.group(0))
            figure("pingloop: peer killed -> ok again (incl. its reboot)",
                   "%.1f s" % (time.monotonic() - t_down))
        lines = [r for r in a.results() if r.job == "pingloop"]
        seqs = [int(r["seq"]) for r in lines]
        check(seqs == list(range(1, len(seqs) + 1)), "one line per round, seq 1..%d" % len(seqs))


def sh(*argv, check_rc=True):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if check_rc and p.returncode != 0:
        raise RuntimeError("%s: rc=%d: %s" % (" ".join(argv), p.returncode, p.stdout))
    return p


def test_dhcp(tmp, common):
    section("dhcp: guest <-> TAP <-> dnsmasq, in a network namespace of our own")
    ns = "vstvm-%d" % os.getpid()
    dnsmasq = None
    dlog = None
    sh("ip", "netns", "add", ns)
    try:
        nsx = ["ip", "netns", "exec", ns]
        sh(*nsx, "ip", "link", "set", "lo", "up")
        sh(*nsx, "ip", "tuntap", "add", "dev", "vtap0", "mode", "tap")
        sh(*nsx, "ip", "addr", "add", "10.99.0.1/24", "dev", "vtap0")
        sh(*nsx, "ip", "link", "set", "vtap0", "up")
        leases = os.path.join(tmp, "dnsmasq.leases")
        dlog = open(os.path.join(common["logdir"], "dnsmasq.log"), "w")
        dnsmasq = subprocess.Popen(
            nsx + ["dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0",
                   "--interface=vtap0", "--bind-interfaces", "--user=root", "--group=root",
                   "--dhcp-range=10.99.0.50,10.99.0.99,255.255.255.0,1h",
                   "--dhcp-leasefile=" + leases, "--dhcp-authoritative", "--log-dhcp", "--no-ping",
                   "--pid-file="],
            stdout=dlog, stderr=subprocess.STDOUT)
        time.sleep(0.3)
        check(dnsmasq.poll() is None, "dnsmasq runs in netns %s" % ns)
        for model in ("virtio-net-pci", "e1000"):
            g = Guest("dhcp-" + model, job="dhcp;ping:10.99.0.1,count=2", wrap=nsx,
                      nic_args=tap_netdev("n0", "vtap0") + nic(model, "n0"), **common)
            with g:
                ready_time(g, model + " (tap)")
                r = g.wait_result("dhcp", timeout=60)
                ok = r.ok and r["ip"].startswith("10.99.0.") and r["ip"].endswith("/24")
                check(ok, "%s: dhcp lease: %s" % (model, r))
                rp = g.wait_result("ping", "10.99.0.1", timeout=60)
                check(rp.ok, "%s: pings the dnsmasq host over the lease: %s" % (model, rp))
                check(g.wait_exit(60) == 0, "%s: powers off" % model)
                if r.ok:
                    mac = g.macs[0]
                    with open(leases) as f:
                        lease_text = f.read()
                    check(mac in lease_text, "dnsmasq's lease file has %s" % mac)
                figure("dhcp job (%s): VST-READY -> lease" % model,
                       "%.2f s" % (g.event_time(r"^VST-RESULT dhcp ") - g.event_time(r"^VST-READY ")))
    finally:
        if dnsmasq is not None:
            dnsmasq.terminate()
            try:
                dnsmasq.wait(5)
            except subprocess.TimeoutExpired:
                dnsmasq.kill()
                dnsmasq.wait()
        if dlog is not None:
            dlog.close()
        sh("ip", "netns", "del", ns, check_rc=False)
    check(ns not in sh("ip", "netns", "list").stdout, "namespace %s deleted" % ns)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--outdir", default=guest.DEFAULT_OUTDIR, help="guest build directory")
    ap.add_argument("--logdir", help="console logs here (default: a temporary directory)")
    ap.add_argument("--keep-logs", action="store_true")
    ap.add_argument("--skip", action="append", default=[],
                    choices=["build", "pair1", "pair2", "restart", "dhcp"])
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="vst-selftest-")      # sockets, leases: always removed
    logdir = args.logdir or tempfile.mkdtemp(prefix="vst-selftest-logs-")
    os.makedirs(logdir, exist_ok=True)
    common = dict(outdir=args.outdir, logdir=logdir)
    print("logs in %s" % logdir)
    try:
        return run(args, tmp, logdir, common)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(args, tmp, logdir, common):
    load = os.getloadavg()[0]
    tests = [("build", lambda: test_build(args.outdir)),
             ("pair1", lambda: test_pair_console(tmp, common)),
             ("pair2", lambda: test_pair_cmdline(tmp, common)),
             ("restart", lambda: test_restart(tmp, common)),
             ("dhcp", lambda: test_dhcp(tmp, common))]
    for name, fn in tests:
        if name in args.skip:
            continue
        if name != "build" and "build" in args.skip:
            guest.build(args.outdir)
        try:
            fn()
        except Exception as e:  # a failed wait, a crashed QEMU...
            traceback.print_exc()
            failures.append("%s: %s" % (name, str(e).splitlines()[0] if str(e) else repr(e)))

    section("figures (accel %s, host load average %.1f at start)" % (guest.choose_accel(args.outdir), load))
    for what, ts in ready_times.items():
        figure("QEMU start -> VST-READY, %s" % what,
               "%.2f s" % statistics.median(ts) if len(ts) > 1 else "%.2f s" % ts[0])
    if rtts:
        figure("ping RTT between guests (avg of bursts)", "%s ms" % " / ".join("%.2f" % r for r in rtts))
    for name, value in figures:
        print("  %-50s %s" % (name, value))

    section("result")
    if failures:
        print("%d failed:" % len(failures))
        for f in failures:
            print("  - " + f)
        print("logs kept in %s" % logdir)
        return 1
    print("all passed")
    if args.keep_logs or args.logdir:
        print("logs in %s" % logdir)
    else:
        shutil.rmtree(logdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))   # so the with blocks kill QEMU
    sys.exit(main())
