# ---- Chan: waiter records, claiming, waking and parking ----
#
# The queue helpers run under the channel's lock; chan_wake_all, chan_park and
# chan_withdraw run without any (see "Waiters and select" in chan_decls.pxi).

cdef inline void chan_lock(ChanCore* c) noexcept nogil:
    """Take c.lock; in a forked child, first forget the parent's waiters
    (a channel last locked before the fork: see fork.pxi)."""
    if gocore_load_acquire(&c.gen) != gocore_load_relaxed(&_fork_gen):
        chan_reset_for_fork(c)
    gocore_spin_lock(&c.lock)


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
    re-check, which is awake already.

    More than WAKE_FANOUT thread sleepers (a close() with thousands parked)
    are not unparked at once: on a GIL build every one of them would go
    straight to the GIL's wait, where each waiter wakes every switch
    interval to demand it, so the cost of each hand-over grows with the
    crowd and the whole wake-up with its square (minutes for 10,000).
    Instead the first WAKE_FANOUT are unparked and every sleeper's `relay`
    names the one WAKE_FANOUT places further on, which it unparks once it
    runs again (chan_sleeper_done, with the GIL back): about WAKE_FANOUT
    threads wait for the GIL at any time, and the wake-up is linear (GIL
    builds only: _wake_fanout).  The
    relayed sleepers are claimed, so they stay parked (and their records
    alive) until their unpark, whatever their deadline says."""
    cdef ChanWaiter* nxt
    cdef ChanWaiter* lead
    cdef ChanSleeper* s
    cdef ChanWaiter* tasks = NULL
    cdef ChanWaiter* threads = NULL
    cdef ChanWaiter* last = NULL
    cdef Py_ssize_t n = 0
    while w != NULL:
        nxt = w.next
        s = w.sleeper
        if s != skip:
            if s.task != NULL:
                w.next = tasks       # a task's record: woken below, in one batch
                tasks = w
            else:
                w.next = NULL        # the thread records, kept in order
                if last == NULL:
                    threads = w
                else:
                    last.next = w
                last = w
                n += 1
        w = nxt
    if n > _wake_fanout:
        # Nobody on the list runs before its unpark, so the relays can be
        # written first, in one pass with a lead WAKE_FANOUT records ahead.
        lead = threads
        for n in range(WAKE_FANOUT):
            lead = lead.next
        w = threads
        while lead != NULL:
            w.sleeper.relay = lead.sleeper
            lead = lead.next
            w = w.next
    w = threads
    n = 0
    while w != NULL and n < _wake_fanout:
        nxt = w.next                 # read first: after the unpark w may vanish
        gocore_unpark(&w.sleeper.parker)
        w = nxt
        n += 1
    if tasks != NULL:
        chan_wake_tasks(tasks)


cdef inline bint chan_wake_list_has(ChanWaiter* w, ChanSleeper* s) noexcept nogil:
    """Whether a wake list gathered under the channel locks holds a record
    of `s`, i.e. whether `s` was completed by its own caller's re-check.
    Call before chan_wake_all (which relinks the list).  A select sleeper
    can also be claimed by another thread in the moment after its locks are
    released; that claimer's wake (unpark, or a task's resolve and its
    armed reference) is still on its way, so a state word read after the
    unlock cannot tell the two apart, and only this can."""
    while w != NULL:
        if w.sleeper == s:
            return True
        w = w.next
    return False


cdef inline void chan_relay(ChanSleeper* sl) noexcept nogil:
    """Pass a wide wake-up on (see chan_wake_all): a woken thread sleeper
    calls this once it runs again."""
    cdef ChanSleeper* nxt = sl.relay
    if nxt != NULL:
        sl.relay = NULL
        gocore_unpark(&nxt.parker)


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
        chan_lock(c)
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
    sl.task = NULL
    sl.relay = NULL
    if rec_on_main_thread():
        rec_attach_main()
    sl.rec = rec_self()
    rec_wait_begin(what, deadline)
    gocore_parker_init(&sl.parker)


cdef inline void chan_sleeper_done(ChanSleeper* sl) noexcept nogil:
    # Every way out of a thread's wait ends here (the callers' finally), so
    # a relayed wake-up is always passed on, whatever the caller raises.
    chan_relay(sl)
    rec_unparked(sl.rec)
    rec_wait_end()
    gocore_parker_destroy(&sl.parker)


# How often a main thread blocked on a channel wakes to run signal handlers.
cdef int64_t _signal_slice_ns = SIGNAL_SLICE_NS


def _set_signal_slice(double seconds):
    """For tests: the main thread's signal slice in seconds; returns the old one."""
    if not (seconds > 0):
        raise ValueError("signal slice must be positive")
    cdef int64_t old = gocore_swap(&_signal_slice_ns, <int64_t>(seconds * 1e9))
    return old / 1e9


cdef inline void chan_sleeper_rearm(ChanSleeper* sl) noexcept nogil:
    """Make a sleeper that claimed itself (and withdrew every record) ready
    for another round: nobody else holds it, and no unpark is pending (only
    a claimer unparks, and the claim was ours).  Not parked until its records
    are queued again."""
    rec_unparked(sl.rec)
    sl.fired = NULL
    gocore_store(&sl.state, 0)


