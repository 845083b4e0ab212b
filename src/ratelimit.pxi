# ---- token bucket: the state of gocore.RateLimiter and its allow() ----
from libc.math cimport INFINITY
#
# gocore.ratelimit.RateLimiter subclasses _TokenBucket; everything but
# allow() is Python there (x/time/rate's reserve / cancel / wait logic).
# allow() is the hot path, so it lives here: one clock read, one CAS to lock,
# a few double operations, one CAS to unlock.  The fields are guarded by _mu
# in both layers.  The time comes from the clock module the Python layer
# installs (gocore._clock): its now() is looked up at every call, so a test
# clock that replaces that attribute is seen at once.

cdef object _clock_module = None


def _install_clock(module):
    """Called once by gocore.ratelimit: the module whose now() tells the time."""
    global _clock_module
    _clock_module = module


@cython.binding(False)
cdef class _TokenBucket:
    """State of a token bucket (see gocore.ratelimit for the semantics)."""
    cdef public Mutex _mu
    cdef public double _limit         # tokens per second; +inf: no limit
    cdef public long long _burst      # bucket size
    cdef public double _tokens        # may be negative: tokens promised to waiters
    cdef public double _last          # time _tokens was computed at (-inf: never)
    cdef public double _last_event    # when the latest reservation may act

    def allow(self, n=1):
        """Take `n` tokens if they are there now; False (and take nothing) if not."""
        cdef double t = _clock_module.now()
        cdef double need = 1.0
        cdef double tokens, last, limit, burst
        cdef bint ok
        if n is not 1:
            if type(n) is not int:
                raise TypeError(f"n must be an int, not {type(n).__name__}")
            if n < 0:
                raise ValueError(f"n must be >= 0, got {n}")
            need = <double>n
        self._mu._lock()
        limit = self._limit
        if limit == INFINITY:
            self._mu._unlock()
            return True
        last = self._last
        tokens = self._tokens
        if t > last and limit > 0:    # the clock going back refills nothing
            tokens += (t - last) * limit
        burst = <double>self._burst
        if tokens > burst:
            tokens = burst
        # Times are float seconds of a monotonic clock far from zero, so a
        # refill of exactly `need` can come out a few ulps short of it: a
        # shortfall below a billionth of a token counts as none.
        ok = tokens >= need - 1e-9 and need <= burst
        if ok:
            self._tokens = tokens - need
            self._last = t
            self._last_event = t
        self._mu._unlock()
        return ok
