"""go(), the panic handler, num_goroutine() and the worker pool behind them."""
import gc
import os
import subprocess
import sys
import textwrap
import threading
import time
import weakref

import pytest

import gocore
import helpers
from helpers import wait_until
from gocore import _gocore


@pytest.fixture
def panics():
    """Collect panics for the duration of a test; restore the handler after."""
    got = []
    previous = gocore.set_panic_handler(got.append)
    yield got
    gocore.set_panic_handler(previous)


# ---- basics ----

def test_go_runs_fn_with_args_and_kwargs():
    done = threading.Event()
    got = []

    def fn(a, b, *, c):
        got.append((a, b, c, threading.get_ident()))
        done.set()

    gocore.go(fn, 1, 2, c=3)
    assert done.wait(10)
    assert got[0][:3] == (1, 2, 3)
    assert got[0][3] != threading.get_ident()


def test_go_returns_none_and_ignores_result():
    wg = gocore.WaitGroup()
    wg.add(1)
    assert gocore.go(lambda: (wg.done(), 42)) is None
    assert wg.wait(10)


def test_go_kwargs_named_fn_and_args_allowed():
    # fn is positional-only, so keyword arguments called "fn" or "args" pass through.
    box = []
    wg = gocore.WaitGroup()
    wg.add(1)

    def f(**kw):
        box.append(kw)
        wg.done()

    gocore.go(f, fn=1, args=2)
    assert wg.wait(10)
    assert box == [{"fn": 1, "args": 2}]


@pytest.mark.parametrize("bad", [None, 42, "fn", object()])
def test_go_non_callable_raises_type_error(bad):
    before = gocore.num_goroutine()
    with pytest.raises(TypeError, match="callable"):
        gocore.go(bad)
    assert gocore.num_goroutine() == before
    # still works afterwards
    ev = threading.Event()
    gocore.go(ev.set)
    assert ev.wait(10)


def test_go_requires_fn():
    with pytest.raises(TypeError):
        gocore.go()


def test_num_goroutine_counts_running_goroutines():
    base = gocore.num_goroutine()
    release = threading.Event()
    started = gocore.WaitGroup()
    started.add(5)

    def body():
        started.done()
        release.wait()

    for _ in range(5):
        gocore.go(body)
    assert started.wait(10)
    assert gocore.num_goroutine() >= base + 5
    release.set()
    wait_until(lambda: gocore.num_goroutine() <= base)


def test_goroutine_references_dropped_after_return():
    class Payload:
        pass

    obj = Payload()
    ref = weakref.ref(obj)
    wg = gocore.WaitGroup()
    wg.go(lambda o: None, obj)
    del obj
    assert wg.wait(10)
    wait_until(lambda: (gc.collect(), ref() is None)[1])


def test_waitgroup_go():
    wg = gocore.WaitGroup()
    total = gocore.AtomicInt()
    for i in range(100):
        wg.go(total.add, i)
    assert wg.wait(10)
    assert total.load() == sum(range(100))


def test_waitgroup_go_done_even_when_fn_raises(panics):
    wg = gocore.WaitGroup()
    wg.go(lambda: 1 / 0)
    assert wg.wait(10)
    wait_until(lambda: len(panics) == 1)
    assert isinstance(panics[0], ZeroDivisionError)


# ---- panics ----

def test_panic_goes_to_handler_with_traceback(panics):
    def boom():
        raise ValueError("boom")

    gocore.go(boom)
    wait_until(lambda: panics)
    exc = panics[0]
    assert isinstance(exc, ValueError) and str(exc) == "boom"
    assert exc.__traceback__ is not None
    import traceback
    frames = [f.name for f in traceback.extract_tb(exc.__traceback__)]
    assert "boom" in frames


@pytest.mark.parametrize("exc_type", [SystemExit, KeyboardInterrupt, GeneratorExit])
def test_base_exceptions_are_reported_and_pool_survives(panics, exc_type):
    def die():
        raise exc_type()

    for _ in range(3):
        gocore.go(die)
    wait_until(lambda: len(panics) == 3)
    assert all(isinstance(e, exc_type) for e in panics)
    ev = threading.Event()
    gocore.go(ev.set)
    assert ev.wait(10)


def test_set_panic_handler_returns_previous():
    first = []
    second = []
    prev0 = gocore.set_panic_handler(first.append)
    try:
        assert gocore.set_panic_handler(second.append) == first.append
        assert gocore.set_panic_handler(None) == second.append
        # the default is reported as None, so it can be restored by passing it back
        assert gocore.set_panic_handler(None) is None
    finally:
        gocore.set_panic_handler(prev0)


def test_set_panic_handler_rejects_non_callable():
    with pytest.raises(TypeError, match="callable"):
        gocore.set_panic_handler(42)
    # the current handler was not replaced
    got = []
    prev = gocore.set_panic_handler(got.append)
    try:
        assert prev is None or callable(prev)
    finally:
        gocore.set_panic_handler(prev)


