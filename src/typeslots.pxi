# ---- type-level helpers shared by the core's classes ----
#
# Two things several types need exactly alike: refusing pickle/copy, and
# replacing the collector's slots for a type whose references live where
# Cython cannot see them (a raw PyObject* field, a C ring of values).


cdef object _refuse_copy(object self):
    # A copy would duplicate wait state (holders, waiter counts, queued
    # records) that belongs to the original: refuse, as threading.Lock does.
    raise TypeError(f"cannot pickle or copy {type(self).__name__!r} object")


cdef Py_ssize_t install_gc_slots(type t, object probe, void* field,
                                 traverseproc traverse, inquiry clear) except -1:
    """Install tp_traverse/tp_clear on `t` and return the offset of `field`
    (an address inside `probe`, an instance of t) from the object's start:
    the slot functions reach the field by that offset, since a cast to the
    Cython type would touch the refcount of an object the collector is
    examining.  The type must be GC-tracked already (an object field makes
    Cython give it Py_TPFLAGS_HAVE_GC); the collector runs with the GIL held
    (free-threaded: with the world stopped), so no method is half-way through."""
    (<PyTypeObject*>t).tp_traverse = traverse
    (<PyTypeObject*>t).tp_clear = clear
    return <char*>field - <char*><PyObject*>probe
