# ---- go() with a coroutine function: the core's part ----
#
# go() and WaitGroup.go accept a coroutine function.  The core only decides
# "is this one?" (it must cost the plain-function path nothing measurable, so
# the common callables are classified by a C flag test, without a Python
# call) and hands such calls to the layer (_coro_go, hooks.pxi), which runs
# them as a task on the caller's loop or under asyncio.run on a worker.  A
# task goroutine is counted in num_goroutine() through _goroutines_add.

cdef extern from *:
    """
    /* 1: a coroutine function, 0: not one, -1: ask inspect.  Exact for plain
       functions and the methods bound to them; builtins and classes are
       never coroutine functions.  inspect.markcoroutinefunction (3.12+)
       leaves a key in the function's __dict__, so a function whose dict is
       empty, or has no such key, is decided here too. */
    static int gocore_coro_kind(PyObject *fn) {
        if (PyMethod_Check(fn))
            fn = PyMethod_GET_FUNCTION(fn);
        if (PyFunction_Check(fn)) {
            PyCodeObject *code = (PyCodeObject *)PyFunction_GET_CODE(fn);
            PyObject *d = ((PyFunctionObject *)fn)->func_dict;
            if (code->co_flags & CO_COROUTINE)
                return 1;
            if (d == NULL || PyDict_GET_SIZE(d) == 0)
                return 0;
            return -1;
        }
        if (PyCFunction_CheckExact(fn) || PyType_Check(fn))
            return 0;
        return -1;
    }
    """
    int gocore_coro_kind(object fn)


from functools import partial as _partial_type

cdef object _iscoroutinefunction = None     # inspect's, imported on first need


cdef bint is_coro_fn(object fn) except -1:
    """True if calling fn makes a coroutine to await (inspect's rule)."""
    global _iscoroutinefunction
    cdef int kind = gocore_coro_kind(fn)
    if kind >= 0:
        return kind
    while type(fn) is _partial_type:    # inspect unwraps partials too; spare it the call
        fn = (<object>fn).func
        kind = gocore_coro_kind(fn)
        if kind >= 0:
            return kind
    if _iscoroutinefunction is None:
        from inspect import iscoroutinefunction
        _iscoroutinefunction = iscoroutinefunction
    return bool(_iscoroutinefunction(fn))


cdef object not_callable(str where, object fn):
    """The TypeError for a go()-like call given something it cannot run.  An
    awaitable is the classic slip, go(fn(x)): say what to write instead."""
    if hasattr(type(fn), "__await__"):
        return TypeError(
            f"{where} needs a function, not a {type(fn).__name__} object: pass the "
            f"coroutine function and its arguments: go(fn, x), not go(fn(x))")
    return TypeError(f"{where} needs a callable, not {type(fn).__name__}")


def _is_coro_fn(fn):
    """For the Python layer's go() methods: the core's cheap classification."""
    return is_coro_fn(fn)


def _not_callable(where, fn):
    """For the Python layer's go() methods: the TypeError to raise."""
    return not_callable(where, fn)


def _goroutines_add(int64_t delta):
    """Count a goroutine that runs as a task (+1 before it starts, -1 when it ends)."""
    gocore_add(&_ngoroutines, delta)


def _report(exc):
    """Hand an exception that escaped a task goroutine to the panic handler,
    exactly as one escaping a worker's goroutine is."""
    _report_panic(exc)
