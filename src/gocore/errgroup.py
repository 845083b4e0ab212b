"""ErrGroup: golang.org/x/sync/errgroup for gocore goroutines.

A group runs functions in goroutines, waits for all of them, and reports the
first exception any of them raised.  ``with_context`` adds a derived context
that is cancelled (with that exception as its cause) as soon as one fails,
and when ``wait`` returns.

Goroutines may be coroutine functions (a task on the caller's running loop,
else ``asyncio.run`` on a worker), and a task waits with ``await g`` /
``async with`` and starts one at the limit with ``await g.ago(...)``.
With an executor, the goroutines become futures on it (see ``_executor``).
"""
from __future__ import annotations

import threading
from asyncio import CancelledError
from types import TracebackType
from typing import Any, Callable, Literal, Optional, Tuple

from gocore._gocore import AtomicInt, Semaphore, WaitGroup, _go_labeled, _is_coro_fn, _not_callable
from gocore._executor import Dispatcher
from gocore._group import GroupScope
from gocore.context import Context, background, with_cancel_cause
from gocore.goroutine import spawn_coro

_INT64_MAX = (1 << 63) - 1      # the core's Semaphore counts in int64

__all__ = ["ErrGroup"]


class ErrGroup(GroupScope):
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

        with ProcessPoolExecutor() as ex:        # the same group on other cores
            g, ctx = gocore.ErrGroup.with_context(gocore.background(), executor=ex)
            for path in paths:
                g.go(checksum, path)            # module-level, picklable function
            g.wait()

    With ``executor=`` (any ``concurrent.futures.Executor``, or a
    dask.distributed ``Client``) each ``go`` submits a future there instead
    of starting a goroutine; ``set_limit(n)`` bounds the futures in flight
    (``go`` waits for one to finish).  The first exception cancels the
    group's context and ``future.cancel()``s every submitted task that has
    not started (tasks submitted later are skipped); ``wait()`` raises it
    with the remote traceback as its ``__cause__``.  A cancelled parent
    context cancels the pending futures too, and ``wait()`` still follows
    Go: it raises only a task's exception.  Functions and arguments must be
    picklable for a process pool or a cluster, and ``go`` raises the
    pickling error naming the task.  Cancellation cannot stop a task that is
    already running in another process or on a dask worker (no engine can);
    a task function that declares a ``ctx`` parameter receives a context
    whose ``err()`` turns non-None once the group is cancelled, so it can
    stop early (the group's ``ctx`` passed as an argument, Go's
    ``g.go(fetch, ctx, url)``, arrives as that same kind of context).
    """

    __slots__ = ("_wg", "_sem", "_active", "_cancel", "_lock", "_err", "_tb", "_exec", "_xctx", "_xcancel")

    def __init__(self, executor: Any = None) -> None:
        self._wg = WaitGroup()
        self._sem: Optional[Semaphore] = None   # the limit; None = unlimited
        self._active = AtomicInt()               # goroutines started and not finished
        self._cancel: Optional[Callable[..., None]] = None
        self._lock = threading.Lock()            # guards the first-error record
        self._err: Optional[BaseException] = None
        self._tb: Optional[TracebackType] = None  # the first error's own traceback
        self._exec: Optional[Dispatcher] = None
        self._xctx: Optional[Context] = None     # executor groups: the context of their futures
        self._xcancel: Optional[Callable[..., None]] = None
        if executor is not None:
            self._exec = Dispatcher(executor)
            self._xctx, self._xcancel = with_cancel_cause(background())

    @classmethod
    def with_context(cls, parent: Context, executor: Any = None) -> Tuple["ErrGroup", Context]:
        """A new group and a context derived from `parent` that is cancelled
        the first time a goroutine of the group raises (that exception is then
        ``gocore.cause(ctx)``) or when ``wait()`` returns, whichever is first.

        Example::

            g, ctx = gocore.ErrGroup.with_context(parent)
        """
        ctx, cancel = with_cancel_cause(parent)
        g = cls()
        g._cancel = cancel
        if executor is not None:
            # The futures' own child of `parent`: the first error or the
            # parent's end stops them, but wait() cancelling `ctx` (Go) does
            # not, so a group reused after a clean wait() still runs tasks.
            g._exec = Dispatcher(executor)
            g._exec.visible = ctx
            g._xctx, g._xcancel = with_cancel_cause(parent)
        return g, ctx

    def _run(self, sem: Optional[Semaphore], fn: Callable[..., Any], args: tuple[Any, ...],
             kwargs: dict[str, Any]) -> None:
        try:
            fn(*args, **kwargs)
        except BaseException as exc:    # an exception is the goroutine's error
            self._record(exc)
        finally:
            self._finish(sem)

    async def _arun(self, sem: Optional[Semaphore], fn: Callable[..., Any], args: tuple[Any, ...],
                    kwargs: dict[str, Any]) -> None:
        try:
            await fn(*args, **kwargs)
        except CancelledError:
            pass        # a cancelled task (as at the loop's shutdown) just ends, as in a TaskGroup
        except BaseException as exc:
            self._record(exc)
        finally:
            self._finish(sem)

    def _abandon(self, sem: Optional[Semaphore], fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
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
        if self._xcancel is not None and self._xcancel is not self._cancel:
            self._xcancel(exc)

    def _start(self, sem: Optional[Semaphore], fn: Callable[..., Any], args: tuple[Any, ...],
               kwargs: dict[str, Any]) -> None:
        self._active.add(1)
        self._wg.add(1)
        try:
            if _is_coro_fn(fn):
                spawn_coro(self._arun, (sem, fn, args, kwargs), self._abandon)
            else:
                _go_labeled(fn, self._run, sem, fn, args, kwargs)
        except BaseException:
            self._finish(sem)
            raise

    def _submit(self, sem: Optional[Semaphore], task: Any) -> None:
        """The executor twin of ``_start``: the slot and the WaitGroup count
        are given back by the future's completion (or at once if the task is
        skipped or could not be submitted)."""
        self._active.add(1)
        self._wg.add(1)
        record = self._record

        def release() -> None:
            self._active.add(-1)
            if sem is not None:
                sem.release()
            self._wg.done()

        def finished(exc: Optional[BaseException], result: Any, cancelled: bool) -> None:
            try:
                if exc is not None:
                    record(exc)
            finally:
                release()

        try:
            started = self._exec.launch(task, finished)  # type: ignore[union-attr]
        except BaseException:
            release()
            raise
        if not started:
            release()

    def go(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        """Run ``fn(*args, **kwargs)`` in a goroutine of the group, first
        waiting while the group is at its limit (see ``set_limit``)."""
        task = self._prepare("ErrGroup.go", fn, args, kwargs)
        sem = self._sem
        if sem is not None:
            sem.acquire()
        self._launch(sem, fn, args, kwargs, task)

    def try_go(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> bool:
        """Like ``go`` but only if the group is below its limit now; returns
        whether the goroutine was started."""
        task = self._prepare("ErrGroup.try_go", fn, args, kwargs)
        sem = self._sem
        if sem is not None and not sem.try_acquire():
            return False
        self._launch(sem, fn, args, kwargs, task)
        return True

    def _prepare(self, where: str, fn: Callable[..., Any], args: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> Any:
        """The checks before a slot is taken: `fn` callable, and its executor
        task prepared (None: it runs as a goroutine)."""
        if not callable(fn):
            raise _not_callable(where, fn)
        if self._exec is None:
            return None
        return self._exec.prepare(self._xctx, fn, args, kwargs)  # type: ignore[arg-type]

    def _launch(self, sem: Optional[Semaphore], fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                task: Any) -> None:
        """Start what holds a slot: a prepared executor task, else a goroutine."""
        if task is not None:
            self._submit(sem, task)
        else:
            self._start(sem, fn, args, kwargs)

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
        task = self._prepare("ErrGroup.ago", fn, args, kwargs)
        sem = self._sem
        if sem is not None:
            await sem.aacquire(1)
        self._launch(sem, fn, args, kwargs, task)

    def set_limit(self, n: int) -> None:
        """Allow at most `n` active goroutines (n < 0: no limit).  Raises
        RuntimeError if goroutines of the group are still active."""
        if not isinstance(n, int) or isinstance(n, bool):
            raise TypeError(f"limit must be an int, not {type(n).__name__}")
        if n < 0:
            self._sem = None
            return
        if n > _INT64_MAX:
            raise OverflowError(f"limit {n} does not fit in 64 bits (use a negative limit for none)")
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

    def __exit__(self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> Literal[False]:
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

    async def __aexit__(self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException],
                        tb: Optional[TracebackType]) -> Literal[False]:
        if exc_type is None:
            await self._await()
            return False
        await self._wg      # as __exit__: the block's exception wins
        self._exited()
        return False

    def __repr__(self) -> str:
        return f"<gocore.ErrGroup active={self._active.load()} failed={self._err is not None}>"
