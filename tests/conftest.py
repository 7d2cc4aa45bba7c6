import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from lib import Daemon, Topo  # noqa: E402


@pytest.fixture
def topo():
    t = Topo()
    try:
        yield t
    finally:
        t.cleanup()


@pytest.fixture
def daemon_factory(topo):
    """daemon_factory(ns) -> a started Daemon; stopped (and its log checked
    for sanitizer reports) at the end of the test."""
    made = []

    def make(ns, name="d", start=True, env=None, args=(), prefix=()):
        d = Daemon(topo, ns, name=name, env=env, args=args, prefix=prefix)
        made.append(d)
        if start:
            d.start()
        return d

    yield make
    for d in made:
        if d.proc is not None and d.proc.poll() is None:
            d.stop()
    for d in made:
        d.assert_clean_log()
