# ---- the semaphore sleep/wake table: the bodies (see sema_decls.pxi) ----


cdef inline SemaBucket* _sema_bucket(int64_t* addr) noexcept nogil:
    return &_sema_table[((<size_t>addr) >> 3) % SEMA_BUCKETS]


cdef inline bint sema_try_acquire(int64_t* addr) noexcept nogil:
    """Take one unit from the counter if there is one; never blocks."""
    cdef int64_t v
    while True:
        # seq_cst, not just acquire: under the bucket lock this load is the
        # second half of the nwait handshake described at the top (an acquire
        # load may be satisfied before the preceding nwait increment is
        # visible on weakly ordered CPUs).  Same instruction as acquire on x86.
        v = gocore_load_seq(addr)
        if v <= 0:
            return False
        if gocore_cas(addr, v, v - 1):
            return True


cdef inline void _sema_enqueue(SemaBucket* b, SemaWaiter* w, bint lifo) noexcept nogil:
    # LIFO puts w before every other waiter; release scans from the head for the
    # first record with a matching address, so w is served first for its word.
    w.queued = True
    if lifo or b.head == NULL:
        w.prev = NULL
        w.next = b.head
        if b.head != NULL:
            b.head.prev = w
        else:
            b.tail = w
        b.head = w
    else:
        w.next = NULL
        w.prev = b.tail
        b.tail.next = w
        b.tail = w


cdef inline void _sema_unlink(SemaBucket* b, SemaWaiter* w) noexcept nogil:
    if w.prev != NULL:
        w.prev.next = w.next
    else:
        b.head = w.next
    if w.next != NULL:
        w.next.prev = w.prev
    else:
        b.tail = w.prev
    w.queued = False
    gocore_add(&b.nwait, -1)


cdef inline int64_t _sema_now(bint real) noexcept nogil:
    return gocore_nanotime() if real else gocore_now()


cdef bint _sema_acquire(int64_t* addr, bint lifo, int64_t deadline, bint real) noexcept nogil:
    """Wait for a unit of *addr.  Returns True when one was taken, False when
    `deadline` passed first (the waiter has then withdrawn and holds nothing).

    Call without the GIL: this is where threads sleep.  `deadline` is on
    gocore_now()'s clock (a test clock's while one is installed), or on the
    real clock whatever a test clock says if `real`.
    """
    if sema_try_acquire(addr):
        return True
    if deadline != GOCORE_NO_DEADLINE and _sema_now(real) >= deadline:
        return False
    cdef SemaBucket* b = _sema_bucket(addr)
    cdef SemaWaiter w
    cdef bint result, woke
    w.addr = addr
    w.ticket = False
    w.queued = False
    w.rec = rec_self()
    w.task = NULL
    gocore_parker_init(&w.parker)
    while True:
        gocore_spin_lock(&b.lock)
        gocore_add(&b.nwait, 1)
        if sema_try_acquire(addr):
            gocore_add(&b.nwait, -1)
            gocore_spin_unlock(&b.lock)
            result = True
            break
        _sema_enqueue(b, &w, lifo)
        rec_parked(w.rec)
        gocore_spin_unlock(&b.lock)

        woke = gocore_park(&w.parker, deadline) if real else gocore_park_until(&w.parker, deadline)
        rec_unparked(w.rec)
        if not woke:
            race_window()
            # Timed out.  Withdraw if still queued; otherwise a releaser has
            # dequeued us and is about to unpark: wait for that unpark so it
            # never touches a dead stack frame, then honour what it gave us.
            gocore_spin_lock(&b.lock)
            if w.queued:
                _sema_unlink(b, &w)
                gocore_spin_unlock(&b.lock)
                result = False
                break
            gocore_spin_unlock(&b.lock)
            gocore_park(&w.parker, GOCORE_NO_DEADLINE)
            result = w.ticket or sema_try_acquire(addr)
            break
        # Woken: by hand-off we own a unit; otherwise compete for it.
        if w.ticket or sema_try_acquire(addr):
            result = True
            break
        if deadline != GOCORE_NO_DEADLINE and _sema_now(real) >= deadline:
            result = False
            break
    gocore_parker_destroy(&w.parker)
    return result


cdef inline bint sema_acquire(int64_t* addr, bint lifo, int64_t deadline) noexcept nogil:
    """_sema_acquire for a deadline from a timeout= argument."""
    return _sema_acquire(addr, lifo, deadline, False)


cdef inline bint sema_acquire_real(int64_t* addr, bint lifo, int64_t deadline) noexcept nogil:
    """_sema_acquire on the real clock (the scheduler's idle timeout, the
    timer thread's sleep)."""
    return _sema_acquire(addr, lifo, deadline, True)


cdef void sema_release(int64_t* addr, bint handoff) noexcept nogil:
    """Add a unit to *addr and wake one waiter queued on it.

    With `handoff` the unit goes straight to that waiter (FIFO fairness:
    nobody can barge in between); without it the woken waiter competes.
    Never blocks for long: safe to call with or without the GIL.
    """
    gocore_add(addr, 1)
    race_window()
    cdef SemaBucket* b = _sema_bucket(addr)
    if gocore_load_seq(&b.nwait) == 0:
        return
    gocore_spin_lock(&b.lock)
    cdef SemaWaiter* w = b.head
    while w != NULL and w.addr != addr:
        w = w.next
    if w == NULL:
        gocore_spin_unlock(&b.lock)
        return
    _sema_unlink(b, w)
    if handoff and sema_try_acquire(addr):
        w.ticket = True
    rec_unparked(w.rec)            # a wake-up is on the way: not blocked any more
    gocore_spin_unlock(&b.lock)
    race_window()
    if w.task != NULL:
        task_wake(w.task)          # a task: resolve its future (the GIL is taken there)
    else:
        gocore_unpark(&w.parker)   # last touch of w: it may return right away


cdef void sema_reset_after_fork() noexcept nogil:
    """In a forked child only the forking thread survives, and it was not
    waiting here: every queued record belongs to a thread that no longer
    exists, on a stack the child's new threads will reuse.  Empty the table
    (and free any bucket lock a dead thread held) so that reuse cannot corrupt
    a list.  Called from the core's after-fork hook."""
    cdef int i
    for i in range(SEMA_BUCKETS):
        _sema_table[i].head = NULL
        _sema_table[i].tail = NULL
        gocore_store(&_sema_table[i].nwait, 0)
        gocore_store(&_sema_table[i].lock, 0)
