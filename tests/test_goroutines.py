"""goroutines(), dump_goroutines(), dump_on_signal() and gocore.testing.verify_none()."""
import io
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import traceback

import pytest

import gocore
import helpers
from gocore.testing import verify_none

from helpers import wait_until


def _find(fn):
    """The one live goroutine running `fn` (by name), or None."""
    found = [g for g in gocore.goroutines() if g.name == fn.__qualname__]
    assert len(found) <= 1, found
    return found[0] if found else None


def _state_of(fn):
    g = _find(fn)
    return None if g is None else g.state


def _observe(state, block, release):
    """Start a goroutine that blocks in `block`, check goroutines() reports
    `state` for it (with waiting_since and a stack inside `block`), release it
    and check it is gone."""
    done = gocore.WaitGroup()
    done.add(1)

    def blocked_here():
        try:
            block()
        finally:
            done.done()

    before = time.monotonic()
    gocore.go(blocked_here)
    wait_until(lambda: _state_of(blocked_here) == state)
    g = _find(blocked_here)
    assert g.waiting_since is not None and before - 1 <= g.waiting_since <= time.monotonic()
    assert any(fs.name == "blocked_here" for fs in g.stack)
    assert isinstance(g.stack, traceback.StackSummary)
    release()
    assert done.wait(timeout=10)
    wait_until(lambda: _find(blocked_here) is None)


def test_state_chan_receive():
    ch = gocore.Chan()
    _observe("chan receive", ch.recv, lambda: ch.send(1))


def test_state_chan_send():
    ch = gocore.Chan()
    _observe("chan send", lambda: ch.send(1), ch.recv)


def test_state_select():
    a, b = gocore.Chan(), gocore.Chan()
    _observe("select", lambda: gocore.select(a.recv, b.recv), lambda: b.send(2))


def test_state_nil_channels_and_empty_select():
    # Nothing can ever wake these: each goroutine waits with a timeout that
    # the test lets run out.
    def nil_recv():
        with pytest.raises(TimeoutError):
            gocore.nilchan.recv(timeout=0.5)

    def nil_send():
        with pytest.raises(TimeoutError):
            gocore.nilchan.send(1, timeout=0.5)

    def no_cases():
        with pytest.raises(TimeoutError):
            gocore.select(timeout=0.5)

    wg = gocore.WaitGroup()
    for fn, state in ((nil_recv, "chan receive (nil chan)"), (nil_send, "chan send (nil chan)"),
                      (no_cases, "select (no cases)")):
        wg.go(fn)
        wait_until(lambda: _state_of(fn) == state)
    assert wg.wait(timeout=30)


def test_state_mutex_lock():
    mu = gocore.Mutex()
    mu.lock()
    _observe("Mutex.lock", lambda: (mu.lock(), mu.unlock()), mu.unlock)


def test_state_mutex_acquire_with_timeout():
    mu = gocore.Mutex()
    mu.lock()
    _observe("Mutex.lock", lambda: (mu.acquire(timeout=60), mu.release()), mu.unlock)


def test_state_rwmutex_lock_and_rlock():
    rw = gocore.RWMutex()
    rw.rlock()
    _observe("RWMutex.lock", lambda: (rw.lock(), rw.unlock()), rw.runlock)
    rw.lock()
    _observe("RWMutex.rlock", lambda: (rw.rlock(), rw.runlock()), rw.unlock)
    assert rw._debug_state() == (0,) * 7


def test_state_cond_wait():
    mu = gocore.Mutex()
    c = gocore.Cond(mu)
    flag = []

    def wait():
        with mu:
            while not flag:
                c.wait()

    def release():
        with mu:
            flag.append(1)
            c.broadcast()

    _observe("Cond.wait", wait, release)


def test_state_waitgroup_wait():
    wg = gocore.WaitGroup()
    wg.add(1)
    _observe("WaitGroup.wait", wg.wait, wg.done)


