"""Spinning before parking: the SPINNING/IDLE hand-shake never loses or
duplicates a wake-up, whatever the mode, and deadlines still hold."""
import threading

import pytest

import gocore
from gocore import _gocore
from helpers import join_all, start_thread

MODES = [0, 1, 2]   # off, gated (the default policy), always (ungated)


@pytest.fixture(params=MODES, ids=["off", "gated", "forced"])
def spin_mode(request):
    previous = _gocore._set_park_spin(request.param)
    yield request.param
    _gocore._set_park_spin(previous)


def test_set_park_spin_returns_previous_mode():
    previous = _gocore._set_park_spin(2)
    try:
        assert _gocore._set_park_spin(0) in (0, 2)   # 0 where the parker never spins
        assert _gocore._set_park_spin(1) == 0
    finally:
        _gocore._set_park_spin(previous)


def test_ping_pong_loses_and_duplicates_nothing(spin_mode):
    n = 3000
    a, b = gocore.Chan(), gocore.Chan()
    got = []

    def echo():
        for _ in range(n):
            b.send(a.recv() + 1)

    t = start_thread(echo)
    for i in range(n):
        a.send(2 * i)
        got.append(b.recv())
    join_all([t])
    assert got == [2 * i + 1 for i in range(n)]


def test_contended_mutex_counts_exactly(spin_mode):
    mu = gocore.Mutex()
    box = [0]
    per = 20000

    def work():
        for _ in range(per):
            with mu:
                v = box[0]
                box[0] = v + 1

    join_all([start_thread(work) for _ in range(3)])
    assert box[0] == 3 * per
    assert mu._debug_state() == (0, 0)


def test_many_waiters_each_woken_once(spin_mode):
    # More waiters than CPUs: most park while a few spin; every one must be
    # woken exactly once by its own send.
    n_waiters, rounds = 8, 200
    ch = gocore.Chan()
    got = []
    lock = threading.Lock()

    def waiter():
        for _ in range(rounds):
            v = ch.recv()
            with lock:
                got.append(v)

    threads = [start_thread(waiter) for _ in range(n_waiters)]
    for i in range(n_waiters * rounds):
        ch.send(i)
    join_all(threads)
    assert sorted(got) == list(range(n_waiters * rounds))


def test_deadline_shorter_than_the_spin_budget_still_times_out(spin_mode):
    ch = gocore.Chan()
    for _ in range(50):
        with pytest.raises(TimeoutError):
            ch.recv(timeout=1e-6)
    # Every timed-out receiver withdrew: a send finds nobody waiting.
    with pytest.raises(TimeoutError):
        ch.send(1, timeout=1e-3)
    t = start_thread(ch.send, 42)
    assert ch.recv(timeout=30) == 42
    join_all([t])


def test_wake_that_lands_during_the_spin_is_kept(spin_mode):
    # The partner answers at once, so with spinning on most answers arrive
    # while the receiver is still SPINNING (no futex wake is issued): none may
    # be lost, and the timed waits must report the value, not a timeout.
    n = 2000
    req, rep = gocore.Chan(), gocore.Chan()

    def server():
        for _ in range(n):
            rep.send(req.recv())

    t = start_thread(server)
    for i in range(n):
        req.send(i)
        assert rep.recv(timeout=30) == i
    join_all([t])
