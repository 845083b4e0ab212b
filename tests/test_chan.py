"""Chan: the contract in API.md "Channels", plus race tests with exact invariants."""
import gc
import queue
import random
import sys
import threading
import time
import weakref

import pytest

import gocore
from gocore import Chan, ClosedChannelError, nilchan

from conftest import run_threads


def _spawn(fn, *args):
    t = threading.Thread(target=fn, args=args, daemon=True)
    t.start()
    return t


def _wait_for(cond, timeout=10.0):
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("condition not reached in time")
        time.sleep(0.001)


def _blocked_soon():
    # Give a thread that is about to block time to get there (no correctness
    # depends on it: only which code path a test exercises).
    time.sleep(0.05)


# ---- one behaviour, two implementations: Chan and queue.Queue ----

class _ChanSide:
    def __init__(self, cap):
        self.ch = Chan(cap)

    def put(self, v, timeout=None):
        self.ch.send(v, timeout=timeout)

    def get(self, timeout=None):
        return self.ch.recv(timeout=timeout)

    def size(self):
        return len(self.ch)

    full_error = TimeoutError
    empty_error = TimeoutError


class _QueueSide:
    def __init__(self, cap):
        self.q = queue.Queue(cap)

    def put(self, v, timeout=None):
        self.q.put(v, timeout=timeout)

    def get(self, timeout=None):
        return self.q.get(timeout=timeout)

    def size(self):
        return self.q.qsize()

    full_error = queue.Full
    empty_error = queue.Empty


class _SharedBehaviour:
    make = None

    def test_fifo(self):
        q = self.make(8)
        for i in range(8):
            q.put(i)
        assert q.size() == 8
        assert [q.get() for _ in range(8)] == list(range(8))
        assert q.size() == 0

    def test_put_on_full_times_out(self):
        q = self.make(2)
        q.put(1)
        q.put(2)
        with pytest.raises(q.full_error):
            q.put(3, timeout=0.02)
        assert [q.get(), q.get()] == [1, 2]

    def test_get_on_empty_times_out(self):
        q = self.make(2)
        with pytest.raises(q.empty_error):
            q.get(timeout=0.02)
        q.put("x")
        assert q.get() == "x"

    def test_blocked_put_resumes_after_get(self):
        q = self.make(1)
        q.put(0)
        t = _spawn(q.put, 1)
        _blocked_soon()
        assert q.get() == 0
        assert q.get(timeout=10) == 1
        t.join(10)

    def test_producer_consumer_threads(self):
        q = self.make(4)
        n = 2000
        out = []

        def consumer():
            for _ in range(n):
                out.append(q.get(timeout=30))

        t = _spawn(consumer)
        for i in range(n):
            q.put(i, timeout=30)
        t.join(30)
        assert out == list(range(n))


class TestSharedChan(_SharedBehaviour):
    make = staticmethod(_ChanSide)


class TestSharedQueue(_SharedBehaviour):
    make = staticmethod(_QueueSide)


# ---- construction ----

def test_compiled_core_is_used():
    assert Chan.__module__ == "gocore._gocore"
    assert gocore.select.__module__ == "gocore._gocore"


def test_cap_and_len():
    assert Chan().cap == 0 and len(Chan()) == 0
    ch = Chan(3)
    assert ch.cap == 3
    ch.send(1)
    ch.send(2)
    assert len(ch) == 2
    ch.recv()
    assert len(ch) == 1


@pytest.mark.parametrize("bad", [-1, -100])
def test_negative_cap_is_value_error(bad):
    with pytest.raises(ValueError, match="capacity"):
        Chan(bad)


@pytest.mark.parametrize("bad", [1.5, "3", None, [1]])
def test_non_int_cap_is_type_error(bad):
    with pytest.raises(TypeError, match="capacity"):
        Chan(bad)


def test_cap_accepts_index_types():
    class Two:
        def __index__(self):
            return 2
    assert Chan(Two()).cap == 2


def test_huge_cap_is_value_error():
    with pytest.raises(ValueError):
        Chan(1 << 62)


