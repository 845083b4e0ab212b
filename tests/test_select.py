"""select: the contract in API.md, fairness, and race tests with exact invariants."""
import random
import threading
import time

import pytest

import gocore
from gocore import Chan, ClosedChannelError, default, nilchan, select

from conftest import run_threads


def _spawn(fn, *args):
    t = threading.Thread(target=fn, args=args, daemon=True)
    t.start()
    return t


def _blocked_soon():
    time.sleep(0.05)


# ---- one ready case ----

def test_recv_ready():
    a, b = Chan(1), Chan(1)
    b.send("b")
    assert select(a.recv, b.recv) == (1, "b")


def test_recv_ok_ready_and_closed():
    a = Chan(1)
    a.send(1)
    assert select(a.recv_ok) == (0, (1, True))
    a.close()
    assert select(a.recv_ok) == (0, (None, False))
    assert select(a.recv) == (0, None)


def test_send_ready():
    a = Chan(1)
    assert select((a.send, "v")) == (0, None)
    assert a.recv() == "v"


def test_send_to_waiting_receiver_unbuffered():
    a = Chan()
    got = []
    t = _spawn(lambda: got.append(a.recv(timeout=10)))
    _blocked_soon()
    assert select((a.send, 42), timeout=10) == (0, None)
    t.join(10)
    assert got == [42]


def test_recv_from_waiting_sender_unbuffered():
    a = Chan()
    t = _spawn(a.send, "x")
    _blocked_soon()
    assert select(a.recv, timeout=10) == (0, "x")
    t.join(10)


def test_default_when_nothing_ready():
    a, b = Chan(), Chan(1)
    assert select(a.recv, (a.send, 1), b.recv, default) == (3, None)
    assert select(default, a.recv) == (0, None)
    assert select(default) == (0, None)
    assert repr(default) == "gocore.default"


def test_default_not_chosen_when_ready():
    a = Chan(1)
    a.send(1)
    for _ in range(50):
        a.send(1, timeout=0) if len(a) == 0 else None
        assert select(default, a.recv)[0] == 1


def test_send_on_closed_raises_when_chosen():
    a = Chan(1)
    a.close()
    with pytest.raises(ClosedChannelError):
        select((a.send, 1))
    with pytest.raises(ClosedChannelError):
        select((a.send, 1), default)


def test_timeout():
    a = Chan()
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        select(a.recv, (a.send, 1), timeout=0.05)
    assert time.monotonic() - t0 >= 0.04
    with pytest.raises(TimeoutError):
        select(a.recv, timeout=0)
    with pytest.raises(ValueError):
        select(a.recv, timeout=-1)


def test_no_cases_blocks_until_timeout():
    with pytest.raises(TimeoutError):
        select(timeout=0.02)


# ---- blocking select woken later ----

def test_blocked_select_woken_by_send():
    a, b = Chan(), Chan()
    t = _spawn(lambda: (time.sleep(0.05), b.send("late")))
    assert select(a.recv, b.recv, timeout=10) == (1, "late")
    t.join(10)


def test_blocked_select_woken_by_buffered_send():
    a, b = Chan(4), Chan(4)
    t = _spawn(lambda: (time.sleep(0.05), a.send("late")))
    assert select(a.recv, b.recv, timeout=10) == (0, "late")
    t.join(10)


def test_blocked_select_woken_by_close():
    a, b = Chan(), Chan(2)
    t = _spawn(lambda: (time.sleep(0.05), b.close()))
    assert select(a.recv, b.recv_ok, timeout=10) == (1, (None, False))
    t.join(10)


def test_blocked_select_send_woken_by_receiver():
    a = Chan()
    got = []
    t = _spawn(lambda: (time.sleep(0.05), got.append(a.recv())))
    assert select((a.send, "s"), timeout=10) == (0, None)
    t.join(10)
    assert got == ["s"]


def test_blocked_select_send_woken_by_free_slot():
    a = Chan(1)
    a.send("old")
    t = _spawn(lambda: (time.sleep(0.05), a.recv()))
    assert select((a.send, "new"), timeout=10) == (0, None)
    t.join(10)
    assert a.recv() == "new"


