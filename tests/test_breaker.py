"""CircuitBreaker (sony/gobreaker's cases) and AdaptiveBreaker (go-zero
core/breaker's), on a clock the tests move by hand through gocore._clock."""
import asyncio
import inspect
import threading

import pytest

import gocore
from helpers import fast_switch  # noqa: F401
from gocore import AdaptiveBreaker, BreakerOpenError, CircuitBreaker
from gocore import _clock


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(_clock, "now", lambda: now[0])

    class Clock:
        def advance(self, seconds):
            now[0] += seconds
    return Clock()


class Boom(Exception):
    pass


def succeed(cb):
    return cb.call(lambda: "ok")


def fail(cb):
    def f():
        raise Boom("fail")
    with pytest.raises((Boom, BreakerOpenError)) as info:
        cb.call(f)
    return info.value


def test_error_type():
    assert issubclass(BreakerOpenError, RuntimeError)
    assert gocore.BreakerOpenError is BreakerOpenError


def test_default_breaker_cycle(clock):
    # gobreaker's TestDefaultCircuitBreaker, with the seed's threshold rule.
    cb = CircuitBreaker()
    assert cb.state == "closed"
    for _ in range(4):
        assert isinstance(fail(cb), Boom)
    assert cb.state == "closed"
    assert succeed(cb) == "ok"                 # a success resets the count
    for _ in range(4):
        fail(cb)
    assert cb.state == "closed"
    assert isinstance(fail(cb), Boom)          # 5 consecutive failures
    assert cb.state == "open"

    calls = []
    with pytest.raises(BreakerOpenError):
        cb.call(calls.append, 1)
    assert calls == []                          # refused without calling fn
    assert isinstance(fail(cb), BreakerOpenError)

    clock.advance(59)
    assert cb.state == "open"
    clock.advance(1)
    assert cb.state == "half_open"             # no call needed to move it

    assert isinstance(fail(cb), Boom)           # half-open -> open
    assert cb.state == "open"
    clock.advance(60)
    assert cb.state == "half_open"
    assert succeed(cb) == "ok"                  # half-open -> closed
    assert cb.state == "closed"


def test_half_open_admits_max_calls(clock):
    cb = CircuitBreaker(failure_threshold=1, reset_timeout=10, half_open_max_calls=2)
    fail(cb)
    clock.advance(10)
    t1, t2 = cb.allow(), cb.allow()
    with pytest.raises(BreakerOpenError):       # over half_open_max_calls
        cb.allow()
    assert cb.state == "half_open"
    t1.success()
    assert cb.state == "closed"
    t2.failure()                                # from the previous generation: ignored
    assert cb.state == "closed"


def test_half_open_failure_reopens_and_restarts_timeout(clock):
    cb = CircuitBreaker(failure_threshold=2, reset_timeout=5)
    fail(cb), fail(cb)
    clock.advance(5)
    t = cb.allow()
    clock.advance(3)
    t.failure()
    assert cb.state == "open"
    clock.advance(4)
    assert cb.state == "open"                   # the timeout counts from the re-opening
    clock.advance(1)
    assert cb.state == "half_open"


def test_on_state_change_order(clock):
    log = []
    cb = CircuitBreaker(failure_threshold=2, reset_timeout=30,
                        on_state_change=lambda old, new: log.append((old, new)))
    fail(cb), fail(cb)
    assert log == [("closed", "open")]
    clock.advance(30)
    assert cb.state == "half_open"
    assert log[-1] == ("open", "half_open")
    succeed(cb)
    assert log == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]


def test_on_state_change_may_read_state(clock):
    seen = []
    cb = CircuitBreaker(failure_threshold=1, reset_timeout=1)
    cb._on_state_change = lambda old, new: seen.append((old, new, cb.state))
    fail(cb)
    assert seen == [("closed", "open", "open")]


def test_on_state_change_exception_goes_to_panic_handler(clock):
    got = []
    prev = gocore.set_panic_handler(got.append)
    try:
        err = ValueError("cb")

        def bad(old, new):
            raise err
        cb = CircuitBreaker(failure_threshold=1, on_state_change=bad)
        assert isinstance(fail(cb), Boom)       # the call's own exception, not the callback's
        assert got == [err]
    finally:
        gocore.set_panic_handler(prev)


def test_generation_ignores_stale_outcomes(clock):
    # gobreaker's TestGeneration: a call admitted before a transition does not count after it.
    cb = CircuitBreaker(failure_threshold=1, reset_timeout=10)
    slow = cb.allow()
    fail(cb)
    assert cb.state == "open"
    clock.advance(10)
    assert cb.state == "half_open"
    slow.success()                              # from the closed generation
    assert cb.state == "half_open"


