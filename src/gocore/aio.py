"""``cancel_on(ctx)``: a Go context ending an asyncio block.  (The layer's
private asyncio plumbing is gocore._asyncio_bridge.)

``cancel_on`` ties a Go context to asyncio cancellation the way
``asyncio.timeout`` ties a deadline to it: the task running the block is
cancelled once the context is done, and that cancellation leaves the block
as ``ctx.err()`` instead of ``CancelledError``.
"""
from __future__ import annotations

import asyncio
import sys
from asyncio import CancelledError
from types import TracebackType
from typing import Any, Callable, Optional, Type

from gocore.context import Context, context_after_func

__all__ = ["cancel_on"]

# Python 3.11 gave tasks a count of pending cancellation requests
# (cancelling/uncancel), which lets a scope tell its own cancellation from
# one requested elsewhere.  3.10 has no count: the scope marks its cancel()
# with a message instead (see cancel_on.__aexit__).

_NEW, _ENTERED, _CANCELLING, _EXITED = range(4)


class _CancelOn:
    """The scope ``cancel_on(ctx)`` returns (single use)."""

    __slots__ = ("_ctx", "_state", "_task", "_loop", "_cancelling", "_stop", "_msg")

    def __init__(self, ctx: Context) -> None:
        if ctx is None:
            raise TypeError("cancel_on needs a context, not None")
        if not callable(getattr(ctx, "err", None)) or not callable(getattr(ctx, "done", None)):
            raise TypeError(f"cancel_on needs a context, not {type(ctx).__name__}")
        self._ctx = ctx
        self._state = _NEW
        self._task: Optional[asyncio.Task[Any]] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._cancelling = 0
        self._stop: Optional[Callable[[], bool]] = None
        self._msg = f"gocore.cancel_on: {ctx!r} is done"

    async def __aenter__(self) -> None:
        if self._state != _NEW:
            raise RuntimeError("a cancel_on scope can be entered only once")
        try:
            task = asyncio.current_task()
        except RuntimeError:        # no running loop at all
            task = None
        if task is None:
            raise RuntimeError("cancel_on must be used inside a task")
        self._task, self._loop = task, task.get_loop()
        if sys.version_info >= (3, 11):      # (spelled out so mypy checks it per version)
            self._cancelling = task.cancelling()
        self._state = _ENTERED
        if self._ctx.err() is not None:
            # Done already: cancel at the block's first suspension, as
            # asyncio.timeout does with a deadline in the past (a cancel()
            # here would also hit a block that finishes without suspending).
            self._loop.call_soon(self._fire)
        else:
            self._stop = context_after_func(self._ctx, self._from_ctx)

    def _from_ctx(self) -> None:
        # A goroutine, once ctx is done: move to the loop's thread.  The
        # scope's state is read and written only there, so whichever of
        # _fire and __aexit__ runs first decides, with no lock.
        loop = self._loop
        try:
            loop.call_soon_threadsafe(self._fire)  # type: ignore[union-attr]
        except RuntimeError:
            pass        # the loop is closed: its task runs no more, nothing to cancel

    def _fire(self) -> None:
        if self._state == _ENTERED:
            self._state = _CANCELLING
            self._task.cancel(self._msg)  # type: ignore[union-attr]

    async def __aexit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                        tb: Optional[TracebackType]) -> None:
        stop, self._stop = self._stop, None
        if stop is not None:
            stop()          # no registration outlives the block
        fired = self._state == _CANCELLING
        self._state = _EXITED
        if not fired:
            return
        if sys.version_info >= (3, 11):
            # Ours unless more cancel() requests came than the one we made.
            task = self._task
            assert task is not None      # set on entry, and fired means entered
            ours = task.uncancel() <= self._cancelling
        else:
            # 3.10: no count.  A CancelledError carrying another message is
            # someone else's; one with ours, or with none (messages get lost
            # in some chains of awaits on 3.10), is taken as ours.
            ours = exc is not None and exc.args in ((), (self._msg,))
        if ours and exc_type is not None and issubclass(exc_type, CancelledError):
            raise self._ctx.err().with_traceback(None) from exc  # type: ignore[union-attr]


def cancel_on(ctx: Context) -> _CancelOn:
    """``async with cancel_on(ctx):`` runs the block until it ends or `ctx`
    is done, whichever comes first.  When `ctx` ends first, the task running
    the block is cancelled, and that cancellation leaves the block as
    ``ctx.err()`` (``Canceled``, or ``DeadlineExceeded``, a TimeoutError)
    instead of ``CancelledError``, as ``asyncio.timeout`` turns its own
    cancellation into TimeoutError.  A cancellation requested elsewhere still
    propagates as ``CancelledError``.  Leaving the block unregisters from
    `ctx` (nothing is left behind on a long-lived context).

    Example::

        ctx, cancel = gocore.with_timeout(gocore.background(), 5.0)
        try:
            async with gocore.cancel_on(ctx):
                reply = await fetch(url)
        except gocore.DeadlineExceeded:
            reply = None
        finally:
            cancel()
    """
    return _CancelOn(ctx)
