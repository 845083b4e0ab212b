"""The one seam between gocore's groups and a ``concurrent.futures`` executor.

``ErrGroup``, ``WorkerPool`` (and the ``mr`` helpers) keep their own
bookkeeping -- slots, the WaitGroup, the first-error record -- and hand each
task to a ``Dispatcher`` instead of ``go()``.  The dispatcher knows the kind
of engine behind the executor:

* in-process (``ThreadPoolExecutor``): tasks and arguments go as they are and
  a task that declares ``ctx`` receives the group's own gocore context;
* out of process (``ProcessPoolExecutor`` and any other executor): the task
  is pickled here first, so a pickling error surfaces at ``go()`` naming the
  task rather than later from the executor's feeder; a ``ctx`` parameter
  gets a ``TaskContext`` backed by a ``multiprocessing`` manager Event;
* dask.distributed (a ``Client`` or its ``get_executor()``): the same, with
  cloudpickle (what dask itself uses) and a ``distributed.Event``.

Cancellation is per *round*: one gocore context and the futures submitted
under it.  When that context ends (the first error cancels it, or its parent
ended) the round cancels every future still in flight -- which stops only
those that have not started: neither a process pool nor a dask worker can
interrupt a running task -- and sets the shared flag a cooperative task can
poll through ``ctx.err()``.
"""
from __future__ import annotations

import importlib
import inspect
import pickle
import threading
import traceback
import uuid
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, Callable, Dict, List, Optional, Tuple

from gocore._gocore import AtomicInt, Chan
from gocore.context import Context, context_after_func
from gocore.errors import Canceled
from gocore.goroutine import go

__all__ = ["ChunkedMap", "Dispatcher", "RemoteTraceback", "TaskContext", "TaskPicklingError"]


class RemoteTraceback(Exception):
    """The text of a traceback from another process or machine, attached as
    the ``__cause__`` of the task's exception (as ``ProcessPoolExecutor``
    already does with its own private class)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.tb = text

    def __str__(self) -> str:
        return self.tb


class TaskPicklingError(pickle.PicklingError, TypeError, AttributeError):
    """A task bound for another process could not be pickled.  It is a
    PicklingError, and also a TypeError and AttributeError, the types pickle
    itself raises for unpicklable objects and local functions, so code
    written against either keeps working."""


# ---- the context a remote task receives ----

class TaskContext:
    """What a task running in another process receives for its ``ctx``
    parameter: ``err()`` is None until the group is cancelled, then a
    ``Canceled``.  Each ``err()`` asks the engine's shared flag (an IPC round
    trip), so poll it between units of work, not in a tight loop.  Once seen
    set it is remembered: cancellation never goes back."""

    __slots__ = ("_flag", "_seen")

    def __init__(self, flag: Any) -> None:
        self._flag = flag
        self._seen = False

    def err(self) -> Optional[BaseException]:
        if not self._seen:
            if not self._flag.is_set():
                return None
            self._seen = True
        return Canceled()

    def deadline(self) -> None:
        return None

    def value(self, key: Any) -> None:
        return None

    def __reduce__(self) -> Tuple[Any, ...]:
        return (TaskContext, (self._flag,))

    def __repr__(self) -> str:
        return f"<gocore.TaskContext canceled={self._seen}>"


class _DaskFlag:
    """A ``distributed.Event`` known by name, so it pickles to a worker and
    reconnects there through the worker's own client."""

    __slots__ = ("name", "_event")

    def __init__(self, name: str, event: Any = None) -> None:
        self.name = name
        self._event = event

    def _get(self) -> Any:
        if self._event is None:
            self._event = _distributed("distributed").Event(self.name)
        return self._event

    def is_set(self) -> bool:
        return bool(self._get().is_set())

    def set(self) -> None:
        self._get().set()

    def __reduce__(self) -> Tuple[Any, ...]:
        return (_DaskFlag, (self.name,))


def _distributed(name: str) -> Any:
    """A module of dask.distributed, imported on first use: an optional
    engine, so the type checker must not need it installed."""
    return importlib.import_module(name)


