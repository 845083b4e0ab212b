"""A real pipeline, three ways: generate 64 KiB blocks -> SHA-256 -> aggregate.

Two workers per stage, bounded buffers of the same size between stages,
identical work per block; only the plumbing differs:

  gocore     Chan(BUFFER) between stages, stages run by gocore.go()
  queue      queue.Queue(BUFFER) between stages, threading.Thread workers
  futures    concurrent.futures: one ThreadPoolExecutor(2) per stage, blocks
             flow through futures (at most BUFFER blocks in flight per stage)

Every variant checks the same aggregate, so none can skip work.

    python -m gocore.bench.pipeline [blocks]   # blocks/second each, over a sweep of buffer sizes
"""
import hashlib
import queue
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, List, Optional, Tuple

import gocore

from .harness import relay

BLOCK = 64 * 1024
BUFFER = 16
WORKERS = 2


def make_block(i: int) -> bytes:
    """Block i: 64 KiB, distinct per index, cheap to make."""
    return i.to_bytes(8, "little") * (BLOCK // 8)


def digest(block: bytes) -> int:
    """The hashing stage (hashlib releases the GIL for large inputs)."""
    return int.from_bytes(hashlib.sha256(block).digest()[:8], "little")


def expected(n: int) -> int:
    """The aggregate every variant must produce: XOR of the first 8 bytes of each digest."""
    acc = 0
    for i in range(n):
        acc ^= digest(make_block(i))
    return acc


# ---- gocore: channels + go() ----

def run_gocore(n: int) -> int:
    blocks: gocore.Chan[bytes] = gocore.Chan(BUFFER)
    digests: gocore.Chan[int] = gocore.Chan(BUFFER)
    results: gocore.Chan[int] = gocore.Chan(WORKERS)

    def generate(start: int) -> None:
        send = blocks.send
        for i in range(start, n, WORKERS):
            send(make_block(i))

    def hasher() -> None:
        send = digests.send
        for block in blocks:
            send(digest(block))

    def aggregate() -> None:
        acc = 0
        for d in digests:
            acc ^= d
        results.send(acc)

    generators = gocore.WaitGroup()
    hashers = gocore.WaitGroup()
    for w in range(WORKERS):
        generators.go(generate, w)
        hashers.go(hasher)
        gocore.go(aggregate)
    generators.wait()
    blocks.close()
    hashers.wait()
    digests.close()
    acc = 0
    for _ in range(WORKERS):
        acc ^= results.recv() or 0       # results is never closed, so recv() gives an int
    return acc


# ---- queue.Queue + threading.Thread ----

_DONE = object()


def run_queue(n: int) -> int:
    blocks: "queue.Queue[Any]" = queue.Queue(BUFFER)
    digests: "queue.Queue[Any]" = queue.Queue(BUFFER)
    totals = [0] * WORKERS

    def generate(start: int) -> None:
        put = blocks.put
        for i in range(start, n, WORKERS):
            put(make_block(i))

    def hasher() -> None:
        relay(blocks.get, digests.put, digest, _DONE)

    def aggregate(k: int) -> None:
        get = digests.get
        acc = 0
        while True:
            d = get()
            if d is _DONE:
                totals[k] = acc
                return
            acc ^= d

    gens = [threading.Thread(target=generate, args=(w,)) for w in range(WORKERS)]
    hashers = [threading.Thread(target=hasher) for _ in range(WORKERS)]
    aggs = [threading.Thread(target=aggregate, args=(w,)) for w in range(WORKERS)]
    for t in gens + hashers + aggs:
        t.start()
    for t in gens:
        t.join()
    for _ in hashers:
        blocks.put(_DONE)
    for t in hashers:
        t.join()
    for _ in aggs:
        digests.put(_DONE)
    for t in aggs:
        t.join()
    acc = 0
    for a in totals:
        acc ^= a
    return acc


# ---- concurrent.futures ----

_executors: Optional[Tuple[ThreadPoolExecutor, ...]] = None


def _pools() -> Tuple[ThreadPoolExecutor, ...]:
    """Warm executors, created once (as a long-running program would)."""
    global _executors
    if _executors is None:
        _executors = tuple(ThreadPoolExecutor(WORKERS) for _ in range(3))
    return _executors


def run_futures(n: int) -> int:
    gen_ex, hash_ex, agg_ex = _pools()
    lock = threading.Lock()
    acc = [0]

    def aggregate(d: int) -> None:
        with lock:
            acc[0] ^= d

    pending = []
    for start in range(0, n, BUFFER):
        # A window of BUFFER blocks in flight: generate, then hash each block
        # as its generation future completes, then aggregate.
        window = [gen_ex.submit(make_block, i) for i in range(start, min(n, start + BUFFER))]
        hashed = [hash_ex.submit(lambda f: digest(f.result()), f) for f in window]
        pending = [agg_ex.submit(lambda f: aggregate(f.result()), f) for f in hashed]
        for f in pending:
            f.result()
    return acc[0]


VARIANTS = {"gocore": run_gocore, "queue": run_queue, "futures": run_futures}


def blocks_per_second(fn: Callable[[int], int], n: int, repeat: int = 5) -> float:
    """Median throughput of `repeat` runs, checking the aggregate each time."""
    want = expected(n)
    rates = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        got = fn(n)
        dt = time.perf_counter() - t0
        if got != want:
            raise AssertionError(f"{fn.__name__}: wrong aggregate")
        rates.append(n / dt)
    rates.sort()
    return rates[len(rates) // 2]


def main(argv: List[str]) -> int:
    global BUFFER
    n = int(argv[1]) if len(argv) > 1 else 2000
    # The benchmark table uses BUFFER = 16; the sweep shows how the plumbing
    # cost moves with the buffer size (small buffers block more often).
    for buffer in (16, 2, 64):
        BUFFER = buffer
        print(f"pipeline: {n} blocks of {BLOCK // 1024} KiB, sha256, {WORKERS} workers per stage, buffer {BUFFER}")
        rates = {}
        for name, fn in VARIANTS.items():
            fn(min(n, 64))                      # warm-up
            rates[name] = blocks_per_second(fn, n)
        base = rates["gocore"]
        for name, r in rates.items():
            print(f"  {name:8s} {r:10.0f} blocks/s   gocore is {base / r:.2f}x")
    BUFFER = 16
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
