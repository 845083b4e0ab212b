"""gocore.Semaphore: golang.org/x/sync/semaphore's weighted FIFO semaphore.

Ported in intent from x/sync's semaphore_test.go (TestWeighted,
TestWeightedPanic, TestWeightedTryAcquire, TestWeightedAcquire,
TestWeightedDoesntBlockIfTooBig, TestLargeAcquireDoesntStarve,
TestAllocCancelDoesntStarve), with timeout= standing in for a context
deadline where no context is needed.
"""
import queue
import random
import threading
import time

import pytest

import gocore
from helpers import fast_switch, join_all, start_thread  # noqa: F401


def _try(sem, n, timeout=0.01):
    try:
        return sem.acquire(n, timeout=timeout)
    except TimeoutError:
        return False


def _wait_queued(sem, n, limit=20.0):
    deadline = time.monotonic() + limit
    while sem._debug_state()[1] < n:
        assert time.monotonic() < deadline, f"{sem._debug_state()[1]} of {n} waiters queued"
        time.sleep(0.0005)


class DoneCtx:
    """A context that is already done (duck-typed: only err() is consulted)."""

    def err(self):
        return gocore.Canceled("done")


def _require_context():
    if not hasattr(gocore, "with_cancel"):
        pytest.skip("gocore.context is not part of this build yet")


# ---- construction and arguments ----

def test_size():
    assert gocore.Semaphore(3).size == 3
    assert gocore.Semaphore(0).size == 0


@pytest.mark.parametrize("bad, exc", [(-1, ValueError), (1.5, TypeError), ("2", TypeError),
                                      (None, TypeError), (2**63, OverflowError)])
def test_bad_size(bad, exc):
    with pytest.raises(exc):
        gocore.Semaphore(bad)


@pytest.mark.parametrize("method", ["acquire", "try_acquire", "release"])
def test_negative_weight_is_value_error(method):
    sem = gocore.Semaphore(2)
    with pytest.raises(ValueError):
        getattr(sem, method)(-1)
    with pytest.raises(TypeError):
        getattr(sem, method)(1.0)
    assert sem._debug_state() == (0, 0)
    assert sem.try_acquire(2)
    sem.release(2)


def test_release_more_than_held_is_value_error():
    sem = gocore.Semaphore(1)
    with pytest.raises(ValueError):
        sem.release(1)                          # x/sync TestWeightedPanic
    assert sem._debug_state() == (0, 0)
    sem.acquire(1)
    with pytest.raises(ValueError):
        sem.release(2)
    assert sem._debug_state() == (1, 0)         # the failed release changed nothing
    sem.release(1)
    assert sem.try_acquire(1) is True
    sem.release()


def test_with_block_is_weight_one():
    sem = gocore.Semaphore(2)
    with sem:
        assert sem._debug_state() == (1, 0)
        with sem:
            assert sem.try_acquire() is False
    assert sem._debug_state() == (0, 0)
    with pytest.raises(KeyError):
        with sem:
            raise KeyError
    assert sem._debug_state() == (0, 0)


def test_zero_weight():
    sem = gocore.Semaphore(1)
    sem.acquire(1)
    assert sem.acquire(0) is True
    assert sem.try_acquire(0) is True
    sem.release(0)
    sem.release(1)


# ---- x/sync: TryAcquire and Acquire sequences ----

def test_try_acquire_sequence():
    sem = gocore.Semaphore(2)
    tries = []
    sem.acquire(1)
    tries.append(sem.try_acquire(1))
    tries.append(sem.try_acquire(1))
    sem.release(2)
    tries.append(sem.try_acquire(1))
    sem.acquire(1)
    tries.append(sem.try_acquire(1))
    assert tries == [True, False, True, False]


def test_acquire_with_timeout_sequence():
    sem = gocore.Semaphore(2)
    tries = []
    sem.acquire(1)
    tries.append(_try(sem, 1))
    tries.append(_try(sem, 1))
    sem.release(2)
    tries.append(_try(sem, 1))
    sem.acquire(1)
    tries.append(_try(sem, 1))
    assert tries == [True, False, True, False]
    assert sem._debug_state() == (2, 0)


