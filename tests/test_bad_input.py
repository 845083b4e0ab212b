"""Every public call with the wrong input: wrong types, None, bools and
floats where an int belongs, huge ints, NaN/inf/negative timeouts, junk
select cases.  Each must raise a clear exception that names the argument,
and leave the object working (checked by a normal call right after).
"""
import math
import re
import threading

import pytest

import gocore

WRONG_TIMEOUT_TYPES = ["1", b"1", bytearray(b"1"), True, False, 1j, [1], object()]
BAD_TIMEOUT_VALUES = [math.nan, -1, -0.5, -math.inf]
WRONG_INT_TYPES = ["5", 5.0, True, None, 1j, [5], object()]
HUGE = 10 ** 400


def _raises(exc, names, call):
    """call() raises `exc` whose message names one of `names`."""
    with pytest.raises(exc) as info:
        call()
    msg = str(info.value)
    assert re.search(names, msg), f"{type(info.value).__name__}({msg!r}) does not name {names!r}"


# ---- timeouts ----

def _timeout_calls():
    """name -> (make() -> (call(timeout), still_works()))"""
    def chan_send():
        ch = gocore.Chan(1)
        return (lambda t: ch.send("x", timeout=t)), (lambda: ch.send("ok", timeout=1) or ch.recv() == "ok")

    def chan_recv():
        ch = gocore.Chan(1)
        return (lambda t: ch.recv(timeout=t)), (lambda: ch.send(1) or ch.recv(timeout=1) == 1)

    def chan_recv_ok():
        ch = gocore.Chan(1)
        return (lambda t: ch.recv_ok(timeout=t)), (lambda: ch.send(1) or ch.recv_ok(timeout=1) == (1, True))

    def select():
        ch = gocore.Chan(1)
        return (lambda t: gocore.select(ch.recv, timeout=t)), \
            (lambda: ch.send(3) or gocore.select(ch.recv, timeout=1) == (0, 3))

    def mutex_acquire():
        mu = gocore.Mutex()
        mu.lock()

        def works():
            mu.unlock()
            ok = mu.acquire(timeout=1)
            mu.release()
            return ok and not mu.locked()
        return (lambda t: mu.acquire(True, t)), works

    def cond_wait():
        mu = gocore.Mutex()
        cond = gocore.Cond(mu)

        def call(t):
            with mu:
                cond.wait(t)

        def works():
            with mu:
                return cond.wait(0.001) is False
        return call, works

    def waitgroup_wait():
        wg = gocore.WaitGroup()
        wg.add(1)
        return (lambda t: wg.wait(t)), (lambda: wg.done() or wg.wait(1) is True)

    def semaphore_acquire():
        sem = gocore.Semaphore(1)
        sem.acquire()
        return (lambda t: sem.acquire(1, timeout=t)), \
            (lambda: sem.release() or (sem.acquire(1, timeout=1) is not False and sem.try_acquire() is False))

    def pool_get():
        pool = gocore.Pool(object, limit=1)
        held = pool.get()
        return (lambda t: pool.get(t)), (lambda: pool.put(held) or pool.get(1) is held)

    def ratelimiter_acquire():
        lim = gocore.RateLimiter(0.001, burst=1)
        lim.acquire()                     # the bucket is empty for the next 1000 s
        return (lambda t: lim.acquire(1, timeout=t)), \
            (lambda: lim.set_rate(math.inf) or lim.acquire(1, timeout=1) is None)

    return {
        "Chan.send": chan_send, "Chan.recv": chan_recv, "Chan.recv_ok": chan_recv_ok,
        "select": select, "Mutex.acquire": mutex_acquire, "Cond.wait": cond_wait,
        "WaitGroup.wait": waitgroup_wait, "Semaphore.acquire": semaphore_acquire,
        "Pool.get": pool_get, "RateLimiter.acquire": ratelimiter_acquire,
    }


TIMEOUT_CALLS = _timeout_calls()


@pytest.mark.parametrize("name", list(TIMEOUT_CALLS))
@pytest.mark.parametrize("bad", WRONG_TIMEOUT_TYPES, ids=repr)
def test_timeout_of_wrong_type(name, bad):
    call, works = TIMEOUT_CALLS[name]()
    _raises(TypeError, "timeout", lambda: call(bad))
    assert works()


