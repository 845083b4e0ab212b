# ---- AtomicInt, AtomicBool, AtomicRef (Go's sync/atomic types) ----

cimport cython

cdef extern from *:
    """
    #ifdef Py_GIL_DISABLED
    #define GOCORE_FREE_THREADED 1
    #else
    #define GOCORE_FREE_THREADED 0
    #endif
    """
    bint GOCORE_FREE_THREADED


from cpython.long cimport PyLong_CheckExact
from cpython.number cimport PyNumber_Index


cdef inline int64_t as_int64(object v, str what="value") except? -1:
    """`v` as a C int64 for the core's integer arguments: an int (or an object
    with __index__), else TypeError naming `what` -- Cython's own conversion
    would truncate a float, and a bool is a mistake, not a number; outside
    the int64 range, OverflowError."""
    if not PyLong_CheckExact(v):
        if isinstance(v, bool) or not hasattr(type(v), "__index__"):
            raise TypeError(f"{what} must be an int, not {type(v).__name__}")
        v = PyNumber_Index(v)
    try:
        return <int64_t>v
    except OverflowError:
        raise OverflowError(f"{what} {v} does not fit in a 64-bit signed integer") from None


@cython.binding(False)
cdef class AtomicInt:
    """A 64-bit signed integer updated atomically, Go's ``atomic.Int64``.

    ``add`` wraps around on overflow like Go; values that do not fit in int64
    raise OverflowError, non-integers TypeError.

    Example::

        hits = gocore.AtomicInt()
        hits.add(1)          # -> 1
        hits.compare_and_swap(1, 10)   # -> True
    """
    cdef int64_t _value

    def __init__(self, value=0):
        gocore_store(&self._value, as_int64(value))

    def load(self):
        """The current value."""
        # Sequentially consistent, as every Go atomic: a store followed by a
        # load of another atomic is never reordered (Dekker-style handshakes).
        return gocore_load_seq(&self._value)

    def store(self, value):
        """Set the value."""
        gocore_store(&self._value, as_int64(value))

    def add(self, delta):
        """Add `delta` (wrapping around) and return the new value."""
        return gocore_add(&self._value, as_int64(delta, "delta"))

    def swap(self, value):
        """Set the value and return the old one."""
        return gocore_swap(&self._value, as_int64(value))

    def compare_and_swap(self, old, new):
        """Set to `new` if the value is `old`; return whether it did."""
        cdef int64_t o = as_int64(old, "old")
        return gocore_cas(&self._value, o, as_int64(new, "new"))

    def and_(self, mask):
        """Bitwise-and with `mask`; return the old value."""
        return gocore_and(&self._value, as_int64(mask, "mask"))

    def or_(self, mask):
        """Bitwise-or with `mask`; return the old value."""
        return gocore_or(&self._value, as_int64(mask, "mask"))

    def __repr__(self):
        return f"AtomicInt({gocore_load_acquire(&self._value)})"


@cython.binding(False)
cdef class AtomicBool:
    """A boolean updated atomically, Go's ``atomic.Bool``.

    Example::

        closed = gocore.AtomicBool()
        if closed.compare_and_swap(False, True):
            ...  # only one thread gets here
    """
    cdef int64_t _value    # 0 or 1

    def __init__(self, bint value=False):
        gocore_store(&self._value, value)

    def load(self):
        """The current value."""
        return gocore_load_seq(&self._value) != 0

    def store(self, bint value):
        """Set the value."""
        gocore_store(&self._value, value)

    def swap(self, bint value):
        """Set the value and return the old one."""
        return gocore_swap(&self._value, value) != 0

    def compare_and_swap(self, bint old, bint new):
        """Set to `new` if the value is `old`; return whether it did."""
        return gocore_cas(&self._value, old, new)

    def __repr__(self):
        return f"AtomicBool({gocore_load_acquire(&self._value) != 0})"


