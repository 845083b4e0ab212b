"""go-zero's ``core/mr``: ``finish``, ``map_reduce`` and ``for_each``.

Stages talk over gocore channels: the generator goroutine sends items on
`source` (unbuffered), up to `workers` mapper goroutines receive them and
send mapped values on `collector`, which the reducer (run by the caller's
thread) consumes.  Every blocking step selects on the run's ``done``
channel too, so when one stage fails (an exception, ``cancel(exc)``) or the
caller's ctx ends, every other stage stops at its next step; the caller
then waits for all of them (nothing is left running after return) and
raises the first error.

The mappers are started by ``_start_mappers`` alone.  With ``executor=``
they stay goroutines, but each one's ``call(item)`` submits the mapper to
the executor and waits for it (``_executor.remote_mapper``): `workers`
bounds the futures in flight, and the run's context is the one whose end
cancels those not started.
"""
from __future__ import annotations

import inspect
from types import TracebackType
from typing import Any, Callable, Iterator, Optional

from gocore._executor import Dispatcher, remote_call, remote_mapper
from gocore._gocore import AtomicInt, Chan, Mutex, WaitGroup, select
from gocore.context import background, with_cancel
from gocore.errors import Canceled
from gocore.pipeline import _check_workers

__all__ = ["finish", "map_reduce", "for_each"]


class _Stopped(BaseException):
    """Unwinds a stage whose run has stopped (raised by emit and by the
    reducer's item iterator).  A BaseException so that user code catching
    ``Exception`` does not swallow it."""


