# Type stubs for the compiled core (src/_gocore.pyx).
#
# The public classes and functions are described once, in gocore/__init__.pyi
# (the names users import); this stub re-exports them under the core's module
# name and adds the private surface the Python layer builds on: the timeout
# parser, the hooks the layer installs, and the compiled base classes of
# RateLimiter and SingleFlight.  A name used by gocore/*.py but missing here
# makes `mypy --strict -p gocore` fail, so the two cannot drift apart.
from collections.abc import Callable, Collection
from types import ModuleType
from typing import Any

from gocore import (
    AtomicBool as AtomicBool,
    AtomicInt as AtomicInt,
    AtomicRef as AtomicRef,
    BreakerOpenError as BreakerOpenError,
    Canceled as Canceled,
    Chan as Chan,
    ClosedChannelError as ClosedChannelError,
    Cond as Cond,
    DeadlineExceeded as DeadlineExceeded,
    DeadlockError as DeadlockError,
    Mutex as Mutex,
    Once as Once,
    RecvChan as RecvChan,
    RWMutex as RWMutex,
    Semaphore as Semaphore,
    SendChan as SendChan,
    WaitGroup as WaitGroup,
    _Default as _Default,
    _RLocker as _RLocker,
    default as default,
    go as go,
    nilchan as nilchan,
    num_goroutine as num_goroutine,
    select as select,
)

# ---- the one timeout / duration parser (src/timeout.pxi) ----
def _timeout_seconds(timeout: object) -> float | None: ...
def _duration_seconds(d: object, what: str = "duration") -> float: ...

# ---- hooks the Python layer installs (src/hooks.pxi, src/ratelimit.pxi) ----
def _install_panic_dispatch(fn: Callable[[BaseException], object]) -> None: ...
def _install_ctx_hook(fn: Callable[[Any, Callable[[], object]], Callable[[], object]]) -> None: ...
def _install_clock(module: ModuleType) -> None: ...
def _install_coro_go(fn: Callable[[Any, Callable[..., Any], tuple[Any, ...], dict[str, Any]], object]) -> None: ...
def _fake_clock_set(now_ns: int | None) -> None: ...

# ---- goroutine bookkeeping shared with the Python layer (src/goroutine.pxi, src/go_coro.pxi) ----
def _report(exc: BaseException) -> None: ...
def _goroutines_add(delta: int) -> None: ...
def _is_coro_fn(fn: object) -> bool: ...
def _not_callable(where: str, fn: object) -> TypeError: ...
def _go_labeled(label: object, fn: Callable[..., object], *args: Any) -> None: ...
def _install_frame_skip(prefixes: Collection[str]) -> None: ...

# ---- goroutine records: dumps and the deadlock detector (gocore.dump, gocore.deadlock) ----
# (id, function, file, line, state, waiting_since, thread ident, creator)
def _goroutine_table() -> list[tuple[int, str, str, int, str, float | None, int | None, str]]: ...
def _nanotime() -> int: ...
def _blocked_snapshot() -> Any: ...
def _install_deadlock_probe(probe: Callable[[str], str | None] | None) -> None: ...
def _register_system_thread() -> None: ...

# ---- scheduler internals (src/goroutine.pxi, src/sched.pxi, src/fork.pxi) ----
def _scheduler_stats() -> dict[str, int]: ...
def _set_idle_timeout(seconds: float) -> float: ...
def _reset_after_fork() -> None: ...

# ---- compiled bases of the seed patterns ----
class _TokenBucket:
    """RateLimiter's fields, all guarded by _mu, and its allow()."""
    _mu: Mutex
    _limit: float
    _burst: int
    _tokens: float
    _last: float
    _last_event: float
    def allow(self, n: int = 1) -> bool: ...

class _FlightCall:
    dups: int
    done: Chan[None] | None
    chans: list[Chan[Any]] | None
    tasks: list[tuple[Any, Any]] | None
    value: Any
    error: BaseException | None

class _FlightGroup:
    _mu: Mutex
    _calls: dict[Any, _FlightCall]
    def do(self, key: Any, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any: ...
    def do_shared(self, key: Any, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> tuple[Any, bool]: ...
    def _end(self, c: _FlightCall, key: Any, value: Any, error: BaseException | None) -> bool: ...

