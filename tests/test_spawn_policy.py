"""The spawn policy: bursts of short goroutines reuse a bounded pool, while
goroutines that block where the core cannot see still get threads."""
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import gocore
import helpers
from gocore import _gocore


def _run(code, timeout=120):
    env = dict(os.environ)
    src = helpers.GOCORE_PATH
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                         text=True, timeout=timeout, env=env)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


@pytest.mark.timeout(180)
def test_burst_of_200000_short_goroutines_starts_a_bounded_pool():
    # A fresh interpreter, so the count is this burst's alone.
    started, ran = _run("""
        import gocore
        from gocore import _gocore
        n = 200_000
        wg = gocore.WaitGroup()
        wg.add(n)
        ran = gocore.AtomicInt()
        def noop():
            ran.add(1)
            wg.done()
        for _ in range(n):
            gocore.go(noop)
        assert wg.wait(120)
        print(_gocore._scheduler_stats()["started"], ran.load())
    """)
    assert int(ran) == 200_000
    assert 1 <= int(started) <= 4 * (os.cpu_count() or 1), started


@pytest.mark.timeout(120)
def test_blocked_goroutines_beyond_the_pool_bound_each_get_a_thread():
    # Far more goroutines than the pool bound block on a threading.Event (the
    # core cannot see it); every one must start, which needs a thread each.
    n = 12 * (os.cpu_count() or 1) + 5
    release = threading.Event()
    started = gocore.WaitGroup()
    started.add(n)
    finished = gocore.WaitGroup()
    finished.add(n)

    def blocked():
        started.done()
        release.wait()
        finished.done()

    for _ in range(n):
        gocore.go(blocked)
    try:
        assert started.wait(60), "a goroutine starved behind blocked ones"
        # and a new short one still runs
        ev = threading.Event()
        gocore.go(ev.set)
        assert ev.wait(30)
    finally:
        release.set()
    assert finished.wait(60)


@pytest.mark.timeout(120)
def test_burst_while_every_worker_is_blocked_runs_everything_once():
    # Workers busy in the OS while a burst arrives: the burst is queued
    # unserved and the monitor must start threads for it; nothing may run
    # twice or be lost.
    n_block, n_burst = 2 * (os.cpu_count() or 1) + 1, 5000
    release = threading.Event()
    blocked = gocore.WaitGroup()
    blocked.add(n_block)
    for _ in range(n_block):
        gocore.go(lambda: (blocked.done(), release.wait()))
    assert blocked.wait(60)
    counts = [0] * n_burst
    lock = threading.Lock()
    wg = gocore.WaitGroup()
    wg.add(n_burst)

    def mark(i):
        with lock:
            counts[i] += 1
        wg.done()

    try:
        for i in range(n_burst):
            gocore.go(mark, i)
        assert wg.wait(60)
    finally:
        release.set()
    assert counts == [1] * n_burst
    deadline = time.monotonic() + 30
    while _gocore._scheduler_stats()["queued"] and time.monotonic() < deadline:
        time.sleep(0.01)
    stats = _gocore._scheduler_stats()
    assert stats["queued"] == 0 and stats["available"] >= 0, stats
