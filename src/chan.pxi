cdef inline int _take_if_fast(Chan ch, object timeout, PyObject** out) except -1:
    """The receiving methods' fast path: with no timeout on a buffered
    channel, the lock-free pop (R_OK, R_CLOSED...); else R_DIVERT."""
    if timeout is None and ch._c.cap > 0:
        return chan_take(&ch._c, out)
    return R_DIVERT


# binding(False) on the channel classes: their methods are plain method
# descriptors, so `ch.send(v)` is a direct METH_FASTCALL call with no
# bound-method object in between (callgrind, 3.11: 810 -> 600 instructions
# per send+recv pair); select recognises them by their PyMethodDef.
@cython.binding(False)
cdef class Chan:
    """Chan(cap=0)
--

    A Go channel: ``Chan(cap=0)``; ``cap == 0`` is unbuffered (a send
    waits for its receiver), ``cap > 0`` buffers up to `cap` values.

    ``send(v, timeout=None)``, ``recv(timeout=None)``, ``recv_ok(timeout=None)
    -> (v, ok)``, ``close()``, ``len(ch)``, ``ch.cap``, ``for v in ch:``
    (receives until closed and drained), ``recv_only()`` / ``send_only()``
    views, and ``ch.recv`` / ``ch.recv_ok`` / ``(ch.send, v)`` as
    ``select`` cases.

    Example::

        ch = gocore.Chan(8)
        gocore.go(lambda: [ch.send(i) for i in range(3)] and ch.close())
        for v in ch:
            print(v)
    """
    cdef ChanCore _c
    cdef bint _nil                   # nilchan: every operation blocks forever
    cdef bint _initialized
    cdef object __weakref__
    cdef object _gc_anchor           # always None: makes the type GC-tracked (see _chan_traverse)

    def __init__(self, cap=0):
        cdef int64_t n
        if self._initialized:
            raise RuntimeError("Chan.__init__ called twice")
        try:
            if isinstance(cap, bool):
                raise TypeError
            index = _operator.index(cap)
        except TypeError:
            raise TypeError(f"channel capacity must be an int, not {type(cap).__name__}") from None
        if index < 0:
            raise ValueError(f"channel capacity must be >= 0, got {index}")
        if index > MAX_CAP:
            raise ValueError(f"channel capacity {index} is too large")
        n = index
        if n > 0:
            self._c.slots = <ChanSlot*>PyMem_Calloc(<size_t>n, sizeof(ChanSlot))
            if self._c.slots == NULL:
                raise MemoryError(f"cannot allocate a channel buffer of {n} values")
        self._c.cap = n
        self._c.mask = n - 1 if n > 0 and (n & (n - 1)) == 0 else -1
        self._initialized = True

    def __dealloc__(self):
        cdef int64_t pos, end
        if self._c.slots != NULL:
            pos = self._c.head >> POS_SHIFT
            end = self._c.tail >> POS_SHIFT
            while pos < end:         # the values still buffered are ours to drop
                Py_XDECREF(self._c.slots[_ring_index(&self._c, pos)].value)
                pos += 1
            PyMem_Free(self._c.slots)
            self._c.slots = NULL
        Py_XDECREF(self._c.close_exc)
        self._c.close_exc = NULL
        chan_ret_clear(&self._c)

    @classmethod
    def __class_getitem__(cls, item):
        """``Chan[int]`` for annotations."""
        return _types.GenericAlias(cls, item)

    def send(self, v, timeout=None):
        """Send `v`, waiting while the buffer is full (unbuffered: until a
        receiver takes it).  ClosedChannelError if the channel is or gets
        closed; TimeoutError if `timeout` seconds pass first (the value is
        then never delivered)."""
        cdef ChanCore* c = &self._c
        if timeout is None and c.cap > 0:
            Py_INCREF(v)
            if chan_push_fast(c, <PyObject*>v) == R_OK:
                return
            Py_DECREF(v)
        chan_send(self, v, timeout)

    def recv(self, timeout=None):
        """Receive a value, waiting for one; None once closed and drained.
        TimeoutError if `timeout` seconds pass first (nothing is taken)."""
        cdef PyObject* p
        cdef int r = _take_if_fast(self, timeout, &p)
        if r == R_OK:
            return gocore_steal(p)
        if r == R_CLOSED:
            return None
        return chan_recv(self, timeout)

    def recv_ok(self, timeout=None):
        """Receive as ``(value, ok)``; ``ok`` is False once closed and drained."""
        cdef PyObject* p
        cdef int r = _take_if_fast(self, timeout, &p)
        if r == R_OK:
            return (gocore_steal(p), True)
        if r == R_CLOSED:
            return (None, False)
        return chan_recv_ok(self, timeout)

    @cython.always_allow_keywords(False)    # METH_O / METH_NOARGS: the cheapest call
    def asend(self, v):
        """Awaitable ``send``: ``await ch.asend(v)`` (see chan_async.pxi)."""
        return chan_op(self, AOP_SEND, v)

    @cython.always_allow_keywords(False)    # METH_O / METH_NOARGS: the cheapest call
    def arecv(self):
        """Awaitable ``recv``: ``v = await ch.arecv()``."""
        return chan_op(self, AOP_RECV, None)

    @cython.always_allow_keywords(False)    # METH_O / METH_NOARGS: the cheapest call
    def arecv_ok(self):
        """Awaitable ``recv_ok``: ``v, ok = await ch.arecv_ok()``."""
        return chan_op(self, AOP_RECV_OK, None)

    def __aiter__(self):
        return self

    def __anext__(self):
        return chan_op(self, AOP_NEXT, None)

    def close(self):
        """Close: buffered values can still be received, then receivers get
        ``(None, False)``; waiting and later senders raise ClosedChannelError.
        Closing twice raises ClosedChannelError."""
        chan_close(self, None)

    def _close_with(self, exc):
        """Close (waking everyone, as ``close``) and remember `exc`: once the
        channel is drained, every receive raises that same exception object
        instead of returning ``(None, False)``; sends raise
        ClosedChannelError as usual.  For pipelines that pass a stage's
        failure downstream."""
        if not isinstance(exc, BaseException):
            raise TypeError(f"_close_with needs an exception instance, not {type(exc).__name__}")
        chan_close(self, exc)

    def __iter__(self):
        return self

    def __next__(self):
        cdef PyObject* p
        cdef int r = _take_if_fast(self, None, &p)
        if r == R_OK:
            return gocore_steal(p)
        if r == R_CLOSED:
            raise StopIteration
        return chan_next(self)

    def __len__(self):
        if self._c.cap == 0:
            return gocore_load_acquire(&self._c.ret_len)
        return _ring_len(&self._c) + gocore_load_acquire(&self._c.ret_len)

    def __bool__(self):
        # A channel is not a container: an empty one is still "a channel".
        # Only nilchan is false, like a nil channel in Go's `if ch != nil`.
        return not self._nil

    @property
    def cap(self):
        """The buffer capacity (0: unbuffered)."""
        return self._c.cap

    def recv_only(self):
        """A view that can only receive (Go's ``<-chan T``)."""
        cdef RecvChan view = RecvChan.__new__(RecvChan, self)
        return view

    def send_only(self):
        """A view that can only send and close (Go's ``chan<- T``)."""
        cdef SendChan view = SendChan.__new__(SendChan, self)
        return view

    def _try_send(self, v):
        """Send only if that needs no waiting; return whether it did."""
        cdef int r
        if self._nil:
            return False
        Py_INCREF(v)
        r = chan_offer(&self._c, <PyObject*>v)
        if r == R_OK:
            return True
        Py_DECREF(v)
        if r == R_CLOSED:
            raise ClosedChannelError("send on closed channel")
        return False

    def _try_recv(self):
        """Receive only if that needs no waiting: ``(value, ok)``, or
        ``(None, None)`` when nothing is ready."""
        cdef PyObject* p
        cdef int r
        if self._nil:
            return (None, None)
        r = chan_poll(&self._c, &p)
        if r == R_OK:
            return (gocore_steal(p), True)
        if r == R_CLOSED:
            chan_drained(&self._c)
            return (None, False)
        return (None, None)

    def __repr__(self):
        if self._nil:
            return "gocore.nilchan"
        state = " closed" if gocore_load_acquire(&self._c.tail) & TAIL_CLOSED else ""
        return f"<gocore.Chan cap={self._c.cap} len={len(self)}{state}>"


