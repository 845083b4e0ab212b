"""WorkerPool: a bounded goroutine pool (sourcegraph/conc pool semantics)."""
import threading
import time

import pytest

import gocore
from helpers import block_on, wait_until


class Peak:
    """Tracks the highest number of tasks inside at once."""

    def __init__(self):
        self.now = gocore.AtomicInt()
        self.max = gocore.AtomicInt()

    def enter(self):
        n = self.now.add(1)
        while True:
            p = self.max.load()
            if n <= p or self.max.compare_and_swap(p, n):
                return

    def leave(self):
        self.now.add(-1)


@pytest.mark.parametrize("bad,exc", [(0, ValueError), (-3, ValueError), (1.5, TypeError), ("2", TypeError)])
def test_max_workers_validation(bad, exc):
    with pytest.raises(exc):
        gocore.WorkerPool(bad)


def test_runs_all_tasks_with_args():
    p = gocore.WorkerPool(4)
    out = []
    lock = threading.Lock()

    def task(a, *, b):
        with lock:
            out.append(a * b)

    for i in range(100):
        p.go(task, i, b=2)
    p.wait()
    assert sorted(out) == [2 * i for i in range(100)]
    assert p.max_workers == 4
    assert p.ctx is None


def test_concurrency_bounded():
    p = gocore.WorkerPool(3)
    peak = Peak()

    def task():
        peak.enter()
        time.sleep(0.002)
        peak.leave()

    for _ in range(60):
        p.go(task)
    p.wait()
    assert 1 <= peak.max.load() <= 3


def test_go_blocks_while_max_workers_busy():
    p = gocore.WorkerPool(2)
    gate = threading.Event()
    p.go(gate.wait)
    p.go(gate.wait)
    returned = threading.Event()
    t = threading.Thread(target=lambda: (p.go(lambda: None), returned.set()))
    t.start()
    assert not returned.wait(0.05)
    gate.set()
    assert returned.wait(10)
    t.join()
    p.wait()


def test_wait_reraises_first_exception_then_resets():
    p = gocore.WorkerPool(4)
    boom = ValueError("boom")
    ran = gocore.AtomicInt()
    p.go(lambda: (_ for _ in ()).throw(boom))
    for _ in range(10):
        p.go(lambda: ran.add(1))
    with pytest.raises(ValueError) as ei:
        p.wait()
    assert ei.value is boom
    assert ran.load() == 10           # no ctx: the others still run
    p.wait()                          # reset: no error any more
    p.go(lambda: ran.add(1))
    p.wait()
    assert ran.load() == 11


def test_go_rejects_non_callable():
    p = gocore.WorkerPool(1)
    with pytest.raises(TypeError):
        p.go(None)
    p.go(lambda: None)
    p.wait()


def test_with_block_waits():
    out = []
    with gocore.WorkerPool(2) as p:
        for i in range(10):
            p.go(lambda i=i: (time.sleep(0.001), out.append(i)))
    assert sorted(out) == list(range(10))


def test_with_block_raises_task_error():
    with pytest.raises(ZeroDivisionError):
        with gocore.WorkerPool(2) as p:
            p.go(lambda: 1 / 0)


def test_with_block_own_exception_wins():
    with pytest.raises(KeyError):
        with gocore.WorkerPool(2) as p:
            p.go(lambda: 1 / 0)
            raise KeyError("body")


# ---- map ----

def test_map_in_input_order():
    p = gocore.WorkerPool(4)

    def slow_square(x):
        time.sleep(0.001 * (x % 3))
        return x * x

    assert p.map(slow_square, range(50)) == [x * x for x in range(50)]


def test_map_accepts_generators_and_empty():
    p = gocore.WorkerPool(3)
    assert p.map(str, (i for i in range(5))) == ["0", "1", "2", "3", "4"]
    assert p.map(str, []) == []


def test_map_bounded_concurrency():
    p = gocore.WorkerPool(2)
    peak = Peak()

    def f(x):
        peak.enter()
        time.sleep(0.001)
        peak.leave()
        return x

    assert p.map(f, range(30)) == list(range(30))
    assert peak.max.load() <= 2


