"""gocore.AtomicInt / AtomicBool / AtomicRef: Go's sync/atomic types.

Ported in intent from Go's sync/atomic tests (TestAddInt64, TestSwapInt64,
TestCompareAndSwapInt64, TestAnd/Or, the Hammer tests and
TestStoreLoadSeqCst64), plus the Python-facing argument rules of API.md.
"""
import gc
import sys
import threading
import time
import weakref

import pytest

import gocore
from helpers import fast_switch  # noqa: F401

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


# ---- AtomicInt ----

def test_int_basics():
    a = gocore.AtomicInt()
    assert a.load() == 0
    a.store(5)
    assert a.load() == 5
    assert a.add(3) == 8
    assert a.add(-10) == -2
    assert a.swap(7) == -2
    assert a.load() == 7
    assert gocore.AtomicInt(42).load() == 42
    assert gocore.AtomicInt(value=-1).load() == -1


def test_int_compare_and_swap():
    a = gocore.AtomicInt(1)
    assert a.compare_and_swap(1, 2) is True
    assert a.load() == 2
    assert a.compare_and_swap(1, 3) is False
    assert a.load() == 2
    assert a.compare_and_swap(2, INT64_MIN) is True
    assert a.load() == INT64_MIN


def test_int_and_or_return_old():
    a = gocore.AtomicInt(0b1100)
    assert a.and_(0b1010) == 0b1100
    assert a.load() == 0b1000
    assert a.or_(0b0011) == 0b1000
    assert a.load() == 0b1011
    assert a.and_(-1) == 0b1011                  # all ones keeps everything
    assert a.or_(INT64_MIN) == 0b1011
    assert a.load() == INT64_MIN | 0b1011
    assert a.and_(0) == INT64_MIN | 0b1011
    assert a.load() == 0


def test_int_add_wraps_around_like_go():
    a = gocore.AtomicInt(INT64_MAX)
    assert a.add(1) == INT64_MIN
    assert a.add(-1) == INT64_MAX
    assert gocore.AtomicInt(INT64_MIN).add(-1) == INT64_MAX
    assert gocore.AtomicInt(INT64_MAX).add(INT64_MAX) == -2
    assert gocore.AtomicInt(INT64_MIN).add(INT64_MIN) == 0


def test_int_extremes_round_trip():
    a = gocore.AtomicInt(INT64_MIN)
    assert a.load() == INT64_MIN
    assert a.swap(INT64_MAX) == INT64_MIN
    assert a.load() == INT64_MAX


OUT_OF_RANGE = [INT64_MAX + 1, INT64_MIN - 1, 2**100, -(2**100)]
CALLS = {
    "ctor": lambda a, v: gocore.AtomicInt(v),
    "store": lambda a, v: a.store(v),
    "swap": lambda a, v: a.swap(v),
    "add": lambda a, v: a.add(v),
    "cas-old": lambda a, v: a.compare_and_swap(v, 1),
    "cas-new": lambda a, v: a.compare_and_swap(7, v),
    "and_": lambda a, v: a.and_(v),
    "or_": lambda a, v: a.or_(v),
}


@pytest.mark.parametrize("value", OUT_OF_RANGE)
@pytest.mark.parametrize("call", list(CALLS))
def test_int_outside_int64_is_overflow_error(call, value):
    a = gocore.AtomicInt(7)
    with pytest.raises(OverflowError):
        CALLS[call](a, value)
    assert a.load() == 7                         # nothing changed
    assert a.add(1) == 8                         # and it still works


@pytest.mark.parametrize("value", [1.0, 2.5, "1", b"1", None, [1], 1j])
@pytest.mark.parametrize("call", list(CALLS))
def test_int_non_int_is_type_error(call, value):
    a = gocore.AtomicInt(7)
    with pytest.raises(TypeError):
        CALLS[call](a, value)
    assert a.load() == 7
    assert a.compare_and_swap(7, 8) is True


def test_int_accepts_index_objects():
    class Idx:
        def __index__(self):
            return 41

    a = gocore.AtomicInt(Idx())
    assert a.load() == 41
    assert a.add(Idx()) == 82