def test_blocked_select_send_closed_while_waiting_raises():
    a = Chan()
    t = _spawn(lambda: (time.sleep(0.05), a.close()))
    with pytest.raises(ClosedChannelError):
        select((a.send, 1), timeout=10)
    t.join(10)


def test_select_matches_select():
    a = Chan()
    out = []
    t = _spawn(lambda: out.append(select(a.recv, timeout=10)))
    _blocked_soon()
    assert select((a.send, 7), timeout=10) == (0, None)
    t.join(10)
    assert out == [(0, 7)]


def test_same_channel_send_and_recv_in_one_select_does_not_match_itself():
    a = Chan()
    with pytest.raises(TimeoutError):
        select(a.recv, (a.send, 1), timeout=0.05)
    b = Chan(1)
    i, _ = select(b.recv, (b.send, 1))       # the send is ready, the recv is not
    assert i == 1 and b.recv() == 1


def test_duplicate_channel_cases():
    a = Chan()
    t = _spawn(lambda: (time.sleep(0.05), a.send("d")))
    i, v = select(a.recv, a.recv, a.recv_ok, timeout=10)
    assert v in ("d", ("d", True))
    t.join(10)
    with pytest.raises(TimeoutError):
        a.recv(timeout=0.02)                  # delivered once only


# ---- views and nilchan ----

def test_views_as_cases():
    a = Chan(1)
    r, s = a.recv_only(), a.send_only()
    assert select((s.send, "v")) == (0, None)
    assert select(r.recv) == (0, "v")
    a.send("w")
    assert select(r.recv_ok) == (0, ("w", True))


def test_nilchan_cases_never_ready():
    assert select(nilchan.recv, (nilchan.send, 1), default) == (2, None)
    with pytest.raises(TimeoutError):
        select(nilchan.recv, nilchan.recv_only().recv_ok, timeout=0.02)
    a = Chan(1)
    a.send(1)
    for _ in range(20):
        assert select(nilchan.recv, a.recv) == (1, 1)
        a.send(1)


def test_nilchan_case_beside_a_late_sender():
    a = Chan()
    t = _spawn(lambda: (time.sleep(0.05), a.send(3)))
    assert select(nilchan.recv, a.recv, timeout=10) == (1, 3)
    t.join(10)


# ---- bad cases ----

@pytest.mark.parametrize("bad", [
    42,
    "recv",
    lambda: None,
    (Chan().recv, 1),
    (Chan().send,),
    (Chan().send, 1, 2),
    Chan(),
    Chan().close,
    (print, 1),
])
def test_bad_case_is_type_error_naming_it(bad):
    a = Chan(1)
    a.send(1)
    with pytest.raises(TypeError, match="case 1") as info:
        select(default, bad, a.recv)
    assert repr(bad)[:20] in str(info.value)
    assert a.recv() == 1                    # nothing was consumed, channel intact


def test_function_bound_to_a_foreign_object_is_rejected():
    import types
    fake = types.MethodType(Chan.recv, "not a channel")
    with pytest.raises(TypeError, match="case 0"):
        select(fake, default)
    fake_send = types.MethodType(Chan.send, object())
    with pytest.raises(TypeError, match="case 0"):
        select((fake_send, 1), default)


def test_subclass_channels_work_as_cases():
    class MyChan(Chan):
        pass
    a = MyChan(1)
    a.send(1)
    assert select(a.recv) == (0, 1)


def test_bare_send_method_is_type_error():
    a = Chan(1)
    with pytest.raises(TypeError, match=r"\(ch.send, value\)"):
        select(a.send)
    assert len(a) == 0


def test_two_defaults_is_type_error():
    with pytest.raises(TypeError, match="default"):
        select(default, default)


def test_unknown_keyword_is_type_error_naming_it():
    a = Chan(1)
    a.send(1)
    with pytest.raises(TypeError, match="timout"):
        select(a.recv, timout=1)
    assert select(a.recv, timeout=1) == (0, 1)     # nothing was taken by the failed call


