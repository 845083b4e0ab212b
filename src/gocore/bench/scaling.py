"""Scaling: a CPU-bound pipeline through channels, at several worker counts.

source -> channel(64) -> k workers (pure-Python arithmetic, ~1 ms an item)
-> channel(64) -> sink, the same with gocore.Chan and with queue.Queue; on
GIL builds also a multiprocessing.Pool of k processes (the usual way around
the GIL, paying pickling and process hops instead).  On a free-threaded
build the thread workers run in parallel, so items/s should grow with k up
to the core count and stay flat beyond it; on a GIL build threads stay flat
and only processes scale.

``python -m gocore.bench --scaling [--threads 1,2,4,8,16] [--plot FILE.png]``
"""
from __future__ import annotations

import importlib
import multiprocessing
import os
import queue
import statistics
import sys
import sysconfig
import textwrap
import threading
import time
from typing import Any, Callable, Dict, List, Optional

import gocore

from .harness import Row, Side, relay

ITEMS = 200
QUICK_ITEMS = 24
WORK = 20_000          # inner-loop length of one item: channel traffic is a small part of the total

GIL_BUILD = not sysconfig.get_config_var("Py_GIL_DISABLED")
FREE_THREADED = not GIL_BUILD and not getattr(sys, "_is_gil_enabled", lambda: True)()


def crunch(n: int, work: int = WORK) -> int:
    # Locals only: the measurement is about the pipeline, not about shared
    # interpreter state the workers might contend on.
    total = 0
    for i in range(work):
        total += (i * n) % 7
    return total


def expected(items: int) -> int:
    return sum(crunch(n) for n in range(items))


def channel_pipeline(make_queue: Callable[[], Any], workers: int, items: int) -> int:
    """source -> queue -> workers -> queue -> sink over put/get ends; the
    source ends the stream with one None per worker (as queue.Queue users do,
    so both kinds do the same work)."""
    jobs, results = make_queue(), make_queue()

    def worker() -> None:
        relay(jobs.get, results.put, crunch, None)

    def source() -> None:
        put = jobs.put
        for n in range(items):
            put(n)
        for _ in range(workers):
            put(None)

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    threads.append(threading.Thread(target=source))
    for t in threads:
        t.start()
    get = results.get
    total: int = sum(get() for _ in range(items))
    for t in threads:
        t.join()
    return total


class _ChanEnds:
    """gocore.Chan under the put/get names queue.Queue uses."""

    def __init__(self, cap: int) -> None:
        ch: gocore.Chan[Any] = gocore.Chan(cap)
        self.put, self.get = ch.send, ch.recv


KINDS: Dict[str, Callable[[], Any]] = {
    "gocore Chan + threads": lambda: _ChanEnds(64),
    "queue.Queue + threads": lambda: queue.Queue(64),
}
PROCESSES = "multiprocessing.Pool"


