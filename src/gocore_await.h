/* gocore_await.h: the C-level iterator slots of gocore's awaitable twins.
 *
 * An awaitable twin is its own iterator; an `await` drives it through
 * tp_iternext (3.12+) or am_send (3.10, 3.11: PyIter_Send).  Finishing
 * through Cython would mean raising StopIteration from Cython code, which
 * records a traceback entry per level -- several times the cost of the
 * operation itself.  These slots call the core's step function, which
 * returns either the future to yield or, with *done set, the result, and
 * finish the await the cheapest way the interpreter allows: am_send returns
 * PYGEN_RETURN with no exception at all; tp_iternext returns NULL with no
 * exception for None and sets a bare StopIteration(result) otherwise.
 */
#ifndef GOCORE_AWAIT_H
#define GOCORE_AWAIT_H

#include <Python.h>

typedef PyObject *(*gocore_step_fn)(PyObject *self, int *done);

static gocore_step_fn gocore_await_step = NULL;

static PyObject *gocore_await_iternext(PyObject *self) {
    int done = 0;
    PyObject *r = gocore_await_step(self, &done);
    if (r == NULL || !done)
        return r;                          /* an error, or the future to yield */
    if (r == Py_None) {
        Py_DECREF(r);
        return NULL;                       /* exhausted: StopIteration(None) */
    }
    PyObject *stop = PyObject_CallOneArg(PyExc_StopIteration, r);
    Py_DECREF(r);
    if (stop != NULL) {
        PyErr_SetObject(PyExc_StopIteration, stop);
        Py_DECREF(stop);
    }
    return NULL;
}

static PySendResult gocore_await_send(PyObject *self, PyObject *arg, PyObject **result) {
    int done = 0;
    (void)arg;
    *result = gocore_await_step(self, &done);
    if (*result == NULL)
        return PYGEN_ERROR;
    return done ? PYGEN_RETURN : PYGEN_NEXT;
}

/* __await__ returns self: no Python-level call on the way into the await. */
static PyObject *gocore_await_self(PyObject *self) {
    Py_INCREF(self);
    return self;
}

/* Install the slots on an awaitable type (at import, before any instance). */
static int gocore_await_install(PyObject *type, gocore_step_fn step) {
    PyTypeObject *tp = (PyTypeObject *)type;
    gocore_await_step = step;
    tp->tp_iternext = gocore_await_iternext;
    if (tp->tp_as_async != NULL) {
        tp->tp_as_async->am_await = gocore_await_self;
        tp->tp_as_async->am_send = gocore_await_send;
    }
    PyType_Modified(tp);
    return 0;
}

/* Scheduling a task's wake-up the way asyncio's own Future does: one
 * vectorcall of the loop's method by interned name (no bound method, no
 * keyword dict), so waking costs what a Future's set_result costs minus the
 * Future.  The names are made once, at the first call (under the GIL or an
 * attached thread state; a racing second creation only leaks a string). */
static PyObject *gocore_s_call_soon, *gocore_s_call_soon_ts, *gocore_kw_context;

static int gocore_await_names(void) {
    if (gocore_kw_context != NULL)
        return 0;
    gocore_s_call_soon = PyUnicode_InternFromString("call_soon");
    gocore_s_call_soon_ts = PyUnicode_InternFromString("call_soon_threadsafe");
    if (gocore_s_call_soon == NULL || gocore_s_call_soon_ts == NULL)
        return -1;
    gocore_kw_context = Py_BuildValue("(s)", "context");
    return gocore_kw_context == NULL ? -1 : 0;
}

/* loop.<name>(cb, arg), with context=ctx unless ctx is NULL. */
static int gocore_loop_call(PyObject **name, PyObject *loop, PyObject *cb,
                            PyObject *arg, PyObject *ctx) {
    PyObject *args[4] = {loop, cb, arg, ctx};
    PyObject *r;
    if (gocore_await_names() < 0)
        return -1;
    r = PyObject_VectorcallMethod(*name, args, 3, ctx != NULL ? gocore_kw_context : NULL);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

static int gocore_call_soon(PyObject *loop, PyObject *cb, PyObject *arg, PyObject *ctx) {
    return gocore_loop_call(&gocore_s_call_soon, loop, cb, arg, ctx);
}

static int gocore_call_soon_threadsafe(PyObject *loop, PyObject *cb, PyObject *arg) {
    return gocore_loop_call(&gocore_s_call_soon_ts, loop, cb, arg, NULL);
}

/* ctx.run(fn, arg), without the bound method. */
static int gocore_context_run(PyObject *ctx, PyObject *fn, PyObject *arg) {
    PyObject *r;
    if (PyContext_Enter(ctx) < 0)
        return -1;
    r = PyObject_CallOneArg(fn, arg);
    if (PyContext_Exit(ctx) < 0) {
        Py_XDECREF(r);
        return -1;
    }
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

static PyObject *gocore_call_noargs(PyObject *f) {
    return PyObject_CallNoArgs(f);
}

#endif /* GOCORE_AWAIT_H */
