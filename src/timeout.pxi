# ---- timeouts and durations: the library's one parser ----
#
# Every `timeout=` in gocore (core and Python layer) goes through
# timeout_seconds; every duration (after, Timer, Ticker, with_timeout,
# context deadlines in seconds) through duration_seconds.  One rule:
#
#   None                       wait forever (timeouts only)
#   int, float, numbers.Real   seconds (Fraction too), and decimal.Decimal
#   datetime.timedelta         its total_seconds()
#   anything else, and bool    TypeError("timeout must be a number of seconds
#                              or None, not str")
#   NaN, negative              ValueError("timeout must be a non-negative number
#                              of seconds or None, not -5"), as the stdlib's
#                              queue does; a duration instead fires at once
#                              when negative (Ticker: ValueError when <= 0)
#   +inf, or past the park     wait forever: never an overflow into the past
#   limit (1e9 s), or an int
#   too large for a float
#
# The one exception is Mutex.acquire(blocking, timeout), which keeps
# threading.Lock's rules on the same type check (lock_timeout_seconds).

import numbers as _numbers
import decimal as _decimal
import datetime as _datetime
import threading as _timeout_threading
from libc.math cimport INFINITY

# Past this many seconds a timeout is "forever": keeps now + timeout far from
# int64 overflow (an overflow would wrap into the past and fire at once).
cdef double _FOREVER_SECONDS = 1e9
cdef double _LOCK_TIMEOUT_MAX = _timeout_threading.TIMEOUT_MAX
cdef object _timedelta = _datetime.timedelta
cdef tuple _real_types = (_numbers.Real, _decimal.Decimal)


cdef inline int64_t deadline_in(double seconds) noexcept nogil:
    """Absolute deadline `seconds` from now; <= 0 means 'already passed'."""
    if seconds >= _FOREVER_SECONDS:
        return GOCORE_NO_DEADLINE
    # gocore_now(): the real clock, or a test clock's virtual time.
    if seconds <= 0:
        return gocore_now()
    return gocore_now() + <int64_t>(seconds * 1e9)


cdef inline int64_t real_deadline(int64_t deadline) noexcept nogil:
    """A deadline on gocore_now()'s clock moved to the real clock (for
    gocore's own waits that a test clock must not stretch)."""
    if deadline == GOCORE_NO_DEADLINE:
        return deadline
    return deadline - gocore_now() + gocore_nanotime()


cdef double seconds_of(object t, str what, bint none_ok) except? -1.0:
    """The type rule: `t` in seconds as a double (None: +inf when `none_ok`;
    beyond a double: +/-inf).  NaN and the sign are the caller's to judge."""
    if type(t) is float:
        return <double>t
    if isinstance(t, bool) or (t is None and not none_ok) or not (
            t is None or isinstance(t, (int, _timedelta)) or isinstance(t, _real_types)):
        tail = " or None" if none_ok else ""
        raise TypeError(f"{what} must be a number of seconds{tail}, not {type(t).__name__}")
    if t is None:
        return INFINITY
    if isinstance(t, _timedelta):
        return t.total_seconds()
    try:
        return float(t)
    except OverflowError:            # an int (or Fraction) too large for a float
        return INFINITY if t > 0 else -INFINITY
    except ValueError:               # Decimal('sNaN')
        return float("nan")


cdef double timeout_seconds(object timeout) except? -1.0:
    """A `timeout=` in seconds, >= 0 (+inf: forever)."""
    cdef double t = seconds_of(timeout, "timeout", True)
    if not (t >= 0):                 # catches NaN too
        raise ValueError(f"timeout must be a non-negative number of seconds or None, not {timeout!r}")
    return t


cdef int64_t deadline_from_timeout(object timeout) except? -1:
    """`timeout=None` waits forever; otherwise the deadline `timeout` from now."""
    if timeout is None:
        return GOCORE_NO_DEADLINE
    return deadline_in(timeout_seconds(timeout))


cdef double lock_timeout_seconds(object timeout, bint blocking) except? -2.0:
    """threading.Lock.acquire's rules on the shared type check: -1 (the
    default) waits forever and is returned as -1; other negatives and NaN are
    ValueError; a finite value past threading.TIMEOUT_MAX is OverflowError
    (+inf waits forever, as everywhere in gocore); a non-blocking call may not
    give a timeout."""
    cdef double t
    if type(timeout) is int and timeout == -1:
        return -1.0
    t = seconds_of(timeout, "timeout", False)
    if t == -1:
        return -1.0
    if not blocking:
        raise ValueError("can't specify a timeout for a non-blocking call")
    if not (t >= 0):
        raise ValueError("timeout value must be a non-negative number")
    if t == INFINITY and isinstance(timeout, float):
        return -1.0
    if t > _LOCK_TIMEOUT_MAX:        # an int beyond a float too, as threading.Lock
        raise OverflowError("timeout value is too large")
    return t


def _timeout_seconds(timeout):
    """The Python layer's `timeout=`: None (forever) or seconds >= 0."""
    cdef double t = timeout_seconds(timeout)
    return None if t == INFINITY else t


def _duration_seconds(d, what="duration"):
    """The Python layer's durations: seconds as a float, negative allowed
    (fires at once), +/-inf beyond a float; NaN is ValueError."""
    cdef double t = seconds_of(d, what, False)
    if t != t:
        raise ValueError(f"{what} must be a number of seconds, not NaN")
    return t
