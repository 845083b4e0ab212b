"""gocore.Cond: Go's sync.Cond plus wait(timeout).

Ported in intent from Go's sync/cond_test.go (TestCondSignal,
TestCondSignalGenerations, TestCondBroadcast, TestRace,
TestCondSignalStealing).
"""
import queue
import random
import threading
import time

import pytest

import gocore
from helpers import fast_switch, join_all, start_thread  # noqa: F401

LOCKERS = {
    "Mutex": lambda: gocore.Mutex(),
    "RWMutex": lambda: gocore.RWMutex(),
    "RWMutex.rlocker": lambda: gocore.RWMutex().rlocker(),
    "threading.Lock": lambda: threading.Lock(),
    "threading.RLock": lambda: threading.RLock(),
}


def _lock_fns(locker):
    if hasattr(locker, "lock"):
        return locker.lock, locker.unlock
    return locker.acquire, locker.release


@pytest.fixture(params=list(LOCKERS), ids=list(LOCKERS))
def locker(request):
    return LOCKERS[request.param]()


# ---- construction ----

def test_l_is_the_locker(locker):
    c = gocore.Cond(locker)
    assert c.l is locker


@pytest.mark.parametrize("bad", [None, object(), 42, "lock"])
def test_not_a_locker_is_type_error(bad):
    with pytest.raises(TypeError):
        gocore.Cond(bad)


# ---- signal / broadcast, with every kind of locker ----

@pytest.mark.timeout(60)
def test_signal_wakes_one_with_each_locker(locker):
    lock, unlock = _lock_fns(locker)
    c = gocore.Cond(locker)
    n = 3
    running = queue.Queue()
    awake = queue.Queue()

    def waiter(i):
        lock()
        running.put(i)
        assert c.wait() is True
        awake.put(i)
        unlock()

    threads = [start_thread(waiter, i) for i in range(n)]
    for _ in range(n):
        running.get(timeout=20)
    _wait_for_waiters(c, n)
    for left in range(n, 0, -1):
        assert awake.empty(), "a waiter woke without a signal"
        lock()
        c.signal()
        unlock()
        awake.get(timeout=20)
        time.sleep(0.01)
        assert awake.empty(), "signal woke more than one waiter"
        assert c._debug_waiters() == left - 1
    join_all(threads)
    c.signal()                               # no waiter: a no-op


@pytest.mark.timeout(60)
def test_broadcast_wakes_all_with_each_locker(locker):
    lock, unlock = _lock_fns(locker)
    c = gocore.Cond(locker)
    n = 5
    woke = []

    def waiter(i):
        lock()
        if c.wait(timeout=30):
            woke.append(i)
        unlock()

    threads = [start_thread(waiter, i) for i in range(n)]
    _wait_for_waiters(c, n)
    lock()
    c.broadcast()
    unlock()
    join_all(threads)
    assert sorted(woke) == list(range(n))
    assert c._debug_waiters() == 0


def test_wait_timeout_returns_false_and_relocks(locker):
    lock, unlock = _lock_fns(locker)
    c = gocore.Cond(locker)
    lock()
    start = time.monotonic()
    assert c.wait(timeout=0.05) is False
    elapsed = time.monotonic() - start
    assert 0.04 <= elapsed < 5
    # the locker is held again: release it without error
    unlock()
    assert c._debug_waiters() == 0
    lock()
    assert c.wait(timeout=0) is False
    unlock()


def _wait_for_waiters(c, n, limit=20.0):
    deadline = time.monotonic() + limit
    while c._debug_waiters() < n:
        assert time.monotonic() < deadline, f"only {c._debug_waiters()} of {n} waiters queued"
        time.sleep(0.001)


def test_wait_holds_the_lock_again_on_return():
    mu = gocore.Mutex()
    c = gocore.Cond(mu)
    mu.lock()
    c.wait(timeout=0.001)
    assert mu.locked()
    assert mu.try_lock() is False
    mu.unlock()


@pytest.mark.parametrize("timeout", [-1, -0.001, float("nan")])
def test_wait_bad_timeout_value_error(timeout):
    mu = gocore.Mutex()
    c = gocore.Cond(mu)
    mu.lock()
    with pytest.raises(ValueError):
        c.wait(timeout=timeout)
    assert mu.locked()                       # still held: the call did nothing
    assert c._debug_waiters() == 0
    assert c.wait(timeout=0.001) is False
    mu.unlock()


def test_wait_timeout_type_error():
    mu = gocore.Mutex()
    c = gocore.Cond(mu)
    mu.lock()
    with pytest.raises(TypeError):
        c.wait(timeout="1")
    assert mu.locked() and c._debug_waiters() == 0
    mu.unlock()


def test_wait_without_holding_the_lock_raises_and_leaves_no_waiter():
    mu = gocore.Mutex()
    c = gocore.Cond(mu)
    with pytest.raises(RuntimeError):
        c.wait(timeout=1)
    assert c._debug_waiters() == 0
    assert not mu.locked()
    # still works
    t = start_thread(_signal_later, c, mu)
    mu.lock()
    assert c.wait(timeout=20) is True
    mu.unlock()
    join_all([t])


