"""Go's context package: cancellation, deadlines and request-scoped values
that flow down a tree of contexts.

A context is immutable from the outside; it is derived from a parent with
``with_cancel``, ``with_deadline``, ``with_timeout``, ``with_value`` or
``without_cancel``, and cancelling a parent cancels every descendant before
``cancel()`` returns.

Layout (one lock per cancellable node, nothing else shared):

* ``_CancelCtx`` keeps ``_err`` / ``_cause`` (set once, under ``_mu``), a
  lazily made ``done`` channel, a dict of registered children and ``_owner``,
  the ancestor node it is registered with (to unlink itself when cancelled
  first, so a cancelled child is garbage as soon as the caller drops it).
* ``_TimerCtx`` adds a deadline armed on the shared timer thread; cancelling
  stops the timer, which drops the timer's reference to the node.
* ``_ValueCtx`` and ``_WithoutCancelCtx`` have no state of their own.
* Children are anything with ``_parent_canceled(err, cause)``: cancel nodes,
  ``context_after_func`` registrations and the core's Semaphore hook.

Cancellation walks the subtree iteratively (no recursion limit on deep
trees) and takes one node's lock at a time, so no lock order exists to get
wrong; a child registering concurrently either lands in the dict before the
parent's cancel takes it (and is cancelled with the rest) or sees the
parent's error under the parent's lock (and cancels itself).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, Optional, Protocol, Tuple

from gocore import _clock, _gocore
from gocore._gocore import Chan as _Chan, Mutex as _Lock, nilchan as _nilchan
from gocore._gocore import (_ctx_add_child, _ctx_cancel_tree, _ctx_cause, _ctx_claim, _ctx_done,
                            _ctx_mark, _ctx_remove_child, _ctx_set_timer, _ctx_take_timer)
from gocore.errors import Canceled, DeadlineExceeded
from gocore.goroutine import go

if TYPE_CHECKING:
    from gocore.timers import Seconds, _Entry

__all__ = [
    "Context",
    "background",
    "todo",
    "with_cancel",
    "with_cancel_cause",
    "with_deadline",
    "with_timeout",
    "with_value",
    "without_cancel",
    "context_after_func",
    "cause",
]

# The per-node lock is a gocore Mutex: a third of the cost of a
# threading.Lock to create and cheaper to take, which matters at ~1 us per
# with_cancel + cancel.  It is only ever held inside the core's _ctx_*
# functions (ctx_locked.pxi), never across bytecode here: a `with` block
# can be interrupted by a signal handler just after it took the lock.


def _new_canceled() -> Canceled:
    # Same instance Canceled() would make (args = the default message), minus
    # the Python-level __init__ call: this runs on every cancel.
    return Canceled.__new__(Canceled, "context canceled")


# ctx.value(_CANCEL_KEY) returns the nearest cancellable ancestor node (our
# own contexts answer it; a user's wrapper context that delegates value()
# passes it through), which is how Go's parentCancelCtx finds the node to
# register with beneath a foreign wrapper.
_CANCEL_KEY = object()

# A registered child: a cancel node, a context_after_func registration or the
# core's Semaphore hook; each has _parent_canceled(err, cause) and _owner.
_Child = Any
_Children = Dict[_Child, None]


class _CancelCauseFunc(Protocol):
    def __call__(self, cause: Optional[BaseException] = None) -> None: ...


class Context:
    """The context interface (for annotations and for your own contexts).

    Every context has ``deadline() -> float | None`` (a ``time.monotonic()``
    value), ``done() -> Chan`` (closed when the context ends; never closed for
    ``background()``), ``err() -> Canceled | DeadlineExceeded | None`` and
    ``value(key)``.  A class of your own that implements these four methods
    (for instance by wrapping a gocore context) can be used as a parent.

    Example::

        def handle(ctx: gocore.Context, req) -> None:
            if ctx.err() is not None:
                return
            user = ctx.value("user")
    """

    __slots__ = ()

    def deadline(self) -> Optional[float]:
        raise NotImplementedError

    def done(self) -> _Chan[None]:
        raise NotImplementedError

    def err(self) -> Optional[BaseException]:
        raise NotImplementedError

    def value(self, key: Any) -> Any:
        raise NotImplementedError


# ---- the two roots ----

class _NeverDone(Context):
    """A context that is never cancelled and has no deadline."""
    __slots__ = ()

    def deadline(self) -> None:
        return None

    def done(self) -> _Chan[None]:
        return _nilchan                 # nilchan: never ready, as Go's nil channel

    def err(self) -> None:
        return None


class _EmptyCtx(_NeverDone):
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def value(self, key: Any) -> None:
        return None

    def __str__(self) -> str:
        return self._name

    __repr__ = __str__


_background = _EmptyCtx("context.Background")
_todo = _EmptyCtx("context.TODO")


def background() -> Context:
    """The root context: never cancelled, no deadline, no values.

    Example::

        ctx, cancel = gocore.with_timeout(gocore.background(), 5.0)
    """
    return _background


def todo() -> Context:
    """Like ``background()``, for code that has no context to pass yet.

    Example::

        fetch(gocore.todo(), url)
    """
    return _todo


# ---- cancellable nodes ----

class _CancelCtx(Context):
    __slots__ = ("_parent", "_mu", "_err", "_cause", "_done", "_children", "_owner", "__weakref__")

    def __init__(self, parent: Context) -> None:
        self._parent = parent
        self._mu = _Lock()
        self._err: Optional[BaseException] = None    # set once, under _mu; read without it (one slot load)
        self._cause: Optional[BaseException] = None  # set under _mu, before _err
        self._done: Optional[_Chan[None]] = None     # made on demand under _mu
        self._children: Optional[_Children] = None   # dict used as an ordered set, guarded by _mu; None once cancelled
        self._owner: Optional[_CancelCtx] = None     # the node we are registered with, if any

    def deadline(self) -> Optional[float]:
        return _deadline(self._parent)

    def done(self) -> _Chan[None]:
        d = self._done
        if d is not None:
            return d
        made: _Chan[None] = _ctx_done(self)
        return made

    def err(self) -> Optional[BaseException]:
        return self._err

    def value(self, key: Any) -> Any:
        if key is _CANCEL_KEY:
            return self
        return _value(self._parent, key)

    # The cancel functions handed out by with_cancel / with_cancel_cause.
    # A node whose error is set but whose children are still held had its
    # walk cut short (an exception in an after-func, a KeyboardInterrupt):
    # calling cancel again finishes it, so the first test is on both.
    def _cancel_func(self) -> None:
        if self._err is not None and self._children is None:
            return
        self._finish(_ctx_mark(self, _new_canceled(), None), True)

    def _cancel_cause_func(self, cause: Optional[BaseException] = None) -> None:
        if self._err is None or self._children is not None:
            self._cancel(True, _new_canceled(), cause)

    def _cancel(self, remove: bool, err: BaseException, cause: Optional[BaseException]) -> None:
        """Cancel this node and its subtree; with `remove`, also unlink it
        from the ancestor it is registered with."""
        self._finish(self._mark(err, cause), remove)

    def _finish(self, children: Optional[_Children], remove: bool) -> None:
        """After _mark: cancel the subtree, unlink from the owner, then raise
        the first exception the walk met (the walk itself never stops)."""
        first = _ctx_cancel_tree(self, self._err, self._cause) if children else None
        if remove:
            owner = self._owner
            if owner is not None:
                self._owner = None
                owner._remove_child(self)
        if first is not None:
            raise first

    def _mark(self, err: Optional[BaseException], cause: Optional[BaseException]) -> Optional[_Children]:
        """Record the error (first caller wins) and close done; return the
        children still to be walked.  They stay in _children until the walk
        has taken them (see _ctx_cancel_tree), so an interrupted walk loses none."""
        children: Optional[_Children] = _ctx_mark(self, err, cause)
        return children

    def _parent_canceled(self, err: Optional[BaseException], cause: Optional[BaseException]) -> Optional[_Children]:
        # Our owner dropped its whole children dict: no unlinking needed.
        self._owner = None
        return self._mark(err, cause)

    def _add_child(self, child: _Child) -> bool:
        """Register `child` (and record us as its owner); False if this node
        is already cancelled."""
        added: bool = _ctx_add_child(self, child)
        return added

    def _remove_child(self, child: _Child) -> None:
        _ctx_remove_child(self, child)

    def __str__(self) -> str:
        return _describe(self)

    __repr__ = __str__


class _TimerCtx(_CancelCtx):
    __slots__ = ("_deadline", "_timer", "_deadline_cause")

    def __init__(self, parent: Context, deadline: float, deadline_cause: Optional[BaseException]) -> None:
        _CancelCtx.__init__(self, parent)
        self._deadline = deadline
        self._timer: Optional[_Entry] = None   # the armed timer handle, guarded by _mu
        self._deadline_cause = deadline_cause

    def deadline(self) -> float:
        return self._deadline

    def _mark(self, err: Optional[BaseException], cause: Optional[BaseException]) -> Optional[_Children]:
        children: Optional[_Children] = _ctx_mark(self, err, cause)
        # Stop the timer whoever cancelled us: a stopped timer drops its
        # reference to this node, so nothing keeps a cancelled context alive.
        timer = _ctx_take_timer(self)
        if timer is not None:
            timer.cancel()
        return children

    def _cancel_func(self) -> None:
        if self._err is None or self._children is not None:
            self._cancel(True, _new_canceled(), None)

    def _expire(self) -> None:
        """Runs on the timer thread at the deadline."""
        self._cancel(True, DeadlineExceeded(), self._deadline_cause)


# ---- stateless nodes ----

class _ValueCtx(Context):
    __slots__ = ("_parent", "_key", "_val")

    def __init__(self, parent: Context, key: Any, val: Any) -> None:
        self._parent = parent
        self._key = key
        self._val = val

    def deadline(self) -> Optional[float]:
        return _deadline(self._parent)

    def done(self) -> _Chan[None]:
        ctx = _past_values(self._parent)
        done: _Chan[None] = ctx.done()
        return done

    def err(self) -> Optional[BaseException]:
        ctx = _past_values(self._parent)
        t = type(ctx)
        if t is _CancelCtx or t is _TimerCtx:
            err: Optional[BaseException] = ctx._err
            return err
        theirs: Optional[BaseException] = ctx.err()
        return theirs

    def value(self, key: Any) -> Any:
        return _value(self, key)

    def __str__(self) -> str:
        return _describe(self)

    __repr__ = __str__


class _WithoutCancelCtx(_NeverDone):
    __slots__ = ("_parent",)

    def __init__(self, parent: Context) -> None:
        self._parent = parent

    def value(self, key: Any) -> Any:
        return _value(self, key)

    def __str__(self) -> str:
        return _describe(self)

    __repr__ = __str__


_CANCEL_TYPES = (_CancelCtx, _TimerCtx)


def _same_key(a: Any, b: Any) -> bool:
    # Go compares interface values: equal dynamic type and equal value.  So
    # key types that compare equal across types (1 == 1.0 == True, or two
    # int subclasses used as distinct key types) do not collide.
    return a is b or (type(a) is type(b) and a == b)


def _value(ctx: Any, key: Any) -> Any:
    """ctx.value(key), walking our own node types in a loop (deep chains
    cost no recursion) and handing over to a foreign context's value()."""
    while True:
        t = type(ctx)
        if t is _ValueCtx:
            if key is not _CANCEL_KEY and _same_key(ctx._key, key):
                return ctx._val
            ctx = ctx._parent
        elif t is _CancelCtx or t is _TimerCtx:
            if key is _CANCEL_KEY:
                return ctx
            ctx = ctx._parent
        elif t is _WithoutCancelCtx:
            if key is _CANCEL_KEY:
                return None
            ctx = ctx._parent
        elif t is _EmptyCtx:
            return None
        else:
            return ctx.value(key)


