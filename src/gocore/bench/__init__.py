"""gocore's benchmark: every row times gocore beside the stdlib (and the
third-party peers that are installed), interleaved round by round.

    python -m gocore.bench                 # the table (progress on stderr)
    python -m gocore.bench --rows ping     # rows whose name contains "ping"
    python -m gocore.bench --scaling --threads 1,2,4 --plot scaling.png
    python -m gocore.bench --help

How to add a row or an area: see gocore.bench.harness.
"""
from __future__ import annotations

import importlib
from typing import List

from .harness import Row

# Area modules, each with a ROWS list, in table order.  A later area (asyncio,
# patterns, ...) is one more module, named here.
AREAS = ["sync", "chan", "aio", "layer", "scaling", "executors"]


def all_rows() -> List[Row]:
    rows: List[Row] = []
    for area in AREAS:
        module = importlib.import_module(f"{__name__}.{area}")
        for row in module.ROWS:
            row.area = area
            rows.append(row)
    return rows