def test_state_semaphore_acquire():
    sem = gocore.Semaphore(1)
    sem.acquire()
    _observe("Semaphore.acquire", lambda: (sem.acquire(), sem.release()), sem.release)
    assert sem._debug_state() == (0, 0)


def test_state_running_and_fields():
    stop = threading.Event()

    def spinning():
        while not stop.is_set():
            time.sleep(0.001)   # not a gocore wait: the record says running

    line = sys._getframe().f_lineno + 1
    gocore.go(spinning)
    try:
        wait_until(lambda: _state_of(spinning) == "running")
        g = _find(spinning)
        assert g.waiting_since is None
        assert g.name == "test_state_running_and_fields.<locals>.spinning"
        assert g.created_at == f"{__file__}:{line}"
        assert isinstance(g.id, int) and g.id > 0
    finally:
        stop.set()


def _created_at_of(start):
    """created_at of the goroutine `start(fn)` starts, fn blocking until released."""
    release = gocore.Chan()
    seen = []

    def job():
        release.recv()

    start(job)
    wait_until(lambda: _find(job) is not None)
    seen.append(_find(job).created_at)
    release.close()
    wait_until(lambda: _find(job) is None)
    return seen[0]


def test_created_at_points_at_the_callers_line_for_every_spawner():
    here = __file__
    wg = gocore.WaitGroup()
    g = gocore.ErrGroup()
    p = gocore.WorkerPool(2)
    line = sys._getframe().f_lineno
    assert _created_at_of(lambda fn: gocore.go(fn)) == f"{here}:{line + 1}"
    assert _created_at_of(lambda fn: wg.go(fn)) == f"{here}:{line + 2}"
    assert _created_at_of(lambda fn: g.go(fn)) == f"{here}:{line + 3}"
    assert _created_at_of(lambda fn: p.go(fn)) == f"{here}:{line + 4}"
    wg.wait()
    g.wait()
    p.wait()


def test_created_at_names_the_shipped_benchmarks_own_lines(monkeypatch):
    # gocore.bench uses gocore as a user does: its go() calls are not skipped
    # as gocore's own frames (which would also walk the stack on every spawn).
    from gocore.bench import layer
    burst = layer.go_burst(1)
    at = _created_at_of(lambda fn: (monkeypatch.setattr(layer, "_noop", fn),
                                    threading.Thread(target=burst, daemon=True).start()))
    path, _, line = at.rpartition(":")
    assert path.endswith(os.path.join("gocore", "bench", "layer.py")) and int(line) > 0


def test_dump_format_and_created_by_line():
    ch = gocore.Chan()

    def parked_worker():
        ch.recv()

    line = sys._getframe().f_lineno + 1
    gocore.go(parked_worker)
    try:
        wait_until(lambda: _state_of(parked_worker) == "chan receive")
        buf = io.StringIO()
        gocore.dump_goroutines(buf)
        text = buf.getvalue()
        g = _find(parked_worker)
        block = [b for b in text.split("\n\n") if b.startswith(f"goroutine {g.id} ")]
        assert len(block) == 1, text
        lines = block[0].splitlines()
        assert lines[0] == f"goroutine {g.id} [chan receive]:"
        assert "parked_worker(...)" in lines
        assert lines[-1] == (f"created by test_dump_format_and_created_by_line "
                             f"at {__file__}:{line}")
    finally:
        ch.close()


def test_dump_shows_minutes_for_long_waits():
    from gocore.dump import GoroutineInfo, format_goroutines
    g = GoroutineInfo(17, "f", "x.py:1", "chan receive", time.monotonic() - 150,
                      traceback.StackSummary(), "main")
    assert format_goroutines([g]).startswith("goroutine 17 [chan receive, 2 minutes]:\n")


