"""Helpers shared by the test files (imported as `helpers`)."""
import os
import sys
import threading
import time

import pytest

import gocore

# Where the tests' gocore was imported from (src/, or the out-of-tree build of
# make test-debug / test-asan / test-tsan): subprocesses get it as PYTHONPATH,
# so they run the same build as the test that starts them.
GOCORE_PATH = os.path.dirname(os.path.dirname(os.path.abspath(gocore.__file__)))


@pytest.fixture
def fast_switch():
    """On a GIL build, hand the GIL over every 10 us instead of every 5 ms, so
    that stress tests really interleave threads inside and around critical
    sections (a no-op for the scheduling of a free-threaded build)."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def busy(seconds):
    """Keep the CPU (and, on a GIL build, the GIL) for `seconds`."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def start_thread(target, *args):
    t = threading.Thread(target=target, args=args, daemon=True)
    t.start()
    return t


def join_all(threads, timeout=30.0):
    for t in threads:
        t.join(timeout)
        if t.is_alive():
            pytest.fail(f"thread still running after {timeout}s: deadlock or lost wake-up")


def wait_until(pred, timeout=10.0):
    """Poll pred() until true; fail the test if it never becomes true."""
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            pytest.fail("condition not reached in time")
        time.sleep(0.002)


def block_on(ctx, timeout=30):
    """Block until ctx ends (via the core's Semaphore ctx hook), then raise ctx.err()."""
    import gocore

    gocore.Semaphore(0).acquire(1, ctx=ctx, timeout=timeout)


def outcome_in_goroutine(fn, *args, **kwargs):
    """Run fn in a goroutine; the returned channel delivers ("ok", value) or
    ("raised", exception type) when it ends (for waits a test clock ends)."""
    import gocore

    out = gocore.Chan(1)

    def run():
        try:
            out.send(("ok", fn(*args, **kwargs)))
        except BaseException as exc:
            out.send(("raised", type(exc)))

    gocore.go(run)
    return out