def timed_run(kind: str, workers: int, items: int, pools: Dict[int, Any]) -> float:
    """Seconds for one run of `items` items, with its checksum verified."""
    want = _expected(items)
    t0 = time.perf_counter()
    if kind == PROCESSES:
        got = sum(pools[workers].map(crunch, range(items), chunksize=max(1, items // (4 * workers))))
    else:
        got = channel_pipeline(KINDS[kind], workers, items)
    elapsed = time.perf_counter() - t0
    if got != want:
        raise AssertionError(f"{kind} x{workers}: wrong checksum")
    return elapsed


_expected_cache: Dict[int, int] = {}


def _expected(items: int) -> int:
    if items not in _expected_cache:
        _expected_cache[items] = expected(items)
    return _expected_cache[items]


def run_scaling(counts: List[int], rounds: int, quick: bool,
                progress: Optional[Callable[[int, int, str], None]] = None) -> Dict[str, Any]:
    """Items/s per (kind, worker count), interleaved: each round runs every
    kind at every count, alternating the order of kinds."""
    items = QUICK_ITEMS if quick else ITEMS
    kinds = list(KINDS) + ([PROCESSES] if GIL_BUILD else [])
    pools: Dict[int, Any] = {}
    try:
        if PROCESSES in kinds:
            pools = {k: multiprocessing.Pool(k) for k in counts}
        samples: Dict[str, Dict[int, List[float]]] = {kind: {k: [] for k in counts} for kind in kinds}
        for kind in kinds:                      # warm-up: imports, pools, code paths
            timed_run(kind, counts[0], min(items, 8), pools)
        for r in range(rounds):
            if progress:
                progress(r + 1, rounds, "scaling round")
            order = kinds if r % 2 == 0 else kinds[::-1]
            for k in counts:
                for kind in order:
                    samples[kind][k].append(items / timed_run(kind, k, items, pools))
    finally:
        for pool in pools.values():
            pool.terminate()
            pool.join()
    base = counts[0]
    table = {kind: {k: {"items_per_s": statistics.median(v),
                        "speedup": statistics.median(v) / statistics.median(per_k[base])}
                    for k, v in per_k.items()}
             for kind, per_k in samples.items()}
    return {"items": items, "work": WORK, "counts": counts, "rounds": rounds, "kinds": table,
            "baseline_count": base}


def format_scaling(result: Dict[str, Any]) -> str:
    counts = result["counts"]
    head = ["workers"] + [f"{kind} items/s (speed-up)" for kind in result["kinds"]]
    rows = []
    for k in counts:
        rows.append([str(k)] + [f"{v[k]['items_per_s']:.0f} ({v[k]['speedup']:.2f}x)"
                                for v in result["kinds"].values()])
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    rule = "+".join("-" * (w + 2) for w in widths)
    lines = [f"CPU-bound pipeline, {result['items']} items of ~{result['work']} loop steps, "
             f"speed-up vs {result['baseline_count']} worker(s), medians of {result['rounds']} interleaved rounds",
             rule, "| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |", rule]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    lines.append(rule)
    return "\n".join(lines)


def plot_scaling(result: Dict[str, Any], path: str, title: str) -> None:
    try:
        # Imported by name: an optional dependency the type check must not need.
        matplotlib = importlib.import_module("matplotlib")
        matplotlib.use("Agg")
        plt = importlib.import_module("matplotlib.pyplot")
    except ImportError:
        raise SystemExit("--plot needs matplotlib: pip install 'gocore[plot]'") from None
    counts = result["counts"]
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    for kind, per_k in result["kinds"].items():
        ax.plot(counts, [per_k[k]["items_per_s"] for k in counts], marker="o", label=kind)
    cores = os.cpu_count() or 1
    ax.axvline(cores, color="grey", linestyle=":", linewidth=1)
    ax.annotate(f"{cores} cores", (cores, 0), textcoords="offset points", xytext=(3, 4), fontsize=7, color="grey")
    ax.set_xscale("log", base=2)
    ax.set_xticks(counts)
    ax.set_xticklabels([str(k) for k in counts])
    ax.set_xlabel("workers")
    ax.set_ylabel("items/s (higher is better)")
    ax.set_ylim(bottom=0)
    ax.set_title(textwrap.fill(title, 100), fontsize=7)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# ---- the row in the default table: 2 workers against 1 ----

def two_vs_one(kind: str, workers: int) -> Callable[[int], Callable[[], None]]:
    def make(n: int) -> Callable[[], None]:
        _expected(n)               # the checksum is computed before any timing

        def run() -> None:
            timed_run(kind, workers, n, {})
        return run
    return make


ROWS: List[Row] = [
    Row("CPU pipeline, 2 workers (speed-up over 1)", "item", ITEMS, [
        Side("gocore Chan, 2 workers", two_vs_one("gocore Chan + threads", 2)),
        Side("gocore Chan, 1 worker", two_vs_one("gocore Chan + threads", 1)),
        Side("queue.Queue, 2 workers", two_vs_one("queue.Queue + threads", 2)),
    ], heavy=True, quick_n=QUICK_ITEMS),
]