def test_signature_is_visible():
    import inspect
    assert str(inspect.signature(select)) == "(*cases, timeout=None)"
    assert "Example" in select.__doc__


def test_python_override_of_recv_is_not_a_case():
    class Logged(Chan):
        def recv(self, timeout=None):
            return super().recv(timeout)
    a = Logged(1)
    a.send(1)
    with pytest.raises(TypeError, match="case 0"):
        select(a.recv, default)
    assert a.recv() == 1


# ---- fairness ----

def test_two_ready_channels_chosen_uniformly():
    a, b = Chan(1), Chan(1)
    a.send(0)
    b.send(1)
    counts = [0, 0]
    chans = (a, b)
    for _ in range(10_000):
        i, v = select(a.recv, b.recv)
        assert v == i
        counts[i] += 1
        chans[i].send(i)
    assert 4000 <= counts[0] <= 6000, counts


def test_three_ready_channels_all_chosen():
    chans = [Chan(1) for _ in range(3)]
    for i, c in enumerate(chans):
        c.send(i)
    counts = [0, 0, 0]
    for _ in range(6000):
        i, v = select(*(c.recv for c in chans))
        counts[i] += 1
        chans[i].send(v)
    assert all(1500 <= n <= 2500 for n in counts), counts


@pytest.mark.parametrize("n", [5, 24])
def test_many_ready_channels_each_chosen_uniformly(n):
    # 24 cases outrun one 64-bit draw of the shuffle (24! > 2^64): the redraw
    # must keep the later cases as likely as the first ones.
    chans = [Chan(1) for _ in range(n)]
    for i, c in enumerate(chans):
        c.send(i)
    cases = [c.recv for c in chans]
    counts = [0] * n
    rounds = 600 * n
    for _ in range(rounds):
        i, v = select(*cases)
        assert v == i
        counts[i] += 1
        chans[i].send(v)
    assert all(400 <= k <= 800 for k in counts), counts


def test_ready_send_and_recv_chosen_uniformly():
    a, b = Chan(1), Chan(1)
    b.send("x")
    counts = [0, 0]
    for _ in range(4000):
        i, _ = select((a.send, 1), b.recv)
        counts[i] += 1
        if i == 0:
            a.recv()
        else:
            b.send("x")
    assert 1600 <= counts[0] <= 2400, counts


# ---- race tests (exact invariants) ----

@pytest.mark.timeout(120)
@pytest.mark.parametrize("caps", [[0] * 8, [1] * 8, [0, 1, 2, 4, 0, 1, 8, 64]])
def test_select_over_8_channels_loses_and_duplicates_nothing(caps):
    chans = [Chan(c) for c in caps]
    per_sender = 3000
    senders = len(chans)
    got = [[] for _ in range(3)]
    remaining = [senders * per_sender]
    lock = threading.Lock()
    cases = [c.recv_ok for c in chans]

    def worker(i):
        if i < senders:
            for n in range(per_sender):
                chans[i].send((i, n))
        else:
            out = got[i - senders]
            while True:
                with lock:
                    if remaining[0] == 0:
                        return
                try:
                    k, (v, ok) = select(*cases, timeout=0.05)
                except TimeoutError:
                    continue
                assert ok and v[0] == k
                out.append(v)
                with lock:
                    remaining[0] -= 1

    run_threads(senders + 3, worker, timeout=100)
    everything = [x for g in got for x in g]
    assert len(everything) == senders * per_sender
    assert len(set(everything)) == senders * per_sender
    for g in got:                           # FIFO per sender, per receiver
        last = {}
        for p, n in g:
            assert n > last.get(p, -1)
            last[p] = n