def test_timeout_raises_timeout_error_in_time():
    sem = gocore.Semaphore(1)
    sem.acquire()
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        sem.acquire(timeout=0.05)
    assert 0.04 <= time.monotonic() - start < 5
    with pytest.raises(TimeoutError):
        sem.acquire(timeout=0)
    assert sem._debug_state() == (1, 0)
    sem.release()
    assert sem.acquire(timeout=0) is True
    sem.release()


@pytest.mark.parametrize("timeout", [-1, float("nan")])
def test_bad_timeout_is_value_error(timeout):
    sem = gocore.Semaphore(1)
    with pytest.raises(ValueError):
        sem.acquire(timeout=timeout)
    assert sem._debug_state() == (0, 0)


# ---- requests larger than the semaphore ----

def test_too_big_never_queues_and_raises_on_timeout():
    sem = gocore.Semaphore(2)
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        sem.acquire(3, timeout=0.05)
    assert time.monotonic() - start >= 0.04
    assert sem._debug_state() == (0, 0)
    assert sem.try_acquire(3) is False


@pytest.mark.timeout(60)
def test_too_big_does_not_block_others(race):
    """x/sync TestWeightedDoesntBlockIfTooBig."""
    n = 2
    sem = gocore.Semaphore(n)
    big = []
    tb = start_thread(lambda: big.append(_try(sem, n + 1, timeout=1.0)))
    time.sleep(0.02)
    assert sem._debug_state() == (0, 0)         # the big request is not queued

    def small(_):
        assert sem.acquire(1, timeout=20) is True
        time.sleep(0.001)
        sem.release(1)

    race(n * 3, small)
    join_all([tb])
    assert big == [False]
    assert sem._debug_state() == (0, 0)


# ---- FIFO ----

def _check_fifo(size, weights, impatient=()):
    """Queue waiters with `weights` in index order behind a full semaphore;
    those in `impatient` give up (timeout) while queued.  Then release weight
    step by step: after each release the set of granted waiters must be
    exactly the FIFO prefix of the patient ones that fits.  Granted weight is
    released by the test itself, oldest grant first."""
    sem = gocore.Semaphore(size)
    sem.acquire(size)
    granted = set()
    gave_up = set()
    lock = threading.Lock()
    threads = []

    def waiter(i, w):
        if i in impatient:
            if _try(sem, w, timeout=0.15):
                raise AssertionError(f"impatient waiter {i} was granted while all weight was held")
            with lock:
                gave_up.add(i)
            return
        sem.acquire(w)
        with lock:
            granted.add(i)

    for i, w in enumerate(weights):
        threads.append(start_thread(waiter, i, w))
        # waiter i is queued (or, if impatient, may already have given up)
        deadline = time.monotonic() + 20
        while True:
            with lock:
                left = len(gave_up)
            if sem._debug_state()[1] + left >= i + 1:
                break
            assert time.monotonic() < deadline, f"waiter {i} never queued"
            time.sleep(0.0005)
    join_all([t for i, t in enumerate(threads) if i in impatient])
    assert gave_up == set(impatient)
    assert sem._debug_state() == (size, len(weights) - len(impatient))

    patient = [i for i in range(len(weights)) if i not in impatient]
    holders = [size]          # weights held, oldest grant first
    head = 0                  # index into `patient` of the next to be granted
    free = 0
    while holders:
        w = holders.pop(0)
        free += w
        sem.release(w)
        while head < len(patient) and weights[patient[head]] <= free:   # what FIFO must grant
            free -= weights[patient[head]]
            holders.append(weights[patient[head]])
            head += 1
        expected = set(patient[:head])
        deadline = time.monotonic() + 20
        while True:
            with lock:
                now = set(granted)
            if now == expected:
                break
            assert now <= expected, f"granted out of FIFO order: {sorted(now)}, expected {sorted(expected)}"
            assert time.monotonic() < deadline, f"granted {sorted(now)}, expected {sorted(expected)}"
            time.sleep(0.0005)
        time.sleep(0.002)                         # nobody beyond the prefix sneaks in late
        with lock:
            assert granted == expected, f"granted out of FIFO order: {sorted(granted)}"
    join_all(threads)
    assert granted == set(patient)
    assert sem._debug_state() == (0, 0)


