"""Channel pipelines, the seed's generator / fan-out / fan-in / pipe stages.

Each call builds one ``_Stage``: goroutines that receive from the input
channels and send on the stage's own output channels, and that select on
the stage's context at every blocking step, so a cancelled ctx stops them
wherever they wait.  The last goroutine of a stage to leave closes the
outputs; so does each worker of ``fan_out`` for its own output.

Failure travels both ways.  Downstream: a stage that fails (``fn`` raised,
or its input was closed with an error) closes its outputs with that same
exception object, so the next stage's receive raises it and fails in turn,
down to the consumer.  Upstream: a failing stage cancels the stages that
feed it (those built here, found by their output channel), which close
their outputs and stop, so nothing is left producing for a pipeline that is
gone.
"""
from __future__ import annotations

import weakref
from typing import Any, Callable, Iterable, Optional

from gocore._args import check_int
from gocore._gocore import Chan, Mutex, RecvChan, select
from gocore.context import background, context_after_func, with_cancel
from gocore.errors import ClosedChannelError
from gocore.goroutine import go

__all__ = ["generate", "fan_out", "fan_in", "pipe"]

# id(output view) -> the stage that owns it.  The stage holds its views, so
# while an entry exists its id cannot be reused by another object; entries
# vanish with their stage once its goroutines are gone.
_stages: "weakref.WeakValueDictionary[int, _Stage]" = weakref.WeakValueDictionary()


def _close_with(ch: Chan[Any], exc: Optional[BaseException]) -> None:
    """Close ch; with exc, every receive once it is drained raises exc."""
    if exc is None:
        ch.close()
    else:
        ch._close_with(exc)


def _check_cap(cap: Any) -> int:
    return check_int(cap, "cap", 0)


def _check_workers(workers: Any) -> int:
    return check_int(workers, "workers", 1)


def _check_source(source: Any, what: str = "source") -> Any:
    if not hasattr(source, "recv_ok"):
        raise TypeError(f"{what} must be a Chan or RecvChan, not {type(source).__name__}")
    return source


def _try_recv_of(src: Any) -> Optional[Callable[[], tuple[Any, ...]]]:
    """The no-wait receive of the channel behind src, if we can reach it."""
    if isinstance(src, Chan):
        return src._try_recv
    st = _stages.get(id(src))
    if st is not None:
        for out, ch in zip(st.outs, st._chans):
            if out is src:
                return ch._try_recv
    return None


