"""asyncio benchmarks: the awaitable twins beside asyncio's own primitives and
the mixed thread/async queues (janus, culsans, aiologic)."""
import asyncio
import queue
import threading

import pytest
from benchutil import compare

import gocore

N_LOOP = 1000          # operations per timed call on one loop
N_PINGPONG = 5000      # round trips per timed call
N_STREAM = 100_000     # items per thread <-> task run
N_BRIDGE = 5000        # thread -> task -> thread round trips


@pytest.fixture
def loop():
    lp = asyncio.new_event_loop()
    yield lp
    lp.close()


# ---- one task: Chan(1024) asend+arecv vs asyncio.Queue(1024) put+get ----
def test_async_send_recv_gocore(benchmark, loop):
    compare(benchmark, "Chan(1024) asend+arecv, 1 task", "gocore", per=N_LOOP)
    ch = gocore.Chan(1024)

    async def body():
        for i in range(N_LOOP):
            await ch.asend(i)
            await ch.arecv()
    benchmark(lambda: loop.run_until_complete(body()))


def test_async_send_recv_asyncio_queue(benchmark, loop):
    compare(benchmark, "Chan(1024) asend+arecv, 1 task", "asyncio.Queue(1024)", baseline=True, per=N_LOOP)
    q = asyncio.Queue(1024)

    async def body():
        for i in range(N_LOOP):
            await q.put(i)
            await q.get()
    benchmark(lambda: loop.run_until_complete(body()))


# ---- two tasks on one loop: ping-pong ----
def _task_ping_pong(a_put, a_get, b_put, b_get):
    async def echo():
        for _ in range(N_PINGPONG):
            await b_put(await a_get())

    async def body():
        t = asyncio.ensure_future(echo())
        for i in range(N_PINGPONG):
            await a_put(i)
            await b_get()
        await t
    return body


def test_async_pingpong_gocore(benchmark, loop):
    compare(benchmark, "task ping-pong, 1 loop (round trip)", "gocore Chan()", per=N_PINGPONG)
    a, b = gocore.Chan(), gocore.Chan()
    body = _task_ping_pong(a.asend, a.arecv, b.asend, b.arecv)
    benchmark.pedantic(lambda: loop.run_until_complete(body()), rounds=5, iterations=1)


def test_async_pingpong_asyncio_queue(benchmark, loop):
    compare(benchmark, "task ping-pong, 1 loop (round trip)", "asyncio.Queue(1)", baseline=True,
            per=N_PINGPONG)
    a, b = asyncio.Queue(1), asyncio.Queue(1)
    body = _task_ping_pong(a.put, a.get, b.put, b.get)
    benchmark.pedantic(lambda: loop.run_until_complete(body()), rounds=5, iterations=1)


# ---- thread -> task and task -> thread, 100k items ----
# make(loop) -> (sync_put, async_get, async_put, sync_get), built on the loop
# (janus and culsans bind their queue to the running loop).
def _mixed_queues():
    yield "gocore Chan(1024)", False, lambda: _chan_sides(gocore.Chan(1024))
    try:
        import janus
        yield "janus.Queue(1024)", True, lambda: _janus_sides(janus.Queue(1024))
    except ImportError:
        pass
    try:
        import culsans
        yield "culsans.Queue(1024)", True, lambda: _janus_sides(culsans.Queue(1024))
    except ImportError:
        pass
    try:
        import aiologic
        yield "aiologic.Queue(1024)", True, lambda: _aiologic_sides(aiologic.Queue(1024))
    except ImportError:
        pass


def _chan_sides(ch):
    return ch.send, ch.arecv, ch.asend, ch.recv


def _janus_sides(q):
    return q.sync_q.put, q.async_q.get, q.async_q.put, q.sync_q.get


def _aiologic_sides(q):
    return q.green_put, q.async_get, q.async_put, q.green_get


MIXED = list(_mixed_queues())


def _thread_to_task(loop, make):
    async def body():
        put, aget, _, _ = make()
        t = threading.Thread(target=lambda: [put(i) for i in range(N_STREAM)])
        t.start()
        for _ in range(N_STREAM):
            await aget()
        t.join()
    return lambda: loop.run_until_complete(body())


def _task_to_thread(loop, make):
    async def body():
        _, _, aput, get = make()
        t = threading.Thread(target=lambda: [get() for _ in range(N_STREAM)])
        t.start()
        for i in range(N_STREAM):
            await aput(i)
        await loop.run_in_executor(None, t.join)
    return lambda: loop.run_until_complete(body())


@pytest.mark.parametrize("name,is_base,make", MIXED, ids=[m[0] for m in MIXED])
def test_thread_to_task(benchmark, loop, name, is_base, make):
    compare(benchmark, "thread->task 100k items", name, baseline=is_base, per=N_STREAM)
    benchmark.pedantic(_thread_to_task(loop, make), rounds=3, iterations=1)


@pytest.mark.parametrize("name,is_base,make", MIXED, ids=[m[0] for m in MIXED])
def test_task_to_thread(benchmark, loop, name, is_base, make):
    compare(benchmark, "task->thread 100k items", name, baseline=is_base, per=N_STREAM)
    benchmark.pedantic(_task_to_thread(loop, make), rounds=3, iterations=1)


# ---- thread -> task -> thread round trip ----
def _run_loop_thread():
    lp = asyncio.new_event_loop()
    t = threading.Thread(target=lp.run_forever, daemon=True)
    t.start()
    return lp, t


def _stop_loop_thread(lp, t):
    lp.call_soon_threadsafe(lp.stop)
    t.join()
    lp.close()


def test_round_trip_gocore(benchmark):
    compare(benchmark, "thread->task->thread round trip", "gocore Chan()", per=N_BRIDGE)
    lp, t = _run_loop_thread()
    req, resp = gocore.Chan(), gocore.Chan()

    async def server():
        async for v in req:
            await resp.asend(v)
    asyncio.run_coroutine_threadsafe(server(), lp)

    def run():
        for i in range(N_BRIDGE):
            req.send(i)
            resp.recv()
    try:
        benchmark.pedantic(run, rounds=5, iterations=1)
    finally:
        req.close()
        _stop_loop_thread(lp, t)


def test_round_trip_bridge(benchmark):
    compare(benchmark, "thread->task->thread round trip", "call_soon_threadsafe+SimpleQueue",
            baseline=True, per=N_BRIDGE)
    lp, t = _run_loop_thread()
    replies = queue.SimpleQueue()
    requests = asyncio.Queue()           # used only on the loop

    async def server():
        while True:
            replies.put(await requests.get())
    asyncio.run_coroutine_threadsafe(server(), lp)
    put = requests.put_nowait

    def run():
        for i in range(N_BRIDGE):
            lp.call_soon_threadsafe(put, i)
            replies.get()
    try:
        benchmark.pedantic(run, rounds=5, iterations=1)
    finally:
        _stop_loop_thread(lp, t)


# ---- async with, uncontended ----
def test_async_with_mutex_gocore(benchmark, loop):
    compare(benchmark, "async with lock, uncontended", "gocore Mutex", per=N_LOOP)
    mu = gocore.Mutex()

    async def body():
        for _ in range(N_LOOP):
            async with mu:
                pass
    benchmark(lambda: loop.run_until_complete(body()))


def test_async_with_asyncio_lock(benchmark, loop):
    compare(benchmark, "async with lock, uncontended", "asyncio.Lock", baseline=True, per=N_LOOP)
    lk = asyncio.Lock()

    async def body():
        for _ in range(N_LOOP):
            async with lk:
                pass
    benchmark(lambda: loop.run_until_complete(body()))