@pytest.mark.parametrize("name", list(TIMEOUT_CALLS))
@pytest.mark.parametrize("bad", BAD_TIMEOUT_VALUES, ids=repr)
def test_timeout_out_of_range(name, bad):
    call, works = TIMEOUT_CALLS[name]()
    if name == "Mutex.acquire" and bad == -1:
        pytest.skip("threading.Lock's acquire(timeout=-1) means 'wait for ever'")
    _raises(ValueError, "timeout", lambda: call(bad))
    assert works()


def _core_timeout_error(bad):
    """What the core's parser raises for `bad` (timeout.pxi): type and message."""
    with pytest.raises((TypeError, ValueError)) as info:
        gocore.Chan(1).recv(timeout=bad)
    return type(info.value), str(info.value)


def _wait_idle(t):
    with gocore.testing.fake_clock() as clock:
        clock.wait_idle(timeout=t)


PYTHON_LAYER_TIMEOUTS = {
    "RateLimiter.acquire": lambda t: gocore.RateLimiter(1).acquire(1, timeout=t),
    "Pool.get": lambda t: gocore.Pool(object).get(timeout=t),
    "FakeClock.wait_idle": _wait_idle,
    "testing.verify_none": lambda t: gocore.testing.verify_none(timeout=t),
}


@pytest.mark.parametrize("name", list(PYTHON_LAYER_TIMEOUTS))
@pytest.mark.parametrize("bad", ["1", True, math.nan, -1], ids=repr)
def test_python_layer_timeouts_raise_the_cores_errors(name, bad):
    # One rule for the whole library: the same exception type and message.
    exc_type, msg = _core_timeout_error(bad)
    with pytest.raises(exc_type) as info:
        PYTHON_LAYER_TIMEOUTS[name](bad)
    assert type(info.value) is exc_type and str(info.value) == msg


@pytest.mark.parametrize("make", [lambda d: gocore.CircuitBreaker(reset_timeout=d),
                                  lambda d: gocore.AdaptiveBreaker(window=d)],
                         ids=["CircuitBreaker(reset_timeout=)", "AdaptiveBreaker(window=)"])
def test_breaker_durations_follow_the_duration_rule(make):
    import datetime
    import decimal
    for bad in ["1", True, None, 1j]:
        _raises(TypeError, "reset_timeout|window", lambda: make(bad))
    for bad in [math.nan, -1]:
        _raises(ValueError, "reset_timeout|window", lambda: make(bad))
    make(datetime.timedelta(seconds=2))   # accepted, as every duration in gocore
    make(decimal.Decimal("0.5"))


def test_timeout_beyond_a_float_means_forever():
    # The library's one rule: +inf, or an int too large for a float, waits
    # for ever (never an overflow into the past that fires at once).
    ch = gocore.Chan(1)
    ch.send(1, timeout=HUGE)
    assert ch.recv(timeout=HUGE) == 1
    assert gocore.WaitGroup().wait(HUGE) is True
    assert gocore.Semaphore(1).acquire(1, timeout=HUGE) is True
    got = []
    t = threading.Thread(target=lambda: got.append(gocore.select(ch.recv, timeout=HUGE)), daemon=True)
    t.start()
    ch.send("late")
    t.join(30)
    assert got == [(0, "late")]


def test_mutex_acquire_timeout_past_timeout_max_is_overflow():
    mu = gocore.Mutex()
    for big in (HUGE, 1e100, threading.TIMEOUT_MAX * 2):
        _raises(OverflowError, "timeout", lambda: mu.acquire(True, big))
    assert not mu.locked() and mu.acquire(timeout=math.inf) and (mu.release() or True)


@pytest.mark.parametrize("name", ["Chan.recv", "select", "WaitGroup.wait", "Semaphore.acquire"])
def test_zero_timeout_is_a_poll(name):
    call, works = TIMEOUT_CALLS[name]()
    try:
        r = call(0)
    except TimeoutError:
        r = None
    assert r in (None, False)
    assert works()


# ---- integers ----

