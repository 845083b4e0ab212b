"""RateLimiter: the cases of x/time/rate's rate_test.go driven with exact times
(the *_at twins), then the real-clock surface, threads and asyncio.

Go's tests use 10 tokens/s and d = 100 ms; here rate 8 and d = 1/8 s, so
every time and token count is exact in binary floating point."""
import asyncio
import math
import threading
import time

import pytest

import gocore
from helpers import fast_switch  # noqa: F401
from gocore.ratelimit import RateLimiter

D = 0.125
T0 = 0.0
T = [T0 + i * D for i in range(10)]
R = 8  # tokens per second: one per D


def run_allows(lim, allows):
    for step, (t, toks, n, ok) in enumerate(allows):
        assert lim._tokens_at(t) == toks, f"step {step}"
        assert lim._allow_at(t, n) is ok, f"step {step}"


def reserve(lim, t, n, act, ok, max_wait=math.inf):
    r = lim._reserve_at(t, n, max_wait)
    assert r.ok is ok
    if ok:
        assert r._time_to_act == act
    return r


def test_burst1():
    run_allows(RateLimiter(R, 1), [
        (T[0], 1, 1, True), (T[0], 0, 1, False), (T[0], 0, 1, False),
        (T[1], 1, 1, True), (T[1], 0, 1, False), (T[1], 0, 1, False),
        (T[2], 1, 2, False), (T[2], 1, 1, True), (T[2], 0, 1, False),
    ])


def test_burst3():
    run_allows(RateLimiter(R, 3), [
        (T[0], 3, 2, True), (T[0], 1, 2, False), (T[0], 1, 1, True), (T[0], 0, 1, False),
        (T[1], 1, 4, False), (T[2], 2, 1, True), (T[3], 2, 1, True), (T[4], 2, 1, True),
        (T[4], 1, 1, True), (T[4], 0, 1, False), (T[4], 0, 1, False),
        (T[9], 3, 3, True), (T[9], 0, 0, True),
    ])


def test_jump_backwards():
    run_allows(RateLimiter(R, 3), [
        (T[1], 3, 1, True), (T[0], 2, 1, True), (T[0], 1, 1, True), (T[0], 0, 1, False),
        (T[0], 0, 1, False), (T[1], 1, 1, True), (T[1], 0, 1, False), (T[1], 0, 1, False),
        (T[2], 1, 1, True), (T[2], 0, 1, False), (T[2], 0, 1, False),
    ])


def run_script(lim, steps):
    """Go's reservation tests as data: ("reserve", t, n, act, ok[, max_wait])
    checks one reservation (kept, numbered from 0, for "cancel"),
    ("cancel", i, t) gives reservation i back at t, ("allow", t, toks, n, ok)
    is a run_allows step, ("set", t, rate, burst) changes the limiter (None:
    unchanged) and ("tokens", t, toks) checks the bucket."""
    kept = []
    for step in steps:
        op, args = step[0], step[1:]
        if op == "reserve":
            kept.append(reserve(lim, *args[:4], **({"max_wait": args[4]} if len(args) > 4 else {})))
        elif op == "cancel":
            lim._cancel_at(kept[args[0]], args[1])
        elif op == "allow":
            run_allows(lim, [args])
        elif op == "set":
            lim._set_at(*args)
        else:
            assert op == "tokens"
            assert lim._tokens_at(args[0]) == args[1]