def _past_values(ctx: Any) -> Any:
    """The nearest ancestor-or-self that is not a value node: what a value
    node's done() and err() delegate to, found in a loop so a chain of any
    depth costs no recursion."""
    while type(ctx) is _ValueCtx:
        ctx = ctx._parent
    return ctx


def _deadline(ctx: Any) -> Optional[float]:
    """ctx.deadline() in a loop over our own node types (a timer node's
    deadline is already the earlier of its own and its parent's)."""
    while True:
        t = type(ctx)
        if t is _ValueCtx or t is _CancelCtx:
            ctx = ctx._parent
        elif t is _TimerCtx:
            deadline: float = ctx._deadline
            return deadline
        elif t is _EmptyCtx or t is _WithoutCancelCtx:
            return None
        else:
            theirs: Optional[float] = ctx.deadline()
            return theirs


# ---- linking a new child to its parent (Go's propagateCancel) ----

class _Foreign:
    """Marker: the parent is a context type we do not know."""


def _check_parent(parent: Any) -> None:
    t = type(parent)
    if t is _CancelCtx or t is _ValueCtx or t is _TimerCtx or t is _EmptyCtx or t is _WithoutCancelCtx:
        return
    if parent is None:
        raise TypeError("cannot create context from None parent")
    for name in ("deadline", "done", "err", "value"):
        if not callable(getattr(parent, name, None)):
            raise TypeError(f"parent context must have a {name}() method; got {t.__name__}")


