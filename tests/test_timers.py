"""Timers: after, Timer, after_func, Ticker (Go 1.23 semantics) and the shared timer thread."""
import gc
import math
import threading
import time
import weakref
from datetime import timedelta

import pytest

import gocore
from gocore import Chan, Ticker, Timer, after, after_func, select
from gocore import timers as _timers

GO_MAX_DURATION = (2**63 - 1) / 1e9     # Go's largest Duration, in seconds


def _nothing_arrives(ch, within=0.1):
    with pytest.raises(TimeoutError):
        ch.recv(timeout=within)
    return True


# ---- after ----

def test_after_sends_monotonic_time_once():
    t0 = time.monotonic()
    ch = after(0.05)
    assert isinstance(ch, Chan)
    v = ch.recv(timeout=10)
    assert isinstance(v, float)
    assert v >= t0 + 0.05 - 0.002
    assert v <= time.monotonic()
    assert _nothing_arrives(ch, 0.05)


def test_after_in_select():
    ch = Chan()
    i, v = select(ch.recv, after(0.02).recv, timeout=10)
    assert i == 1 and isinstance(v, float)


def test_negative_and_zero_fire_at_once():
    assert after(-5).recv(timeout=5) <= time.monotonic()
    assert after(0).recv(timeout=5) <= time.monotonic()
    assert Timer(-1).c.recv(timeout=5) <= time.monotonic()


def test_timedelta_duration():
    assert after(timedelta(milliseconds=10)).recv(timeout=5)


def test_go_max_duration_does_not_overflow_into_a_fire():
    t = Timer(GO_MAX_DURATION)
    ch = after(GO_MAX_DURATION)
    huge = Timer(10**400)               # beyond a float: still "never"
    assert _nothing_arrives(t.c, 0.1)
    assert _nothing_arrives(ch, 0.01)
    assert t.stop() is True
    assert huge.stop() is True


@pytest.mark.parametrize("bad", ["1", b"1", None, [1]])
def test_bad_duration_type(bad):
    with pytest.raises(TypeError):
        Timer(bad)
    with pytest.raises(TypeError):
        after(bad)


def test_nan_duration():
    with pytest.raises(ValueError):
        Timer(math.nan)
    with pytest.raises(ValueError):
        Ticker(math.nan)


# ---- Timer.stop / reset ----

def test_stop_pending_timer():
    t = Timer(0.05)
    assert t.stop() is True
    assert t.stop() is False
    assert _nothing_arrives(t.c, 0.15)


def test_stop_after_received_is_false():
    t = Timer(0.01)
    t.c.recv(timeout=5)
    assert t.stop() is False


def test_fired_but_unreceived_counts_as_pending_and_is_discarded():
    t = Timer(0.01)
    deadline = time.monotonic() + 5
    while len(t.c) == 0 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert len(t.c) == 1                  # fired, not received
    assert t.stop() is True
    assert len(t.c) == 0
    assert _nothing_arrives(t.c, 0.05)


def test_reset_pending_timer():
    t = Timer(10)
    t0 = time.monotonic()
    assert t.reset(0.02) is True
    v = t.c.recv(timeout=5)
    assert v >= t0 + 0.02 - 0.002
    assert _nothing_arrives(t.c, 0.05)


def test_reset_stopped_and_fired_timers():
    t = Timer(10)
    t.stop()
    assert t.reset(0.01) is False
    assert t.c.recv(timeout=5)
    assert t.reset(0.01) is False          # fired and received
    assert t.c.recv(timeout=5)


def test_reset_discards_stale_value():
    t = Timer(0.01)
    time.sleep(0.05)                       # fired, value waiting in c
    t_reset = time.monotonic()
    assert t.reset(0.05) is True
    v = t.c.recv(timeout=5)
    assert v >= t_reset + 0.05 - 0.002     # the new value, not the stale one
    assert _nothing_arrives(t.c, 0.05)


@pytest.mark.timeout(60)
def test_no_stale_value_after_stop_under_races():
    """Go 1.23: once stop() returns, nothing from before can be received."""
    stale = 0
    for i in range(300):
        t = Timer(0.0005 * (i % 4))
        time.sleep(0.0005 * (i % 3))
        t.stop()
        try:
            t.c.recv(timeout=0)
            stale += 1
        except TimeoutError:
            pass
    assert stale == 0


def test_timer_repr():
    t = Timer(10)
    assert "pending" in repr(t)
    t.stop()
    assert "idle" in repr(t)


# ---- after_func ----

def test_after_func_runs_fn():
    done = threading.Event()
    t = after_func(0.01, done.set)
    assert t.c is None
    assert done.wait(10)
    assert t.stop() is False


def test_after_func_stop_prevents_run():
    ran = []
    t = after_func(0.05, lambda: ran.append(1))
    assert t.stop() is True
    time.sleep(0.15)
    assert ran == []


def test_after_func_reset():
    ran = []
    ev = threading.Event()
    t = after_func(10, lambda: (ran.append(time.monotonic()), ev.set()))
    t0 = time.monotonic()
    assert t.reset(0.02) is True
    assert ev.wait(10)
    assert ran[0] >= t0 + 0.02 - 0.002


def test_after_func_needs_callable():
    with pytest.raises(TypeError):
        after_func(1, "nope")


def test_after_func_does_not_run_on_timer_thread():
    where = []
    ev = threading.Event()
    after_func(0, lambda: (where.append(threading.current_thread().name), ev.set()))
    assert ev.wait(10)
    assert where[0] != "gocore-timer"


