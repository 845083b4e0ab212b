"""ErrGroup: golang.org/x/sync/errgroup semantics."""
import threading
import time

import pytest

import gocore
from helpers import block_on, wait_until


def test_zero_group_wait_returns():
    g = gocore.ErrGroup()
    assert g.wait() is None
    assert g.wait() is None


def test_runs_every_function_with_args():
    g = gocore.ErrGroup()
    got = []
    lock = threading.Lock()

    def add(a, b=0):
        with lock:
            got.append(a + b)

    for i in range(50):
        g.go(add, i, b=1)
    g.wait()
    assert sorted(got) == list(range(1, 51))


def test_wait_raises_first_exception_and_again():
    g = gocore.ErrGroup()
    first = ValueError("first")
    gate = threading.Event()

    def fail_first():
        raise first

    def fail_later():
        gate.wait()
        raise KeyError("later")

    g.go(fail_first)
    g.go(fail_later)
    wait_until(lambda: g._err is not None)
    gate.set()
    with pytest.raises(ValueError) as e1:
        g.wait()
    assert e1.value is first
    with pytest.raises(ValueError) as e2:
        g.wait()
    assert e2.value is first


def test_repeated_wait_does_not_grow_traceback():
    g = gocore.ErrGroup()
    g.go(lambda: 1 / 0)

    def depth(tb):
        n = 0
        while tb is not None:
            n += 1
            tb = tb.tb_next
        return n

    sizes = []
    for _ in range(5):
        try:
            g.wait()
        except ZeroDivisionError as exc:
            sizes.append(depth(exc.__traceback__))
    assert len(set(sizes)) == 1


def test_other_goroutines_still_run_after_a_failure():
    g = gocore.ErrGroup()
    done = gocore.AtomicInt()
    g.go(lambda: 1 / 0)
    for _ in range(20):
        g.go(lambda: (time.sleep(0.001), done.add(1)))
    with pytest.raises(ZeroDivisionError):
        g.wait()
    assert done.load() == 20


def test_base_exceptions_are_errors_too():
    g = gocore.ErrGroup()

    def exit_():
        raise SystemExit(3)

    g.go(exit_)
    with pytest.raises(SystemExit):
        g.wait()


def test_go_rejects_non_callable():
    g = gocore.ErrGroup()
    with pytest.raises(TypeError):
        g.go(5)
    with pytest.raises(TypeError):
        g.try_go("x")
    g.go(lambda: None)
    g.wait()


# ---- with_context ----

def test_with_context_cancelled_on_first_error_with_cause():
    g, ctx = gocore.ErrGroup.with_context(gocore.background())
    boom = RuntimeError("boom")
    saw = []

    def waiter():
        try:
            block_on(ctx)
        except BaseException as exc:
            saw.append(exc)

    g.go(waiter)

    def fail():
        raise boom

    g.go(fail)
    with pytest.raises(RuntimeError) as ei:
        g.wait()
    assert ei.value is boom
    assert isinstance(ctx.err(), gocore.Canceled)
    assert gocore.cause(ctx) is boom
    assert len(saw) == 1 and isinstance(saw[0], gocore.Canceled)


def test_with_context_cancelled_when_wait_returns():
    g, ctx = gocore.ErrGroup.with_context(gocore.background())
    g.go(lambda: None)
    g.wait()
    assert isinstance(ctx.err(), gocore.Canceled)
    assert isinstance(gocore.cause(ctx), gocore.Canceled)


def test_with_context_not_cancelled_before_wait_without_errors():
    g, ctx = gocore.ErrGroup.with_context(gocore.background())
    release = threading.Event()
    g.go(release.wait)
    time.sleep(0.01)
    assert ctx.err() is None
    release.set()
    g.wait()
    assert ctx.err() is not None


def test_with_context_follows_parent():
    parent, cancel = gocore.with_cancel(gocore.background())
    g, ctx = gocore.ErrGroup.with_context(parent)
    cancel()
    assert isinstance(ctx.err(), gocore.Canceled)
    g.wait()


def test_with_context_none_parent():
    with pytest.raises(TypeError):
        gocore.ErrGroup.with_context(None)


def test_first_error_only_is_the_cause():
    g, ctx = gocore.ErrGroup.with_context(gocore.background())
    errs = [ValueError(i) for i in range(10)]
    for e in errs:
        g.go(lambda e=e: (_ for _ in ()).throw(e))
    with pytest.raises(ValueError) as ei:
        g.wait()
    assert gocore.cause(ctx) is ei.value
    assert ei.value in errs


# ---- limits ----

