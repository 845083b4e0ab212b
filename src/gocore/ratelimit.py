"""A token bucket with the semantics of Go's ``golang.org/x/time/rate``.

The limiter keeps no queue and no thread.  Its state is three numbers:
``_tokens`` (may go negative: tokens promised to waiters), ``_last`` (the
time ``_tokens`` was computed at) and ``_last_event`` (when the latest
reservation may act).  A request takes its tokens at once, possibly into
debt, and learns how long to wait until the debt is paid; so waiters are
served first come first served without waking each other: each later
reservation is dated behind every earlier one.  A waiter that gives up
returns what nobody reserved after it (``_cancel_at``).

Every method reads the time once, through ``_clock.now()`` (the module
attribute, so a test clock can swap it), and passes it to a ``*_at(t, ...)``
twin that does the work; those twins are what the ported x/time/rate tests
drive with exact times.  Waiting happens only on gocore timers and contexts.
``allow()``, the hot path, is compiled (src/ratelimit.pxi); it implements
``_allow_at(now, n)`` in one locked step.
"""
from __future__ import annotations

import math
from typing import Any, Optional

from gocore import _asyncio_bridge, _clock
from gocore._args import check_int
from gocore._gocore import Chan, Mutex, _install_clock, _timeout_seconds, _TokenBucket, select
from gocore.errors import DeadlineExceeded
from gocore.timers import Seconds, Timer

__all__ = ["RateLimiter", "Reservation"]

_INF = math.inf
_install_clock(_clock)


def _check_rate(rate: Any) -> float:
    if isinstance(rate, bool) or not isinstance(rate, (int, float)):
        raise TypeError(f"rate must be a number of tokens per second, not {type(rate).__name__}")
    r = float(rate)
    if r != r or r < 0:
        raise ValueError(f"rate must be >= 0 (math.inf: no limit), got {rate!r}")
    return r


def _check_count(value: Any, what: str) -> int:
    count = check_int(value, what, 0)
    if count >= 1 << 63:
        raise OverflowError(f"{what} must fit in 64 bits, got {count}")
    return count


class Reservation:
    """Tokens promised by ``RateLimiter.reserve``: ``ok`` tells whether the
    limiter can grant them at all, ``delay()`` how long to wait before
    acting, ``cancel()`` returns them (as far as no later reservation
    depends on them).

    Example::

        r = limiter.reserve()
        if r.ok:
            time.sleep(r.delay())
            act()
    """

    __slots__ = ("ok", "_lim", "_tokens", "_time_to_act", "_limit")

    def __init__(self, lim: "RateLimiter", ok: bool, tokens: int, time_to_act: float,
                 limit: float) -> None:
        self.ok = ok
        self._lim = lim
        self._tokens = tokens            # what cancel may give back
        self._time_to_act = time_to_act
        self._limit = limit              # the rate when reserved (cancel prices tokens with it)

    def delay(self) -> float:
        """Seconds to wait before acting (0.0: now; ``math.inf`` if not ``ok``)."""
        return self._delay_from(_clock.now())

    def _delay_from(self, t: float) -> float:
        if not self.ok:
            return _INF
        d = self._time_to_act - t
        return d if d > 0 else 0.0

    def cancel(self) -> None:
        """Give the tokens back, as far as no later reservation relies on them
        (Go's ``Reservation.Cancel``).  No effect once the time to act has passed."""
        self._lim._cancel_at(self, _clock.now())

    def __repr__(self) -> str:
        return f"<Reservation ok={self.ok} tokens={self._tokens} delay={self.delay():.6f}>"