def _owner_of(parent: Any) -> Any:
    """The cancellable node a child of `parent` must register with; None if
    `parent` can never be cancelled; _Foreign for an unknown context type."""
    ctx = parent
    while True:
        t = type(ctx)
        if t is _CancelCtx or t is _TimerCtx:
            return ctx
        if t is _ValueCtx:
            ctx = ctx._parent
            continue
        if t is _EmptyCtx or t is _WithoutCancelCtx:
            return None
        break
    done = ctx.done()
    if done is None or done is _nilchan:
        return None
    node = ctx.value(_CANCEL_KEY)
    # A wrapper whose done() is its inner node's channel can be treated as
    # that node; one with a channel of its own needs a watcher.
    if type(node) in _CANCEL_TYPES and node.done() is done:
        return node
    return _Foreign


def _propagate(parent: Any, child: _Child) -> None:
    """Arrange for `child` to be cancelled when `parent` is."""
    owner = _owner_of(parent)
    if owner is None:
        return
    if owner is _Foreign:
        _watch_foreign(parent, child)
        return
    if owner._add_child(child):
        return
    # Parent already cancelled: the child (new, so childless) starts out cancelled too.
    child._parent_canceled(owner._err, _cause_of_node(owner))


def _cause_of_node(node: _CancelCtx) -> Optional[BaseException]:
    node_cause: Optional[BaseException] = _ctx_cause(node)
    return node_cause