def _int_calls():
    """name -> (names regex, make() -> (call(v), still_works()))"""
    def chan():
        return (lambda v: gocore.Chan(v)), (lambda: gocore.Chan(2).cap == 2)

    def semaphore():
        return (lambda v: gocore.Semaphore(v)), (lambda: gocore.Semaphore(2).try_acquire(2))

    def sem_acquire():
        sem = gocore.Semaphore(3)
        return (lambda v: sem.acquire(v, timeout=0.01)), (lambda: sem.try_acquire(3) and (sem.release(3) or True))

    def sem_try_acquire():
        sem = gocore.Semaphore(3)
        return (lambda v: sem.try_acquire(v)), (lambda: sem.try_acquire(3) and (sem.release(3) or True))

    def sem_release():
        sem = gocore.Semaphore(3)
        sem.acquire(3)
        return (lambda v: sem.release(v)), (lambda: sem.release(3) or sem.try_acquire(3))

    def wg_add():
        wg = gocore.WaitGroup()
        return (lambda v: wg.add(v)), (lambda: wg.wait(0) is True and (wg.add(1) or wg.done() or True))

    def atomic_int():
        return (lambda v: gocore.AtomicInt(v)), (lambda: gocore.AtomicInt(3).load() == 3)

    def atomic_add():
        a = gocore.AtomicInt(1)
        return (lambda v: a.add(v)), (lambda: a.load() == 1 and a.add(1) == 2)

    def atomic_store():
        a = gocore.AtomicInt(1)
        return (lambda v: a.store(v)), (lambda: a.load() == 1)

    def errgroup_limit():
        g = gocore.ErrGroup()
        return (lambda v: g.set_limit(v)), (lambda: g.set_limit(2) or g.try_go(lambda: None) and (g.wait() or True))

    def workerpool():
        return (lambda v: gocore.WorkerPool(v)), (lambda: gocore.WorkerPool(2).max_workers == 2)

    def pool_limit():
        return (lambda v: gocore.Pool(object, limit=v)), (lambda: gocore.Pool(object, limit=2).limit == 2)

    return {
        "Chan": ("capacity", chan),
        "Semaphore": ("size|n\\b|weight", semaphore),
        "Semaphore.acquire": ("weight|n\\b", sem_acquire),
        "Semaphore.try_acquire": ("weight|n\\b", sem_try_acquire),
        "Semaphore.release": ("weight|n\\b", sem_release),
        "WaitGroup.add": ("delta", wg_add),
        "AtomicInt": ("value", atomic_int),
        "AtomicInt.add": ("delta", atomic_add),
        "AtomicInt.store": ("value", atomic_store),
        "ErrGroup.set_limit": ("limit", errgroup_limit),
        "WorkerPool": ("max_workers", workerpool),
        "Pool": ("limit", pool_limit),
    }


INT_CALLS = _int_calls()


@pytest.mark.parametrize("name", list(INT_CALLS))
@pytest.mark.parametrize("bad", WRONG_INT_TYPES, ids=repr)
def test_int_argument_of_wrong_type(name, bad):
    names, make = INT_CALLS[name]
    call, works = make()
    _raises(TypeError, names, lambda: call(bad))
    assert works()


@pytest.mark.parametrize("name", [n for n in INT_CALLS if n != "Pool"])
def test_int_argument_too_large(name):
    # Pool's limit is a Python int compared in Python: any size means "that many".
    names, make = INT_CALLS[name]
    call, works = make()
    _raises((OverflowError, ValueError), names, lambda: call(HUGE))
    assert works()


def test_int_subclass_and_index_objects_are_ints():
    class Index:
        def __index__(self):
            return 3

    class MyInt(int):
        pass

    assert gocore.Chan(Index()).cap == 3
    assert gocore.Chan(MyInt(2)).cap == 2
    assert gocore.Semaphore(Index()).try_acquire(3)
    assert gocore.AtomicInt(MyInt(5)).add(Index()) == 8


# ---- callables, contexts, lockers ----

