"""WorkerPool: a bounded goroutine pool, after sourcegraph/conc's ``pool``.

At most ``max_workers`` tasks run at once (a Semaphore slot per running
task); ``go`` waits for a free slot.  ``wait`` reports the first exception and
then resets the pool for reuse.  With a context, the pool runs under a child
context ``p.ctx``: the first failure cancels it, and tasks that have not
started by the time it ends are skipped.

Tasks may be coroutine functions (a task on the caller's running loop, else
``asyncio.run`` on a worker); a task waits with ``await p`` / ``async with``
and submits at the limit with ``await p.ago(...)``.  With an executor,
tasks run there instead (see ``_executor``): the slots then bound the
futures in flight.
"""
from __future__ import annotations

import threading
from asyncio import CancelledError
from types import TracebackType
from typing import Any, Callable, Iterable, List, Literal, Optional, TypeVar

from gocore._gocore import AtomicInt, Semaphore, WaitGroup, _go_labeled, _is_coro_fn, _not_callable
from gocore._executor import ChunkedMap, Dispatcher
from gocore._group import GroupScope
from gocore.context import Context, _CancelCauseFunc, background, cause, with_cancel_cause
from gocore.goroutine import spawn_coro

_INT64_MAX = (1 << 63) - 1      # the core's Semaphore counts in int64

__all__ = ["WorkerPool"]

R = TypeVar("R")


