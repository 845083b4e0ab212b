"""gocore.RWMutex: Go's sync.RWMutex semantics.

Ported in intent from Go's sync/rwmutex_test.go (TestParallelReaders,
TestRWMutex's hammer, TestRLocker) and the RWMutex cases of TestMutexMisuse.
"""
import threading
import time

import pytest

import gocore
from helpers import fast_switch, join_all, start_thread  # noqa: F401

ZERO_STATE = (0, 0, 0, 0, 0, 0, 0)


def test_write_lock_basics():
    rw = gocore.RWMutex()
    rw.lock()
    assert rw.try_lock() is False
    assert rw.try_rlock() is False
    rw.unlock()
    assert rw.try_lock() is True
    assert rw.try_lock() is False
    assert rw.try_rlock() is False
    rw.unlock()
    assert rw._debug_state() == ZERO_STATE


def test_read_lock_basics():
    rw = gocore.RWMutex()
    rw.rlock()
    rw.rlock()
    assert rw.try_rlock() is True
    assert rw.try_lock() is False           # readers inside
    rw.runlock()
    rw.runlock()
    assert rw.try_lock() is False
    rw.runlock()
    assert rw.try_lock() is True
    rw.unlock()
    assert rw._debug_state() == ZERO_STATE


def test_with_takes_the_write_lock():
    rw = gocore.RWMutex()
    with rw:
        assert rw.try_rlock() is False
        assert rw.try_lock() is False
    assert rw.try_lock() is True
    rw.unlock()
    with pytest.raises(ValueError):
        with rw:
            raise ValueError
    assert rw._debug_state() == ZERO_STATE


def test_rlocker_is_the_read_side():
    rw = gocore.RWMutex()
    rl = rw.rlocker()
    rl.lock()
    rl.lock()                                # read locks nest
    assert rw.try_lock() is False
    assert rw.try_rlock() is True
    rw.runlock()
    rl.unlock()
    rl.unlock()
    with rl:
        assert rw.try_lock() is False
        assert rw.try_rlock() is True
        rw.runlock()
    assert rw.try_lock() is True
    rw.unlock()
    with pytest.raises(RuntimeError):
        rl.unlock()                          # runlock without rlock, through the locker
    assert rw._debug_state() == ZERO_STATE


# ---- misuse: Go's TestMutexMisuse cases for RWMutex, as RuntimeError ----

def _misuse_unlock(rw):
    rw.unlock()


def _misuse_rlock_unlock(rw):
    rw.rlock()
    try:
        rw.unlock()
    finally:
        rw.runlock()                         # the read lock is still held and works


def _misuse_lock_unlock_unlock(rw):
    rw.lock()
    rw.unlock()
    rw.unlock()


def _misuse_runlock(rw):
    rw.runlock()


def _misuse_lock_runlock(rw):
    rw.lock()
    try:
        rw.runlock()
    finally:
        rw.unlock()                          # the write lock is still held and works


def _misuse_rlock_runlock_runlock(rw):
    rw.rlock()
    rw.runlock()
    rw.runlock()


@pytest.mark.parametrize("misuse", [
    _misuse_unlock, _misuse_rlock_unlock, _misuse_lock_unlock_unlock,
    _misuse_runlock, _misuse_lock_runlock, _misuse_rlock_runlock_runlock,
], ids=lambda f: f.__name__[len("_misuse_"):])
def test_misuse_raises_runtime_error_and_leaves_it_working(misuse):
    rw = gocore.RWMutex()
    with pytest.raises(RuntimeError, match="unlocked"):
        misuse(rw)
    assert rw._debug_state() == ZERO_STATE
    rw.lock()
    rw.unlock()
    rw.rlock()
    rw.runlock()
    assert rw._debug_state() == ZERO_STATE


def test_exit_without_lock_is_runtime_error():
    rw = gocore.RWMutex()
    with pytest.raises(RuntimeError):
        rw.__exit__(None, None, None)
    with rw:
        pass


# ---- Go's TestParallelReaders ----

@pytest.mark.timeout(60)
@pytest.mark.parametrize("n", [1, 3, 4, 16])
def test_parallel_readers(race, n):
    rw = gocore.RWMutex()
    inside = threading.Barrier(n, timeout=20)   # all n must hold a read lock at once

    def reader(_):
        rw.rlock()
        try:
            inside.wait()
        finally:
            rw.runlock()

    race(n, reader)
    assert rw._debug_state() == ZERO_STATE


# ---- writer preference ----

def test_pending_writer_blocks_new_readers():
    rw = gocore.RWMutex()
    rw.rlock()
    writer_has_it = threading.Event()
    reader_has_it = threading.Event()
    order = []

    def writer():
        rw.lock()
        order.append("writer")
        writer_has_it.set()
        time.sleep(0.02)
        rw.unlock()

    def late_reader():
        rw.rlock()
        order.append("reader")
        reader_has_it.set()
        rw.runlock()

    tw = start_thread(writer)
    deadline = time.monotonic() + 10
    while rw.try_rlock():                    # succeeds until the writer is pending
        rw.runlock()
        assert time.monotonic() < deadline, "writer never became pending"
        time.sleep(0.001)
    tr = start_thread(late_reader)
    assert not reader_has_it.wait(0.05), "a new reader overtook a pending writer"
    assert not writer_has_it.is_set()        # first reader still inside
    rw.runlock()
    join_all([tw, tr])
    assert order == ["writer", "reader"]
    assert rw._debug_state() == ZERO_STATE


