"""go(), the panic handler and num_goroutine(): the Python side of the
scheduler whose run queue and workers live in the core (sched.pxi).

Goroutines made of coroutine functions start here too (the core hands them
over, go_coro.pxi): ``go(coro_fn, x)`` from a thread whose event loop is
running becomes a task on that loop; from anywhere else it runs to the end
under ``asyncio.run`` on a worker thread.
"""
from __future__ import annotations

import asyncio
import os
import sys
import threading
import traceback
from asyncio import CancelledError
from typing import Any, Awaitable, Callable, Dict, Optional, Set

from gocore import _gocore
from gocore._gocore import go, num_goroutine

__all__ = ["go", "set_panic_handler", "num_goroutine"]

PanicHandler = Callable[[BaseException], object]


def _default_panic_handler(exc: BaseException) -> None:
    """Print the goroutine's traceback to stderr, as threading.excepthook does."""
    stderr = sys.stderr
    if stderr is None:          # pythonw, or the interpreter is shutting down
        return
    print("panic: exception in goroutine:", file=stderr)
    traceback.print_exception(type(exc), exc, exc.__traceback__, file=stderr)
    stderr.flush()


# The current handler lives in a one-element list: workers read it without a
# lock (a list item read is atomic, also on free-threaded builds); writers
# serialise on _handler_lock so set_panic_handler returns the true previous one.
_handler: list[PanicHandler] = [_default_panic_handler]
_handler_lock = threading.Lock()


def _dispatch(exc: BaseException) -> None:
    _handler[0](exc)


def set_panic_handler(fn: Optional[PanicHandler]) -> Optional[PanicHandler]:
    """Set the function that receives exceptions escaping goroutines (go-zero's
    GoSafe recover); ``None`` restores the default, which prints the traceback
    to stderr.  Returns the previous handler (``None`` for the default).

    Example::

        errors = []
        previous = gocore.set_panic_handler(errors.append)
        try:
            ...
        finally:
            gocore.set_panic_handler(previous)
    """
    if fn is not None and not callable(fn):
        raise TypeError(f"panic handler must be callable or None, not {type(fn).__name__}")
    with _handler_lock:
        previous = _handler[0]
        _handler[0] = _default_panic_handler if fn is None else fn
    return None if previous is _default_panic_handler else previous


_gocore._install_panic_dispatch(_dispatch)


# -- goroutines made of coroutine functions --

_get_running_loop = asyncio._get_running_loop      # the C one: no exception when none runs

# The task goroutines alive on each loop.  asyncio keeps only weak references
# to tasks, so an unreferenced task could be collected mid-flight; these sets
# are the strong ones.  A loop's set is touched only from that loop's thread
# (create_task and done callbacks run there), so it needs no lock; the dict
# itself is only ever given or dropped one key at a time.
_live: Dict[Any, Set["asyncio.Task[None]"]] = {}


class _TaskGoroutine:
    """One goroutine run as a task: counted from spawn until its body ends.

    A task cancelled before its first step (asyncio.run cancelling what is
    left at shutdown, right after the spawn) never enters its coroutine, so
    no ``finally`` in it runs; its done callback sees that and runs
    ``abandon(*args)``, which gives back what the spawner counted (a
    WaitGroup unit, a group's slot) as the body would have."""

    __slots__ = ("body", "args", "abandon", "started")

    def __init__(self, body: Callable[..., Awaitable[None]], args: tuple[Any, ...],
                 abandon: Callable[..., None]) -> None:
        self.body, self.args, self.abandon = body, args, abandon
        self.started = False

    async def run(self) -> None:
        self.started = True
        try:
            await self.body(*self.args)
        finally:
            _gocore._goroutines_add(-1)

    def ended(self, task: "asyncio.Task[None]") -> None:
        loop = task.get_loop()
        tasks = _live.get(loop)
        if tasks is not None:
            tasks.discard(task)
            if not tasks:
                del _live[loop]
        if not self.started:
            _gocore._goroutines_add(-1)
            self.abandon(*self.args)


async def _to_the_end(body: Callable[..., Awaitable[None]], args: tuple[Any, ...]) -> None:
    await body(*args)
    # Task goroutines it started on this private loop are goroutines too: the
    # loop (and this worker) stays until they finish, rather than
    # asyncio.run cancelling them.
    loop = asyncio.get_running_loop()
    while True:
        tasks = _live.get(loop)
        if not tasks:
            return
        await asyncio.wait(list(tasks))


def _run_to_the_end(body: Callable[..., Awaitable[None]], args: tuple[Any, ...]) -> None:
    asyncio.run(_to_the_end(body, args))


def spawn_coro(body: Callable[..., Awaitable[None]], args: tuple[Any, ...], abandon: Callable[..., None]) -> None:
    """Run the coroutine ``body(*args)`` as a goroutine: a task on the running
    loop of the calling thread, else under ``asyncio.run`` on a worker.
    `body` is gocore's own wrapper: it reports or records what the user's
    coroutine raised, so nothing escapes it, and gives back in a ``finally``
    what its spawner counted; ``abandon(*args)`` does that instead for a
    task cancelled before it ever ran."""
    loop = _get_running_loop()
    if loop is None:
        _gocore.go(_run_to_the_end, body, args)      # counted by the core
        return
    g = _TaskGoroutine(body, args, abandon)
    _gocore._goroutines_add(1)
    try:
        task = loop.create_task(g.run())
    except BaseException:
        _gocore._goroutines_add(-1)
        raise
    tasks = _live.get(loop)
    if tasks is None:
        tasks = _live[loop] = set()
    tasks.add(task)
    task.add_done_callback(g.ended)


async def _as_goroutine(wg: Any, fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...],
                        kwargs: dict[str, Any]) -> None:
    try:
        await fn(*args, **kwargs)
    except CancelledError:
        pass            # cancelled (as at the loop's shutdown): it just ends, as in a TaskGroup
    except BaseException as exc:
        _gocore._report(exc)        # a panic, with its traceback
    finally:
        _abandon(wg, fn, args, kwargs)


def _abandon(wg: Any, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    if wg is not None:
        wg.done()


def _go_coro(wg: Any, fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...],
             kwargs: Optional[dict[str, Any]]) -> None:
    """go(fn, ...) / wg.go(fn, ...) for a coroutine function (from the core)."""
    if wg is not None:
        wg.add(1)
    try:
        spawn_coro(_as_goroutine, (wg, fn, args, kwargs or {}), _abandon)
    except BaseException:
        if wg is not None:
            wg.done()
        raise


_gocore._install_coro_go(_go_coro)


# go() names its caller's line; frames of gocore's own Python files (this
# package and any subpackage) are skipped so that ErrGroup.go, WorkerPool.go,
# ... name the user's line -- except gocore.bench's, which uses gocore as a
# user does.  co_filename is the path a module was imported by: take the
# directory both as given and absolute.
_here = {os.path.dirname(__file__), os.path.dirname(os.path.abspath(__file__))}
_gocore._install_frame_skip({os.path.join(d, "") for d in _here},
                            {os.path.join(d, "bench", "") for d in _here})
del _here
