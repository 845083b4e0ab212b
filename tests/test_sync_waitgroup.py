"""gocore.WaitGroup: Go's sync.WaitGroup plus wait(timeout).

Ported in intent from Go's sync/waitgroup_test.go (TestWaitGroup,
TestWaitGroupMisuse, TestWaitGroupRace) and Go 1.25's WaitGroup.Go.
"""
import queue
import random
import threading
import time

import pytest

import gocore
from helpers import fast_switch, join_all, start_thread  # noqa: F401

CLEAN = (0, 0, 0)


# ---- Go's TestWaitGroup: two groups used as barriers, reused 8 times ----

def _barrier_round(wg1, wg2):
    n = 16
    wg1.add(n)
    wg2.add(n)
    exited = queue.Queue()

    def worker():
        wg1.done()
        wg2.wait()
        exited.put(True)

    threads = [start_thread(worker) for _ in range(n)]
    assert wg1.wait(timeout=30) is True
    for _ in range(n):
        assert exited.empty(), "WaitGroup released the group too soon"
        wg2.done()
    for _ in range(n):
        exited.get(timeout=30)
    join_all(threads)


@pytest.mark.timeout(120)
def test_waitgroup_as_barrier_reused():
    wg1, wg2 = gocore.WaitGroup(), gocore.WaitGroup()
    for _ in range(8):
        _barrier_round(wg1, wg2)
    assert wg1._debug_state() == CLEAN
    assert wg2._debug_state() == CLEAN


# ---- basics ----

def test_zero_counter_wait_returns_at_once():
    wg = gocore.WaitGroup()
    assert wg.wait() is True
    assert wg.wait(timeout=0) is True
    wg.add(0)
    assert wg.wait() is True


def test_add_default_and_delta():
    wg = gocore.WaitGroup()
    wg.add()
    wg.add(2)
    wg.add(delta=3)
    assert wg._debug_state()[0] == 6
    wg.add(-5)
    wg.done()
    assert wg._debug_state() == CLEAN
    assert wg.wait(timeout=0) is True


def test_wait_timeout_returns_false_then_true_after_done():
    wg = gocore.WaitGroup()
    wg.add(1)
    start = time.monotonic()
    assert wg.wait(timeout=0.05) is False
    assert 0.04 <= time.monotonic() - start < 5
    assert wg.wait(timeout=0) is False
    assert wg._debug_state() == (1, 0, 0)      # the timed-out waiters left no trace
    threading.Timer(0.02, wg.done).start()
    assert wg.wait(timeout=20) is True
    assert wg._debug_state() == CLEAN


@pytest.mark.parametrize("timeout", [-1, -0.5, float("nan")])
def test_wait_bad_timeout_is_value_error(timeout):
    wg = gocore.WaitGroup()
    wg.add(1)
    with pytest.raises(ValueError):
        wg.wait(timeout=timeout)
    assert wg._debug_state() == (1, 0, 0)
    wg.done()


def test_wait_timeout_type_error():
    wg = gocore.WaitGroup()
    wg.add(1)
    with pytest.raises(TypeError):
        wg.wait(timeout="1")
    wg.done()


def test_done_wakes_every_waiter():
    wg = gocore.WaitGroup()
    wg.add(2)
    woke = []
    threads = [start_thread(lambda: woke.append(wg.wait(timeout=30))) for _ in range(5)]
    deadline = time.monotonic() + 20
    while wg._debug_state()[1] < 5:
        assert time.monotonic() < deadline
        time.sleep(0.001)
    wg.done()
    time.sleep(0.02)
    assert woke == []
    wg.done()
    join_all(threads)
    assert woke == [True] * 5
    assert wg._debug_state() == CLEAN


# ---- misuse: a negative counter raises and leaves the state as it was ----

def test_negative_counter_is_value_error():
    wg = gocore.WaitGroup()
    wg.add(1)
    wg.done()
    with pytest.raises(ValueError, match="negative WaitGroup counter"):
        wg.done()
    assert wg._debug_state() == CLEAN
    assert wg.wait(timeout=0) is True
    with pytest.raises(ValueError):
        wg.add(-1)
    wg.add(1)
    with pytest.raises(ValueError):
        wg.add(-2)
    assert wg._debug_state() == (1, 0, 0)      # not corrupted: still 1
    assert wg.wait(timeout=0.01) is False
    wg.done()
    assert wg.wait(timeout=0) is True


def test_negative_counter_with_waiters_keeps_them_waiting():
    wg = gocore.WaitGroup()
    wg.add(1)
    result = []
    t = start_thread(lambda: result.append(wg.wait(timeout=30)))
    deadline = time.monotonic() + 20
    while wg._debug_state()[1] < 1:
        assert time.monotonic() < deadline
        time.sleep(0.001)
    with pytest.raises(ValueError):
        wg.add(-2)
    time.sleep(0.02)
    assert result == []                        # the failed add woke nobody
    wg.done()
    join_all([t])
    assert result == [True]


@pytest.mark.parametrize("delta", [2**31, -(2**31), 2**62, 2**63, -(2**63) - 1])
def test_delta_out_of_range_is_overflow_error(delta):
    wg = gocore.WaitGroup()
    with pytest.raises(OverflowError):
        wg.add(delta)
    assert wg._debug_state() == CLEAN
    wg.add(1)
    wg.done()


