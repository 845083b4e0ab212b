"""Context: Go's context package (cancellation trees, deadlines, values, causes).

Many tests follow Go's src/context/x_test.go; OtherContext plays the role of
Go's otherContext (a context type the package does not know).
"""
import gc
import random
import threading
import time
import weakref

import pytest

import gocore
from helpers import wait_until
from gocore import background, cause, todo, with_cancel, with_cancel_cause, with_deadline, with_timeout
from gocore import with_value, without_cancel, context_after_func

SHORT = 0.001
LONG = 3600.0 * 1000


def is_done(ctx):
    i, _ = gocore.select(ctx.done().recv, gocore.default)
    return i == 0


def wait_done(ctx, timeout=10.0):
    i, _ = gocore.select(ctx.done().recv, gocore.after(timeout).recv)
    assert i == 0, f"{ctx} not done after {timeout}s"


class OtherContext(gocore.Context):
    """A context type gocore does not know: delegates everything."""

    def __init__(self, ctx):
        self.ctx = ctx

    def deadline(self):
        return self.ctx.deadline()

    def done(self):
        return self.ctx.done()

    def err(self):
        return self.ctx.err()

    def value(self, key):
        return self.ctx.value(key)


# ---- roots ----

@pytest.mark.parametrize("make,name", [(background, "context.Background"), (todo, "context.TODO")])
def test_roots(make, name):
    c = make()
    assert c is make()
    assert isinstance(c, gocore.Context)
    assert str(c) == name
    assert not is_done(c)
    assert c.err() is None
    assert c.deadline() is None
    assert c.value("anything") is None
    assert cause(c) is None


def test_background_done_is_never_ready_in_select():
    i, _ = gocore.select(background().done().recv, gocore.after(0.01).recv)
    assert i == 1


# ---- with_cancel ----

def test_with_cancel():
    c1, cancel = with_cancel(background())
    assert str(c1) == "context.Background.WithCancel"
    o = OtherContext(c1)
    c2, _ = with_cancel(o)
    contexts = [c1, o, c2]
    for c in contexts:
        assert c.done() is not None
        assert c.err() is None
        assert not is_done(c)
    assert cancel() is None        # propagates synchronously
    for c in contexts:
        assert is_done(c)
        assert isinstance(c.err(), gocore.Canceled)
    assert c1.err() is c1.err()
    cancel()                       # idempotent
    assert isinstance(c1.err(), gocore.Canceled)


def test_done_channel_is_stable_and_closed_on_cancel():
    c, cancel = with_cancel(background())
    d = c.done()
    assert c.done() is d
    assert not is_done(c)
    cancel()
    assert d.recv_ok(timeout=1) == (None, False)
    # asked for after cancellation: a closed channel too
    c2, cancel2 = with_cancel(background())
    cancel2()
    assert c2.done().recv_ok(timeout=1) == (None, False)


def test_done_wakes_receivers_and_select():
    c, cancel = with_cancel(background())
    got = []
    wg = gocore.WaitGroup()
    for _ in range(5):
        wg.go(lambda: got.append(c.done().recv_ok(timeout=10)))
    time.sleep(0.02)
    cancel()
    assert wg.wait(10)
    assert got == [(None, False)] * 5


def test_parent_finishes_child():
    parent, cancel = with_cancel(background())
    cancel_child, _ = with_cancel(parent)
    timer_child, _ = with_timeout(parent, LONG)
    value_child = with_value(parent, "key", "value")
    timer_grand, _ = with_timeout(value_child, LONG)
    after_ran = threading.Event()
    context_after_func(value_child, after_ran.set)
    assert len(parent._children) == 4        # the value child registers through to parent
    for c in (parent, cancel_child, timer_child, value_child, timer_grand):
        assert not is_done(c)
    cancel()
    for c in (parent, cancel_child, timer_child, value_child, timer_grand):
        assert is_done(c)
        assert isinstance(c.err(), gocore.Canceled)
    assert parent._children is None
    assert cancel_child._children is None
    assert after_ran.wait(10)
    # children created after the cancel start out cancelled
    late, _ = with_cancel(parent)
    assert is_done(late)