# ---- Ticker ----

def test_ticker_ticks():
    t0 = time.monotonic()                  # before: the schedule starts inside Ticker()
    tk = Ticker(0.02)
    assert tk.c.cap == 1
    vals = [tk.c.recv(timeout=5) for _ in range(3)]
    tk.stop()
    assert vals == sorted(vals)
    assert vals[0] >= t0 + 0.02 - 0.002
    assert vals[2] - t0 >= 0.06 - 0.005


def test_ticker_drops_ticks_for_slow_reader():
    tk = Ticker(0.005)
    deadline = time.monotonic() + 10
    while len(tk.c) == 0 and time.monotonic() < deadline:
        time.sleep(0.005)
    first = time.monotonic()
    time.sleep(0.1)                        # ~20 more ticks, no room: dropped
    assert len(tk.c) == 1
    assert after(0).recv(timeout=5)        # the timer thread never blocked on it
    stale = tk.c.recv(timeout=0)
    assert stale <= first                  # the one buffered tick is the old one
    fresh = tk.c.recv(timeout=5)
    assert fresh > first + 0.1 - 0.002     # then ticking resumes at the current time
    tk.stop()


def test_ticker_stop_leaves_nothing():
    tk = Ticker(0.01)
    time.sleep(0.05)
    tk.stop()
    assert len(tk.c) == 0
    assert _nothing_arrives(tk.c, 0.05)


def test_ticker_reset():
    tk = Ticker(10)
    t0 = time.monotonic()
    tk.reset(0.02)
    v = tk.c.recv(timeout=5)
    assert v >= t0 + 0.02 - 0.002
    tk.stop()
    with pytest.raises(ValueError):
        tk.reset(0)


@pytest.mark.parametrize("bad", [0, -1, -0.5])
def test_ticker_non_positive_interval(bad):
    with pytest.raises(ValueError):
        Ticker(bad)


def test_ticker_huge_interval():
    tk = Ticker(GO_MAX_DURATION)
    assert _nothing_arrives(tk.c, 0.05)
    tk.stop()


# ---- the timer thread ----

def _timer_threads():
    return [t for t in threading.enumerate() if t.name == "gocore-timer"]


def test_one_thread_for_a_thousand_timers():
    after(0)                               # make sure the thread exists
    before = threading.active_count()
    ts = [Timer(100 + i) for i in range(1000)]
    assert threading.active_count() <= before
    assert len(_timer_threads()) == 1
    assert _timers._queue._thread.daemon
    for t in ts:
        assert t.stop()


def test_stopped_timers_are_compacted():
    ts = [Timer(1000) for _ in range(2000)]
    for t in ts:
        t.stop()
    assert len(_timers._queue._heap) < 1000


def test_stopped_timer_drops_references_at_once():
    class Payload:
        def __call__(self):
            pass
    p = Payload()
    ref = weakref.ref(p)
    t = after_func(1000, p)
    del p
    gc.collect()
    assert ref() is not None               # pending: kept alive
    t.stop()
    del t
    gc.collect()
    assert ref() is None                   # the husk left in the heap holds nothing
    q = Payload()
    handle = _timers._schedule(time.monotonic() + 1000, q)
    ref = weakref.ref(q)
    del q
    assert handle.cancel() is True
    gc.collect()
    assert ref() is None and handle.callback is None


def test_timer_object_collectable_after_stop():
    t = Timer(1000)
    ref = weakref.ref(t)
    t.stop()
    del t
    gc.collect()
    assert ref() is None


def test_earlier_deadline_wakes_the_thread():
    far = Timer(1000)                      # the thread sleeps towards this one
    time.sleep(0.02)
    t0 = time.monotonic()
    assert after(0.02).recv(timeout=5) >= t0
    assert time.monotonic() - t0 < 4
    far.stop()


@pytest.mark.timeout(60)
def test_timers_fire_in_deadline_order_and_stopped_never_fire():
    import random
    rnd = random.Random(7)
    fired = []
    now = time.monotonic()
    handles = []
    for i in range(300):
        when = now + rnd.uniform(0.01, 0.3)
        h = _timers._schedule(when, (lambda w=when, i=i: fired.append((w, i))))
        handles.append((when, i, h))
    stopped = set()
    for when, i, h in handles[::3]:
        assert h.cancel() is True
        stopped.add(i)
    deadline = time.monotonic() + 20
    while len(fired) < 200 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    got = list(fired)
    assert len(got) == 200
    assert [w for w, _ in got] == sorted(w for w, _ in got)
    assert not stopped & {i for _, i in got}
    for when, i, h in handles:
        assert h.cancel() is False         # fired or already cancelled


def test_schedule_callback_exception_does_not_kill_thread(capsys):
    def boom():
        raise RuntimeError("boom in timer")
    _timers._schedule(time.monotonic(), boom)
    assert after(0.01).recv(timeout=5)
    assert after(0.01).recv(timeout=5)


@pytest.mark.timeout(60)
def test_many_timers_concurrently_stopped_and_fired():
    """Stops racing with fires.  Nobody receives, so every stop() must
    return True (pending, or fired-but-unreceived and discarded) and no
    value may be left behind or arrive later."""
    n = 400
    ts = [Timer(0.001 * (i % 20)) for i in range(n)]
    results = [None] * n

    def stopper(k):
        for i in range(k, n, 4):
            results[i] = ts[i].stop()

    threads = [threading.Thread(target=stopper, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    time.sleep(0.1)
    assert results == [True] * n
    assert sum(len(t.c) for t in ts) == 0