def _watch_foreign(parent: Any, child: _Child) -> None:
    """A foreign parent cannot call us back: a goroutine waits for either
    the parent's done channel or the child's end (Go does the same)."""
    if not isinstance(child, _CancelCtx):
        raise AssertionError("only cancel nodes watch foreign parents")
    parent_done = parent.done()
    child_done = child.done()
    select = _gocore.select
    # Already done?  Then cancel now, synchronously (this also rejects a
    # done() that is not a gocore channel here rather than in the goroutine).
    try:
        i, _ = select(parent_done.recv, _gocore.default)
    except (AttributeError, TypeError):
        raise TypeError(f"done() of a parent context must return a gocore channel; "
                        f"{type(parent).__name__}.done() returned {type(parent_done).__name__}") from None
    if i == 0:
        child._cancel(False, parent.err(), cause(parent))
        return

    def watch() -> None:
        i, _ = select(parent_done.recv, child_done.recv)
        if i == 0:
            child._cancel(False, parent.err(), cause(parent))

    go(watch)


# ---- public constructors ----

def with_cancel(parent: Context) -> Tuple[Context, Callable[[], None]]:
    """A child of `parent` with its own ``cancel()``: calling it (or the
    parent ending) closes ``ctx.done()`` and sets ``ctx.err()`` to
    ``Canceled``.  Call ``cancel`` when done to release the link to the parent.

    Example::

        ctx, cancel = gocore.with_cancel(gocore.background())
        try:
            gocore.go(worker, ctx)
        finally:
            cancel()
    """
    t = type(parent)
    c = _CancelCtx(parent)
    if t is _CancelCtx or t is _TimerCtx:
        # The common case, without the general walk: register with parent.
        node: _CancelCtx = parent  # type: ignore[assignment]   # the type test above
        if not node._add_child(c):
            c._parent_canceled(node._err, _cause_of_node(node))
    elif t is not _EmptyCtx:
        _check_parent(parent)
        _propagate(parent, c)
    return c, c._cancel_func