CALLABLE_TAKERS = {
    "go": gocore.go,
    "WaitGroup.go": lambda f: gocore.WaitGroup().go(f),
    "ErrGroup.go": lambda f: gocore.ErrGroup().go(f),
    "ErrGroup.try_go": lambda f: gocore.ErrGroup().try_go(f),
    "WorkerPool.go": lambda f: gocore.WorkerPool(1).go(f),
    "WorkerPool.map": lambda f: gocore.WorkerPool(1).map(f, [1]),
    "Once.do": lambda f: gocore.Once().do(f),
    "once_func": gocore.once_func,
    "once_value": gocore.once_value,
    "once_values": gocore.once_values,
    "context_after_func": lambda f: gocore.context_after_func(gocore.background(), f),
    "after_func": lambda f: gocore.after_func(1, f),
    "Pool(create)": gocore.Pool,
    "Pool(destroy)": lambda f: gocore.Pool(object, destroy=f),
    "set_panic_handler": gocore.set_panic_handler,
}


@pytest.mark.parametrize("name", list(CALLABLE_TAKERS))
@pytest.mark.parametrize("bad", [1, "f", b"f", object()], ids=repr)
def test_non_callable_is_type_error(name, bad):
    with pytest.raises(TypeError, match="callable"):
        CALLABLE_TAKERS[name](bad)


@pytest.mark.parametrize("name", [n for n in CALLABLE_TAKERS if n not in ("set_panic_handler", "Pool(destroy)")])
def test_none_callable_is_type_error(name):
    with pytest.raises(TypeError):
        CALLABLE_TAKERS[name](None)


def test_go_still_works_after_bad_calls():
    for bad in (None, 1, "x"):
        with pytest.raises(TypeError):
            gocore.go(bad)
    wg = gocore.WaitGroup()
    wg.go(lambda: None)
    assert wg.wait(10)


CONTEXT_TAKERS = {
    "with_cancel": gocore.with_cancel,
    "with_cancel_cause": gocore.with_cancel_cause,
    "with_timeout": lambda p: gocore.with_timeout(p, 1),
    "with_deadline": lambda p: gocore.with_deadline(p, 1),
    "with_value": lambda p: gocore.with_value(p, "k", 1),
    "without_cancel": gocore.without_cancel,
    "context_after_func": lambda p: gocore.context_after_func(p, lambda: None),
    "cause": gocore.cause,
    "ErrGroup.with_context": gocore.ErrGroup.with_context,
    "WorkerPool(ctx=)": lambda p: gocore.WorkerPool(1, ctx=p),
    "Semaphore.acquire(ctx=)": lambda p: gocore.Semaphore(1).acquire(1, ctx=p, timeout=1),
}


@pytest.mark.parametrize("name", list(CONTEXT_TAKERS))
@pytest.mark.parametrize("bad", [1, "ctx", object()], ids=repr)
def test_non_context_is_type_error(name, bad):
    with pytest.raises(TypeError, match="context|ctx|parent"):
        CONTEXT_TAKERS[name](bad)


@pytest.mark.parametrize("name", [n for n in CONTEXT_TAKERS if n not in ("WorkerPool(ctx=)", "Semaphore.acquire(ctx=)")])
def test_none_context_is_type_error(name):
    # (WorkerPool(ctx=None) and acquire(ctx=None) mean "no context".)
    with pytest.raises(TypeError):
        CONTEXT_TAKERS[name](None)


def test_cond_needs_a_locker():
    for bad in (None, 1, "mu", object()):
        with pytest.raises(TypeError, match="locker"):
            gocore.Cond(bad)


@pytest.mark.parametrize("bad", [None, [], {}, set()], ids=repr)
def test_context_key_must_be_hashable_and_not_none(bad):
    with pytest.raises(TypeError, match="key"):
        gocore.with_value(gocore.background(), bad, 1)


# ---- durations of timers ----

@pytest.mark.parametrize("make", [gocore.after, gocore.Timer, gocore.Ticker,
                                  lambda d: gocore.Timer(3600).reset(d),
                                  lambda d: gocore.after_func(d, lambda: None)],
                         ids=["after", "Timer", "Ticker", "Timer.reset", "after_func"])
@pytest.mark.parametrize("bad", ["1", b"1", 1j, [1], object(), math.nan], ids=repr)
def test_timer_durations(make, bad):
    with pytest.raises((TypeError, ValueError), match="duration|interval|seconds|NaN"):
        t = make(bad)
        if hasattr(t, "stop"):
            t.stop()


