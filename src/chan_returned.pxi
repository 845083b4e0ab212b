# ---- the "returned" queue: values given back by cancelled receivers ----
#
# (The argument for why this exists is in chan_async_decls.pxi.)


cdef inline bint chan_ret_pop(ChanCore* c, PyObject** out) noexcept nogil:
    cdef ChanRet* r = c.ret_head
    if r == NULL:
        return False
    c.ret_head = r.next
    if c.ret_head == NULL:
        c.ret_tail = NULL
    gocore_store(&c.ret_len, c.ret_len - 1)
    out[0] = r.value
    free(r)
    return True


cdef inline bint chan_recv_returned(ChanCore* c, PyObject** out) noexcept nogil:
    # A receive drains given-back values before the ring or a sender.
    if not chan_ret_pop(c, out):
        return False
    if c.cap > 0:
        _update_flags(c)         # HEAD_RECVQ may go once the queue is empty
    return True


cdef void chan_ret_clear(ChanCore* c) noexcept:
    # Dealloc / tp_clear: the channel is garbage, drop the values.
    cdef PyObject* v
    while chan_ret_pop(c, &v):
        Py_XDECREF(v)


cdef int chan_ret_traverse(ChanCore* c, visitproc visit, void* arg) noexcept:
    cdef ChanRet* r = c.ret_head
    cdef int e
    while r != NULL:
        e = visit(r.value, arg)
        if e:
            return e
        r = r.next
    return 0


cdef void chan_give_back(ChanCore* c, PyObject* v) noexcept:
    """A cancelled (or orphaned) receiver hands back the value it was given
    (owned): to the first queued receiver, else to the returned queue."""
    cdef ChanWaiter* wake = NULL
    cdef ChanWaiter* w
    cdef ChanRet* node = <ChanRet*>malloc(sizeof(ChanRet))   # before the lock
    chan_lock(c)
    w = _claim_first(&c.recvq)
    if w != NULL:
        w.value = v
        _complete(w, R_OK, &wake)
    elif node != NULL:
        node.value = v
        node.next = NULL
        if c.ret_tail != NULL:
            c.ret_tail.next = node
        else:
            c.ret_head = node
        c.ret_tail = node
        gocore_store(&c.ret_len, c.ret_len + 1)
        node = NULL
        if c.cap > 0:
            gocore_or(&c.head, HEAD_RECVQ)      # from now on every pop takes the lock
    _update_flags(c)
    gocore_spin_unlock(&c.lock)
    chan_wake_all(wake, NULL)
    if node != NULL:
        free(node)
        if w == NULL:
            Py_XDECREF(v)        # out of memory: the one case a value is lost
