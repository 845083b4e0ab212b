# Turning Python `timeout=` arguments into absolute monotonic deadlines (ns).

# Past this many seconds a timeout is "forever": keeps now + timeout far from
# int64 overflow (an overflow would wrap into the past and fire at once).
cdef double _FOREVER_SECONDS = 1e9


cdef inline int64_t deadline_in(double seconds) noexcept nogil:
    """Absolute deadline `seconds` from now; <= 0 means 'already passed'."""
    if seconds >= _FOREVER_SECONDS:
        return GOCORE_NO_DEADLINE
    if seconds <= 0:
        return gocore_nanotime()
    return gocore_nanotime() + <int64_t>(seconds * 1e9)


cdef int64_t deadline_from_timeout(object timeout) except? -1:
    """`timeout=None` waits forever; a number is seconds from now.

    Negative and NaN timeouts are rejected with ValueError, as the stdlib's
    queue and threading modules do.
    """
    if timeout is None:
        return GOCORE_NO_DEADLINE
    cdef double t = timeout          # raises TypeError for non-numbers
    if not (t >= 0):                 # catches NaN too
        raise ValueError(f"timeout must be a non-negative number or None, not {timeout!r}")
    return deadline_in(t)
