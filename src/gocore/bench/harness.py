"""The benchmark harness: rows of interleaved sides, timed as ratios per round.

A row is a name, a unit and its sides: the first side is gocore, the others
are baselines (the stdlib, or a third-party peer that may not be installed).
Every round times each side once, alternating the order (gocore, baseline...,
then ...baseline, gocore) so a drift in the machine's load hits both sides
alike; the ratio of a round is baseline time / gocore time, so above 1.00x
gocore is faster.  A row reports per side the median time per unit and per
baseline the median of the per-round ratios with its [min-max].

Adding a row (in an area module such as ``gocore/bench/sync.py``, which
lists its rows in ``ROWS``): a side's ``make(n)`` builds fresh state and
returns a callable that does ``n`` units of work; the callable may return a
dict of extra numbers to report beside the times (``{"threads started": 12}``)::

    def _acquire_release(lock, n):
        acquire, release = lock.acquire, lock.release
        def run():
            for _ in range(n):
                acquire()
                release()
        return run

    ROWS.append(Row("Mutex acquire+release", "op", 1000, [
        Side("gocore Mutex", lambda n: _acquire_release(gocore.Mutex(), n)),
        Side("threading.Lock", lambda n: _acquire_release(threading.Lock(), n)),
        Side("aiologic Lock", lambda n: _acquire_release(peer("aiologic").Lock(), n), requires="aiologic"),
    ]))

``requires`` names a module: while it does not import, that side prints
"skipped: not installed" (``peer(name)`` imports it inside ``make``).
``heavy=True`` marks rows whose one call starts threads or runs long: it is
timed once per round, never repeated to fill a sample.  ``fraction`` lets a
much slower side do fewer units (``n * fraction``); ``quick_n`` is the size
under ``--quick`` (default ``n // 10``).  A new area is a module with
``ROWS`` whose name is added to ``gocore.bench.AREAS``; ``pytest bench/``
runs its rows under pytest-benchmark too.
"""
from __future__ import annotations

import gc
import importlib
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

__all__ = ["Side", "Row", "Result", "run_row", "available", "peer"]

# A sample of a fast row repeats its call until it lasts this long, so timer
# resolution and call overhead are noise; heavy rows are one call per round.
SAMPLE_SECONDS = 0.05
QUICK_SAMPLE_SECONDS = 0.005
# A heavy row's side runs its full size once a round, unless a probe of a
# 64th of it says a round would take longer than this: then it runs as many
# units as fit (a peer that crawls under --load must not hold the run for
# hours; its per-unit time is what the row compares anyway).
HEAVY_ROUND_SECONDS = 4.0


@dataclass
class Side:
    """One implementation of a row: ``make(n)`` returns the timed callable."""
    label: str
    make: Callable[[int], Callable[[], Any]]
    requires: Optional[str] = None
    fraction: float = 1.0

    def units(self, n: int) -> int:
        return max(1, int(n * self.fraction))