cdef void chan_abandon(ChanSleeper* sl, ChanWaiter* recs, Py_ssize_t n) noexcept nogil:
    """Leave a wait early (an exception): claim the sleeper so nothing can
    complete a record any more, or, if a completer claimed it first, wait for
    its unpark, its last touch of our frame; then take every record off its
    queue.  After this no channel points into the caller's frame."""
    if not gocore_cas(&sl.state, 0, 1):
        gocore_park(&sl.parker, GOCORE_NO_DEADLINE)
    chan_withdraw(recs, n)


cdef int chan_park(ChanSleeper* sl, ChanWaiter* recs, Py_ssize_t n, int64_t deadline) except -1:
    """Sleep (GIL released) until a waker completes one of `recs`, or the
    deadline passes.  PARK_WOKE: sl.fired is set; PARK_TIMEOUT: the records
    are withdrawn and nothing completed; PARK_RETRY (main thread only): see
    below.

    Signals.  Handlers run only in the main thread, so a main thread wakes
    every slice.  It then claims its own sleeper first, exactly as a timeout
    does, and only then runs the handlers:
      * the claim wins: nothing can complete a record any more; withdraw
        them all, run the handlers; if one raises, the exception propagates
        and nothing was sent or received (nothing reported failed was
        delivered); if none raises, PARK_RETRY: the caller redoes the whole
        operation (its records join the back of their queues again).
      * the claim loses: a completion is in flight and wins.  Wait for its
        unpark and return PARK_WOKE without running the handlers: the
        signal stays pending and CPython runs its handler at the caller's
        next bytecode, after this operation's result has been delivered
        (nothing sent successfully is lost).
    Running the handlers before the claim (as a plain PyErr_CheckSignals
    poll would) leaves the records live while a handler runs, so a
    completion landing during a handler that then raises is lost.

    Deadlock detection (main thread, no deadline, detection on) looks at
    the end of a slice BEFORE the claim, while the records are still queued:
    a partner that arrives during the probe then finds them and completes
    one (progress the probe's second snapshot sees), whereas withdrawn
    records would make that partner block too and read as a deadlock.
    """
    cdef bint main = PyThread_get_thread_ident() == _main_thread_ident
    cdef int64_t slice_end
    cdef int got
    cdef bint woke
    report = None
    # `deadline` is on gocore_now()'s clock (maybe a test clock's); the
    # signal slice is real time whatever that clock says.
    slice_end = GOCORE_NO_DEADLINE
    if main:
        slice_end = gocore_nanotime() + gocore_load_relaxed(&_signal_slice_ns)
    # Everything up to the withdraw happens before the GIL is taken back:
    # a daemon thread woken during interpreter finalization may be ended
    # inside that re-acquire, and must leave no record queued on a
    # channel that points into its (then freed) stack.  A plain wake-up
    # (the common case) finishes inside this one GIL release: a second
    # release and re-acquire would cost a GIL hand-off per blocking
    # operation (callgrind, 3.11 ping-pong: 5109 -> 4255 instructions per
    # round trip).
    with nogil:
        got = gocore_park_sliced(&sl.parker, deadline, slice_end)
        if got == 0:
            # Past the deadline: running again from here on, as the registry
            # must say before the GIL is taken back (a test clock's advance()
            # waits for exactly that, and the re-acquire can take long).
            rec_unparked(sl.rec)
        elif got == 1 and n > 1:
            # Woken with one record: the claimer unlinked it under the
            # lock, so no other thread can reach it; select's others
            # are still queued (this is its pass 3).
            chan_withdraw(recs, n)
    if got == 1:
        return PARK_WOKE
    if got < 0 and deadline == GOCORE_NO_DEADLINE:
        try:
            report = main_deadlock_report(deadline, gocore_load_acquire(&_main_rec.wait))
        except BaseException:
            with nogil:
                chan_abandon(sl, recs, n)
            raise
    with nogil:
        woke = False
        if not gocore_cas(&sl.state, 0, 1):
            # A waker claimed us first and is about to unpark: wait for it,
            # so it never touches a dead stack frame, then honour its result.
            gocore_park(&sl.parker, GOCORE_NO_DEADLINE)
            woke = True
        if not woke or n > 1:
            chan_withdraw(recs, n)      # as above, before the GIL
    if woke:
        return PARK_WOKE
    if got == 0:
        return PARK_TIMEOUT
    if report is not None:
        raise_deadlock(report)           # nothing completed, records gone
    PyErr_CheckSignals()                 # raises: nothing completed, records gone
    return PARK_RETRY


cdef inline bint _may_block(int64_t deadline) noexcept nogil:
    return deadline == GOCORE_NO_DEADLINE or gocore_now() < deadline


cdef int chan_block_forever(int64_t deadline, str what) except -1:
    """nilchan: nothing ever completes; wait for the deadline, then raise."""
    cdef ChanSleeper sl
    chan_sleeper_init(&sl, WAIT_CHAN_SEND_NIL if what == "send" else WAIT_CHAN_RECV_NIL, deadline)
    rec_parked(sl.rec)               # nothing can ever complete it
    try:
        while chan_park(&sl, NULL, 0, deadline) == PARK_RETRY:
            chan_sleeper_rearm(&sl)
            rec_parked(sl.rec)
    finally:
        chan_sleeper_done(&sl)
    raise TimeoutError(f"{what} on nil channel timed out")