class _Stage:
    def __init__(self, ctx: Any, sources: tuple[Any, ...], cap: int, n_outs: int = 1) -> None:
        self.ctx, self._cancel = with_cancel(ctx if ctx is not None else background())
        self.done = self.ctx.done()
        self._upstream = []
        for src in sources:
            st = _stages.get(id(src))
            if st is not None and any(out is src for out in st.outs):
                self._upstream.append(st)
        self._mu = Mutex()
        self.error: Optional[BaseException] = None   # guarded by _mu; first failure
        # guarded by _mu; starts at 1, the builder's own hold, dropped by
        # launched() once every goroutine is spawned: otherwise one that
        # finishes before the next is spawned (a dispatcher that fits its
        # whole source in the buffers) would end the stage for them all.
        self._running = 1
        self._chans: list[Chan[Any]] = [Chan(cap) for _ in range(n_outs)]
        self._open = [True] * n_outs                   # guarded by _mu
        self.outs: list[RecvChan[Any]] = [ch.recv_only() for ch in self._chans]
        for out in self.outs:
            _stages[id(out)] = self
        # Once the stage's ctx is done its outputs close at once, even while
        # a worker is still inside fn: a consumer's loop ends without
        # waiting for it (the worker's late send is dropped).
        context_after_func(self.ctx, self._close_all)

    # ---- failure and shutdown ----

    def fail(self, exc: BaseException) -> None:
        with self._mu:
            if self.error is None:
                self.error = exc
        self.stop()

    def stop(self) -> None:
        """Cancel this stage and, through the chain, every stage feeding it."""
        self._cancel()
        for up in self._upstream:
            up.stop()

    def close_out(self, i: int) -> None:
        with self._mu:
            if not self._open[i]:
                return
            self._open[i] = False
            err = self.error
        _close_with(self._chans[i], err)

    # ---- goroutines ----

    def spawn(self, fn: Callable[..., None], *args: Any) -> None:
        with self._mu:
            self._running += 1
        go(self._guard, fn, args)

    def _guard(self, fn: Callable[..., None], args: tuple[Any, ...]) -> None:
        try:
            fn(*args)
        except BaseException as exc:
            self.fail(exc)
        finally:
            self._release()

    def launched(self) -> None:
        """The builder has spawned every goroutine of the stage."""
        self._release()

    def _release(self) -> None:
        with self._mu:
            self._running -= 1
            last = self._running == 0
        if last:
            self._close_all()
            self._cancel()       # unlink from the parent ctx: the stage is over

    def _close_all(self) -> None:
        for i in range(len(self._chans)):
            self.close_out(i)

    # ---- channel steps ----

    def send(self, i: int, value: Any) -> bool:
        """Send on output i; False if the stage was cancelled first (the
        no-wait attempt first: the stage's receives watch the ctx)."""
        ch = self._chans[i]
        try:
            return ch._try_send(value) or select((ch.send, value), self.done.recv)[0] == 0
        except ClosedChannelError:         # closed by the cancellation watcher
            return False

    def pump(self, src: Any, fn: Optional[Callable[[Any], Any]], targets: "list[Chan[Any]]") -> None:
        """Move src's items, through fn if given, to the targets (dealt round
        robin) until src is closed and drained or the stage stops.  A source
        closed with an error raises it here (and the stage fails with it).

        When the channel behind src is known (a Chan, or an output of another
        stage) an item that is already there is taken without waiting, after
        a no-wait look at ``done`` (so a busy stage still stops when
        cancelled), and sent without waiting when there is room.  Anything
        else -- nothing ready, closed, cancelled, full -- is decided by a
        select, which also raises a source's close error."""
        done = self.done
        done_recv, done_try = done.recv, done._try_recv
        recv_ok = src.recv_ok
        try_recv = _try_recv_of(src)
        n, k = len(targets), 0
        while True:
            ok = None
            if try_recv is not None:
                item, ok = try_recv()
            if ok:
                if done_try()[1] is not None:      # cancelled
                    return
            else:
                i, got = select(recv_ok, done_recv)
                if i == 1:
                    return
                item, ok = got
                if not ok:
                    return
            if fn is not None:
                item = fn(item)
            ch = targets[k]
            if n > 1:
                k = k + 1 if k + 1 < n else 0
            if not ch._try_send(item):
                try:
                    if select((ch.send, item), done_recv)[0] == 1:
                        return
                except ClosedChannelError:         # closed by the cancellation watcher
                    return


def generate(iterable: Iterable[Any], *, ctx: Any = None, cap: int = 0) -> RecvChan[Any]:
    """The seed's generator: a channel that receives the items of `iterable`,
    then closes (or closes as soon as `ctx` is done).  An exception raised by
    the iterable reaches the consumer's next receive.

    Example::

        for n in gocore.generate(range(3)):
            print(n)
    """
    cap = _check_cap(cap)
    it = iter(iterable)
    stage = _Stage(ctx, (), cap)

    def produce() -> None:
        for item in it:
            if not stage.send(0, item):
                return
    stage.spawn(produce)
    stage.launched()
    return stage.outs[0]


