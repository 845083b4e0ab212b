"""gocore: Go's concurrency toolkit for Python, with its hot paths in a Cython core.

Example::

    import gocore

    mu = gocore.Mutex()
    wg = gocore.WaitGroup()
    total = gocore.AtomicInt()
    for n in range(10):
        wg.go(total.add, n)
    wg.wait()
"""
from gocore._gocore import (
    AtomicBool,
    AtomicInt,
    AtomicRef,
    Chan,
    Cond,
    Mutex,
    Once,
    RWMutex,
    Semaphore,
    WaitGroup,
    default,
    nilchan,
    select,
)
from gocore.errors import Canceled, ClosedChannelError, DeadlineExceeded
from gocore.once import once_func, once_value, once_values
from gocore.timers import Ticker, Timer, after, after_func

__version__ = "0.1.0"

__all__ = [
    # errors
    "ClosedChannelError",
    "Canceled",
    "DeadlineExceeded",
    # sync
    "Mutex",
    "RWMutex",
    "Cond",
    "Once",
    "once_func",
    "once_value",
    "once_values",
    "WaitGroup",
    "Semaphore",
    # channels
    "Chan",
    "nilchan",
    "select",
    "default",
    "after",
    "Timer",
    "after_func",
    "Ticker",
    # atomics
    "AtomicInt",
    "AtomicBool",
    "AtomicRef",
]
