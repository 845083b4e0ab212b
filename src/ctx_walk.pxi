# ---- the cancel walk over a context subtree, for gocore/context.py ----
#
# _ctx_cancel_tree(root, err, cause): cancel every node below `root`
# (already marked), depth-first and iterative, so depth costs no recursion.
# It returns the first exception met instead of raising it: the walk must
# finish whatever happens.
#
# Why it is here and not in context.py: a signal handler runs at the
# interpreter's periodic checks, one of which is every loop's backward jump,
# and CPython 3.13's compiler leaves the backward jump of a `while` inside a
# `try` outside the try's exception table.  A KeyboardInterrupt raised there
# escaped the walk after a node's children had moved onto the walk's own
# stack and off the node, so a second cancel() found nothing left to walk
# and thousands of children stayed live.  Compiled here, the walk has no
# periodic checks of its own: a handler can raise only inside the Python
# code it calls (a node's _parent_canceled, an after-func), and every such
# call is inside the try.
#
# Every step is safe to repeat, so an exception at any of those calls loses
# no node: a node leaves the stack only in the same step that puts its
# children there, _parent_canceled on a node already marked just hands back
# the children it still holds, and a node is cleared of its children only
# after they are on the stack.  A node that raises twice running is
# dropped, so a persistent failure cannot spin for ever.

def _ctx_cancel_tree(root, err, cause):
    cdef list stack = [root]
    cdef object first = None, failed = None, top = None
    cdef Py_ssize_t last
    while True:
        try:
            while stack:
                last = len(stack) - 1
                top = stack[last]
                kids = top._parent_canceled(err, cause) if top is not root else root._children
                if kids:
                    # list() copies a dict in one step under its own lock on
                    # free-threaded builds; iterating it directly races with
                    # children unlinking themselves from another thread.
                    stack[last:] = list(kids)
                    top._children = None
                else:
                    stack.pop()
            return first
        except BaseException as exc:
            if first is None:
                first = exc
            if failed is top and stack and stack[len(stack) - 1] is top:
                stack.pop()
            failed = top
