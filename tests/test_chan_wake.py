"""close() of a channel with thousands of parked threads: every one is woken
(the wake-up is relayed from thread to thread past the first few, see
chan_wake_all), whatever kind of wait it is in, and none is woken twice."""
import threading
import time

import pytest

import gocore

N = 3000            # far past the fan-out of 16: chains of ~190 relays each


@pytest.fixture
def small_stacks():
    old = threading.stack_size(256 * 1024)
    try:
        yield
    finally:
        threading.stack_size(old)


def _start(n, target):
    parked = gocore.WaitGroup()
    parked.add(n)
    threads = [threading.Thread(target=target, args=(i, parked), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    parked.wait()
    return threads


def _join(threads):
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a parked thread was never woken"


def _settle():
    # Every thread has reached its blocking call (the WaitGroup): a moment
    # more and all are parked.  One that is not yet parked still gets the
    # same answer, just without the relay.
    time.sleep(0.3)


@pytest.mark.timeout(120)
def test_close_wakes_every_kind_of_parked_receiver(small_stacks):
    ch = gocore.Chan()
    other = gocore.Chan()
    results = [None] * N
    lock = threading.Lock()

    def rx(i, parked):
        parked.done()
        kind = i % 4
        try:
            if kind == 0:
                results[i] = ("recv", ch.recv_ok())
            elif kind == 1:
                results[i] = ("select", gocore.select(other.recv, ch.recv))
            elif kind == 2:
                # A deadline long enough that it passes only if the relay
                # were lost; passing while the wake-up is relayed is fine.
                results[i] = ("timed", ch.recv_ok(timeout=30))
            else:
                results[i] = ("iter", list(ch))
        except BaseException as exc:       # recorded, so the test names it
            with lock:
                results[i] = ("raised", exc)

    threads = _start(N, rx)
    _settle()
    ch.close()
    _join(threads)
    for i, r in enumerate(results):
        kind, got = r
        assert kind != "raised", got
        if kind in ("recv", "timed"):
            assert got == (None, False), (i, r)
        elif kind == "select":
            assert got == (1, None), (i, r)
        else:
            assert got == [], (i, r)
    # The channel the selects also waited on holds none of their records.
    with pytest.raises(TimeoutError):
        other.send(1, timeout=0)


@pytest.mark.timeout(120)
def test_close_fails_every_parked_sender_and_loses_no_value(small_stacks):
    ch = gocore.Chan()
    outcome = [None] * N

    def tx(i, parked):
        parked.done()
        try:
            ch.send(i)
            outcome[i] = "sent"
        except gocore.ClosedChannelError:
            outcome[i] = "closed"

    threads = _start(N, tx)
    _settle()
    got = [ch.recv() for _ in range(10)]      # a few complete before the close
    ch.close()
    _join(threads)
    assert sorted(i for i, o in enumerate(outcome) if o == "sent") == sorted(got)
    assert outcome.count("closed") == N - 10


@pytest.mark.timeout(120)
def test_crowded_close_then_the_same_threads_park_again(small_stacks):
    # Relay pointers must not outlive the wake-up they belong to: the same
    # threads park on a second channel, which is closed with a short crowd.
    first, second = gocore.Chan(), gocore.Chan()
    seen = []
    lock = threading.Lock()
    n = 200

    def rx(i, parked):
        parked.done()
        a = first.recv_ok()
        b = second.recv_ok(timeout=30) if i % 10 == 0 else None
        with lock:
            seen.append((a, b))

    threads = _start(n, rx)
    _settle()
    first.close()
    _settle()
    second.close()
    _join(threads)
    assert len(seen) == n
    assert all(a == (None, False) for a, _ in seen)
    assert sum(b == (None, False) for _, b in seen) == n // 10
