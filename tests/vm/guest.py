"""Boot tiny Linux test guests under QEMU and talk to them.

Standard library only.  The guest (kernel + initramfs) comes from
build-guest.sh; its /init (tests/vm/init) documents the vst.* kernel
parameters, the job grammar and the VST-* console lines parsed here.

    from guest import Guest, nic, stream_netdev

    with Guest("a", ip="10.0.0.5/24", job="serve",
               nic_args=stream_netdev("n0", "/tmp/x.sock", server=True)
                        + nic("virtio-net-pci", "n0")) as a:
        a.wait_ready()
        res = a.run("ping:10.0.0.6")          # console command, when serving
        assert res[0].ok

Every Guest owns exactly one QEMU process (started by start() or by entering
the context manager) and kill() terminates that PID and reaps it; leaving the
"with" block always calls kill().  QEMU also gets SIGKILL should the Python
process die (PR_SET_PDEATHSIG), so no guest outlives its test run.
"""

import base64
import codecs
import ctypes
import itertools
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD_SCRIPT = os.path.join(HERE, "build-guest.sh")
DEFAULT_OUTDIR = os.environ.get("VST_GUEST_DIR") or os.path.join(HERE, "_guest")
QEMU = os.environ.get("VST_QEMU", "qemu-system-x86_64")

# q35: as fast as any here with a PCI bus; microvm,pcie=on sometimes hung
# at boot (see README.md).
DEFAULT_MACHINE = os.environ.get("VST_MACHINE", "q35")

# Kernel parameters that make the boot quicker and quieter under TCG.
BASE_APPEND = (
    "console=ttyS0 quiet panic=-1 mitigations=off nokaslr "
    "i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd "
    "cryptomgr.notests no_timer_check tsc=reliable"
)

# QEMU's e1000 simulates link auto-negotiation, and Linux' e1000 driver
# then only notices the link 2 s later (its watchdog period): with
# autonegotiation=off (added unless given) the link is up at once.
E1000_AUTONEG_MODELS = ("e1000", "e1000-82544gc", "e1000-82545em")

NIC_MODELS = (
    "virtio-net-pci", "virtio-net-pci-transitional", "virtio-net-pci-non-transitional",
    "e1000", "e1000-82544gc", "e1000-82545em", "e1000e",
)


class GuestError(Exception):
    """The guest did not do what was expected (log tail in the message)."""


class GuestTimeout(GuestError, TimeoutError):
    pass


# ---------------------------------------------------------------------------
# building the guest

_built = {}


