# ---- Once (Go's sync.Once) ----

cimport cython

@cython.binding(False)
cdef class Once:
    """Once()
--

    Run a function exactly once, Go's ``sync.Once``.

    If `fn` raises, the exception reaches that caller and the Once still
    counts as done (as in Go); concurrent callers wait until the first call
    has returned.

    Example::

        init_once = gocore.Once()
        init_once.do(load_config)
    """
    # _done is set (after fn returned or raised) with _mu held; the fast path
    # reads it without _mu, so its store must publish fn's effects (seq_cst).
    cdef int64_t _done
    cdef Mutex _mu
    cdef object __weakref__

    def __cinit__(self):
        self._mu = Mutex.__new__(Mutex)

    def do(self, fn):
        """Call ``fn()`` if no call of ``do`` has done so yet."""
        if gocore_load_acquire(&self._done):
            return
        self._do_slow(fn)

    cdef int _do_slow(self, fn) except -1:
        if not callable(fn):
            # Refuse before taking the Once: a typo must not use it up.
            raise TypeError(f"Once.do needs a callable, not {type(fn).__name__}")
        self._mu._lock()
        try:
            if not gocore_load_acquire(&self._done):
                try:
                    fn()
                finally:
                    gocore_store(&self._done, 1)
        finally:
            self._mu._unlock()
        return 0

    def done(self):
        """True once a call of ``do`` has returned (or raised)."""
        return gocore_load_acquire(&self._done) != 0

    def __reduce__(self):
        return _refuse_copy(self)
