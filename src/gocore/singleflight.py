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

from gocore import _aio
from gocore._gocore import Chan, Mutex, RecvChan
from gocore.goroutine import go

__all__ = ["SingleFlight", "Result"]


class Result(NamedTuple):
    """What ``SingleFlight.do_chan`` delivers (Go's ``singleflight.Result``)."""

    value: Any
    error: Optional[BaseException]
    shared: bool


class _Call:
    """One call in flight.  The class attributes are the defaults: an
    uncontended call never allocates the waiter fields (the instance dict
    appears on first write).  Waiter fields are written under the group's
    lock; value and error are written by the runner before completion and
    read by waiters only after it."""

    dups = 0                     # callers beyond the first
    done: Optional[Chan] = None  # closed at completion; made by the first waiting thread
    chans: Optional[list] = None   # do_chan result channels
    tasks: Optional[list] = None   # (loop, future) of ado waiters
    value: Any = None
    error: Optional[BaseException] = None


class SingleFlight:
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

    __slots__ = ("_mu", "_calls")

    def __init__(self) -> None:
        self._mu = Mutex()
        self._calls: dict = {}       # guarded by _mu

    def do(self, key: Any, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(*args, **kwargs)`` unless a call for `key` is in flight;
        then wait for that one.  Returns its value, or raises its exception
        (the same object in every caller)."""
        return self._do(key, fn, args, kwargs)[0]

    def do_shared(self, key: Any, fn: Callable[..., Any], /, *args: Any,
                  **kwargs: Any) -> tuple:
        """``do`` that also says whether the result went to more than one
        caller: ``(value, shared)``."""
        return self._do(key, fn, args, kwargs)

    def _do(self, key: Any, fn: Callable[..., Any], args: tuple, kwargs: dict) -> tuple:
        mu = self._mu
        mu.lock()
        c = self._calls.get(key)
        if c is None:
            c = self._calls[key] = _Call()
            mu.unlock()
            try:
                value, error = fn(*args, **kwargs), None
            except BaseException as exc:     # a "panic" too: every caller gets it
                value, error = None, exc
            self._finish(c, key, value, error)
            shared = c.dups > 0
        else:
            c.dups += 1
            done = c.done
            if done is None:
                done = c.done = Chan(0)
            mu.unlock()
            done.recv()              # returns once closed
            value, error = c.value, c.error
            shared = True
        if error is not None:
            raise error
        return value, shared

    def do_chan(self, key: Any, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> RecvChan:
        """Like ``do``, without waiting: returns a channel that receives one
        ``Result(value, error, shared)``.  A new call runs in a goroutine."""
        ch = Chan(1)                 # buffered: the completer never blocks on it
        with self._mu:
            c = self._calls.get(key)
            new = c is None
            if new:
                c = self._calls[key] = _Call()
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
                c = self._calls[key] = _Call()
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
            self._finish(c, key, value, error)
        else:
            await fut
            value, error = c.value, c.error
        if error is not None:
            raise error
        return value

    def _run(self, c: _Call, key: Any, fn: Callable[..., Any], args: tuple, kwargs: dict) -> None:
        try:
            value, error = fn(*args, **kwargs), None
        except BaseException as exc:
            value, error = None, exc
        self._finish(c, key, value, error)

    def _finish(self, c: _Call, key: Any, value: Any, error: Optional[BaseException]) -> None:
        mu = self._mu
        mu.lock()
        # After forget(key) a newer call may own the key: leave it alone.
        if self._calls.get(key) is c:
            del self._calls[key]
        done, chans, tasks = c.done, c.chans, c.tasks
        if c.dups:
            # Someone joined: publish the outcome before waking them (an
            # uncontended call never gives its _Call a dict).
            c.value, c.error = value, error
        mu.unlock()
        if done is not None:
            done.close()
        if chans is not None:
            result = Result(value, error, c.dups > 0)
            for ch in chans:
                ch.send(result)
        if tasks is not None:
            _aio.resolve_all(tasks)

    def forget(self, key: Any) -> None:
        """Forget `key`: the next call for it runs anew, even while the current
        one is in flight (whose callers still share it)."""
        with self._mu:
            self._calls.pop(key, None)

    def __repr__(self) -> str:
        return f"<SingleFlight in_flight={len(self._calls)}>"