def build(outdir=None, verbose=False):
    """Run build-guest.sh OUTDIR (once per process per OUTDIR); return OUTDIR."""
    outdir = os.path.abspath(outdir or DEFAULT_OUTDIR)
    if outdir not in _built:
        p = subprocess.run(["bash", BUILD_SCRIPT, outdir], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        if verbose or p.returncode != 0:
            print(p.stdout, end="")
        if p.returncode != 0:
            raise GuestError("build-guest.sh failed (rc=%d):\n%s" % (p.returncode, p.stdout))
        _built[outdir] = p.stdout
    return outdir


def kernel_path(outdir):
    for name in ("vmlinux", "bzImage"):
        p = os.path.join(outdir, name)
        if os.path.exists(p):
            return p
    raise GuestError("no kernel in %s: run build-guest.sh" % outdir)


# ---------------------------------------------------------------------------
# NIC argument helpers

_mac_seq = itertools.count(1)


def new_mac():
    """A MAC unique within this process (and, by the PID in it, across the
    processes running at the same time): 52:54:PP:PP:NN:NN."""
    n = next(_mac_seq)
    pid = os.getpid()
    return "52:54:%02x:%02x:%02x:%02x" % ((pid >> 8) & 255, pid & 255, (n >> 8) & 255, n & 255)


def stream_netdev(id, path, server):
    """-netdev stream over a UNIX socket: the server listens on PATH (without
    holding up the boot) and takes a new client whenever the last one went
    away; the client connects at QEMU's start (PATH must exist by then, see
    wait_path()) and, in QEMU 7.2, never reconnects once the server is gone."""
    return ["-netdev", "stream,id=%s,server=%s,addr.type=unix,addr.path=%s"
            % (id, "on" if server else "off", path)]


def dgram_netdev(id, local, remote):
    """-netdev dgram between two UNIX datagram sockets."""
    return ["-netdev", "dgram,id=%s,local.type=unix,local.path=%s,remote.type=unix,remote.path=%s"
            % (id, local, remote)]


def vhost_user_netdev(id, path, server=False, queues=1, reconnect=None):
    """-chardev socket + -netdev vhost-user.  The guest's memory is already
    a shared memfd backend, as vhost-user needs; add vectors0=True to the
    virtio-net-pci device (see nic()).  server=False: QEMU connects to the
    switch's socket at PATH, which must exist at QEMU's start; with
    reconnect=SECONDS, QEMU instead waits for it at start (retrying every
    SECONDS, before the guest boots) and, per QEMU's documentation,
    reconnects after the switch restarts (not tried here: it needs the
    switch), which a stream netdev client does not do in QEMU 7.2."""
    chardev = "socket,id=%s-chr,path=%s" % (id, path)
    if server:
        chardev += ",server=on"
    if reconnect is not None:
        chardev += ",reconnect=%d" % reconnect
    return ["-chardev", chardev,
            "-netdev", "vhost-user,id=%s,chardev=%s-chr,queues=%d" % (id, id, queues)]


def tap_netdev(id, ifname):
    return ["-netdev", "tap,id=%s,ifname=%s,script=no,downscript=no" % (id, ifname)]


def nic(model, netdev_id, mac=None, vectors0=False, **props):
    """-device MODEL,netdev=ID,mac=MAC[,vectors=0][,k=v...].

    vectors0: no MSI-X (QEMU 7.2 under TCG crashes setting up vhost-user
    with MSI-X); only meaningful for virtio-net-pci, dropped for others."""
    opts = ["%s" % model, "netdev=%s" % netdev_id, "mac=%s" % (mac or new_mac())]
    if vectors0 and model.startswith("virtio"):
        opts.append("vectors=0")
    if model in E1000_AUTONEG_MODELS and "autonegotiation" not in props:
        opts.append("autonegotiation=off")
    opts += ["%s=%s" % kv for kv in props.items()]
    return ["-device", ",".join(opts)]


def wait_path(path, timeout=30, guest=None):
    """Wait until PATH exists (e.g. a stream netdev server's socket, which a
    client QEMU 7.2 must find at start-up).  With GUEST, fail at once if
    that guest's QEMU exits meanwhile."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if guest is not None and guest.proc is not None and guest.proc.poll() is not None:
            if guest._reader is not None:
                guest._reader.join(2)
            raise GuestError("%s: QEMU exited (rc=%s) before creating %s\n%s"
                             % (guest.name, guest.proc.returncode, path, guest.tail()))
        if time.monotonic() > deadline:
            raise GuestTimeout("no %s after %s s" % (path, timeout))
        time.sleep(0.02)


def b64(text):
    """Encode shell text for vst.cmd= / the cmd:BASE64 job."""
    if isinstance(text, str):
        text = text.encode()
    return base64.b64encode(text).decode()


# ---------------------------------------------------------------------------
# results

class Result:
    """One "VST-RESULT JOB [TARGET] ok|fail key=value..." line."""

    __slots__ = ("job", "target", "status", "fields", "line")

    def __init__(self, job, target, status, fields, line):
        self.job, self.target, self.status, self.fields, self.line = job, target, status, fields, line

    @property
    def ok(self):
        return self.status == "ok"

    def __getitem__(self, key):
        return self.fields[key]

    def get(self, key, default=None):
        return self.fields.get(key, default)

    def __repr__(self):
        return "Result(%r)" % self.line

    @classmethod
    def parse(cls, line):
        words = line.split()
        if len(words) < 3 or words[0] != "VST-RESULT":
            return None
        job, rest = words[1], words[2:]
        for i, w in enumerate(rest):
            if w in ("ok", "fail"):
                target = " ".join(rest[:i]) or None
                fields = {}
                for kv in rest[i + 1:]:
                    k, sep, v = kv.partition("=")
                    fields[k] = v if sep else True
                return cls(job, target, w, fields, line)
        return None


_RESULT_RE = re.compile(r"^VST-RESULT .*$", re.M)


def parse_results(text):
    out = []
    for m in _RESULT_RE.finditer(text):
        r = Result.parse(m.group(0).strip())
        if r is not None:
            out.append(r)
    return out


_logdir = None


def default_logdir():
    """One temporary directory per process for the console logs (kept, so
    that a failed test's log can be read; printed in every error)."""
    global _logdir
    if _logdir is None:
        _logdir = tempfile.mkdtemp(prefix="vst-vm-logs-")
    return _logdir


def _unique_path(path):
    base, ext = os.path.splitext(path)
    n = 1
    while os.path.exists(path):
        n += 1
        path = "%s-%d%s" % (base, n, ext)
    return path


# ---------------------------------------------------------------------------
# acceleration

_accel_choice = None


def _pdeathsig():
    # Runs in the child between fork and exec: SIGKILL QEMU when we die.
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def choose_accel(outdir=None):
    """'kvm' if /dev/kvm is usable and a probe guest boots with it, else 'tcg'.
    VST_ACCEL=kvm|tcg overrides.  The answer is cached per process."""
    global _accel_choice
    forced = os.environ.get("VST_ACCEL")
    if forced:
        return forced
    if _accel_choice is None:
        _accel_choice = "tcg"
        if os.access("/dev/kvm", os.R_OK | os.W_OK):
            try:
                with Guest("kvm-probe", accel="kvm", outdir=outdir) as g:
                    g.wait_for(r"VST-DONE", timeout=30)
                    g.wait_exit(10)
                _accel_choice = "kvm"
            except Exception:
                pass
    return _accel_choice


# ---------------------------------------------------------------------------
# the guest

class Guest:
    """One QEMU guest.

    name      used for the log file name and the guest's hostname
    nic_args  extra QEMU arguments for the NICs (see nic(), stream_netdev(),
              vhost_user_netdev()); a NIC -device without mac= gets a fresh
              one from new_mac() so that guests never share a MAC
    ip, job, cmd, end   shortcuts for vst.ip=, vst.job=, vst.cmd= (shell text,
              encoded here), vst.end=
    params    more vst.* parameters, {"ip1": "10.1.0.5/24", "gw": ...}
    append    more raw kernel parameters
    qemu_args any other QEMU arguments
    log       console log path (default: LOGDIR/NAME.log, or NAME-2.log...
              if taken, LOGDIR being logdir or $VST_VM_LOGDIR or one temporary
              directory per process, see default_logdir())
    qmp       True: open a QMP socket, usable with .qmp("query-status")
    wrap      a prefix that exec()s QEMU, e.g. ["ip", "netns", "exec", NS]
              (it must exec, so that the PID started is QEMU's)
    machine, cpu, accel, mem   QEMU settings (accel: see choose_accel())
    memory    False: add no -m/-object/-numa memory arguments (the caller's
              nic_args or qemu_args bring them, e.g. what vswitchctl prints)
    """

    def __init__(self, name="guest", nic_args=(), ip=None, job=None, cmd=None, end=None,
                 params=None, append="", qemu_args=(), mem=256, outdir=None, logdir=None,
                 log=None, accel=None, machine=None, cpu=None, qmp=False, wrap=(),
                 build_guest=True, memory=True):
        self.name = name
        self.outdir = os.path.abspath(outdir or DEFAULT_OUTDIR)
        self._build_guest = build_guest
        self.nic_args = list(nic_args)
        self.mem = mem
        self.memory = memory
        self.accel = accel
        self.machine = machine or DEFAULT_MACHINE
        self.cpu = cpu
        self.qemu_args = list(qemu_args)
        self.wrap = list(wrap)
        self.params = {}
        if ip:
            self.params["ip"] = ip
        if job:
            self.params["job"] = job
        if cmd is not None:
            self.params["cmd"] = b64(cmd)
        if end:
            self.params["end"] = end
        self.params.setdefault("hostname", re.sub(r"[^A-Za-z0-9-]", "-", name)[:32] or "vst")
        self.params.update(params or {})
        self.append = append
        self._tmpdir = None
        if log is None:
            logdir = logdir or os.environ.get("VST_VM_LOGDIR") or default_logdir()
            os.makedirs(logdir, exist_ok=True)
            log = _unique_path(os.path.join(logdir, "%s.log" % name))
        self.log_path = log
        self.want_qmp = qmp
        self.qmp_path = None
        self._qmp_sock = None
        self._qmp_buf = b""
        self.macs = []
        self.proc = None
        self.pid = None
        self.returncode = None
        self.argv = None
        self.t_start = None
        self.events = []        # (seconds since start, "VST-..." line)
        self._buf = ""
        self._cond = threading.Condition()
        self._eof = False
        self._reader = None
        self._logf = None
        self._sent = 0

    # -- command line --------------------------------------------------------

    def kernel_cmdline(self):
        words = [BASE_APPEND]
        for k, v in self.params.items():
            v = str(v)
            if not re.fullmatch(r"[a-z0-9_]+", k):
                raise ValueError("bad vst parameter name %r" % k)
            if re.search(r"\s", v):
                raise ValueError("vst.%s value has white space: %r" % (k, v))
            words.append("vst.%s=%s" % (k, v))
        if self.append:
            words.append(self.append)
        cmdline = " ".join(words)
        if len(cmdline) > 2000:
            raise ValueError("kernel command line too long (%d > 2000)" % len(cmdline))
        return cmdline

    def _nic_args_with_macs(self):
        args = list(self.nic_args)
        for i, a in enumerate(args[:-1]):
            if a != "-device":
                continue
            dev = args[i + 1]
            model = dev.split(",", 1)[0]
            if model not in NIC_MODELS and not model.startswith(("virtio-net", "e1000")):
                continue
            m = re.search(r"(?:^|,)mac=([0-9A-Fa-f:]+)", dev)
            if m:
                mac = m.group(1).lower()
            else:
                mac = new_mac()
                dev += ",mac=" + mac
            self.macs.append(mac)
            if model in E1000_AUTONEG_MODELS and "autonegotiation=" not in dev:
                dev += ",autonegotiation=off"
            args[i + 1] = dev
        return args

    def build_argv(self):
        if self._build_guest:
            build(self.outdir)
        accel = self.accel or choose_accel(self.outdir)
        cpu = self.cpu or ("host" if accel == "kvm" else None)
        self.macs = []
        argv = self.wrap + [
            QEMU, "-name", self.name,
            "-machine", self.machine, "-accel", accel,
        ] + ([
            "-m", "%d" % self.mem,
            "-object", "memory-backend-memfd,id=mem,size=%dM,share=on" % self.mem,
            "-numa", "node,memdev=mem",
        ] if self.memory else []) + [
            "-smp", "1",
            "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-chardev", "stdio,id=con,signal=off",
            "-serial", "chardev:con",
            "-kernel", kernel_path(self.outdir),
            "-initrd", os.path.join(self.outdir, "initramfs.cpio.gz"),
            "-append", self.kernel_cmdline(),
        ]
        if cpu:
            argv += ["-cpu", cpu]
        if self.want_qmp:
            if self._tmpdir is None:
                self._tmpdir = tempfile.mkdtemp(prefix="vst-guest-")
            self.qmp_path = os.path.join(self._tmpdir, "qmp.sock")
            argv += ["-qmp", "unix:%s,server=on,wait=off" % self.qmp_path]
        argv += self._nic_args_with_macs()
        argv += self.qemu_args
        return argv

    # -- life cycle ----------------------------------------------------------

    def start(self):
        if self.proc is not None:
            raise GuestError("%s: already started" % self.name)
        self.argv = self.build_argv()
        self._logf = open(self.log_path, "w", encoding="utf-8", errors="replace")
        self._logf.write("# %s\n" % " ".join(shlex.quote(a) for a in self.argv))
        self._logf.flush()
        self.t_start = time.monotonic()
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, preexec_fn=_pdeathsig,
                                     close_fds=True)
        self.pid = self.proc.pid
        self._reader = threading.Thread(target=self._read_loop, name="guest-%s" % self.name,
                                        daemon=True)
        self._reader.start()
        return self

    def _read_loop(self):
        fd = self.proc.stdout.fileno()
        dec = codecs.getincrementaldecoder("utf-8")("replace")
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            text = dec.decode(chunk).replace("\r", "")
            now = time.monotonic() - self.t_start
            with self._cond:
                start_line = self._buf.rfind("\n") + 1
                self._buf += text
                for line in self._buf[start_line:].split("\n")[:-1]:
                    if line.startswith("VST-"):
                        self.events.append((now, line.strip()))
                self._cond.notify_all()
            try:
                self._logf.write(text)
                self._logf.flush()
            except (ValueError, AttributeError):
                pass
        with self._cond:
            self._buf += dec.decode(b"", True)
            self._eof = True
            self._cond.notify_all()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """Stop QEMU (SIGTERM, then SIGKILL after 3 s) and reap it.  Safe to
        call more than once and on a guest that already exited."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.proc.terminate()
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.returncode = self.proc.wait()
        for f in (self.proc.stdin, ):
            try:
                f.close()
            except Exception:
                pass
        if self._reader is not None:
            self._reader.join(5)
        try:
            self.proc.stdout.close()
        except Exception:
            pass
        if self._qmp_sock is not None:
            self._qmp_sock.close()
            self._qmp_sock = None
        if self._logf is not None:
            self._logf.close()
            self._logf = None
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def wait_exit(self, timeout=30):
        """Wait for QEMU to exit by itself (the guest powered off); return its
        exit status."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise GuestTimeout("%s: still running after %s s\n%s" % (self.name, timeout, self.tail()))
        if self._reader is not None:
            self._reader.join(5)
        self.returncode = rc
        return rc

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.kill()
        return False

    def __del__(self):
        try:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        except Exception:
            pass

    # -- console -------------------------------------------------------------

    @property
    def output(self):
        with self._cond:
            return self._buf

    def mark(self):
        """The current end of the console output, for wait_for(since=...)."""
        with self._cond:
            return len(self._buf)

    def tail(self, n=30):
        lines = self.output.splitlines()[-n:]
        return "---- %s: last %d lines of %s ----\n%s" % (
            self.name, len(lines), self.log_path, "\n".join(lines))

    def wait_for(self, pattern, timeout=60, since=0):
        """Wait until PATTERN (a regex, MULTILINE) matches complete lines of
        the console output from offset SINCE on; return the re.Match (its .end() is a good next
        SINCE).  Raises GuestTimeout, or GuestError if QEMU exits first."""
        rx = re.compile(pattern, re.M) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                # only complete lines: a half-received line must not match
                m = rx.search(self._buf, since, self._buf.rfind("\n") + 1)
                if m:
                    return m
                if self._eof:
                    try:
                        rc = self.proc.wait(2)
                    except subprocess.TimeoutExpired:
                        rc = None
                    raise GuestError("%s: QEMU exited (rc=%s) before /%s/ appeared\n%s"
                                     % (self.name, rc, rx.pattern, self._tail_locked()))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise GuestTimeout("%s: no /%s/ within %s s\n%s"
                                       % (self.name, rx.pattern, timeout, self._tail_locked()))
                self._cond.wait(left)

    def _tail_locked(self, n=30):
        lines = self._buf.splitlines()[-n:]
        return "---- %s: last %d lines of %s ----\n%s" % (
            self.name, len(lines), self.log_path, "\n".join(lines))

    def wait_ready(self, timeout=60):
        """Wait for VST-READY; return the seconds from QEMU start to it."""
        self.wait_for(r"^VST-READY ", timeout)
        return self.event_time(r"^VST-READY ")

    def event_time(self, pattern):
        """Host seconds from QEMU start to the first VST-* line matching."""
        rx = re.compile(pattern)
        with self._cond:
            for t, line in self.events:
                if rx.search(line):
                    return t
        return None

    def results(self, since=0):
        """All VST-RESULT lines so far (from offset SINCE), parsed."""
        return parse_results(self.output[since:])

    def wait_result(self, job, target=None, timeout=60, since=0):
        """Wait for the next VST-RESULT of JOB (and TARGET) after SINCE."""
        pat = r"^VST-RESULT %s%s (ok|fail)\b.*$" % (
            re.escape(job), (" " + re.escape(target)) if target else "")
        m = self.wait_for(pat, timeout, since)
        return Result.parse(m.group(0).strip())

    def send(self, line):
        """Write one line to the guest's serial console."""
        if "\n" in line:
            raise ValueError("one line at a time")
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def run(self, jobs, timeout=60):
        """Run a JOBS line (init's grammar) on a serving guest; wait for it to
        finish and return the VST-RESULT lines it printed."""
        self.wait_for(r"^VST-SERVING ", timeout)
        since = self.mark()
        self._sent += 1
        n = self._sent
        self.send(jobs)
        m = self.wait_for(r"^VST-IDLE n=%d$" % n, timeout, since)
        return parse_results(self.output[since:m.start()])

    # -- QMP -----------------------------------------------------------------

    def qmp(self, execute, **arguments):
        """Run a QMP command (guest started with qmp=True); return "return"."""
        if not self.qmp_path:
            raise GuestError("%s: started without qmp=True" % self.name)
        if self._qmp_sock is None:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(10)
            s.connect(self.qmp_path)
            self._qmp_sock = s
            self._qmp_buf = b""
            self._qmp_recv()                      # greeting
            self._qmp_exchange("qmp_capabilities", {})
        return self._qmp_exchange(execute, arguments)

    def _qmp_recv(self):
        while b"\n" not in self._qmp_buf:
            chunk = self._qmp_sock.recv(65536)
            if not chunk:
                raise GuestError("%s: QMP connection closed" % self.name)
            self._qmp_buf += chunk
        line, _, self._qmp_buf = self._qmp_buf.partition(b"\n")
        return json.loads(line)

    def _qmp_exchange(self, execute, arguments):
        msg = {"execute": execute}
        if arguments:
            msg["arguments"] = arguments
        self._qmp_sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            reply = self._qmp_recv()
            if "event" in reply:
                continue
            if "error" in reply:
                raise GuestError("%s: QMP %s: %s" % (self.name, execute, reply["error"]))
            return reply.get("return")


# ---------------------------------------------------------------------------
# command line: boot one guest by hand and show its console

def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(
        description="Boot one test guest and copy its console to stdout until it exits.",
        epilog="example: guest.py --ip 10.0.0.5/24 --job 'ping:10.0.0.6' -- "
               "-netdev stream,id=n0,server=on,addr.type=unix,addr.path=/tmp/x.sock "
               "-device virtio-net-pci,netdev=n0")
    ap.add_argument("--name", default="guest")
    ap.add_argument("--ip")
    ap.add_argument("--job")
    ap.add_argument("--cmd", help="shell text for the cmd job")
    ap.add_argument("--end", choices=["poweroff", "serve"])
    ap.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                    help="another vst.KEY=VALUE")
    ap.add_argument("--outdir")
    ap.add_argument("--timeout", type=float, default=0, help="kill after this many seconds")
    ap.add_argument("qemu_args", nargs="*", help="NIC and other QEMU arguments (after --)")
    a = ap.parse_args(argv)
    params = dict(p.split("=", 1) for p in a.param)
    g = Guest(a.name, nic_args=a.qemu_args, ip=a.ip, job=a.job, cmd=a.cmd, end=a.end,
              params=params, outdir=a.outdir)
    with g:
        print("# log: %s" % g.log_path, flush=True)
        pos = 0
        deadline = time.monotonic() + a.timeout if a.timeout else None
        try:
            while True:
                with g._cond:
                    g._cond.wait(0.2)
                    text, eof = g._buf[pos:], g._eof
                pos += len(text)
                print(text, end="", flush=True)
                if eof or (deadline and time.monotonic() > deadline):
                    break
        except KeyboardInterrupt:
            pass
    return g.returncode or 0


if __name__ == "__main__":
    raise SystemExit(main())
