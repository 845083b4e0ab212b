# ---- a task as a waiter: the second kind of sleeper ----
#
# A waiter record (a channel's ChanWaiter, the sema table's SemaWaiter) names
# its sleeper.  Until now that was always a thread's parker; it may also be an
# asyncio task waiting on a future.  Everything up to the wake is one
# mechanism for both kinds: the same queues, the same claim by CAS, the same
# moved references.  Only the wake differs: a thread is unparked, a task's
# future -- the awaitable object itself, see TaskWait -- is resolved: its
# callbacks are scheduled with call_soon when the waker runs on the loop's
# own thread, else one call_soon_threadsafe runs them on the loop.
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

# Waking (task_wake, the per-loop batch, the ready-queue shortcut): task_wake.pxi.

cimport cython
from cpython.pythread cimport PyThread_get_thread_ident
from asyncio import get_running_loop as _asyncio_running_loop
from asyncio import CancelledError as _CancelledError
from asyncio import InvalidStateError as _InvalidStateError
from asyncio import current_task as _asyncio_current_task
from contextvars import copy_context as _copy_context
from asyncio import BaseEventLoop as _BaseEventLoop

# The channel operations an awaitable twin performs (chan_async.pxi).
DEF AOP_SEND = 0
DEF AOP_RECV = 1            # -> value, or None once closed and drained
DEF AOP_RECV_OK = 2         # -> (value, ok)
DEF AOP_NEXT = 3            # async for: StopAsyncIteration once closed and drained

DEF PH_NEW = 0              # not awaited yet
DEF PH_QUEUED = 1           # a record is queued (or claimed and its wake in flight)
DEF PH_DONE = 2             # finished: the outcome went to the task, or was handed on

# The awaitable is also the future its task sleeps on (see TaskWait).
DEF FS_PENDING = 0
DEF FS_DONE = 1             # woken: the task's callbacks are scheduled
DEF FS_CANCELLED = 2        # cancel() won: the task will be thrown CancelledError


cdef extern from "gocore_await.h":
    ctypedef object (*gocore_step_fn)(object, int*)
    int gocore_await_install(object type, gocore_step_fn step) except -1
    int gocore_call_soon(object loop, object cb, object arg, object ctx) except -1
    int gocore_call_soon_threadsafe(object loop, object cb, object arg) except -1
    object gocore_call_noargs(object f)
    int gocore_context_run(object ctx, object fn, object arg) except -1


cdef object _get_running_loop = _asyncio_running_loop    # a C-level reference


