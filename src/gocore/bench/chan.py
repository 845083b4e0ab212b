"""Channel rows: Chan and select beside queue.Queue, SimpleQueue and the peers' queues.

Every queue-like side is reduced to its two ends, ``(put, get)``, so one
scenario function serves all of them; a peer's ends are built only when its
module imports.
"""
from __future__ import annotations

import queue
import random
import threading
from typing import Any, Callable, List, Tuple

import gocore

from .harness import Row, Side, peer

ROWS: List[Row] = []

Ends = Tuple[Callable[[Any], Any], Callable[[], Any]]


# ---- the ends of every queue-like implementation, by capacity (0: unbuffered) ----

def gocore_chan(cap: int) -> Ends:
    ch: gocore.Chan[Any] = gocore.Chan(cap)
    return ch.send, ch.recv


def stdlib_queue(cap: int) -> Ends:
    q: queue.Queue[Any] = queue.Queue(cap)
    return q.put, q.get


def simple_queue(cap: int) -> Ends:
    q: queue.SimpleQueue[Any] = queue.SimpleQueue()
    return q.put, q.get


def aiologic_simple_queue(cap: int) -> Ends:
    q = peer("aiologic").SimpleQueue()
    return q.put, q.green_get


def aiologic_queue(cap: int) -> Ends:
    q = peer("aiologic").Queue(cap)
    return q.green_put, q.green_get


def culsans_queue(cap: int) -> Ends:
    q = peer("culsans").Queue(cap).sync_q
    return q.put, q.get


def janus_queue(cap: int) -> Ends:
    q = peer("janus").Queue(cap).sync_q
    return q.put, q.get


def pygolang_chan(cap: int) -> Ends:
    ch = peer("golang").chan(cap)
    return ch.send, ch.recv


MakeEnds = Callable[[], Ends]


def side(label: str, ends: Callable[[int], Ends], cap: int,
         scenario: Callable[[MakeEnds, int], Callable[[], None]], **kw: Any) -> Side:
    """A side running `scenario` over fresh ends of one implementation and capacity."""
    return Side(label, lambda n: scenario(lambda: ends(cap), n), **kw)


# ---- scenarios over the ends ----

def put_get(make_ends: MakeEnds, n: int) -> Callable[[], None]:
    """n sends and n receives in one thread: the cost of the operations themselves."""
    put, get = make_ends()

    def run() -> None:
        for i in range(n):
            put(i)
            get()
    return run


def ping_pong(make_ends: MakeEnds, n: int) -> Callable[[], None]:
    """n round trips between this thread and an echo thread over two queues:
    every message wakes the other side, so this is the hand-off latency."""
    a_put, a_get = make_ends()
    b_put, b_get = make_ends()

    def echo() -> None:
        for _ in range(n):
            b_put(a_get())

    def run() -> None:
        t = threading.Thread(target=echo)
        t.start()
        for i in range(n):
            a_put(i)
            if b_get() != i:
                raise AssertionError("ping-pong: reply out of order")
        t.join()
    return run


def stream(make_ends: MakeEnds, n: int) -> Callable[[], None]:
    """One producer (this thread) to one consumer thread, n items; the
    consumer checks the sum, so nothing lost or duplicated passes."""
    put, get = make_ends()

    def run() -> None:
        got = [0]

        def consume() -> None:
            total = 0
            for _ in range(n):
                total += get()
            got[0] = total

        t = threading.Thread(target=consume)
        t.start()
        for i in range(n):
            put(i)
        t.join()
        if got[0] != n * (n - 1) // 2:
            raise AssertionError("stream: items lost or duplicated")
    return run


def select_ready(n: int, module: Any = gocore, chan: Any = gocore.Chan) -> Callable[[], None]:
    """select over two ready buffered channels, refilling the one it took from
    (gocore's, or a module with the same select(a.recv, b.recv) -> (i, v) form)."""
    a, b = chan(1), chan(1)
    a.send(0)
    b.send(1)
    chans = (a, b)
    select, ra, rb = module.select, a.recv, b.recv

    def run() -> None:
        for _ in range(n):
            i, v = select(ra, rb)
            chans[i].send(v)
    return run


def poll_ready(n: int) -> Callable[[], None]:
    """The stdlib stand-in: get_nowait on two SimpleQueues in random order,
    as select picks at random.  It cannot block, so it is a floor, not a peer."""
    a: queue.SimpleQueue[int] = queue.SimpleQueue()
    b: queue.SimpleQueue[int] = queue.SimpleQueue()
    a.put(0)
    b.put(1)
    orders = ((a, b), (b, a))
    empty = queue.Empty
    rnd = random.random

    def run() -> None:
        for _ in range(n):
            first, second = orders[rnd() < 0.5]
            try:
                v = first.get_nowait()
                first.put(v)
            except empty:
                v = second.get_nowait()
                second.put(v)
    return run


PEERS = [   # label, ends, module it needs
    ("aiologic SimpleQueue", aiologic_simple_queue, "aiologic"),
    ("aiologic Queue", aiologic_queue, "aiologic"),
    ("culsans Queue", culsans_queue, "culsans"),
    ("janus Queue", janus_queue, "janus"),
    ("pygolang chan", pygolang_chan, "golang"),
]


def peers(cap: int, scenario: Callable[[MakeEnds, int], Callable[[], None]], unbounded: bool = False,
          fraction: float = 1.0) -> List[Side]:
    """The peers' sides of a row; SimpleQueue-like peers only where capacity does not matter."""
    return [side(f"{label}({cap})" if "SimpleQueue" not in label else label, ends, cap, scenario, requires=mod,
                 fraction=fraction)
            for label, ends, mod in PEERS if unbounded or "SimpleQueue" not in label]


ROWS += [
    Row("Chan(1024) send+recv, 1 thread", "op", 1000, [
        side("gocore Chan(1024)", gocore_chan, 1024, put_get),
        side("queue.Queue(1024)", stdlib_queue, 1024, put_get),
        side("queue.SimpleQueue", simple_queue, 0, put_get),
    ] + peers(1024, put_get, unbounded=True)),
    Row("ping-pong, 2 threads", "round trip", 5000, [
        side("gocore Chan()", gocore_chan, 0, ping_pong),
        side("queue.Queue(1)", stdlib_queue, 1, ping_pong),
        side("queue.SimpleQueue", simple_queue, 0, ping_pong),
    ] + peers(1, ping_pong, unbounded=True), heavy=True, quick_n=300),
    Row("producer->consumer, cap 1024", "item", 100_000, [
        side("gocore Chan(1024)", gocore_chan, 1024, stream),
        side("queue.Queue(1024)", stdlib_queue, 1024, stream),
    # The peers stream a tenth of the items (still ten times the capacity): some
    # take 10-300 us an item, and a full-size run of theirs would take minutes.
    ] + peers(1024, stream, fraction=0.1), heavy=True, quick_n=5000),
    Row("select over 2 ready channels", "op", 1000, [
        Side("gocore select", select_ready),
        Side("SimpleQueue get_nowait poll", poll_ready),
        Side("pygolang select", lambda n: select_ready(n, peer("golang"), peer("golang").chan), requires="golang"),
    ]),
]
