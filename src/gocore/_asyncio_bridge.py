"""The bridge from gocore's threads to asyncio, for the pattern modules:
completing a task's future from any thread, and a task's sleep that gocore's
timers and contexts end.  (gocore.aio is the public side: ``cancel_on``.)

A future belongs to its loop and may only be touched on that loop's thread.
``resolve`` sets it directly when the caller already runs on that loop (no
round trip) and otherwise hands the setter to ``call_soon_threadsafe``.  A
loop that was closed meanwhile raises RuntimeError there: its task is gone,
so the wake-up is dropped (nothing is owed to a waiter that no longer exists).
"""
from __future__ import annotations

import asyncio
import math
from typing import Any, Optional

from gocore.timers import after_func

_running_loop = asyncio._get_running_loop


def _set(fut: "asyncio.Future[Any]", value: Any, exc: Optional[BaseException]) -> None:
    if fut.done():              # cancelled while the wake-up was in flight
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(value)


def resolve(loop: asyncio.AbstractEventLoop, fut: "asyncio.Future[Any]",
            value: Any = None, exc: Optional[BaseException] = None) -> None:
    """Complete `fut` (of `loop`) with `value` or `exc`, from any thread."""
    if _running_loop() is loop:
        _set(fut, value, exc)
        return
    try:
        loop.call_soon_threadsafe(_set, fut, value, exc)
    except RuntimeError:        # the loop is closed: its waiter is withdrawn
        pass


async def sleep(delay: float, ctx: Any = None) -> bool:
    """Suspend the task for `delay` seconds on gocore's timer thread, or until
    `ctx` is done.  True if the delay ran out, False if ctx ended first
    (then the caller raises ``ctx.err()``).  A cancelled task stops both
    watchers before the CancelledError leaves."""
    from gocore.context import context_after_func

    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    timer = None
    stop_ctx = None
    try:
        if delay < math.inf:
            timer = after_func(max(delay, 0.0), lambda: resolve(loop, fut, True))
        if ctx is not None:
            stop_ctx = context_after_func(ctx, lambda: resolve(loop, fut, False))
        return bool(await fut)
    finally:
        if timer is not None:
            timer.stop()
        if stop_ctx is not None:
            stop_ctx()


def resolve_all(waiters: "list[tuple[asyncio.AbstractEventLoop, asyncio.Future[Any]]]",
                value: Any = None) -> None:
    """Complete many futures with `value`: one ``call_soon_threadsafe`` per
    loop, however many of its tasks wait."""
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[Any]]] = {}
    for loop, fut in waiters:
        by_loop.setdefault(loop, []).append(fut)
    here = _running_loop()
    for loop, futs in by_loop.items():
        if loop is here:
            _set_all(futs, value)
            continue
        try:
            loop.call_soon_threadsafe(_set_all, futs, value)
        except RuntimeError:    # closed loop: its tasks are gone
            pass


def _set_all(futs: "list[asyncio.Future[Any]]", value: Any) -> None:
    for fut in futs:
        _set(fut, value, None)
