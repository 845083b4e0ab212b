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
from cpython.tuple cimport PyTuple_GET_SIZE, PyTuple_GET_ITEM

cdef extern from "Python.h":
    bint PyMethod_Check(object o)
    PyObject* PyMethod_GET_FUNCTION(object o)
    PyObject* PyMethod_GET_SELF(object o)

DEF CASE_RECV = 0
DEF CASE_RECV_OK = 1
DEF CASE_SEND = 2
DEF SELECT_STACK_CASES = 8      # up to this many cases need no allocation


cdef struct SelCase:
    ChanCore* core              # NULL: a nil channel, never ready
    PyObject* value             # send: the value (borrowed from the case tuple)
    int kind


cdef class _Default:
    """The type of ``gocore.default``."""

    def __repr__(self):
        return "gocore.default"

    def __reduce__(self):
        return "default"


default = _Default()
"""``select``'s default case: chosen at once when no other case is ready.

Example::

    i, v = gocore.select(ch.recv, gocore.default)
    if i == 1:
        print("nothing to receive")
"""

cdef object _DEFAULT = default       # a C-level reference: no global lookup per case

# The functions behind the bound methods that make cases (compared by identity).
cdef object _f_chan_recv = Chan.recv
cdef object _f_chan_recv_ok = Chan.recv_ok
cdef object _f_chan_send = Chan.send
cdef object _f_recvchan_recv = RecvChan.recv
cdef object _f_recvchan_recv_ok = RecvChan.recv_ok
cdef object _f_sendchan_send = SendChan.send


cdef object _bad_case(Py_ssize_t i, object case):
    return TypeError(f"select case {i} must be ch.recv, ch.recv_ok, (ch.send, value) "
                     f"or gocore.default, not {case!r}")


cdef inline Chan _case_chan(PyObject* owner, bint view, bint send):
    """The Chan behind a bound method's __self__ (None if it is not one:
    types.MethodType can bind our functions to anything)."""
    cdef object o = <object>owner
    if not view:
        return <Chan>o if isinstance(o, Chan) else None
    if send:
        return (<SendChan>o)._ch if isinstance(o, SendChan) else None
    return (<RecvChan>o)._ch if isinstance(o, RecvChan) else None


cdef int _parse_case(object case, Py_ssize_t i, SelCase* sc) except -1:
    cdef PyObject* f
    cdef Chan ch = None
    if isinstance(case, tuple):
        if PyTuple_GET_SIZE(case) == 2:
            meth = <object>PyTuple_GET_ITEM(case, 0)
            if PyMethod_Check(meth):
                f = PyMethod_GET_FUNCTION(meth)
                if f == <PyObject*>_f_chan_send:
                    ch = _case_chan(PyMethod_GET_SELF(meth), False, True)
                elif f == <PyObject*>_f_sendchan_send:
                    ch = _case_chan(PyMethod_GET_SELF(meth), True, True)
            if ch is not None:
                sc.kind = CASE_SEND
                sc.value = PyTuple_GET_ITEM(case, 1)
                sc.core = NULL if ch._nil else &ch._c
                return 0
        raise _bad_case(i, case)
    if PyMethod_Check(case):
        f = PyMethod_GET_FUNCTION(case)
        if f == <PyObject*>_f_chan_recv:
            ch = _case_chan(PyMethod_GET_SELF(case), False, False)
            sc.kind = CASE_RECV
        elif f == <PyObject*>_f_chan_recv_ok:
            ch = _case_chan(PyMethod_GET_SELF(case), False, False)
            sc.kind = CASE_RECV_OK
        elif f == <PyObject*>_f_recvchan_recv:
            ch = _case_chan(PyMethod_GET_SELF(case), True, False)
            sc.kind = CASE_RECV
        elif f == <PyObject*>_f_recvchan_recv_ok:
            ch = _case_chan(PyMethod_GET_SELF(case), True, False)
            sc.kind = CASE_RECV_OK
        elif f == <PyObject*>_f_chan_send or f == <PyObject*>_f_sendchan_send:
            raise TypeError(f"select case {i}: a send case is a tuple (ch.send, value), not {case!r}")
        if ch is not None:
            sc.value = NULL
            sc.core = NULL if ch._nil else &ch._c
            return 0
    raise _bad_case(i, case)


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