class WorkerPool(GroupScope):
    """Run tasks in goroutines, at most `max_workers` at a time.

    Example::

        with gocore.WorkerPool(8) as p:       # waits on exit, raises the first error
            for path in paths:
                p.go(compress, path)

        sizes = gocore.WorkerPool(4).map(os.path.getsize, paths)   # input order

        p = gocore.WorkerPool(4, ctx=request_ctx)
        p.go(fetch, p.ctx, url)               # tasks read the pool's context
        p.wait()

        async with gocore.WorkerPool(8) as p:    # in a task: awaits on exit
            for url in urls:
                await p.ago(fetch_async, url)    # waits for a slot, the loop runs on

        with ProcessPoolExecutor(2) as ex:    # more cores: the same pool on processes
            digests = gocore.WorkerPool(2, executor=ex).map(sha256_hex, blocks)

    With ``executor=`` (any ``concurrent.futures.Executor``, or a
    dask.distributed ``Client``) tasks run there: at most `max_workers`
    futures are in flight (gocore holds back the rest), ``map`` keeps input
    order (it sends the items in chunks, large ones first), and the first
    exception cancels the pool's context and ``future.cancel()``s every
    submitted task that has not started.  ``wait()`` raises it with the
    remote traceback as its ``__cause__``.  Functions and arguments must be
    picklable for a process pool or a cluster; the error is raised by ``go``.
    What cancellation cannot do: stop a task that is already running in
    another process or on a dask worker (no engine can).  A task function
    that declares a ``ctx`` parameter receives a context whose ``err()``
    turns non-None once the pool is cancelled, so it can stop early (so
    does a task passed ``p.ctx`` as an argument).
    """

    def __init__(self, max_workers: int, ctx: Optional[Context] = None, executor: Any = None) -> None:
        if not isinstance(max_workers, int) or isinstance(max_workers, bool):
            raise TypeError(f"max_workers must be an int, not {type(max_workers).__name__}")
        if max_workers < 1:
            raise ValueError(f"max_workers must be >= 1, got {max_workers}")
        if max_workers > _INT64_MAX:
            raise OverflowError(f"max_workers {max_workers} does not fit in 64 bits")
        self._max = max_workers
        self._sem = Semaphore(max_workers)
        self._wg = WaitGroup()
        self._lock = threading.Lock()       # guards the first-error record and the ctx swap
        self._err: Optional[BaseException] = None
        self._tb: Optional[TracebackType] = None
        self._parent = ctx
        self._ctx: Optional[Context] = None
        self._cancel: Optional[_CancelCauseFunc] = None
        if ctx is not None:
            self._ctx, self._cancel = with_cancel_cause(ctx)
        self._exec: Optional[Dispatcher] = None
        if executor is not None:
            self._exec = Dispatcher(executor)
            self._exec.visible = self._ctx
            self._xctx, self._xcancel = self._ctx, self._cancel
            if ctx is None:     # the round's own context: the first failure cancels it
                self._xctx, self._xcancel = with_cancel_cause(background())

    @property
    def max_workers(self) -> int:
        return self._max

    @property
    def ctx(self) -> Optional[Context]:
        """The pool's context (a child of the one given), or None."""
        return self._ctx

    # -- running tasks --

    def _record(self, exc: BaseException, cancel: Optional[_CancelCauseFunc]) -> None:
        with self._lock:
            if self._err is not None:
                return
            self._err = exc
            self._tb = exc.__traceback__
        if cancel is not None:
            cancel(exc)

    def _run(self, ctx: Optional[Context], cancel: Optional[_CancelCauseFunc], fn: Callable[..., Any],
             args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            if ctx is None or ctx.err() is None:     # a task that has not started is skipped
                fn(*args, **kwargs)
        except BaseException as exc:
            self._record(exc, cancel)
        finally:
            self._sem.release()
            self._wg.done()

    async def _arun(self, ctx: Optional[Context], cancel: Optional[_CancelCauseFunc], fn: Callable[..., Any],
                    args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            if ctx is None or ctx.err() is None:
                await fn(*args, **kwargs)
        except CancelledError:
            pass        # a cancelled task (as at the loop's shutdown) just ends, as in a TaskGroup
        except BaseException as exc:
            self._record(exc, cancel)
        finally:
            self._give_back()

    def _abandon(self, *call: Any) -> None:
        """A task cancelled before it ran gives back its slot and count."""
        self._give_back()

    def _launch(self, ctx: Optional[Context], cancel: Optional[_CancelCauseFunc], fn: Callable[..., Any],
                args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Start a task that holds a slot: the slot and the count are given
        back when it ends (or at once if it cannot be started)."""
        self._wg.add(1)
        try:
            if _is_coro_fn(fn):
                spawn_coro(self._arun, (ctx, cancel, fn, args, kwargs), self._abandon)
            else:
                _go_labeled(fn, self._run, ctx, cancel, fn, args, kwargs)
        except BaseException:
            self._give_back()
            raise

    def go(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        """Run ``fn(*args, **kwargs)`` in a goroutine once fewer than
        `max_workers` tasks are running (waits until then).  Under a context,
        a task submitted after the pool's context ended is skipped."""
        if not callable(fn):
            raise _not_callable("WorkerPool.go", fn)
        if self._exec is not None:
            self._submit(fn, args, kwargs)
            return
        ctx, cancel = self._ctx, self._cancel
        if not self._take_slot(ctx):
            return
        self._launch(ctx, cancel, fn, args, kwargs)

    async def ago(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        """``go`` for a task: waits for a free slot without blocking the loop
        (at once when one is free).  Cancelled while waiting, it starts
        nothing and holds no slot; under a context that ends while it waits,
        the task is skipped.

        Example::

            async with gocore.WorkerPool(4) as p:
                for path in paths:
                    await p.ago(upload, path)
        """
        if not callable(fn):
            raise _not_callable("WorkerPool.ago", fn)
        if self._exec is not None:
            ctx, cancel = self._xctx, self._xcancel
            # pickling errors come here, before the wait
            task = self._exec.prepare(ctx, fn, args, kwargs)  # type: ignore[arg-type]
            if await self._atake_slot(self._ctx):
                self._launch_future(task, cancel)
            return
        ctx, cancel = self._ctx, self._cancel
        if await self._atake_slot(ctx):
            self._launch(ctx, cancel, fn, args, kwargs)

    async def _atake_slot(self, ctx: Optional[Context]) -> bool:
        """``_take_slot`` for a task: the loop runs on while it waits."""
        try:
            await self._sem.aacquire(1, ctx)
        except CancelledError:
            raise       # a cancelled wait holds nothing (Semaphore.aacquire's rule)
        except BaseException:
            if ctx is not None and ctx.err() is not None:
                return False
            raise
        return True

    def _take_slot(self, ctx: Optional[Context]) -> bool:
        """Wait for a free slot; False when `ctx` ended first (the task is skipped)."""
        if ctx is None:
            self._sem.acquire()
            return True
        try:
            self._sem.acquire(1, ctx)
        except BaseException:
            if ctx.err() is not None:
                return False
            raise
        return True

    # -- running tasks on an executor --

    def _give_back(self) -> None:
        """A finished (or skipped) task returns its slot and count."""
        self._sem.release()
        self._wg.done()

    def _submit(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """One future per slot, given back when the future completes."""
        ctx, cancel = self._xctx, self._xcancel
        # pickling errors come here, before the wait (_exec is set: only executor pools get here)
        task = self._exec.prepare(ctx, fn, args, kwargs)  # type: ignore[arg-type, union-attr]
        if self._take_slot(self._ctx):
            self._launch_future(task, cancel)

    def _launch_future(self, task: Any, cancel: Any) -> None:
        """Launch a prepared executor task that holds a slot."""
        self._wg.add(1)
        record, give_back = self._record, self._give_back

        def finished(exc: Optional[BaseException], result: Any, cancelled: bool) -> None:
            try:
                if exc is not None:
                    record(exc, cancel)
            finally:
                give_back()

        try:
            started = self._exec.launch(task, finished)  # type: ignore[union-attr]
        except BaseException:
            give_back()
            raise
        if not started:         # the round was already cancelled: skipped
            give_back()

    def _map_submit(self, fn: Callable[[Any], R], items: List[Any]) -> List[R]:
        cancel = self._xcancel
        m = ChunkedMap(self._exec, self._xctx, fn, items, self._max,  # type: ignore[arg-type]
                       lambda exc: self._record(exc, cancel), self._give_back)
        for _ in range(min(self._max, len(m))):
            if not self._take_slot(self._ctx):
                break
            self._wg.add(1)
            m.start_lane()
        self.wait()
        return m.results

    def _reset_round(self) -> None:
        # Called under self._lock by wait(): a pool without ctx= gets a fresh
        # round context once a failure cancelled the last one.
        if self._ctx is not None:
            self._xctx, self._xcancel = self._ctx, self._cancel
            self._exec.visible = self._ctx  # type: ignore[union-attr]
        elif self._xctx.err() is not None:  # type: ignore[union-attr]
            self._xctx, self._xcancel = with_cancel_cause(background())

    def wait(self) -> None:
        """Wait for every task; raise the first exception one raised (or,
        under a context whose parent ended first, ``ctx.err()``), then reset
        so the pool can be used again."""
        self._wg.wait()
        self._waited()

    def _waited(self) -> None:
        """What ``wait`` does once every task is done: report, then reset."""
        with self._lock:
            err, tb = self._err, self._tb
            self._err = self._tb = None
            ctx = self._ctx
            if ctx is not None and ctx.err() is not None:
                if err is None or cause(ctx) is not err:
                    # The parent ended before any task failed.
                    err, tb = ctx.err(), None
                # A fresh child for the next round (a no-op one if the parent is done).
                # (A pool has _ctx exactly when it was given a parent.)
                self._cancel(None)  # type: ignore[misc]
                self._ctx, self._cancel = with_cancel_cause(self._parent)  # type: ignore[arg-type]
            if self._exec is not None:
                self._reset_round()
        if err is not None:
            raise err.with_traceback(tb)

    def map(self, fn: Callable[[Any], R], iterable: Iterable[Any]) -> List[R]:
        """``[fn(x) for x in iterable]`` computed by the pool; results come in
        input order.  Raises the first exception a call raised (after waiting
        for the pool, like ``wait``).

        Example::

            squares = gocore.WorkerPool(4).map(lambda x: x * x, range(10))
        """
        if not callable(fn):
            raise TypeError(f"WorkerPool.map needs a callable, not {type(fn).__name__}")
        items = list(iterable)
        if self._exec is not None:
            return self._map_submit(fn, items)
        n = len(items)
        results: List[Any] = [None] * n
        # Instead of one goroutine per item, up to max_workers goroutines each
        # claim the next index until none are left: the same concurrency
        # bound, without a spawn (and a slot hand-off) per item.
        cursor = AtomicInt(-1)
        next_index = cursor.add
        record = self._record

        def drain(ctx: Optional[Context], cancel: Optional[_CancelCauseFunc]) -> None:
            while True:
                i = next_index(1)
                if i >= n or (ctx is not None and ctx.err() is not None):
                    return
                try:
                    results[i] = fn(items[i])
                except BaseException as exc:
                    record(exc, cancel)

        for _ in range(min(self._max, n)):
            self.go(drain, self._ctx, self._cancel)
        self.wait()
        return results

    def __exit__(self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> Literal[False]:
        if exc_type is None:
            self.wait()
        else:
            try:
                self.wait()
            except BaseException:
                pass        # the block's own exception wins
        return False

    async def __aexit__(self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException],
                        tb: Optional[TracebackType]) -> Literal[False]:
        if exc_type is None:
            await self._await()
        else:
            try:
                await self._await()
            except CancelledError:
                raise       # a new cancellation is not the pool's error: keep it
            except BaseException:
                pass        # the block's own exception wins
        return False

    def __repr__(self) -> str:
        return f"<gocore.WorkerPool max_workers={self._max}>"