# name -> (rate, burst, steps); rate_test.go's reservation cases, a few more.
RESERVE_SCRIPTS = {
    "simple_reserve": (R, 2, [
        ("reserve", T[0], 2, T[0], True), ("reserve", T[0], 2, T[2], True),
        ("reserve", T[3], 2, T[4], True)]),
    "mix": (R, 2, [
        ("reserve", T[0], 3, T[1], False),              # n > burst
        ("reserve", T[0], 2, T[0], True), ("allow", T[1], 1, 2, False),
        ("reserve", T[1], 2, T[2], True),
        ("allow", T[1], -1, 1, False),                  # in debt
        ("allow", T[3], 1, 1, True)]),
    "cancel_invalid": (R, 2, [
        ("reserve", T[0], 2, T[0], True), ("reserve", T[0], 3, T[3], False),
        ("cancel", 1, T[0]), ("reserve", T[0], 2, T[2], True)]),
    "cancel_last": (R, 2, [
        ("reserve", T[0], 2, T[0], True), ("reserve", T[0], 2, T[2], True),
        ("cancel", 1, T[1]), ("reserve", T[1], 2, T[2], True)]),
    "cancel_too_late": (R, 2, [
        ("reserve", T[0], 2, T[0], True), ("reserve", T[0], 2, T[2], True),
        ("cancel", 1, T[3]), ("reserve", T[3], 2, T[4], True)]),
    "cancel_0_tokens": (R, 2, [
        ("reserve", T[0], 2, T[0], True), ("reserve", T[0], 1, T[1], True),
        ("reserve", T[0], 1, T[2], True), ("cancel", 1, T[0]),
        ("reserve", T[0], 1, T[3], True)]),
    "cancel_1_token": (R, 2, [
        ("reserve", T[0], 2, T[0], True), ("reserve", T[0], 2, T[2], True),
        ("reserve", T[0], 1, T[3], True), ("cancel", 1, T[2]),
        ("reserve", T[2], 2, T[4], True)]),
    "cancel_multi": (R, 4, [
        ("reserve", T[0], 4, T[0], True), ("reserve", T[0], 3, T[3], True),
        ("reserve", T[0], 1, T[4], True), ("reserve", T[0], 1, T[5], True),
        ("cancel", 3, T[1]), ("cancel", 1, T[1]), ("reserve", T[1], 3, T[5], True)]),
    "cancel_twice_gives_back_once": (R, 2, [
        ("reserve", T[0], 2, T[0], True), ("reserve", T[0], 2, T[2], True),
        ("cancel", 1, T[1]), ("cancel", 1, T[1]), ("tokens", T[1], 1)]),
    "reserve_jump_back": (R, 2, [
        ("reserve", T[1], 2, T[1], True), ("reserve", T[0], 1, T[1], True),
        ("reserve", T[2], 2, T[3], True), ("reserve", T[0], 3, None, False),
        ("reserve", T[2], 1, T[4], True), ("reserve", T[0], 2, None, False, D),
        ("reserve", T[2], 1, T[5], True)]),
    "reserve_jump_back_cancel": (R, 2, [
        ("reserve", T[1], 2, T[1], True), ("reserve", T[1], 2, T[3], True),
        ("reserve", T[1], 1, T[4], True), ("cancel", 1, T[0]),
        ("reserve", T[1], 2, T[4], True)]),
    "reserve_set_limit": (R / 2, 2, [
        ("reserve", T[0], 2, T[0], True), ("reserve", T[0], 2, T[4], True),
        ("set", T[2], R, None), ("reserve", T[2], 1, T[4], True)]),
    "reserve_set_burst": (R / 2, 2, [
        ("reserve", T[0], 2, T[0], True), ("reserve", T[0], 2, T[4], True),
        ("set", T[3], None, 4), ("reserve", T[0], 4, T[9], True)]),
    "reserve_set_limit_cancel": (R / 2, 2, [
        ("reserve", T[0], 2, T[0], True), ("reserve", T[0], 2, T[4], True),
        ("set", T[2], R, None), ("cancel", 1, T[2]), ("reserve", T[2], 2, T[3], True)]),
    "reserve_max": (R, 2, [
        ("reserve", T[0], 2, T[0], True, D), ("reserve", T[0], 1, T[1], True, D),
        ("reserve", T[0], 1, T[2], False, D)]),
}


@pytest.mark.parametrize("name", list(RESERVE_SCRIPTS))
def test_reservations(name):
    rate, burst, steps = RESERVE_SCRIPTS[name]
    run_script(RateLimiter(rate, burst), steps)


def test_zero_limit_and_tiny_limit():
    for rate in (0, 1e-10):
        lim = RateLimiter(rate, 1)
        assert lim.allow()
        assert not lim.allow()


def test_set_after_zero_limit():
    lim = RateLimiter(0, 1)
    assert lim.allow() and not lim.allow()
    lim._set_at(T[0], R, None)
    assert lim._reserve_at(T[0], 1, math.inf)._time_to_act == T[1]


def test_long_running_qps_exact():
    # Go's TestLongRunningQPS, on an exact clock: every 1/40 s for 5 s.
    lim = RateLimiter(R, 4)
    ok = sum(lim._allow_at(i / 64, 1) for i in range(64 * 5))
    assert ok == 4 + R * 5 - 1 or ok == 4 + R * 5


