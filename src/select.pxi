# ---- select over channel cases (Go's runtime/select.go) ----
#
# Pass 1 polls the cases in a uniformly random order (an inside-out
# Fisher-Yates shuffle), each with the channel's own non-blocking attempt
# (the lock-free ring when it can), and performs the first one that is
# ready: a uniformly random choice among the ready cases.  Nothing ready and
# a `default`: return at once.
#
# Pass 2 locks every distinct channel in address order (so two selects over
# overlapping channel sets cannot deadlock), polls again under the locks,
# and if still nothing is ready queues one ChanWaiter per case, all sharing
# one ChanSleeper, then runs chan_settle on each buffered channel: that is
# the re-check after raising the waiters' flags (see chan_decls.pxi).  It unlocks
# and parks.  The first channel to complete a record claims the sleeper by
# CAS; every other channel that meets one of its records fails the CAS and
# drops the record, so the select is woken exactly once.
#
# Pass 3 (after waking) takes the records off the channels that did not
# fire, one lock at a time: the sleeper is claimed, so nothing can complete
# them any more.

from cpython.ref cimport Py_XINCREF
from libc.string cimport memmove

cdef extern from "gocore_select.h":
    ctypedef object (*gocore_select_body_t)(PyObject** cases, Py_ssize_t n, object timeout)
    gocore_select_body_t gocore_select_body
    ctypedef struct PyMethodDef:
        const char* ml_doc
    PyMethodDef gocore_select_def
    object PyCFunction_NewEx(PyMethodDef* ml, PyObject* self, object module)



cdef object _sel_result(Py_ssize_t i, SelCase* sc, int r, PyObject* out):
    """Turn the outcome of case i into select's return value (owns `out`)."""
    if sc.kind == CASE_SEND:
        if r == R_CLOSED:
            raise ClosedChannelError("send on closed channel")
        return (i, None)
    if r == R_CLOSED:
        chan_drained(sc.core)        # raises a Chan._close_with exception
    if sc.kind == CASE_RECV:
        return (i, gocore_steal(out) if r == R_OK else None)
    return (i, (gocore_steal(out), True) if r == R_OK else (None, False))


cdef int _sel_try(SelCase* sc, PyObject** out) except -1:
    """Pass 1: the non-blocking attempt at one case: R_OK, R_CLOSED or R_BLOCK."""
    cdef int r
    if sc.kind == CASE_SEND:
        Py_XINCREF(sc.value)
        r = chan_offer(sc.core, sc.value)
        if r != R_OK:
            Py_XDECREF(sc.value)
        return r
    return chan_poll(sc.core, out)


cdef struct SelWait:
    # Pass 2 and 3 state of one select: a record per live case, in poll order
    # (a send record owns its value until it is sent), and the distinct
    # channels sorted by address (the lock order).
    ChanWaiter* recs
    ChanCore** locks
    Py_ssize_t nrec
    Py_ssize_t nlocks


cdef void sel_records(SelWait* sw, SelCase* cs, Py_ssize_t* order, Py_ssize_t m,
                      ChanSleeper* sl) noexcept:
    cdef Py_ssize_t k, i, j
    cdef ChanWaiter* w
    cdef ChanCore* c
    sw.nrec = sw.nlocks = 0
    for k in range(m):
        i = order[k]
        c = cs[i].core
        if c == NULL:
            continue
        w = &sw.recs[sw.nrec]
        chan_waiter_init(w, sl, cs[i].kind == CASE_SEND, NULL, i)
        w.chan = c
        if w.is_send:
            Py_XINCREF(cs[i].value)
            w.value = cs[i].value
        sw.nrec += 1
        j = sw.nlocks
        while j > 0 and sw.locks[j - 1] > c:
            j -= 1
        if j > 0 and sw.locks[j - 1] == c:
            continue
        memmove(&sw.locks[j + 1], &sw.locks[j], (sw.nlocks - j) * sizeof(ChanCore*))
        sw.locks[j] = c
        sw.nlocks += 1