def test_queued_goroutines_are_listed_as_runnable():
    # One worker busy holding the GIL-free wait; start many at once from a
    # thread that keeps the GIL: some are still queued when we look.
    gate = gocore.Chan()
    n = 200
    wg = gocore.WaitGroup()
    for _ in range(n):
        wg.go(gate.recv)
    states = {g.state for g in gocore.goroutines() if g.name == "Chan.recv"}
    assert states <= {"runnable", "running", "chan receive"}
    assert len([g for g in gocore.goroutines() if g.name == "Chan.recv"]) == n
    gate.close()
    assert wg.wait(timeout=30)


def test_verify_none_passes_when_goroutines_finish_in_time():
    gocore.go(time.sleep, 0.05)
    verify_none(timeout=5)


def test_verify_none_fails_with_the_dump_and_honours_ignore():
    ch = gocore.Chan()

    def leaky():
        ch.recv()

    gocore.go(leaky)
    try:
        with pytest.raises(AssertionError) as info:
            verify_none(timeout=0.05)
        msg = str(info.value)
        assert "leaky(...)" in msg and "[chan receive]" in msg
        verify_none(timeout=0.05, ignore=[leaky.__qualname__])
    finally:
        ch.close()
    verify_none(timeout=5)
    with pytest.raises(ValueError):
        verify_none(timeout=-1)


@pytest.mark.skipif(not hasattr(signal, "SIGQUIT"), reason="no SIGQUIT here")
def test_dump_on_signal_in_a_subprocess():
    code = textwrap.dedent("""
        import os, signal, gocore
        ch = gocore.Chan()
        def stuck_forever():
            ch.recv()
        gocore.go(stuck_forever)
        import time
        while not any(g.state == "chan receive" for g in gocore.goroutines()):
            time.sleep(0.01)
        prev = gocore.dump_on_signal()
        assert prev == signal.SIG_DFL
        os.kill(os.getpid(), signal.SIGQUIT)
        time.sleep(0.2)
        print("still alive")
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=60, env=_env())
    assert r.returncode == 0, r.stderr
    assert "still alive" in r.stdout
    assert "[chan receive]:" in r.stderr and "stuck_forever(...)" in r.stderr


def _env():
    env = dict(os.environ)
    src = helpers.GOCORE_PATH
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _run_pytest(tmp_path, body, *args):
    (tmp_path / "test_leaks.py").write_text(textwrap.dedent(body))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "gocore.pytest_plugin", "-p", "no:cacheprovider",
         "-q", str(tmp_path), *args],
        capture_output=True, text=True, timeout=120, env=_env(), cwd=str(tmp_path))


LEAKY_SUITE = """
    import gocore
    stuck = gocore.Chan()

    def leaked_worker():
        stuck.recv()

    def test_leaks(goroutine_leak_check):
        gocore.go(leaked_worker)

    def test_clean(goroutine_leak_check):
        done = gocore.Chan()
        gocore.go(done.close)
        done.recv()

    def test_not_checked():
        gocore.go(leaked_worker)
"""


def test_pytest_plugin_fixture(tmp_path):
    r = _run_pytest(tmp_path, LEAKY_SUITE)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "1 failed, 2 passed" in r.stdout, r.stdout
    assert "FAILED test_leaks.py::test_leaks" in r.stdout
    assert "leaked_worker(...)" in r.stdout and "[chan receive]" in r.stdout
    assert "test_leaks.py:9" in r.stdout         # created by ... at the test's go() line


def test_pytest_plugin_option_checks_every_test(tmp_path):
    r = _run_pytest(tmp_path, LEAKY_SUITE, "--gocore-leak-check")
    assert "2 failed, 1 passed" in r.stdout, r.stdout
    assert "FAILED test_leaks.py::test_not_checked" in r.stdout


def test_pytest_plugin_clean_suite_passes(tmp_path):
    r = _run_pytest(tmp_path, """
        import gocore
        def test_one():
            wg = gocore.WaitGroup()
            wg.go(sum, [1, 2])
            wg.wait()
    """, "--gocore-leak-check")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 passed" in r.stdout
