# ---- Chan's awaitable twins: asend, arecv, arecv_ok, async for, aselect ----
#
# `await ch.arecv()` is one small object (_ChanAwait) that is its own
# iterator.  Its first __next__ tries the operation exactly as the blocking
# call does (the lock-free ring, then the locked path); if that completes,
# it finishes at once with StopIteration(value): no future, no loop round
# trip.  Only otherwise does it create a future, queue its record (a
# ChanWaiter whose sleeper names this object, see waiter_task.pxi) and yield
# the future to the task.  Whoever completes the record moves the value
# exactly as for a thread and wakes the task; the task's next __next__ reads
# the outcome from the record.
#
# Cancellation, and why nothing is lost or duplicated.  Cancelling the task
# (task.cancel(), asyncio.timeout, wait_for) throws CancelledError into this
# object (throw()).  The task then races any completer for its sleeper with
# the same CAS(state, 0 -> 1) a completer uses:
#   - the task wins: no completion happened or ever can (a completer claims
#     before it touches anything), so it withdraws its records and raises:
#     an arecv took nothing, an asend delivered nothing (it drops the
#     reference it had taken for the receiver);
#   - a completer won: it claimed under the channel's lock and finished the
#     record (moved the value, wrote the result) before releasing that lock,
#     so once the task has taken and released the same lock (chan_withdraw
#     does) the outcome is final and visible.  Then
#       * a receive got a value: the value is given back (chan_give_back),
#         to the first queued receiver or, if none, to the channel's
#         "returned" queue, which every receiver drains before the ring and
#         before concluding "closed" -- so it comes out ahead of later
#         values and is never dropped; the task raises CancelledError;
#       * a receive got "closed": it took nothing; it raises;
#       * a send was delivered (the receiver has the value, it cannot be
#         taken back): the send happened, so asend returns normally and the
#         cancellation is requested again for the task's next suspension
#         (rerequest_cancel, which keeps asyncio.timeout's count right);
#       * a send failed on close: nothing was delivered; it raises.
# The completer still resolves the future afterwards; that finds it
# cancelled and does nothing.  A completer whose wake fails because the loop
# is closed calls abandon(), which applies the same rules (give the value
# back) unless the task has already settled the outcome itself.
# tests/test_async_chan.py::test_cancel_stress_* checks this with exact
# accounting: threads and tasks on two loops, random cancellation.

from libc.stdlib cimport malloc, free
from cpython.tuple cimport PyTuple_GET_SIZE as _tuple_size

# ---- the "returned" queue (every function here runs under the channel's lock) ----

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


cdef void chan_wake_tasks(ChanWaiter* w) noexcept with gil:
    """Wake the task records of a wake list (linked through `next`)."""
    cdef list ops
    if w.next == NULL:
        task_wake_held(w.sleeper.task)
        return
    ops = []
    while w != NULL:
        ops.append(<object>w.sleeper.task)
        w = w.next
    tasks_wake_batch(ops)


cdef inline void task_sleeper_init(ChanSleeper* sl, object owner) noexcept:
    sl.state = 0
    sl.fired = NULL
    sl.rec = NULL                    # a task blocks no thread: nothing to record
    sl.task = <PyObject*>owner


cdef object _chan_finish(ChanCore* c, int op, int r, PyObject* p):
    """The result of a finished channel operation (owns `p`)."""
    if op == AOP_SEND:
        if r == R_CLOSED:
            raise ClosedChannelError("send on closed channel")
        return None
    if r == R_CLOSED:
        chan_drained(c)              # raises what Chan._close_with left, if anything
    if op == AOP_RECV_OK:
        return (gocore_steal(p), True) if r == R_OK else (None, False)
    if r == R_OK:
        return gocore_steal(p)
    if op == AOP_NEXT:
        raise StopAsyncIteration
    return None


