"""Uses the public API the way users do; `mypy --strict` must accept it.

Never executed: tests/test_typing.py type-checks it against gocore's stubs.
`assert_type` pins what the stubs say a call returns, so a stub that loses
precision (an Any, a missing Optional) fails the check too.
"""
from __future__ import annotations

import sys
import datetime
import decimal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from typing import Literal

from typing_extensions import assert_type

import gocore


def sync_examples() -> int:
    mu = gocore.Mutex()
    with mu:
        pass
    got: bool = mu.acquire(timeout=0.5)
    if got:
        mu.release()
    rw = gocore.RWMutex()
    rw.rlock()
    rw.runlock()
    with rw.rlocker():
        pass
    cond = gocore.Cond(mu)
    with mu:
        cond.wait(timeout=0.01)
    once = gocore.Once()
    once.do(lambda: None)
    get_answer = gocore.once_value(lambda: 42)
    wg = gocore.WaitGroup()
    wg.go(print, "hello")
    wg.wait()
    sem = gocore.Semaphore(4)
    sem.acquire(2, timeout=1.0)
    sem.release(2)
    counter = gocore.AtomicInt()
    flag = gocore.AtomicBool()
    flag.store(True)
    ref: gocore.AtomicRef[list[int]] = gocore.AtomicRef([1])
    items: list[int] = ref.load()
    return counter.add(1) + get_answer() + len(items)


def channel_examples() -> int | None:
    ch: gocore.Chan[int] = gocore.Chan(8)
    ch.send(1)
    v, ok = ch.recv_ok(timeout=1.0)
    index, received = gocore.select(ch.recv, (ch.send, 2), gocore.default, timeout=0.1)
    out: gocore.SendChan[int] = ch.send_only()
    inp: gocore.RecvChan[int] = ch.recv_only()
    out.send(3)
    total = sum(x for x in [inp.recv()] if x is not None)
    timer = gocore.Timer(1.0)
    timer.stop()
    gocore.after(0.01).recv()
    ticker = gocore.Ticker(0.5)
    ticker.stop()
    return total + index if ok else v


def context_examples() -> None:
    ctx, cancel = gocore.with_timeout(gocore.background(), 1.0)
    ctx = gocore.with_value(ctx, "user", "ada")
    err = ctx.err()
    if err is not None:
        raise err
    stop = gocore.context_after_func(ctx, lambda: None)
    stop()
    cancel()
    print(gocore.cause(ctx), ctx.deadline(), ctx.value("user"))


def group_examples() -> list[int]:
    with gocore.ErrGroup() as g:
        g.go(print, "task")
    g2, ctx = gocore.ErrGroup.with_context(gocore.background())
    g2.set_limit(4)
    g2.wait()
    pool: gocore.Pool[bytearray] = gocore.Pool(lambda: bytearray(16), limit=4)
    with pool.borrow() as buf:
        buf[0] = 1
    with gocore.WorkerPool(4) as p:
        return p.map(lambda x: x * 2, range(10))


async def async_group_examples(urls: list[str]) -> None:
    async def fetch(url: str) -> bytes:
        return url.encode()
    gocore.go(fetch, "spawned as a task")
    async with gocore.ErrGroup() as g:
        g.go(fetch, urls[0])
        await g.ago(fetch, urls[-1])
    await g
    async with gocore.WorkerPool(2) as p:
        await p.ago(fetch, urls[0])
    await p
    ctx, cancel = gocore.with_timeout(gocore.background(), 1.0)
    async with gocore.cancel_on(ctx):
        await fetch(urls[0])
    cancel()


def executor_examples() -> list[int]:
    from concurrent.futures import ProcessPoolExecutor
    with ProcessPoolExecutor(2) as ex:
        g, ctx = gocore.ErrGroup.with_context(gocore.background(), executor=ex)
        g.go(abs, -1)
        g.wait()
        gocore.ErrGroup(executor=ex).wait()
        gocore.for_each(lambda emit: emit(1), abs, workers=2, executor=ex)
        return gocore.WorkerPool(2, executor=ex).map(abs, [-1, 2])


def goroutine_examples() -> int:
    gocore.go(print, "spawned")
    previous = gocore.set_panic_handler(None)
    gocore.set_panic_handler(previous)
    return gocore.num_goroutine()


def seeing_goroutines() -> None:
    infos: list[gocore.GoroutineInfo] = gocore.goroutines()
    for g in infos:
        gid: int = g.id
        where: str = g.created_at
        since: float | None = g.waiting_since
        frames = len(g.stack)
        print(gid, g.name, g.state, where, since, frames)
    gocore.dump_goroutines()
    gocore.dump_goroutines(sys.stdout)
    gocore.dump_on_signal()
    previous: bool = gocore.set_deadlock_detection(True)
    gocore.set_deadlock_detection(previous)
    gocore.testing.verify_none(timeout=0.5, ignore=["worker"])
    try:
        pass
    except gocore.DeadlockError as e:
        print(e)


