/* gocore_select.h: the calling convention of gocore.select.
 *
 * select(*cases, timeout=None) is called once per channel operation in a
 * select loop, so its entry cost is the operation's cost.  A Cython `def`
 * with *args goes through tp_call: CPython packs the cases into a fresh
 * tuple, Cython unpacks the keywords from a dict.  This entry is
 * METH_FASTCALL | METH_KEYWORDS instead: the cases are read straight from
 * the caller's argument array and `timeout` from kwnames, with no
 * allocation.  The body stays in Cython (select.pxi's sel_call); this file
 * only adapts the arguments and is bound to it once at module init.
 */
#ifndef GOCORE_SELECT_H
#define GOCORE_SELECT_H

#include <Python.h>

typedef PyObject *(*gocore_select_body_t)(PyObject *const *cases, Py_ssize_t n,
                                          PyObject *timeout);

/* Set once, before the function object exists (select.pxi). */
static gocore_select_body_t gocore_select_body = NULL;

static PyObject *
gocore_select_fastcall(PyObject *self, PyObject *const *args, Py_ssize_t nargsf,
                       PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *timeout = Py_None;
    (void)self;
    if (kwnames != NULL) {
        Py_ssize_t i, nkw = PyTuple_GET_SIZE(kwnames);
        for (i = 0; i < nkw; i++) {
            PyObject *name = PyTuple_GET_ITEM(kwnames, i);
            int eq = PyUnicode_CompareWithASCIIString(name, "timeout");
            if (eq != 0) {
                PyErr_Format(PyExc_TypeError,
                             "select() got an unexpected keyword argument '%U'", name);
                return NULL;
            }
            timeout = args[nargs + i];
        }
    }
    return gocore_select_body(args, nargs, timeout);
}

static PyMethodDef gocore_select_def = {
    "select", (PyCFunction)(void (*)(void))gocore_select_fastcall,
    METH_FASTCALL | METH_KEYWORDS, NULL /* the docstring is set from select.pxi */
};

/* ---- telling a case's method by identity ----
 * The channel classes are binding(False): `Chan.recv` is a method
 * descriptor and `ch.recv` a builtin method bound to ch, both pointing at
 * the one PyMethodDef of the class.  That pointer is the method's identity;
 * `__self__` of a bound one is always an instance of the class (the
 * descriptor's __get__ checks), though select still checks its type. */
static inline const void *gocore_method_id(PyObject *descr) {
    return PyObject_TypeCheck(descr, &PyMethodDescr_Type)
        ? (const void *)((PyMethodDescrObject *)descr)->d_method : NULL;
}
static inline const void *gocore_bound_id(PyObject *o) {
    return PyCFunction_Check(o) ? (const void *)((PyCFunctionObject *)o)->m_ml : NULL;
}
static inline PyObject *gocore_bound_self(PyObject *o) {
    return PyCFunction_GET_SELF(o);
}

#endif /* GOCORE_SELECT_H */
