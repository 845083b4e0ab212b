# ---- select's cases: what a case may be, and how one is read ----
#
# A case is a bound method of a Chan or a view (recv, recv_ok, or a
# (send, value) tuple), an awaitable twin of one (aselect takes the same
# cases), or `default`.  The channel classes are binding(False), so a case
# is a builtin bound method: it is recognised by the identity of its
# PyMethodDef (shared by the class's method descriptor and every method
# bound from it), so reading a case is a few pointer compares and never a
# call; anything else is a TypeError naming the case.

from cpython.tuple cimport PyTuple_GET_SIZE, PyTuple_GET_ITEM
from cpython.sequence cimport PySequence_Fast_ITEMS

cdef extern from "gocore_select.h":
    const void* gocore_method_id(object descr)
    const void* gocore_bound_id(object o)
    PyObject* gocore_bound_self(object o)

DEF CASE_RECV = 0
DEF CASE_RECV_OK = 1
DEF CASE_SEND = 2
DEF SELECT_STACK_CASES = 8      # up to this many cases need no allocation
DEF SHUFFLE_BITS = 20           # select's shuffle redraws past this many bits of digits


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
cdef const void* _f_chan_recv = gocore_method_id(Chan.recv)
cdef const void* _f_chan_recv_ok = gocore_method_id(Chan.recv_ok)
cdef const void* _f_chan_send = gocore_method_id(Chan.send)
cdef const void* _f_recvchan_recv = gocore_method_id(RecvChan.recv)
cdef const void* _f_recvchan_recv_ok = gocore_method_id(RecvChan.recv_ok)
cdef const void* _f_sendchan_send = gocore_method_id(SendChan.send)
# The awaitable twins are accepted as the same cases (aselect takes either).
cdef const void* _f_chan_arecv = gocore_method_id(Chan.arecv)
cdef const void* _f_chan_arecv_ok = gocore_method_id(Chan.arecv_ok)
cdef const void* _f_chan_asend = gocore_method_id(Chan.asend)
cdef const void* _f_recvchan_arecv = gocore_method_id(RecvChan.arecv)
cdef const void* _f_recvchan_arecv_ok = gocore_method_id(RecvChan.arecv_ok)
cdef const void* _f_sendchan_asend = gocore_method_id(SendChan.asend)


cdef inline const void* _plain_twin(const void* f):
    if f == _f_chan_arecv:
        return _f_chan_recv
    if f == _f_chan_arecv_ok:
        return _f_chan_recv_ok
    if f == _f_chan_asend:
        return _f_chan_send
    if f == _f_recvchan_arecv:
        return _f_recvchan_recv
    if f == _f_recvchan_arecv_ok:
        return _f_recvchan_recv_ok
    if f == _f_sendchan_asend:
        return _f_sendchan_send
    return f


cdef str _case_repr(object case):
    """A junk case, described for the error: its repr when that works and is
    short; a repr that raises (or recurses: a tuple nested thousands deep)
    must not replace the TypeError the caller needs to see."""
    try:
        r = repr(case)
    except Exception:
        return f"a {type(case).__name__} object"
    return r if len(r) <= 200 else r[:200] + "..."


cdef object _bad_case(Py_ssize_t i, object case):
    return TypeError(f"select case {i} must be ch.recv, ch.recv_ok, (ch.send, value) "
                     f"or gocore.default, not {_case_repr(case)}")


cdef inline Chan _case_chan(PyObject* owner, bint view, bint send):
    """The Chan behind a bound method's __self__ (None if it is not one:
    types.MethodType can bind our functions to anything)."""
    cdef object o = <object>owner
    if not view:
        return <Chan>o if isinstance(o, Chan) else None
    if send:
        return (<SendChan>o)._ch if isinstance(o, SendChan) else None
    return (<RecvChan>o)._ch if isinstance(o, RecvChan) else None


cdef inline int _parse_case(object case, Py_ssize_t i, SelCase* sc) except -1:
    # The common case first, with no twin lookup: ch.recv of a plain Chan.
    cdef Chan ch
    if gocore_bound_id(case) == _f_chan_recv:
        ch = _case_chan(gocore_bound_self(case), False, False)
        if ch is not None:
            sc.kind = CASE_RECV
            sc.value = NULL
            sc.core = NULL if ch._nil else &ch._c
            return 0
    return _parse_case_any(case, i, sc)


