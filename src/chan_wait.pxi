# ---- Chan: waiter records, claiming, waking and parking ----
#
# The queue helpers run under the channel's lock; chan_wake_all, chan_park and
# chan_withdraw run without any (see "Waiters and select" in chan_decls.pxi).

cdef inline void _queue_append(WaitQueue* q, ChanWaiter* w) noexcept nogil:
    w.next = NULL
    w.prev = q.tail
    if q.tail != NULL:
        q.tail.next = w
    else:
        q.head = w
    q.tail = w
    w.queued = True


cdef inline void _queue_unlink(WaitQueue* q, ChanWaiter* w) noexcept nogil:
    if w.prev != NULL:
        w.prev.next = w.next
    else:
        q.head = w.next
    if w.next != NULL:
        w.next.prev = w.prev
    else:
        q.tail = w.prev
    w.prev = w.next = NULL
    w.queued = False


cdef inline ChanWaiter* _claim_first(WaitQueue* q) noexcept nogil:
    """Dequeue the first waiter whose sleeper we manage to claim.  Records of
    sleepers already claimed elsewhere (a select that fired on another
    channel, a timed-out waiter) are dropped on the way."""
    cdef ChanWaiter* w
    while q.head != NULL:
        w = q.head
        _queue_unlink(q, w)
        if gocore_cas(&w.sleeper.state, 0, 1):
            rec_unparked(w.sleeper.rec)      # a wake-up is on the way
            return w
    return NULL


cdef inline void _complete(ChanWaiter* w, int result, ChanWaiter** wake) noexcept nogil:
    # The claimer's writes; the unpark (after the lock is released) publishes them.
    w.result = result
    w.sleeper.fired = w
    w.next = wake[0]
    wake[0] = w


cdef inline void chan_wake_all(ChanWaiter* w, ChanSleeper* skip) noexcept nogil:
    """Unpark every completed record in the wake list (call without any
    channel lock).  `skip`: the caller's own sleeper, completed by its own
    re-check, which is awake already."""
    cdef ChanWaiter* nxt
    cdef ChanSleeper* s
    while w != NULL:
        nxt = w.next                 # read first: after the unpark w may vanish
        s = w.sleeper
        if s != skip:
            gocore_unpark(&s.parker)
        w = nxt



cdef void chan_withdraw(ChanWaiter* recs, Py_ssize_t n) noexcept nogil:
    """Take records off their queues (the sleeper is claimed: nothing can
    complete them any more).  One channel lock at a time suffices."""
    cdef Py_ssize_t i
    cdef ChanWaiter* w
    cdef ChanCore* c
    for i in range(n):
        w = &recs[i]
        c = <ChanCore*>w.chan
        if c == NULL:
            continue
        gocore_spin_lock(&c.lock)
        if w.queued:
            _queue_unlink(&c.sendq if w.is_send else &c.recvq, w)
            _update_flags(c)
        gocore_spin_unlock(&c.lock)


cdef inline void chan_waiter_init(ChanWaiter* w, ChanSleeper* sl, bint is_send,
                                  PyObject* value, Py_ssize_t case_index) noexcept nogil:
    w.prev = w.next = NULL
    w.sleeper = sl
    w.chan = NULL
    w.value = value
    w.case_index = case_index
    w.result = R_BLOCK
    w.is_send = is_send
    w.queued = False


cdef inline void chan_sleeper_init(ChanSleeper* sl, int64_t what, int64_t deadline) noexcept nogil:
    # `what`: how a dump names this wait; recorded before any of the
    # sleeper's records is queued, so it is in place before the sleeper
    # counts as parked (rec_parked, under the channel lock, once queued).
    sl.state = 0
    sl.fired = NULL
    if rec_on_main_thread():
        rec_attach_main()
    sl.rec = rec_self()
    rec_wait_begin(what, deadline)
    gocore_parker_init(&sl.parker)


cdef inline void chan_sleeper_done(ChanSleeper* sl) noexcept nogil:
    rec_unparked(sl.rec)
    rec_wait_end()
    gocore_parker_destroy(&sl.parker)


cdef int chan_park(ChanSleeper* sl, ChanWaiter* recs, Py_ssize_t n, int64_t deadline) except -1:
    """Sleep (GIL released) until a waker completes one of `recs`, or the
    deadline passes.  PARK_WOKE: sl.fired is set; PARK_TIMEOUT: the records
    are withdrawn and nothing completed.  In the main thread a signal
    handler that raises (KeyboardInterrupt) withdraws the records and
    propagates; if a completion won the race it is kept (its value dropped).
    """
    cdef bint main = PyThread_get_thread_ident() == _main_thread_ident
    cdef int64_t slice_end
    cdef int got
    while True:
        # `deadline` is on gocore_now()'s clock (maybe a test clock's); the
        # signal slice is real time whatever that clock says.
        slice_end = GOCORE_NO_DEADLINE
        if main:
            slice_end = gocore_nanotime() + SIGNAL_SLICE_NS
        with nogil:
            got = gocore_park_sliced(&sl.parker, deadline, slice_end)
        if got == 1:
            return PARK_WOKE
        if got == 0:
            if gocore_cas(&sl.state, 0, 1):
                chan_withdraw(recs, n)
                return PARK_TIMEOUT
            # A waker claimed us first and is about to unpark: wait for it,
            # so it never touches a dead stack frame, then honour its result.
            with nogil:
                gocore_park(&sl.parker, GOCORE_NO_DEADLINE)
            return PARK_WOKE
        try:
            report = main_slice_end(deadline, gocore_load_acquire(&_main_rec.wait))
        except BaseException:
            if gocore_cas(&sl.state, 0, 1):
                chan_withdraw(recs, n)
            else:
                with nogil:
                    gocore_park(&sl.parker, GOCORE_NO_DEADLINE)
            raise
        if report is not None:
            # Every other thread is blocked for good (deadlock.py).  Still
            # unclaimed means nothing will ever complete us: withdraw, raise.
            if gocore_cas(&sl.state, 0, 1):
                chan_withdraw(recs, n)
                raise_deadlock(report)
            with nogil:
                gocore_park(&sl.parker, GOCORE_NO_DEADLINE)
            return PARK_WOKE


cdef inline bint _may_block(int64_t deadline) noexcept nogil:
    return deadline == GOCORE_NO_DEADLINE or gocore_now() < deadline


cdef int chan_block_forever(int64_t deadline, str what) except -1:
    """nilchan: nothing ever completes; wait for the deadline, then raise."""
    cdef ChanSleeper sl
    chan_sleeper_init(&sl, WAIT_CHAN_SEND_NIL if what == "send" else WAIT_CHAN_RECV_NIL, deadline)
    rec_parked(sl.rec)               # nothing can ever complete it
    try:
        chan_park(&sl, NULL, 0, deadline)
    finally:
        chan_sleeper_done(&sl)
    raise TimeoutError(f"{what} on nil channel timed out")
