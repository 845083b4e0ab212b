"""ErrGroup: golang.org/x/sync/errgroup for gocore goroutines.

A group runs functions in goroutines, waits for all of them, and reports the
first exception any of them raised.  ``with_context`` adds a derived context
that is cancelled (with that exception as its cause) as soon as one fails,
and when ``wait`` returns.
"""
from __future__ import annotations

import threading
from types import TracebackType
from typing import Any, Callable, Literal, Optional, Tuple

from gocore._gocore import AtomicInt, Semaphore, WaitGroup
from gocore.context import Context, with_cancel_cause
from gocore.goroutine import go as _go

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
    """

    __slots__ = ("_wg", "_sem", "_active", "_cancel", "_lock", "_err", "_tb")

    def __init__(self) -> None:
        self._wg = WaitGroup()
        self._sem: Optional[Semaphore] = None   # the limit; None = unlimited
        self._active = AtomicInt()               # goroutines started and not finished
        self._cancel: Optional[Callable[..., None]] = None
        self._lock = threading.Lock()            # guards the first-error record
        self._err: Optional[BaseException] = None
        self._tb: Optional[TracebackType] = None  # the first error's own traceback

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

    def _run(self, sem: Optional[Semaphore], fn: Callable[..., Any], args: tuple[Any, ...],
             kwargs: dict[str, Any]) -> None:
        try:
            fn(*args, **kwargs)
        except BaseException as exc:    # an exception is the goroutine's error
            self._record(exc)
        finally:
            self._active.add(-1)
            if sem is not None:         # the semaphore we acquired, even if the limit changed since
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

    def _start(self, sem: Optional[Semaphore], fn: Callable[..., Any], args: tuple[Any, ...],
               kwargs: dict[str, Any]) -> None:
        self._active.add(1)
        self._wg.add(1)
        try:
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
            raise TypeError(f"ErrGroup.go needs a callable, not {type(fn).__name__}")
        sem = self._sem
        if sem is not None:
            sem.acquire()
        self._start(sem, fn, args, kwargs)

    def try_go(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> bool:
        """Like ``go`` but only if the group is below its limit now; returns
        whether the goroutine was started."""
        if not callable(fn):
            raise TypeError(f"ErrGroup.try_go needs a callable, not {type(fn).__name__}")
        sem = self._sem
        if sem is not None and not sem.try_acquire():
            return False
        self._start(sem, fn, args, kwargs)
        return True

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
        err = self._err
        if self._cancel is not None:
            self._cancel(err)
        if err is not None:
            # Re-raise with the goroutine's own traceback each time, so that
            # repeated waits do not pile up frames on the exception.
            raise err.with_traceback(self._tb)

    def __enter__(self) -> "ErrGroup":
        return self

    def __exit__(self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> Literal[False]:
        if exc_type is None:
            self.wait()
            return False
        # The block itself raised: still wait for the goroutines, but let the
        # block's exception be the one that propagates.
        self._wg.wait()
        if self._cancel is not None:
            self._cancel(self._err)
        return False

    def __repr__(self) -> str:
        return f"<gocore.ErrGroup active={self._active.load()} failed={self._err is not None}>"