def fan_out(source: Any, workers: int, fn: Callable[[Any], Any], *, ctx: Any = None,
            cap: int = 0) -> "list[RecvChan[Any]]":
    """`workers` goroutines each receive from `source` and send ``fn(item)``
    to their own output channel; returns those channels.

    Example::

        outs = gocore.fan_out(gocore.generate(urls), 4, fetch)
        for page in gocore.fan_in(*outs):
            ...
    """
    _check_source(source)
    workers = _check_workers(workers)
    cap = _check_cap(cap)
    stage = _Stage(ctx, (source,), cap, workers)

    def work(i: int) -> None:
        try:
            stage.pump(source, fn, [stage._chans[i]])
        except BaseException as exc:
            stage.fail(exc)            # before closing: this output carries the error too
        finally:
            stage.close_out(i)
    for i in range(workers):
        stage.spawn(work, i)
    stage.launched()
    return list(stage.outs)


def fan_in(*sources: Any, ctx: Any = None, cap: int = 0) -> RecvChan[Any]:
    """Merge `sources` into one channel, closed once all of them are closed
    and drained (or ctx is done).

    Example::

        merged = gocore.fan_in(gocore.generate("ab"), gocore.generate("cd"))
        assert sorted(merged) == ["a", "b", "c", "d"]
    """
    for src in sources:
        _check_source(src, "each source")
    cap = _check_cap(cap)
    stage = _Stage(ctx, sources, cap)

    for src in sources:
        stage.spawn(stage.pump, src, None, stage._chans)
    stage.launched()                 # no sources: the output closes at once
    return stage.outs[0]


def pipe(source: Any, fn: Callable[[Any], Any], *, workers: int = 1, ordered: bool = True,
         ctx: Any = None, cap: int = 0) -> RecvChan[Any]:
    """A stage: ``fn(item)`` for every item of `source`, on `workers`
    goroutines, sent to the returned channel; in input order if `ordered`
    (finished results wait for a slow one in buffers of 64 per worker), else as they come.

    Example::

        squares = gocore.pipe(gocore.generate(range(10)), lambda x: x * x, workers=4)
        assert list(squares) == [x * x for x in range(10)]
    """
    _check_source(source)
    workers = _check_workers(workers)
    cap = _check_cap(cap)
    stage = _Stage(ctx, (source,), cap)
    if workers == 1 or not ordered:
        for _ in range(workers):
            stage.spawn(stage.pump, source, fn, stage._chans)
    else:
        _ordered_pipe(stage, source, fn, workers)
    stage.launched()
    return stage.outs[0]


def _ordered_pipe(stage: _Stage, source: Any, fn: Callable[[Any], Any], workers: int) -> None:
    """Round robin keeps the order without numbering anything: the dispatcher
    deals item k to worker k % workers, each worker answers on its own
    channel, and the collector takes the answers round robin again.  The
    channels' buffers bound how far the workers run ahead of a slow item.

    When the dispatcher stops it closes the workers' inputs, and each
    worker closes its answers when it stops, so everything after a stop
    drains and ends."""
    depth = 64
    inputs: list[Chan[Any]] = [Chan(depth) for _ in range(workers)]
    answers: list[Chan[Any]] = [Chan(depth) for _ in range(workers)]
    done_recv = stage.done.recv

    def recv(ch: Chan[Any]) -> tuple[Any, ...]:
        got = ch._try_recv()
        if got[1] is None:
            i, got = select(ch.recv_ok, done_recv)
            if i == 1:
                return None, False
        return got

    def dispatch() -> None:
        try:
            stage.pump(source, None, inputs)
        finally:
            for ch in inputs:
                ch.close()

    def work(i: int) -> None:
        try:
            stage.pump(inputs[i], fn, [answers[i]])
        finally:
            answers[i].close()

    def collect() -> None:
        k = 0
        while True:
            value, ok = recv(answers[k])
            if not ok or not stage.send(0, value):
                return
            k = k + 1 if k + 1 < workers else 0

    stage.spawn(dispatch)
    for i in range(workers):
        stage.spawn(work, i)
    stage.spawn(collect)