def test_child_finishes_first():
    for parent_factory in (lambda: with_cancel(background()), lambda: with_timeout(background(), LONG)):
        parent, cancel_parent = parent_factory()
        child, cancel_child = with_cancel(parent)
        assert child._owner is parent
        cancel_child()
        assert child._owner is None
        assert parent._children == {}
        assert not is_done(parent) and parent.err() is None
        assert is_done(child)
        cancel_parent()
        assert is_done(parent)


def test_with_cancel_canceled_parent():
    parent, pcancel = with_cancel_cause(background())
    because = ValueError("Because!")
    pcancel(because)
    c, _ = with_cancel(parent)
    assert is_done(c)
    assert isinstance(c.err(), gocore.Canceled)
    assert cause(c) is because


@pytest.mark.timeout(60)
def test_with_cancel_simultaneously_canceled_parent():
    for _ in range(100):
        parent, pcancel = with_cancel_cause(background())
        because = ValueError("Because!")
        gocore.go(pcancel, because)
        c, _ = with_cancel(parent)
        wait_done(c)
        assert isinstance(c.err(), gocore.Canceled)
        assert cause(c) is because


@pytest.mark.timeout(60)
def test_simultaneous_cancels():
    root, cancel = with_cancel(background())
    m = {root: cancel}
    q = [root]
    while q and len(m) < 100:
        parent = q.pop(0)
        for _ in range(4):
            ctx, c = with_cancel(parent)
            m[ctx] = c
            q.append(ctx)
    wg = gocore.WaitGroup()
    cancels = list(m.values())
    random.shuffle(cancels)
    for c in cancels:
        wg.go(c)
    ctxs = list(m)
    random.shuffle(ctxs)
    for ctx in ctxs:
        wait_done(ctx)
    assert wg.wait(30)


def test_interlocked_cancels():
    parent, cancel_parent = with_cancel(background())
    child, cancel_child = with_cancel(parent)

    def f():
        parent.done().recv()
        cancel_child()

    gocore.go(f)
    cancel_parent()
    wait_done(child)


@pytest.mark.parametrize("timeout_layers", [False, True])
def test_layers(timeout_layers):
    rnd = random.Random()
    vals, cancels, ntimers = [], [], 0
    ctx = background()
    i = 0
    while i < 30 or ntimers == 0 or not cancels or not vals:
        i += 1
        kind = rnd.randrange(3)
        if kind == 0:
            v = object()
            ctx = with_value(ctx, v, v)
            vals.append(v)
        elif kind == 1:
            ctx, c = with_cancel(ctx)
            cancels.append(c)
        else:
            ctx, c = with_timeout(ctx, SHORT if timeout_layers else LONG)
            cancels.append(c)
            ntimers += 1

    def check_values():
        for v in vals:
            assert ctx.value(v) is v

    if not timeout_layers:
        assert not is_done(ctx)
    assert str(ctx).startswith("context.Background.")
    check_values()
    if timeout_layers:
        wait_done(ctx)
        assert isinstance(ctx.err(), gocore.DeadlineExceeded)
    else:
        rnd.choice(cancels)()
        assert is_done(ctx)
    check_values()


def test_concurrent_children_while_cancelling(race):
    # Children registering while the parent is being cancelled are never lost.
    for _ in range(20):
        parent, cancel = with_cancel(background())
        kids = [[] for _ in range(4)]

        def worker(i):
            if i == 0:
                cancel()
                return
            for _ in range(200):
                kids[i].append(with_cancel(parent)[0])

        race(4, worker)
        for lst in kids:
            for k in lst:
                assert is_done(k)


# ---- deadlines ----

def check_deadline(c, timeout=10.0):
    wait_done(c, timeout)
    assert isinstance(c.err(), gocore.DeadlineExceeded)
    assert isinstance(c.err(), TimeoutError)