cdef Py_ssize_t sel_poll_or_queue(SelWait* sw, bint may_block, int* r, PyObject** out,
                                  ChanWaiter** wake, bint* enqueued) noexcept nogil:
    """Under every lock: perform the first ready case (its record index is
    returned, its outcome in *r / *out), else, if `may_block`, queue every
    record and re-check (chan_settle after the flags).  -1: nothing ran."""
    cdef Py_ssize_t j, k, hit = -1
    cdef ChanWaiter* w
    cdef ChanCore* c
    for j in range(sw.nlocks):
        chan_lock(sw.locks[j])
    for k in range(sw.nrec):
        w = &sw.recs[k]
        c = <ChanCore*>w.chan
        if w.is_send:
            r[0] = chan_send_locked(c, w.value, wake)
            if r[0] == R_OK:
                w.value = NULL
        else:
            r[0] = chan_recv_locked(c, out, wake)
        if r[0] != R_BLOCK:
            hit = k
            break
    if hit < 0 and may_block:
        enqueued[0] = True
        for k in range(sw.nrec):
            chan_enqueue_locked(<ChanCore*>sw.recs[k].chan, &sw.recs[k])
        for j in range(sw.nlocks):
            if sw.locks[j].cap > 0:
                chan_settle(sw.locks[j], wake)       # the re-check after the flags
        if sw.nrec > 0 and gocore_load_acquire(&sw.recs[0].sleeper.state) == 0:
            rec_parked(sw.recs[0].sleeper.rec)      # under the locks (gorecord.pxi)
    j = sw.nlocks
    while j > 0:
        j -= 1
        gocore_spin_unlock(&sw.locks[j].lock)
    if enqueued[0]:
        race_window()        # a completer on another thread may claim us from here on
    return hit


cdef object sel_fired_result(SelWait* sw, SelCase* cs, ChanSleeper* sl):
    """After the wake (pass 3): withdraw every record, return the fired case's result."""
    cdef ChanWaiter* fired
    cdef PyObject* out = NULL
    cdef Py_ssize_t i
    chan_withdraw(sw.recs, sw.nrec)
    fired = sl.fired
    i = fired.case_index
    if not fired.is_send:
        out = fired.value                        # the received value is now ours
        fired.value = NULL
    return _sel_result(i, &cs[i], fired.result, out)


cdef void sel_drop_values(SelWait* sw) noexcept:
    # Unsent values, and any value a signal cut off.
    cdef Py_ssize_t k
    for k in range(sw.nrec):
        Py_XDECREF(sw.recs[k].value)
        sw.recs[k].value = NULL


cdef object _sel_block(SelCase* cs, Py_ssize_t* order, Py_ssize_t m, int64_t deadline):
    """Passes 2 and 3: poll under every lock, else queue on every channel and sleep."""
    cdef ChanWaiter small_recs[SELECT_STACK_CASES]
    cdef ChanCore* small_locks[SELECT_STACK_CASES]
    cdef SelWait sw
    cdef ChanWaiter* wake = NULL
    cdef ChanSleeper sl
    cdef PyObject* out = NULL
    cdef Py_ssize_t i, hit
    cdef int r = R_BLOCK, p
    cdef bint claimed = False, enqueued = False
    sw.recs = small_recs
    sw.locks = small_locks
    sw.nrec = 0
    if m > SELECT_STACK_CASES:
        sw.recs = <ChanWaiter*>PyMem_Malloc(m * sizeof(ChanWaiter))
        sw.locks = <ChanCore**>PyMem_Malloc(m * sizeof(ChanCore*))
        if sw.recs == NULL or sw.locks == NULL:
            PyMem_Free(sw.recs)
            PyMem_Free(sw.locks)
            raise MemoryError()
    chan_sleeper_init(&sl, WAIT_SELECT if m > 0 else WAIT_SELECT_NO_CASES, deadline)
    try:
        sel_records(&sw, cs, order, m, &sl)
        while True:
            # One round per signal slice that ran the handlers (PARK_RETRY:
            # every record was withdrawn, so the select starts over).
            wake = NULL
            hit = sel_poll_or_queue(&sw, _may_block(deadline), &r, &out, &wake, &enqueued)
            # Claimed by our own re-check, not by a completer that came in
            # after the unlock: that one's unpark is still due, so its
            # sleeper must park to collect it (chan_park returns at once).
            claimed = enqueued and chan_wake_list_has(wake, &sl)
            if enqueued and sw.nrec == 0:
                rec_parked(sl.rec)                   # select(): nothing can ever complete it
            chan_wake_all(wake, &sl)
            if hit >= 0:
                i = sw.recs[hit].case_index
                return _sel_result(i, &cs[i], r, out)
            if not enqueued:
                raise TimeoutError("select timed out")   # the deadline had passed already
            if claimed:
                break
            # chan_park resolves the sleeper on every way out, raising too:
            # woken (the completer's unpark collected) or claimed by us with
            # every record withdrawn.  So no record outlives this frame.
            enqueued = False
            p = chan_park(&sl, sw.recs, sw.nrec, deadline)
            if p == PARK_WOKE:
                break
            if p == PARK_TIMEOUT:
                raise TimeoutError("select timed out")
            chan_sleeper_rearm(&sl)
            for i in range(sw.nrec):
                sw.recs[i].result = R_BLOCK
        enqueued = False
        return sel_fired_result(&sw, cs, &sl)         # pass 3
    finally:
        if enqueued:
            # Only an exception between queueing and parking gets here (none
            # is known): leave no record pointing into this frame.
            chan_abandon(&sl, sw.recs, sw.nrec)
        sel_drop_values(&sw)
        chan_sleeper_done(&sl)
        if sw.recs != small_recs:
            PyMem_Free(sw.recs)
            PyMem_Free(sw.locks)


