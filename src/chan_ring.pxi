# ---- the ring ----

cdef inline int64_t _ring_index(ChanCore* c, int64_t pos) noexcept nogil:
    if c.mask >= 0:
        return pos & c.mask
    return pos % c.cap


cdef inline int ring_push(ChanCore* c, PyObject* v, bint locked) noexcept nogil:
    """Append v (an owned reference that the ring takes on success).

    R_OK, R_BLOCK (full), R_CLOSED, or R_DIVERT (fast path only: senders are
    queued).  `locked`: the caller holds c.lock and may push past TAIL_SENDQ.
    """
    cdef int64_t t = gocore_load_seq(&c.tail)
    cdef int64_t pos, idx, seq
    cdef ChanSlot* s
    while True:
        if t & (TAIL_CLOSED | TAIL_SENDQ):
            if t & TAIL_CLOSED:
                return R_CLOSED
            if not locked:
                return R_DIVERT
        pos = t >> POS_SHIFT
        idx = _ring_index(c, pos)
        s = &c.slots[idx]
        seq = gocore_load_seq(&s.seq) + 2 * idx
        if seq == 2 * pos:
            if gocore_cas(&c.tail, t, t + POS_ONE):
                s.value = v
                # seq_cst publish: first half of the handshake with a receiver
                # that queues itself (see the header comment).
                gocore_store(&s.seq, 2 * (pos - idx) + 1)
                return R_OK
            t = gocore_load_seq(&c.tail)
        elif seq < 2 * pos:
            # The slot still holds the item from one lap ago (or its pop is
            # between CAS and publish: that popper will settle after us).
            return R_BLOCK
        else:
            t = gocore_load_seq(&c.tail)      # another push took pos: look again


cdef inline int ring_pop(ChanCore* c, PyObject** out, bint locked) noexcept nogil:
    """Take the oldest item into *out (an owned reference).

    R_OK, R_BLOCK (empty), R_CLOSED (closed and drained), or R_DIVERT (fast
    path only: receivers are queued).  Empty means tail's position equals
    head's: a push that claimed a slot but has not published yet is waited
    for (a few instructions), so "closed and drained" is never premature.
    """
    cdef int64_t h = gocore_load_seq(&c.head)
    cdef int64_t t, pos, idx, seq
    cdef ChanSlot* s
    cdef int spins = 0
    while True:
        if (h & HEAD_RECVQ) and not locked:
            return R_DIVERT
        pos = h >> POS_SHIFT
        idx = _ring_index(c, pos)
        s = &c.slots[idx]
        seq = gocore_load_seq(&s.seq) + 2 * idx
        if seq == 2 * pos + 1:
            if gocore_cas(&c.head, h, h + POS_ONE):
                out[0] = s.value
                # seq_cst publish of the free slot: first half of the handshake
                # with a sender that queues itself on a full ring.
                gocore_store(&s.seq, 2 * (pos + c.cap - idx))
                return R_OK
            h = gocore_load_seq(&c.head)
        elif seq < 2 * pos + 1:
            t = gocore_load_seq(&c.tail)
            if (t >> POS_SHIFT) == pos:
                return R_CLOSED if (t & TAIL_CLOSED) else R_BLOCK
            # A push claimed pos and is about to publish (or h is stale).
            spins += 1
            if spins < 64:
                gocore_cpu_relax()
            else:
                gocore_os_yield()
            h = gocore_load_seq(&c.head)
        else:
            h = gocore_load_seq(&c.head)      # another pop took pos: look again


cdef inline bint _ring_has_item(ChanCore* c) noexcept nogil:
    # Only meaningful under c.lock with HEAD_RECVQ set (we are the only popper).
    cdef int64_t pos = gocore_load_seq(&c.head) >> POS_SHIFT
    cdef int64_t idx = _ring_index(c, pos)
    return gocore_load_seq(&c.slots[idx].seq) + 2 * idx == 2 * pos + 1


cdef inline bint _ring_has_room(ChanCore* c) noexcept nogil:
    # Only meaningful under c.lock with TAIL_SENDQ set (we are the only pusher).
    cdef int64_t pos = gocore_load_seq(&c.tail) >> POS_SHIFT
    cdef int64_t idx = _ring_index(c, pos)
    return gocore_load_seq(&c.slots[idx].seq) + 2 * idx == 2 * pos


cdef inline int64_t _ring_len(ChanCore* c) noexcept nogil:
    cdef int64_t n = (gocore_load_acquire(&c.tail) >> POS_SHIFT) - (gocore_load_acquire(&c.head) >> POS_SHIFT)
    if n < 0:
        return 0
    return n if n < c.cap else c.cap



# ---- a lock-free ring op, then the settle its flag check may call for ----
#
# Every fast push or pop ends with the same seq_cst load of `waiters` (the
# second half of the lost-wake-up handshake in chan_decls.pxi): one helper
# per direction, so no caller can forget it.

cdef inline int chan_push_fast(ChanCore* c, PyObject* v) noexcept nogil:
    """ring_push without the lock (R_OK, R_BLOCK, R_CLOSED or R_DIVERT)."""
    cdef int r = ring_push(c, v, False)
    if r == R_OK and gocore_load_seq(&c.waiters):
        chan_kick(c)
    return r


cdef inline int chan_pop_fast(ChanCore* c, PyObject** out) noexcept nogil:
    """ring_pop without the lock (R_OK, R_BLOCK, R_CLOSED or R_DIVERT)."""
    cdef int r = ring_pop(c, out, False)
    if r == R_OK and gocore_load_seq(&c.waiters):
        chan_kick(c)
    return r
