# ---- Chan's awaitable twins: asend, arecv, arecv_ok, async for ----
#
# Declarations and the cancellation argument: chan_async_decls.pxi.

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
            if self._phase == PH_DONE and self._slot >= 0:
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


install_await_slots(_ChanAwait)
