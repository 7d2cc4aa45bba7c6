"""Each libFuzzer target runs for a fixed number of executions from its seed
corpus (tests/fuzz/corpus/<target>/, copied so the repository's corpus does
not grow).  A finding (crash, sanitizer report, broken invariant) fails the
test and leaves the input in the test's directory.  Long runs:
tests/fuzz/run-long.sh."""

import os
import shutil
import subprocess

import pytest

from lib import BUILD

FUZZ_BUILD = os.environ.get("VSWITCH_FUZZ_BUILD", os.path.join(BUILD, "..", "build-fuzz"))
HERE = os.path.join(os.path.dirname(__file__), "fuzz")

# Executions per target in CI: about ten to twenty seconds each.
RUNS = {
    "fuzz-fwd": 60000,
    "fuzz-stream": 15000,
    "fuzz-ctl": 100000,
    "fuzz-vhost-msg": 100000,
    "fuzz-vhost-ring": 100000,
}


def targets():
    names = sorted(d for d in os.listdir(os.path.join(HERE, "corpus")))
    return names


@pytest.mark.parametrize("name", targets())
def test_fuzz_target(name, tmp_path):
    exe = os.path.join(FUZZ_BUILD, "tests", "fuzz", name)
    assert os.access(exe, os.X_OK), f"{exe} not built (test.sh builds build-fuzz with clang)"
    corpus = tmp_path / "corpus"
    shutil.copytree(os.path.join(HERE, "corpus", name), corpus)
    args = [exe, f"-runs={RUNS.get(name, 50000)}", "-max_len=4096", "-timeout=10",
            f"-artifact_prefix={tmp_path}/", str(corpus)]
    dict_file = os.path.join(HERE, f"{name}.dict")
    if os.path.exists(dict_file):
        args.insert(1, f"-dict={dict_file}")
    p = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, f"{name} found a problem:\n{p.stderr[-6000:]}"
    assert "Done" in p.stderr, p.stderr[-2000:]
