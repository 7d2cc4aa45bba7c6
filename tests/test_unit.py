"""Every case of every cmocka unit test binary, as its own test.

The binaries (build/tests/unit/test-*) list their cases with --list and run
one case when given its name (tests/unit/unit.h)."""

import glob
import os
import subprocess

import pytest

from lib import BUILD

UNIT_DIR = os.path.join(BUILD, "tests", "unit")


def cases():
    out = []
    for exe in sorted(glob.glob(os.path.join(UNIT_DIR, "test-*"))):
        if not os.access(exe, os.X_OK) or exe.endswith(".p"):
            continue
        names = subprocess.run([exe, "--list"], capture_output=True, text=True,
                               timeout=30).stdout.split()
        if not names:
            # A binary that lists nothing is broken: report it, never skip.
            out.append(pytest.param(exe, "--list", id=f"{os.path.basename(exe)}::list"))
        for n in names:
            out.append(pytest.param(exe, n, id=f"{os.path.basename(exe)}::{n}"))
    if not out:
        out.append(pytest.param(None, None, id="no-unit-test-binaries"))
    return out


@pytest.mark.parametrize("exe,case", cases())
def test_unit(exe, case):
    assert exe is not None, f"no unit test binaries in {UNIT_DIR}: build first"
    if case == "--list":
        pytest.fail(f"{exe} --list printed no test cases")
    p = subprocess.run([exe, case], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, f"{os.path.basename(exe)} {case}:\n{p.stdout}\n{p.stderr}"