def test_generic_alias():
    alias = Chan[int]
    assert alias.__origin__ is Chan
    assert alias.__args__ == (int,)


def test_truthiness_is_not_emptiness():
    assert Chan(4) and Chan() and Chan(1).recv_only() and Chan(1).send_only()
    assert not nilchan
    assert not nilchan.recv_only() and not nilchan.send_only()


def test_repr():
    ch = Chan(2)
    ch.send(1)
    assert "cap=2" in repr(ch) and "len=1" in repr(ch)
    ch.close()
    assert "closed" in repr(ch)
    assert repr(nilchan) == "gocore.nilchan"


# ---- buffered and unbuffered transfer ----

@pytest.mark.parametrize("cap", [1, 2, 3, 7, 8, 1000])
def test_buffered_fifo_through_many_laps(cap):
    ch = Chan(cap)
    expect = 0
    nxt = 0
    for _ in range(5):
        while len(ch) < cap:
            ch.send(nxt)
            nxt += 1
        with pytest.raises(TimeoutError):
            ch.send("full", timeout=0)
        for _ in range(cap):
            assert ch.recv() == expect
            expect += 1
    assert len(ch) == 0


def test_unbuffered_send_waits_for_receiver():
    ch = Chan()
    with pytest.raises(TimeoutError):
        ch.send(1, timeout=0.02)
    got = []
    t = _spawn(lambda: got.append(ch.recv(timeout=10)))
    _blocked_soon()
    ch.send("hi", timeout=10)
    t.join(10)
    assert got == ["hi"]


def test_unbuffered_recv_waits_for_sender():
    ch = Chan()
    t = _spawn(ch.send, "late")
    assert ch.recv(timeout=10) == "late"
    t.join(10)


def test_none_is_a_value():
    ch = Chan(1)
    ch.send(None)
    assert ch.recv_ok() == (None, True)


def test_recv_ok():
    ch = Chan(1)
    ch.send(5)
    assert ch.recv_ok() == (5, True)
    ch.close()
    assert ch.recv_ok() == (None, False)
    assert ch.recv_ok(timeout=0) == (None, False)


def test_iter_receives_until_closed_and_drained():
    ch = Chan(10)
    for i in range(5):
        ch.send(i)
    ch.close()
    assert list(ch) == [0, 1, 2, 3, 4]
    assert list(ch) == []


def test_iter_unbuffered_with_producer():
    ch = Chan()

    def produce():
        for i in range(100):
            ch.send(i)
        ch.close()

    t = _spawn(produce)
    assert list(ch) == list(range(100))
    t.join(10)


# ---- close ----

def test_close_drains_buffer_then_reports_closed():
    ch = Chan(3)
    ch.send("a")
    ch.send("b")
    ch.close()
    assert len(ch) == 2
    assert ch.recv() == "a"
    assert ch.recv_ok() == ("b", True)
    assert ch.recv() is None
    assert ch.recv_ok() == (None, False)


@pytest.mark.parametrize("cap", [0, 1, 4])
def test_send_on_closed_raises(cap):
    ch = Chan(cap)
    ch.close()
    with pytest.raises(ClosedChannelError, match="closed"):
        ch.send(1)
    with pytest.raises(ClosedChannelError):
        ch.send(1, timeout=0)
    assert issubclass(ClosedChannelError, RuntimeError)


@pytest.mark.parametrize("cap", [0, 2])
def test_close_twice_raises(cap):
    ch = Chan(cap)
    ch.close()
    with pytest.raises(ClosedChannelError):
        ch.close()


@pytest.mark.parametrize("cap", [0, 2])
def test_close_wakes_every_receiver(cap):
    ch = Chan(cap)
    results = []
    threads = [_spawn(lambda: results.append(ch.recv_ok(timeout=10))) for _ in range(4)]
    _blocked_soon()
    ch.close()
    for t in threads:
        t.join(10)
    assert results == [(None, False)] * 4