# One manager per (process, start method), started the first time a remote
# task asks for a ctx and kept for the life of the process: starting one is a
# process spawn, too slow to pay per group, and its Events are cheap.
_managers: Dict[Tuple[int, str], Any] = {}
_managers_lock = threading.Lock()


def _manager_event(mp_context: Any) -> Any:
    import multiprocessing
    import os
    if mp_context is None:
        mp_context = multiprocessing.get_context()
    key = (os.getpid(), mp_context.get_start_method())
    with _managers_lock:
        manager = _managers.get(key)
        if manager is None:
            manager = _managers[key] = mp_context.Manager()
    return manager.Event()


# ---- what runs on the far side ----

def _call(fn: Callable[..., Any], args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
    return fn(*args, **kwargs)


def _run_chunk(fn: Callable[..., Any], items: List[Any], kwargs: Dict[str, Any]) -> List[Any]:
    """One ``map`` chunk: the calls in order; the first exception ends the
    chunk, so the items after it are never started."""
    return [fn(item, **kwargs) for item in items]


def _run_mapper(mapper: Callable[..., Any], item: Any, kwargs: Dict[str, Any]) -> Tuple[List[Any], List[Any]]:
    """A ``map_reduce`` mapper on the far side: ``emit`` collects, and a
    ``cancel(exc)`` is recorded, not acted on (the group lives in the
    submitting process); both travel back with the result."""
    emitted: List[Any] = []
    cancels: List[Any] = []

    def cancel(exc: Optional[BaseException] = None) -> None:
        if not cancels:
            cancels.append(exc)

    mapper(item, emitted.append, cancel, **kwargs)
    return emitted, cancels


# ---- engines ----

def _is_dask(executor: Any, names: Tuple[str, ...]) -> bool:
    cls = type(executor)
    return cls.__module__.split(".")[0] == "distributed" and cls.__name__ in names


class _Backend:
    """An in-process engine: no pickling, the task gets the gocore ctx."""

    in_process = True
    # Whether completion callbacks run on an event loop that must not submit
    # (dask's): work they start then hops to a goroutine.
    callbacks_on_loop = False

    def __init__(self, executor: Executor) -> None:
        self.executor = executor

    def prepare(self, fn: Callable[..., Any], args: Tuple[Any, ...], kwargs: Dict[str, Any], name: str) -> Any:
        return (fn, args, kwargs)

    def submit(self, call: Any, name: str) -> Future[Any]:
        fn, args, kwargs = call
        return self.executor.submit(fn, *args, **kwargs)

    def new_flag(self) -> Any:      # pragma: no cover - in-process tasks get the real ctx
        raise AssertionError("in-process tasks receive the group's context")


class _ProcessBackend(_Backend):
    in_process = False

    def __init__(self, executor: Executor) -> None:
        super().__init__(executor)
        # The pool's own start method, so the manager is as safe to start as the pool's workers.
        self._mp_context = getattr(executor, "_mp_context", None)

    def dumps(self, obj: Any) -> bytes:
        return pickle.dumps(obj, pickle.HIGHEST_PROTOCOL)

    def prepare(self, fn: Callable[..., Any], args: Tuple[Any, ...], kwargs: Dict[str, Any], name: str) -> Any:
        # The check is a full pickling whose bytes are dropped: submitting
        # them instead would make the worker unpickle twice (the executor's
        # wrapper, then ours), and that copy is on its critical path, while
        # this one runs here before the slot is even free.
        try:
            self.dumps((fn, args, kwargs))
        except Exception as exc:
            raise _pickling_error(self.dumps, fn, args, kwargs, name, exc) from exc
        return (fn, args, kwargs)

    def new_flag(self) -> Any:
        event = _manager_event(self._mp_context)
        return event, event.set


class _DaskBackend(_ProcessBackend):
    callbacks_on_loop = True

    def __init__(self, executor: Executor, client: Any) -> None:
        super().__init__(executor)
        self._client = client
        self._dumps: Callable[[Any], bytes] = _distributed("distributed.protocol.pickle").dumps

    def dumps(self, obj: Any) -> bytes:
        return self._dumps(obj)

    def submit(self, call: Any, name: str) -> Future[Any]:
        # pure=False: two identical go() calls are two tasks, as in Go (dask
        # would otherwise merge them into one key); the key keeps the task's
        # name visible on the dashboard.
        # Through _call, so a task keyword named like one of submit's own
        # (key, workers, retries, ...) still reaches the task.
        return self.executor.submit(_call, *call, pure=False,  # type: ignore[call-arg]   # dask's submit
                                    key=f"{name}-{uuid.uuid4().hex}")

    def new_flag(self) -> Any:
        name = f"gocore-cancel-{uuid.uuid4().hex}"
        flag = _DaskFlag(name, _distributed("distributed").Event(name, client=self._client))
        return flag, flag.set


def _pickling_error(dumps: Callable[[Any], bytes], fn: Any, args: Tuple[Any, ...], kwargs: Dict[str, Any],
                    name: str, exc: BaseException) -> TaskPicklingError:
    """Name the part that failed: the function itself, one argument, or (for
    a map chunk) one item."""
    if fn is _run_chunk:
        fn, items = args[0], args[1]
        parts = [("the function", fn)] + [("an item", x) for x in items]
    elif fn is _run_mapper:
        parts = [("the mapper", args[0]), ("the item", args[1])]
    else:
        parts = [("the function", fn)] + [(f"argument {i}", a) for i, a in enumerate(args)]
        parts += [(f"keyword argument {k!r}", v) for k, v in kwargs.items()]
    what = "its arguments"
    for label, part in parts:
        try:
            dumps(part)
        except Exception:
            what = label
            break
    return TaskPicklingError(
        f"task {name} cannot be sent to the executor: {what} cannot be pickled ({type(exc).__name__}: {exc})"
    )


def _backend_for(executor: Any) -> _Backend:
    if _is_dask(executor, ("Client",)):
        return _DaskBackend(executor.get_executor(), executor)
    if _is_dask(executor, ("ClientExecutor",)):
        return _DaskBackend(executor, executor._client)
    if isinstance(executor, ThreadPoolExecutor):
        return _Backend(executor)
    if isinstance(executor, ProcessPoolExecutor) or isinstance(executor, Executor):
        return _ProcessBackend(executor)
    raise TypeError(
        f"executor must be a concurrent.futures.Executor or a dask.distributed Client, "
        f"not {type(executor).__name__}"
    )


# ---- the ctx parameter ----

# fn -> its signature if it declares a ``ctx`` parameter, else None (bounded: cleared when full).
_ctx_signatures: Dict[Any, Optional[inspect.Signature]] = {}
_NOT_CACHED = object()


def _ctx_signature(fn: Callable[..., Any]) -> Optional[inspect.Signature]:
    try:
        sig = _ctx_signatures.get(fn, _NOT_CACHED)
    except TypeError:           # unhashable callable
        sig = _NOT_CACHED
    if sig is not _NOT_CACHED:
        return sig  # type: ignore[return-value]
    try:
        sig = inspect.signature(fn)
        param = sig.parameters.get("ctx")
    except (TypeError, ValueError):     # builtins without a signature
        sig, param = None, None
    if param is None or param.kind not in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
        sig = None
    try:
        if len(_ctx_signatures) >= 1024:
            _ctx_signatures.clear()
        _ctx_signatures[fn] = sig
    except TypeError:
        pass
    return sig


def _wants_ctx(fn: Callable[..., Any], args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> bool:
    """Whether `fn` declares a ``ctx`` parameter the call leaves unfilled."""
    if "ctx" in kwargs:
        return False
    sig = _ctx_signature(fn)
    if sig is None:
        return False
    try:
        return "ctx" not in sig.bind_partial(*args, **kwargs).arguments
    except TypeError:
        return True


def task_name(fn: Any) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__


def remote_traceback(exc: BaseException) -> BaseException:
    """Make sure an exception from another process carries its traceback text
    as ``__cause__``.  ProcessPoolExecutor already attaches one; dask brings
    the frames back on ``__traceback__``, which we turn into the same text."""
    cause = exc.__cause__
    if cause is not None and type(cause).__name__ in ("RemoteTraceback", "_RemoteTraceback"):
        return exc
    if exc.__traceback__ is not None and cause is None:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        exc.__cause__ = RemoteTraceback(f'\n"""\n{text}"""')
    return exc


# ---- rounds and the dispatcher ----

Done = Callable[[Optional[BaseException], Any, bool], None]


class _Round:
    """The futures submitted under one context.  Invariant: once `stopped`
    is set (under `lock`), no future is added to `inflight`, and every future
    that was in it has been (or is being) cancelled."""

    __slots__ = ("backend", "ctx", "lock", "inflight", "stopped", "flag", "set_flag", "__weakref__")

    def __init__(self, backend: _Backend, ctx: Context) -> None:
        self.backend = backend
        self.ctx = ctx
        self.lock = threading.Lock()
        self.inflight: set[Future[Any]] = set()
        self.stopped = False
        self.flag: Any = None
        self.set_flag: Optional[Callable[[], Any]] = None
        context_after_func(ctx, self.stop)

    def stop(self) -> None:
        # Runs in a goroutine (context_after_func), never on an engine's
        # callback thread: cancelling a dask future from its event loop thread
        # would deadlock, and setting the shared flag is an IPC round trip.
        with self.lock:
            self.stopped = True
            pending = list(self.inflight)
            set_flag = self.set_flag
        for fut in pending:
            # A process pool refuses to cancel a running (or prefetched)
            # future, so wait() still waits for it.  A dask future cancels
            # whether or not it runs: its result is dropped at once and the
            # worker finishes the call in the background.
            fut.cancel()
        if set_flag is not None:    # after the cancels: an IPC round trip must not delay them
            set_flag()

    def task_ctx(self) -> Any:
        if self.backend.in_process:
            return self.ctx
        if self.flag is None:
            flag, set_flag = self.backend.new_flag()    # may start a process: outside the lock
            with self.lock:
                if self.flag is None:
                    self.flag, self.set_flag = flag, set_flag
                stopped = self.stopped
            if stopped:     # stop() ran before the flag existed: it could not set it
                self.set_flag()
        return TaskContext(self.flag)


class _Task:
    __slots__ = ("round", "call", "name")

    def __init__(self, rnd: _Round, call: Any, name: str) -> None:
        self.round, self.call, self.name = rnd, call, name


class Dispatcher:
    """Submits a group's tasks to one executor (see the module docstring)."""

    __slots__ = ("backend", "visible", "_round", "_lock")

    def __init__(self, executor: Any) -> None:
        self.backend = _backend_for(executor)
        # The context the group hands its user (ErrGroup.with_context's ctx,
        # WorkerPool.ctx): passed as an argument to a remote task, where it
        # could not be pickled, it travels as the round's TaskContext.
        self.visible: Optional[Context] = None
        self._round: Optional[_Round] = None
        self._lock = threading.Lock()

    def round_for(self, ctx: Context) -> _Round:
        with self._lock:
            rnd = self._round
            if rnd is None or rnd.ctx is not ctx:
                rnd = self._round = _Round(self.backend, ctx)
            return rnd

    def prepare(self, ctx: Context, fn: Callable[..., Any], args: Tuple[Any, ...], kwargs: Dict[str, Any],
                name: Optional[str] = None) -> "_Task":
        """Everything about a task that needs no slot: the ``ctx`` argument
        and the pickling (so a pickling error is raised here, naming the
        task, before anything is submitted; and a pool's next payload is
        ready while its workers are still busy)."""
        rnd = self.round_for(ctx)
        if name is None:
            name = task_name(fn)
        if _wants_ctx(fn, args, kwargs):
            kwargs = dict(kwargs, ctx=rnd.task_ctx())
        visible = self.visible
        if visible is not None and not self.backend.in_process:
            if any(a is visible for a in args):
                proxy = rnd.task_ctx()
                args = tuple(proxy if a is visible else a for a in args)
            if any(v is visible for v in kwargs.values()):
                proxy = rnd.task_ctx()
                kwargs = {k: proxy if v is visible else v for k, v in kwargs.items()}
        return _Task(rnd, self.backend.prepare(fn, args, kwargs, name), name)

    def prepare_chunk(self, ctx: Context, fn: Callable[..., Any], items: List[Any]) -> "_Task":
        kwargs: Dict[str, Any] = {}
        if _wants_ctx(fn, (None,), {}):
            kwargs["ctx"] = self.round_for(ctx).task_ctx()
        return self.prepare(ctx, _run_chunk, (fn, items, kwargs), {}, task_name(fn))

    def prepare_mapper(self, ctx: Context, mapper: Callable[..., Any], item: Any) -> "_Task":
        """A ``map_reduce`` mapper call; the result is ``(emitted, cancels)``,
        see ``_run_mapper``."""
        kwargs: Dict[str, Any] = {}
        if _wants_ctx(mapper, (None, None, None), {}):
            kwargs["ctx"] = self.round_for(ctx).task_ctx()
        return self.prepare(ctx, _run_mapper, (mapper, item, kwargs), {}, task_name(mapper))

    def launch(self, task: "_Task", done: Done) -> bool:
        """Submit a prepared task; `done(exc, result, cancelled)` is called
        exactly once when it ends, from the engine's callback thread.
        Returns False (and never calls `done`) when its round is already
        stopped: the task is skipped."""
        rnd = task.round
        # ctx.err() as well as `stopped`: the context is cancelled
        # synchronously by the first failure, stop() only later, from a
        # goroutine, and a task submitted in between must be skipped too.
        ctx = rnd.ctx
        if rnd.stopped or ctx.err() is not None:
            return False
        backend = self.backend
        fut = backend.submit(task.call, task.name)
        with rnd.lock:
            late = rnd.stopped or ctx.err() is not None
            if not late:
                rnd.inflight.add(fut)
        if late:
            fut.cancel()
        in_process = backend.in_process

        def finished(f: Future[Any]) -> None:
            with rnd.lock:
                rnd.inflight.discard(f)
            if f.cancelled():
                done(None, None, True)
                return
            exc = f.exception()
            if exc is not None:
                done(exc if in_process else remote_traceback(exc), None, False)
            else:
                done(None, f.result(), False)

        fut.add_done_callback(finished)
        return True

    def run(self, task: "_Task") -> Any:
        """Submit a prepared task and wait for it: its result, or its
        exception raised (remote traceback attached).  A task skipped or
        cancelled because its round stopped raises the round's ``ctx.err()``.
        For callers that hold one goroutine per in-flight task (the ``mr``
        mappers): the goroutine blocks here, the engine does the work."""
        box: Chan[Tuple[Optional[BaseException], Any, bool]] = Chan(1)   # the callback's send never blocks
        if not self.launch(task, lambda exc, result, cancelled: box.send((exc, result, cancelled))):
            raise task.round.ctx.err() or Canceled()
        exc, result, cancelled = box.recv()  # type: ignore[misc]   # never closed: never None
        if cancelled:
            raise task.round.ctx.err() or Canceled()
        if exc is not None:
            raise exc
        return result

    def map_chunks(self, n: int, workers: int) -> List[Tuple[int, int]]:
        """Split n items into contiguous chunks, large first (factoring, as
        OpenMP's guided schedules): each batch of `workers` chunks takes
        half of what is left, down to a floor of n / (16 * workers).

        With at most one future in flight per slot, a worker idles for one
        round trip (result back, next chunk over) between its chunks, and
        that transfer does not overlap its work (plain ``executor.map``
        prefetches instead, which the in-flight bound rules out).  So there
        must be few chunks -- about five per worker here, paying five round
        trips -- while the small last ones keep the workers finishing
        together.  Sixteen equal chunks per worker measured up to 2x slower
        on a loaded box, where a round trip costs tens of milliseconds."""
        chunks: List[Tuple[int, int]] = []
        floor = max(1, -(-n // (16 * workers)))
        start = 0
        while start < n:
            size = max(floor, -(-(n - start) // (2 * workers)))
            for _ in range(workers):
                if start >= n:
                    break
                end = min(start + size, n)
                chunks.append((start, end))
                start = end
        return chunks


class _Lane:
    """One chain of chunk futures holding one slot.  `launching` and
    `again` (under `lock`) hand a completion that arrives while its own
    launch is still in progress back to the launching loop, instead of
    recursing (a future may complete before add_done_callback returns)."""

    __slots__ = ("lock", "launching", "again")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.launching = False
        self.again = False


class ChunkedMap:
    """``map`` over an executor.  Every chunk is prepared (pickled) before
    the first is submitted, so a pickling error leaves nothing running.
    Then each of the caller's slots becomes a lane: when a lane's chunk
    completes, its completion callback submits the lane's next chunk right
    there, on the engine's callback thread, without a hop back to the
    caller -- the slot passes from chunk to chunk, so at most one future
    per slot is ever in flight."""

    def __init__(self, dispatcher: "Dispatcher", ctx: Context, fn: Callable[..., Any], items: List[Any],
                 workers: int, on_error: Callable[[BaseException], None], lane_done: Callable[[], None]) -> None:
        self._dispatcher = dispatcher
        self._ctx = ctx
        self._chunks = [(start, dispatcher.prepare_chunk(ctx, fn, items[start:end]))
                        for start, end in dispatcher.map_chunks(len(items), workers)]
        self.results: List[Any] = [None] * len(items)
        self._cursor = AtomicInt(-1)
        self._on_error = on_error
        self._lane_done = lane_done
        self._hop = dispatcher.backend.callbacks_on_loop

    def __len__(self) -> int:
        return len(self._chunks)

    def start_lane(self) -> None:
        """Run one lane; the caller has taken its slot, `lane_done` gives it back."""
        self._run(_Lane())

    def _run(self, lane: _Lane) -> None:
        launch, chunks, ctx = self._dispatcher.launch, self._chunks, self._ctx
        while True:
            i = self._cursor.add(1)
            if i >= len(chunks) or ctx.err() is not None:
                self._lane_done()
                return
            start, task = chunks[i]
            with lane.lock:
                lane.launching, lane.again = True, False
            try:
                started = launch(task, lambda exc, result, cancelled, start=start:  # type: ignore[misc]
                                 self._finished(lane, start, exc, result, cancelled))
            except BaseException as exc:    # e.g. the executor was shut down
                self._on_error(exc)
                self._lane_done()
                return
            with lane.lock:
                lane.launching = False
                again = lane.again
            if started and not again:
                return      # the completion callback carries the lane on

    def _finished(self, lane: _Lane, start: int, exc: Optional[BaseException], result: Any,
                  cancelled: bool) -> None:
        if exc is not None:
            self._on_error(exc)
        elif not cancelled:
            self.results[start:start + len(result)] = result
        with lane.lock:
            if lane.launching:
                lane.again = True
                return
        if self._hop:
            go(self._run, lane)
        else:
            self._run(lane)


# ---- the mr seam: call(item) functions for map_reduce / for_each ----

def remote_mapper(dispatcher: Dispatcher, ctx: Context, mapper: Callable[..., Any],
                  emit: Callable[[Any], None], cancel: Callable[..., None]) -> Callable[[Any], None]:
    """``call(item)`` that runs ``mapper(item, emit, cancel)`` on the
    executor and replays, here, what it emitted and a ``cancel(exc)`` it
    called; the mapper goroutine calling it waits for the result."""
    def call(item: Any) -> None:
        emitted, cancels = dispatcher.run(dispatcher.prepare_mapper(ctx, mapper, item))
        for value in emitted:
            emit(value)
        if cancels:
            cancel(cancels[0])
    return call


def remote_call(dispatcher: Dispatcher, ctx: Context, fn: Callable[[Any], Any]) -> Callable[[Any], None]:
    """``call(item)`` that runs ``fn(item)`` on the executor and waits (``for_each``)."""
    def call(item: Any) -> None:
        dispatcher.run(dispatcher.prepare(ctx, fn, (item,), {}))
    return call
