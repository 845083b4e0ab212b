"""The library's one timeout rule (src/timeout.pxi), checked on every call that takes one.

Every `timeout=` accepts None (forever), int/float/Fraction/Decimal seconds and a
timedelta; bool and other types are TypeError, NaN and negatives ValueError (with one
message each); +inf and values past any limit wait forever instead of overflowing.
Durations share the type check; Mutex.acquire keeps threading.Lock's rules.
"""
import math
import threading
import time
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

import gocore
from gocore import Chan, Cond, Mutex, Pool, Semaphore, WaitGroup

SHORT = [0.01, Fraction(1, 100), Decimal("0.01"), timedelta(milliseconds=10), 0]
FOREVER = [None, math.inf, 1e300, 10**400, Decimal("1e400"), timedelta.max]
BAD_TYPES = ["1", b"1", True, False, [1], 1j, object()]
BAD_VALUES = [-5, -0.5, math.nan, -math.inf, -10**400, Decimal("-1"), Decimal("NaN"),
              Fraction(-1, 2), timedelta(seconds=-1)]


class _Op:
    """A call that cannot complete by itself: `call(t)` blocks with timeout t;
    `unblock()` (from another thread) lets it finish."""

    def __init__(self, call, unblock):
        self.call = call
        self.unblock = unblock


def _chan_recv():
    ch = Chan()
    return _Op(lambda t: ch.recv(timeout=t), lambda: ch.send(1))


def _chan_send():
    ch = Chan()
    return _Op(lambda t: ch.send(1, timeout=t), lambda: ch.recv())


def _chan_recv_ok_buffered():
    ch = Chan(1)
    return _Op(lambda t: ch.recv_ok(timeout=t), lambda: ch.send(1))


def _select():
    ch = Chan()
    return _Op(lambda t: gocore.select(ch.recv, timeout=t), lambda: ch.send(1))


def _cond_wait():
    mu = Mutex()
    c = Cond(mu)
    done = threading.Event()

    def call(t):
        mu.lock()
        try:
            return c.wait(timeout=t)
        finally:
            mu.unlock()
            done.set()

    def unblock():
        while not done.is_set():      # a signal before the wait starts is lost: repeat
            c.broadcast()
            time.sleep(0.005)
    return _Op(call, unblock)


def _waitgroup_wait():
    wg = WaitGroup()
    wg.add(1)
    return _Op(lambda t: wg.wait(timeout=t), wg.done)


def _semaphore_acquire():
    sem = Semaphore(1)
    sem.acquire()
    return _Op(lambda t: sem.acquire(1, timeout=t), lambda: sem.release(1))


def _pool_get():
    pool = Pool(object, limit=1)
    held = pool.get()
    return _Op(lambda t: pool.get(timeout=t), lambda: pool.put(held))


OPS = [_chan_recv, _chan_send, _chan_recv_ok_buffered, _select, _cond_wait,
       _waitgroup_wait, _semaphore_acquire, _pool_get]


def _timed_out(op, t):
    try:
        return op.call(t) is False
    except TimeoutError:
        return True


