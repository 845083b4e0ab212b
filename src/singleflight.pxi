# ---- singleflight: the call record and do()'s path, for gocore.SingleFlight ----
#
# gocore.singleflight.SingleFlight subclasses _FlightGroup and adds do_chan,
# ado, forget and the wake-ups (_wake).  Here: the record of a call in flight
# and do()/do_shared(), whose uncontended path (lock, register, unlock, run
# fn, lock, unregister, unlock) is the cost every caller pays.  Every
# registration and the completion that takes a call out of _calls happen
# under _mu, so a waiter that found the call is registered before the
# completer reads who waits: no wake-up is lost.


@cython.binding(False)
@cython.final
cdef class _FlightCall:
    """One call in flight.  dups/done/chans/tasks are written under the
    group's mutex; value/error are published (under it) only if somebody
    joined, before they are woken."""
    cdef public Py_ssize_t dups       # callers beyond the first
    cdef public object done           # Chan closed at completion, made by the first waiting thread
    cdef public object chans          # do_chan result channels, or None
    cdef public object tasks          # (loop, future) of waiting tasks, or None
    cdef public object value
    cdef public object error


@cython.binding(False)
cdef class _FlightGroup:
    """State of a SingleFlight: the calls in flight by key, guarded by _mu."""
    cdef public Mutex _mu
    cdef public dict _calls

    def do(self, key, fn, /, *args, **kwargs):
        """Run ``fn(*args, **kwargs)`` unless a call for `key` is in flight;
        then wait for that one.  Returns its value, or raises its exception
        (the same object in every caller)."""
        return self._do(key, fn, args, kwargs)[0]

    def do_shared(self, key, fn, /, *args, **kwargs):
        """``do`` that also says whether the result went to more than one
        caller: ``(value, shared)``."""
        return self._do(key, fn, args, kwargs)

    cdef tuple _do(self, object key, object fn, tuple args, dict kwargs):
        cdef _FlightCall c
        cdef object found, value, error, done = None
        cdef bint shared, run
        self._mu._lock()
        try:                          # a key whose hash or == raises must not leave _mu held
            found = self._calls.get(key)
            run = found is None
            if run:
                c = _FlightCall.__new__(_FlightCall)
                self._calls[key] = c
            else:
                c = <_FlightCall>found
                c.dups += 1
                done = c.done
                if done is None:
                    done = c.done = Chan(0)
        finally:
            self._mu._unlock()
        if run:
            try:
                value = fn(*args, **kwargs)
                error = None
            except BaseException as exc:      # a "panic" too: every caller gets it
                value = None
                error = exc
            if self._finish(c, key, value, error):
                self._wake(c, value, error)
            shared = c.dups > 0
        else:
            done.recv()               # returns once closed
            value = c.value
            error = c.error
            shared = True
        if error is not None:
            raise error
        return (value, shared)

    def _end(self, _FlightCall c, key, value, error):
        """Take c out of the map (unless forget() let a newer call own the
        key), publish the outcome if somebody joined; True if anyone is to
        be woken (then the caller runs _wake)."""
        return self._finish(c, key, value, error)

    cdef bint _finish(self, _FlightCall c, object key, object value, object error) except -1:
        cdef bint wake
        self._mu._lock()
        try:
            if self._calls.get(key) is c:
                del self._calls[key]
            if c.dups:
                c.value = value
                c.error = error
            wake = c.done is not None or c.chans is not None or c.tasks is not None
        finally:
            self._mu._unlock()
        return wake
