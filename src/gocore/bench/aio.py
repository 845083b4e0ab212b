"""asyncio rows: the awaitable twins beside asyncio's own primitives, the mixed
thread/async queues (janus, culsans, aiologic) and a hand-rolled bridge.

Async sides share one event loop per process (made on first use) and run
their `n` units inside one ``run_until_complete``; the thread -> task -> thread
row serves from one loop running in a background thread.
"""
from __future__ import annotations

import asyncio
import queue
import threading
from typing import Any, Callable, List, Optional, Tuple

import gocore

from .harness import Row, Side, peer

ROWS: List[Row] = []

_loop: Optional[asyncio.AbstractEventLoop] = None
_server: Optional[asyncio.AbstractEventLoop] = None


def _run(body: Callable[[int], Any], n: int) -> Callable[[], Any]:
    global _loop
    if _loop is None:
        _loop = asyncio.new_event_loop()
    loop = _loop
    return lambda: loop.run_until_complete(body(n))


def _server_loop() -> asyncio.AbstractEventLoop:
    global _server
    if _server is None:
        _server = asyncio.new_event_loop()
        threading.Thread(target=_server.run_forever, daemon=True).start()
    return _server


# ---- one task: put+get on a buffered channel / queue ----
def _put_get(put: Any, get: Any) -> Callable[[int], Any]:
    async def body(n: int) -> None:
        for i in range(n):
            await put(i)
            await get()
    return body


def _chan_put_get(n: int) -> Callable[[], Any]:
    ch: gocore.Chan[int] = gocore.Chan(1024)
    return _run(_put_get(ch.asend, ch.arecv), n)


def _queue_put_get(n: int) -> Callable[[], Any]:
    q: asyncio.Queue[int] = asyncio.Queue(1024)
    return _run(_put_get(q.put, q.get), n)


ROWS.append(Row("Chan(1024) asend+arecv, 1 task", "op", 2000, [
    Side("gocore Chan", _chan_put_get),
    Side("asyncio.Queue(1024)", _queue_put_get),
]))


# ---- two tasks on one loop: ping-pong ----
def _ping_pong(a_put: Any, a_get: Any, b_put: Any, b_get: Any) -> Callable[[int], Any]:
    async def body(n: int) -> None:
        async def echo() -> None:
            for _ in range(n):
                await b_put(await a_get())
        t = asyncio.ensure_future(echo())
        for i in range(n):
            await a_put(i)
            await b_get()
        await t
    return body


def _chan_ping_pong(n: int) -> Callable[[], Any]:
    a: gocore.Chan[int] = gocore.Chan()
    b: gocore.Chan[int] = gocore.Chan()
    return _run(_ping_pong(a.asend, a.arecv, b.asend, b.arecv), n)


def _queue_ping_pong(n: int) -> Callable[[], Any]:
    a: asyncio.Queue[int] = asyncio.Queue(1)
    b: asyncio.Queue[int] = asyncio.Queue(1)
    return _run(_ping_pong(a.put, a.get, b.put, b.get), n)


ROWS.append(Row("task ping-pong, 1 loop", "round trip", 2000, [
    Side("gocore Chan()", _chan_ping_pong),
    Side("asyncio.Queue(1)", _queue_ping_pong),
]))


# ---- thread <-> task, 100k items: (sync put, async get, async put, sync get) ----
Ends4 = Tuple[Any, Any, Any, Any]


def _chan_ends() -> Ends4:
    ch: gocore.Chan[int] = gocore.Chan(1024)
    return ch.send, ch.arecv, ch.asend, ch.recv


def _janus_like(module: str) -> Callable[[], Ends4]:
    def make() -> Ends4:
        q = peer(module).Queue(1024)          # bound to the running loop: made inside it
        return q.sync_q.put, q.async_q.get, q.async_q.put, q.sync_q.get
    return make


def _aiologic_ends() -> Ends4:
    q = peer("aiologic").Queue(1024)
    return q.green_put, q.async_get, q.async_put, q.green_get


def _thread_to_task(ends: Callable[[], Ends4]) -> Callable[[int], Callable[[], Any]]:
    def make(n: int) -> Callable[[], Any]:
        async def body(n: int) -> None:
            put, aget, _, _ = ends()
            t = threading.Thread(target=lambda: [put(i) for i in range(n)])
            t.start()
            for _ in range(n):
                await aget()
            t.join()
        return _run(body, n)
    return make


def _task_to_thread(ends: Callable[[], Ends4]) -> Callable[[int], Callable[[], Any]]:
    def make(n: int) -> Callable[[], Any]:
        async def body(n: int) -> None:
            _, _, aput, get = ends()
            t = threading.Thread(target=lambda: [get() for _ in range(n)])
            t.start()
            for i in range(n):
                await aput(i)
            await asyncio.get_running_loop().run_in_executor(None, t.join)
        return _run(body, n)
    return make


for _name, _direction in (("thread->task", _thread_to_task), ("task->thread", _task_to_thread)):
    ROWS.append(Row(f"{_name} 100k items", "item", 100_000, [
        Side("gocore Chan(1024)", _direction(_chan_ends)),
        Side("janus.Queue(1024)", _direction(_janus_like("janus")), requires="janus", fraction=0.2),
        Side("culsans.Queue(1024)", _direction(_janus_like("culsans")), requires="culsans", fraction=0.5),
        Side("aiologic.Queue(1024)", _direction(_aiologic_ends), requires="aiologic", fraction=0.1),
    ], heavy=True, quick_n=10_000))


# ---- thread -> task -> thread round trip ----
def _chan_round_trip(n: int) -> Callable[[], Any]:
    req: gocore.Chan[int] = gocore.Chan()
    resp: gocore.Chan[int] = gocore.Chan()

    async def server() -> None:
        for _ in range(n):
            await resp.asend(await req.arecv())

    def run() -> None:
        done = asyncio.run_coroutine_threadsafe(server(), _server_loop())
        for i in range(n):
            req.send(i)
            resp.recv()
        done.result()
    return run


def _bridge_round_trip(n: int) -> Callable[[], Any]:
    loop = _server_loop()
    replies: queue.SimpleQueue[int] = queue.SimpleQueue()

    def run() -> None:
        requests: asyncio.Queue[int] = asyncio.Queue()

        async def server() -> None:
            for _ in range(n):
                replies.put(await requests.get())

        done = asyncio.run_coroutine_threadsafe(server(), loop)
        call = loop.call_soon_threadsafe
        for i in range(n):
            call(requests.put_nowait, i)
            replies.get()
        done.result()
    return run


ROWS.append(Row("thread->task->thread round trip", "round trip", 2000, [
    Side("gocore Chan()", _chan_round_trip),
    Side("call_soon_threadsafe+SimpleQueue", _bridge_round_trip),
], heavy=True, quick_n=200))


# ---- async with, uncontended ----
def _async_with(lock: Any) -> Callable[[int], Any]:
    async def body(n: int) -> None:
        for _ in range(n):
            async with lock:
                pass
    return body


ROWS.append(Row("async with lock, uncontended", "op", 2000, [
    Side("gocore Mutex", lambda n: _run(_async_with(gocore.Mutex()), n)),
    Side("asyncio.Lock", lambda n: _run(_async_with(asyncio.Lock()), n)),
]))