def test_deadline():
    c, _ = with_deadline(background(), time.monotonic() + SHORT)
    assert str(c).startswith("context.Background.WithDeadline(")
    check_deadline(c)

    c, _ = with_deadline(background(), time.monotonic() + SHORT)
    check_deadline(OtherContext(c))

    c, _ = with_deadline(background(), time.monotonic() + SHORT)
    c, _ = with_deadline(OtherContext(c), time.monotonic() + LONG)
    check_deadline(c)

    c, _ = with_deadline(background(), time.monotonic() - SHORT)
    assert is_done(c)
    check_deadline(c)

    c, _ = with_deadline(background(), time.monotonic())
    check_deadline(c)


def test_timeout():
    c, _ = with_timeout(background(), SHORT)
    assert str(c).startswith("context.Background.WithDeadline(")
    check_deadline(c)
    c, _ = with_timeout(background(), SHORT)
    check_deadline(OtherContext(c))
    c, _ = with_timeout(background(), SHORT)
    c, _ = with_timeout(OtherContext(c), LONG)
    check_deadline(c)
    c, _ = with_timeout(background(), -1)
    assert is_done(c)
    check_deadline(c)


def test_canceled_timeout():
    c, _ = with_timeout(background(), 1.0)
    o = OtherContext(c)
    c, cancel = with_timeout(o, LONG)
    cancel()
    assert is_done(c)
    assert isinstance(c.err(), gocore.Canceled)


def test_deadline_values():
    now = time.monotonic()
    c, cancel = with_deadline(background(), now + 100)
    assert c.deadline() == now + 100
    # the earlier of the child's and the parent's
    c2, cancel2 = with_deadline(c, now + 200)
    assert c2.deadline() == now + 100
    c3, cancel3 = with_deadline(c, now + 50)
    assert c3.deadline() == now + 50
    assert with_cancel(c)[0].deadline() == now + 100
    assert with_value(c, "k", 1).deadline() == now + 100
    assert without_cancel(c).deadline() is None
    t, cancel4 = with_timeout(background(), 10)
    assert abs(t.deadline() - (time.monotonic() + 10)) < 5
    for f in (cancel, cancel2, cancel3, cancel4):
        f()


def test_child_deadline_later_than_parent_fires_with_parent():
    p, _ = with_timeout(background(), SHORT)
    c, _ = with_timeout(p, LONG)
    check_deadline(c)


def test_deadline_argument_validation():
    with pytest.raises(TypeError):
        with_deadline(background(), "soon")
    with pytest.raises(TypeError):
        with_deadline(background(), None)
    with pytest.raises(ValueError):
        with_deadline(background(), float("nan"))
    with pytest.raises(TypeError):
        with_timeout(background(), None)
    with pytest.raises(TypeError):
        with_timeout(background(), "1")


def test_cancelled_deadline_context_is_freed():
    # A stopped deadline timer drops its references: nothing keeps the ctx alive.
    c, cancel = with_timeout(background(), LONG)
    ref = weakref.ref(c)
    cancel()
    del c, cancel
    gc.collect()
    assert ref() is None


def test_fired_deadline_context_is_freed():
    parent, pcancel = with_cancel(background())
    c, cancel = with_timeout(parent, SHORT)
    wait_done(c)
    ref = weakref.ref(c)
    del c, cancel
    # done() closes before the timer thread's cancel has unlinked the node
    # and returned; on a free-threaded build the test runs on in parallel
    # with it, so wait for those last steps instead of racing them.
    wait_until(lambda: gc.collect() is not None and ref() is None)
    wait_until(lambda: parent._children == {})
    pcancel()


# ---- values ----

class Key1(int):
    pass


class Key2(int):
    def __str__(self):
        return f"Key2({int(self)})"


k1 = Key1(1)
k2 = Key2(1)      # same int as k1, different type
k3 = Key2(3)      # same type as k2, different int