def test_unlock_wakes_every_queued_reader():
    rw = gocore.RWMutex()
    rw.lock()
    n = 8
    got = threading.Barrier(n + 1, timeout=20)

    def reader():
        rw.rlock()
        got.wait()                            # all readers inside together
        rw.runlock()

    threads = [start_thread(reader) for _ in range(n)]
    time.sleep(0.05)
    rw.unlock()
    got.wait()
    join_all(threads)
    assert rw._debug_state() == ZERO_STATE


# ---- Go's TestRLocker ----

@pytest.mark.timeout(60)
def test_rlocker_against_writer():
    wl = gocore.RWMutex()
    rl = wl.rlocker()
    n = 10
    wlocked = threading.Semaphore(0)
    rlocked = threading.Semaphore(0)

    def locker():
        for _ in range(n):
            rl.lock()
            rl.lock()
            rlocked.release()
            wl.lock()
            wlocked.release()

    t = start_thread(locker)
    for _ in range(n):
        assert rlocked.acquire(timeout=20)
        rl.unlock()
        assert not wlocked.acquire(timeout=0.005), "rlocker() did not read-lock"
        rl.unlock()
        assert wlocked.acquire(timeout=20)
        assert not rlocked.acquire(blocking=False), "rlocker() did not respect the write lock"
        wl.unlock()
    join_all([t])
    assert wl._debug_state() == ZERO_STATE


# ---- Go's HammerRWMutex: readers and two writers, activity checked atomically ----

@pytest.mark.timeout(120)
@pytest.mark.usefixtures("fast_switch")
@pytest.mark.parametrize("n_readers", [1, 3, 10])
def test_hammer_rwmutex(race, n_readers):
    rw = gocore.RWMutex()
    activity = gocore.AtomicInt()            # readers inside + 10000 * writers inside
    iterations = 1000
    errors = []

    def body(i):
        writer = i in (0, n_readers // 2 + 1)
        for _ in range(iterations):
            if writer:
                rw.lock()
                n = activity.add(10000)
                if n != 10000:
                    errors.append(("writer saw", n))
                activity.add(-10000)
                rw.unlock()
            else:
                rw.rlock()
                n = activity.add(1)
                if not 1 <= n < 10000:
                    errors.append(("reader saw", n))
                activity.add(-1)
                rw.runlock()

    race(n_readers + 2, body)
    assert errors == []
    assert activity.load() == 0
    assert rw._debug_state() == ZERO_STATE


# ---- stress: the write side alone is a mutex ----

@pytest.mark.timeout(300)
@pytest.mark.usefixtures("fast_switch")
@pytest.mark.parametrize("style", ["lock-unlock", "with", "try_lock"])
def test_stress_write_side_mutual_exclusion(race, style):
    rw = gocore.RWMutex()
    box = {"inside": 0, "total": 0}
    violations = []
    n_threads, n_sections = 4, 50_000        # 200,000 critical sections

    def enter():
        if style == "try_lock":
            while not rw.try_lock():
                time.sleep(0)
        else:
            rw.lock()

    def worker(i):
        for k in range(n_sections):
            if style == "with":
                rw.__enter__()
            else:
                enter()
            if box["inside"]:
                violations.append((i, k))
            box["inside"] += 1
            box["total"] += 1
            box["inside"] -= 1
            rw.unlock()

    race(n_threads, worker, timeout=240)
    assert violations == []
    assert box["total"] == n_threads * n_sections
    assert rw._debug_state() == ZERO_STATE


@pytest.mark.timeout(300)
@pytest.mark.usefixtures("fast_switch")
def test_stress_readers_and_writers_mixed(race):
    """Writers exclude everyone (non-atomic writer flag, exact write count);
    readers never see a writer inside nor a half-done write."""
    rw = gocore.RWMutex()
    state = {"writer": 0, "a": 0, "b": 0}    # a writer keeps a == b
    readers_inside = gocore.AtomicInt()
    max_readers = [0]
    errors = []
    n_threads, n_ops = 6, 30_000

    def worker(i):
        for k in range(n_ops):
            if (k + i) % 8 == 0:
                if k % 3 == 0:
                    if not rw.try_lock():
                        continue
                else:
                    rw.lock()
                if state["writer"] or readers_inside.load():
                    errors.append(("writer overlap", state["writer"], readers_inside.load()))
                state["writer"] += 1
                state["a"] += 1
                if k % 64 == 0:
                    time.sleep(0)                # readers and writers pile up behind us
                state["b"] += 1
                state["writer"] -= 1
                rw.unlock()
            else:
                if k % 5 == 0:
                    if not rw.try_rlock():
                        continue
                else:
                    rw.rlock()
                n = readers_inside.add(1)
                max_readers[0] = max(max_readers[0], n)
                if k % 16 == 1:
                    time.sleep(0)                # let other readers in beside us
                if state["writer"] or state["a"] != state["b"]:
                    errors.append(("reader saw a writer", state["writer"], state["a"], state["b"]))
                readers_inside.add(-1)
                rw.runlock()

    race(n_threads, worker, timeout=240)
    assert errors == []
    assert state["writer"] == 0 and state["a"] == state["b"] > 0
    assert readers_inside.load() == 0
    assert rw._debug_state() == ZERO_STATE
    print(f"writes={state['a']} max concurrent readers={max_readers[0]}")
