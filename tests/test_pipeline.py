"""Channel pipelines: generate, fan_out, fan_in, pipe.  Outputs always close,
an exception in a stage reaches the consumer as the same object, and no
goroutine outlives a cancelled pipeline."""
import itertools
import threading
import time

import pytest

import gocore
from gocore import fan_in, fan_out, generate, pipe

def settled(baseline, timeout=10.0):
    end = time.monotonic() + timeout
    while gocore.num_goroutine() > baseline and time.monotonic() < end:
        time.sleep(0.001)
    return gocore.num_goroutine() <= baseline


def test_generate():
    out = generate(range(5))
    assert isinstance(out, gocore.RecvChan)
    assert list(out) == [0, 1, 2, 3, 4]
    assert out.recv_ok() == (None, False)
    assert generate([], cap=4).cap == 4


def test_pipe_ordered_and_unordered():
    for workers in (1, 2, 4, 7):
        out = pipe(generate(range(300)), lambda x: x * 3, workers=workers, cap=workers)
        assert list(out) == [x * 3 for x in range(300)]
        out = pipe(generate(range(300)), lambda x: x * 3, workers=workers, ordered=False)
        assert sorted(out) == [x * 3 for x in range(300)]


def test_pipe_ordered_with_uneven_work():
    def slow_evens(x):
        if x % 2 == 0:
            time.sleep(0.001)
        return x
    assert list(pipe(generate(range(100)), slow_evens, workers=4)) == list(range(100))


def test_pipe_stages_chain():
    out = pipe(pipe(generate(range(50)), lambda x: x + 1, workers=3), lambda x: -x, workers=2)
    assert list(out) == [-(x + 1) for x in range(50)]


def test_fan_out_fan_in():
    outs = fan_out(generate(range(1000), cap=8), 4, lambda x: x * 2, cap=2)
    assert len(outs) == 4 and all(isinstance(o, gocore.RecvChan) for o in outs)
    assert sorted(fan_in(*outs)) == [x * 2 for x in range(1000)]


def test_fan_out_each_output_closes():
    outs = fan_out(generate(range(40)), 3, str)
    got = []
    lock = threading.Lock()

    def drain(o):
        for v in o:
            with lock:
                got.append(v)
    ts = [threading.Thread(target=drain, args=(o,)) for o in outs]
    for t in ts:
        t.start()
    for t in ts:
        t.join(10)
        assert not t.is_alive()
    assert sorted(got, key=int) == [str(x) for x in range(40)]


def test_fan_in_of_user_channels_and_none():
    a, b = gocore.Chan(3), gocore.Chan(3)
    for i in range(3):
        a.send(i)
        b.send(10 + i)
    a.close()
    b.close()
    assert sorted(fan_in(a, b.recv_only())) == [0, 1, 2, 10, 11, 12]
    assert list(fan_in()) == []


def test_validation():
    with pytest.raises(TypeError):
        pipe([1, 2], str)
    with pytest.raises(ValueError):
        pipe(generate([]), str, workers=0)
    with pytest.raises(ValueError):
        generate([], cap=-1)
    with pytest.raises(TypeError):
        fan_in(generate([]), 3)
    with pytest.raises(ValueError):
        fan_out(generate([]), 0, str)


@pytest.mark.parametrize("build", ["pipe1", "pipe4", "unordered", "fan"])
def test_ctx_cancel_closes_outputs_and_leaves_nothing(build):
    baseline = gocore.num_goroutine()
    ctx, cancel = gocore.with_cancel(gocore.background())
    src = generate(itertools.count(), ctx=ctx)
    if build == "pipe1":
        outs = [pipe(src, lambda x: x, ctx=ctx)]
    elif build == "pipe4":
        outs = [pipe(src, lambda x: x, workers=4, ctx=ctx)]
    elif build == "unordered":
        outs = [pipe(src, lambda x: x, workers=4, ordered=False, ctx=ctx)]
    else:
        outs = [fan_in(*fan_out(src, 3, lambda x: x, ctx=ctx), ctx=ctx)]
    out = outs[0]
    for _ in range(10):
        out.recv(timeout=10)
    cancel()                                   # the consumer stops here
    drained = 0
    for _ in out:                              # ends: the output closes
        drained += 1
        assert drained < 10**6
    assert settled(baseline), gocore.num_goroutine()