@pytest.mark.parametrize("make", OPS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("bad", BAD_TYPES, ids=repr)
def test_bad_type_is_type_error_with_one_message(make, bad):
    op = make()
    with pytest.raises(TypeError, match=r"^timeout must be a number of seconds or None, not "
                                        + type(bad).__name__ + "$"):
        op.call(bad)
    assert _timed_out(op, 0)                   # the failed call left nothing behind


@pytest.mark.parametrize("make", OPS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("bad", BAD_VALUES, ids=repr)
def test_nan_and_negative_are_value_error_with_one_message(make, bad):
    op = make()
    with pytest.raises(ValueError) as info:
        op.call(bad)
    assert str(info.value) == f"timeout must be a non-negative number of seconds or None, not {bad!r}"
    assert _timed_out(op, 0)


@pytest.mark.parametrize("make", OPS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("t", SHORT, ids=repr)
def test_every_real_number_and_timedelta_is_seconds(make, t):
    assert _timed_out(make(), t)


@pytest.mark.parametrize("make", OPS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("t", FOREVER, ids=lambda t: type(t).__name__ + str(t)[:8])
def test_infinite_and_huge_wait_forever(make, t):
    op = make()
    helper = threading.Thread(target=lambda: (time.sleep(0.02), op.unblock()), daemon=True)
    helper.start()
    assert not _timed_out(op, t)               # an overflow would have timed out at once
    helper.join(10)


def test_waitgroup_wait_checks_its_timeout_even_when_done():
    wg = WaitGroup()
    with pytest.raises(TypeError):
        wg.wait(timeout="x")
    with pytest.raises(ValueError):
        wg.wait(timeout=-5)
    assert wg.wait(timeout=0) is True


def test_python_helpers_follow_the_rule():
    from gocore._gocore import _timeout_seconds
    assert _timeout_seconds(None) is None
    assert _timeout_seconds(math.inf) is None
    assert _timeout_seconds(Decimal("1.5")) == 1.5
    assert _timeout_seconds(timedelta(seconds=2)) == 2.0


# ---- durations: the same type check, their own sign rule ----

@pytest.mark.parametrize("bad", BAD_TYPES + [None], ids=repr)
def test_duration_bad_type(bad):
    for make in (gocore.after, gocore.Timer, gocore.Ticker,
                 lambda d: gocore.after_func(d, lambda: None),
                 lambda d: gocore.with_timeout(gocore.background(), d)):
        with pytest.raises(TypeError, match=r"must be a number of seconds, not " + type(bad).__name__):
            make(bad)


@pytest.mark.parametrize("d", SHORT + [-5, Decimal("-1"), timedelta(seconds=-1)], ids=repr)
def test_duration_real_numbers_and_negative_fire(d):
    assert gocore.after(d).recv(timeout=10) is not None
    ctx, cancel = gocore.with_timeout(gocore.background(), d)
    try:
        assert ctx.done().recv_ok(timeout=10) == (None, False)
        assert isinstance(ctx.err(), gocore.DeadlineExceeded)
    finally:
        cancel()


@pytest.mark.parametrize("d", [math.inf, 10**400, Decimal("1e400")], ids=repr)
def test_duration_huge_never_fires(d):
    t = gocore.Timer(d)
    with pytest.raises(TimeoutError):
        t.c.recv(timeout=0.05)
    assert t.stop() is True
    ctx, cancel = gocore.with_timeout(gocore.background(), d)
    with pytest.raises(TimeoutError):
        ctx.done().recv(timeout=0.05)
    cancel()


def test_duration_nan_and_ticker_sign():
    for make in (gocore.after, gocore.Timer, gocore.Ticker,
                 lambda d: gocore.with_timeout(gocore.background(), d)):
        with pytest.raises(ValueError):
            make(math.nan)
    for bad in (0, -1, Decimal("0"), timedelta(0)):
        with pytest.raises(ValueError):
            gocore.Ticker(bad)


# ---- Mutex.acquire: threading.Lock's rules on the same type check ----

@pytest.mark.parametrize("args, exc", [
    ((True, -2), ValueError),
    ((True, -0.5), ValueError),
    ((True, math.nan), ValueError),
    ((False, 1), ValueError),
    ((False, 0), ValueError),
    ((True, threading.TIMEOUT_MAX * 2), OverflowError),
])
def test_mutex_acquire_matches_threading_lock(args, exc):
    with pytest.raises(exc):
        threading.Lock().acquire(*args)
    mu = Mutex()
    with pytest.raises(exc):
        mu.acquire(*args)
    assert mu.locked() is False


def test_mutex_acquire_minus_one_and_types():
    mu = Mutex()
    assert mu.acquire(timeout=-1) is True
    assert mu.acquire(False, -1) is False
    assert mu.acquire(False, -1.0) is False
    for t in (Decimal("0.01"), Fraction(1, 100), timedelta(milliseconds=10), 0):
        assert mu.acquire(timeout=t) is False
    for bad in ("1", None, True):
        with pytest.raises(TypeError, match=r"^timeout must be a number of seconds, not "):
            mu.acquire(timeout=bad)
    mu.unlock()
    assert mu.acquire(timeout=math.inf) is True
    mu.unlock()
