# ---- waits of the main thread: signal slices and the deadlock check ----
#
# Only the main thread runs Python signal handlers, and only between
# bytecodes: a main thread asleep in the core would run them (Ctrl-C's
# KeyboardInterrupt) only when its wait ends.  So the main thread sleeps in
# slices of MAIN_SLICE_NS; at the end of each it runs the handlers and, for a
# wait with no deadline while deadlock detection is on, asks the detector
# whether every other thread is blocked for good.
#
# A slice that ends withdraws the waiter through the primitive's own timeout
# path (which is built so that a timed-out waiter holds nothing) or, where
# the primitive queues its own record outside the sema table (Cond,
# Semaphore), only stops sleeping on the record's private word, so the
# waiter keeps its place.  Either way, a handler that raises leaves the
# caller holding nothing: see each primitive's main-thread path.


cdef inline int64_t main_slice_until(int64_t deadline) noexcept nogil:
    # Under the test clock deadlines are virtual, so no real-time slice end
    # can be mixed in: the wait then runs to its (virtual) deadline.
    return gocore_slice_until(deadline, MAIN_SLICE_NS)


cdef object main_slice_end(int64_t deadline, int64_t what):
    """Between two slices of a wait on `what`: run the signal handlers (their
    exception propagates), then, for a wait without deadline, the deadlock
    probe.  Returns the deadlock report (a str) or None."""
    PyErr_CheckSignals()
    return main_deadlock_report(deadline, what)


cdef object main_deadlock_report(int64_t deadline, int64_t what):
    """The deadlock probe alone (for a wait without deadline, while detection
    is on): the report (a str) if no other thread can ever run again, else
    None."""
    probe = _deadlock_probe
    if deadline != GOCORE_NO_DEADLINE or probe is None:
        return None
    return probe(_WAIT_NAMES.get(what & WAIT_KIND_MASK, "waiting"))


cdef int raise_deadlock(object report) except -1:
    raise DeadlockError(report)
