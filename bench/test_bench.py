"""Every side of every gocore.bench row as one pytest-benchmark test, grouped by row."""
import pytest

from gocore.bench import all_rows
from gocore.bench.harness import available

CASES = [pytest.param(row, side, id=f"{row.area}:{row.name}:{side.label}")
         for row in all_rows() for side in row.sides]


@pytest.mark.parametrize("row,side", CASES)
def test_bench(benchmark, row, side):
    if not available(side.requires):
        pytest.skip(f"{side.requires}: not installed")
    units = side.units(row.n)
    benchmark.group = row.name
    benchmark.extra_info.update(side=side.label, unit=row.unit, units_per_call=units,
                                baseline=side is not row.sides[0])
    fn = side.make(units)
    if row.heavy:       # threads per call: a few whole calls, as the interleaved runner does
        benchmark.pedantic(fn, rounds=5, iterations=1, warmup_rounds=1)
    else:
        benchmark(fn)
