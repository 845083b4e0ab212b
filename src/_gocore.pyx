# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: freethreading_compatible=True
"""gocore's compiled core: atomics, the semaphore sleep/wake table and the
sync primitives built on it.  Import the public names from ``gocore``.

Each concept lives in its own file beside this one; this file only stitches
them together in dependency order.
"""
from cpython.ref cimport PyObject, Py_INCREF, Py_DECREF, Py_XDECREF

include "core_decls.pxi"
include "deadline.pxi"
include "waiter_task.pxi"
include "sema.pxi"
include "atomic.pxi"
include "mutex.pxi"
include "rwmutex.pxi"
include "waitgroup.pxi"
include "cond.pxi"
include "once.pxi"
include "semaphore.pxi"
include "sync_async.pxi"
include "chan.pxi"
include "select.pxi"
include "chan_async.pxi"
include "goroutine.pxi"

import os as _os
_ncpu = _os.cpu_count() or 1
