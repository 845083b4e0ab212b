"""The stubs describe the real API: mypy --strict accepts a file using all of it,
and every public name in the stubs exists at runtime (and vice versa)."""
import ast
import os
import subprocess
import sys

import pytest

import gocore

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(HERE), "src")
STUB = os.path.join(SRC, "gocore", "__init__.pyi")


def stub_public_names():
    tree = ast.parse(open(STUB).read())
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {n for n in names if not n.startswith("_")} - {"CancelFunc"}


def test_stubs_match_runtime_exports():
    stubbed = stub_public_names() - {"__version__"}
    assert stubbed - set(gocore.__all__) == set(), "stubbed but not exported"
    assert set(gocore.__all__) - stubbed == set(), "exported but not stubbed"


@pytest.mark.timeout(300)
def test_mypy_strict_accepts_examples(tmp_path):
    pytest.importorskip("mypy")
    env = dict(os.environ, MYPYPATH=SRC)
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--cache-dir", str(tmp_path),
         os.path.join(HERE, "typing")],
        capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
