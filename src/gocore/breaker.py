"""Circuit breakers: the seed's three-state breaker (sony/gobreaker's model)
and go-zero's adaptive one (Google SRE client-side throttling).

Both share one surface (``_Breaker``): ``allow()`` admits a call and returns a
``Ticket`` that reports its outcome; ``call``/``acall``/decorating are
``allow`` + run + report.  A breaker decides under its own ``Mutex``; it
never runs user code (the protected function, ``is_failure``,
``on_state_change``) while holding it.

Time is read only through ``_clock.now()`` (module attribute: a test clock
swaps it).
"""
from __future__ import annotations

import functools
import inspect
import math
import random
from collections import deque
from typing import TYPE_CHECKING, Any, Callable, Optional

from gocore import _clock
from gocore._args import check_int
from gocore._gocore import Mutex, _duration_seconds
from gocore.errors import BreakerOpenError

if TYPE_CHECKING:
    from gocore.timers import Seconds

__all__ = ["CircuitBreaker", "AdaptiveBreaker", "Ticket"]

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"


def _default_is_failure(exc: BaseException) -> bool:
    return isinstance(exc, Exception)


def _dispatch_panic(exc: BaseException) -> None:
    from gocore.goroutine import _dispatch
    _dispatch(exc)


class Ticket:
    """One admitted call of a breaker, for code that reports its own outcome:
    call ``success()`` or ``failure()`` once.

    Example::

        ticket = breaker.allow()         # raises BreakerOpenError when refused
        ok = do_request()
        ticket.success() if ok else ticket.failure()
    """

    __slots__ = ("_breaker", "_token", "_reported")

    def __init__(self, breaker: "_Breaker", token: Any) -> None:
        self._breaker = breaker
        self._token = token
        self._reported = False

    def _report(self, failed: bool) -> None:
        if self._reported:
            raise RuntimeError("this ticket's outcome was already reported")
        self._reported = True
        self._breaker._report(self._token, failed)

    def success(self) -> None:
        """The call succeeded."""
        self._report(False)

    def failure(self) -> None:
        """The call failed."""
        self._report(True)