@pytest.mark.parametrize("cap", [0, 1])
def test_close_wakes_every_sender_with_error(cap):
    ch = Chan(cap)
    if cap:
        ch.send("buffered")
    errors = []

    def sender(i):
        try:
            ch.send(i, timeout=10)
        except ClosedChannelError as exc:
            errors.append(exc)

    threads = [_spawn(sender, i) for i in range(3)]
    _blocked_soon()
    ch.close()
    for t in threads:
        t.join(10)
    assert len(errors) == 3
    if cap:
        assert ch.recv_ok() == ("buffered", True)
    assert ch.recv_ok() == (None, False)


def test_closed_receiver_gets_buffered_items_even_if_waiting_before():
    # A receiver woken by close must still drain what is buffered.
    ch = Chan(4)
    got = []
    t = _spawn(lambda: got.extend(ch))
    _blocked_soon()
    ch.send(1)
    ch.send(2)
    ch.close()
    t.join(10)
    assert got == [1, 2]


# ---- timeouts ----

@pytest.mark.parametrize("bad", [-1, -0.5, float("nan")])
def test_bad_timeout_is_value_error(bad):
    ch = Chan(1)
    with pytest.raises(ValueError):
        ch.send(1, timeout=bad)
    with pytest.raises(ValueError):
        ch.recv(timeout=bad)
    ch.send(1)               # still works after the failed calls
    assert ch.recv() == 1


def test_non_number_timeout_is_type_error():
    with pytest.raises(TypeError):
        Chan(1).recv(timeout="soon")


def test_timeout_zero_is_a_try():
    ch = Chan(1)
    ch.send(1, timeout=0)
    with pytest.raises(TimeoutError):
        ch.send(2, timeout=0)
    assert ch.recv(timeout=0) == 1
    with pytest.raises(TimeoutError):
        ch.recv(timeout=0)


def test_timed_out_unbuffered_send_is_never_delivered():
    ch = Chan()
    with pytest.raises(TimeoutError):
        ch.send("ghost", timeout=0.02)
    with pytest.raises(TimeoutError):
        ch.recv(timeout=0.05)


def test_timed_out_buffered_send_is_never_delivered():
    ch = Chan(1)
    ch.send("first")
    with pytest.raises(TimeoutError):
        ch.send("ghost", timeout=0.02)
    assert ch.recv() == "first"
    with pytest.raises(TimeoutError):
        ch.recv(timeout=0.05)


def test_receiver_that_gave_up_takes_nothing():
    ch = Chan()
    with pytest.raises(TimeoutError):
        ch.recv(timeout=0.02)
    with pytest.raises(TimeoutError):
        ch.send("x", timeout=0.02)   # nobody is receiving any more
    ch2 = Chan(1)
    with pytest.raises(TimeoutError):
        ch2.recv(timeout=0.02)
    ch2.send("kept")
    assert ch2.recv(timeout=0) == "kept"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("cap", [0, 1, 8])
def test_timed_out_operations_never_complete_later(cap):
    """Count-based: senders and receivers with tiny random timeouts race;
    what the senders count as sent is exactly what the receivers got."""
    ch = Chan(cap)
    sent = [0] * 4
    received = [0] * 4
    stop = threading.Event()

    def sender(i):
        rnd = random.Random(i)
        for _ in range(3000):
            try:
                ch.send(i, timeout=rnd.choice([0, 0.0001, 0.001]))
                sent[i] += 1
            except TimeoutError:
                pass

    def receiver(i):
        rnd = random.Random(100 + i)
        while not stop.is_set() or len(ch):
            try:
                ch.recv(timeout=rnd.choice([0, 0.0001, 0.001]))
                received[i] += 1
            except TimeoutError:
                pass

    rs = [_spawn(receiver, i) for i in range(4)]
    run_threads(4, sender)
    stop.set()
    for t in rs:
        t.join(30)
    while True:                     # whatever is still buffered was sent too
        try:
            ch.recv(timeout=0)
            received[0] += 1
        except TimeoutError:
            break
    assert sum(sent) == sum(received)
    assert sum(sent) > 0


# ---- views ----