def test_values():
    def check(c, v1, v2, v3):
        assert c.value(k1) == (v1 or None)
        assert c.value(k2) == (v2 or None)
        assert c.value(k3) == (v3 or None)

    c0 = background()
    check(c0, "", "", "")
    c1 = with_value(background(), k1, "c1k1")
    check(c1, "c1k1", "", "")
    assert str(c1) == f"context.Background.WithValue({__name__}.Key1, c1k1)"
    c2 = with_value(c1, k2, "c2k2")
    check(c2, "c1k1", "c2k2", "")
    assert str(c2).endswith(".WithValue(Key2(1), c2k2)")
    c3 = with_value(c2, k3, "c3k3")
    check(c3, "c1k1", "c2k2", "c3k3")
    c4 = with_value(c3, k1, None)
    check(c4, "", "c2k2", "c3k3")
    assert str(c4).endswith(".WithValue(Key2(3), c3k3)" + f".WithValue({__name__}.Key1, <nil>)")

    o0 = OtherContext(background())
    check(o0, "", "", "")
    o1 = OtherContext(with_value(background(), k1, "c1k1"))
    check(o1, "c1k1", "", "")
    o2 = with_value(o1, k2, "o2k2")
    check(o2, "c1k1", "o2k2", "")
    o3 = OtherContext(c4)
    check(o3, "", "c2k2", "c3k3")
    o4 = with_value(o3, k3, None)
    check(o4, "", "c2k2", "")


def test_value_keys_compare_with_eq():
    c = with_value(background(), ("a", 1), "tuple")
    assert c.value(("a", 1)) == "tuple"              # equal, not identical
    c = with_value(c, "name", "str")
    assert c.value("".join(["na", "me"])) == "str"
    assert c.value("other") is None


def test_values_through_every_node_type():
    c = with_value(background(), "k", "v")
    c, _ = with_cancel(c)
    c, _ = with_timeout(c, LONG)
    c = without_cancel(c)
    c = with_value(c, "k2", "v2")
    assert c.value("k") == "v" and c.value("k2") == "v2"


def test_with_value_checks_key():
    with pytest.raises(TypeError):
        with_value(background(), [1, 2], "bar")
    with pytest.raises(TypeError):
        with_value(background(), {"a": 1}, "bar")
    with pytest.raises(TypeError):
        with_value(background(), None, "bar")


@pytest.mark.parametrize("make", [
    lambda: with_cancel(None),
    lambda: with_cancel_cause(None),
    lambda: with_deadline(None, time.monotonic() + 1),
    lambda: with_timeout(None, 1),
    lambda: with_value(None, "foo", "bar"),
    lambda: without_cancel(None),
    lambda: context_after_func(None, lambda: None),
    lambda: cause(None),
    lambda: gocore.ErrGroup.with_context(None),
])
def test_none_parent_raises_type_error(make):
    with pytest.raises(TypeError):
        make()


def test_non_context_parent_raises_type_error():
    with pytest.raises(TypeError):
        with_cancel(object())
    with pytest.raises(TypeError):
        with_value(42, "k", "v")


def test_deep_value_chain_has_no_recursion_limit():
    c = background()
    for i in range(5000):
        c = with_value(c, i, i)
    assert c.value(0) == 0
    c2, cancel = with_cancel(c)
    cancel()
    assert is_done(c2)
    assert str(c2).startswith("context.Background.WithValue(")


# ---- cause ----

parent_cause = ValueError("parentCause")
child_cause = ValueError("childCause")
finished_early = ValueError("finishedEarly")


def _cancelled():
    ctx, cancel = with_cancel(background())
    cancel()
    return ctx


def _cause_ctx(c):
    ctx, cancel = with_cancel_cause(background())
    cancel(c)
    return ctx


def _parent_before_child():
    ctx, cp = with_cancel_cause(background())
    ctx, cc = with_cancel_cause(ctx)
    cp(parent_cause)
    cc(child_cause)
    return ctx


def _parent_after_child():
    ctx, cp = with_cancel_cause(background())
    ctx, cc = with_cancel_cause(ctx)
    cc(child_cause)
    cp(parent_cause)
    return ctx