def test_counter_overflow_is_overflow_error():
    wg = gocore.WaitGroup()
    wg.add(2**31 - 1)
    with pytest.raises(OverflowError):
        wg.add(1)
    assert wg._debug_state()[0] == 2**31 - 1
    wg.add(-(2**31 - 1))
    assert wg._debug_state() == CLEAN


@pytest.mark.parametrize("delta", [1.0, "1", None])
def test_non_int_delta_is_type_error(delta):
    wg = gocore.WaitGroup()
    with pytest.raises(TypeError):
        wg.add(delta)
    assert wg._debug_state() == CLEAN


def test_repr():
    wg = gocore.WaitGroup()
    wg.add(3)
    assert "3" in repr(wg)


# ---- Go's TestWaitGroupRace: no spurious wake-up ----

@pytest.mark.timeout(120)
def test_no_spurious_wakeup():
    for _ in range(300):
        wg = gocore.WaitGroup()
        n = gocore.AtomicInt()
        wg.add(1)
        wg.add(1)

        def work():
            n.add(1)
            wg.done()

        threads = [start_thread(work), start_thread(work)]
        assert wg.wait() is True
        assert n.load() == 2, "wait returned before both done() calls"
        join_all(threads)
        assert wg._debug_state() == CLEAN


# ---- no lost wake-up: ping loop ----

@pytest.mark.timeout(120)
@pytest.mark.parametrize("with_timeout", [False, True], ids=["wait", "wait-timeout"])
def test_ping_loop_10000_rounds(with_timeout):
    """Two threads hand the turn back and forth through two WaitGroups, each
    re-armed (add) by its only waiter after its wait returned (Go's reuse
    rule).  A lost wake-up hangs."""
    rounds = 10_000
    wg_a, wg_b = gocore.WaitGroup(), gocore.WaitGroup()
    wg_a.add(1)
    wg_b.add(1)
    timeouts = [0]

    def wait(wg):
        if not with_timeout:
            assert wg.wait() is True
            return
        while not wg.wait(timeout=0.0005):
            timeouts[0] += 1

    def worker():
        for _ in range(rounds):
            wait(wg_b)
            wg_b.add(1)
            wg_a.done()

    t = start_thread(worker)
    for _ in range(rounds):
        wg_b.done()
        wait(wg_a)
        wg_a.add(1)
    join_all([t], timeout=100)
    assert wg_a._debug_state() == (1, 0, 0)
    assert wg_b._debug_state() == (1, 0, 0)
    print(f"timeouts: {timeouts[0]}")


# ---- timeouts under churn ----

@pytest.mark.timeout(120)
@pytest.mark.usefixtures("fast_switch")
def test_stress_wait_timeouts_across_phases():
    """Per phase: k workers finish at random moments while waiters wait with
    small timeouts (retrying) or without; every waiter sees the phase end,
    none sees it early, and the group is clean between phases."""
    wg = gocore.WaitGroup()
    n_phases, n_workers, n_waiters = 150, 4, 4
    stats = {"timeouts": 0, "early": 0}
    lock = threading.Lock()

    for phase in range(n_phases):
        finished = gocore.AtomicInt()
        wg.add(n_workers)
        rng = random.Random(phase)

        def worker(delay):
            time.sleep(delay)
            finished.add(1)
            wg.done()

        def waiter(i):
            r = random.Random(phase * 100 + i)
            if i == 0:
                ok = wg.wait()
            else:
                while not wg.wait(timeout=r.choice((0, 1e-5, 1e-4, 5e-4))):
                    with lock:
                        stats["timeouts"] += 1
                ok = True
            if not ok or finished.load() != n_workers:
                with lock:
                    stats["early"] += 1

        threads = [start_thread(worker, rng.uniform(0, 0.002)) for _ in range(n_workers)]
        threads += [start_thread(waiter, i) for i in range(n_waiters)]
        join_all(threads, timeout=60)
        assert wg._debug_state() == CLEAN, f"phase {phase}: {wg._debug_state()}"
    assert stats["early"] == 0
    assert stats["timeouts"] > 0


# ---- Go 1.25 WaitGroup.go ----

def _require_go():
    if not hasattr(gocore, "go"):
        pytest.skip("gocore.go (goroutines) is not part of this build yet")


@pytest.mark.timeout(60)
def test_go_runs_and_counts():
    _require_go()
    wg = gocore.WaitGroup()
    total = gocore.AtomicInt()
    for i in range(100):
        wg.go(total.add, i)
    assert wg.wait(timeout=30) is True
    assert total.load() == sum(range(100))
    assert wg._debug_state() == CLEAN


@pytest.mark.timeout(60)
def test_go_done_even_when_fn_raises():
    _require_go()
    seen = []
    previous = gocore.set_panic_handler(seen.append)
    try:
        wg = gocore.WaitGroup()
        wg.go(lambda: 1 / 0)
        wg.go(lambda x, y=0: x + y, 1, y=2)
        assert wg.wait(timeout=30) is True
    finally:
        gocore.set_panic_handler(previous)
    assert len(seen) == 1 and isinstance(seen[0], ZeroDivisionError)


def test_go_non_callable_is_type_error():
    wg = gocore.WaitGroup()
    with pytest.raises(TypeError):
        wg.go(42)
    assert wg._debug_state() == CLEAN