def test_recv_only_view():
    ch = Chan(3)
    r = ch.recv_only()
    ch.send(1)
    ch.send(2)
    ch.send(3)
    assert len(r) == 3 and r.cap == 3
    assert r.recv() == 1
    assert r.recv_ok() == (2, True)
    assert not hasattr(r, "send") and not hasattr(r, "close")
    ch.close()
    assert list(r) == [3]
    assert r.recv_ok() == (None, False)
    assert r.recv_only() is r
    assert r == ch.recv_only() and hash(r) == hash(ch.recv_only())


def test_send_only_view():
    ch = Chan(2)
    s = ch.send_only()
    s.send("x")
    assert len(s) == 1 and s.cap == 2
    assert not hasattr(s, "recv") and not hasattr(s, "recv_ok")
    with pytest.raises(TypeError):
        iter(s)
    s.close()
    with pytest.raises(ClosedChannelError):
        s.send("y")
    assert ch.recv() == "x"
    assert s.send_only() is s


def test_views_with_timeouts():
    ch = Chan()
    with pytest.raises(TimeoutError):
        ch.recv_only().recv(timeout=0.01)
    with pytest.raises(TimeoutError):
        ch.send_only().send(1, timeout=0.01)


# ---- nilchan ----

def test_nilchan_blocks_forever():
    assert len(nilchan) == 0 and nilchan.cap == 0
    with pytest.raises(TimeoutError):
        nilchan.recv(timeout=0.02)
    with pytest.raises(TimeoutError):
        nilchan.recv_ok(timeout=0)
    with pytest.raises(TimeoutError):
        nilchan.send(1, timeout=0.02)
    with pytest.raises(TimeoutError):
        nilchan.recv_only().recv(timeout=0.01)


def test_nilchan_close_raises():
    with pytest.raises(ClosedChannelError):
        nilchan.close()
    with pytest.raises(TimeoutError):      # still nil, not closed
        nilchan.recv(timeout=0)


def test_nilchan_blocked_thread_never_wakes():
    done = threading.Event()

    def waiter():
        try:
            nilchan.recv(timeout=0.2)
        except TimeoutError:
            done.set()

    t = _spawn(waiter)
    t.join(10)
    assert done.is_set()


# ---- references ----

class _Obj:
    pass


def test_dealloc_releases_buffered_values():
    ch = Chan(8)
    objs = [_Obj() for _ in range(5)]
    refs = [weakref.ref(o) for o in objs]
    for o in objs:
        ch.send(o)
    ch.recv()                              # one taken, four left in the ring
    del objs, o
    gc.collect()
    assert sum(r() is not None for r in refs) == 4
    del ch
    gc.collect()
    assert all(r() is None for r in refs)


def test_cycle_through_a_buffered_value_is_collected():
    class Holder:
        pass
    ch = Chan(4)
    h = Holder()
    h.ch = ch                              # ch -> (buffer) -> h -> ch
    ch.send(h)
    ch.send(lambda: ch.close())            # a closure over the channel, too
    ref, href = weakref.ref(ch), weakref.ref(h)
    del ch, h
    gc.collect()
    assert ref() is None and href() is None


def test_gc_sees_values_only_while_buffered():
    ch = Chan(2)
    o = _Obj()
    ch.send(o)
    assert o in gc.get_referents(ch)
    ch.recv()
    assert o not in gc.get_referents(ch)


def test_no_reference_leaks():
    o = _Obj()
    before = sys.getrefcount(o)
    for cap in (0, 1, 16):
        ch = Chan(cap)
        for _ in range(1000):
            if cap:
                ch.send(o)
                assert ch.recv() is o
            else:
                with pytest.raises(TimeoutError):
                    ch.send(o, timeout=0)
    ch = Chan(1)
    ch.send(o)
    with pytest.raises(TimeoutError):
        ch.send(o, timeout=0.001)          # timed out while queued
    ch.close()
    with pytest.raises(ClosedChannelError):
        ch.send(o)
    assert ch.recv() is o
    del ch
    assert sys.getrefcount(o) == before


def test_blocked_sender_reference_released_on_close():
    o = _Obj()
    ref = weakref.ref(o)
    ch = Chan()

    def sender(v):
        with pytest.raises(ClosedChannelError):
            ch.send(v, timeout=10)

    t = _spawn(sender, o)
    del o
    _blocked_soon()
    ch.close()
    t.join(10)
    del t
    gc.collect()
    assert ref() is None