@cython.no_gc_clear
@cython.final
cdef class _ChanAwait(TaskWait):
    """The awaitable behind ``ch.asend(v)``, ``ch.arecv()``, ``ch.arecv_ok()``
    and ``async for``.  Await it once."""
    cdef Chan _ch
    cdef object _v               # asend: the value (the record holds its own reference)
    cdef int _op
    cdef int _slot               # its index in _chan_await_pool, or -1
    cdef ChanSleeper _sl
    cdef ChanWaiter _w

    cdef object _throw(self, object typ, object val, object tb):
        if self._phase == PH_QUEUED and self._cancel():
            # A send that was delivered: it happened; cancel again later.
            rerequest_if_cancel(typ, val)
            raise StopIteration
        raise_thrown(typ, val, tb)

    cdef int _close(self) except -1:
        if self._phase == PH_QUEUED:
            self._cancel()
        self._phase = PH_DONE
        return 0

    cdef object _step(self):
        if self._phase == PH_NEW:
            if self._op == AOP_SEND:
                r = self._start_send()
            else:
                r = self._start_recv()
            if self._phase == PH_DONE:
                self._ch = None      # a pooled object must not keep its channel
                self._v = None       # or value alive once done
            return r
        if self._phase == PH_QUEUED:
            # Woken: the record was claimed and completed before the future
            # was resolved, and the claimer no longer touches it.
            self._phase = PH_DONE
            if self._op != AOP_SEND and self._w.result == R_OK:
                p = self._w.value
                self._w.value = NULL
                return _chan_finish(&self._ch._c, self._op, R_OK, p)
            if self._op == AOP_SEND and self._w.result != R_OK:
                Py_XDECREF(self._w.value)
                self._w.value = NULL
            return _chan_finish(&self._ch._c, self._op, self._w.result, NULL)
        raise RuntimeError("cannot reuse an already awaited channel operation")

    cdef object _start_recv(self):
        cdef PyObject* p = NULL
        cdef int r
        self._phase = PH_DONE
        if self._ch._nil:
            return self._queue_nil()
        r = chan_poll(&self._ch._c, &p)
        if r != R_BLOCK:
            return _chan_finish(&self._ch._c, self._op, r, p)
        return self._queue(NULL)

    cdef object _start_send(self):
        cdef PyObject* pv = <PyObject*>self._v
        cdef int r
        self._phase = PH_DONE
        if self._ch._nil:
            return self._queue_nil()
        Py_INCREF(self._v)               # the reference that travels to the receiver
        r = chan_offer(&self._ch._c, pv)
        if r == R_BLOCK:
            return self._queue(pv)
        if r != R_OK:
            Py_DECREF(self._v)
        return _chan_finish(&self._ch._c, AOP_SEND, r, NULL)

    cdef object _queue(self, PyObject* pv):
        """Nothing could complete at once: arm, try once more under the lock,
        and queue the record if that fails too."""
        cdef ChanCore* c = &self._ch._c
        cdef ChanWaiter* wake = NULL
        cdef PyObject* p = NULL
        cdef bint is_send = self._op == AOP_SEND
        cdef int r
        self._unpool()
        try:
            self.arm()
        except BaseException:
            if pv != NULL:
                Py_DECREF(self._v)       # never queued: the reference is ours again
            raise
        task_sleeper_init(&self._sl, self)
        chan_waiter_init(&self._w, &self._sl, is_send, pv, 0)
        chan_lock(c)
        if is_send:
            r = chan_send_locked(c, pv, &wake)
        else:
            r = chan_recv_locked(c, &p, &wake)
        if r == R_BLOCK:
            chan_enqueue_locked(c, &self._w)
            if c.cap > 0:
                chan_settle(c, &wake)        # the re-check after raising the flag
            if gocore_load_acquire(&self._sl.state):
                r = self._w.result           # completed by our own re-check
                p = self._w.value
                self._w.value = NULL
            else:
                r = R_QUEUED
        gocore_spin_unlock(&c.lock)
        chan_wake_all(wake, &self._sl)
        if r == R_QUEUED:
            self._phase = PH_QUEUED
            return self.suspend()
        self.disarm()
        if is_send:
            if r != R_OK:
                Py_DECREF(self._v)
            return _chan_finish(&self._ch._c, AOP_SEND, r, NULL)
        return _chan_finish(&self._ch._c, self._op, r, p)

    cdef object _queue_nil(self):
        # nilchan: nothing ever completes; only cancellation ends the wait.
        self._unpool()
        self.arm()
        task_sleeper_init(&self._sl, self)
        chan_waiter_init(&self._w, &self._sl, self._op == AOP_SEND, NULL, 0)
        self._phase = PH_QUEUED
        return self.suspend()

    cdef bint _cancel(self) except -1:
        """Withdraw while queued (see the argument at the top).  True: a send
        was delivered and stands; False: nothing happened (a received value
        was given back)."""
        self._phase = PH_DONE
        if gocore_cas(&self._sl.state, 0, 1):
            chan_withdraw(&self._w, 1)
            self.disarm()
            if self._op == AOP_SEND:
                Py_XDECREF(self._w.value)
                self._w.value = NULL
            return False
        chan_withdraw(&self._w, 1)       # waits out the completer's critical section
        return self._hand_on()

    cdef bint _hand_on(self) except -1:
        # A completer claimed the record: apply its outcome without the task.
        cdef PyObject* p = self._w.value
        self._w.value = NULL
        if self._op == AOP_SEND:
            if self._w.result == R_OK:
                return True
            Py_XDECREF(p)
            return False
        if self._w.result == R_OK and p != NULL:
            chan_give_back(&self._ch._c, p)
        return False

    cdef int abandon(self) except -1:
        if self._phase == PH_QUEUED:
            self._phase = PH_DONE
            self._hand_on()
        return 0

    def __dealloc__(self):
        # Woken, but the task never ran again (its loop closed after the
        # wake was scheduled): the outcome is still ours to hand on.
        if self._phase == PH_QUEUED and self._sl.state != 0:
            self._phase = PH_DONE
            self._hand_on()


    cdef inline void _unpool(self) noexcept:
        # About to wait: from now on this object's life (and its dealloc's
        # hand-on, above) is the task's, so the pool lets go of it.
        if self._slot >= 0:
            _chan_await_pool[self._slot] = NULL
            self._slot = -1
            Py_DECREF(self)          # the pool's reference; the caller holds another