def test_consumer_stops_without_draining():
    baseline = gocore.num_goroutine()
    ctx, cancel = gocore.with_cancel(gocore.background())
    out = pipe(generate(itertools.count(), ctx=ctx), str, workers=2, ctx=ctx)
    assert out.recv(timeout=10) == "0"
    cancel()                                   # no further receive at all
    assert settled(baseline)


def test_ctx_already_done():
    ctx, cancel = gocore.with_cancel(gocore.background())
    cancel()
    assert len(list(pipe(generate(range(10**6), ctx=ctx), str, ctx=ctx))) < 10**6


@pytest.mark.parametrize("workers,ordered", [(1, True), (4, True), (4, False)])
def test_exception_in_fn_reaches_consumer(workers, ordered):
    baseline = gocore.num_goroutine()
    err = ValueError("bad item")
    produced = gocore.AtomicInt()

    def source():
        for i in itertools.count():
            produced.add(1)
            yield i

    def fn(x):
        if x == 20:
            raise err
        return x
    out = pipe(generate(source()), fn, workers=workers, ordered=ordered)
    got = []
    with pytest.raises(ValueError) as info:
        for v in out:
            got.append(v)
    assert info.value is err
    if ordered:
        assert got == list(range(len(got))) and len(got) <= 20
    with pytest.raises(ValueError) as again:   # every later receive raises it too
        out.recv()
    assert again.value is err
    # The failure cancelled the stage upstream: the generator stopped.
    assert settled(baseline)
    assert produced.load() < 10**5


def test_exception_travels_down_a_chain():
    err = KeyError("deep")

    def fail_at_5(x):
        if x == 5:
            raise err
        return x
    first = pipe(generate(range(100)), fail_at_5)
    second = pipe(first, lambda x: x * 10, workers=2)
    merged = fan_in(second)
    with pytest.raises(KeyError) as info:
        list(merged)
    assert info.value is err


def test_exception_in_fan_out_and_in_iterable():
    err = RuntimeError("w")

    def fn(x):
        if x == 3:
            raise err
        return x
    outs = fan_out(generate(range(100)), 2, fn)
    with pytest.raises(RuntimeError) as info:
        list(fan_in(*outs))
    assert info.value is err

    def broken():
        yield 1
        raise err
    out = generate(broken())
    assert out.recv() == 1
    with pytest.raises(RuntimeError) as info:
        out.recv()
    assert info.value is err


def test_stress_exact_many_items():
    n = 20000
    src = generate(range(n), cap=32)
    outs = fan_out(src, 4, lambda x: x, cap=16)
    merged = fan_in(*outs, cap=16)
    out = pipe(merged, lambda x: x + 1, workers=3, ordered=False, cap=8)
    got = list(out)
    assert len(got) == n and sorted(got) == list(range(1, n + 1))


@pytest.mark.parametrize("workers,ordered", [(1, True), (3, True), (3, False)])
def test_cancel_closes_output_while_fn_is_busy(workers, ordered):
    baseline = gocore.num_goroutine()
    ctx, cancel = gocore.with_cancel(gocore.background())
    release = threading.Event()
    entered = threading.Event()

    def stuck(x):
        entered.set()
        release.wait(10)
        return x
    out = pipe(generate(itertools.count(), ctx=ctx), stuck, workers=workers, ordered=ordered, ctx=ctx)
    assert entered.wait(10)
    cancel()
    assert out.recv(timeout=10) is None       # closed although fn has not returned
    assert out.recv_ok() == (None, False)
    release.set()
    assert settled(baseline)