# ---- race tests (exact invariants) ----

def _transfer_stress(cap, producers=4, consumers=4, items=50_000):
    ch = Chan(cap)
    got = [[] for _ in range(consumers)]

    def worker(i):
        if i < producers:
            send = ch.send
            for n in range(items):
                send((i, n))
        else:
            got[i - producers].extend(ch)

    closer_done = threading.Event()

    def run(i):
        worker(i)
        if i < producers:
            with lock:
                finished[0] += 1
                if finished[0] == producers:
                    ch.close()
                    closer_done.set()

    lock = threading.Lock()
    finished = [0]
    run_threads(producers + consumers, run, timeout=120)
    assert closer_done.is_set()
    everything = [x for g in got for x in g]
    assert len(everything) == producers * items
    assert len(set(everything)) == producers * items          # each exactly once
    for g in got:                                             # FIFO per producer
        last = [-1] * producers
        for p, n in g:
            assert n > last[p]
            last[p] = n


@pytest.mark.timeout(180)
@pytest.mark.parametrize("cap", [0, 1, 1024])
def test_stress_4x4x50000_exactly_once_fifo_per_producer(cap):
    _transfer_stress(cap)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("cap", [0, 1, 64])
def test_close_mid_traffic_loses_nothing_sent(cap):
    for _ in range(3):
        ch = Chan(cap)
        sent = [[] for _ in range(4)]
        got = [[] for _ in range(4)]

        def worker(i):
            if i < 4:
                n = 0
                while True:
                    try:
                        ch.send((i, n))
                    except ClosedChannelError:
                        return
                    sent[i].append((i, n))
                    n += 1
            elif i < 8:
                got[i - 4].extend(ch)
            else:
                time.sleep(0.05)
                ch.close()

        run_threads(9, worker, timeout=60)
        all_sent = sorted(x for s in sent for x in s)
        all_got = sorted(x for g in got for x in g)
        assert all_got == all_sent
        assert all_sent


_GIL_DISABLED = not getattr(sys, "_is_gil_enabled", lambda: True)()
# The race these tests aim at needs both threads truly running at once:
# with a GIL it cannot happen, so a GIL build runs a short smoke version.
_LOST_WAKEUP_ROUNDS = 200_000 if _GIL_DISABLED else 20_000


def _poll_recv(ch, timeout=20.0):
    """Busy-poll a receive (free-threaded builds: keeps this thread hot)."""
    end = time.monotonic() + timeout
    spins = 0
    while True:
        v, ok = ch._try_recv()
        if ok:
            return v
        spins += 1
        if spins % 4096 == 0 and time.monotonic() > end:
            raise AssertionError("nothing arrived: lost wake-up on the other side")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("how", ["recv", "select"])
@pytest.mark.parametrize("cap", [1, 2])
def test_lost_wakeup_receiver_side(cap, how):
    """Ping-pong over buffered channels: each receive finds the ring empty
    and goes to sleep just as the only push that will come lands.  A lost
    wake-up (see "lost wake-up trap" in chan.pxi) leaves both sides waiting
    for each other: the short timeouts turn that hang into a failure."""
    a, b = Chan(cap), Chan(cap)
    n = _LOST_WAKEUP_ROUNDS

    def worker(i):
        if i == 0:
            for k in range(n):
                a.send(k)
                # Busy-poll for the reply, so that the next send lands while
                # the other side is on its way to sleep in a.recv().
                v = _poll_recv(b) if _GIL_DISABLED else b.recv(timeout=20)
                assert v == k
        elif how == "recv":
            for _ in range(n):
                b.send(a.recv(timeout=20))
        else:
            other = Chan(1)            # a second, idle channel in every select
            for _ in range(n):
                b.send(gocore.select(a.recv, other.recv, timeout=20)[1])

    run_threads(2, worker, timeout=100)