# ---- the real-clock surface ----

def test_starts_full_and_tokens():
    lim = RateLimiter(1, burst=3)
    assert lim.tokens() == 3 and isinstance(lim.tokens(), float)
    assert lim.allow(3)
    assert not lim.allow()
    assert 0 <= lim.tokens() < 1
    assert lim.rate == 1 and lim.burst == 3


def test_inf_rate_is_unlimited():
    lim = RateLimiter(math.inf, 0)
    assert all(lim.allow() for _ in range(1000))
    lim.acquire(5)                       # n > burst is fine without a limit
    r = lim.reserve(10)
    assert r.ok and r.delay() == 0
    r.cancel()
    assert lim.tokens() == 0


def test_validation():
    with pytest.raises(ValueError):
        RateLimiter(-1)
    with pytest.raises(ValueError):
        RateLimiter(float("nan"))
    with pytest.raises(ValueError):
        RateLimiter(1, -1)
    with pytest.raises(TypeError):
        RateLimiter("1")
    with pytest.raises(TypeError):
        RateLimiter(1, 1.5)
    lim = RateLimiter(1, 2)
    with pytest.raises(ValueError, match="burst"):
        lim.acquire(3)
    with pytest.raises(ValueError):
        lim.allow(-1)
    with pytest.raises(ValueError):
        lim.set_rate(-2)
    with pytest.raises(ValueError):
        lim.set_burst(-2)
    assert lim.tokens() == 2              # failed calls changed nothing


def test_reserve_not_ok_when_over_burst():
    lim = RateLimiter(10, 2)
    r = lim.reserve(3)
    assert not r.ok and r.delay() == math.inf
    r.cancel()
    assert lim.tokens() == 2


def test_reserve_delay_and_cancel():
    lim = RateLimiter(10, 1)
    assert lim.allow()
    r = lim.reserve()
    assert r.ok and 0 < r.delay() <= 0.1
    assert lim.tokens() < -0.5           # in debt to the reservation
    r.cancel()
    assert lim.tokens() > -0.5           # the token came back


def test_acquire_waits():
    lim = RateLimiter(50, 1)
    lim.acquire()
    start = time.monotonic()
    lim.acquire()
    assert time.monotonic() - start > 0.01
    with lim:
        pass


def test_acquire_fail_fast_timeout():
    lim = RateLimiter(1, 1)
    lim.acquire()
    start = time.monotonic()
    with pytest.raises(TimeoutError) as info:
        lim.acquire(timeout=0.1)
    assert not isinstance(info.value, gocore.DeadlineExceeded)
    assert time.monotonic() - start < 0.5      # did not wait the 0.1 s out... nor a second
    assert lim.tokens() < 0.5                   # nothing reserved


def test_acquire_fail_fast_ctx_deadline():
    lim = RateLimiter(1, 1)
    lim.acquire()
    ctx, cancel = gocore.with_timeout(gocore.background(), 0.2)
    try:
        with pytest.raises(gocore.DeadlineExceeded):
            lim.acquire(ctx=ctx)
        assert ctx.err() is None              # raised before the deadline: no waiting
    finally:
        cancel()


def test_acquire_ctx_already_done():
    lim = RateLimiter(10, 1)
    ctx, cancel = gocore.with_cancel(gocore.background())
    cancel()
    with pytest.raises(gocore.Canceled):
        lim.acquire(ctx=ctx)
    assert lim.tokens() == 1                  # even with a token free


def test_acquire_cancelled_while_waiting_returns_reservation():
    # Go's TestWaitCancel.
    lim = RateLimiter(4, 3)
    lim.acquire(2)
    ctx, cancel = gocore.with_cancel(gocore.background())
    gocore.after_func(0.05, cancel)
    with pytest.raises(gocore.Canceled):
        lim.acquire(3, ctx=ctx)              # needs 0.5 s
    assert lim.tokens() >= 1                  # the 3 tokens came back
    lim.acquire(1, timeout=0)                 # acts now


def test_set_rate_and_burst():
    lim = RateLimiter(0, 1)
    assert lim.allow() and not lim.allow()
    lim.set_rate(100)
    lim.acquire(timeout=1)
    lim.set_burst(5)
    assert lim.burst == 5


