"""Channel benchmarks: each gocore operation beside its stdlib anchor."""
import queue
import random
import threading

from benchutil import compare

import gocore

N_LOOP = 1000          # operations per timed call in single-thread loops
N_PINGPONG = 5000      # round trips per timed call
N_STREAM = 100_000     # items per producer -> consumer run


# ---- send+recv in one thread: Chan(1024) vs Queue(1024) and SimpleQueue ----
def _put_get_loop(put, get, n=N_LOOP):
    def run():
        for i in range(n):
            put(i)
            get()
    return run


def test_chan_send_recv_gocore(benchmark):
    compare(benchmark, "Chan(1024) send+recv, 1 thread", "gocore", per=N_LOOP)
    ch = gocore.Chan(1024)
    benchmark(_put_get_loop(ch.send, ch.recv))


def test_chan_send_recv_queue(benchmark):
    compare(benchmark, "Chan(1024) send+recv, 1 thread", "queue.Queue(1024)", baseline=True, per=N_LOOP)
    q = queue.Queue(1024)
    benchmark(_put_get_loop(q.put, q.get))


def test_chan_send_recv_simplequeue(benchmark):
    compare(benchmark, "Chan(1024) send+recv, 1 thread", "queue.SimpleQueue", baseline=True, per=N_LOOP)
    q = queue.SimpleQueue()
    benchmark(_put_get_loop(q.put, q.get))


# ---- ping-pong between two threads over two unbuffered channels ----
def _ping_pong(a_put, a_get, b_put, b_get, n=N_PINGPONG):
    def echo():
        for _ in range(n):
            b_put(a_get())

    def run():
        t = threading.Thread(target=echo)
        t.start()
        for i in range(n):
            a_put(i)
            b_get()
        t.join()
    return run


def test_pingpong_gocore(benchmark):
    compare(benchmark, "ping-pong, 2 threads (round trip)", "gocore Chan()", per=N_PINGPONG)
    a, b = gocore.Chan(), gocore.Chan()
    benchmark.pedantic(_ping_pong(a.send, a.recv, b.send, b.recv), rounds=7, iterations=1)


def test_pingpong_simplequeue(benchmark):
    compare(benchmark, "ping-pong, 2 threads (round trip)", "SimpleQueue", baseline=True, per=N_PINGPONG)
    a, b = queue.SimpleQueue(), queue.SimpleQueue()
    benchmark.pedantic(_ping_pong(a.put, a.get, b.put, b.get), rounds=7, iterations=1)


def test_pingpong_queue1(benchmark):
    compare(benchmark, "ping-pong, 2 threads (round trip)", "Queue(1)", baseline=True, per=N_PINGPONG)
    a, b = queue.Queue(1), queue.Queue(1)
    benchmark.pedantic(_ping_pong(a.put, a.get, b.put, b.get), rounds=7, iterations=1)


# ---- one producer -> one consumer, 100,000 items ----
def _stream(put, get, n=N_STREAM):
    def consume():
        for _ in range(n):
            get()

    def run():
        t = threading.Thread(target=consume)
        t.start()
        for i in range(n):
            put(i)
        t.join()
    return run


def test_stream_gocore(benchmark):
    compare(benchmark, "producer->consumer 100k items", "gocore Chan(1024)", per=N_STREAM)
    ch = gocore.Chan(1024)
    benchmark.pedantic(_stream(ch.send, ch.recv), rounds=5, iterations=1)


def test_stream_queue(benchmark):
    compare(benchmark, "producer->consumer 100k items", "Queue(1024)", baseline=True, per=N_STREAM)
    q = queue.Queue(1024)
    benchmark.pedantic(_stream(q.put, q.get), rounds=3, iterations=1)


# ---- select over two ready channels ----
def test_select_gocore(benchmark):
    compare(benchmark, "select over 2 ready channels", "gocore select", per=N_LOOP)
    a, b = gocore.Chan(1), gocore.Chan(1)
    a.send(0)
    b.send(1)
    chans = (a, b)
    select, ra, rb = gocore.select, a.recv, b.recv

    def run():
        for _ in range(N_LOOP):
            i, v = select(ra, rb)
            chans[i].send(v)
    benchmark(run)


def test_select_simplequeue_polling(benchmark):
    compare(benchmark, "select over 2 ready channels", "SimpleQueue get_nowait poll", baseline=True,
            per=N_LOOP)
    a, b = queue.SimpleQueue(), queue.SimpleQueue()
    a.put(0)
    b.put(1)
    qs = ((a, b), (b, a))
    Empty = queue.Empty
    rnd = random.random

    def run():
        for _ in range(N_LOOP):
            first, second = qs[rnd() < 0.5]       # random poll order, as select
            try:
                v = first.get_nowait()
                first.put(v)
            except Empty:
                v = second.get_nowait()
                second.put(v)
    benchmark(run)