def test_wait_without_holding_a_threading_lock_raises():
    lock = threading.Lock()
    c = gocore.Cond(lock)
    with pytest.raises(RuntimeError):
        c.wait()
    assert c._debug_waiters() == 0


def _signal_later(c, mu):
    _wait_for_waiters(c, 1)
    mu.lock()
    c.signal()
    mu.unlock()


def test_signal_and_broadcast_without_waiters_are_not_remembered():
    mu = gocore.Mutex()
    c = gocore.Cond(mu)
    c.signal()
    c.broadcast()
    with mu:
        assert c.wait(timeout=0.02) is False


def test_broadcast_does_not_wake_later_waiters():
    mu = gocore.Mutex()
    c = gocore.Cond(mu)
    results = []

    def waiter(timeout):
        with mu:
            results.append(c.wait(timeout=timeout))

    t1 = start_thread(waiter, 20)
    _wait_for_waiters(c, 1)
    with mu:
        c.broadcast()
    join_all([t1])
    t2 = start_thread(waiter, 0.05)
    join_all([t2])
    assert results == [True, False]


# ---- Go's TestCondSignalGenerations: signal wakes the oldest waiter ----

@pytest.mark.timeout(60)
def test_signal_is_fifo():
    mu = gocore.Mutex()
    c = gocore.Cond(mu)
    n = 100
    running = queue.Queue()
    awake = queue.Queue()
    threads = []

    def waiter(i):
        mu.lock()
        running.put(i)
        c.wait()
        awake.put(i)
        mu.unlock()

    for i in range(n):
        threads.append(start_thread(waiter, i))
        if i > 0:
            assert awake.get(timeout=20) == i - 1, "signal woke the wrong waiter"
        running.get(timeout=20)
        mu.lock()                            # waiter i is inside wait() now
        c.signal()
        mu.unlock()
    assert awake.get(timeout=20) == n - 1
    join_all(threads)


@pytest.mark.timeout(60)
def test_signal_order_with_many_queued():
    mu = gocore.Mutex()
    c = gocore.Cond(mu)
    n = 20
    order = []

    def waiter(i):
        with mu:
            c.wait()
            order.append(i)

    threads = []
    for i in range(n):
        threads.append(start_thread(waiter, i))
        _wait_for_waiters(c, i + 1)
    for i in range(n):
        with mu:
            c.signal()
        deadline = time.monotonic() + 20
        while len(order) <= i:
            assert time.monotonic() < deadline
            time.sleep(0.0005)
    join_all(threads)
    assert order == list(range(n))


# ---- Go's TestCondBroadcast ----

@pytest.mark.timeout(120)
def test_broadcast_rounds():
    mu = gocore.Mutex()
    c = gocore.Cond(mu)
    n, rounds = 30, 30
    running = queue.Queue()
    awake = queue.Queue()
    box = {"exit": False}

    def waiter(g):
        mu.lock()
        while not box["exit"]:
            running.put(g)
            c.wait()
            awake.put(g)
        mu.unlock()

    threads = [start_thread(waiter, g) for g in range(n)]
    for r in range(rounds):
        for _ in range(n):
            running.get(timeout=20)
        if r == rounds - 1:
            with mu:
                box["exit"] = True
        assert awake.empty(), "a waiter woke without a broadcast"
        with mu:
            c.broadcast()
        seen = set()
        for _ in range(n):
            g = awake.get(timeout=20)
            assert g not in seen, "a waiter woke twice"
            seen.add(g)
    join_all(threads)
    assert running.empty(), "a waiter did not exit"
    c.broadcast()


# ---- Go's TestRace ----

@pytest.mark.timeout(60)
def test_cond_race():
    c = gocore.Cond(gocore.Mutex())
    box = {"x": 0}
    errors = []

    def first():
        c.l.lock()
        box["x"] = 1
        c.wait()
        if box["x"] != 2:
            errors.append("want 2")
        box["x"] = 3
        c.signal()
        c.l.unlock()

    def second():
        c.l.lock()
        while True:
            if box["x"] == 1:
                box["x"] = 2
                c.signal()
                break
            c.l.unlock()
            time.sleep(0)
            c.l.lock()
        c.l.unlock()

    def third():
        c.l.lock()
        while True:
            if box["x"] == 2:
                c.wait()
                if box["x"] != 3:
                    errors.append("want 3")
                break
            if box["x"] == 3:
                break
            c.l.unlock()
            time.sleep(0)
            c.l.lock()
        c.l.unlock()

    join_all([start_thread(f) for f in (first, second, third)])
    assert errors == []


# ---- Go's TestCondSignalStealing ----