@pytest.mark.timeout(120)
def test_lost_wakeup_sender_side():
    """The ring stays full: each send goes to sleep just as the only pop
    that will free a slot lands; the receiver then waits for an ack that
    only the woken sender can give."""
    a, ack = Chan(1), Chan(1)
    a.send(-1)
    n = _LOST_WAKEUP_ROUNDS

    def worker(i):
        if i == 0:
            for k in range(n):
                a.send(k, timeout=20)      # full: sleeps until the pop below
                ack.send(k)
        else:
            expect = -1
            for k in range(n):
                assert a.recv() == expect  # lands while the sender goes to sleep
                got = _poll_recv(ack) if _GIL_DISABLED else ack.recv(timeout=20)
                assert got == k
                expect = k

    run_threads(2, worker, timeout=100)


@pytest.mark.timeout(120)
def test_many_senders_on_a_full_ring():
    ch = Chan(1)
    n = 50_000
    total = [0]

    def worker(i):
        if i < 3:
            for _ in range(n):
                ch.send(1)
        else:
            for _ in range(3 * n):
                total[0] += ch.recv()

    run_threads(4, worker, timeout=60)
    assert total[0] == 3 * n


@pytest.mark.timeout(120)
def test_ping_pong_unbuffered():
    a, b = Chan(), Chan()
    n = 20_000

    def worker(i):
        if i == 0:
            for k in range(n):
                a.send(k)
                assert b.recv() == k + 1
        else:
            for _ in range(n):
                b.send(a.recv() + 1)

    run_threads(2, worker, timeout=60)


@pytest.mark.timeout(60)
def test_many_blocked_receivers_each_get_one():
    ch = Chan()
    got = []
    lock = threading.Lock()

    def receiver():
        v = ch.recv(timeout=30)
        with lock:
            got.append(v)

    threads = [_spawn(receiver) for _ in range(16)]
    for i in range(16):
        ch.send(i, timeout=30)
    for t in threads:
        t.join(30)
    assert sorted(got) == list(range(16))


# ---- signals reach a main thread blocked on a channel ----

class _Interrupted(Exception):
    pass


@pytest.mark.skipif(not hasattr(__import__("signal"), "SIGUSR1"), reason="needs SIGUSR1")
@pytest.mark.parametrize("op", ["recv", "send", "select", "nil"])
def test_signal_handler_runs_while_main_thread_blocks(op):
    import _thread
    import signal

    assert threading.current_thread() is threading.main_thread()

    def handler(signum, frame):
        raise _Interrupted()

    old = signal.signal(signal.SIGUSR1, handler)
    ch = Chan()
    try:
        timer = threading.Timer(0.05, _thread.interrupt_main, args=(signal.SIGUSR1,))
        timer.start()
        with pytest.raises(_Interrupted):
            if op == "recv":
                ch.recv(timeout=30)
            elif op == "send":
                ch.send("withdrawn", timeout=30)
            elif op == "select":
                gocore.select(ch.recv, (ch.send, 1), timeout=30)
            else:
                nilchan.recv(timeout=30)
        timer.join()
    finally:
        signal.signal(signal.SIGUSR1, old)
    # The interrupted operation was withdrawn: nobody waits on ch any more.
    with pytest.raises(TimeoutError):
        ch.send(1, timeout=0)
    with pytest.raises(TimeoutError):
        ch.recv(timeout=0)


# ---- Chan._close_with: closing with an error for pipelines ----

class _StageFailed(Exception):
    pass


@pytest.mark.parametrize("cap", [0, 1, 3])
def test_close_with_drains_then_raises_the_same_object(cap):
    ch = Chan(cap)
    for i in range(cap):
        ch.send(i)
    exc = _StageFailed("upstream")
    ch._close_with(exc)
    assert [ch.recv() for _ in range(cap)] == list(range(cap))    # buffered values first
    for receive in (ch.recv, ch.recv_ok, ch.recv_only().recv, ch.recv_only().recv_ok,
                    lambda: next(ch), lambda: next(ch.recv_only()), ch._try_recv,
                    lambda: ch.recv(timeout=0), lambda: ch.recv_ok(timeout=5)):
        with pytest.raises(_StageFailed) as info:
            receive()
        assert info.value is exc
    with pytest.raises(_StageFailed) as info:
        for _ in ch:
            pass
    assert info.value is exc