def test_is_failure(clock):
    # gobreaker's TestCustomIsSuccessful.
    cb = CircuitBreaker(failure_threshold=2, is_failure=lambda exc: not isinstance(exc, KeyError))

    def key_error():
        raise KeyError("x")
    for _ in range(5):
        with pytest.raises(KeyError):           # still propagates
            cb.call(key_error)
    assert cb.state == "closed"
    fail(cb)
    with pytest.raises(KeyError):
        cb.call(key_error)                      # a success: resets the count
    fail(cb)
    assert cb.state == "closed"
    fail(cb)
    assert cb.state == "open"


def test_non_failure_closes_half_open(clock):
    cb = CircuitBreaker(failure_threshold=1, reset_timeout=1, is_failure=lambda e: False)
    cb2 = CircuitBreaker(failure_threshold=1, reset_timeout=1)
    fail(cb2)
    clock.advance(1)
    with pytest.raises(KeyboardInterrupt):      # not an Exception: not a failure by default
        cb2.call(_raise, KeyboardInterrupt())
    assert cb2.state == "closed"
    assert cb.state == "closed"


def _raise(exc):
    raise exc


def test_exception_propagates_same_object():
    cb = CircuitBreaker()
    err = Boom()
    with pytest.raises(Boom) as info:
        cb.call(_raise, err)
    assert info.value is err


def test_tickets(clock):
    cb = CircuitBreaker(failure_threshold=2)
    cb.allow().failure()
    cb.allow().success()
    cb.allow().failure()
    assert cb.state == "closed"
    t = cb.allow()
    t.failure()
    assert cb.state == "open"
    with pytest.raises(RuntimeError):
        t.success()                              # reported once only
    with pytest.raises(BreakerOpenError):
        cb.allow()


def test_decorator_function_and_coroutine(clock):
    cb = CircuitBreaker(failure_threshold=1)

    @cb
    def add(a, b):
        return a + b

    @cb
    async def aadd(a, b):
        await asyncio.sleep(0)
        return a + b

    assert add.__name__ == "add" and add(1, 2) == 3
    assert inspect.iscoroutinefunction(aadd)
    assert asyncio.run(aadd(2, 3)) == 5

    @cb
    async def afail():
        raise Boom()
    with pytest.raises(Boom):
        asyncio.run(afail())
    assert cb.state == "open"
    with pytest.raises(BreakerOpenError):
        add(1, 1)
    with pytest.raises(BreakerOpenError):
        asyncio.run(aadd(1, 1))


def test_acall(clock):
    cb = CircuitBreaker(failure_threshold=1)

    async def ok(x):
        return x

    async def main():
        assert await cb.acall(ok, 5) == 5
        with pytest.raises(Boom):
            await cb.acall(_araise, Boom())
        with pytest.raises(BreakerOpenError):
            await cb.acall(ok, 1)
    asyncio.run(main())


async def _araise(exc):
    raise exc


def test_validation():
    with pytest.raises(ValueError):
        CircuitBreaker(failure_threshold=0)
    with pytest.raises(ValueError):
        CircuitBreaker(reset_timeout=-1)
    with pytest.raises(ValueError):
        CircuitBreaker(half_open_max_calls=0)
    with pytest.raises(TypeError):
        CircuitBreaker(is_failure=3)
    with pytest.raises(TypeError):
        CircuitBreaker(on_state_change="x")
    with pytest.raises(TypeError):
        CircuitBreaker()(42)


def test_breaker_in_parallel(race, fast_switch):
    # gobreaker's TestCircuitBreakerInParallel: 8 threads x 2000 successes stay closed.
    cb = CircuitBreaker()
    n = gocore.AtomicInt()
    race(8, lambda i: [cb.call(n.add, 1) for _ in range(2000)])
    assert n.load() == 16000 and cb.state == "closed"


def test_half_open_trials_exact_under_threads(race, clock):
    # Many threads hit a half-open breaker: exactly half_open_max_calls get in.
    cb = CircuitBreaker(failure_threshold=1, reset_timeout=1, half_open_max_calls=3)
    fail(cb)
    clock.advance(1)
    admitted = []
    refused = gocore.AtomicInt()

    def body(i):
        try:
            admitted.append(cb.allow())
        except BreakerOpenError:
            refused.add(1)
    race(12, body)
    assert len(admitted) == 3 and refused.load() == 9
    for t in admitted:
        t.success()
    assert cb.state == "closed"