def test_map_raises_task_exception():
    p = gocore.WorkerPool(4)

    def f(x):
        if x == 7:
            raise LookupError(x)
        return x

    with pytest.raises(LookupError):
        p.map(f, range(20))
    assert p.map(f, range(5)) == list(range(5))    # reusable afterwards


def test_map_rejects_non_callable():
    with pytest.raises(TypeError):
        gocore.WorkerPool(1).map(3, [1])


# ---- ctx ----

def test_ctx_is_a_child_of_the_given_context():
    parent = gocore.with_value(gocore.background(), "k", "v")
    p = gocore.WorkerPool(2, ctx=parent)
    assert p.ctx is not None and p.ctx is not parent
    assert p.ctx.value("k") == "v"
    assert p.ctx.err() is None
    p.wait()


def test_first_failure_cancels_ctx_and_skips_unstarted():
    p = gocore.WorkerPool(1, ctx=gocore.background())
    ctx = p.ctx
    boom = RuntimeError("boom")
    ran = gocore.AtomicInt()
    gate = threading.Event()

    def fail():
        gate.wait()
        raise boom

    p.go(fail)
    # with one worker these cannot start before fail() has finished
    t = threading.Thread(target=lambda: [p.go(ran.add, 1) for _ in range(5)])
    t.start()
    time.sleep(0.02)
    gate.set()
    t.join(10)
    with pytest.raises(RuntimeError) as ei:
        p.wait()
    assert ei.value is boom
    assert ran.load() == 0
    assert isinstance(ctx.err(), gocore.Canceled)
    assert gocore.cause(ctx) is boom
    # reset: a fresh context, tasks run again
    assert p.ctx is not ctx and p.ctx.err() is None
    p.go(ran.add, 1)
    p.wait()
    assert ran.load() == 1


def test_tasks_see_cancellation_through_p_ctx():
    p = gocore.WorkerPool(4, ctx=gocore.background())
    saw = gocore.AtomicInt()
    started = gocore.WaitGroup()
    started.add(3)

    def waiter(ctx):
        started.done()
        try:
            block_on(ctx)
        except gocore.Canceled:
            saw.add(1)

    for _ in range(3):
        p.go(waiter, p.ctx)
    assert started.wait(10)
    p.go(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        p.wait()
    assert saw.load() == 3


def test_parent_ending_first_skips_unstarted_and_wait_raises_ctx_err():
    parent, cancel = gocore.with_cancel(gocore.background())
    p = gocore.WorkerPool(1, ctx=parent)
    ran = gocore.AtomicInt()
    started = threading.Event()

    def first():
        started.set()
        block_on(p.ctx)          # raises Canceled when the parent goes

    p.go(first)
    assert started.wait(10)
    t = threading.Thread(target=lambda: [p.go(ran.add, 1) for _ in range(5)])
    t.start()
    time.sleep(0.02)
    cancel()
    t.join(10)
    assert not t.is_alive()
    with pytest.raises(gocore.Canceled) as ei:
        p.wait()
    assert ei.value is parent.err()
    assert ran.load() == 0
    # the parent is gone for good: later tasks are skipped and wait raises again
    p.go(ran.add, 1)
    with pytest.raises(gocore.Canceled):
        p.wait()
    assert ran.load() == 0


def test_go_after_ctx_cancelled_is_skipped_without_blocking():
    parent, cancel = gocore.with_cancel(gocore.background())
    p = gocore.WorkerPool(1, ctx=parent)
    gate = threading.Event()
    p.go(gate.wait)
    cancel()
    t0 = time.monotonic()
    p.go(lambda: None)           # pool is full, but the ctx is done: skip at once
    assert time.monotonic() - t0 < 5
    gate.set()
    with pytest.raises(gocore.Canceled):
        p.wait()


def test_map_with_ctx_stops_after_failure():
    p = gocore.WorkerPool(2, ctx=gocore.background())
    ran = gocore.AtomicInt()

    def f(x):
        ran.add(1)
        if x == 0:
            raise ValueError("first item")
        time.sleep(0.001)
        return x

    with pytest.raises(ValueError):
        p.map(f, range(1000))
    assert ran.load() < 1000


@pytest.mark.timeout(60)
def test_map_stress_many_items():
    p = gocore.WorkerPool(8)
    assert p.map(lambda x: x + 1, range(20000)) == list(range(1, 20001))