def _parent_before_nil():
    ctx, cp = with_cancel_cause(background())
    ctx, cc = with_cancel(ctx)
    cp(parent_cause)
    cc()
    return ctx


def _parent_after_nil():
    ctx, cp = with_cancel_cause(background())
    ctx, cc = with_cancel(ctx)
    cc()
    cp(parent_cause)
    return ctx


def _child_cause_after_nil():
    ctx, cp = with_cancel(background())
    ctx, cc = with_cancel_cause(ctx)
    cp()
    cc(child_cause)
    return ctx


def _child_cause_before_nil():
    ctx, cp = with_cancel(background())
    ctx, cc = with_cancel_cause(ctx)
    cc(child_cause)
    cp()
    return ctx


def _timeout_expired():
    ctx, cancel = with_timeout(background(), 0)
    cancel()
    return ctx


def _timeout_canceled():
    ctx, cancel = with_timeout(background(), LONG)
    cancel()
    return ctx


def _timeout_stacked_canceled():
    ctx, cancel = with_cancel_cause(background())
    ctx, _ = with_timeout(ctx, LONG)
    cancel(finished_early)
    return ctx


def _without_cancel_canceled():
    ctx, cancel = with_cancel_cause(background())
    ctx = without_cancel(ctx)
    cancel(finished_early)
    return ctx


def _without_cancel_timeout():
    ctx, cancel = with_timeout(background(), 0)
    ctx = without_cancel(ctx)
    cancel()
    return ctx


C, D = gocore.Canceled, gocore.DeadlineExceeded


@pytest.mark.parametrize("make,err,want", [
    (background, None, None),
    (todo, None, None),
    (_cancelled, C, C),
    (lambda: _cause_ctx(parent_cause), C, parent_cause),
    (lambda: _cause_ctx(None), C, C),
    (_parent_before_child, C, parent_cause),
    (_parent_after_child, C, child_cause),
    (_parent_before_nil, C, parent_cause),
    (_parent_after_nil, C, C),
    (_child_cause_after_nil, C, C),
    (_child_cause_before_nil, C, child_cause),
    (_timeout_expired, D, D),
    (_timeout_canceled, C, C),
    (_timeout_stacked_canceled, C, finished_early),
    (lambda: without_cancel(background()), None, None),
    (_without_cancel_canceled, None, None),
    (_without_cancel_timeout, None, None),
])
def test_cause(make, err, want):
    ctx = make()
    if err is None:
        assert ctx.err() is None
    else:
        assert type(ctx.err()) is err
    got = cause(ctx)
    if want is None:
        assert got is None
    elif isinstance(want, type):
        assert type(got) is want
        assert got is ctx.err()        # the default cause is the error itself
    else:
        assert got is want


def test_cause_through_value_and_other_context():
    ctx, cancel = with_cancel_cause(background())
    v = with_value(ctx, "k", "v")
    cancel(parent_cause)
    assert cause(v) is parent_cause
    assert cause(OtherContext(v)) is parent_cause


@pytest.mark.timeout(30)
def test_cause_race():
    c = ValueError("TestCauseRace")
    ctx, cancel = with_cancel_cause(background())
    gocore.go(cancel, c)
    while True:
        got = cause(ctx)
        if got is not None:
            assert got is c
            break
        time.sleep(0)


def test_cancel_cause_accepts_keyword():
    ctx, cancel = with_cancel_cause(background())
    cancel(cause=parent_cause)
    assert cause(ctx) is parent_cause


# ---- without_cancel ----

def test_without_cancel():
    ctx = with_value(background(), "key", "value")
    ctx = without_cancel(ctx)
    assert ctx.deadline() is None
    assert ctx.done() is gocore.nilchan
    assert ctx.err() is None
    assert ctx.value("key") == "value"
    assert str(ctx) == "context.Background.WithValue(key, value).WithoutCancel"