def test_default_handler_prints_traceback(capsys):
    prev = gocore.set_panic_handler(None)
    try:
        wg = gocore.WaitGroup()

        def unlucky_goroutine():
            raise RuntimeError("printed by the default handler")

        wg.go(unlucky_goroutine)
        assert wg.wait(10)
        err = []
        wait_until(lambda: (err.append(capsys.readouterr().err), "default handler" in "".join(err))[1])
        text = "".join(err)
        assert "Traceback" in text and "unlucky_goroutine" in text
    finally:
        gocore.set_panic_handler(prev)


def test_default_handler_output_in_subprocess():
    code = textwrap.dedent("""
        import time, gocore
        def failing_goroutine():
            raise RuntimeError("kaboom")
        wg = gocore.WaitGroup()
        wg.go(failing_goroutine)
        wg.wait()
        time.sleep(0.2)
        print("still alive")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env=_subprocess_env())
    assert out.returncode == 0, out.stderr
    assert "still alive" in out.stdout
    assert "Traceback" in out.stderr
    assert "failing_goroutine" in out.stderr
    assert "RuntimeError: kaboom" in out.stderr


def test_handler_that_raises_does_not_kill_the_pool(capsys):
    calls = gocore.AtomicInt()

    def bad_handler(exc):
        calls.add(1)
        raise OSError("handler broke")

    prev = gocore.set_panic_handler(bad_handler)
    err = []
    try:
        # One at a time: concurrent writers to a captured stderr can lose
        # output on free-threaded builds, which is not what is tested here.
        for k in range(1, 6):
            gocore.go(lambda: 1 / 0)
            wait_until(lambda: calls.load() == k)
            wait_until(lambda: (err.append(capsys.readouterr().err),
                                "".join(err).count("OSError: handler broke") == k)[1])
    finally:
        gocore.set_panic_handler(prev)
    ev = threading.Event()
    gocore.go(ev.set)
    assert ev.wait(10)


# ---- scheduling guarantees ----

@pytest.mark.timeout(120)
def test_stress_10000_goroutines_from_4_threads_run_exactly_once(race):
    n_per = 2500
    counts = [0] * (4 * n_per)
    lock = threading.Lock()
    wg = gocore.WaitGroup()

    def mark(i):
        with lock:
            counts[i] += 1

    def spawner(t):
        for k in range(n_per):
            wg.add(1)
            gocore.go(lambda i: (mark(i), wg.done()), t * n_per + k)

    race(4, spawner)
    assert wg.wait(60)
    assert counts == [1] * (4 * n_per)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("park_on", ["waitgroup", "chan"])
def test_1000_parked_goroutines_do_not_block_new_ones(park_on):
    n = 1000
    gate = gocore.WaitGroup()
    gate.add(1)
    ch = gocore.Chan()
    parked = gocore.WaitGroup()
    parked.add(n)
    finished = gocore.AtomicInt()

    def sleeper():
        parked.done()
        if park_on == "waitgroup":
            gate.wait()               # parked in the core
        else:
            ch.recv_ok()              # parked on a channel until it is closed
        finished.add(1)

    for _ in range(n):
        gocore.go(sleeper)
    assert parked.wait(60)
    # every sleeper is blocked; new goroutines must still run
    ok = gocore.WaitGroup()
    for _ in range(50):
        ok.go(lambda: None)
    assert ok.wait(30), "a new goroutine waited behind parked ones"
    assert finished.load() == 0
    gate.done()
    ch.close()
    wait_until(lambda: finished.load() == n, timeout=60)


@pytest.mark.timeout(60)
def test_goroutines_blocked_outside_the_core_do_not_starve_new_ones():
    # threading.Event and time.sleep block where the scheduler cannot see it.
    n = 64
    release = threading.Event()
    started = gocore.WaitGroup()
    started.add(n)

    def blocked():
        started.done()
        release.wait()

    for _ in range(n):
        gocore.go(blocked)
    assert started.wait(30)
    ev = threading.Event()
    gocore.go(ev.set)
    assert ev.wait(30)
    release.set()


@pytest.mark.timeout(60)
def test_goroutine_waiting_for_a_goroutine_it_spawns():
    # A chain: each goroutine spawns the next and waits for it.  With a fixed
    # pool this deadlocks once the chain is longer than the pool.
    depth = 200
    result = []

    def link(k):
        if k == depth:
            result.append(k)
            return
        wg = gocore.WaitGroup()
        wg.go(link, k + 1)
        wg.wait()

    wg = gocore.WaitGroup()
    wg.go(link, 0)
    assert wg.wait(30)
    assert result == [depth]


@pytest.mark.timeout(60)
def test_spawn_storm_while_others_block():
    # Half the goroutines block on a Cond until the end; the other half must
    # all complete meanwhile.  Exercises the idle accounting under churn.
    mu = gocore.Mutex()
    cond = gocore.Cond(mu)
    state = {"go": False, "done": 0}
    blocked = gocore.WaitGroup()
    quick = gocore.WaitGroup()

    def block():
        with mu:
            while not state["go"]:
                cond.wait()

    def spawner(i):
        for k in range(300):
            if k % 2:
                blocked.go(block)
            else:
                quick.go(lambda: None)

    ts = [threading.Thread(target=spawner, args=(i,)) for i in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert quick.wait(30)
    with mu:
        state["go"] = True
        cond.broadcast()
    assert blocked.wait(30)


def test_idle_workers_retire():
    old = _gocore._set_idle_timeout(0.05)
    try:
        wg = gocore.WaitGroup()
        for _ in range(20):
            wg.go(time.sleep, 0.01)
        assert wg.wait(10)
        assert _gocore._scheduler_stats()["workers"] >= 1
        wait_until(lambda: _gocore._scheduler_stats()["workers"] == 0, timeout=30)
        stats = _gocore._scheduler_stats()
        assert stats["available"] == 0 and stats["queued"] == 0
        # and the pool comes back when needed
        ev = threading.Event()
        gocore.go(ev.set)
        assert ev.wait(10)
    finally:
        _gocore._set_idle_timeout(old)


def test_idle_timeout_validation():
    with pytest.raises(ValueError):
        _gocore._set_idle_timeout(0)


def test_workers_are_reused():
    # Sequential goroutines run on a warm worker, not a new thread each.
    idents = set()
    for _ in range(50):
        wg = gocore.WaitGroup()
        wg.go(lambda: idents.add(threading.get_ident()))
        assert wg.wait(10)
    assert len(idents) < 50


def test_accounting_settles():
    # After a burst, every worker is either available or gone, nothing queued.
    wg = gocore.WaitGroup()
    for _ in range(500):
        wg.go(lambda: None)
    assert wg.wait(30)
    wait_until(lambda: gocore.num_goroutine() == 0)
    wait_until(lambda: _gocore._scheduler_stats()["queued"] == 0)
    wait_until(lambda: (lambda s: s["available"] == s["workers"])(_gocore._scheduler_stats()))


# ---- process life ----

def _subprocess_env():
    env = dict(os.environ)
    src = helpers.GOCORE_PATH
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.mark.timeout(120)
def test_interpreter_exit_with_running_goroutines():
    code = textwrap.dedent("""
        import threading, time, gocore
        gate = gocore.WaitGroup(); gate.add(1)
        ev = threading.Event()
        started = gocore.WaitGroup(); started.add(40)
        def parked(): started.done(); gate.wait()            # in the core
        def sleeping(): started.done(); time.sleep(1000)     # in the OS
        def waiting(): started.done(); ev.wait()             # on a threading lock
        def busy():
            started.done()
            x = 0
            while True:
                x += 1                                        # holding the GIL
        for i in range(10):
            gocore.go(parked); gocore.go(sleeping); gocore.go(waiting); gocore.go(busy)
        started.wait()
        print("exiting", gocore.num_goroutine(), flush=True)
    """)
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=90,
                         env=_subprocess_env())
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "exiting 40"
    assert "Fatal" not in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert time.monotonic() - t0 < 60


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.timeout(60)
def test_goroutines_work_in_forked_child():
    # Warm the pool so the parent has idle workers the child must not count on.
    wg = gocore.WaitGroup()
    for _ in range(8):
        wg.go(time.sleep, 0.001)
    assert wg.wait(10)
    code = textwrap.dedent("""
        import os, sys, time, warnings, gocore
        warnings.simplefilter("ignore")
        wg = gocore.WaitGroup()
        for _ in range(8):
            wg.go(time.sleep, 0.001)
        wg.wait()
        pid = os.fork()
        if pid == 0:
            ok = gocore.WaitGroup()
            for _ in range(20):
                ok.go(lambda: None)
            os._exit(0 if ok.wait(10) else 3)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env=_subprocess_env())
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "0"


@pytest.mark.timeout(120)
def test_fan_out_tree_of_blocked_parents(race):
    # Every goroutine spawns two children and blocks until they finish: all
    # interior nodes are blocked at once, so any goroutine queued behind a
    # busy worker would deadlock the tree.  Four trees grow concurrently.
    depth = 7
    leaves = gocore.AtomicInt()

    def node(d):
        if d == depth:
            leaves.add(1)
            return
        wg = gocore.WaitGroup()
        wg.go(node, d + 1)
        wg.go(node, d + 1)
        assert wg.wait(60)

    def grow(i):
        wg = gocore.WaitGroup()
        wg.go(node, 0)
        assert wg.wait(90)

    race(4, grow)
    assert leaves.load() == 4 * 2 ** depth
