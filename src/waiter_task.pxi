# ---- a task as a waiter: the second kind of sleeper ----
#
# A waiter record (a channel's ChanWaiter, the sema table's SemaWaiter) names
# its sleeper.  Until now that was always a thread's parker; it may also be an
# asyncio task waiting on a future.  Everything up to the wake is one
# mechanism for both kinds: the same queues, the same claim by CAS, the same
# moved references.  Only the wake differs: a thread is unparked, a task's
# future is resolved -- with set_result when the waker runs on the loop's own
# thread, else with one call_soon_threadsafe.
#
# A thread's record lives on its C stack, which stays put while it sleeps.  A
# task has no such stack: its records live inside the awaitable object
# (a TaskWait subclass), and while a record is queued that object holds a
# reference to itself ("armed").  Whoever claims the record -- a waker, or
# the task withdrawing itself -- owns that reference and drops it as its very
# last touch, so the memory a waker writes into can never be freed under it.
#
# A loop that is closed while its task waits cannot run the task again:
# call_soon_threadsafe (or set_result's call_soon) raises RuntimeError.  The
# waker then calls abandon(), which treats the record as withdrawn and hands
# on whatever the completion gave it (a value goes back to the channel, a
# unit of a lock goes to the next waiter), so the object is never wedged.
#
# Every wake of a task needs the GIL (free-threaded: an attached thread
# state).  The wake points are reached with it held, but they are declared
# nogil, so they enter through `with gil` (PyGILState_Ensure, which is
# re-entrant and attaches on a free-threaded build).

cimport cython
from cpython.pythread cimport PyThread_get_thread_ident
from asyncio import get_running_loop as _asyncio_running_loop
from asyncio import CancelledError as _CancelledError
from asyncio import current_task as _asyncio_current_task

# The channel operations an awaitable twin performs (chan_async.pxi).
DEF AOP_SEND = 0
DEF AOP_RECV = 1            # -> value, or None once closed and drained
DEF AOP_RECV_OK = 2         # -> (value, ok)
DEF AOP_NEXT = 3            # async for: StopAsyncIteration once closed and drained


def _set_done(fut):
    # Runs on the loop: the task may have been cancelled meanwhile.
    if not fut.done():
        fut.set_result(None)


def _set_done_many(futs):
    for fut in futs:
        if not fut.done():
            fut.set_result(None)


DEF PH_NEW = 0              # not awaited yet
DEF PH_QUEUED = 1           # a record is queued (or claimed and its wake in flight)
DEF PH_DONE = 2             # finished: the outcome went to the task, or was handed on


cdef class TaskWait:
    """Base of the awaitable twins: each is its own iterator, so awaiting one
    costs no coroutine object.  Holds the loop, the future the task sleeps
    on, and the loop's thread (to wake directly when the waker runs on it).
    Subclasses implement _step (each resumption) and _throw (cancellation)."""
    cdef object _loop
    cdef object _fut
    cdef unsigned long _thread
    cdef int _phase              # PH_*: _step leaves PH_QUEUED exactly when it suspends

    def __await__(self):
        return self

    def __iter__(self):
        return self

    # An `await` uses the C slots installed below; these serve Python callers.
    def __next__(self):
        r = self._step()
        if self._phase == PH_QUEUED:
            return r
        raise StopIteration(r)

    def send(self, arg):
        return self.__next__()

    def throw(self, typ, val=None, tb=None):
        return self._throw(typ, val, tb)

    def close(self):
        self._close()

    cdef object _step(self):
        """Run until the operation finishes (return its result) or must wait
        (set PH_QUEUED and return the future to yield)."""
        raise NotImplementedError

    cdef object _throw(self, object typ, object val, object tb):
        raise_thrown(typ, val, tb)

    cdef int _close(self) except -1:
        return 0

    cdef int prepare(self) except -1:
        """Create the future on the running loop (RuntimeError without one).
        Call before taking any spin lock: this may run arbitrary Python code."""
        loop = _asyncio_running_loop()
        self._loop = loop
        self._fut = loop.create_future()
        self._thread = PyThread_get_thread_ident()
        return 0

    cdef int arm(self) except -1:
        """prepare(), then take the self-reference a queued record needs."""
        self.prepare()
        Py_INCREF(self)
        return 0

    cdef inline void disarm(self) noexcept:
        """Drop the self-reference: the record was claimed by its own task."""
        Py_DECREF(self)

    cdef object suspend(self):
        """The value to yield to the task: its future, marked as awaited."""
        self._fut._asyncio_future_blocking = True
        return self._fut

    cdef int resolve(self) except -1:
        """Wake the task (raises RuntimeError if its loop is closed)."""
        if PyThread_get_thread_ident() == self._thread:
            if not self._fut.done():
                self._fut.set_result(None)
        else:
            self._loop.call_soon_threadsafe(_set_done, self._fut)
        return 0

    cdef int abandon(self) except -1:
        """The loop is gone: hand on what the completion gave this waiter."""
        return 0


