# C declarations shared by every core file: the atomics and the parker.
from libc.stdint cimport int64_t, int32_t, uint64_t, INT64_MAX
from cpython.object cimport PyTypeObject, traverseproc, inquiry, visitproc
from cpython.ref cimport PyObject, Py_INCREF, Py_DECREF, Py_XDECREF
import os as _os

cdef extern from "gocore_atomic.h" nogil:
    int64_t gocore_load_acquire(int64_t* p)
    int64_t gocore_load_seq(int64_t* p)
    int64_t gocore_load_relaxed(int64_t* p)
    void gocore_store(int64_t* p, int64_t v)
    void gocore_store_release(int64_t* p, int64_t v)
    int64_t gocore_add(int64_t* p, int64_t d)
    int64_t gocore_swap(int64_t* p, int64_t v)
    bint gocore_cas(int64_t* p, int64_t expected, int64_t desired)
    int64_t gocore_and(int64_t* p, int64_t m)
    int64_t gocore_or(int64_t* p, int64_t m)
    void gocore_cpu_relax()
    void gocore_os_yield()
    void gocore_spin_lock(int64_t* l)
    void gocore_spin_unlock(int64_t* l)

cdef extern from "gocore_park.h" nogil:
    ctypedef struct gocore_parker:
        pass
    int64_t GOCORE_NO_DEADLINE
    int64_t gocore_nanotime()
    void gocore_parker_init(gocore_parker* p)
    void gocore_parker_destroy(gocore_parker* p)
    bint gocore_park(gocore_parker* p, int64_t deadline)
    bint gocore_park_nospin(gocore_parker* p, int64_t deadline)
    void gocore_unpark(gocore_parker* p)
    int64_t gocore_park_set_spin(int64_t mode)

cdef extern from "gocore_spin.h" nogil:
    bint gocore_spin_may(int64_t now)

cdef extern from "gocore_clock.h" nogil:
    int64_t gocore_now()
    bint gocore_park_until(gocore_parker* p, int64_t deadline)
    int gocore_park_sliced(gocore_parker* p, int64_t deadline, int64_t slice_end)
    int64_t gocore_slice_until(int64_t deadline, int64_t slice_ns)
    void gocore_fake_install(int64_t now)
    void gocore_fake_remove()
    void gocore_fake_advance(int64_t now)
    int64_t gocore_fake_next()
    int64_t gocore_fake_due()
    int64_t gocore_fake_wakes
    int64_t gocore_fake_waiters(int64_t* out, int64_t cap)
