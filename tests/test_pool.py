"""Pool: go-zero syncx.Pool semantics (limit, LIFO reuse, max_age, close)."""
import itertools
import threading
import time

import pytest

import gocore


class Res:
    _ids = itertools.count()

    def __init__(self):
        self.id = next(Res._ids)
        self.destroyed = False


def make_pool(**kw):
    created, destroyed = [], []
    lock = threading.Lock()

    def create():
        r = Res()
        with lock:
            created.append(r)
        return r

    def destroy(r):
        assert not r.destroyed
        r.destroyed = True
        with lock:
            destroyed.append(r)

    return gocore.Pool(create, destroy, **kw), created, destroyed


def test_get_creates_and_put_reuses():
    p, created, _ = make_pool()
    a = p.get()
    p.put(a)
    assert p.get() is a
    assert len(created) == 1


def test_lifo_reuse():
    p, _, _ = make_pool()
    a, b, c = p.get(), p.get(), p.get()
    p.put(a)
    p.put(b)
    p.put(c)
    assert p.get() is c
    assert p.get() is b
    assert p.get() is a


def test_limit_zero_means_unlimited():
    p, created, _ = make_pool(limit=0)
    objs = [p.get(timeout=0) for _ in range(100)]
    assert len(set(map(id, objs))) == 100 and len(created) == 100


def test_limit_blocks_then_times_out():
    p, created, _ = make_pool(limit=2)
    a, b = p.get(), p.get()
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        p.get(timeout=0.05)
    assert time.monotonic() - t0 >= 0.04
    with pytest.raises(TimeoutError):
        p.get(timeout=0)
    assert len(created) == 2
    p.put(a)
    assert p.get(timeout=0) is a


def test_get_waits_for_put():
    p, _, _ = make_pool(limit=1)
    a = p.get()
    got = []
    t = threading.Thread(target=lambda: got.append(p.get(timeout=10)))
    t.start()
    time.sleep(0.02)
    assert not got
    p.put(a)
    t.join(10)
    assert got == [a]


def test_put_none_raises():
    p, _, _ = make_pool()
    with pytest.raises(ValueError):
        p.put(None)
    assert p.get() is not None


@pytest.mark.parametrize("kw,exc", [
    ({"limit": -1}, ValueError),
    ({"limit": 1.5}, TypeError),
    ({"max_age": -1}, ValueError),
    ({"max_age": "1"}, TypeError),
])
def test_constructor_validation(kw, exc):
    with pytest.raises(exc):
        gocore.Pool(object, **kw)


def test_constructor_needs_callables():
    with pytest.raises(TypeError):
        gocore.Pool(None)
    with pytest.raises(TypeError):
        gocore.Pool(object, destroy=3)


def test_get_timeout_validation():
    p, _, _ = make_pool()
    with pytest.raises(ValueError):
        p.get(timeout=-1)


def test_max_age_destroys_stale_objects():
    p, created, destroyed = make_pool(max_age=0.05)
    a, b = p.get(), p.get()
    p.put(a)
    p.put(b)
    time.sleep(0.1)
    c = p.get()
    assert c is not a and c is not b
    assert set(destroyed) == {a, b}
    assert len(created) == 3


def test_max_age_keeps_fresh_objects():
    p, _, destroyed = make_pool(max_age=60)
    a = p.get()
    p.put(a)
    assert p.get() is a
    assert destroyed == []


def test_stale_objects_free_slots_under_limit():
    p, created, destroyed = make_pool(limit=1, max_age=0.02)
    a = p.get()
    p.put(a)
    time.sleep(0.05)
    b = p.get(timeout=1)
    assert b is not a and destroyed == [a]


def test_borrow():
    p, _, _ = make_pool(limit=1)
    with p.borrow() as a:
        with pytest.raises(TimeoutError):
            p.get(timeout=0.01)
    with p.borrow(timeout=1) as b:
        assert b is a


def test_borrow_returns_object_on_exception():
    p, _, _ = make_pool(limit=1)
    with pytest.raises(KeyError):
        with p.borrow() as a:
            raise KeyError
    assert p.get(timeout=0) is a


def test_close():
    p, _, destroyed = make_pool(limit=3)
    a, b, c = p.get(), p.get(), p.get()
    p.put(a)
    p.put(b)
    p.close()
    assert set(destroyed) == {a, b}
    with pytest.raises(RuntimeError):
        p.get()
    p.put(c)                      # destroyed instead of pooled
    assert c.destroyed
    p.close()                     # idempotent


def test_close_wakes_waiters():
    p, _, _ = make_pool(limit=1)
    p.get()
    errors = []

    def waiter():
        try:
            p.get(timeout=30)
        except RuntimeError as e:
            errors.append(e)

    ts = [threading.Thread(target=waiter) for _ in range(3)]
    for t in ts:
        t.start()
    time.sleep(0.05)
    p.close()
    for t in ts:
        t.join(10)
    assert len(errors) == 3


def test_create_failure_releases_slot():
    calls = []

    def create():
        calls.append(1)
        if len(calls) == 1:
            raise OSError("no connection")
        return object()

    p = gocore.Pool(create, limit=1)
    with pytest.raises(OSError):
        p.get()
    assert p.get(timeout=1) is not None


def test_create_runs_outside_the_lock():
    # A slow create() in one thread does not hold up put/get in others.
    slow = threading.Event()
    release = threading.Event()

    def create():
        if slow.is_set():
            release.wait(10)
        return object()

    p = gocore.Pool(create, limit=2)
    a = p.get()
    slow.set()
    t = threading.Thread(target=p.get)
    t.start()
    time.sleep(0.02)          # t is now inside create()
    t0 = time.monotonic()
    p.put(a)
    assert p.get(timeout=5) is a
    assert time.monotonic() - t0 < 5
    release.set()
    t.join(10)


@pytest.mark.timeout(120)
def test_stress_never_exceeds_limit_8_threads(race):
    limit = 4
    live = gocore.AtomicInt()
    peak = gocore.AtomicInt()
    in_use = gocore.AtomicInt()

    def create():
        n = live.add(1)
        while True:
            p = peak.load()
            if n <= p or peak.compare_and_swap(p, n):
                break
        return Res()

    def destroy(r):
        live.add(-1)

    pool = gocore.Pool(create, destroy, limit=limit, max_age=0.001)

    def worker(i):
        for k in range(400):
            obj = pool.get(timeout=30)
            u = in_use.add(1)
            assert u <= limit
            if k % 7 == 0:
                time.sleep(0.0005)
            in_use.add(-1)
            pool.put(obj)

    race(8, worker)
    assert peak.load() <= limit
    assert live.load() <= limit
    pool.close()
    assert live.load() == 0