def test_close_with_select_cases_raise():
    ch = Chan(2)
    ch.send("last")
    exc = _StageFailed()
    ch._close_with(exc)
    assert gocore.select(ch.recv) == (0, "last")
    for case in (ch.recv, ch.recv_ok, ch.recv_only().recv, ch.recv_only().recv_ok):
        with pytest.raises(_StageFailed) as info:
            gocore.select(case, gocore.default)
        assert info.value is exc
    # A closed case is ready, so it is chosen over one that is not.
    with pytest.raises(_StageFailed):
        gocore.select(Chan().recv, ch.recv)


def test_close_with_sends_and_closes_raise_closed_channel_error():
    ch = Chan(1)
    exc = _StageFailed()
    ch._close_with(exc)
    with pytest.raises(ClosedChannelError):
        ch.send(1)
    with pytest.raises(ClosedChannelError):
        ch.send_only().send(1)
    with pytest.raises(ClosedChannelError):
        gocore.select((ch.send, 1))
    with pytest.raises(ClosedChannelError):
        ch.close()
    with pytest.raises(ClosedChannelError):
        ch._close_with(_StageFailed("second"))
    with pytest.raises(_StageFailed) as info:
        ch.recv()
    assert info.value is exc                    # the first close's exception stays


def test_close_with_on_a_closed_channel_keeps_plain_close():
    ch = Chan(1)
    ch.close()
    with pytest.raises(ClosedChannelError):
        ch._close_with(_StageFailed())
    assert ch.recv_ok() == (None, False)


def test_close_with_needs_an_exception_and_leaves_the_channel_open():
    ch = Chan(1)
    with pytest.raises(TypeError):
        ch._close_with("not an exception")
    with pytest.raises(TypeError):
        ch._close_with(_StageFailed)            # the class, not an instance
    ch.send(1)
    assert ch.recv() == 1
    with pytest.raises(ClosedChannelError):
        nilchan._close_with(_StageFailed())


@pytest.mark.parametrize("cap", [0, 2])
def test_close_with_wakes_every_blocked_receiver(cap):
    ch = Chan(cap)
    exc = _StageFailed()
    n = 8
    raised = []
    ready = threading.Barrier(n + 1)

    def receiver(i):
        ready.wait()
        try:
            if i % 3 == 0:
                ch.recv()
            elif i % 3 == 1:
                gocore.select(ch.recv_ok, Chan().recv)
            else:
                for _ in ch:
                    pass
        except _StageFailed as e:
            raised.append(e)

    threads = [_spawn(receiver, i) for i in range(n)]
    ready.wait()
    time.sleep(0.05)                            # most of them are parked by now
    ch._close_with(exc)
    for t in threads:
        t.join(30)
        assert not t.is_alive()
    assert len(raised) == n and all(e is exc for e in raised)


def test_close_with_nothing_sent_is_lost_under_contention():
    ch = Chan(4)
    exc = _StageFailed()
    sent = []
    got = []
    lock = threading.Lock()

    def producer(base):
        for i in range(2000):
            try:
                ch.send(base + i)
            except ClosedChannelError:
                return
            with lock:
                sent.append(base + i)

    def consumer():
        try:
            for v in ch:
                with lock:
                    got.append(v)
        except _StageFailed as e:
            assert e is exc
            return
        raise AssertionError("iteration ended without the close exception")

    producers = [_spawn(producer, k * 10000) for k in range(3)]
    consumers = [_spawn(consumer) for _ in range(3)]
    time.sleep(0.02)
    ch._close_with(exc)
    for t in producers + consumers:
        t.join(30)
        assert not t.is_alive()
    assert sorted(got) == sorted(sent)         # every successful send received once


def test_close_with_exception_cycle_is_collected():
    ch = Chan(1)
    exc = _StageFailed()
    exc.channel = ch                            # channel -> exception -> channel
    ch._close_with(exc)
    ref = weakref.ref(ch)
    del ch, exc
    gc.collect()
    assert ref() is None