cdef object sel_poll(SelCase* cs, Py_ssize_t* order, Py_ssize_t m):
    """Pass 1: perform the first ready case in poll order and return its
    result, or None when none is ready."""
    cdef Py_ssize_t k, i
    cdef PyObject* out = NULL
    cdef int r
    for k in range(m):
        i = order[k]
        if cs[i].core == NULL:
            continue
        r = _sel_try(&cs[i], &out)
        if r != R_BLOCK:
            return _sel_result(i, &cs[i], r, out)
    return None


cdef object sel_call(PyObject** cases, Py_ssize_t n, object timeout):
    """select's body; gocore_select.h calls it with the caller's arguments."""
    cdef int64_t deadline = deadline_from_timeout(timeout)
    cdef SelCase small_cases[SELECT_STACK_CASES]
    cdef Py_ssize_t small_order[SELECT_STACK_CASES]
    cdef SelCase* cs = small_cases
    cdef Py_ssize_t* order = small_order
    cdef Py_ssize_t m = 0, dflt
    if n > SELECT_STACK_CASES:
        cs = <SelCase*>PyMem_Malloc(n * sizeof(SelCase))
        order = <Py_ssize_t*>PyMem_Malloc(n * sizeof(Py_ssize_t))
        if cs == NULL or order == NULL:
            PyMem_Free(cs)
            PyMem_Free(order)
            raise MemoryError()
    try:
        dflt = sel_parse_items(cases, n, cs, order, &m)
        res = sel_poll(cs, order, m)
        if res is not None:
            return res
        if dflt >= 0:
            return (dflt, None)
        return _sel_block(cs, order, m, deadline)
    finally:
        if cs != small_cases:
            PyMem_Free(cs)
            PyMem_Free(order)


cdef const char* _SELECT_DOC = b"""select(*cases, timeout=None)
--

Wait until one of `cases` can proceed, perform exactly that one, and
return ``(index, received)`` (Go's ``select``).

A case is ``ch.recv``, ``ch.recv_ok``, ``(ch.send, value)`` (of a Chan
or a view) or ``gocore.default``.  ``received`` is the value for
``recv``, ``(value, ok)`` for ``recv_ok``, None for a send or default.
Several ready cases: one is chosen uniformly at random.  A chosen send
on a closed channel raises ClosedChannelError; `timeout` running out
raises TimeoutError; cases on ``nilchan`` are never ready.

Example::

    i, v = gocore.select(jobs.recv, (results.send, r), timeout=1.0)
"""

# A METH_FASTCALL builtin (gocore_select.h) rather than a `def`: the cases
# are read from the caller's argument array with no tuple built per call.
gocore_select_body = <gocore_select_body_t>sel_call
gocore_select_def.ml_doc = _SELECT_DOC
select = PyCFunction_NewEx(&gocore_select_def, NULL, __name__)
