# The core's side of gocore.testing.fake_clock (the C half is gocore_clock.h).
# Only the Python layer's test clock calls these.

cdef bint _fake_installed = False


def _fake_clock_set(now_ns):
    """Run the core's timeouts on virtual time `now_ns` (int, ns on
    time.monotonic()'s scale), or back on the real clock for None."""
    global _fake_installed
    if now_ns is None:
        if _fake_installed:
            gocore_fake_remove()
            _fake_installed = False
        return
    cdef int64_t ns = now_ns
    if _fake_installed:
        gocore_fake_advance(ns)
    else:
        gocore_fake_install(ns)
        _fake_installed = True


def _fake_clock_next():
    """The earliest virtual deadline a core wait is parked on (ns), or None."""
    cdef int64_t v = gocore_fake_next()
    return None if v == INT64_MAX else v


def _fake_clock_due():
    """How many core waits are past their virtual deadline but still parked."""
    return gocore_fake_due()


def _fake_clock_waiters():
    """Native ids of the threads parked in a core wait on virtual time (they
    poll it in short real slices, so they burn a little CPU while blocked)."""
    cdef int64_t buf[256]
    cdef int64_t n = gocore_fake_waiters(buf, 256)
    cdef int64_t* big
    cdef int64_t i
    if n <= 256:
        return frozenset([buf[i] for i in range(n)])
    big = <int64_t*>PyMem_RawMalloc(sizeof(int64_t) * n * 2)
    if big == NULL:
        raise MemoryError()
    try:
        n = min(gocore_fake_waiters(big, n * 2), n * 2)
        return frozenset([big[i] for i in range(n)])
    finally:
        PyMem_RawFree(big)


def _fake_clock_wakes():
    """How many parks have returned under a test clock (see gocore_clock.h)."""
    return gocore_load_acquire(&gocore_fake_wakes)