def test_without_cancel_ignores_parent_cancel_and_deadline():
    parent, cancel = with_timeout(background(), LONG)
    wc = without_cancel(parent)
    child, ccancel = with_cancel(wc)
    cancel()
    assert is_done(parent)
    assert not is_done(wc) and not is_done(child)
    assert child.deadline() is None
    ccancel()


# ---- foreign contexts ----

class CustomDoneContext(OtherContext):
    """Wraps a context but has a done channel of its own (Go's customDoneContext)."""

    def __init__(self, ctx, donec):
        super().__init__(ctx)
        self.donec = donec

    def done(self):
        return self.donec


def test_custom_context_propagation():
    c = ValueError("TestCustomContextPropagation")
    donec = gocore.Chan()
    ctx1, cancel1 = with_cancel_cause(background())
    ctx2 = CustomDoneContext(ctx1, donec)
    ctx3, cancel3 = with_cancel(ctx2)
    try:
        cancel1(c)
        donec.close()
        wait_done(ctx3)
        assert isinstance(ctx3.err(), gocore.Canceled)
        assert cause(ctx3) is c
    finally:
        cancel3()


def test_custom_context_watcher_goroutine_ends_with_child():
    donec = gocore.Chan()
    ctx1, cancel1 = with_cancel(background())
    base = gocore.num_goroutine()
    ctx3, cancel3 = with_cancel(CustomDoneContext(ctx1, donec))
    assert gocore.num_goroutine() >= base + 1
    cancel3()
    wait_until(lambda: gocore.num_goroutine() <= base)
    cancel1()


class CustomCauseContext(gocore.Context):
    """Go's customCauseContext: no gocore node anywhere inside."""

    def __init__(self):
        self.mu = threading.Lock()
        self.donec = gocore.Chan()
        self._err = None
        self.cancel_child = None

    def deadline(self):
        return None

    def done(self):
        return self.donec

    def err(self):
        with self.mu:
            return self._err

    def value(self, key):
        return None

    def cancel(self):
        with self.mu:
            self._err = gocore.Canceled()
            self.donec.close()
            cc = self.cancel_child
        if cc is not None:
            cc()


def test_custom_context_cause():
    ccc = CustomCauseContext()
    ccc.cancel()
    assert isinstance(ccc.err(), gocore.Canceled)
    assert cause(ccc) is ccc.err()

    ccc = CustomCauseContext()
    ctx, cause_func = with_cancel_cause(ccc)
    c = ValueError("TestCustomContextCause")
    cause_func(c)
    assert isinstance(ctx.err(), gocore.Canceled)
    assert cause(ctx) is c
    assert ccc.err() is None and cause(ccc) is None
    ccc.cancel()
    assert cause(ctx) is c
    assert isinstance(ccc.err(), gocore.Canceled) and cause(ccc) is ccc.err()

    ccc = CustomCauseContext()
    ctx, cancel = with_cancel(ccc)
    ccc.cancel_child = cancel
    ccc.cancel()
    assert isinstance(ctx.err(), gocore.Canceled)
    assert isinstance(cause(ctx), gocore.Canceled)


def test_foreign_parent_cancelled_later_cancels_child():
    ccc = CustomCauseContext()
    ctx, cancel = with_cancel(ccc)
    ccc.cancel()
    wait_done(ctx)
    assert isinstance(ctx.err(), gocore.Canceled)


# ---- context_after_func ----

def test_after_func_called_after_cancel():
    ctx, cancel = with_cancel(background())
    donec = gocore.Chan()
    stop = context_after_func(ctx, donec.close)
    i, _ = gocore.select(donec.recv, gocore.after(SHORT).recv)
    assert i == 1, "called before the context was done"
    cancel()
    assert donec.recv_ok(timeout=10) == (None, False)
    assert stop() is False


def test_after_func_called_after_timeout():
    ctx, cancel = with_timeout(background(), SHORT)
    donec = gocore.Chan()
    context_after_func(ctx, donec.close)
    assert donec.recv_ok(timeout=10) == (None, False)
    cancel()