cdef object _sel_block(SelCase* cs, Py_ssize_t* order, Py_ssize_t m, int64_t deadline):
    """Passes 2 and 3: poll under every lock, else queue on every channel and sleep."""
    cdef ChanWaiter small_recs[SELECT_STACK_CASES]
    cdef ChanCore* small_locks[SELECT_STACK_CASES]
    cdef ChanWaiter* recs = small_recs
    cdef ChanCore** locks = small_locks
    cdef ChanWaiter* wake = NULL
    cdef ChanWaiter* w
    cdef ChanWaiter* fired
    cdef ChanCore* c
    cdef ChanSleeper sl
    cdef PyObject* out = NULL
    cdef Py_ssize_t k, j, i, nrec = 0, nlocks = 0, hit = -1
    cdef int r = R_BLOCK
    cdef bint claimed = False, enqueued = False
    if m > SELECT_STACK_CASES:
        recs = <ChanWaiter*>PyMem_Malloc(m * sizeof(ChanWaiter))
        locks = <ChanCore**>PyMem_Malloc(m * sizeof(ChanCore*))
        if recs == NULL or locks == NULL:
            PyMem_Free(recs)
            PyMem_Free(locks)
            raise MemoryError()
    chan_sleeper_init(&sl, WAIT_SELECT if m > 0 else WAIT_SELECT_NO_CASES, deadline)
    try:
        # One record per live case, in poll order; a send record owns its value.
        for k in range(m):
            i = order[k]
            c = cs[i].core
            if c == NULL:
                continue
            w = &recs[nrec]
            chan_waiter_init(w, &sl, cs[i].kind == CASE_SEND, NULL, i)
            w.chan = c
            if w.is_send:
                Py_XINCREF(cs[i].value)
                w.value = cs[i].value
            nrec += 1
            # Distinct channels, sorted by address: the lock order.
            j = nlocks
            while j > 0 and locks[j - 1] > c:
                j -= 1
            if j > 0 and locks[j - 1] == c:
                continue
            memmove(&locks[j + 1], &locks[j], (nlocks - j) * sizeof(ChanCore*))
            locks[j] = c
            nlocks += 1

        for j in range(nlocks):
            gocore_spin_lock(&locks[j].lock)
        for k in range(nrec):
            w = &recs[k]
            c = <ChanCore*>w.chan
            if w.is_send:
                r = chan_send_locked(c, w.value, &wake)
                if r == R_OK:
                    w.value = NULL
            else:
                r = chan_recv_locked(c, &out, &wake)
            if r != R_BLOCK:
                hit = k
                break
        if hit < 0 and _may_block(deadline):
            enqueued = True
            for k in range(nrec):
                chan_enqueue_locked(<ChanCore*>recs[k].chan, &recs[k])
            for j in range(nlocks):
                if locks[j].cap > 0:
                    chan_settle(locks[j], &wake)     # the re-check after the flags
            claimed = gocore_load_acquire(&sl.state) != 0
            if not claimed:
                rec_parked(sl.rec)
        j = nlocks
        while j > 0:
            j -= 1
            gocore_spin_unlock(&locks[j].lock)
        chan_wake_all(wake, &sl)

        if hit >= 0:
            i = recs[hit].case_index
            return _sel_result(i, &cs[i], r, out)
        if not enqueued:
            raise TimeoutError("select timed out")   # the deadline had passed already
        if not claimed and chan_park(&sl, recs, nrec, deadline) == PARK_TIMEOUT:
            raise TimeoutError("select timed out")
        chan_withdraw(recs, nrec)                    # pass 3
        fired = sl.fired
        i = fired.case_index
        if not fired.is_send:
            out = fired.value                        # the received value is now ours
            fired.value = NULL
        return _sel_result(i, &cs[i], fired.result, out)
    finally:
        for k in range(nrec):
            Py_XDECREF(recs[k].value)                # unsent values, and any value a signal cut off
            recs[k].value = NULL
        chan_sleeper_done(&sl)
        if recs != small_recs:
            PyMem_Free(recs)
            PyMem_Free(locks)


def select(*cases, timeout=None):
    """Wait until one of `cases` can proceed, perform exactly that one, and
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
    cdef Py_ssize_t n = PyTuple_GET_SIZE(cases)
    cdef int64_t deadline = deadline_from_timeout(timeout)
    cdef SelCase small_cases[SELECT_STACK_CASES]
    cdef Py_ssize_t small_order[SELECT_STACK_CASES]
    cdef SelCase* cs = small_cases
    cdef Py_ssize_t* order = small_order
    cdef Py_ssize_t i, j, k, m = 0, dflt = -1
    cdef PyObject* out = NULL
    cdef int r
    if n > SELECT_STACK_CASES:
        cs = <SelCase*>PyMem_Malloc(n * sizeof(SelCase))
        order = <Py_ssize_t*>PyMem_Malloc(n * sizeof(Py_ssize_t))
        if cs == NULL or order == NULL:
            PyMem_Free(cs)
            PyMem_Free(order)
            raise MemoryError()
    try:
        for i in range(n):
            case = <object>PyTuple_GET_ITEM(cases, i)
            if case is _DEFAULT:
                if dflt >= 0:
                    raise TypeError(f"select has more than one default case ({dflt} and {i})")
                dflt = i
                continue
            _parse_case(case, i, &cs[i])
            j = gocore_randn(m + 1)           # inside-out Fisher-Yates
            order[m] = order[j]
            order[j] = i
            m += 1
        for k in range(m):
            i = order[k]
            if cs[i].core == NULL:
                continue
            r = _sel_try(&cs[i], &out)
            if r != R_BLOCK:
                return _sel_result(i, &cs[i], r, out)
        if dflt >= 0:
            return (dflt, None)
        return _sel_block(cs, order, m, deadline)
    finally:
        if cs != small_cases:
            PyMem_Free(cs)
            PyMem_Free(order)