class RateLimiter(_TokenBucket):
    """A token bucket (Go's ``rate.Limiter``): `rate` tokens per second
    (``math.inf``: no limit), at most `burst` kept, starting full.

    Example::

        limiter = gocore.RateLimiter(100, burst=10)     # 100/s, bursts of 10
        if limiter.allow():
            handle()
        limiter.acquire(ctx=ctx)                         # waits its turn (FIFO)
        with limiter:
            call_api()
        async with limiter:
            await call_api_async()
    """

    # The fields live in the compiled base (_TokenBucket), which also gives
    # allow(), the hot path: take n tokens if they are there now, else
    # return False and take nothing.
    __slots__ = ()

    def __init__(self, rate: float, burst: int = 1) -> None:
        self._mu = Mutex()
        self._limit = _check_rate(rate)
        self._burst = _check_count(burst, "burst")
        # _tokens, _last, _last_event are guarded by _mu.  _last = -inf makes
        # the first refill fill the bucket whatever time it is (Go's zero
        # time), which is how the bucket "starts full" even if the clock
        # jumps backwards before its first use.
        self._tokens = float(self._burst)
        self._last = -_INF
        self._last_event = -_INF

    # ---- reading the configuration ----

    @property
    def rate(self) -> float:
        """Tokens per second (``math.inf``: no limit)."""
        return self._limit

    @property
    def burst(self) -> int:
        """Bucket size: the most tokens one request, or a burst, can take."""
        return self._burst

    def tokens(self) -> float:
        """Tokens available now (negative while waiters hold a debt)."""
        return self._tokens_at(_clock.now())

    def _tokens_at(self, t: float) -> float:
        with self._mu:
            return self._advance(t)

    def _advance(self, t: float) -> float:
        """Tokens at time t, refilled since _last (caller holds _mu; changes nothing)."""
        last = self._last
        if t < last:                      # the clock went backwards: no refill, no debt
            last = t
        limit = self._limit
        tokens = self._tokens
        if limit > 0 and t > last:
            tokens += (t - last) * limit
        burst = self._burst
        return float(burst) if tokens > burst else tokens

    # ---- taking tokens ----

    def _allow_at(self, t: float, n: int = 1) -> bool:
        return self._reserve_at(t, n, 0.0).ok

    def reserve(self, n: int = 1) -> Reservation:
        """Reserve `n` tokens now, paying later: the returned ``Reservation``
        says how long to wait (``delay()``); ``ok`` is False (and nothing is
        taken) if `n` exceeds the burst of a finite rate."""
        _check_count(n, "n")
        return self._reserve_at(_clock.now(), n, _INF)

    def _reserve_at(self, t: float, n: int, max_wait: float) -> Reservation:
        """Go's reserveN: take n tokens at time t if the wait for them is at
        most max_wait seconds (and n fits the bucket); otherwise change nothing."""
        with self._mu:
            limit = self._limit
            if limit == _INF:
                return Reservation(self, True, n, t, limit)
            tokens = self._advance(t) - n
            wait = 0.0
            if tokens < 0:
                wait = -tokens / limit if limit > 0 else _INF
            if n > self._burst or wait > max_wait:
                return Reservation(self, False, 0, t, limit)
            r = Reservation(self, True, n, t + wait, limit)
            self._last = t
            self._tokens = tokens
            self._last_event = r._time_to_act
            return r

    def _cancel_at(self, r: Reservation, t: float) -> None:
        """Go's CancelAt: return r's tokens, except those that reservations
        made after r already count on."""
        if not r.ok:
            return
        with self._mu:
            if self._limit == _INF or r._tokens == 0 or r._time_to_act < t:
                return
            # Reservations after r are dated after it; the tokens they took
            # between r's time and the last one's are not r's to return.
            later = (self._last_event - r._time_to_act) * r._limit if r._limit > 0 else 0.0
            restore = r._tokens - later
            if restore <= 0:
                return
            tokens = self._advance(t) + restore
            if tokens > self._burst:
                tokens = self._burst
            self._last = t
            self._tokens = tokens
            if r._time_to_act == self._last_event and r._limit > 0:
                previous = r._time_to_act - r._tokens / r._limit
                if previous >= t:
                    self._last_event = previous
            r._tokens = 0                 # a second cancel gives nothing back

    def _start_wait(self, n: int, ctx: Any, timeout: Any) -> Optional[Reservation]:
        """The checks and the reservation shared by acquire and aacquire:
        None when the tokens are there now, else the reservation to wait for."""
        _check_count(n, "n")
        seconds = _timeout_seconds(timeout)     # the library's one rule (timeout.pxi); None: forever
        with self._mu:
            burst, limit = self._burst, self._limit
        if n > burst and limit != _INF:
            raise ValueError(f"acquire(n={n}) exceeds the limiter's burst {burst}")
        if ctx is not None:
            err = ctx.err()
            if err is not None:
                raise err
        t = _clock.now()
        wait_limit = _INF
        deadline_first = False
        if seconds is not None:
            wait_limit = seconds
        deadline = ctx.deadline() if ctx is not None else None
        if deadline is not None and deadline - t <= wait_limit:
            wait_limit = deadline - t
            deadline_first = True
        r = self._reserve_at(t, n, wait_limit)
        if not r.ok:
            # Fail fast: waiting would only end in the same error, later.
            if deadline_first:
                raise DeadlineExceeded(f"acquire(n={n}) would wait past the context deadline")
            raise TimeoutError(f"acquire(n={n}) would wait longer than timeout={timeout}")
        if r._delay_from(t) == 0.0:
            return None
        return r

    def acquire(self, n: int = 1, ctx: Any = None, timeout: Optional[Seconds] = None) -> None:
        """Wait until `n` tokens are granted, first come first served.

        Raises ``ValueError`` if `n` exceeds the burst of a finite rate; raises
        at once, without waiting, ``TimeoutError`` (or ``DeadlineExceeded``)
        if the wait would outlast `timeout` (or the ctx deadline); raises
        ``ctx.err()`` if ctx is already done or ends while waiting.  A wait
        that is given up (ctx, an exception) returns its reservation."""
        r = self._start_wait(n, ctx, timeout)
        if r is None:
            return
        timer = Timer(r.delay())
        tick: Chan[float] = timer.c  # type: ignore[assignment]   # a Timer(...) always has c
        try:
            if ctx is None:
                tick.recv()
            elif select(tick.recv, ctx.done().recv)[0] == 1:
                r.cancel()
                raise ctx.err()
        except BaseException:
            r.cancel()                    # idempotent: ctx path already cancelled
            raise
        finally:
            timer.stop()

    async def aacquire(self, n: int = 1, ctx: Any = None) -> None:
        """``acquire`` for an asyncio task: waits without blocking its loop; a
        cancelled task returns its reservation."""
        r = self._start_wait(n, ctx, None)
        if r is None:
            return
        try:
            fired = await _asyncio_bridge.sleep(r.delay(), ctx)
        except BaseException:
            r.cancel()
            raise
        if not fired:
            r.cancel()
            raise ctx.err()

    def set_rate(self, rate: float) -> None:
        """Change the rate from now on (tokens so far are kept)."""
        rate = _check_rate(rate)
        self._set_at(_clock.now(), rate, None)

    def set_burst(self, burst: int) -> None:
        """Change the bucket size from now on."""
        burst = _check_count(burst, "burst")
        self._set_at(_clock.now(), None, burst)

    def _set_at(self, t: float, rate: Optional[float], burst: Optional[int]) -> None:
        with self._mu:
            self._tokens = self._advance(t)
            self._last = t
            if rate is not None:
                self._limit = rate
            if burst is not None:
                self._burst = burst

    def __enter__(self) -> "RateLimiter":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    async def __aenter__(self) -> "RateLimiter":
        await self.aacquire()
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def __repr__(self) -> str:
        return f"<RateLimiter rate={self._limit} burst={self._burst} tokens={self.tokens():.3f}>"
