/* gocore_frame.h: where a goroutine was created, found with one frame lookup.
 *
 * go() records the code object and instruction offset of its caller's frame
 * (skipping frames of gocore's own Python files, so that wg.go(), g.go() and
 * p.go() name the user's line); the line number is computed only when a dump
 * asks for it, because mapping an offset to a line walks the line table.
 */
#ifndef GOCORE_FRAME_H
#define GOCORE_FRAME_H

#include <Python.h>
#include <frameobject.h>

/* Whether `filename` starts with one of the str prefixes in the tuple `prefixes`. */
static int gocore_prefixed(PyObject *prefixes, PyObject *filename) {
    Py_ssize_t i, n = PyTuple_GET_SIZE(prefixes);
    for (i = 0; i < n; i++) {
        Py_ssize_t r = PyUnicode_Tailmatch(filename, PyTuple_GET_ITEM(prefixes, i), 0, PY_SSIZE_T_MAX, -1);
        if (r < 0) {
            PyErr_Clear();
            return 0;
        }
        if (r)
            return 1;
    }
    return 0;
}

/* A frame of gocore's own files, unless it is one of the files that use
 * gocore as any user would (the shipped benchmark: its go() calls are the
 * user's, and walking past its frames on every call would time the walk). */
static int gocore_skipped(PyObject *skip, PyObject *keep, PyObject *filename) {
    return gocore_prefixed(skip, filename) && !gocore_prefixed(keep, filename);
}

/* *code_out: a new reference to the innermost frame's code whose
 * co_filename does not start with a prefix in the tuple `skip` (None: skip
 * nothing) or does start with one in `keep`, or NULL if every frame is
 * skipped (or there is none); *lasti_out: that frame's offset in bytes. */
/* The last code object found not to be skipped: go() is usually called from
 * the same few places, so most lookups end with one pointer comparison.
 * Only compared, never dereferenced; a stale value (its code freed and the
 * address reused) at worst skips nothing for that one code object, which
 * cannot be one of gocore's own files' code objects as long as those modules
 * are alive.  A relaxed atomic, as any thread may update it. */
static void *gocore_last_user_code = NULL;
#if defined(_MSC_VER) && !defined(__clang__)
#define GOCORE_PTR_LOAD(p) (*(void *volatile *)(p))
#define GOCORE_PTR_STORE(p, v) (*(void *volatile *)(p) = (v))
#else
#define GOCORE_PTR_LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define GOCORE_PTR_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#endif

static int gocore_caller(PyObject *skip, PyObject *keep, PyObject **code_out, int *lasti_out) {
    PyFrameObject *f = PyEval_GetFrame();        /* borrowed */
    *code_out = NULL;
    *lasti_out = -1;
    Py_XINCREF(f);
    while (f != NULL) {
        PyCodeObject *co = PyFrame_GetCode(f);   /* new reference */
        int skipped = 0;
        if ((void *)co != GOCORE_PTR_LOAD(&gocore_last_user_code)) {
            skipped = skip != Py_None && gocore_skipped(skip, keep, co->co_filename);
            if (!skipped)
                GOCORE_PTR_STORE(&gocore_last_user_code, (void *)co);
        }
        if (!skipped) {
            *code_out = (PyObject *)co;
#if PY_VERSION_HEX >= 0x030B0000
            *lasti_out = PyFrame_GetLasti(f);
#else
            *lasti_out = f->f_lasti * (int)sizeof(_Py_CODEUNIT);
#endif
            Py_DECREF(f);
            return 0;
        }
        Py_DECREF(co);
        PyFrameObject *back = PyFrame_GetBack(f);    /* new reference */
        Py_DECREF(f);
        f = back;
    }
    return 0;
}

static int gocore_code_line(PyObject *code, int lasti) {
    if (lasti < 0)
        return ((PyCodeObject *)code)->co_firstlineno;
    return PyCode_Addr2Line((PyCodeObject *)code, lasti);
}

#endif /* GOCORE_FRAME_H */