@pytest.mark.timeout(120)
def test_select_senders_and_select_receivers_overlapping_sets():
    """Selects on both sides over overlapping channel sets listed in
    different orders: no deadlock, every value exactly once."""
    a, b, c = Chan(), Chan(), Chan(1)
    n = 4000
    got = []
    remaining = [4 * n]
    lock = threading.Lock()
    sets = [(a, b), (b, c), (c, a), (a, b, c)]

    def sender(i):
        mine = sets[i]
        for k in range(n):
            select(*((ch.send, (i, k)) for ch in mine))

    def receiver(i):
        mine = sets[(i + 1) % len(sets)][::-1]     # every channel has several receivers
        local = []
        while True:
            with lock:
                if remaining[0] == 0:
                    break
            try:
                _, v = select(*(ch.recv for ch in mine), timeout=0.05)
            except TimeoutError:
                continue
            local.append(v)
            with lock:
                remaining[0] -= 1
        with lock:
            got.extend(local)

    run_threads(8, lambda i: sender(i) if i < 4 else receiver(i - 4), timeout=100)
    assert len(got) == 4 * n
    assert len(set(got)) == 4 * n


@pytest.mark.timeout(60)
def test_waiter_on_two_channels_is_woken_exactly_once():
    """Two senders race to complete one blocked select: exactly one wins."""
    for _ in range(200):
        a, b = Chan(), Chan()
        results = []
        done = threading.Event()
        wins = []

        def receiver():
            results.append(select(a.recv, b.recv, timeout=10))
            done.set()

        def send(ch, v):
            while not done.is_set():
                try:
                    ch.send(v, timeout=0)
                except TimeoutError:
                    time.sleep(0)           # let the receiver run (GIL builds)
                    continue
                wins.append(v)
                return

        threads = [_spawn(send, a, "a"), _spawn(send, b, "b"), _spawn(receiver)]
        for th in threads:
            th.join(10)
        assert len(wins) == 1
        assert results == [(0, "a")] if wins == ["a"] else results == [(1, "b")]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("cap", [0, 2])
def test_timed_out_selects_never_complete_later(cap):
    chans = [Chan(cap), Chan(cap)]
    sent = [0] * 3
    received = [0] * 3
    stop = threading.Event()

    def sender(i):
        rnd = random.Random(i)
        for k in range(2000):
            try:
                select(*((c.send, k) for c in chans), timeout=rnd.choice([0, 0.0001, 0.001]))
                sent[i] += 1
            except TimeoutError:
                pass

    def receiver(i):
        rnd = random.Random(50 + i)
        while not stop.is_set():
            try:
                select(*(c.recv for c in chans), timeout=rnd.choice([0, 0.0001, 0.001]))
                received[i] += 1
            except TimeoutError:
                pass

    rs = [_spawn(receiver, i) for i in range(3)]
    run_threads(3, sender)
    stop.set()
    for t in rs:
        t.join(30)
    for c in chans:
        while True:
            try:
                c.recv(timeout=0)
                received[0] += 1
            except TimeoutError:
                break
    assert sum(sent) == sum(received) > 0


@pytest.mark.timeout(60)
def test_select_with_default_polling_under_contention():
    """Non-blocking selects (default) from many threads: exactly-once."""
    ch = Chan(16)
    n = 20_000
    got = []
    lock = threading.Lock()
    done = threading.Event()

    def worker(i):
        if i == 0:
            for k in range(n):
                ch.send(k)
            done.set()
        else:
            local = []
            while True:
                j, v = select(ch.recv, default)
                if j == 0:
                    local.append(v)
                elif done.is_set() and len(ch) == 0:
                    break
                else:
                    time.sleep(0)           # let the producer run (GIL builds)
            with lock:
                got.extend(local)

    run_threads(4, worker, timeout=50)
    assert sorted(got) == list(range(n))


def test_exports():
    for name in ("Chan", "nilchan", "select", "default", "after", "Timer", "after_func", "Ticker"):
        assert name in gocore.__all__
        assert getattr(gocore, name) is not None


def test_select_claimed_by_a_thread_as_it_queues():
    """A sender claims the selecting thread in the moment after its channel
    locks are released (make test-debug widens that gap): the select must
    collect that sender's unpark before its frame goes, so later selects on
    the same stack see no stray wake-up and every value arrives once."""
    n = 20000
    ch, other = Chan(random.choice([0, 1])), Chan()

    def sender():
        for i in range(n):
            ch.send(i, timeout=30)

    t = _spawn(sender)
    got = [select(ch.recv, other.recv, timeout=30)[1] for _ in range(n)]
    t.join(30)
    assert got == list(range(n))