@dataclass
class Row:
    name: str
    unit: str                  # what one unit of work is: "op", "round trip", "item", ...
    n: int                     # units per timed call (a full run)
    sides: List[Side]          # sides[0] is gocore, the rest are baselines
    quick_n: Optional[int] = None
    heavy: bool = False
    area: str = ""

    def size(self, quick: bool) -> int:
        return (self.quick_n or max(1, self.n // 10)) if quick else self.n


@dataclass
class SideResult:
    label: str
    status: str = "ok"                     # or "skipped: not installed", or "failed: ..."
    per_unit: List[float] = field(default_factory=list)   # seconds per unit, per round
    extra: Dict[str, List[Any]] = field(default_factory=dict)

    @property
    def median(self) -> Optional[float]:
        return statistics.median(self.per_unit) if self.per_unit else None


@dataclass
class Result:
    row: Row
    sides: List[SideResult]
    ratios: Dict[str, List[float]]         # baseline label -> per-round ratios

    def to_json(self) -> Dict[str, Any]:
        return {
            "name": self.row.name, "area": self.row.area, "unit": self.row.unit,
            "sides": [{"label": s.label, "status": s.status, "median_s": s.median,
                       "rounds_s": s.per_unit, "extra": s.extra} for s in self.sides],
            "ratios": [dict(baseline=label, **summary(r)) for label, r in self.ratios.items()],
        }


def summary(ratios: List[float]) -> Dict[str, Any]:
    if not ratios:
        return {"median": None, "min": None, "max": None, "rounds": []}
    return {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios), "rounds": ratios}


def relay(get: Callable[[], Any], put: Callable[[Any], Any], fn: Callable[[Any], Any], stop: Any) -> None:
    """One middle stage of the bench pipelines, for every kind of queue:
    put(fn(item)) for each item got, until `stop` arrives."""
    while True:
        item = get()
        if item is stop:
            return
        put(fn(item))


def available(module: Optional[str]) -> bool:
    if module is None:
        return True
    try:
        importlib.import_module(module)
    except Exception:          # an installed peer that fails to import is as good as absent
        return False
    return True


def peer(module: str) -> Any:
    """A third-party peer's module, for a side whose ``requires`` names it."""
    return importlib.import_module(module)


def _timed(fn: Callable[[], Any], reps: int) -> "tuple[float, Any]":
    """One sample: reps calls with the collector off (a collection landing in
    one side's sample and not the other's would be read as a ratio)."""
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        for _ in range(reps):
            out = fn()
        return time.perf_counter() - t0, out
    finally:
        gc.enable()


def _record_extra(result: SideResult, out: Any) -> None:
    if isinstance(out, dict):
        for key, value in out.items():
            result.extra.setdefault(key, []).append(value)


def _fit_units(side: Side, units: int) -> int:
    """A heavy side's units per round: all of them, or as many as a probe
    says fit in HEAVY_ROUND_SECONDS."""
    probe = max(1, units // 64)
    if probe == units:
        return units
    elapsed, _ = _timed(side.make(probe), 1)
    per_unit = elapsed / probe
    if per_unit * units <= HEAVY_ROUND_SECONDS:
        return units
    return max(probe, int(HEAVY_ROUND_SECONDS / per_unit))


def run_row(row: Row, rounds: int = 7, quick: bool = False) -> Result:
    n = row.size(quick)
    results = [SideResult(s.label) for s in row.sides]
    live = []                  # (index, callable, units, reps)
    for i, side in enumerate(row.sides):
        if not available(side.requires):
            results[i].status = "skipped: not installed"
            continue
        units = side.units(n)
        try:
            if row.heavy and not quick and i > 0:
                # (gocore's own side is not probed: the burst row reports the
                # threads its first, cold call starts)
                units = _fit_units(side, units)
            fn = side.make(units)
            warm, out = _timed(fn, 1)      # warms pools and caches, and calibrates
        except Exception as exc:           # a peer whose API moved: its side, not the run, fails
            results[i].status = f"failed: {type(exc).__name__}: {exc}"[:80]
            continue
        _record_extra(results[i], out)     # a cold call's counts matter (threads started)
        target = QUICK_SAMPLE_SECONDS if quick else SAMPLE_SECONDS
        reps = 1 if row.heavy else max(1, int(target / max(warm, 1e-7)))
        live.append((i, fn, units, reps))
    ratios: Dict[str, List[float]] = {results[i].label: [] for i, *_ in live if i}
    for r in range(rounds):
        order = live if r % 2 == 0 else live[::-1]
        per_unit = {}
        for i, fn, units, reps in order:
            elapsed, out = _timed(fn, reps)
            per_unit[i] = elapsed / (reps * units)
            results[i].per_unit.append(per_unit[i])
            _record_extra(results[i], out)
        if 0 in per_unit:
            for i, t in per_unit.items():
                if i:
                    ratios[results[i].label].append(t / per_unit[0])
    return Result(row, results, ratios)


def progress(k: int, total: int, name: str) -> None:
    print(f"row {k} of {total}: {name}", file=sys.stderr, flush=True)