def with_cancel_cause(parent: Context) -> Tuple[Context, _CancelCauseFunc]:
    """Like ``with_cancel``, but ``cancel(cause=None)`` records why; read it
    back with ``gocore.cause(ctx)`` (``ctx.err()`` is still ``Canceled``).

    Example::

        ctx, cancel = gocore.with_cancel_cause(gocore.background())
        cancel(ConnectionError("peer went away"))
        gocore.cause(ctx)          # the ConnectionError
    """
    _check_parent(parent)
    c = _CancelCtx(parent)
    if type(parent) is not _EmptyCtx:
        _propagate(parent, c)
    return c, c._cancel_cause_func


def _with_deadline(parent: Context, deadline: float,
                   deadline_cause: Optional[BaseException]) -> Tuple[Context, Callable[[], None]]:
    _check_parent(parent)
    # The library's one rule for seconds (here on the monotonic clock): "5"
    # or b"5" is a TypeError, not a deadline long past; NaN is ValueError;
    # beyond a float is +inf, a deadline that never comes.
    deadline = _gocore._duration_seconds(deadline, "deadline")
    current = _deadline(parent)
    if current is not None and current <= deadline:
        # The parent ends first anyway: a plain cancel node will do.
        return with_cancel(parent)
    c = _TimerCtx(parent, deadline, deadline_cause)
    _propagate(parent, c)
    if deadline - _clock.now() <= 0:
        c._cancel(True, DeadlineExceeded(), deadline_cause)
        return c, c._cancel_func
    from gocore import timers
    # Armed first, recorded after: a deadline that fires in between finds no
    # timer to stop and cancels the node, and then the record step refuses.
    timer = timers._schedule(deadline, c._expire)
    if not _ctx_set_timer(c, timer):
        timer.cancel()
    return c, c._cancel_func


def with_deadline(parent: Context, deadline: float) -> Tuple[Context, Callable[[], None]]:
    """A child that is cancelled with ``DeadlineExceeded`` at `deadline`, a
    ``time.monotonic()`` value (or earlier, with the parent or by ``cancel``).
    Its deadline is the earlier of `deadline` and the parent's.

    Example::

        ctx, cancel = gocore.with_deadline(parent, time.monotonic() + 2.5)
    """
    return _with_deadline(parent, deadline, None)


def with_timeout(parent: Context, seconds: Seconds) -> Tuple[Context, Callable[[], None]]:
    """``with_deadline(parent, time.monotonic() + seconds)``.

    Example::

        ctx, cancel = gocore.with_timeout(gocore.background(), 0.5)
        try:
            result = fetch(ctx)
        finally:
            cancel()
    """
    when = _clock.now() + _gocore._duration_seconds(seconds, "timeout")
    return _with_deadline(parent, when, None)


def with_value(parent: Context, key: Any, value: Any) -> Context:
    """A child that carries ``key -> value``; ``ctx.value(key)`` searches up the
    chain.  Keys compare with ``==`` (and must be of the same type, as Go's
    interface comparison); a ``None`` or unhashable key raises TypeError.

    Example::

        ctx = gocore.with_value(gocore.background(), "request_id", 42)
        ctx.value("request_id")    # 42
    """
    _check_parent(parent)
    if key is None:
        raise TypeError("context key must not be None")
    try:
        hash(key)
    except TypeError:
        raise TypeError(f"context key must be hashable, not {type(key).__name__}") from None
    return _ValueCtx(parent, key, value)


def without_cancel(parent: Context) -> Context:
    """A child that keeps the parent's values but is never cancelled and has
    no deadline, whatever happens to the parent.

    Example::

        audit_ctx = gocore.without_cancel(request_ctx)   # outlives the request
    """
    _check_parent(parent)
    return _WithoutCancelCtx(parent)


# ---- callbacks on cancellation ----

class _AfterFunc:
    """A child registration that runs `fn` in a goroutine when the context
    ends; claimed at most once, either by that or by stop()."""

    __slots__ = ("_fn", "_claimed", "_mu", "_owner", "__weakref__")

    def __init__(self, fn: Callable[[], object]) -> None:
        self._fn: Optional[Callable[[], object]] = fn
        self._claimed = False
        self._mu = _Lock()
        self._owner: Optional[_CancelCtx] = None

    def _claim(self) -> bool:
        claimed: bool = _ctx_claim(self)
        return claimed

    def _parent_canceled(self, err: Optional[BaseException], cause: Optional[BaseException]) -> None:
        self._owner = None
        if self._claim():
            fn, self._fn = self._fn, None
            go(fn)  # type: ignore[arg-type]   # set until claimed, and claimed once
        return None

    def stop(self) -> bool:
        if not self._claim():
            return False
        self._fn = None
        owner = self._owner
        if owner is not None:
            self._owner = None
            owner._remove_child(self)
        return True


