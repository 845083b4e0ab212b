"""Contexts under faults and at depth: a cancel that meets an exception
still cancels the whole tree; chains far deeper than the recursion limit
work; bad deadlines are refused by type."""
import decimal
import fractions
import signal
import sys
import threading
import time

import pytest

import gocore
from gocore import context as context_mod

N = 20_000


def _tree(n_children, every=1000, hook=None):
    """A root with n_children cancel children; every `every`-th child also
    gets a synchronous on-done callback `hook` registered on the root."""
    root, cancel = gocore.with_cancel(gocore.background())
    kids = []
    for i in range(n_children):
        kids.append(gocore.with_cancel(root)[0])
        if hook is not None and i % every == every // 2:
            context_mod._on_done_hook(root, hook)
    return root, cancel, kids


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, MemoryError, RuntimeError])
def test_exception_in_a_callback_does_not_stop_the_cancel_walk(exc_type):
    calls = []

    def hook():
        calls.append(1)
        raise exc_type("injected")

    root, cancel, kids = _tree(N, hook=hook)
    with pytest.raises(exc_type, match="injected"):
        cancel()
    # The first exception is reported only after the walk: every child ended.
    assert len(calls) == N // 1000
    assert sum(k.err() is None for k in kids) == 0
    assert root._children is None
    cancel()                                    # nothing left to do: no exception again


def test_failing_go_in_an_after_func_does_not_stop_the_walk(monkeypatch):
    real_go = context_mod.go
    started = []

    def flaky_go(fn, *a):
        if len(started) % 2 == 0:
            started.append("failed")
            raise MemoryError("go() could not start a thread")
        started.append("ran")
        return real_go(fn, *a)

    monkeypatch.setattr(context_mod, "go", flaky_go)
    root, cancel = gocore.with_cancel(gocore.background())
    kids = [gocore.with_cancel(root)[0] for _ in range(N)]
    ran = threading.Semaphore(0)
    for _ in range(10):
        gocore.context_after_func(root, ran.release)
    with pytest.raises(MemoryError):
        cancel()
    assert sum(k.err() is None for k in kids) == 0
    assert started.count("failed") == 5 and started.count("ran") == 5
    for _ in range(5):
        assert ran.acquire(timeout=10)


def test_nested_subtrees_all_end_despite_a_raising_callback():
    root, cancel = gocore.with_cancel(gocore.background())
    leaves = []
    for i in range(200):
        mid, _ = gocore.with_cancel(root)
        if i == 100:
            context_mod._on_done_hook(mid, lambda: 1 / 0)
        leaves += [gocore.with_value(gocore.with_cancel(mid)[0], "k", j) for j in range(50)]
    with pytest.raises(ZeroDivisionError):
        cancel()
    assert all(leaf.err() is not None for leaf in leaves)


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs signal.setitimer")
def test_keyboard_interrupt_from_a_signal_mid_cancel_loses_no_child():
    # A real signal at an arbitrary bytecode of the walk: whether or not it
    # lands inside cancel(), every child must be cancelled once cancel()
    # has been called until it returns normally.
    def handler(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, handler)
    interrupted = 0
    try:
        for attempt in range(20):
            root, cancel, kids = _tree(50_000)
            signal.setitimer(signal.ITIMER_REAL, 0.002 + attempt * 0.001)
            for _ in range(3):
                try:
                    cancel()
                    break
                except KeyboardInterrupt:
                    interrupted += 1
            signal.setitimer(signal.ITIMER_REAL, 0)
            try:
                time.sleep(0.001)       # an undelivered timer would fire here
            except KeyboardInterrupt:
                pass
            cancel()
            assert sum(k.err() is None for k in kids) == 0
            if interrupted >= 3:
                break
        else:
            pytest.skip(f"the timer signal landed inside cancel() only {interrupted} times")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


DEPTH = 100_000


def test_deep_value_chain_has_no_recursion_limit():
    assert DEPTH > sys.getrecursionlimit() * 10
    root, cancel = gocore.with_timeout(gocore.background(), 3600)
    ctx = root
    for i in range(DEPTH):
        ctx = gocore.with_value(ctx, i, -i)
    assert ctx.deadline() == root.deadline()
    assert ctx.err() is None
    assert ctx.value(0) == 0 and ctx.value(DEPTH - 1) == -(DEPTH - 1) and ctx.value("x") is None
    done = ctx.done()
    assert done is root.done()
    child, child_cancel = gocore.with_cancel(ctx)
    assert child.deadline() == root.deadline()
    cancel()
    assert isinstance(ctx.err(), gocore.Canceled) and child.err() is not None
    assert gocore.cause(ctx) is ctx.err()
    assert done.recv_ok(timeout=0) == (None, False)
    str(ctx)
    del ctx, child                              # deallocating the chain does not recurse either


def test_deep_cancel_chain_has_no_recursion_limit():
    root, cancel = gocore.with_cancel(gocore.background())
    ctx = root
    for _ in range(DEPTH):
        ctx, _ = gocore.with_cancel(ctx)
    assert ctx.deadline() is None
    timed, tcancel = gocore.with_timeout(ctx, 3600)
    assert timed.deadline() is not None and ctx.deadline() is None
    foreign_under = gocore.with_value(gocore.without_cancel(ctx), "a", 1)
    assert foreign_under.deadline() is None and foreign_under.value("a") == 1
    cancel()
    assert ctx.err() is not None and timed.err() is not None
    assert foreign_under.err() is None
    tcancel()


@pytest.mark.parametrize("bad", ["5", b"5", bytearray(b"5"), True, False, None, [5], object()])
def test_with_deadline_refuses_non_numbers(bad):
    with pytest.raises(TypeError, match="deadline"):
        gocore.with_deadline(gocore.background(), bad)


def test_with_deadline_number_types():
    bg = gocore.background()
    far = time.monotonic() + 3600
    for value in (far, int(far), decimal.Decimal(far), fractions.Fraction(far)):
        ctx, cancel = gocore.with_deadline(bg, value)
        assert ctx.err() is None and ctx.deadline() == pytest.approx(float(value))
        cancel()
    ctx, cancel = gocore.with_deadline(bg, 10 ** 400)     # beyond a float: never
    assert ctx.err() is None and ctx.deadline() == float("inf")
    cancel()
    with pytest.raises(ValueError):
        gocore.with_deadline(bg, float("nan"))


@pytest.mark.parametrize("bad", ["5", b"5", True, None])
def test_with_timeout_refuses_non_numbers(bad):
    with pytest.raises(TypeError, match="timeout"):
        gocore.with_timeout(gocore.background(), bad)


def test_with_timeout_beyond_a_float_never_expires():
    ctx, cancel = gocore.with_timeout(gocore.background(), 10 ** 400)
    assert ctx.err() is None and ctx.deadline() == float("inf")
    cancel()


def test_pool_create_returning_none_is_refused_and_the_slot_kept():
    made = []

    def create():
        made.append(1)
        return None if len(made) <= 3 else object()

    pool = gocore.Pool(create, limit=1)
    for _ in range(3):
        with pytest.raises(TypeError, match="create"):
            pool.get(timeout=1)
    obj = pool.get(timeout=1)           # the one slot is still there
    assert obj is not None
    pool.put(obj)
    assert pool.get(timeout=1) is obj
    assert "live=1" in repr(pool)
