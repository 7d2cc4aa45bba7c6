"""Who may plug into what, and what one port may do to the table.

    switch open0 (private): sockets owner uid 4242, mode 0600
    switch grp0  (private): sockets group gid 4545, mode 0660
    switch root0 (private): the default, root 0660
    clients run as uid 4242 / 4343 (setpriv), never as root

Also: the control socket refuses a non-root peer even if its file mode
would let it in (peer credentials), a port's MAC limit, and a host vNIC
deleted from outside, then repaired.
"""
import os
import socket
import stat
import subprocess

from frames import BCAST, StreamClient, eth
from lib import wait_until

CONNECT = ("import socket,sys; s=socket.socket(socket.AF_UNIX); "
           "s.connect(sys.argv[1]); print('connected')")


def connect_as(uid, path, groups=None):
    """Try to connect to a UNIX socket as uid (and groups); True if it worked."""
    cmd = ["setpriv", f"--reuid={uid}", f"--regid={uid}"]
    cmd += [f"--groups={','.join(map(str, groups))}"] if groups else ["--clear-groups"]
    cmd += ["/usr/bin/python3", "-c", CONNECT, path]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    return "connected" in p.stdout


def test_socket_owner_group_and_mode(topo, daemon_factory):
    host = topo.ns("host")
    d = daemon_factory(host)
    os.chmod(d.rundir, 0o755)
    os.chmod(os.path.dirname(d.rundir), 0o755)
    d.ctl("switch", "create", "open0", "--type", "private", "--owner", "4242", "--mode", "0600")
    d.ctl("switch", "create", "grp0", "--type", "private", "--group", "4545")
    d.ctl("switch", "create", "root0", "--type", "private")
    d.ctl("port", "add", "open0", "vm", "--type", "stream")
    sw = d.j("switch", "show", "open0")
    assert sw["access"] == {"owner": 4242, "group": None, "mode": "0600"}
    sock = d.port("open0", "vm")["socket"]
    st = os.stat(sock)
    assert st.st_uid == 4242 and stat.S_IMODE(st.st_mode) == 0o600
    assert connect_as(4242, sw["plug"]) and connect_as(4242, sock)
    assert not connect_as(4343, sw["plug"]) and not connect_as(4343, sock)
    # Group access: a member of 4545 gets in, others do not.
    grp = d.j("switch", "show", "grp0")["plug"]
    assert connect_as(4343, grp, groups=[4545])
    assert not connect_as(4343, grp)
    # The default: root only.
    assert not connect_as(4242, d.j("switch", "show", "root0")["plug"])
    # The directories stay root's, so nobody can plant a link where a socket goes.
    for name in ("open0", "grp0", "root0"):
        st = os.lstat(os.path.join(d.rundir, name))
        assert st.st_uid == 0 and not st.st_mode & 0o022
    # Settings change at run time and survive a restart.
    d.ctl("switch", "set", "open0", "--owner", "4343")
    assert connect_as(4343, sock) and not connect_as(4242, sock)
    d.stop()
    d.start()
    assert connect_as(4343, d.port("open0", "vm")["socket"])
    assert d.j("switch", "show", "open0")["access"]["owner"] == 4343
    p = d.ctl("switch", "set", "open0", "--mode", "4755", check=False)
    assert p.returncode == 1 and "mode" in p.stderr
    p = d.ctl("switch", "set", "open0", "--owner", "no-such-user-xyz", check=False)
    assert p.returncode == 1 and "no user" in p.stderr


def test_control_socket_checks_peer_credentials(topo, daemon_factory):
    host = topo.ns("host")
    d = daemon_factory(host)
    ctl = os.path.join(d.rundir, "vswitchd.sock")
    assert stat.S_IMODE(os.stat(ctl).st_mode) == 0o660
    # Even with the file opened to everyone, a non-root peer is turned away.
    os.chmod(ctl, 0o666)
    os.chmod(d.rundir, 0o755)
    os.chmod(os.path.dirname(d.rundir), 0o755)
    # The daemon answers at once and closes: read, do not write first.
    code = ("import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); "
            "print(s.makefile().readline())")
    p = subprocess.run(["setpriv", "--reuid=4242", "--regid=4242", "--clear-groups",
                        "/usr/bin/python3", "-c", code, ctl], capture_output=True, text=True,
                       timeout=20)
    assert "permission denied" in p.stdout and '"ok":false' in p.stdout, p.stdout + p.stderr
    assert "vswitch0" not in p.stdout


def test_port_mac_limit(topo, daemon_factory):
    host = topo.ns("host")
    d = daemon_factory(host)
    d.ctl("switch", "create", "p0", "--type", "private")
    d.ctl("port", "add", "p0", "a", "--type", "stream")
    d.ctl("port", "add", "p0", "b", "--type", "stream")
    d.ctl("port", "set", "p0", "a", "--max-macs", "100")
    assert d.port("p0", "a")["max_macs"] == 100
    a = StreamClient.connect_when_ready(d.port("p0", "a")["socket"])
    b = StreamClient.connect_when_ready(d.port("p0", "b")["socket"])
    wait_until(lambda: d.port("p0", "a")["state"] == "up" and d.port("p0", "b")["state"] == "up")
    blob = b"".join(len(f).to_bytes(4, "big") + f for f in (
        eth(BCAST, f"02:00:00:{i >> 16:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}", 0x88b5, b"m")
        for i in range(1000)))
    a.send_raw(blob)
    b.send(eth(BCAST, "02:00:00:bb:bb:bb", 0x88b5, b"b"))
    wait_until(lambda: d.stats("p0", "a")["rx_packets"] == 1000)
    assert d.stats("p0", "a")["macs"] == 100
    assert d.stats("p0", "a")["learn_refused"] == 900
    assert d.stats("p0", "b")["macs"] == 1  # the other port still learns
    d.stop()
    d.start()
    assert d.port("p0", "a")["max_macs"] == 100


def test_host_vnic_deleted_then_repaired(topo, daemon_factory):
    host = topo.ns("host")
    d = daemon_factory(host)
    d.ctl("switch", "create", "sw0", "--type", "internal")
    vm1 = topo.vm("vm1", host, "vm1p", "10.8.0.11/24")
    d.ctl("port", "add", "sw0", "vm1", "--type", "netdev", "--ifname", "vm1p")
    topo.addr(host, "sw0", "10.8.0.1/24")
    topo.ping(vm1, "10.8.0.1")
    topo.run(host, ["ip", "link", "del", "sw0"])
    # The switch notices and says so; the other ports go on.
    wait_until(lambda: d.port("sw0", "host")["state"] == "down", timeout=5)
    assert "sw0" in d.read_log() and "switch repair" in d.read_log()
    d.ctl("switch", "repair", "sw0")
    assert topo.link_exists(host, "sw0")
    assert d.port("sw0", "host")["state"] == "up"
    assert "UP" in topo.ip_json(host, "link", "dev", "sw0")[0]["flags"]
    topo.addr(host, "sw0", "10.8.0.1/24")  # an internal vNIC's addresses are the user's
    topo.ping_until(vm1, "10.8.0.1")
    # Repairing what is not broken changes nothing.
    d.ctl("switch", "repair", "sw0")
    assert topo.addrs(host, "sw0") == ["10.8.0.1/24"]