def test_int_repr():
    assert repr(gocore.AtomicInt(-3)) == "AtomicInt(-3)"


def test_int_results_are_python_ints():
    a = gocore.AtomicInt(3)
    for v in (a.load(), a.add(1), a.swap(2), a.and_(3), a.or_(4)):
        assert type(v) is int
    assert type(a.compare_and_swap(6, 1)) is bool


# ---- AtomicBool ----

def test_bool_basics():
    b = gocore.AtomicBool()
    assert b.load() is False
    b.store(True)
    assert b.load() is True
    assert b.swap(False) is True
    assert b.swap(False) is False
    assert gocore.AtomicBool(True).load() is True
    assert b.compare_and_swap(False, True) is True
    assert b.load() is True
    assert b.compare_and_swap(False, True) is False
    assert b.compare_and_swap(True, False) is True
    assert b.load() is False
    assert repr(gocore.AtomicBool(True)) == "AtomicBool(True)"


# ---- AtomicRef ----

def test_ref_basics():
    r = gocore.AtomicRef()
    assert r.load() is None
    obj = object()
    r.store(obj)
    assert r.load() is obj
    other = [1]
    assert r.swap(other) is obj
    assert r.load() is other
    assert gocore.AtomicRef(obj).load() is obj
    assert "AtomicRef" in repr(r)


def test_ref_compare_and_swap_is_by_identity():
    a, b = [1, 2], [1, 2]
    assert a == b and a is not b
    r = gocore.AtomicRef(a)
    assert r.compare_and_swap(b, "new") is False   # equal is not enough
    assert r.load() is a
    assert r.compare_and_swap(a, "new") is True
    assert r.load() == "new"
    big1, big2 = int("1" * 30), int("1" * 30)
    r.store(big1)
    assert r.compare_and_swap(big2, 0) is False
    assert r.compare_and_swap(big1, 0) is True
    r.store(None)
    assert r.compare_and_swap(None, 1) is True


def test_ref_counts_do_not_leak():
    obj, other = object(), object()
    base_obj, base_other = sys.getrefcount(obj), sys.getrefcount(other)
    r = gocore.AtomicRef()
    for _ in range(1000):
        r.store(obj)
        r.load()
        r.swap(other)
        r.compare_and_swap(other, obj)
        r.compare_and_swap(other, obj)          # fails: obj is current
        r.swap(None)
    assert sys.getrefcount(obj) == base_obj
    assert sys.getrefcount(other) == base_other


def test_ref_releases_replaced_and_owned_objects():
    class Thing:
        pass

    t = Thing()
    ref = weakref.ref(t)
    r = gocore.AtomicRef(t)
    del t
    gc.collect()
    assert ref() is not None                     # the AtomicRef keeps it alive
    r.store(None)
    gc.collect()
    assert ref() is None
    t2 = Thing()
    ref2 = weakref.ref(t2)
    r2 = gocore.AtomicRef(t2)
    del t2, r2
    gc.collect()
    assert ref2() is None                        # freed with its AtomicRef


# ---- concurrency ----

@pytest.mark.timeout(120)
@pytest.mark.usefixtures("fast_switch")
def test_concurrent_add_sums_exactly(race):
    a = gocore.AtomicInt()
    n_threads, n_adds = 4, 100_000

    def adder(_):
        add = a.add
        for _ in range(n_adds):
            add(1)

    race(n_threads, adder)
    assert a.load() == n_threads * n_adds


@pytest.mark.timeout(120)
@pytest.mark.usefixtures("fast_switch")
def test_concurrent_mixed_ops_balance(race):
    a = gocore.AtomicInt()
    n = 50_000

    def body(i):
        if i % 2:
            for _ in range(n):
                a.add(3)
                a.add(-1)
        else:
            for _ in range(n):
                while True:
                    v = a.load()
                    if a.compare_and_swap(v, v + 2):
                        break

    race(4, body)
    assert a.load() == 4 * n * 2


