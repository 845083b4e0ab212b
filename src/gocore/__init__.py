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
    RecvChan,
    RWMutex,
    Semaphore,
    SendChan,
    WaitGroup,
    aselect,
    default,
    nilchan,
    select,
)
from gocore.errors import (
    BreakerOpenError,
    Canceled,
    ClosedChannelError,
    DeadlineExceeded,
    DeadlockError,
)
from gocore.goroutine import go, num_goroutine, set_panic_handler
from gocore.context import (
    Context,
    background,
    cause,
    context_after_func,
    todo,
    with_cancel,
    with_cancel_cause,
    with_deadline,
    with_timeout,
    with_value,
    without_cancel,
)
from gocore.context import __all__ as _context_all
from gocore.errgroup import ErrGroup
from gocore.aio import cancel_on
from gocore.once import once_func, once_value, once_values
from gocore.pool import Pool
from gocore.timers import Ticker, Timer, after, after_func
from gocore.workerpool import WorkerPool
from gocore.dump import GoroutineInfo, dump_goroutines, dump_on_signal, goroutines
from gocore.deadlock import set_deadlock_detection
from gocore import testing
from gocore.singleflight import Result, SingleFlight
from gocore.ratelimit import RateLimiter, Reservation
from gocore.breaker import AdaptiveBreaker, CircuitBreaker, Ticket
from gocore.mr import finish, for_each, map_reduce
from gocore.pipeline import fan_in, fan_out, generate, pipe

__version__ = "0.1.0"

__all__ = [
    # errors
    "ClosedChannelError",
    "Canceled",
    "DeadlineExceeded",
    "BreakerOpenError",
    "DeadlockError",
    # goroutines
    "go",
    "set_panic_handler",
    "num_goroutine",
    # seeing goroutines
    "GoroutineInfo",
    "goroutines",
    "dump_goroutines",
    "dump_on_signal",
    "set_deadlock_detection",
    # context (gocore.context lists its own names once)
    *_context_all,
    "cancel_on",
    # groups and pools
    "ErrGroup",
    "Pool",
    "WorkerPool",
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
    "RecvChan",
    "SendChan",
    "nilchan",
    "select",
    "aselect",
    "default",
    "after",
    "Timer",
    "after_func",
    "Ticker",
    # atomics
    "AtomicInt",
    "AtomicBool",
    "AtomicRef",
    # seed patterns
    "SingleFlight",
    "Result",
    "RateLimiter",
    "Reservation",
    "CircuitBreaker",
    "AdaptiveBreaker",
    "Ticket",
    "finish",
    "map_reduce",
    "for_each",
    "generate",
    "fan_out",
    "fan_in",
    "pipe",
]