@cython.binding(False)
cdef class _ChanView:
    """What the two one-directional views share: the channel they look at."""
    cdef Chan _ch                    # never None: set by __cinit__

    def __cinit__(self, ch=None, *args, **kwargs):
        # A view without a channel would read past None: every view is made
        # from its channel (ch.recv_only() / ch.send_only()).
        if not isinstance(ch, Chan):
            raise TypeError(f"{type(self).__name__} is a view of a channel: "
                            f"make it with ch.recv_only() / ch.send_only(), not directly")
        self._ch = <Chan>ch

    @classmethod
    def __class_getitem__(cls, item):
        return _types.GenericAlias(cls, item)

    def __len__(self):
        return len(self._ch)

    def __bool__(self):
        return not self._ch._nil

    @property
    def cap(self):
        """The buffer capacity of the underlying channel."""
        return self._ch._c.cap

    def __eq__(self, other):
        return type(other) is type(self) and (<_ChanView>other)._ch is self._ch

    def __hash__(self):
        return hash((type(self), id(self._ch)))

    def __repr__(self):
        return f"<gocore.{type(self).__name__} of {self._ch!r}>"


@cython.binding(False)
cdef class RecvChan(_ChanView):
    """The receiving side of a channel (Go's ``<-chan T``), from
    ``ch.recv_only()``: ``recv``, ``recv_ok``, iteration, ``len``, ``cap``,
    usable in ``select``; no ``send``, no ``close``.

    Example::

        def consume(inbox: gocore.RecvChan):
            for v in inbox:
                ...
    """

    def recv(self, timeout=None):
        """See ``Chan.recv``."""
        return chan_recv(self._ch, timeout)

    def recv_ok(self, timeout=None):
        """See ``Chan.recv_ok``."""
        return chan_recv_ok(self._ch, timeout)

    def recv_only(self):
        return self

    @cython.always_allow_keywords(False)    # METH_O / METH_NOARGS: the cheapest call
    def arecv(self):
        """See ``Chan.arecv``."""
        return chan_op(self._ch, AOP_RECV, None)

    @cython.always_allow_keywords(False)    # METH_O / METH_NOARGS: the cheapest call
    def arecv_ok(self):
        """See ``Chan.arecv_ok``."""
        return chan_op(self._ch, AOP_RECV_OK, None)

    def __aiter__(self):
        return self

    def __anext__(self):
        return chan_op(self._ch, AOP_NEXT, None)

    def __iter__(self):
        return self

    def __next__(self):
        return chan_next(self._ch)