def pattern_examples() -> int:
    sf = gocore.SingleFlight()
    value: int = sf.do("k", lambda: 1)
    shared_value, shared = sf.do_shared("k", len, "abc")
    result = sf.do_chan("k", lambda: 2).recv()
    if result is not None and result.error is None and result.shared:
        value += 1
    sf.forget("k")

    limiter = gocore.RateLimiter(10.0, burst=2)
    if limiter.allow():
        limiter.acquire(ctx=gocore.background(), timeout=1.0)
    r = limiter.reserve()
    delay: float = r.delay()
    r.cancel()
    with limiter:
        limiter.set_rate(5.0)
        limiter.set_burst(3)
    print(limiter.tokens(), delay, shared_value, shared)

    breaker = gocore.CircuitBreaker(failure_threshold=3, reset_timeout=1.0,
                                    on_state_change=lambda old, new: print(old, new))

    @breaker
    def fetch(x: int) -> int:
        return x

    ticket = breaker.allow()
    ticket.success()
    state: str = breaker.state
    adaptive = gocore.AdaptiveBreaker()
    total: int = adaptive.call(fetch, 1) + breaker.call(fetch, 2)
    try:
        adaptive.allow().failure()
    except gocore.BreakerOpenError:
        pass

    gocore.finish(lambda: None, lambda ctx: None)
    got = gocore.map_reduce(lambda emit: emit(1), lambda x, emit, cancel: emit(x),
                            lambda items, emit, cancel: emit(sum(items)), workers=2)
    gocore.for_each(lambda emit: emit(1), print, workers=2)
    squares = gocore.pipe(gocore.generate(range(3)), lambda x: x * x, workers=2)
    merged = gocore.fan_in(*gocore.fan_out(squares, 2, str))
    print(state, got, list(merged))
    return value + total


async def async_pattern_examples() -> int:
    sf = gocore.SingleFlight()

    async def load() -> int:
        return 1
    limiter = gocore.RateLimiter(100.0)
    await limiter.aacquire()
    async with limiter:
        pass
    breaker = gocore.CircuitBreaker()
    return await sf.ado("k", load) + await breaker.acall(load)


# ---- the rest of the surface, with the types the stubs promise ----

def sync_surface() -> None:
    mu = gocore.Mutex()
    mu.lock()
    assert_type(mu.locked(), bool)
    mu.unlock()
    if mu.try_lock():
        mu.unlock()
    assert_type(mu.acquire(True, datetime.timedelta(milliseconds=5)), bool)
    mu.release()
    rw = gocore.RWMutex()
    rw.lock()
    rw.unlock()
    if rw.try_lock():
        rw.unlock()
    if rw.try_rlock():
        rw.runlock()
    with rw:
        pass
    locker = rw.rlocker()
    locker.lock()
    locker.unlock()
    cond = gocore.Cond(mu)
    print(cond.l)
    cond.signal()
    cond.broadcast()
    with mu:
        assert_type(cond.wait(datetime.timedelta(seconds=1)), bool)
    once = gocore.Once()
    assert_type(once.done(), bool)
    setup: Callable[[], None] = gocore.once_func(lambda: print("once"))
    setup()
    pair = gocore.once_values(lambda: (1, "one"))
    assert_type(pair(), tuple[int, str])
    wg = gocore.WaitGroup()
    wg.add(2)
    wg.done()
    wg.done()
    assert_type(wg.wait(timeout=decimal.Decimal("0.5")), bool)
    sem = gocore.Semaphore(2)
    assert_type(sem.size, int)
    if sem.try_acquire():
        sem.release()
    with sem:
        pass


def atomic_surface() -> None:
    n = gocore.AtomicInt(5)
    assert_type(n.load(), int)
    n.store(1)
    assert_type(n.swap(2), int)
    assert_type(n.compare_and_swap(2, 3), bool)
    assert_type(n.and_(1), int)
    assert_type(n.or_(2), int)
    b = gocore.AtomicBool(True)
    assert_type(b.swap(False), bool)
    assert_type(b.compare_and_swap(False, True), bool)
    ref: gocore.AtomicRef[str] = gocore.AtomicRef("a")
    assert_type(ref.swap("b"), str)
    assert_type(ref.compare_and_swap("b", "c"), bool)


def channel_surface() -> None:
    ch: gocore.Chan[int] = gocore.Chan(4)
    assert_type(ch.cap, int)
    ch.send(1, timeout=datetime.timedelta(seconds=1))
    assert_type(next(ch), int)                     # next(ch) works on the channel...
    inp = ch.recv_only()
    assert_type(inp.recv_only(), gocore.RecvChan[int])
    assert_type(inp.cap, int)
    out = ch.send_only()
    assert_type(out.send_only(), gocore.SendChan[int])
    assert_type(out.cap, int)
    out.send(2)
    assert_type(next(inp), int)                    # ... and on its receiving view
    out.close()
    for v in inp:
        assert_type(v, int)
    assert_type(ch.recv(), int | None)
    try:
        ch.send(3)
    except gocore.ClosedChannelError:
        pass
    never = gocore.nilchan
    index, got = gocore.select(never.recv, gocore.default)
    print(index, got, len(never))
    tick = gocore.after(datetime.timedelta(milliseconds=10))
    assert_type(tick.recv(), float | None)
    timer = gocore.Timer(decimal.Decimal("0.1"))
    assert_type(timer.c, gocore.Chan[float])
    assert_type(timer.reset(0.2), bool)
    late = gocore.after_func(1.0, lambda: None)
    assert_type(late.c, None)                      # Go's AfterFunc timer has no channel
    assert_type(late.stop(), bool)
    late.reset(datetime.timedelta(seconds=2))
    ticker = gocore.Ticker(datetime.timedelta(seconds=1))
    assert_type(ticker.c.recv(), float | None)
    ticker.reset(0.5)
    ticker.stop()