class _Run:
    """One run's shared fate: the first error, the run's context (cancelled
    by that error) and its goroutines."""

    def __init__(self, parent: Any) -> None:
        self.parent = parent
        self.ctx, self._cancel = with_cancel(parent if parent is not None else background())
        self.done = self.ctx.done()
        self.wg = WaitGroup()
        self._mu = Mutex()
        self.error: Optional[BaseException] = None   # guarded by _mu
        self._closed = False                          # guarded by _mu: outcome decided

    def fail(self, exc: BaseException) -> None:
        """Record exc as the run's error unless one came first; stop every stage."""
        with self._mu:
            if self.error is None and not self._closed:
                # A caller's ctx that already ended came first: its error wins.
                parent_err = self.parent.err() if self.parent is not None else None
                self.error = parent_err if parent_err is not None else exc
        self._cancel()

    def cancel_with(self, exc: Optional[BaseException] = None) -> None:
        """The ``cancel`` handed to mappers and reducers (go-zero's cancel(err))."""
        self.fail(exc if exc is not None else Canceled("map_reduce cancelled with no error"))

    def close(self) -> None:
        """Decide the outcome now (later failures are stragglers of a run that
        is over) and stop what is still running."""
        with self._mu:
            self._closed = True
            if self.error is None and self.parent is not None:
                self.error = self.parent.err()
        self._cancel()

    def __enter__(self) -> "_Run":
        return self

    def __exit__(self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        """Every run ends here: decide the outcome, wait for every goroutine,
        then raise the run's error (the body's own exception wins over it)."""
        self.close()
        self.wg.wait()
        if exc_type is None and self.error is not None:
            raise self.error

    def go(self, fn: Callable[..., None], *args: Any) -> None:
        self.wg.go(self._guard, fn, args)

    def _guard(self, fn: Callable[..., None], args: tuple[Any, ...]) -> None:
        try:
            fn(*args)
        except _Stopped:
            pass
        except BaseException as exc:
            self.fail(exc)

    def sender(self, ch: Chan[Any]) -> Callable[[Any], None]:
        """emit(v): send v on ch unless the run stops first (then unwind)."""
        done = self.done

        def emit(item: Any) -> None:
            if select((ch.send, item), done.recv)[0] == 1:
                raise _Stopped
        return emit

    def receive(self, ch: Chan[Any]) -> Iterator[Any]:
        """ch's values until it is closed; unwinds if the run stops first."""
        done = self.done
        while True:
            i, got = select(ch.recv_ok, done.recv)
            if i == 1:
                raise _Stopped
            item, ok = got
            if not ok:
                return
            yield item


def _start_generator(run: _Run, generate: Callable[[Callable[[Any], None]], Any]) -> Chan[Any]:
    source: Chan[Any] = Chan(0)

    def produce() -> None:
        try:
            generate(run.sender(source))
        except _Stopped:
            pass
        except BaseException as exc:
            # Recorded before the source closes: once it is closed the
            # reducer may finish and the outcome be decided without it.
            run.fail(exc)
        finally:
            source.close()
    run.go(produce)
    return source


def _start_mappers(run: _Run, source: Chan[Any], call: Callable[[Any], Any], workers: int,
                   on_exit: Optional[Callable[[], None]] = None) -> None:
    """Run call(item) for every item of source on `workers` goroutines of
    `run`; on_exit() runs once after the last of them has stopped."""
    remaining = AtomicInt(workers)

    def work() -> None:
        try:
            for item in run.receive(source):
                call(item)
        except _Stopped:
            pass
        except BaseException as exc:
            run.fail(exc)            # before on_exit() can close the collector (see produce)
        finally:
            if remaining.add(-1) == 0 and on_exit is not None:
                on_exit()
    for _ in range(workers):
        run.go(work)


def map_reduce(generate: Callable[[Callable[[Any], None]], Any],
               mapper: Callable[[Any, Callable[[Any], None], Callable[..., None]], Any],
               reducer: Callable[[Iterator[Any], Callable[[Any], None], Callable[..., None]], Any],
               *, workers: int = 16, ctx: Any = None, executor: Any = None) -> Any:
    """go-zero's ``mr.MapReduce``: ``generate(emit)`` produces items;
    ``mapper(item, emit, cancel)`` runs on up to `workers` goroutines and
    emits mapped values (or none, to drop the item); ``reducer(items, emit,
    cancel)`` consumes them and emits the one result, which is returned.

    An exception in any stage, or ``cancel(exc)``, stops every stage and is
    raised; with `ctx`, a ctx that ends first raises ``ctx.err()``.

    With ``executor=`` (a ``concurrent.futures.Executor`` or a dask
    ``Client``) the mapper runs there, at most `workers` calls in flight:
    what it emits comes back with its result (so emitted values must be
    picklable, as the mapper and its item must be) and a ``cancel(exc)`` it
    calls stops the run here.  Generator and reducer stay in this process.
    A failure cancels the mapper calls not yet started; one already running
    in another process or on a dask worker cannot be stopped.

    Example::

        def generate(emit):
            for uid in uids:
                emit(uid)

        def mapper(uid, emit, cancel):
            user = load(uid)
            if user.active:
                emit(user)

        def reducer(users, emit, cancel):
            emit({u.id: u for u in users})

        active = gocore.map_reduce(generate, mapper, reducer, workers=8)
    """
    workers = _check_workers(workers)
    dispatcher = None if executor is None else Dispatcher(executor)
    collector: Chan[Any] = Chan(workers)
    results: list[Any] = []

    def emit_result(value: Any) -> None:
        if results:
            raise RuntimeError("map_reduce: the reducer emitted more than one result")
        results.append(value)

    with _Run(ctx) as run:
        mapped = run.sender(collector)
        source = _start_generator(run, generate)
        if dispatcher is None:
            call: Callable[[Any], Any] = lambda item: mapper(item, mapped, run.cancel_with)  # noqa: E731
        else:
            call = remote_mapper(dispatcher, run.ctx, mapper, mapped, run.cancel_with)
        _start_mappers(run, source, call, workers, collector.close)
        try:
            reducer(run.receive(collector), emit_result, run.cancel_with)
        except _Stopped:
            pass
        except BaseException as exc:
            run.fail(exc)
    if not results:
        raise RuntimeError("map_reduce: the reducer emitted no result")
    return results[0]


def for_each(generate: Callable[[Callable[[Any], None]], Any], mapper: Callable[[Any], Any],
             *, workers: int = 16, ctx: Any = None, executor: Any = None) -> None:
    """go-zero's ``mr.ForEach``: ``generate(emit)`` produces items and
    ``mapper(item)`` handles each on up to `workers` goroutines.  The first
    exception stops every stage and is raised; with `ctx`, a ctx that ends
    first raises ``ctx.err()``.  With ``executor=`` the mapper runs there,
    at most `workers` calls in flight (see ``map_reduce``).

    Example::

        gocore.for_each(lambda emit: [emit(p) for p in paths], index_file, workers=4)
    """
    workers = _check_workers(workers)
    dispatcher = None if executor is None else Dispatcher(executor)
    with _Run(ctx) as run:
        source = _start_generator(run, generate)
        call = mapper if dispatcher is None else remote_call(dispatcher, run.ctx, mapper)
        _start_mappers(run, source, call, workers)
        run.wg.wait()


def _declares_ctx(fn: Callable[..., Any]) -> bool:
    try:
        param = inspect.signature(fn).parameters.get("ctx")
    except (TypeError, ValueError):       # builtins without a signature
        return False
    return param is not None and param.kind in (
        inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def finish(*fns: Callable[..., Any], ctx: Any = None) -> None:
    """go-zero's ``mr.Finish``: run every function concurrently and wait for
    all.  A function that declares a ``ctx`` parameter is called with
    ``ctx=`` a context cancelled by the first exception, which is raised once
    all have returned; with `ctx`, one that ends first raises ``ctx.err()``.

    Example::

        gocore.finish(load_user, load_orders, lambda ctx: load_cart(ctx))
    """
    for fn in fns:
        if not callable(fn):
            raise TypeError(f"finish needs callables, not {type(fn).__name__}")
    with _Run(ctx) as run:
        for fn in fns:
            if _declares_ctx(fn):
                run.go(lambda f=fn: f(ctx=run.ctx))
            else:
                run.go(fn)
        run.wg.wait()
