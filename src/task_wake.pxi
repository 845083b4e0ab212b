# ---- waking a task waiter (see waiter_task.pxi) ----
#
# A waker that holds the channel or sema lock never calls in here: it
# collects the claimed records and wakes them once the lock is released.
# A wake must never raise into the operation that triggered it; a loop
# that is closed turns the wake into abandon().

cdef dict _plain_loop_types = {}     # loop type -> may we append to its _ready?


cdef bint _is_plain_loop(object loop) except -1:
    """Whether `loop` is asyncio's own loop, unmodified where it matters: its
    call_soon only appends a Handle to `_ready`, which _run_once pops and
    runs (``if h._cancelled: skip; h._run()``) -- true of every CPython
    3.10-3.14.  uvloop and other loops get the public call_soon."""
    t = type(loop)
    ok = _plain_loop_types.get(t)
    if ok is None:
        ok = (isinstance(loop, _BaseEventLoop)
              and t.call_soon is _BaseEventLoop.call_soon
              and t._call_soon is _BaseEventLoop._call_soon
              and t._run_once is _BaseEventLoop._run_once)
        _plain_loop_types[t] = ok
    return ok


def _wake_task_on_loop(t):
    # call_soon_threadsafe's callback, on the loop: the task may have been
    # cancelled meanwhile (then its callbacks ran already).
    (<TaskWait>t)._wake_here()


def _wake_tasks_on_loop(ts):
    for t in ts:
        (<TaskWait>t)._wake_here()


cdef void task_wake(PyObject* op) noexcept with gil:
    """Wake one claimed task waiter and drop its armed reference."""
    task_wake_held(op)


cdef void task_wake_held(PyObject* op) noexcept:
    """task_wake, for a caller that holds the GIL already."""
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
                by_loop.setdefault(t._evloop, []).append(t)
        for loop, group in by_loop.items():
            try:
                gocore_call_soon_threadsafe(loop, _wake_tasks_on_loop, group)
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