def context_surface() -> None:
    root = gocore.todo()
    ctx, cancel = gocore.with_cancel(root)
    assert_type(ctx.done(), gocore.Chan[None])
    cancel()
    cctx, cancel_cause = gocore.with_cancel_cause(gocore.background())
    cancel_cause()                                 # the cause is optional ...
    cancel_cause(ValueError("why"))                # ... or given
    cancel_cause(cause=None)
    dctx, dcancel = gocore.with_deadline(cctx, 1e9)
    tctx, tcancel = gocore.with_timeout(dctx, datetime.timedelta(seconds=3))
    detached = gocore.without_cancel(tctx)
    assert_type(detached.deadline(), float | None)
    err = tctx.err()
    if isinstance(err, gocore.DeadlineExceeded):
        print("deadline", err)
    elif isinstance(err, gocore.Canceled):
        print("canceled", err)
    dcancel()
    tcancel()
    sem = gocore.Semaphore(1)
    sem.acquire(ctx=tctx)

    class Wrapped(gocore.Context):                 # a context of your own
        def __init__(self, inner: gocore.Context) -> None:
            self.inner = inner

        def done(self) -> gocore.Chan[None]:
            return self.inner.done()

    gocore.with_cancel(Wrapped(ctx))


def group_surface() -> None:
    g = gocore.ErrGroup()
    g.set_limit(2)
    assert_type(g.try_go(print, "x"), bool)
    g.wait()
    with ThreadPoolExecutor(2) as ex:
        g2, ctx = gocore.ErrGroup.with_context(gocore.background(), executor=ex)
        g2.go(print, ctx)
        g2.wait()
        with gocore.WorkerPool(2, executor=ex) as wp:
            wp.go(print, "on the executor")
    pool: gocore.Pool[list[int]] = gocore.Pool(list, destroy=print, limit=2, max_age=30.0)
    assert_type(pool.limit, int)
    item = pool.get(timeout=datetime.timedelta(seconds=1))
    assert_type(item, list[int])
    pool.put(item)
    pool.close()
    wp2 = gocore.WorkerPool(3, ctx=gocore.background())
    assert_type(wp2.max_workers, int)
    assert_type(wp2.ctx, gocore.Context | None)
    wp2.wait()


def goroutine_surface() -> None:
    previous = gocore.set_panic_handler(print)
    assert_type(previous, Callable[[BaseException], object] | None)
    gocore.set_panic_handler(previous)             # None restores the default
    try:
        gocore.WaitGroup().wait()
    except gocore.DeadlockError as exc:
        print(exc)


def pattern_surface() -> None:
    sf = gocore.SingleFlight()
    r = sf.do_chan("k", lambda: 1).recv()
    if r is not None:
        assert_type(r, gocore.Result)
        value, error, shared = r
        print(value, error, shared, r.value)
    limiter = gocore.RateLimiter(5.0, burst=2)
    assert_type(limiter.rate, float)
    assert_type(limiter.burst, int)
    res = limiter.reserve(2)
    assert_type(res, gocore.Reservation)
    assert_type(res.ok, bool)
    breaker = gocore.CircuitBreaker()
    ticket = breaker.allow()
    assert_type(ticket, gocore.Ticket)
    ticket.failure()
    assert_type(breaker.state, Literal["closed", "open", "half_open"])


async def async_examples() -> int:
    ch: gocore.Chan[int] = gocore.Chan(4)
    await ch.asend(1)
    v: int | None = await ch.arecv()
    w, ok = await ch.arecv_ok()
    await ch.send_only().asend(2)
    u = await ch.recv_only().arecv()
    ch.close()
    total = 0
    async for x in ch:
        total += x
    async for y in ch.recv_only():
        total += y
    i, got = await gocore.aselect(ch.arecv, (ch.asend, 3), gocore.default)
    mu = gocore.Mutex()
    await mu.alock()
    mu.unlock()
    async with mu:
        pass
    rw = gocore.RWMutex()
    await rw.alock()
    rw.unlock()
    await rw.arlock()
    rw.runlock()
    async with rw:
        pass
    async with rw.rlocker():
        pass
    sem = gocore.Semaphore(2)
    await sem.aacquire(1, ctx=None)
    sem.release()
    async with sem:
        pass
    wg = gocore.WaitGroup()
    await wg
    pool: gocore.Pool[bytearray] = gocore.Pool(lambda: bytearray(1))
    buf = await pool.aget()
    pool.put(buf)
    print(v, w, ok, u, i, got)
    return total
