"""The benchmark suite keeps working: `bench/run.sh --quick` runs every
section (idle CPU, kernel ports against the Linux bridge, receive paths on a
veth, vhost-user, stream sockets and port scale, the core's cost) for a second or so each and writes
its report.  Nothing here judges speed: the figures of a smoke run on a busy
machine mean nothing.  It checks that each section measured vswitch and put a
figure in the report."""

import os
import re
import subprocess

ROOT = os.path.join(os.path.dirname(__file__), "..")
PEER = os.environ.get("VSWITCH_PEER_BENCH", os.path.join(ROOT, "..", "shared", "bench"))


def test_bench_quick_run_reports_every_section(tmp_path):
    assert os.path.exists(os.path.join(PEER, "veth", "bench.sh")), \
        f"the peer harnesses are missing at {PEER}"
    out = tmp_path / "RESULTS.md"
    p = subprocess.run([os.path.join(ROOT, "bench", "run.sh"), "--quick", "--out", str(out)],
                       capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "failed" not in p.stderr, p.stderr[-3000:]
    text = out.read_text()
    figure = r"\d+(\.\d+)?"
    # idle CPU, a vswitch row for kernel ports with and without offloads, its
    # vhost-user rate, stream results for 2 ports, the core's cost.
    assert re.search(rf"\| default \| {figure} \|", text), text
    assert re.search(rf"\| vswitch \| off \| {figure} \|", text), text
    assert re.search(rf"\| vswitch \| on \| {figure} \|", text), text
    assert re.search(rf"\| bridge \| off \| {figure} \|", text), text
    # vhost-user: the rate, and the mode (CPUs near or far) the trial ran in
    m = re.search(rf"\| vswitch \| 64 \| ([^|]+) \| ([^|]+) \| (\d+) \| {figure}, ", text)
    assert m, text
    in_mode = [re.fullmatch(rf"{figure} \((\d+)\)", c) for c in m.groups()[:2]]
    assert sum(int(x.group(2)) for x in in_mode if x) + int(m.group(3)) == 1, m.group(0)
    assert re.search(r"\| 2 \| batch \| [\d,]+ \|", text), text
    assert re.search(rf"\| unicast \| 1,000 \| {figure} \|", text), text
    # receive paths: the ring vswitchd uses, moderated and not, and AF_XDP
    for path in ("v2", "v2\\+50", "v3", "xdp"):
        assert re.search(rf"\| {path} \| [\d,]+ \| [\d,]+ \| {figure} \|", text), text
    # Each section says when, from which commit, on how fast a machine and
    # where the host ran its two CPUs (a cache line's crossing, ns).
    for section in ("idle", "veth", "rxpath", "vhost", "stream", "core"):
        assert re.search(rf"\| {section} \| [^|]+ \| [^|]+ \| {figure} \| \d+ \|", text), text
    assert "Smoke run" in text
