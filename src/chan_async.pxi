# ---- Chan's awaitable twins: asend, arecv, arecv_ok, async for ----
# (aselect: chan_aselect.pxi; the given-back values: chan_returned.pxi)
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

cdef void chan_wake_tasks(ChanWaiter* w) noexcept with gil:
    """Wake the task records of a wake list (linked through `next`)."""
    cdef list ops
    if w.next == NULL:
        task_wake(w.sleeper.task)
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
                return self._start_send()
            return self._start_recv()
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


cdef object chan_op(Chan ch, int op, object v):
    cdef _ChanAwait a = _ChanAwait.__new__(_ChanAwait)
    a._ch = ch
    a._op = op
    a._v = v
    return a
