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