@pytest.mark.timeout(60)
def test_waiters_are_served_in_fifo_order():
    _check_fifo(3, [1, 3, 2, 1, 1, 2, 3, 1])


@pytest.mark.timeout(60)
def test_fifo_with_waiters_giving_up_in_the_queue():
    # 0 (the head) and two in the middle give up; those behind move up.
    _check_fifo(3, [3, 1, 2, 2, 1, 3, 1, 1], impatient=(0, 3, 5))


@pytest.mark.timeout(120)
def test_fifo_random_rounds():
    for rnd in range(12):
        rng = random.Random(rnd)
        size = rng.choice((2, 3, 4))
        weights = [rng.randint(1, size) for _ in range(8)]
        impatient = tuple(i for i in range(8) if rng.random() < 0.25)
        _check_fifo(size, weights, impatient)


@pytest.mark.timeout(60)
def test_large_waiter_is_not_overtaken_by_small_ones():
    sem = gocore.Semaphore(4)
    sem.acquire(3)
    big_done = threading.Event()

    def big():
        sem.acquire(4)
        big_done.set()

    t = start_thread(big)
    _wait_queued(sem, 1)
    assert sem.try_acquire(1) is False          # 1 is free, but the big one is first
    assert _try(sem, 1, timeout=0.05) is False
    assert sem._debug_state() == (3, 1)
    assert not big_done.is_set()
    sem.release(3)
    assert big_done.wait(20)
    join_all([t])
    assert sem._debug_state() == (4, 0)
    sem.release(4)


@pytest.mark.timeout(60)
def test_large_acquire_does_not_starve():
    """x/sync TestLargeAcquireDoesntStarve."""
    n = 4
    sem = gocore.Semaphore(n)
    running = [True]
    threads = []

    def cycler():
        try:
            while running[0]:
                time.sleep(0.001)
                sem.release(1)
                sem.acquire(1)
        finally:
            sem.release(1)

    for _ in range(n):
        sem.acquire(1)
        threads.append(start_thread(cycler))
    assert sem.acquire(n, timeout=20) is True
    running[0] = False
    sem.release(n)
    join_all(threads)
    assert sem._debug_state() == (0, 0)


@pytest.mark.timeout(60)
def test_failed_head_wakes_those_behind():
    """x/sync TestAllocCancelDoesntStarve, with a timeout instead of a context."""
    sem = gocore.Semaphore(10)
    sem.acquire(1)
    big = []
    tb = start_thread(lambda: big.append(_try(sem, 10, timeout=1.0)))
    _wait_queued(sem, 1)
    small_done = threading.Event()

    def small():
        sem.acquire(1)                           # queued behind the big request
        sem.release(1)
        small_done.set()

    ts = start_thread(small)
    _wait_queued(sem, 2)
    assert small_done.wait(5), "the waiter behind a failed head was never woken"
    join_all([tb, ts])
    assert big == [False]
    assert sem._debug_state() == (1, 0)
    sem.release(1)


# ---- contexts ----

def test_done_ctx_fails_at_once_even_if_weight_is_free():
    sem = gocore.Semaphore(5)
    with pytest.raises(gocore.Canceled):
        sem.acquire(1, ctx=DoneCtx())
    assert sem._debug_state() == (0, 0)


def test_live_ctx_with_free_weight_acquires():
    class LiveCtx:
        def err(self):
            return None

    sem = gocore.Semaphore(1)
    assert sem.acquire(1, ctx=LiveCtx()) is True
    sem.release(1)


