"""Uses the public API the way users do; `mypy --strict` must accept it.

Never executed: tests/test_typing.py type-checks it against gocore's stubs.
"""
from __future__ import annotations

import sys

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
