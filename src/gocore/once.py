"""Go 1.21's OnceFunc / OnceValue / OnceValues, on top of the core's Once."""
from __future__ import annotations

import functools
from types import TracebackType
from typing import Any, Callable, Generic, Optional, Tuple, TypeVar

from gocore._gocore import Once

T = TypeVar("T")
TT = TypeVar("TT", bound=Tuple[Any, ...])
F = TypeVar("F", bound=Callable[..., Any])


class _OnceCall(Generic[T]):
    """Calls ``fn()`` once under a core Once and remembers the outcome.

    After the call, ``fn`` is no longer referenced from here (Go lets the
    function be garbage collected once it has run); if it raised, its frames
    stay reachable through the exception's traceback, as usual in Python.
    """

    __slots__ = ("_once", "_fn", "_value", "_exc", "_tb", "_wrappers")

    def __init__(self, fn: Callable[[], T]) -> None:
        if not callable(fn):
            raise TypeError(f"expected a callable, not {type(fn).__name__}")
        self._once = Once()
        self._fn: Any = fn     # None once run
        self._value: T = None  # type: ignore[assignment]   # read only after _run set it
        self._exc: Optional[BaseException] = None   # the exception fn raised, if it did
        self._tb: Optional[TracebackType] = None    # its traceback as fn left it
        self._wrappers: Any = []                    # functions whose __wrapped__ points at fn; None once run

    def wrap(self, call: F) -> F:
        functools.update_wrapper(call, self._fn)
        self._wrappers.append(call)
        return call

    def _run(self) -> None:
        # Runs inside once.do, at most once, and is the only writer of the
        # outcome fields; Once's mutex publishes them to every later caller.
        fn, self._fn = self._fn, None
        for w in self._wrappers:
            w.__dict__.pop("__wrapped__", None)
        self._wrappers = None
        try:
            self._value = fn()
        except BaseException as exc:
            self._exc, self._tb = exc, exc.__traceback__
            raise
        finally:
            del fn

    def result(self) -> T:
        if not self._once.done():
            try:
                self._once.do(self._run)
            except BaseException:
                pass           # raised below, the same way for every caller
        exc = self._exc
        if exc is not None:
            # Re-raise the very same exception object (Go re-panics with the
            # same value).  Resetting the traceback to fn's own first keeps it
            # from growing by one chain of frames per call.
            raise exc.with_traceback(self._tb)
        return self._value


def once_value(fn: Callable[[], T]) -> Callable[[], T]:
    """Return a function that calls ``fn()`` once and then returns its result
    on every call.  If ``fn`` raised, every call re-raises that exception.
    Concurrent first callers wait until ``fn`` has returned.

    Example::

        get_config = gocore.once_value(load_config)
        get_config() is get_config()   # True: loaded once
    """
    once = _OnceCall(fn)

    def call() -> T:
        return once.result()

    return once.wrap(call)


def once_values(fn: Callable[[], TT]) -> Callable[[], TT]:
    """Like :func:`once_value` for a function returning several values (a tuple).

    Example::

        get_pair = gocore.once_values(lambda: (1, "one"))
        n, name = get_pair()
    """
    return once_value(fn)


def once_func(fn: Callable[[], object]) -> Callable[[], None]:
    """Return a function that calls ``fn()`` only once; later calls return at
    once.  If ``fn`` raised, every call re-raises that exception (Go's OnceFunc).

    Example::

        setup = gocore.once_func(connect)
        setup(); setup()          # connect() ran once
    """
    once = _OnceCall(fn)

    def call() -> None:
        once.result()

    return once.wrap(call)
