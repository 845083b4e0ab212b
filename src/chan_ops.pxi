# ---- Chan: the operations behind the Python methods (Chan and its views) ----


cdef int chan_drained(ChanCore* c) except -1:
    """A receive found the channel closed and drained: R_CLOSED, or the
    exception Chan._close_with left (the same object every time).  Only ever
    called on that path, so open channels never pay for the check."""
    if c.close_exc != NULL:
        raise <object>c.close_exc
    return R_CLOSED


cdef inline int chan_take(ChanCore* c, PyObject** out) except -1:
    """The methods' fast path: chan_pop_fast, with a drained channel turned
    into chan_drained (R_OK, R_BLOCK, R_CLOSED or R_DIVERT)."""
    cdef int r = chan_pop_fast(c, out)
    if r == R_CLOSED:
        return chan_drained(c)
    return r


cdef inline int chan_offer(ChanCore* c, PyObject* v) noexcept nogil:
    """Send v without waiting: R_OK (v moved), R_CLOSED or R_BLOCK (v is
    still the caller's)."""
    cdef ChanWaiter* wake = NULL
    cdef int r = R_DIVERT
    if c.cap > 0:
        r = chan_push_fast(c, v)
    if r == R_DIVERT:
        chan_lock(c)
        r = chan_send_locked(c, v, &wake)
        gocore_spin_unlock(&c.lock)
        chan_wake_all(wake, NULL)
    return r


cdef inline int chan_poll(ChanCore* c, PyObject** out) noexcept nogil:
    """Receive without waiting: R_OK (*out owned), R_CLOSED (closed and
    drained; the caller turns it into chan_drained) or R_BLOCK."""
    cdef ChanWaiter* wake = NULL
    cdef int r = R_DIVERT
    if c.cap > 0:
        r = chan_pop_fast(c, out)
    if r == R_DIVERT:
        chan_lock(c)
        r = chan_recv_locked(c, out, &wake)
        gocore_spin_unlock(&c.lock)
        chan_wake_all(wake, NULL)
    return r


cdef int chan_block(ChanCore* c, bint is_send, PyObject* v, PyObject** out,
                    int64_t deadline) except -1:
    """The general path of one send (of v, an owned reference) or receive
    (into *out): try under the lock, else queue a record and park.  R_OK
    (sent: v moved; received: *out owned), R_CLOSED (v still the caller's),
    or R_BLOCK: the deadline passed first (v still the caller's)."""
    cdef ChanWaiter* wake
    cdef ChanSleeper sl
    cdef ChanWaiter w
    cdef int r, p
    chan_sleeper_init(&sl, WAIT_CHAN_SEND if is_send else WAIT_CHAN_RECV, deadline)
    try:
        while True:
            # One round per signal slice that ran the handlers (PARK_RETRY):
            # the record was withdrawn, so the operation starts over.
            wake = NULL
            chan_waiter_init(&w, &sl, is_send, v, 0)
            chan_lock(c)
            if is_send:
                r = chan_send_locked(c, v, &wake)
            else:
                r = chan_recv_locked(c, out, &wake)
            if r == R_BLOCK and _may_block(deadline):
                chan_enqueue_locked(c, &w)
                if c.cap > 0:
                    chan_settle(c, &wake)    # the re-check after raising the flag
                r = w.result if gocore_load_acquire(&sl.state) else R_QUEUED
                if r == R_QUEUED:
                    rec_parked(sl.rec)
            gocore_spin_unlock(&c.lock)
            chan_wake_all(wake, &sl)
            if r != R_QUEUED:
                break
            # A handler's exception leaves chan_park with the record withdrawn
            # and nothing moved: a send's value is still the caller's (its
            # reference is dropped by chan_send), a receive took nothing.
            p = chan_park(&sl, &w, 1, deadline)
            if p == PARK_TIMEOUT:
                return R_BLOCK
            if p == PARK_WOKE:
                r = w.result
                break
            chan_sleeper_rearm(&sl)
    finally:
        chan_sleeper_done(&sl)
    if r == R_OK and not is_send and sl.fired == &w:
        out[0] = w.value             # completed by a waker (or our own re-check)
    return r


cdef int chan_send(Chan ch, object v, object timeout) except -1:
    """Send v: the general path (timeouts, blocking, closed channels)."""
    cdef int64_t deadline = deadline_from_timeout(timeout)
    cdef ChanCore* c = &ch._c
    cdef int r
    if ch._nil:
        return chan_block_forever(deadline, "send")
    Py_INCREF(v)                     # the reference that travels to the receiver
    r = R_BLOCK
    if c.cap > 0:
        r = chan_push_fast(c, <PyObject*>v)
    if r == R_BLOCK or r == R_DIVERT:
        try:
            r = chan_block(c, True, <PyObject*>v, NULL, deadline)
        except BaseException:
            Py_DECREF(v)             # a signal handler raised: not delivered
            raise
    if r == R_OK:
        return 0
    Py_DECREF(v)                     # not delivered: the reference is ours again
    if r == R_CLOSED:
        raise ClosedChannelError("send on closed channel")
    raise TimeoutError("channel send timed out")


cdef int chan_recv_raw(Chan ch, object timeout, PyObject** out) except -1:
    """Receive into *out (owned).  R_OK, or R_CLOSED once closed and drained."""
    cdef int64_t deadline = deadline_from_timeout(timeout)
    cdef ChanCore* c = &ch._c
    cdef int r
    if ch._nil:
        return chan_block_forever(deadline, "receive")
    r = R_BLOCK
    if c.cap > 0:
        r = chan_pop_fast(c, out)
    if r == R_BLOCK or r == R_DIVERT:
        r = chan_block(c, False, NULL, out, deadline)
    if r == R_BLOCK:
        raise TimeoutError("channel receive timed out")
    if r == R_CLOSED:
        return chan_drained(c)
    return R_OK


cdef object chan_recv(Chan ch, object timeout):
    cdef PyObject* p
    if chan_recv_raw(ch, timeout, &p) == R_OK:
        return gocore_steal(p)
    return None


cdef object chan_recv_ok(Chan ch, object timeout):
    cdef PyObject* p
    if chan_recv_raw(ch, timeout, &p) == R_OK:
        return (gocore_steal(p), True)
    return (None, False)


cdef object chan_next(Chan ch):
    cdef PyObject* p
    if chan_recv_raw(ch, None, &p) == R_OK:
        return gocore_steal(p)
    raise StopIteration


cdef int chan_close(Chan ch, object exc) except -1:
    """Close; `exc` (an exception or None) is what drained receives raise."""
    cdef ChanWaiter* wake = NULL
    cdef ChanCore* c = &ch._c
    cdef int r = R_CLOSED
    if ch._nil:
        raise ClosedChannelError("close of nil channel")
    chan_lock(c)
    if not (gocore_load_acquire(&c.tail) & TAIL_CLOSED):
        if exc is not None:
            # Stored before close_locked's seq_cst OR of TAIL_CLOSED: whoever
            # sees the flag sees the exception.
            Py_INCREF(exc)
            c.close_exc = <PyObject*>exc
        r = chan_close_locked(c, &wake)
    gocore_spin_unlock(&c.lock)
    if wake != NULL:
        # Every waiter at once: unpark them with the GIL released, so that
        # on a GIL build the woken threads need not wait behind us for it
        # (holding it across thousands of unparks made close() take minutes).
        with nogil:
            chan_wake_all(wake, NULL)
    if r == R_CLOSED:
        raise ClosedChannelError("close of closed channel")
    return 0