@cython.binding(False)
cdef class SendChan(_ChanView):
    """The sending side of a channel (Go's ``chan<- T``), from
    ``ch.send_only()``: ``send``, ``close``, ``len``, ``cap``, usable in
    ``select``; no receiving.

    Example::

        def produce(out: gocore.SendChan):
            out.send(1)
            out.close()
    """

    def send(self, v, timeout=None):
        """See ``Chan.send``."""
        chan_send(self._ch, v, timeout)

    @cython.always_allow_keywords(False)    # METH_O / METH_NOARGS: the cheapest call
    def asend(self, v):
        """See ``Chan.asend``."""
        return chan_op(self._ch, AOP_SEND, v)

    def close(self):
        """See ``Chan.close``."""
        chan_close(self._ch, None)

    def send_only(self):
        return self


cdef Chan _make_nilchan():
    cdef Chan ch = Chan.__new__(Chan)
    ch._nil = True
    ch._initialized = True
    return ch


nilchan = _make_nilchan()


# ---- the cyclic garbage collector and buffered values ----
#
# Values sitting in a ring are references the collector must see, or a
# channel holding a value that refers back to the channel (a closure that
# closes it, a request carrying its own reply channel) would never be
# freed.  Cython cannot traverse a C ring, so the type's tp_traverse and
# tp_clear are replaced here.  Consistency: every ring operation runs with
# the GIL held (free-threaded: attached, and a stop-the-world collection
# only pauses threads between operations), so a collection never sees a
# half-done push or pop.


cdef Py_ssize_t _core_offset     # where ChanCore sits inside a Chan object


cdef int _chan_traverse(PyObject* o, visitproc visit, void* arg) noexcept:
    cdef ChanCore* c = <ChanCore*>((<char*>o) + _core_offset)
    cdef int64_t pos, end, idx
    cdef ChanSlot* s
    cdef int r
    if c.close_exc != NULL:
        r = visit(c.close_exc, arg)
        if r:
            return r
    r = chan_ret_traverse(c, visit, arg)
    if r or c.slots == NULL:
        return r
    pos = c.head >> POS_SHIFT
    end = c.tail >> POS_SHIFT
    while pos < end:
        idx = _ring_index(c, pos)
        s = &c.slots[idx]
        if s.seq + 2 * idx == 2 * pos + 1 and s.value != NULL:
            r = visit(s.value, arg)
            if r:
                return r
        pos += 1
    return 0


cdef int _chan_clear(PyObject* o) noexcept:
    # Garbage: drop the buffered values (popping keeps the ring consistent
    # for anything that still looks at the channel, e.g. a finalizer) and
    # the close exception (its traceback may reach back to the channel).
    cdef ChanCore* c = <ChanCore*>((<char*>o) + _core_offset)
    cdef PyObject* v = c.close_exc
    c.close_exc = NULL
    Py_XDECREF(v)
    chan_ret_clear(c)
    if c.slots == NULL:
        return 0
    while ring_pop(c, &v, True) == R_OK:
        Py_XDECREF(v)
    return 0


cdef Chan _chan_probe = Chan.__new__(Chan)
_core_offset = install_gc_slots(Chan, _chan_probe, &_chan_probe._c,
                                <traverseproc>_chan_traverse, <inquiry>_chan_clear)
_chan_probe = None