def test_set_limit_bounds_concurrency():
    g = gocore.ErrGroup()
    g.set_limit(3)
    running = gocore.AtomicInt()
    peak = gocore.AtomicInt()

    def task():
        n = running.add(1)
        while True:
            p = peak.load()
            if n <= p or peak.compare_and_swap(p, n):
                break
        time.sleep(0.002)
        running.add(-1)

    for _ in range(40):
        g.go(task)
    g.wait()
    assert 1 <= peak.load() <= 3


def test_go_blocks_at_the_limit():
    g = gocore.ErrGroup()
    g.set_limit(1)
    release = threading.Event()
    g.go(release.wait)
    started = threading.Event()
    returned = threading.Event()

    def second():
        started.set()
        g.go(lambda: None)
        returned.set()

    t = threading.Thread(target=second)
    t.start()
    assert started.wait(5)
    assert not returned.wait(0.05)
    release.set()
    assert returned.wait(10)
    t.join()
    g.wait()


def test_try_go_respects_limit():
    # Go's TestTryGo, with a release gate instead of a channel.
    g = gocore.ErrGroup()
    n = 42
    g.set_limit(n)
    gate = threading.Event()
    for _ in range(n):
        assert g.try_go(gate.wait)
    assert not g.try_go(gate.wait)
    gate.set()
    g.wait()
    assert g.try_go(lambda: None)
    g.wait()
    g.set_limit(1)
    gate2 = threading.Event()
    assert g.try_go(gate2.wait)
    assert not g.try_go(gate2.wait)
    gate2.set()
    g.wait()
    g.set_limit(0)
    for _ in range(100):
        assert not g.try_go(lambda: None)
    g.wait()


def test_set_limit_while_active_raises():
    g = gocore.ErrGroup()
    gate = threading.Event()
    g.go(gate.wait)
    with pytest.raises(RuntimeError, match="active"):
        g.set_limit(2)
    gate.set()
    g.wait()
    g.set_limit(2)            # fine once idle
    g.go(lambda: None)
    g.wait()


def test_set_limit_negative_removes_limit():
    g = gocore.ErrGroup()
    g.set_limit(1)
    g.set_limit(-1)
    gate = threading.Event()
    for _ in range(5):
        assert g.try_go(gate.wait)
    gate.set()
    g.wait()


def test_set_limit_type_error():
    g = gocore.ErrGroup()
    with pytest.raises(TypeError):
        g.set_limit(1.5)


def test_limit_change_while_waiting_in_go_releases_right_semaphore():
    g = gocore.ErrGroup()
    g.set_limit(1)
    gate = threading.Event()
    g.go(gate.wait)
    gate.set()
    g.wait()
    g.set_limit(2)
    for _ in range(10):
        g.go(lambda: None)
    g.wait()
    assert g._active.load() == 0


# ---- with ----

def test_with_block_waits_and_raises():
    done = gocore.AtomicInt()
    with pytest.raises(KeyError):
        with gocore.ErrGroup() as g:
            g.go(lambda: (time.sleep(0.02), done.add(1)))
            g.go(lambda: {}["missing"])
    assert done.load() == 1


def test_with_block_ok():
    out = []
    with gocore.ErrGroup() as g:
        for i in range(5):
            g.go(out.append, i)
    assert sorted(out) == list(range(5))


def test_with_block_own_exception_wins():
    done = gocore.AtomicInt()
    with pytest.raises(OSError):
        with gocore.ErrGroup() as g:
            g.go(lambda: (time.sleep(0.02), done.add(1)))
            g.go(lambda: 1 / 0)
            raise OSError("body")
    assert done.load() == 1


# ---- stress ----

@pytest.mark.timeout(120)
def test_1000_tasks_one_failure_cancels_the_rest_promptly():
    g, ctx = gocore.ErrGroup.with_context(gocore.background())
    n = 1000
    started = gocore.WaitGroup()
    started.add(n - 1)
    cancelled = gocore.AtomicInt()

    def blocker(use_chan):
        started.done()
        if use_chan:
            if ctx.done().recv_ok(timeout=60) == (None, False):
                cancelled.add(1)
            return
        try:
            block_on(ctx, timeout=60)
        except gocore.Canceled:
            cancelled.add(1)
            raise

    for i in range(n - 1):
        g.go(blocker, i % 2 == 0)     # half on ctx.done(), half in Semaphore.acquire(ctx=)
    assert started.wait(60)
    boom = LookupError("the one")
    t0 = time.monotonic()
    g.go(lambda: (_ for _ in ()).throw(boom))
    with pytest.raises(LookupError) as ei:
        g.wait()
    elapsed = time.monotonic() - t0
    assert ei.value is boom
    assert cancelled.load() == n - 1
    assert elapsed < 30      # generous: cancellation, not the 60 s timeouts