def test_ctx_registration_failure_leaves_no_waiter():
    class Opaque:                               # err() only: the done hook cannot use it
        def err(self):
            return None

    sem = gocore.Semaphore(1)
    sem.acquire(1)
    with pytest.raises(Exception):
        sem.acquire(1, ctx=Opaque(), timeout=0.05)
    assert sem._debug_state() == (1, 0)         # the waiter did not stay queued
    sem.release(1)
    assert sem.try_acquire(1)
    sem.release(1)


@pytest.mark.timeout(60)
def test_ctx_cancel_while_waiting():
    _require_context()
    sem = gocore.Semaphore(1)
    sem.acquire(1)
    ctx, cancel = gocore.with_cancel(gocore.background())
    threading.Timer(0.05, cancel).start()
    with pytest.raises(gocore.Canceled):
        sem.acquire(1, ctx=ctx)
    assert sem._debug_state() == (1, 0)
    sem.release(1)


@pytest.mark.timeout(60)
def test_ctx_deadline_too_big():
    _require_context()
    sem = gocore.Semaphore(1)
    ctx, cancel = gocore.with_timeout(gocore.background(), 0.05)
    try:
        with pytest.raises(gocore.DeadlineExceeded):
            sem.acquire(2, ctx=ctx)
    finally:
        cancel()
    assert sem._debug_state() == (0, 0)


# ---- stress ----

@pytest.mark.timeout(120)
@pytest.mark.usefixtures("fast_switch")
def test_hammer_weighted(race):
    """x/sync TestWeighted: thread i repeatedly takes weight i; the weight held
    never exceeds the size."""
    n = 6
    sem = gocore.Semaphore(n)
    lock = threading.Lock()
    held = [0]
    errors = []

    def hammer(i):
        rng = random.Random(i)
        for _ in range(300):
            sem.acquire(i)
            with lock:
                held[0] += i
                if held[0] > n:
                    errors.append(held[0])
            time.sleep(rng.uniform(0, 0.0005))
            with lock:
                held[0] -= i
            sem.release(i)

    race(n, hammer)
    assert errors == []
    assert sem._debug_state() == (0, 0)


@pytest.mark.timeout(120)
@pytest.mark.usefixtures("fast_switch")
def test_stress_timeouts(race):
    """Waiters with random weights and small timeouts: weight held never
    exceeds the size, every grant is released, nothing stays queued."""
    size = 5
    sem = gocore.Semaphore(size)
    lock = threading.Lock()
    held = [0]
    errors = []
    counts = [[0, 0] for _ in range(6)]

    def worker(i):
        rng = random.Random(i)
        for _ in range(1500):
            w = rng.choice((1, 1, 1, 2, 3, 5))
            r = rng.random()
            try:
                if r < 0.15:
                    ok = sem.try_acquire(w)
                elif r < 0.3:
                    ok = sem.acquire(w)
                else:
                    ok = sem.acquire(w, timeout=rng.choice((0, 1e-4, 5e-4, 2e-3)))
            except TimeoutError:
                ok = False
            if not ok:
                counts[i][1] += 1
                continue
            counts[i][0] += 1
            with lock:
                held[0] += w
                if held[0] > size:
                    errors.append(held[0])
            if rng.random() < 0.3:
                time.sleep(0.0002)
            with lock:
                held[0] -= w
            sem.release(w)

    race(6, worker, timeout=100)
    assert errors == []
    assert sum(c[1] for c in counts) > 0, "nothing timed out: the withdrawal path was not exercised"
    assert sem._debug_state() == (0, 0)
    assert sem.try_acquire(size) is True
    sem.release(size)


def test_ctx_error_traceback_does_not_grow_across_raises():
    # Every context of a cancelled subtree shares one error instance (Go's
    # sentinel); raising it again must not pile up earlier tracebacks.
    import traceback

    ctx, cancel = gocore.with_cancel(gocore.background())
    cancel()
    sem = gocore.Semaphore(1)
    depths = []
    for _ in range(3):
        with pytest.raises(gocore.Canceled) as info:
            sem.acquire(1, ctx=ctx)
        depths.append(len(traceback.extract_tb(info.value.__traceback__)))
    assert depths[0] == depths[1] == depths[2]
