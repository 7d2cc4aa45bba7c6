"""Helpers for vswitch's integration tests.

Every test builds its own little network out of namespaces:

    Topo  - creates network namespaces named vst<PID>x<N>-<role> (unique per
            test run and test), veth pairs between them, and processes in
            them; everything is removed in cleanup(), also when a test fails.
    Daemon - one vswitchd running inside a namespace, with its own rundir and
            statedir in a temporary directory, and vswitchctl against it.

Interfaces live only inside the test's namespaces, so their names (eth0,
uplink0, ...) never collide with the machine's; nothing is created in the
root namespace and no traffic leaves the test's namespaces.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

BUILD = os.environ.get("VSWITCH_BUILD", os.path.join(os.path.dirname(__file__), "..", "build"))
VSWITCHD = os.path.abspath(os.path.join(BUILD, "src", "daemon", "vswitchd"))
VSWITCHCTL = os.path.abspath(os.path.join(BUILD, "src", "cli", "vswitchctl"))
RAWFRAME = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rawframe.py")

_counter = 0


def sh(cmd, check=True, timeout=30, **kw):
    """Run a command (list), return CompletedProcess with text output."""
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout}{p.stderr}")
    return p


def wait_until(pred, timeout=10.0, interval=0.05, what="condition"):
    """Poll pred() until it returns a true value; return it, or fail."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class Topo:
    def __init__(self):
        global _counter
        _counter += 1
        self.prefix = f"vst{os.getpid()}x{_counter}"
        self.namespaces = []
        self.procs = []
        self.tmp = tempfile.mkdtemp(prefix=f"{self.prefix}-")
        os.chmod(self.tmp, 0o755)

    # --- namespaces and links ---

    def ns(self, role):
        name = f"{self.prefix}-{role}"
        sh(["ip", "netns", "add", name])
        self.namespaces.append(name)
        self.run(name, ["ip", "link", "set", "lo", "up"])
        return name

    def run(self, ns, cmd, check=True, timeout=30):
        return sh(["ip", "netns", "exec", ns] + cmd, check=check, timeout=timeout)

    def veth(self, ns1, if1, ns2, if2, up=True):
        sh(["ip", "link", "add", if1, "netns", ns1, "type", "veth", "peer", "name", if2,
            "netns", ns2])
        if up:
            self.run(ns1, ["ip", "link", "set", if1, "up"])
            self.run(ns2, ["ip", "link", "set", if2, "up"])

    def addr(self, ns, ifname, cidr):
        self.run(ns, ["ip", "addr", "add", cidr, "dev", ifname])

    def popen(self, ns, cmd, **kw):
        kw.setdefault("stdout", subprocess.DEVNULL)
        kw.setdefault("stderr", subprocess.DEVNULL)
        p = subprocess.Popen(["ip", "netns", "exec", ns] + cmd, **kw)
        self.procs.append(p)
        return p

    def capture(self, ns, ifname, count, timeout):
        """Start tests/rawframe.py capturing on ifname (frames whole, VLAN
        tags put back); returns it once it listens.  Read with frames()."""
        p = self.popen(ns, ["/usr/bin/python3", RAWFRAME, "recv", ifname, str(count),
                            str(timeout)], stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == "ready"
        return p

    @staticmethod
    def frames(cap, marker, want):
        """The captured frames that contain marker, in order, until want of
        them were seen or the capture ended; stops the capture."""
        seen = []
        for line in cap.stdout:
            f = bytes.fromhex(line.strip())
            if marker in f:
                seen.append(f)
            if len(seen) == want:
                break
        cap.kill()
        cap.wait()
        return seen

    def vm(self, role, host_ns, port_if, ip=None, mac=None):
        """A "VM": a namespace whose eth0 is a veth to port_if in host_ns."""
        ns = self.ns(role)
        self.veth(ns, "eth0", host_ns, port_if)
        if mac:
            self.run(ns, ["ip", "link", "set", "eth0", "address", mac])
        if ip:
            self.addr(ns, "eth0", ip)
        return ns

    def ping(self, ns, ip, count=1, timeout=2, check=True):
        p = self.run(ns, ["ping", "-n", "-c", str(count), "-W", str(timeout), ip], check=False,
                     timeout=count * timeout + 10)
        if check and p.returncode != 0:
            raise AssertionError(f"ping {ip} from {ns} failed:\n{p.stdout}{p.stderr}")
        return p.returncode == 0

    def ping_until(self, ns, ip, timeout=10):
        wait_until(lambda: self.ping(ns, ip, timeout=1, check=False), timeout=timeout,
                   what=f"{ns} to reach {ip}")

    def ip_json(self, ns, what, *args):
        """`ip -j [-6] WHAT show ARGS` parsed; what may be preceded by -4/-6."""
        fam = []
        if what in ("-4", "-6"):
            fam, what, args = [what], args[0], args[1:]
        p = self.run(ns, ["ip", "-j"] + fam + [what, "show"] + list(args))
        return json.loads(p.stdout or "[]")

    def addrs(self, ns, ifname):
        """The global-scope addresses on an interface, as 'a.b.c.d/len'."""
        out = []
        for link in self.ip_json(ns, "addr", "dev", ifname):
            for a in link.get("addr_info", []):
                if a.get("scope") == "global":
                    out.append(f"{a['local']}/{a['prefixlen']}")
        return sorted(out)

    def link_exists(self, ns, ifname):
        return self.run(ns, ["ip", "link", "show", "dev", ifname], check=False).returncode == 0

    # --- cleanup ---

    def cleanup(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.kill()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        for ns in reversed(self.namespaces):
            # Kill whatever still runs inside (only processes we started
            # can be in a namespace we created).
            pids = sh(["ip", "netns", "pids", ns], check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            sh(["ip", "netns", "del", ns], check=False)
        self.namespaces = []
        shutil.rmtree(self.tmp, ignore_errors=True)


SANITIZER_PATTERNS = re.compile(
    r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|SUMMARY: UndefinedBehavior"
    # valgrind (tests/valgrind.sh): leaks, bad accesses, uninitialised values
    r"|are (definitely|indirectly) lost|Invalid (read|write|free)"
    r"|uninitialised value|Conditional jump or move depends")

# A command to run vswitchd under, e.g. valgrind (tests/valgrind.sh); "{log}"
# in it becomes the daemon's log path.
DAEMON_WRAP = os.environ.get("VSWITCH_DAEMON_WRAP", "").split()


class Daemon:
    """vswitchd in namespace `ns`, with state in topo.tmp/<name>."""

    def __init__(self, topo, ns, name="d", env=None, args=(), prefix=()):
        self.topo = topo
        self.args = list(args)
        self.prefix = list(prefix)  # e.g. prlimit: runs vswitchd under it
        self.ns = ns
        base = os.path.join(topo.tmp, name)
        self.rundir = base + "/run"
        self.statedir = base + "/state"
        self.log = base + ".log"
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.proc = None
        self.logs = []
        os.makedirs(base, exist_ok=True)

    def start(self, wait=True, extra_env=None):
        logf = open(self.log, "a")
        self.logs.append(self.log)
        env = dict(self.env)
        env.update(extra_env or {})
        wrap = [w.replace("{log}", self.log) for w in DAEMON_WRAP]
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns] + self.prefix + wrap + [
                VSWITCHD, "--rundir", self.rundir, "--statedir", self.statedir,
                "--log-level", "debug"] + self.args,
            stdout=logf, stderr=subprocess.STDOUT, env=env)
        self.topo.procs.append(self.proc)
        logf.close()
        if wait:
            wait_until(self.ready, timeout=60 if DAEMON_WRAP else 15, what="vswitchd to answer")
        return self

    def ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"vswitchd exited with {self.proc.returncode}:\n{self.read_log()}")
        return self.ctl("switch", "list", check=False).returncode == 0

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """Stop it; returns the exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("vswitchd did not stop on SIGTERM")

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def read_log(self):
        text = ""
        for path in (self.log, self.log + ".vg"):
            try:
                with open(path) as f:
                    text += f.read()
            except FileNotFoundError:
                pass
        return text

    def assert_clean_log(self):
        m = SANITIZER_PATTERNS.search(self.read_log())
        assert not m, f"sanitizer report in {self.log}:\n{self.read_log()[-6000:]}"

    def ctl_argv(self):
        return [VSWITCHCTL, "--rundir", self.rundir]

    def ctl(self, *args, check=True, json_out=False, input=None):
        cmd = [VSWITCHCTL, "--rundir", self.rundir] + (["--json"] if json_out else []) + list(args)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30, input=input)
        if check and p.returncode != 0:
            raise AssertionError(f"vswitchctl {' '.join(args)} failed ({p.returncode}): "
                                 f"{p.stderr}\n--- daemon log:\n{self.read_log()[-3000:]}")
        return p

    def j(self, *args):
        """vswitchctl --json ...: the parsed output."""
        return json.loads(self.ctl(*args, json_out=True).stdout)

    def config(self):
        """`switch list --json` without the counters and port states, which
        move on their own (a vNIC sends router solicitations, say)."""
        sws = self.j("switch", "list")
        for sw in sws:
            sw.pop("stats", None)
            for p in sw["ports"]:
                p.pop("stats", None)
        return sws

    def state_file(self):
        return os.path.join(self.statedir, "vswitchd.json")

    def port(self, sw, name):
        return self.j("port", "show", sw, name)

    def stats(self, sw, name):
        return self.port(sw, name)["stats"]