cdef class TaskWait:
    """Base of the awaitable twins: each is its own iterator, so awaiting one
    costs no coroutine object, and the future its task sleeps on, so waiting
    costs no asyncio.Future either.  asyncio's Task accepts any object with
    the future protocol (``_asyncio_future_blocking``, ``get_loop``,
    ``add_done_callback``, ``result``, ``cancel``): it registers its wake-up
    here, and task.cancel() calls our cancel(), exactly as with a Future.
    All of that state is touched only on the loop's thread (a waker on
    another thread goes through call_soon_threadsafe).  Subclasses implement
    _step (each resumption) and _throw (cancellation)."""
    cdef object _evloop
    cdef object _cb              # the first done-callback (the task's wake-up) ...
    cdef object _cb_ctx          # ... and its context, until scheduled
    cdef list _more_cbs          # further [callback, context] pairs (rare)
    cdef object _cancel_msg
    cdef unsigned long _thread   # the loop's thread: a waker there wakes directly
    cdef int _phase              # PH_*: _step leaves PH_QUEUED exactly when it suspends
    cdef int _fstate             # FS_*
    cdef bint _blocking
    cdef bint _in_ready          # on the loop's ready queue as a Handle

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

    # ---- the future protocol, as asyncio.Task uses it on what it awaits ----

    @property
    def _asyncio_future_blocking(self):
        # None unless suspended: asyncio.isfuture() must not mistake an
        # awaitable nobody awaits yet for a future (ensure_future and
        # wait_for then wrap it in a task, as they should).
        if self._phase != PH_QUEUED:
            return None
        return self._blocking

    @_asyncio_future_blocking.setter
    def _asyncio_future_blocking(self, value):
        self._blocking = bool(value)

    @property
    def _loop(self):
        # No get_loop(): asyncio finds the loop of a foreign future here when
        # that method is missing, and the attribute costs no bound method.
        return self._evloop

    @cython.always_allow_keywords(False)
    def done(self):
        return self._fstate != FS_PENDING

    @cython.always_allow_keywords(False)
    def cancelled(self):
        return self._fstate == FS_CANCELLED

    @cython.always_allow_keywords(False)
    def result(self):
        if self._fstate == FS_DONE:
            return None
        if self._fstate == FS_CANCELLED:
            if self._cancel_msg is None:
                raise _CancelledError()
            raise _CancelledError(self._cancel_msg)
        raise _InvalidStateError("Result is not ready.")

    @cython.always_allow_keywords(False)
    def exception(self):
        self.result()
        return None

    def add_done_callback(self, fn, *, context=None):
        if context is None:
            context = _copy_context()
        if self._fstate != FS_PENDING:
            gocore_call_soon(self._evloop, fn, self, context)
        elif self._cb is None:
            self._cb = fn
            self._cb_ctx = context
        else:
            if self._more_cbs is None:
                self._more_cbs = []
            self._more_cbs.append([fn, context])

    def remove_done_callback(self, fn):
        cdef Py_ssize_t n = 0
        if self._cb is not None and self._cb == fn:
            self._cb = self._cb_ctx = None
            n = 1
        if self._more_cbs:
            keep = [p for p in self._more_cbs if p[0] != fn]
            n += len(self._more_cbs) - len(keep)
            self._more_cbs = keep
        return n

    def cancel(self, msg=None):
        # task.cancel() while the task sleeps here.  The record stays queued:
        # the CancelledError this leads to is thrown into the task at its
        # next step, and _throw races any completer for the outcome there.
        if self._fstate != FS_PENDING:
            return False
        self._fstate = FS_CANCELLED
        self._cancel_msg = msg
        self._schedule_callbacks()
        return True

    cdef int _schedule_callbacks(self) except -1:
        # On the loop's thread.  The common case, one callback (the task's
        # wake-up) on asyncio's own loop: this object goes on the loop's
        # ready queue as its own Handle (_cancelled, _run below) -- what
        # call_soon does, minus a Handle and two Python-level calls, which
        # are most of what a same-loop wake costs.
        loop = self._evloop
        if (self._cb is not None and self._more_cbs is None and not self._in_ready
                and _is_plain_loop(loop) and not loop._debug):
            if loop._closed:
                raise RuntimeError("Event loop is closed")
            loop._ready.append(self)
            self._in_ready = True
            return 0
        cb = self._cb
        ctx = self._cb_ctx
        more = self._more_cbs
        self._cb = self._cb_ctx = self._more_cbs = None
        if cb is not None:
            gocore_call_soon(loop, cb, self, ctx)
        if more:
            for fn, c in more:
                gocore_call_soon(loop, fn, self, c)
        return 0

    @property
    def _cancelled(self):
        return False             # as a Handle on the ready queue: never cancelled

    @cython.always_allow_keywords(False)
    def _run(self):
        # As a Handle: the loop runs the callback _schedule_callbacks queued.
        cb = self._cb
        ctx = self._cb_ctx
        self._cb = self._cb_ctx = None
        self._in_ready = False
        if cb is not None:
            self._run_callback(cb, ctx)

    cdef int _wake_here(self) except -1:
        # On the loop's thread, inside a callback of its own (not inside a
        # task): run the callbacks now rather than one loop iteration later.
        if self._fstate != FS_PENDING:
            return 0
        self._fstate = FS_DONE
        cb = self._cb
        ctx = self._cb_ctx
        more = self._more_cbs
        self._cb = self._cb_ctx = self._more_cbs = None
        if cb is not None:
            self._run_callback(cb, ctx)
        if more:
            for fn, c in more:
                self._run_callback(fn, c)
        return 0

    cdef int _run_callback(self, object fn, object ctx) except -1:
        try:
            gocore_context_run(ctx, fn, self)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._evloop.call_exception_handler({
                "message": "Exception in callback " + repr(fn),
                "exception": exc, "future": self})
        return 0

    cdef object _step(self):
        """Run until the operation finishes (return its result) or must wait
        (set PH_QUEUED and return self, the future to yield)."""
        raise NotImplementedError

    cdef object _throw(self, object typ, object val, object tb):
        raise_thrown(typ, val, tb)

    cdef int _close(self) except -1:
        return 0

    cdef int prepare(self) except -1:
        """Bind to the running loop (RuntimeError without one) as a fresh
        pending future.  Call before taking any spin lock."""
        self._evloop = gocore_call_noargs(_get_running_loop)
        self._thread = PyThread_get_thread_ident()
        self._fstate = FS_PENDING
        self._cancel_msg = None
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
        """The value to yield to the task: this object, as a blocking future."""
        self._blocking = True
        return self

    cdef int resolve(self) except -1:
        """Wake the task (raises RuntimeError if its loop is closed)."""
        if PyThread_get_thread_ident() == self._thread:
            if self._fstate == FS_PENDING:
                self._fstate = FS_DONE
                self._schedule_callbacks()
        else:
            gocore_call_soon_threadsafe(self._evloop, _wake_task_on_loop, self)
        return 0

    cdef int abandon(self) except -1:
        """The loop is gone: hand on what the completion gave this waiter."""
        return 0


@cython.final
cdef class _Done(TaskWait):
    """An awaitable that completes at once with None (a lock taken without
    waiting, an unlock): no future, no loop round trip.  Stateless, shared."""

    cdef object _step(self):
        return None


cdef _Done _DONE = _Done()


@cython.final
cdef class _Park(TaskWait):
    """A bare wait (Semaphore.aacquire's): prepare(), queue it where a waker
    finds it, ``await`` it; resolve() ends the wait."""

    cdef object _step(self):
        if self._phase == PH_NEW:
            self._phase = PH_QUEUED
            return self.suspend()
        self._phase = PH_DONE
        return None

    cdef object _throw(self, object typ, object val, object tb):
        self._phase = PH_DONE
        raise_thrown(typ, val, tb)


cdef object _await_step(object self, int* done):
    cdef TaskWait t = <TaskWait>self
    r = t._step()
    done[0] = t._phase != PH_QUEUED
    return r


cdef int install_await_slots(object type) except -1:
    return gocore_await_install(type, <gocore_step_fn>_await_step)


install_await_slots(_Done)
install_await_slots(_Park)