@pytest.mark.timeout(120)
def test_signal_stealing():
    for _ in range(200):
        mu = gocore.Mutex()
        c = gocore.Cond(mu)
        ch = queue.Queue()

        def first():
            mu.lock()
            ch.put(1)
            c.wait()
            mu.unlock()
            ch.put(2)

        t1 = start_thread(first)
        ch.get(timeout=20)
        mu.lock()
        mu.unlock()                          # first waiter is inside wait() now
        box = {"done": False}

        def second():
            mu.lock()
            while not box["done"]:
                c.wait()
            mu.unlock()

        tb = start_thread(c.broadcast)
        t2 = start_thread(second)
        assert ch.get(timeout=5) == 2, "the first waiter missed the broadcast"
        with mu:
            box["done"] = True
        c.broadcast()
        join_all([t1, tb, t2])


# ---- no lost wake-up: ping-pong ----

@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", ["Mutex", "threading.Lock"])
def test_ping_pong_10000_rounds(kind):
    locker = gocore.Mutex() if kind == "Mutex" else threading.Lock()
    lock, unlock = _lock_fns(locker)
    c = gocore.Cond(locker)
    rounds = 10_000
    box = {"turn": 0, "count": 0}

    def player(me):
        for _ in range(rounds):
            lock()
            while box["turn"] != me:
                c.wait()
            box["count"] += 1
            box["turn"] = 1 - me
            c.signal()
            unlock()

    threads = [start_thread(player, 0), start_thread(player, 1)]
    join_all(threads, timeout=100)
    assert box["count"] == 2 * rounds
    assert c._debug_waiters() == 0


# ---- timeouts under churn ----

@pytest.mark.timeout(120)
@pytest.mark.usefixtures("fast_switch")
def test_stress_wait_timeouts_mixed_with_signals():
    """Consumers wait with and without small timeouts while producers signal
    and sometimes broadcast.  Every token is consumed, nobody hangs, wait
    never reports more wake-ups than signals could deliver, and the Cond is
    empty and working afterwards (a stale record would crash signal)."""
    mu = gocore.Mutex()
    c = gocore.Cond(mu)
    n_tokens = 20_000
    box = {"tokens": 0, "taken": 0, "finished": False, "woken": 0, "timeouts": 0,
           "signals": 0, "broadcasts": 0, "wake_budget": 0, "waiting": 0}

    def producer(i):
        rng = random.Random(i)
        for k in range(n_tokens // 2):
            with mu:
                box["tokens"] += 1
                waiting = box["waiting"]         # an upper bound on the queued waiters
                if rng.random() < 0.05:
                    c.broadcast()
                    box["broadcasts"] += 1
                    box["wake_budget"] += waiting
                else:
                    c.signal()
                    box["signals"] += 1
                    box["wake_budget"] += min(waiting, 1)
            if k % 8 == 0:
                time.sleep(0.0001)               # let consumers run dry and wait

    def consumer(i):
        rng = random.Random(100 + i)
        patient = i % 3 == 0                 # some consumers never time out
        while True:
            with mu:
                while box["tokens"] == 0 and not box["finished"]:
                    box["waiting"] += 1
                    ok = c.wait() if patient else c.wait(timeout=rng.choice((0, 1e-4, 5e-4, 2e-3)))
                    box["waiting"] -= 1
                    if ok:
                        box["woken"] += 1
                    else:
                        box["timeouts"] += 1
                if box["tokens"] == 0:
                    return
                box["tokens"] -= 1
                box["taken"] += 1

    producers = [start_thread(producer, i) for i in range(2)]
    consumers = [start_thread(consumer, i) for i in range(6)]
    join_all(producers, timeout=100)
    deadline = time.monotonic() + 60
    while True:
        with mu:
            if box["taken"] == n_tokens:
                box["finished"] = True
                c.broadcast()
                break
        assert time.monotonic() < deadline, f"tokens left unconsumed: {box}"
        time.sleep(0.001)
    join_all(consumers, timeout=60)
    print({k: v for k, v in box.items() if k != "finished"})
    assert box["taken"] == n_tokens and box["tokens"] == 0
    assert box["timeouts"] > 0
    # each signal wakes at most one waiter, a broadcast at most those waiting
    assert box["woken"] <= box["wake_budget"] + len(consumers), box
    assert c._debug_waiters() == 0
    for _ in range(3):
        c.signal()
        c.broadcast()
    with mu:
        assert c.wait(timeout=0.01) is False
    assert mu._debug_state() == (0, 0)


@pytest.mark.timeout(60)
@pytest.mark.usefixtures("fast_switch")
def test_misused_wait_racing_signals_is_safe(race):
    """wait() without holding c.l raises; a signal that dequeued that waiter in
    the meantime must neither write into the gone frame nor be lost."""
    mu = gocore.Mutex()
    c = gocore.Cond(mu)
    errors = [0]

    def body(i):
        if i == 0:
            for _ in range(20_000):
                try:
                    c.wait()
                except RuntimeError:
                    errors[0] += 1
        else:
            for _ in range(20_000):
                c.signal()

    race(2, body)
    assert errors[0] == 20_000
    assert c._debug_waiters() == 0
    t = start_thread(_signal_later, c, mu)
    with mu:
        assert c.wait(timeout=20) is True
    join_all([t])
