# ---- aselect: select for a task ----
#
# One _SelectAwait per call, with select's records (SelWait) inside it;
# the same cancellation argument as the channel twins (chan_async_decls.pxi),
# with the fired record standing for the one completed.


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
        cdef bint enqueued = False, own
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
        own = chan_wake_list_has(wake, &self._sl)
        chan_wake_all(wake, &self._sl)
        if hit >= 0:
            self.disarm()
            sel_drop_values(&self._sw)
            i = self._sw.recs[hit].case_index
            return _sel_result(i, &self._cs[i], r, out)
        if own:
            # Completed by our own re-check under the locks.  A claim by
            # another thread after the unlock owns the armed reference and
            # wakes us: then we suspend like any queued waiter (disarming
            # here as well dropped that reference twice and freed this
            # object under the waker's pending call_soon_threadsafe).
            self.disarm()
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


install_await_slots(_SelectAwait)