@pytest.mark.timeout(120)
@pytest.mark.usefixtures("fast_switch")
@pytest.mark.parametrize("kind", ["int", "bool", "ref"])
def test_exactly_one_compare_and_swap_wins(race, kind):
    n_threads, rounds = 4, 1000
    if kind == "int":
        cells = [gocore.AtomicInt() for _ in range(rounds)]
        old, new = (lambda i: 0), (lambda i: i + 1)
    elif kind == "bool":
        cells = [gocore.AtomicBool() for _ in range(rounds)]
        old, new = (lambda i: False), (lambda i: True)
    else:
        start = object()
        cells = [gocore.AtomicRef(start) for _ in range(rounds)]
        tokens = [object() for _ in range(n_threads)]
        old, new = (lambda i: start), (lambda i: tokens[i])
    wins = [[] for _ in range(rounds)]
    barrier = threading.Barrier(n_threads, timeout=30)

    def racer(i):
        o, nw = old(i), new(i)
        for r in range(rounds):
            if r % 50 == 0:
                barrier.wait()                   # keep the threads in lock-step
            if cells[r].compare_and_swap(o, nw):
                wins[r].append(i)

    race(n_threads, racer)
    for r in range(rounds):
        assert len(wins[r]) == 1, f"round {r}: winners {wins[r]}"
        if kind == "int":
            assert cells[r].load() == wins[r][0] + 1
        elif kind == "ref":
            assert cells[r].load() is tokens[wins[r][0]]


@pytest.mark.timeout(120)
@pytest.mark.usefixtures("fast_switch")
def test_ref_concurrent_swaps_lose_nothing(race):
    """Every object swapped in comes out exactly once (or is the final value)."""
    initial = object()
    r = gocore.AtomicRef(initial)
    n_threads, n_swaps = 4, 20_000
    mine = [[object() for _ in range(n_swaps)] for _ in range(n_threads)]
    got = [[] for _ in range(n_threads)]

    def swapper(i):
        swap, load, out = r.swap, r.load, got[i]
        for obj in mine[i]:
            out.append(swap(obj))
            load()

    race(n_threads, swapper)
    seen = [id(o) for lst in got for o in lst] + [id(r.load())]
    expected = [id(initial)] + [id(o) for lst in mine for o in lst]
    assert sorted(seen) == sorted(expected)


@pytest.mark.timeout(120)
@pytest.mark.usefixtures("fast_switch")
def test_store_load_sequentially_consistent(race):
    """Go's TestStoreLoadSeqCst64: each side stores its round number, then
    loads the other's; both may not miss the other's store of this round."""
    n = 10_000
    x = [gocore.AtomicInt(), gocore.AtomicInt()]
    ack = [[gocore.AtomicInt(-1) for _ in range(3)] for _ in range(2)]
    errors = []

    def side(me):
        he = 1 - me
        for i in range(1, n):
            x[me].store(i)
            my = x[he].load()
            ack[me][i % 3].store(my)
            spins = 0
            while ack[he][i % 3].load() == -1:
                spins += 1
                if spins % 20 == 0:
                    time.sleep(0)                # let the other side run
            his = ack[he][i % 3].load()
            if my not in (i, i - 1) or his not in (i, i - 1):
                errors.append(("invalid", my, his, i))
                return
            if my != i and his != i:
                errors.append(("not sequentially consistent", my, his, i))
                return
            ack[me][(i - 1) % 3].store(-1)

    race(2, side)
    assert errors == []


def test_atomicref_cycle_is_collected():
    # The collector sees the referenced object: an object holding an
    # AtomicRef to itself is freed once unreachable.
    import gc
    import weakref

    class Holder:
        pass

    h = Holder()
    h.ref = gocore.AtomicRef(h)
    alive = weakref.ref(h)
    del h
    gc.collect()
    assert alive() is None


def test_atomicref_still_works_after_gc_passes():
    import gc

    r = gocore.AtomicRef([1])
    gc.collect()
    assert r.load() == [1]
    assert r.swap("x") == [1] and r.load() == "x"