# The ready path would spend most of its time allocating and freeing its
# awaitable.  A few are kept instead: one whose only reference is the pool's
# (refcount 1) is unreachable from anywhere else, so it can be handed out
# again.  Only an object that never waited is in the pool (_unpool), and a
# finished one holds no channel or value.  The refcount test needs the GIL:
# a free-threaded build allocates every time.
DEF AWAIT_POOL = 4
cdef PyObject* _chan_await_pool[AWAIT_POOL]

cdef extern from "Python.h":
    Py_ssize_t _refcnt "Py_REFCNT" (PyObject* o)


cdef object chan_op(Chan ch, int op, object v):
    cdef _ChanAwait a = None
    cdef PyObject* p
    cdef int i
    if not GOCORE_FREE_THREADED:
        for i in range(AWAIT_POOL):
            p = _chan_await_pool[i]
            if p == NULL:
                a = _ChanAwait.__new__(_ChanAwait)
                Py_INCREF(a)
                _chan_await_pool[i] = <PyObject*>a
                a._slot = i
                break
            if _refcnt(p) == 1:
                a = <_ChanAwait>p
                break
    if a is None:
        a = _ChanAwait.__new__(_ChanAwait)
        a._slot = -1
    a._phase = PH_NEW
    a._ch = ch
    a._op = op
    a._v = v
    return a


# ---- aselect ----