def test_threads_and_tasks_share_a_breaker(clock):
    cb = CircuitBreaker(failure_threshold=10**9)
    count = gocore.AtomicInt()

    async def work():
        for _ in range(200):
            await cb.acall(_aadd, count)

    def thread_side():
        for _ in range(200):
            cb.call(count.add, 1)
    ts = [threading.Thread(target=thread_side) for _ in range(2)]
    for t in ts:
        t.start()

    async def main():
        await asyncio.gather(work(), work())
    asyncio.run(main())
    for t in ts:
        t.join(30)
    assert count.load() == 800


async def _aadd(counter):
    counter.add(1)


# ---- AdaptiveBreaker (go-zero core/breaker) ----

def adaptive(clock, k=5.0):
    b = AdaptiveBreaker(k=k, window=0.1, buckets=10)   # go-zero's test window: 10 x 10 ms
    return b


def mark(b, successes=0, failures=0):
    for _ in range(successes):
        b._report(None, False)
    for _ in range(failures):
        b._report(None, True)


def test_adaptive_close(clock):
    b = adaptive(clock)
    mark(b, successes=80)
    assert b._reject_probability() == 0
    mark(b, successes=120)
    b.allow()


def test_adaptive_open(clock):
    b = adaptive(clock)
    mark(b, successes=10)
    mark(b, failures=100000)
    clock.advance(0.02)
    p = b._reject_probability()
    assert p == pytest.approx((100010 - 5 * 10) / 100011)
    b._random = lambda: p - 1e-9
    ran = []
    with pytest.raises(BreakerOpenError):
        b.call(ran.append, 1)
    assert ran == []
    assert b._history() == (10, 100011)      # the rejected call counts as a request


def test_adaptive_probability_formula(clock):
    b = AdaptiveBreaker(k=1.5)
    mark(b, successes=10, failures=30)
    assert b._reject_probability() == pytest.approx((40 - 1.5 * 10) / 41)
    b._random = lambda: 0.0
    with pytest.raises(BreakerOpenError):
        b.allow()
    assert b._reject_probability() == pytest.approx((41 - 1.5 * 10) / 42)
    b._random = lambda: 0.999999
    b.allow().success()
    assert b._history() == (11, 42)


def test_adaptive_history_rolls(clock):
    # go-zero's TestGoogleBreakerHistory, on the hand clock.
    b = adaptive(clock)
    for _ in range(10):
        b.allow().success()
        clock.advance(0.005)
    assert b._history() == (10, 10)
    b = adaptive(clock)
    for _ in range(5):
        b._report(None, True)
        clock.advance(0.005)
    for _ in range(5):
        b._report(None, False)
        clock.advance(0.005)
    assert b._history() == (5, 10)
    clock.advance(0.1)                               # the whole window later
    assert b._history() == (0, 0)


def test_adaptive_recover(clock):
    # go-zero's TestGoogleBreakerRecover: old failures leave the window.
    b = AdaptiveBreaker(k=1.5, window=0.2, buckets=20)
    mark(b, failures=1000)
    assert b._reject_probability() > 0.9
    clock.advance(0.2)
    assert b._reject_probability() == 0
    b.call(lambda: None)


def test_adaptive_partial_roll(clock):
    b = AdaptiveBreaker(k=1.0, window=1.0, buckets=4)
    mark(b, failures=4)                               # bucket 0
    clock.advance(0.5)
    mark(b, successes=2)                              # bucket 2
    assert b._history() == (2, 6)
    clock.advance(0.5)                                # bucket 0 leaves
    assert b._history() == (2, 2)


def test_adaptive_exception_counts_as_failure(clock):
    b = adaptive(clock)
    b._random = lambda: 1.0                          # never reject: count exactly
    err = Boom()
    with pytest.raises(Boom) as info:
        b.call(_raise, err)
    assert info.value is err
    assert b._history() == (0, 1)
    assert asyncio.run(b.acall(_aok)) == 1
    assert b._history() == (1, 2)

    @b
    def f():
        return 3
    assert f() == 3


async def _aok():
    return 1


def test_adaptive_validation():
    with pytest.raises(ValueError):
        AdaptiveBreaker(k=0)
    with pytest.raises(ValueError):
        AdaptiveBreaker(window=0)
    with pytest.raises(ValueError):
        AdaptiveBreaker(buckets=0)


def test_adaptive_parallel_exact(race, clock):
    b = AdaptiveBreaker(k=10**6)                      # never rejects
    race(8, lambda i: [b.call(int) for _ in range(1000)])
    assert b._history() == (8000, 8000)
