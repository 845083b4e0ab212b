"""Go 1.21's OnceFunc / OnceValue / OnceValues, on top of the core's Once."""
from __future__ import annotations

import functools
from typing import Callable, TypeVar

from gocore._gocore import Once

T = TypeVar("T")


def once_value(fn: Callable[[], T]) -> Callable[[], T]:
    """Return a function that calls ``fn()`` once and then returns its result
    on every call.  If ``fn`` raised, every call re-raises that exception.

    Example::

        get_config = gocore.once_value(load_config)
        get_config() is get_config()   # True: loaded once
    """
    once = Once()
    result: list = []        # [value] or [None, exc]; written once, inside once.do

    def run() -> None:
        try:
            result.append(fn())
        except BaseException as exc:
            result[:] = [None, exc]
            raise

    @functools.wraps(fn)
    def call() -> T:
        if not once.done():
            try:
                once.do(run)
            except BaseException:
                pass     # reported below, the same way for every caller
        if len(result) == 2:
            raise result[1]
        return result[0]

    return call


def once_values(fn: Callable[[], tuple]) -> Callable[[], tuple]:
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
    value = once_value(fn)

    @functools.wraps(fn)
    def call() -> None:
        value()

    return call