def test_after_func_called_immediately():
    ctx, cancel = with_cancel(background())
    cancel()
    donec = gocore.Chan()
    context_after_func(ctx, donec.close)
    assert donec.recv_ok(timeout=10) == (None, False)


def test_after_func_not_called_after_stop():
    ctx, cancel = with_cancel(background())
    ran = threading.Event()
    stop = context_after_func(ctx, ran.set)
    assert stop() is True
    assert ctx._children == {}          # unregistered
    cancel()
    assert not ran.wait(0.02)
    assert stop() is False


def test_after_func_called_asynchronously():
    ctx, cancel = with_cancel(background())
    donec = gocore.Chan()
    stop = context_after_func(ctx, lambda: donec.send(None))   # blocks until received
    cancel()                         # must not wait for fn
    assert donec.recv_ok(timeout=10) == (None, True)
    stop()


def test_after_func_on_background_and_without_cancel():
    ran = threading.Event()
    stop = context_after_func(background(), ran.set)
    assert stop() is True and stop() is False
    stop = context_after_func(without_cancel(_cancelled()), ran.set)
    assert stop() is True
    assert not ran.is_set()


def test_after_func_on_value_and_foreign_contexts():
    ctx, cancel = with_cancel(background())
    ran = gocore.WaitGroup()
    ran.add(2)
    context_after_func(with_value(ctx, "k", 1), ran.done)
    context_after_func(CustomDoneContext(ctx, ctx.done()), ran.done)
    cancel()
    assert ran.wait(10)
    ccc = CustomCauseContext()
    ran2 = threading.Event()
    stop = context_after_func(ccc, ran2.set)
    assert stop() is True
    ccc.cancel()
    assert not ran2.wait(0.02)


def test_after_func_runs_once_when_stop_races():
    for _ in range(50):
        ctx, cancel = with_cancel(background())
        runs = gocore.AtomicInt()
        stop = context_after_func(ctx, lambda: runs.add(1))
        results = []
        t = threading.Thread(target=lambda: results.append(stop()))
        t.start()
        cancel()
        t.join()
        wait_until(lambda: runs.load() + (1 if results[0] else 0) == 1)
        assert runs.load() + (1 if results[0] else 0) == 1


def test_after_func_rejects_non_callable():
    with pytest.raises(TypeError):
        context_after_func(background(), 3)


# ---- trees and garbage ----

@pytest.mark.timeout(60)
def test_deep_tree_cancels_and_is_collected():
    root, cancel = with_cancel(background())
    refs = []
    ctx = root
    chain = []
    for i in range(100):
        ctx, c = with_cancel(ctx) if i % 3 else with_timeout(ctx, LONG)
        chain.append(ctx)
        refs.append(weakref.ref(ctx))
    leaf = chain[-1]
    cancel()
    for c in chain:
        assert is_done(c)
        assert isinstance(c.err(), gocore.Canceled)
    assert cause(leaf) is root.err()
    del ctx, c, chain, leaf
    gc.collect()
    assert all(r() is None for r in refs)


@pytest.mark.timeout(60)
def test_wide_tree_cancels_and_is_collected():
    root, cancel = with_cancel(background())
    kids = [with_cancel(root)[0] for _ in range(1000)]
    done_chans = [k.done() for k in kids[::10]]
    refs = [weakref.ref(k) for k in kids]
    cancel()
    assert all(is_done(k) for k in kids)
    assert all(d.recv_ok(timeout=1) == (None, False) for d in done_chans)
    del kids
    gc.collect()
    assert all(r() is None for r in refs)


def test_cancelled_children_are_unlinked_and_collected():
    root, cancel_root = with_cancel(background())
    pairs = [with_cancel(root) for _ in range(1000)]
    refs = [weakref.ref(c) for c, _ in pairs]
    for cancel in [c for _, c in pairs]:
        cancel()
    assert root._children == {}
    del pairs, cancel
    gc.collect()
    assert all(r() is None for r in refs)
    assert root.err() is None
    cancel_root()


