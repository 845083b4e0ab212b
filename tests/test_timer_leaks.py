"""Timers nobody references are collected (Go 1.23), and tiny periods keep ticking."""
import gc
import math
import weakref

import pytest

from gocore import Chan, Ticker, Timer, after, after_func, select
from gocore import timers as _timers


def _pending():
    return _timers._queue.pending()


def _settled_pending():
    gc.collect()
    return _pending()


def test_unreferenced_unstopped_ticker_is_freed():
    base = _settled_pending()
    tickers = [Ticker(3600) for _ in range(200)]
    refs = [weakref.ref(t) for t in tickers]
    crefs = [weakref.ref(t.c) for t in tickers]
    assert _pending() == base + 200
    del tickers
    gc.collect()
    assert all(r() is None for r in refs)
    assert all(r() is None for r in crefs)
    assert _pending() == base


def test_unreferenced_pending_after_leaves_the_heap():
    base = _settled_pending()
    chans = [after(3600) for _ in range(300)]
    assert _pending() == base + 300
    del chans
    gc.collect()
    assert _pending() == base


def test_unreferenced_timer_is_freed_and_state_too():
    base = _settled_pending()
    t = Timer(3600)
    tref, cref, sref = weakref.ref(t), weakref.ref(t.c), weakref.ref(t._state)
    del t
    gc.collect()
    assert tref() is None and cref() is None       # at once
    assert _pending() == base                      # its entry is gone from the heap,
    assert sref() is None                          # and with it the last of the timer


def test_select_with_after_in_a_loop_does_not_grow_the_heap():
    ch = Chan(1)
    base = _settled_pending()
    for i in range(20_000):
        ch.send(i)
        j, v = select(ch.recv, after(60).recv)
        assert (j, v) == (0, i)
    # Husks are buried at the next schedule and compacted in bulk: the heap
    # stays bounded by the compaction threshold, not by the loop's length.
    assert len(_timers._queue._heap) < 4 * _timers._COMPACT_MIN_DEAD + base
    gc.collect()
    assert _pending() == base


def test_referenced_channel_still_fires_without_its_timer():
    c = after(0.01)                        # the Timer object itself is gone at once
    gc.collect()
    assert isinstance(c.recv(timeout=30), float)


def test_referenced_timer_still_fires_without_its_channel_name():
    t = Timer(0.01)
    gc.collect()
    assert isinstance(t.c.recv(timeout=30), float)


def test_referenced_ticker_channel_keeps_ticking():
    c = Ticker(0.005).c
    gc.collect()
    got = [c.recv(timeout=30) for _ in range(3)]
    assert got == sorted(got) and len(set(got)) == 3


def test_unreferenced_after_func_still_runs():
    done = Chan(1)
    after_func(0.01, lambda: done.send("ran"))
    gc.collect()
    assert done.recv(timeout=30) == "ran"


def test_dropped_fast_tickers_stop_costing_the_timer_thread():
    base = _settled_pending()
    tickers = [Ticker(0.001) for _ in range(200)]
    tickers[0].c.recv(timeout=30)          # they are live and ticking
    del tickers
    gc.collect()
    # Nothing is left to wake the timer thread: no entry, live or dead, that
    # would come due (each dropped ticker stops at its next tick at the latest).
    assert _pending() == base


# ---- tiny periods ----

def test_tiny_ticker_period_keeps_ticking():
    tk = Ticker(5e-324)
    try:
        got = [tk.c.recv(timeout=30) for _ in range(5)]
    finally:
        tk.stop()
    assert got == sorted(got)


@pytest.mark.parametrize("period", [5e-324, 1e-300, 1e-12, 1e-9])
def test_next_tick_is_always_after_now(period):
    now = 123456.789
    prev = now - 1000.0
    nxt = _timers._next_tick(prev, period, now)
    assert now < nxt < math.inf
    assert _timers._next_tick(now, period, now) > now


def test_next_tick_keeps_the_phase_when_late():
    assert _timers._next_tick(10.0, 1.0, 10.5) == 11.0
    assert _timers._next_tick(10.0, 1.0, 13.5) == 14.0
    assert _timers._next_tick(10.0, 1.0, 14.0) == 15.0