class _Breaker:
    """What both breakers share: subclasses define ``_admit() -> token``
    (raising BreakerOpenError to refuse) and ``_report(token, failed)``."""

    _is_failure: Callable[[BaseException], bool] = staticmethod(_default_is_failure)

    def _admit(self) -> Any:
        raise NotImplementedError

    def _report(self, token: Any, failed: bool) -> None:
        raise NotImplementedError

    def _report_raised(self, token: Any, exc: BaseException) -> None:
        """The outcome of a call that raised `exc`: a failure unless
        `is_failure` says otherwise (then it counts as a success)."""
        self._report(token, bool(self._is_failure(exc)))

    def allow(self) -> Ticket:
        """Admit one call, or raise ``BreakerOpenError``; report its outcome on
        the returned ``Ticket``."""
        return Ticket(self, self._admit())

    def call(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(*args, **kwargs)`` if the breaker admits it (else raise
        ``BreakerOpenError`` without calling it) and count its outcome."""
        token = self._admit()
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            self._report_raised(token, exc)
            raise
        self._report(token, False)
        return result

    async def acall(self, coro_fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """``call`` for a coroutine function: ``await breaker.acall(fetch, url)``."""
        token = self._admit()
        try:
            result = await coro_fn(*args, **kwargs)
        except BaseException as exc:
            self._report_raised(token, exc)
            raise
        self._report(token, False)
        return result

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``@breaker`` on a function or a coroutine function."""
        if not callable(fn):
            raise TypeError(f"a breaker decorates a callable, not {type(fn).__name__}")
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def acalled(*args: Any, **kwargs: Any) -> Any:
                return await self.acall(fn, *args, **kwargs)
            return acalled

        @functools.wraps(fn)
        def called(*args: Any, **kwargs: Any) -> Any:
            return self.call(fn, *args, **kwargs)
        return called


def _positive_int(value: Any, what: str) -> int:
    return check_int(value, what, 1)


def _seconds(value: Any, what: str, positive: bool = False) -> float:
    s = _duration_seconds(value, what)      # the library's one type rule (timeout.pxi)
    if s < 0 or (positive and s == 0):
        raise ValueError(f"{what} must be {'> 0' if positive else '>= 0'}, got {value!r}")
    return s


def _optional_callable(value: Any, what: str) -> Any:
    if value is not None and not callable(value):
        raise TypeError(f"{what} must be callable or None, not {type(value).__name__}")
    return value


class CircuitBreaker(_Breaker):
    """The seed's circuit breaker: ``"closed"`` (calls run; `failure_threshold`
    consecutive failures open it), ``"open"`` (calls are refused with
    ``BreakerOpenError``; after `reset_timeout` seconds ``state`` reads
    ``"half_open"``), ``"half_open"`` (up to `half_open_max_calls` trial calls:
    one success closes it, one failure opens it again).

    `is_failure(exc)` decides which exceptions count (default: any
    ``Exception``); one it rejects counts as a success and still propagates.
    `on_state_change(old, new)` is told every transition, in order.

    Example::

        breaker = gocore.CircuitBreaker(failure_threshold=3, reset_timeout=30)

        @breaker
        def fetch(url): ...

        try:
            fetch("https://example.com")
        except gocore.BreakerOpenError:
            ...
    """

    def __init__(self, failure_threshold: int = 5, reset_timeout: Seconds = 60.0,
                 half_open_max_calls: int = 1,
                 is_failure: Optional[Callable[[BaseException], bool]] = None,
                 on_state_change: Optional[Callable[[str, str], Any]] = None) -> None:
        self.failure_threshold = _positive_int(failure_threshold, "failure_threshold")
        self.reset_timeout = _seconds(reset_timeout, "reset_timeout")
        self.half_open_max_calls = _positive_int(half_open_max_calls, "half_open_max_calls")
        if _optional_callable(is_failure, "is_failure") is not None:
            self._is_failure = is_failure     # type: ignore[assignment]
        self._on_state_change = _optional_callable(on_state_change, "on_state_change")
        self._mu = Mutex()
        # Guarded by _mu.  _gen grows at every transition: a ticket carries
        # the generation it was admitted in, and its outcome counts only if
        # no transition happened since (gobreaker's generation), so a slow
        # call from before an opening cannot close or re-open the breaker.
        self._state = CLOSED
        self._gen = 0
        self._failures = 0          # consecutive, while closed
        self._opened_at = 0.0       # while open
        self._trials = 0            # admitted trial calls, while half-open
        self._pending: deque[tuple[str, str]] = deque()   # transitions not yet told to on_state_change
        self._notify_mu = Mutex()        # one thread at a time tells them, in order

    @property
    def state(self) -> str:
        """``"closed"``, ``"open"`` or ``"half_open"`` (an open breaker whose
        reset timeout has passed reads ``"half_open"``)."""
        with self._mu:
            self._expire(_clock.now())
            state = self._state
        if self._pending:
            self._notify()
        return state

    def _set_state(self, new: str) -> None:
        """Transition (caller holds _mu)."""
        old = self._state
        self._state = new
        self._gen += 1
        self._failures = 0
        self._trials = 0
        if new is OPEN:
            self._opened_at = _clock.now()
        if self._on_state_change is not None:
            self._pending.append((old, new))

    def _expire(self, now: float) -> None:
        if self._state is OPEN and now - self._opened_at >= self.reset_timeout:
            self._set_state(HALF_OPEN)

    def _admit(self) -> int:
        # Closed needs no lock to admit: read the generation first, then the
        # state.  If a transition slips between the two reads the outcome is
        # reported against a stale generation and ignored; generations never
        # repeat, so a stale one cannot be mistaken for the current one.
        gen = self._gen
        if self._state is CLOSED:
            return gen
        return self._admit_slow()

    def call(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(*args, **kwargs)`` if the breaker admits it (else raise
        ``BreakerOpenError`` without calling it) and count its outcome."""
        # _admit's and _report's closed-state fast paths, inlined: a call
        # through a closed breaker is the hot path (two attribute reads
        # before fn, two after, no lock).
        gen = self._gen
        if self._state is not CLOSED:
            gen = self._admit_slow()
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            self._report_raised(gen, exc)
            raise
        if self._failures or self._state is not CLOSED:
            self._report(gen, False)
        return result

    def _admit_slow(self) -> int:
        with self._mu:
            self._expire(_clock.now())
            state = self._state
            if state is CLOSED:
                gen = self._gen
            elif state is HALF_OPEN and self._trials < self.half_open_max_calls:
                self._trials += 1
                gen = self._gen
            else:
                gen = -1
        if self._pending:
            self._notify()
        if gen < 0:
            if state is OPEN:
                raise BreakerOpenError("circuit breaker is open")
            raise BreakerOpenError("circuit breaker is half-open and its trial calls are taken")
        return gen

    def _report(self, gen: int, failed: bool) -> None:
        # A success while closed with no failures counted changes nothing:
        # skip the lock (the common case).  Reading _failures unlocked is a
        # snapshot: a failure counted concurrently is ordered after us.
        if not failed and self._failures == 0 and self._state is CLOSED:
            return
        with self._mu:
            if gen != self._gen:
                return
            state = self._state
            if state is CLOSED:
                if not failed:
                    self._failures = 0
                else:
                    self._failures += 1
                    if self._failures >= self.failure_threshold:
                        self._set_state(OPEN)
            elif state is HALF_OPEN:
                self._set_state(OPEN if failed else CLOSED)
        if self._pending:
            self._notify()

    def _notify(self) -> None:
        """Tell on_state_change the pending transitions, in order, outside _mu.

        Whoever holds _notify_mu drains the queue; a thread that queued a
        transition and cannot take it leaves it to the holder, who checks the
        queue again after letting go (so no transition is stranded)."""
        cb = self._on_state_change
        pending = self._pending
        while pending:
            if not self._notify_mu.try_lock():
                return
            try:
                while True:
                    with self._mu:
                        if not pending:
                            break
                        old, new = pending.popleft()
                    try:
                        cb(old, new)
                    except BaseException as exc:   # like a panic: reported, not raised into the call
                        _dispatch_panic(exc)
            finally:
                self._notify_mu.unlock()

    def __repr__(self) -> str:
        return f"<CircuitBreaker {self.state} failures={self._failures}/{self.failure_threshold}>"


class AdaptiveBreaker(_Breaker):
    """go-zero's default breaker (Google SRE client-side throttling): over a
    rolling `window` of seconds, split into `buckets`, it rejects a call with
    probability ``max(0, (requests - k * accepts) / (requests + 1))``, where
    `requests` counts every call asked for (those it rejected too, as
    go-zero and the SRE book count them) and `accepts` those that succeeded.
    Lower `k` throttles harder.  Rejected calls raise ``BreakerOpenError``.

    Example::

        breaker = gocore.AdaptiveBreaker()
        try:
            breaker.call(rpc, request)
        except gocore.BreakerOpenError:
            ...
    """

    def __init__(self, k: float = 1.5, window: Seconds = 10.0, buckets: int = 40) -> None:
        if isinstance(k, bool) or not isinstance(k, (int, float)):
            raise TypeError(f"k must be a number, not {type(k).__name__}")
        if not k > 0 or k == math.inf:
            raise ValueError(f"k must be a finite number > 0, got {k!r}")
        self.k = float(k)
        self.window = _seconds(window, "window", positive=True)
        self.buckets = _positive_int(buckets, "buckets")
        self._span = self.window / self.buckets
        self._random = random.random      # injectable for exact tests
        self._mu = Mutex()
        # Guarded by _mu: per-bucket counts and their running totals; _cur is
        # the absolute index (time // span) of the newest bucket.
        self._accepts = [0] * self.buckets
        self._requests = [0] * self.buckets
        self._total_accepts = 0
        self._total_requests = 0
        self._cur = int(_clock.now() // self._span)   # absolute index of the newest bucket

    def _roll(self, idx: int) -> None:
        """Retire the buckets that fell out of the window by bucket index idx
        (caller holds _mu and has checked idx > _cur)."""
        cur = self._cur
        n = self.buckets
        if idx - cur >= n:
            self._accepts[:] = [0] * n
            self._requests[:] = [0] * n
            self._total_accepts = self._total_requests = 0
        else:
            accepts, requests = self._accepts, self._requests
            for i in range(cur + 1, idx + 1):
                s = i % n
                self._total_accepts -= accepts[s]
                self._total_requests -= requests[s]
                accepts[s] = requests[s] = 0
        self._cur = idx

    def _history(self) -> tuple[int, int]:
        """(accepts, requests) over the window now."""
        idx = int(_clock.now() // self._span)
        mu = self._mu
        mu.lock()
        try:
            if idx > self._cur:
                self._roll(idx)
            return self._total_accepts, self._total_requests
        finally:
            mu.unlock()

    def _reject_probability(self) -> float:
        accepts, requests = self._history()
        return max(0.0, (requests - self.k * accepts) / (requests + 1))

    def _admit(self) -> None:
        accepts, requests = self._history()
        if requests > self.k * accepts:        # else the probability is 0: skip the dice
            p = (requests - self.k * accepts) / (requests + 1)
            if self._random() < p:
                self._count(False)             # a rejected call is a request too (go-zero's drop)
                raise BreakerOpenError("adaptive breaker rejected the call (service unhealthy)")

    def _report(self, token: None, failed: bool) -> None:
        self._count(not failed)

    def _count(self, accepted: bool) -> None:
        """One more request in the current bucket (an accepted one if `accepted`)."""
        idx = int(_clock.now() // self._span)
        mu = self._mu
        mu.lock()
        try:
            if idx > self._cur:
                self._roll(idx)
            # A clock that went back counts in the newest bucket.
            s = self._cur % self.buckets
            self._requests[s] += 1
            self._total_requests += 1
            if accepted:
                self._accepts[s] += 1
                self._total_accepts += 1
        finally:
            mu.unlock()

    def __repr__(self) -> str:
        accepts, requests = self._history()
        return f"<AdaptiveBreaker accepts={accepts} requests={requests} k={self.k}>"
