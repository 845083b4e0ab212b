# ---- Chan: the slow path, everything under the channel's lock ----

cdef inline void _update_flags(ChanCore* c) noexcept nogil:
    if c.recvq.head == NULL and c.ret_head == NULL and (gocore_load_acquire(&c.head) & HEAD_RECVQ):
        gocore_and(&c.head, ~(<int64_t>HEAD_RECVQ))
    if c.sendq.head == NULL and (gocore_load_acquire(&c.tail) & TAIL_SENDQ):
        gocore_and(&c.tail, ~(<int64_t>TAIL_SENDQ))
    if c.recvq.head == NULL and c.sendq.head == NULL and gocore_load_acquire(&c.waiters):
        gocore_store(&c.waiters, 0)


cdef void chan_settle(ChanCore* c, ChanWaiter** wake) noexcept nogil:
    """Buffered channel, c.lock held: give buffered items to queued receivers
    and free slots to queued senders until neither can progress.

    Claim first, then move: the flags guarantee that the item (slot) seen
    here is still there when we pop (push), since nobody else may pop (push)
    while receivers (senders) are queued.
    """
    cdef ChanWaiter* w
    cdef bint progress = True
    while progress:
        progress = False
        while c.recvq.head != NULL and (c.ret_head != NULL or _ring_has_item(c)):
            w = _claim_first(&c.recvq)
            if w == NULL:
                break
            if not chan_ret_pop(c, &w.value):     # given-back values first
                ring_pop(c, &w.value, True)
            _complete(w, R_OK, wake)
            progress = True
        while c.sendq.head != NULL and _ring_has_room(c):
            w = _claim_first(&c.sendq)
            if w == NULL:
                break
            ring_push(c, w.value, True)
            w.value = NULL
            _complete(w, R_OK, wake)
            progress = True
    _update_flags(c)


cdef void chan_kick(ChanCore* c) noexcept nogil:
    """A fast push/pop saw the other side's waiters flagged: settle under the lock."""
    cdef ChanWaiter* wake = NULL
    chan_lock(c)
    chan_settle(c, &wake)
    gocore_spin_unlock(&c.lock)
    chan_wake_all(wake, NULL)


cdef int chan_send_locked(ChanCore* c, PyObject* v, ChanWaiter** wake) noexcept nogil:
    """c.lock held: send v now if that needs no waiting.  R_OK (v moved to
    the channel), R_CLOSED or R_BLOCK (v still the caller's)."""
    cdef ChanWaiter* w
    if gocore_load_acquire(&c.tail) & TAIL_CLOSED:
        return R_CLOSED
    if c.cap == 0:
        w = _claim_first(&c.recvq)
        if w == NULL:
            return R_BLOCK
        w.value = v                  # direct hand-off to a waiting receiver
        _complete(w, R_OK, wake)
        return R_OK
    chan_settle(c, wake)             # queued senders first (FIFO)
    if ring_push(c, v, True) != R_OK:
        return R_BLOCK
    chan_settle(c, wake)             # then hand it on to a queued receiver
    return R_OK


cdef int chan_recv_locked(ChanCore* c, PyObject** out, ChanWaiter** wake) noexcept nogil:
    """c.lock held: receive now if that needs no waiting.  R_OK (*out is an
    owned reference), R_CLOSED (closed and drained) or R_BLOCK."""
    cdef ChanWaiter* w
    cdef int r
    if c.ret_head != NULL and chan_recv_returned(c, out):
        return R_OK                  # a given-back value comes before everything else
    if c.cap == 0:
        w = _claim_first(&c.sendq)
        if w != NULL:
            out[0] = w.value         # direct hand-off from a waiting sender
            w.value = NULL
            _complete(w, R_OK, wake)
            return R_OK
        return R_CLOSED if (gocore_load_acquire(&c.tail) & TAIL_CLOSED) else R_BLOCK
    chan_settle(c, wake)             # queued receivers first (FIFO)
    r = ring_pop(c, out, True)
    if r == R_OK:
        chan_settle(c, wake)         # the freed slot goes to a queued sender
    return r


cdef void chan_enqueue_locked(ChanCore* c, ChanWaiter* w) noexcept nogil:
    """c.lock held: queue w and raise its flag.  For a buffered channel the
    caller must then run chan_settle: that is the re-check after the flag."""
    w.chan = c
    if w.is_send:
        _queue_append(&c.sendq, w)
        if c.cap > 0:
            gocore_or(&c.tail, TAIL_SENDQ)
    else:
        _queue_append(&c.recvq, w)
        if c.cap > 0:
            gocore_or(&c.head, HEAD_RECVQ)
    if c.cap > 0 and not gocore_load_acquire(&c.waiters):
        gocore_store(&c.waiters, 1)      # seq_cst, before the caller's re-check


cdef int chan_close_locked(ChanCore* c, ChanWaiter** wake) noexcept nogil:
    """c.lock held: close.  Every queued sender fails; every queued receiver
    gets a buffered item if one is left, else (None, False)."""
    cdef ChanWaiter* w
    if gocore_load_acquire(&c.tail) & TAIL_CLOSED:
        return R_CLOSED
    gocore_or(&c.tail, TAIL_CLOSED)
    while True:
        w = _claim_first(&c.sendq)
        if w == NULL:
            break
        _complete(w, R_CLOSED, wake)
    while True:
        w = _claim_first(&c.recvq)
        if w == NULL:
            break
        if chan_ret_pop(c, &w.value) or (c.cap > 0 and ring_pop(c, &w.value, True) == R_OK):
            _complete(w, R_OK, wake)
        else:
            _complete(w, R_CLOSED, wake)
    _update_flags(c)
    return R_OK

