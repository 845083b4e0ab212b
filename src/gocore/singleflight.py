"""Duplicate call suppression, Go's ``golang.org/x/sync/singleflight``.

Callers with the same key while a call is in flight share it: the first runs
the function, the others wait for its outcome.  Waiters may be threads
(``do``/``do_shared``), channels (``do_chan``) or asyncio tasks on any loop
(``ado``), all on one call: a thread may wait for a call a task runs and
the other way round.

Every registration (a new call, a duplicate joining it) and the completion
that takes the call out of the map happen under one ``Mutex``, so a waiter
that found the call in the map is always registered before the completer
reads who is waiting: no wake-up is lost.  The completer wakes them after
letting go of the lock.
"""
from __future__ import annotations

import asyncio
from typing import Any, Callable, NamedTuple, Optional

from gocore import _asyncio_bridge
from gocore._gocore import Chan, Mutex, RecvChan, _FlightCall, _FlightGroup
from gocore.goroutine import go

__all__ = ["SingleFlight", "Result"]


class Result(NamedTuple):
    """What ``SingleFlight.do_chan`` delivers (Go's ``singleflight.Result``).

    Example::

        r = sf.do_chan("config", load_config).recv()
        if r.error is not None:
            raise r.error
        config, shared = r.value, r.shared
    """

    value: Any
    error: Optional[BaseException]
    shared: bool


class SingleFlight(_FlightGroup):
    """Go's ``singleflight.Group``.

    Example::

        sf = gocore.SingleFlight()

        def user(uid):
            # 100 threads asking at once trigger one query
            return sf.do(("user", uid), db.load_user, uid)

        value, shared = sf.do_shared("config", load_config)
        result = sf.do_chan("config", load_config).recv()   # Result(value, error, shared)
        value = await sf.ado("config", aload_config)
    """

    Result = Result

    # do() and do_shared() come from the compiled base (src/singleflight.pxi),
    # with the call record (_FlightCall) and _end(), which unregisters a call.
    __slots__ = ()

    def __init__(self) -> None:
        self._mu = Mutex()
        self._calls: dict[Any, _FlightCall] = {}       # guarded by _mu

    def do_chan(self, key: Any, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> RecvChan[Any]:
        """Like ``do``, without waiting: returns a channel that receives one
        ``Result(value, error, shared)``.  A new call runs in a goroutine."""
        ch: Chan[Result] = Chan(1)   # buffered: the completer never blocks on it
        with self._mu:
            c = self._calls.get(key)
            new = c is None
            if c is None:
                c = self._calls[key] = _FlightCall()
            else:
                c.dups += 1
            if c.chans is None:
                c.chans = []
            c.chans.append(ch)
        if new:
            go(self._run, c, key, fn, args, kwargs)
        return ch.recv_only()

    async def ado(self, key: Any, coro_fn: Callable[..., Any], /, *args: Any,
                  **kwargs: Any) -> Any:
        """``do`` for asyncio: ``await sf.ado(key, coro_fn, ...)``.  A new call
        runs ``await coro_fn(...)`` in this task; a duplicate waits without
        blocking its loop, also for a call that a thread runs.  A waiting task
        that is cancelled withdraws (the call goes on for the others)."""
        with self._mu:
            c = self._calls.get(key)
            if c is None:
                c = self._calls[key] = _FlightCall()
                fut = None
            else:
                c.dups += 1
                loop = asyncio.get_running_loop()
                fut = loop.create_future()
                if c.tasks is None:
                    c.tasks = []
                c.tasks.append((loop, fut))
        if fut is None:
            # The task runs the call itself; if it is cancelled, the
            # CancelledError is the call's outcome and reaches every waiter
            # (they would otherwise wait for a result that never comes).
            try:
                value, error = await coro_fn(*args, **kwargs), None
            except BaseException as exc:
                value, error = None, exc
            self._complete(c, key, value, error)
        else:
            await fut
            value, error = c.value, c.error
        if error is not None:
            raise error
        return value

    def _run(self, c: _FlightCall, key: Any, fn: Callable[..., Any], args: tuple[Any, ...],
             kwargs: dict[str, Any]) -> None:
        try:
            value, error = fn(*args, **kwargs), None
        except BaseException as exc:
            value, error = None, exc
        self._complete(c, key, value, error)

    def _complete(self, c: _FlightCall, key: Any, value: Any, error: Optional[BaseException]) -> None:
        if self._end(c, key, value, error):
            self._wake(c, value, error)

    def _wake(self, c: _FlightCall, value: Any, error: Optional[BaseException]) -> None:
        """Wake whoever joined c: threads, channels, tasks (after _end)."""
        if c.done is not None:
            c.done.close()
        if c.chans is not None:
            result = Result(value, error, c.dups > 0)
            for ch in c.chans:
                ch.send(result)
        if c.tasks is not None:
            _asyncio_bridge.resolve_all(c.tasks)

    def forget(self, key: Any) -> None:
        """Forget `key`: the next call for it runs anew, even while the current
        one is in flight (whose callers still share it)."""
        with self._mu:
            self._calls.pop(key, None)

    def __repr__(self) -> str:
        return f"<SingleFlight in_flight={len(self._calls)}>"