@cython.no_gc_clear
@cython.final
cdef class _SelectAwait(TaskWait):
    """The awaitable behind ``aselect(*cases)``.  Await it once."""
    cdef object _cases           # the case tuple: keeps channels and send values alive
    cdef SelCase* _cs
    cdef Py_ssize_t* _order
    cdef Py_ssize_t _m
    cdef Py_ssize_t _dflt
    cdef SelWait _sw
    cdef ChanSleeper _sl

    def __dealloc__(self):
        if self._phase == PH_QUEUED and self._sl.state != 0:
            self._phase = PH_DONE
            self._hand_on()
        sel_drop_values(&self._sw)
        PyMem_Free(self._cs)
        PyMem_Free(self._order)
        PyMem_Free(self._sw.recs)
        PyMem_Free(self._sw.locks)

    cdef object _throw(self, object typ, object val, object tb):
        if self._phase == PH_QUEUED:
            res = self._cancel()
            if res is not None:
                rerequest_if_cancel(typ, val)
                raise StopIteration(res)
        raise_thrown(typ, val, tb)

    cdef int _close(self) except -1:
        if self._phase == PH_QUEUED:
            self._cancel()
        self._phase = PH_DONE
        return 0

    cdef object _step(self):
        cdef ChanWaiter* wake = NULL
        cdef PyObject* out = NULL
        cdef Py_ssize_t hit, i
        cdef int r = R_BLOCK
        cdef bint enqueued = False
        if self._phase == PH_QUEUED:
            self._phase = PH_DONE
            res = sel_fired_result(&self._sw, self._cs, &self._sl)
            sel_drop_values(&self._sw)
            return res
        if self._phase != PH_NEW:
            raise RuntimeError("cannot reuse an already awaited aselect")
        self._phase = PH_DONE
        res = sel_poll(self._cs, self._order, self._m)
        if res is not None:
            return res
        if self._dflt >= 0:
            return (self._dflt, None)
        self.arm()
        task_sleeper_init(&self._sl, self)
        sel_records(&self._sw, self._cs, self._order, self._m, &self._sl)
        hit = sel_poll_or_queue(&self._sw, True, &r, &out, &wake, &enqueued)
        chan_wake_all(wake, &self._sl)
        if hit >= 0:
            self.disarm()
            sel_drop_values(&self._sw)
            i = self._sw.recs[hit].case_index
            return _sel_result(i, &self._cs[i], r, out)
        if gocore_load_acquire(&self._sl.state):
            self.disarm()                # completed by our own re-check
            res = sel_fired_result(&self._sw, self._cs, &self._sl)
            sel_drop_values(&self._sw)
            return res
        self._phase = PH_QUEUED
        return self.suspend()

    cdef object _cancel(self):
        """Withdraw while queued.  Returns the result of a send case that was
        delivered (it stands), else None (nothing happened)."""
        self._phase = PH_DONE
        try:
            if gocore_cas(&self._sl.state, 0, 1):
                chan_withdraw(self._sw.recs, self._sw.nrec)
                self.disarm()
                return None
            chan_withdraw(self._sw.recs, self._sw.nrec)   # waits out the completer
            return self._hand_on()
        finally:
            sel_drop_values(&self._sw)

    cdef object _hand_on(self):
        cdef ChanWaiter* fired = self._sl.fired
        cdef PyObject* p
        if fired.is_send:
            if fired.result == R_OK:
                return (fired.case_index, None)
            return None
        p = fired.value
        fired.value = NULL
        if fired.result == R_OK and p != NULL:
            chan_give_back(<ChanCore*>fired.chan, p)
        return None

    cdef int abandon(self) except -1:
        if self._phase == PH_QUEUED:
            self._phase = PH_DONE
            chan_withdraw(self._sw.recs, self._sw.nrec)
            self._hand_on()
            sel_drop_values(&self._sw)
        return 0


def aselect(*cases):
    """Awaitable ``select``: ``i, v = await gocore.aselect(*cases)``.

    The same cases and result as ``select`` (``ch.arecv``, ``ch.arecv_ok``
    and ``(ch.asend, v)`` are accepted as ``ch.recv``, ``ch.recv_ok`` and
    ``(ch.send, v)``).  No ``timeout=``: use ``asyncio.timeout``.  A
    cancelled aselect has performed no case (a value it was handed goes
    back to the channel), unless a send case was delivered: then it
    returns that case and the cancellation comes at the next suspension.

    Example::

        i, v = await gocore.aselect(jobs.arecv, ctx.done().recv)
    """
    cdef Py_ssize_t n = _tuple_size(cases)
    cdef _SelectAwait a = _SelectAwait.__new__(_SelectAwait)
    cdef Py_ssize_t size = n if n > 0 else 1
    a._cases = cases
    a._cs = <SelCase*>PyMem_Malloc(size * sizeof(SelCase))
    a._order = <Py_ssize_t*>PyMem_Malloc(size * sizeof(Py_ssize_t))
    a._sw.recs = <ChanWaiter*>PyMem_Malloc(size * sizeof(ChanWaiter))
    a._sw.locks = <ChanCore**>PyMem_Malloc(size * sizeof(ChanCore*))
    a._sw.nrec = 0
    if a._cs == NULL or a._order == NULL or a._sw.recs == NULL or a._sw.locks == NULL:
        raise MemoryError()
    a._dflt = sel_parse(cases, n, a._cs, a._order, &a._m)
    return a


install_await_slots(_ChanAwait)
install_await_slots(_SelectAwait)