cdef int _parse_case_any(object case, Py_ssize_t i, SelCase* sc) except -1:
    cdef const void* f
    cdef Chan ch = None
    if isinstance(case, tuple):
        if PyTuple_GET_SIZE(case) == 2:
            meth = <object>PyTuple_GET_ITEM(case, 0)
            f = _plain_twin(gocore_bound_id(meth))
            if f != NULL:
                if f == _f_chan_send:
                    ch = _case_chan(gocore_bound_self(meth), False, True)
                elif f == _f_sendchan_send:
                    ch = _case_chan(gocore_bound_self(meth), True, True)
            if ch is not None:
                sc.kind = CASE_SEND
                sc.value = PyTuple_GET_ITEM(case, 1)
                sc.core = NULL if ch._nil else &ch._c
                return 0
        raise _bad_case(i, case)
    f = _plain_twin(gocore_bound_id(case))
    if f != NULL:
        if f == _f_chan_recv:
            ch = _case_chan(gocore_bound_self(case), False, False)
            sc.kind = CASE_RECV
        elif f == _f_chan_recv_ok:
            ch = _case_chan(gocore_bound_self(case), False, False)
            sc.kind = CASE_RECV_OK
        elif f == _f_recvchan_recv:
            ch = _case_chan(gocore_bound_self(case), True, False)
            sc.kind = CASE_RECV
        elif f == _f_recvchan_recv_ok:
            ch = _case_chan(gocore_bound_self(case), True, False)
            sc.kind = CASE_RECV_OK
        elif f == _f_chan_send or f == _f_sendchan_send:
            raise TypeError(f"select case {i}: a send case is a tuple (ch.send, value), not {_case_repr(case)}")
        if ch is not None:
            sc.value = NULL
            sc.core = NULL if ch._nil else &ch._c
            return 0
    raise _bad_case(i, case)


cdef Py_ssize_t sel_parse(object cases, Py_ssize_t n, SelCase* cs, Py_ssize_t* order,
                          Py_ssize_t* m) except -2:
    """sel_parse_items over a tuple of cases (aselect's form)."""
    return sel_parse_items(<PyObject**>PySequence_Fast_ITEMS(cases), n, cs, order, m)


cdef Py_ssize_t sel_parse_items(PyObject** cases, Py_ssize_t n, SelCase* cs,
                                Py_ssize_t* order, Py_ssize_t* m) except -2:
    """Parse the cases into cs and shuffle the non-default cases into
    order[0:m] (inside-out Fisher-Yates); return the default's index or -1.
    Step k takes its swap index as one digit in [0, k + 1) of a random
    fraction (gocore_rand_digit: a multiply, no division), so one 64-bit
    draw serves several steps: it is redrawn once the digits taken from it
    span more than 2^SHUFFLE_BITS values (every case of a select of up to
    9 cases comes from one draw), which keeps at least 64 - SHUFFLE_BITS
    bits below each digit: its bias is under k / 2^44."""
    cdef Py_ssize_t i, j, dflt = -1
    cdef uint64_t r = 0
    # The product of the digit ranges taken from r; starting at the limit
    # makes the first digit draw.
    cdef uint64_t span = <uint64_t>1 << SHUFFLE_BITS
    cdef uint64_t k1
    m[0] = 0
    for i in range(n):
        case = <object>cases[i]
        if case is _DEFAULT:
            if dflt >= 0:
                raise TypeError(f"select has more than one default case ({dflt} and {i})")
            dflt = i
            continue
        _parse_case(case, i, &cs[i])
        k1 = <uint64_t>(m[0] + 1)
        j = m[0]
        if k1 > 1:
            if span * k1 > (<uint64_t>1 << SHUFFLE_BITS):
                r = gocore_fastrand()
                span = 1
            span *= k1
            j = <Py_ssize_t>gocore_rand_digit(&r, k1)
        order[m[0]] = order[j]
        order[j] = i
        m[0] += 1
    return dflt