cdef void task_wake(PyObject* op) noexcept with gil:
    """Wake one claimed task waiter and drop its armed reference."""
    cdef TaskWait t = <TaskWait>op
    try:
        try:
            t.resolve()
        except RuntimeError:
            t.abandon()
    except BaseException as exc:
        _report_wake_error(exc)
    Py_DECREF(t)                 # the armed reference; `t` still holds one


cdef void tasks_wake_batch(list ops) noexcept:
    """Wake several claimed task waiters: one call_soon_threadsafe per loop."""
    cdef TaskWait t
    cdef dict by_loop = {}
    cdef unsigned long me = PyThread_get_thread_ident()
    try:
        for o in ops:
            t = <TaskWait>o
            if t._thread == me:
                try:
                    t.resolve()
                except RuntimeError:
                    t.abandon()
            else:
                by_loop.setdefault(t._loop, []).append(t)
        for loop, group in by_loop.items():
            try:
                loop.call_soon_threadsafe(_set_done_many, [(<TaskWait>g)._fut for g in group])
            except RuntimeError:
                for g in group:
                    (<TaskWait>g).abandon()
    except BaseException as exc:
        _report_wake_error(exc)
    for o in ops:
        Py_DECREF(o)             # the armed references


cdef void _report_wake_error(BaseException exc) noexcept:
    # A wake must never propagate into the lock or channel operation that
    # triggered it; report like an unraisable error.
    try:
        import sys
        sys.unraisablehook(_Unraisable(exc, "waking an asyncio task"))
    except BaseException:
        pass


class _Unraisable:
    def __init__(self, exc, msg):
        self.exc_type = type(exc)
        self.exc_value = exc
        self.exc_traceback = exc.__traceback__
        self.err_msg = "gocore: error " + msg
        self.object = None


cdef int rerequest_if_cancel(object typ, object val) except -1:
    """An operation completed although its task was cancelled: keep the
    result and deliver the cancellation at the task's next suspension."""
    exc = typ if val is None else val
    if isinstance(exc, type):
        exc = exc() if issubclass(exc, _CancelledError) else None
    if not isinstance(exc, _CancelledError):
        return 0                 # some other exception thrown in: nothing to re-request
    task = _asyncio_current_task()
    if task is None:
        return 0
    msg = exc.args[0] if exc.args else None
    # 3.11+ counts cancellation requests (asyncio.timeout compares them):
    # take back the one being delivered now before asking again.
    cancelling = getattr(task, "cancelling", None)
    if cancelling is not None and cancelling() > 0:
        task.uncancel()
    task.cancel(msg)
    return 0


cdef object raise_thrown(object typ, object val, object tb):
    """Re-raise what throw() received (the old three-argument form too)."""
    if val is None:
        raise typ
    if tb is not None:
        raise val.with_traceback(tb)
    raise val


@cython.final
cdef class _Done(TaskWait):
    """An awaitable that completes at once with None (a lock taken without
    waiting, an unlock): no future, no loop round trip.  Stateless, shared."""

    cdef object _step(self):
        return None


cdef _Done _DONE = _Done()


cdef extern from "gocore_await.h":
    ctypedef object (*gocore_step_fn)(object, int*)
    int gocore_await_install(object type, gocore_step_fn step) except -1


cdef object _await_step(object self, int* done):
    cdef TaskWait t = <TaskWait>self
    r = t._step()
    done[0] = t._phase != PH_QUEUED
    return r


cdef int install_await_slots(object type) except -1:
    return gocore_await_install(type, <gocore_step_fn>_await_step)


install_await_slots(_Done)