def test_stopped_after_func_is_collected():
    root, cancel = with_cancel(background())

    class Payload:
        pass

    p = Payload()
    ref = weakref.ref(p)
    stop = context_after_func(root, lambda p=p: None)
    del p
    assert stop()
    gc.collect()
    assert ref() is None
    cancel()


# ---- Semaphore.acquire(ctx=) through the core hook ----

def test_semaphore_acquire_cancel_while_waiting():
    sem = gocore.Semaphore(1)
    sem.acquire()
    ctx, cancel = with_cancel(background())
    errs = []
    t = threading.Thread(target=lambda: errs.append(_acquire_err(sem, ctx)))
    t.start()
    time.sleep(0.02)
    assert t.is_alive()
    cancel()
    t.join(10)
    assert len(errs) == 1 and errs[0] is ctx.err()
    assert ctx._children == {} or ctx._children is None
    sem.release()
    assert sem.try_acquire()


def _acquire_err(sem, ctx, n=1):
    try:
        sem.acquire(n, ctx=ctx)
    except BaseException as exc:
        return exc
    return None


def test_semaphore_acquire_ctx_already_done():
    sem = gocore.Semaphore(5)
    ctx = _cancelled()
    assert isinstance(_acquire_err(sem, ctx), gocore.Canceled)
    assert sem.try_acquire(5)


def test_semaphore_acquire_ctx_deadline():
    sem = gocore.Semaphore(0)
    ctx, cancel = with_timeout(background(), 0.02)
    assert isinstance(_acquire_err(sem, ctx), gocore.DeadlineExceeded)
    cancel()


def test_semaphore_acquire_ctx_success_unregisters():
    sem = gocore.Semaphore(1)
    sem.acquire()
    ctx, cancel = with_cancel(background())
    t = threading.Thread(target=lambda: sem.acquire(1, ctx=ctx))
    t.start()
    time.sleep(0.02)
    sem.release()
    t.join(10)
    assert not t.is_alive()
    assert ctx._children == {}          # the hook's stop() unregistered it
    cancel()


def test_semaphore_waiter_behind_failed_head_is_woken():
    sem = gocore.Semaphore(2)
    sem.acquire(1)
    ctx, cancel = with_cancel(background())
    results = {}
    head = threading.Thread(target=lambda: results.__setitem__("head", _acquire_err(sem, ctx, 2)))
    head.start()
    time.sleep(0.02)
    tail = threading.Thread(target=lambda: results.__setitem__("tail", _acquire_err(sem, None, 1)))
    tail.start()
    time.sleep(0.02)
    assert "tail" not in results        # FIFO: queued behind the big head
    cancel()                            # head fails; the free unit goes to the tail
    head.join(10)
    tail.join(10)
    assert isinstance(results["head"], gocore.Canceled)
    assert results["tail"] is None


@pytest.mark.timeout(60)
def test_semaphore_many_ctx_waiters_cancelled_at_once():
    sem = gocore.Semaphore(0)
    ctx, cancel = with_cancel(background())
    wg = gocore.WaitGroup()
    errs = gocore.AtomicInt()

    def waiter():
        if isinstance(_acquire_err(sem, ctx), gocore.Canceled):
            errs.add(1)

    for _ in range(200):
        wg.go(waiter)
    wait_until(lambda: len(ctx._children or ()) == 200)
    cancel()
    assert wg.wait(30)
    assert errs.load() == 200


def test_foreign_parent_already_done_cancels_child_at_once():
    ccc = CustomCauseContext()
    ccc.cancel()
    base = gocore.num_goroutine()
    ctx, _ = with_cancel(ccc)
    assert is_done(ctx)                     # synchronously, no watcher needed
    assert gocore.num_goroutine() <= base


def test_foreign_parent_with_bad_done_channel_is_rejected():
    class BadDone(OtherContext):
        def done(self):
            return threading.Event()

    with pytest.raises(TypeError):
        with_cancel(BadDone(background()))
