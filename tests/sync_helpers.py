"""Helpers shared by the sync test files (tests/test_sync_*.py, test_atomic.py)."""
import sys
import threading
import time

import pytest


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
