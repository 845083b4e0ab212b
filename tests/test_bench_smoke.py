"""`python -m gocore.bench` runs from the package alone and prints the JSON it documents.

Shape only: timings are never asserted.
"""
import json
import os
import subprocess
import sys

import gocore

ROW = "^Mutex acquire\\+release$"


def _run(*args):
    env = dict(os.environ)
    # Wherever this gocore was imported from (the in-place build or a wheel).
    root = os.path.dirname(os.path.dirname(os.path.abspath(gocore.__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "gocore.bench", *args], env=env,
                          capture_output=True, text=True, timeout=100)


def test_quick_json_row_shape():
    proc = _run("--quick", "--rows", ROW, "--json")
    assert proc.returncode == 0, proc.stderr
    assert "row 1 of 1" in proc.stderr
    out = json.loads(proc.stdout)
    h = out["header"]
    for key in ("interpreter", "version", "gil", "cpu", "cores", "load_average"):
        assert key in h
    assert out["rounds"] == 3 and out["quick"] is True
    [row] = out["rows"]
    assert row["name"] == "Mutex acquire+release" and row["area"] == "sync"
    labels = [s["label"] for s in row["sides"]]
    assert labels == ["gocore Mutex", "threading.Lock"]
    for s in row["sides"]:
        assert s["status"] == "ok"
        assert len(s["rounds_s"]) == 3 and s["median_s"] > 0
    [ratio] = row["ratios"]
    assert ratio["baseline"] == "threading.Lock"
    assert len(ratio["rounds"]) == 3
    assert ratio["min"] <= ratio["median"] <= ratio["max"]


def test_unknown_row_is_an_error():
    proc = _run("--quick", "--rows", "no such row at all")
    assert proc.returncode == 2
    assert "no row matches" in proc.stderr


def test_rows_interleave_and_missing_peers_skip():
    from gocore.bench.harness import Row, Side, run_row

    calls = []

    def side(name):
        def make(n):
            return lambda: calls.append(name)
        return make

    def broken(n):
        raise RuntimeError("peer API moved")

    row = Row("order", "op", 1, [Side("g", side("g")), Side("b", side("b")),
                                 Side("p", side("p"), requires="no_such_module_for_gocore_bench"),
                                 Side("f", broken)], heavy=True)
    res = run_row(row, rounds=4)
    # One warm-up call each, then the order flips every round: g b, b g, g b, b g.
    assert calls == ["g", "b"] + ["g", "b", "b", "g"] * 2
    assert res.sides[2].status == "skipped: not installed"
    assert res.sides[3].status == "failed: RuntimeError: peer API moved"
    assert list(res.ratios) == ["b"] and len(res.ratios["b"]) == 4