class _SyncCallback(_AfterFunc):
    """Like _AfterFunc but runs the callback in the cancelling thread (for
    the core's Semaphore.acquire(ctx=): the callback only wakes a waiter)."""

    __slots__ = ()

    def _parent_canceled(self, err: Optional[BaseException], cause: Optional[BaseException]) -> None:
        self._owner = None
        if self._claim():
            fn, self._fn = self._fn, None
            fn()  # type: ignore[misc]   # set until claimed, and claimed once
        return None


def context_after_func(ctx: Context, fn: Callable[[], Any]) -> Callable[[], bool]:
    """Go's ``context.AfterFunc``: run ``fn()`` in a goroutine once `ctx` is
    done (at once if it already is).  Returns ``stop()``, which unregisters
    `fn` and returns True if that kept it from running (only the first
    successful ``stop`` returns True).

    Example::

        stop = gocore.context_after_func(ctx, conn.close)
        ...
        stop()        # finished in time: conn stays open
    """
    _check_parent(ctx)
    if not callable(fn):
        raise TypeError(f"context_after_func needs a callable, not {type(fn).__name__}")
    node = _AfterFunc(fn)
    return _after(ctx, node)


def _after(ctx: Any, node: _AfterFunc) -> Callable[[], bool]:
    owner = _owner_of(ctx)
    if owner is None:
        return node.stop
    if owner is _Foreign:
        bridge, cancel_bridge = with_cancel(ctx)
        inner = _after(bridge, node)

        def stop() -> bool:
            stopped = inner()
            cancel_bridge()
            return stopped

        return stop
    if not owner._add_child(node):
        node._parent_canceled(owner._err, None)
    return node.stop


def _on_done_hook(ctx: Any, cb: Callable[[], Any]) -> Callable[[], bool]:
    """The core's Semaphore.acquire(ctx=) hook: run cb() synchronously when
    ctx is done (now, if it already is); returns stop()."""
    return _after(ctx, _SyncCallback(cb))


def cause(ctx: Context) -> Optional[BaseException]:
    """Why `ctx` ended: the cause given to a ``with_cancel_cause`` cancel (or
    inherited from an ancestor's), the deadline's ``DeadlineExceeded``, else
    ``ctx.err()``; None while the context is live.

    Example::

        ctx, cancel = gocore.with_cancel_cause(gocore.background())
        cancel(ValueError("bad input"))
        gocore.cause(ctx)       # ValueError('bad input')
    """
    if ctx is None:
        raise TypeError("cause() needs a context, not None")
    _check_parent(ctx)
    node = _value(ctx, _CANCEL_KEY)
    if type(node) not in _CANCEL_TYPES:
        return ctx.err()
    node_cause: Optional[BaseException] = _ctx_cause(node)
    return node_cause


# ---- Go-style descriptions (fmt.Sprint(ctx)) ----

def _stringify(v: Any) -> str:
    if v is None:
        return "<nil>"
    if isinstance(v, str):
        return v
    return str(v)


def _describe(ctx: Any) -> str:
    parts = []
    while True:
        t = type(ctx)
        if t is _CancelCtx:
            parts.append(".WithCancel")
        elif t is _TimerCtx:
            left = ctx._deadline - _clock.now()
            parts.append(f".WithDeadline({ctx._deadline:.6f} [{left:.6f}s])")
        elif t is _ValueCtx:
            parts.append(f".WithValue({_key_name(ctx._key)}, {_stringify(ctx._val)})")
        elif t is _WithoutCancelCtx:
            parts.append(".WithoutCancel")
        else:
            parts.append(str(ctx))
            break
        ctx = ctx._parent
    return "".join(reversed(parts))


def _key_name(key: Any) -> str:
    if isinstance(key, str):
        return key
    t = type(key)
    if t.__str__ is not object.__str__ and t.__repr__ is not object.__repr__:  # type: ignore[comparison-overlap]
        return str(key)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


_gocore._install_ctx_hook(_on_done_hook)