def test_ticker_interval_must_be_positive():
    for bad in (0, -1, -math.inf):
        with pytest.raises(ValueError, match="interval"):
            gocore.Ticker(bad)


# ---- junk select cases ----

class _RaisingRepr:
    def __repr__(self):
        raise RuntimeError("repr exploded")

    __str__ = __repr__


class _FakeChan:
    def recv(self):
        return 1

    def send(self, v):
        pass


def _nested(depth):
    t = (1,)
    for _ in range(depth):
        t = (t,)
    return t


JUNK_CASES = {
    "None": None, "int": 1, "str": "recv", "bare tuple": (), "1-tuple": (1,),
    "send without value": None, "send with two values": None, "recv with value": None,
    "close": None, "channel itself": None, "builtin": print, "lambda": lambda: 1,
    "foreign recv": _FakeChan().recv, "foreign send": (_FakeChan().send, 1),
    "raising repr": _RaisingRepr(), "raising repr in tuple": (_RaisingRepr(), 1),
    "nested 20000 deep": _nested(20_000), "list case": None,
}


def _junk(name, ch):
    special = {
        "send without value": (ch.send,),
        "send with two values": (ch.send, 1, 2),
        "recv with value": (ch.recv, 1),
        "close": ch.close,
        "channel itself": ch,
        "list case": [ch.send, 1],
    }
    return special.get(name, JUNK_CASES[name])


@pytest.mark.parametrize("name", list(JUNK_CASES))
def test_junk_select_case_is_type_error(name):
    ch = gocore.Chan(1)
    case = _junk(name, ch)
    with pytest.raises(TypeError, match="select case"):
        gocore.select(case, timeout=0)
    with pytest.raises(TypeError, match="select case 1"):
        gocore.select(ch.recv, case, timeout=0)
    # The channel is untouched and still works, also in a select.
    ch.send("v")
    assert gocore.select(ch.recv, timeout=1) == (0, "v")
    assert len(ch) == 0


def test_select_junk_keyword():
    ch = gocore.Chan(1)
    with pytest.raises(TypeError):
        gocore.select(ch.recv, timeout=0, bogus=1)
    with pytest.raises(TypeError, match="timeout"):
        gocore.select(ch.recv, timeout="1")
    ch.send(1)
    assert gocore.select(ch.recv) == (0, 1)


def test_select_with_many_duplicate_cases():
    ch = gocore.Chan(1)
    ch.send(7)
    i, v = gocore.select(*([ch.recv] * 1000))
    assert v == 7 and 0 <= i < 1000


# ---- misuse of state ----

def test_misuse_raises_and_keeps_the_object_working():
    mu = gocore.Mutex()
    with pytest.raises(RuntimeError):
        mu.unlock()
    assert mu.try_lock() and (mu.unlock() or True)
    rw = gocore.RWMutex()
    with pytest.raises(RuntimeError):
        rw.runlock()
    with pytest.raises(RuntimeError):
        rw.unlock()
    assert rw.try_lock() and (rw.unlock() or True)
    wg = gocore.WaitGroup()
    with pytest.raises(ValueError):
        wg.done()
    assert wg.wait(0) is True
    sem = gocore.Semaphore(1)
    with pytest.raises(ValueError):
        sem.release()
    assert sem.try_acquire() and (sem.release() or True)
    ch = gocore.Chan(1)
    ch.close()
    with pytest.raises(gocore.ClosedChannelError):
        ch.close()
    with pytest.raises(gocore.ClosedChannelError):
        ch.send(1)
    assert ch.recv_ok(timeout=0) == (None, False)
    pool = gocore.Pool(object)
    with pytest.raises(ValueError):
        pool.put(None)
    assert pool.get(timeout=1) is not None


@pytest.mark.parametrize("kind", ["RecvChan", "SendChan"])
def test_channel_views_cannot_be_built_directly(kind):
    cls = getattr(gocore, kind)
    with pytest.raises(TypeError):
        view = cls()
        # An inert view would at least be safe:
        view.cap
