"""The rate limiter and the breakers follow gocore.testing.fake_clock exactly."""
import pytest

import gocore
from gocore import Chan, go
from gocore.testing import fake_clock
from helpers import outcome_in_goroutine

RateLimiter = gocore.RateLimiter
CircuitBreaker = gocore.CircuitBreaker
AdaptiveBreaker = gocore.AdaptiveBreaker


def test_rate_limiter_refills_on_the_virtual_clock():
    with fake_clock() as clock:
        lim = RateLimiter(10, burst=2)
        assert lim.allow() and lim.allow()
        assert not lim.allow()
        clock.advance(0.05)
        assert lim.tokens() == pytest.approx(0.5, abs=1e-9)
        assert not lim.allow()
        clock.advance(0.05)
        assert lim.allow()
        assert not lim.allow()
        clock.advance(3600)
        assert lim.tokens() == 2


def test_rate_limiter_acquire_waits_exactly_its_delay():
    with fake_clock() as clock:
        lim = RateLimiter(1, burst=1)
        assert lim.allow()
        out = outcome_in_goroutine(lim.acquire)
        assert clock.wait_idle(timeout=30)
        clock.advance(0.999)
        assert out._try_recv() == (None, None)
        clock.advance(0.001)
        assert out.recv(timeout=30) == ("ok", None)


def test_rate_limiter_refuses_a_wait_past_its_timeout_without_waiting():
    with fake_clock() as clock:
        t0 = clock.now()
        lim = RateLimiter(1, burst=1)
        assert lim.allow()
        with pytest.raises(TimeoutError):
            lim.acquire(timeout=0.5)
        assert clock.now() == t0
        assert lim.reserve().delay() == pytest.approx(1.0)


def test_rate_limiter_paces_a_loop_under_auto_advance():
    with fake_clock(auto_advance=True) as clock:
        t0 = clock.now()
        lim = RateLimiter(2, burst=1)
        for _ in range(5):
            lim.acquire()
        assert clock.now() - t0 == pytest.approx(2.0, abs=1e-6)


def test_circuit_breaker_half_opens_after_exactly_reset_timeout():
    changes = []
    with fake_clock() as clock:
        br = CircuitBreaker(failure_threshold=2, reset_timeout=60,
                            on_state_change=lambda old, new: changes.append((old, new)))

        def boom():
            raise ValueError("down")

        for _ in range(2):
            with pytest.raises(ValueError):
                br.call(boom)
        assert br.state == "open"
        with pytest.raises(gocore.BreakerOpenError):
            br.call(lambda: 1)
        clock.advance(59.999)
        assert br.state == "open"
        clock.advance(0.001)
        assert br.state == "half_open"
        assert br.call(lambda: 7) == 7
        assert br.state == "closed"
    assert changes == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]


def test_adaptive_breaker_forgets_outside_its_window():
    with fake_clock() as clock:
        br = AdaptiveBreaker(k=1.5, window=10.0, buckets=40)

        def boom():
            raise ValueError("down")

        rejected = 0
        for _ in range(200):
            try:
                br.call(boom)
            except ValueError:
                pass
            except gocore.BreakerOpenError:
                rejected += 1
        assert rejected > 0                      # throttling after failures
        clock.advance(10.0)                      # the whole window rolled past
        for _ in range(50):
            assert br.call(lambda: 1) == 1       # nothing to hold against it