@cython.binding(False)
cdef class AtomicRef:
    """A reference to any Python object, swapped atomically (Go's
    ``atomic.Pointer`` / ``atomic.Value``).  ``compare_and_swap`` compares by
    identity (``is``).

    Example::

        config = gocore.AtomicRef({"v": 1})
        config.store({"v": 2})
        current = config.load()
    """
    # _obj holds one strong reference.  With the GIL every method runs whole
    # under it.  Without the GIL, _lock (a spin lock held only across a pointer
    # swap and an INCREF, never across a DECREF, which may run arbitrary code)
    # keeps a reader from taking a reference to an object a writer is freeing.
    cdef PyObject* _obj
    cdef int64_t _lock
    cdef object _gc_anchor   # always None: makes the type GC-tracked (see _atomicref_traverse)

    def __cinit__(self):
        Py_INCREF(None)
        self._obj = <PyObject*>None

    def __init__(self, obj=None):
        self._replace(obj)

    def __dealloc__(self):
        Py_XDECREF(self._obj)
        self._obj = NULL

    cdef inline object _replace(self, object obj):
        """Store obj; return the previous object (a new reference)."""
        cdef PyObject* old
        Py_INCREF(obj)
        if GOCORE_FREE_THREADED:
            gocore_spin_lock(&self._lock)
        old = self._obj
        self._obj = <PyObject*>obj
        if GOCORE_FREE_THREADED:
            gocore_spin_unlock(&self._lock)
        result = <object>old       # takes a new reference ...
        Py_DECREF(result)          # ... and drops the one _obj owned
        return result

    def load(self):
        """The current object."""
        cdef object result
        if GOCORE_FREE_THREADED:
            gocore_spin_lock(&self._lock)
        result = <object>self._obj
        if GOCORE_FREE_THREADED:
            gocore_spin_unlock(&self._lock)
        return result

    def store(self, obj):
        """Replace the object."""
        self._replace(obj)

    def swap(self, obj):
        """Replace the object and return the old one."""
        return self._replace(obj)

    def compare_and_swap(self, old, new):
        """Replace with `new` if the current object *is* `old`; return whether it did."""
        cdef PyObject* prev
        Py_INCREF(new)
        if GOCORE_FREE_THREADED:
            gocore_spin_lock(&self._lock)
        prev = self._obj
        if prev == <PyObject*>old:
            self._obj = <PyObject*>new
        if GOCORE_FREE_THREADED:
            gocore_spin_unlock(&self._lock)
        if prev == <PyObject*>old:
            Py_DECREF(<object>prev)
            return True
        Py_DECREF(new)
        return False

    def __repr__(self):
        return f"AtomicRef({self.load()!r})"


# ---- AtomicRef and the cyclic garbage collector ----
#
# The referenced object must be visible to the collector, or an AtomicRef
# whose object refers back to it (an object holding its own current-config
# ref, say) would never be freed.  Cython cannot traverse a raw PyObject*
# field, so the type's tp_traverse and tp_clear are replaced here (see
# install_gc_slots in typeslots.pxi).


cdef Py_ssize_t _ref_offset      # where AtomicRef._obj sits inside the object


cdef int _atomicref_traverse(PyObject* o, visitproc visit, void* arg) noexcept:
    cdef PyObject* obj = (<PyObject**>((<char*>o) + _ref_offset))[0]
    if obj != NULL:
        return visit(obj, arg)
    return 0


cdef int _atomicref_clear(PyObject* o) noexcept:
    # Garbage: drop the reference (leaving None, so a finalizer that still
    # looks at the AtomicRef finds a valid object).
    cdef PyObject** slot = <PyObject**>((<char*>o) + _ref_offset)
    cdef PyObject* old = slot[0]
    Py_INCREF(None)
    slot[0] = <PyObject*>None
    Py_XDECREF(old)
    return 0


cdef AtomicRef _ref_probe = AtomicRef.__new__(AtomicRef)
_ref_offset = install_gc_slots(AtomicRef, _ref_probe, &_ref_probe._obj,
                               <traverseproc>_atomicref_traverse, <inquiry>_atomicref_clear)
_ref_probe = None
