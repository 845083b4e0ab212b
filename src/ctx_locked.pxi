# ---- the context tree's locked steps, for gocore/context.py ----
#
# Each function below is one whole critical section over a context node's
# `_mu` (a Mutex): lock, a few slot reads and writes, unlock, all in C.
# Why not `with node._mu:` in context.py: a signal handler runs at the
# interpreter's periodic checks, and on 3.14 one of those sits at the end of
# the CALL of __enter__, after the lock is taken but before the with-block's
# exception handler covers anything.  A KeyboardInterrupt raised there leaves
# the node locked for good, and the next cancel() waits for ever.  Here no
# bytecode runs while the lock is held, so a handler can raise only before
# the region (waiting for the lock: nothing taken, see mutex_lock_wait) or
# after it (everything done and released).  The callers' own steps between
# two regions are safe to repeat (see context._cancel_tree).
#
# Nodes are duck-typed: _CancelCtx/_TimerCtx slots (_mu, _err, _cause,
# _done, _children, _timer) and _AfterFunc's (_mu, _claimed).  Children are
# our own record types, hashed by identity, so the dict operations run no
# Python code either.

cdef object _ctx_closed = None    # Go's closedchan: done() of a node cancelled before anyone asked


cdef inline Mutex _ctx_lock(object node):
    cdef Mutex mu = node._mu
    mu._lock()
    return mu


def _ctx_mark(node, err, cause):
    """Record `err` and `cause` (or `err`) once, close done if it exists
    (again, if an earlier walk was cut off between the two), and return the
    children still registered; an empty dict becomes None."""
    cdef Mutex mu = _ctx_lock(node)
    cdef Chan d
    try:
        done = node._done
        if node._err is None:
            node._cause = err if cause is None else cause
            node._err = err
        if done is not None:
            d = <Chan?>done
            if not (gocore_load_acquire(&d._c.tail) & TAIL_CLOSED):
                chan_close(d, None)
        children = node._children
        if not children:
            node._children = None
    finally:
        mu._unlock()
    return children


def _ctx_done(node):
    """The node's done channel, made on first use (the shared closed one if
    the node is already cancelled)."""
    global _ctx_closed
    cdef Mutex mu = _ctx_lock(node)
    try:
        d = node._done
        if d is None:
            if node._err is None:
                d = Chan()
            else:
                if _ctx_closed is None:
                    _ctx_closed = Chan()
                    chan_close(<Chan>_ctx_closed, None)
                d = _ctx_closed
            node._done = d
    finally:
        mu._unlock()
    return d


def _ctx_add_child(node, child):
    """Register `child` with `node` (and `node` as its owner); False if
    `node` is already cancelled."""
    cdef Mutex mu = _ctx_lock(node)
    try:
        if node._err is not None:
            return False
        children = node._children
        if children is None:
            node._children = {child: None}
        else:
            (<dict?>children)[child] = None
        child._owner = node
        return True
    finally:
        mu._unlock()


def _ctx_remove_child(node, child):
    cdef Mutex mu = _ctx_lock(node)
    try:
        children = node._children
        if children is not None:
            (<dict?>children).pop(child, None)
    finally:
        mu._unlock()


def _ctx_cause(node):
    """The node's cause, read under its lock (written before _err)."""
    cdef Mutex mu = _ctx_lock(node)
    try:
        return node._cause
    finally:
        mu._unlock()


def _ctx_take_timer(node):
    """Detach and return the node's armed timer (None if there is none)."""
    cdef Mutex mu = _ctx_lock(node)
    try:
        timer = node._timer
        node._timer = None
        return timer
    finally:
        mu._unlock()


def _ctx_set_timer(node, timer):
    """Record an armed timer unless the node is already cancelled (False:
    the caller stops the timer; the cancel that won found none to stop)."""
    cdef Mutex mu = _ctx_lock(node)
    try:
        if node._err is not None:
            return False
        node._timer = timer
        return True
    finally:
        mu._unlock()


def _ctx_claim(registration):
    """An after-func registration's one-time claim: True for the first caller."""
    cdef Mutex mu = _ctx_lock(registration)
    try:
        if registration._claimed:
            return False
        registration._claimed = True
        return True
    finally:
        mu._unlock()
