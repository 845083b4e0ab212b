"""ErrGroup: golang.org/x/sync/errgroup for gocore goroutines.

A group runs functions in goroutines, waits for all of them, and reports the
first exception any of them raised.  ``with_context`` adds a derived context
that is cancelled (with that exception as its cause) as soon as one fails,
and when ``wait`` returns.

Goroutines may be coroutine functions (a task on the caller's running loop,
else ``asyncio.run`` on a worker), and a task waits with ``await g`` /
``async with`` and starts one at the limit with ``await g.ago(...)``.
"""
from __future__ import annotations

import threading
from asyncio import CancelledError
from typing import Any, Callable, Generator, Optional, Tuple

from gocore._gocore import AtomicInt, Semaphore, WaitGroup, _is_coro_fn, _not_callable
from gocore.aio import acquire_slot, wait_group
from gocore.context import Context, with_cancel_cause
from gocore.goroutine import go as _go, spawn_coro

__all__ = ["ErrGroup"]


class ErrGroup:
    """A group of goroutines working on subtasks of one task, with the first
    exception reported by ``wait()`` (Go's ``errgroup.Group``).

    Example::

        g, ctx = gocore.ErrGroup.with_context(gocore.background())
        for url in urls:
            g.go(fetch, ctx, url)
        g.wait()             # raises the first exception a fetch raised

        with gocore.ErrGroup() as g:      # waits (and raises) on exit
            g.go(step_one)
            g.go(step_two)

        async with gocore.ErrGroup() as g:   # in a task: awaits on exit
            g.go(fetch_async, url)           # a coroutine function: a task on this loop
            await g.ago(fetch_async, other)  # at the limit: waits without blocking the loop
    """

    __slots__ = ("_wg", "_sem", "_active", "_cancel", "_lock", "_err", "_tb")

    def __init__(self) -> None:
        self._wg = WaitGroup()
        self._sem: Optional[Semaphore] = None   # the limit; None = unlimited
        self._active = AtomicInt()               # goroutines started and not finished
        self._cancel: Optional[Callable[..., None]] = None
        self._lock = threading.Lock()            # guards the first-error record
        self._err: Optional[BaseException] = None
        self._tb = None                          # the first error's own traceback

    @classmethod
    def with_context(cls, parent: Context) -> Tuple["ErrGroup", Context]:
        """A new group and a context derived from `parent` that is cancelled
        the first time a goroutine of the group raises (that exception is then
        ``gocore.cause(ctx)``) or when ``wait()`` returns, whichever is first.

        Example::

            g, ctx = gocore.ErrGroup.with_context(parent)
        """
        ctx, cancel = with_cancel_cause(parent)
        g = cls()
        g._cancel = cancel
        return g, ctx

    def _run(self, sem: Optional[Semaphore], fn: Callable[..., Any], args: tuple, kwargs: dict) -> None:
        try:
            fn(*args, **kwargs)
        except BaseException as exc:    # an exception is the goroutine's error
            self._record(exc)
        finally:
            self._finish(sem)

    async def _arun(self, sem: Optional[Semaphore], fn: Callable[..., Any], args: tuple, kwargs: dict) -> None:
        try:
            await fn(*args, **kwargs)
        except CancelledError:
            pass        # a cancelled task (as at the loop's shutdown) just ends, as in a TaskGroup
        except BaseException as exc:
            self._record(exc)
        finally:
            self._finish(sem)

    def _abandon(self, sem: Optional[Semaphore], fn: Any, args: tuple, kwargs: dict) -> None:
        self._finish(sem)       # a task cancelled before it ran: it ends without an error

    def _finish(self, sem: Optional[Semaphore]) -> None:
        self._active.add(-1)
        if sem is not None:             # the semaphore we acquired, even if the limit changed since
            sem.release()
        self._wg.done()

    def _record(self, exc: BaseException) -> None:
        with self._lock:
            if self._err is not None:
                return
            self._err = exc
            self._tb = exc.__traceback__
        if self._cancel is not None:
            self._cancel(exc)

    def _start(self, sem, fn, args, kwargs) -> None:
        self._active.add(1)
        self._wg.add(1)
        try:
            if _is_coro_fn(fn):
                spawn_coro(self._arun, (sem, fn, args, kwargs), self._abandon)
            else:
                _go(self._run, sem, fn, args, kwargs)
        except BaseException:
            self._active.add(-1)
            if sem is not None:
                sem.release()
            self._wg.done()
            raise

    def go(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        """Run ``fn(*args, **kwargs)`` in a goroutine of the group, first
        waiting while the group is at its limit (see ``set_limit``)."""
        if not callable(fn):
            raise _not_callable("ErrGroup.go", fn)
        sem = self._sem
        if sem is not None:
            sem.acquire()
        self._start(sem, fn, args, kwargs)

    def try_go(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> bool:
        """Like ``go`` but only if the group is below its limit now; returns
        whether the goroutine was started."""
        if not callable(fn):
            raise _not_callable("ErrGroup.try_go", fn)
        sem = self._sem
        if sem is not None and not sem.try_acquire():
            return False
        self._start(sem, fn, args, kwargs)
        return True

    async def ago(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        """``go`` for a task: waits for a free slot without blocking the loop
        (at once when below the limit).  Cancelled while waiting, it starts
        nothing and holds no slot.

        Example::

            g.set_limit(4)
            for url in urls:
                await g.ago(fetch_async, url)
            await g
        """
        if not callable(fn):
            raise _not_callable("ErrGroup.ago", fn)
        sem = self._sem
        if sem is not None:
            await acquire_slot(sem)
        self._start(sem, fn, args, kwargs)

    def set_limit(self, n: int) -> None:
        """Allow at most `n` active goroutines (n < 0: no limit).  Raises
        RuntimeError if goroutines of the group are still active."""
        if not isinstance(n, int) or isinstance(n, bool):
            raise TypeError(f"limit must be an int, not {type(n).__name__}")
        if n < 0:
            self._sem = None
            return
        active = self._active.load()
        if active != 0:
            raise RuntimeError(f"errgroup: modify limit while {active} goroutines in the group are still active")
        self._sem = Semaphore(n)

    def wait(self) -> None:
        """Wait for every goroutine of the group, then raise the first
        exception one of them raised (again on every later ``wait``)."""
        self._wg.wait()
        self._waited()

    def _waited(self) -> None:
        """What ``wait`` does once the goroutines are all done."""
        err = self._err
        if self._cancel is not None:
            self._cancel(err)
        if err is not None:
            # Re-raise with the goroutine's own traceback each time, so that
            # repeated waits do not pile up frames on the exception.
            raise err.with_traceback(self._tb)

    def __enter__(self) -> "ErrGroup":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            self.wait()
            return False
        # The block itself raised: still wait for the goroutines, but let the
        # block's exception be the one that propagates.
        self._wg.wait()
        self._exited()
        return False

    def _exited(self) -> None:
        if self._cancel is not None:
            self._cancel(self._err)

    async def _await(self) -> None:
        await wait_group(self._wg)
        self._waited()

    def __await__(self) -> Generator[Any, None, None]:
        """``await g``: ``wait()`` for a task (the loop keeps running)."""
        return self._await().__await__()

    async def __aenter__(self) -> "ErrGroup":
        return self

    async def __aexit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            await self._await()
            return False
        await wait_group(self._wg)      # as __exit__: the block's exception wins
        self._exited()
        return False

    def __repr__(self) -> str:
        return f"<gocore.ErrGroup active={self._active.load()} failed={self._err is not None}>"