def test_acquire_fifo_and_exact_count(fast_switch, race):
    # N threads each take M tokens; the limiter hands out no more than the
    # bucket and the rate allow, and every acquire returns.
    rate, burst, n, m = 2000.0, 10, 4, 50
    lim = RateLimiter(rate, burst)
    got = gocore.AtomicInt()
    start = time.monotonic()

    def take(i):
        for _ in range(m):
            lim.acquire()
            got.add(1)

    race(n, take)
    elapsed = time.monotonic() - start
    assert got.load() == n * m
    assert n * m <= burst + rate * elapsed + 1


def test_acquire_ctx_cancel_stress():
    # Waiters that give up return their tokens: after everybody has left,
    # the bucket refills as if they never came.
    lim = RateLimiter(5, 5)
    assert lim.allow(5)
    ctx, cancel = gocore.with_cancel(gocore.background())
    errors = []

    def wait():
        try:
            lim.acquire(ctx=ctx)
        except gocore.Canceled as exc:
            errors.append(exc)
    threads = [threading.Thread(target=wait) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.05)
    cancel()
    for t in threads:
        t.join(10)
    assert len(errors) == 8
    # Each cancelled reservation gave back what no later one counted on
    # (x/time/rate's rule): never more than was taken.  The one reserved
    # last always gets its token back, so the debt is below 8.
    assert -8 < lim.tokens() <= 0.5


# ---- asyncio ----

def test_aacquire_and_async_with():
    lim = RateLimiter(100, 1)

    async def main():
        await lim.aacquire()
        start = time.monotonic()
        async with lim:
            pass
        return time.monotonic() - start
    assert asyncio.run(main()) > 0.001


def test_aacquire_cancelled_returns_reservation():
    lim = RateLimiter(1, 1)

    async def main():
        await lim.aacquire()
        task = asyncio.ensure_future(lim.aacquire())
        await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    asyncio.run(main())
    assert lim.tokens() < 0.5 and lim.tokens() > -0.5  # the debt was returned


def test_aacquire_ctx():
    lim = RateLimiter(1, 1)
    ctx, cancel = gocore.with_cancel(gocore.background())

    async def main():
        await lim.aacquire(ctx=ctx)
        gocore.after_func(0.02, cancel)
        with pytest.raises(gocore.Canceled):
            await lim.aacquire(ctx=ctx)
        with pytest.raises(ValueError):
            await lim.aacquire(2)
    asyncio.run(main())


def test_threads_and_tasks_share_a_limiter():
    lim = RateLimiter(1000, 5)
    got = gocore.AtomicInt()

    def thread_side():
        for _ in range(20):
            lim.acquire()
            got.add(1)

    async def task_side():
        for _ in range(20):
            await lim.aacquire()
            got.add(1)

    async def main():
        await asyncio.gather(*(task_side() for _ in range(3)))
    ts = [threading.Thread(target=thread_side) for _ in range(2)]
    for t in ts:
        t.start()
    asyncio.run(main())
    for t in ts:
        t.join(30)
    assert got.load() == 100


def test_allow_exact_under_threads_on_a_frozen_clock(race, fast_switch, monkeypatch):
    # With time standing still, exactly `burst` of all the threads' allow()
    # calls succeed; each tick of 1/rate seconds then grants exactly one more.
    now = [5000.0]
    monkeypatch.setattr(gocore._clock, "now", lambda: now[0])
    lim = RateLimiter(R, 25)
    granted = gocore.AtomicInt()

    def hammer(i):
        for _ in range(2000):
            if lim.allow():
                granted.add(1)
    race(8, hammer)
    assert granted.load() == 25
    for tick in range(1, 6):
        now[0] += D
        race(8, hammer)
        assert granted.load() == 25 + tick
    assert lim.tokens() == 0


def test_reserve_fifo_under_threads_on_a_frozen_clock(race, monkeypatch):
    # Concurrent reservations are dated one behind another: the times to act
    # are exactly burst zeros, then one per 1/rate, with no gaps or repeats.
    now = [7000.0]
    monkeypatch.setattr(gocore._clock, "now", lambda: now[0])
    lim = RateLimiter(R, 4)
    acts = []
    lock = threading.Lock()

    def body(i):
        for _ in range(50):
            r = lim.reserve()
            with lock:
                acts.append(r.delay())
    race(6, body)
    acts.sort()
    assert acts[:4] == [0.0] * 4
    assert acts[4:] == [k * D for k in range(1, len(acts) - 3)]
