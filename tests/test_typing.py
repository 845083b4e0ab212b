"""The stubs describe the real API.

- every public name in the stubs exists at runtime and is in ``__all__`` (and
  the other way round);
- every public function and method has the parameters the stub gives it
  (names, kinds, which have defaults, literal default values), compared with
  ``inspect.signature`` of the runtime object, and every public method of an
  exported class is in its stub;
- the compiled classes show their parameters to ``inspect``/``help()``;
- ``mypy --strict`` accepts a file using the whole API, and the package itself.
"""
import ast
import inspect
import os
import pydoc
import shutil
import subprocess
import sys

import pytest

import gocore

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(HERE), "src")
STUB = os.path.join(SRC, "gocore", "__init__.pyi")
P = inspect.Parameter


def stub_tree():
    with open(STUB) as f:
        return ast.parse(f.read())


def stub_public_names():
    names = set()
    for node in stub_tree().body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom) and node.module.startswith("gocore"):
            names.update(alias.asname for alias in node.names if alias.asname == alias.name
                         and not inspect.ismodule(getattr(gocore, alias.name, None)))   # not a submodule
    return {n for n in names if not n.startswith("_")} - {"CancelFunc"}


def test_stubs_match_runtime_exports():
    stubbed = stub_public_names() - {"__version__"}
    assert stubbed - set(gocore.__all__) == set(), "stubbed but not exported"
    assert set(gocore.__all__) - stubbed == set(), "exported but not stubbed"
    assert all(hasattr(gocore, name) for name in gocore.__all__)


# ---- signatures: the stub's parameters against inspect.signature ----

_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _stub_params(fn, drop_first):
    """[(name, kind, has_default, literal default or P.empty)] of a stub def."""
    a = fn.args
    out = []
    positional = [(x, P.POSITIONAL_ONLY) for x in a.posonlyargs] + [(x, P.POSITIONAL_OR_KEYWORD) for x in a.args]
    defaults = [None] * (len(positional) - len(a.defaults)) + list(a.defaults)
    for (arg, kind), d in zip(positional, defaults):
        out.append((arg.arg, kind, d))
    if a.vararg:
        out.append((a.vararg.arg, P.VAR_POSITIONAL, None))
    for arg, d in zip(a.kwonlyargs, a.kw_defaults):
        out.append((arg.arg, P.KEYWORD_ONLY, d))
    if a.kwarg:
        out.append((a.kwarg.arg, P.VAR_KEYWORD, None))
    if drop_first:
        out = out[1:]
    result = []
    for name, kind, d in out:
        value = P.empty
        if d is not None and not (isinstance(d, ast.Constant) and d.value is Ellipsis):
            try:
                value = ast.literal_eval(d)
            except ValueError:
                pass
        result.append((name, kind, d is not None, value))
    return result


def _runtime_params(sig, drop_first):
    params = list(sig.parameters.values())
    if drop_first:
        params = params[1:]
    return [(p.name, p.kind, p.default is not P.empty, p.default) for p in params]


def _compare(where, stub, runtime):
    """Differences between two parameter lists, as readable strings."""
    if [s[:3] for s in stub] != [r[:3] for r in runtime]:
        fmt = lambda ps: ", ".join(f"{n}:{k.name.lower()}{'=' if d else ''}" for n, k, d, _ in ps)
        return [f"{where}: stub ({fmt(stub)}) != runtime ({fmt(runtime)})"]
    return [f"{where}: default of {s[0]} is {s[3]!r} in the stub, {r[3]!r} at runtime"
            for s, r in zip(stub, runtime) if s[3] is not P.empty and s[3] != r[3]]


def _signature(obj):
    try:
        return inspect.signature(obj)
    except (ValueError, TypeError):
        return None


def _stub_classes():
    """name -> ClassDef for every class in the stub (private bases too)."""
    return {node.name: node for node in stub_tree().body if isinstance(node, ast.ClassDef)}


def _stub_members(cls_node, classes):
    """name -> node for the class body and its stub bases."""
    members = {}
    for base in cls_node.bases:
        if isinstance(base, ast.Subscript):     # a generic base: _RecvSide[_T]
            base = base.value
        base_name = base.id if isinstance(base, ast.Name) else None
        if base_name in classes:
            members.update(_stub_members(classes[base_name], classes))
    for node in cls_node.body:
        if isinstance(node, _FUNCS):
            members[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            members[node.target.id] = node
    return members


def _is_property(node):
    return any(isinstance(d, ast.Name) and d.id == "property" for d in node.decorator_list)


def _is_static(node):
    return any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in node.decorator_list)


_CHECKED_DUNDERS = {"__init__", "__enter__", "__exit__", "__aenter__", "__aexit__", "__call__",
                    "__iter__", "__next__", "__len__"}


def _check_class(name, cls, node, classes, problems, unchecked):
    members = _stub_members(node, classes)
    for mname, mnode in members.items():
        if mname.startswith("_") and mname not in _CHECKED_DUNDERS:
            continue
        where = f"{name}.{mname}"
        if mname == "__init__":
            if cls.__init__ is object.__init__ and cls.__new__ is not object.__new__:
                continue        # a NamedTuple-like: __new__ holds the parameters
            sig = _signature(cls)
            if sig is None:
                unchecked.append(where)
            else:
                problems += _compare(where, _stub_params(mnode, True), _runtime_params(sig, False))
            continue
        if not isinstance(mnode, _FUNCS):
            continue            # an attribute: instances may set it in __init__
        if not hasattr(cls, mname):
            problems.append(f"{where}: in the stub, not at runtime")
            continue
        if _is_property(mnode):
            continue
        static = inspect.getattr_static(cls, mname)
        bound = isinstance(static, (classmethod, staticmethod))
        sig = _signature(getattr(cls, mname))
        if sig is None:
            if not mname.startswith("__"):  # a slot's parameters are the protocol's
                unchecked.append(where)
            continue
        problems += _compare(where, _stub_params(mnode, not _is_static(mnode)),
                             _runtime_params(sig, not bound))
    inherited = set().union(*(dir(b) for b in cls.__mro__ if b.__module__ == "builtins"))
    for attr in set(dir(cls)) - inherited:
        if not attr.startswith("_") and attr not in members and not inspect.isclass(getattr(cls, attr)):
            problems.append(f"{name}.{attr}: at runtime, not in the stub")


def _signature_report():
    classes = _stub_classes()
    problems, unchecked = [], []
    for node in stub_tree().body:
        if isinstance(node, _FUNCS) and not node.name.startswith("_"):
            sig = _signature(getattr(gocore, node.name))
            if sig is None:
                unchecked.append(node.name)
            else:
                problems += _compare(node.name, _stub_params(node, False), _runtime_params(sig, False))
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            _check_class(node.name, getattr(gocore, node.name), node, classes, problems, unchecked)
    return problems, unchecked


def test_stub_signatures_match_runtime():
    problems, unchecked = _signature_report()
    assert problems == []
    # every public callable shows a signature at runtime: nothing went unchecked
    assert unchecked == []


def test_signature_comparison_catches_a_mismatch():
    """The comparison is not vacuous: a changed name, kind or default shows."""
    fn = ast.parse("def f(self, a: int, b: int = 2, *, c: int = ...) -> None: ...").body[0]
    good = inspect.signature(lambda self, a, b=2, *, c=3: None)
    assert _compare("f", _stub_params(fn, True), _runtime_params(good, True)) == []
    for bad in (lambda self, a, b=3, *, c=3: None, lambda self, x, b=2, *, c=3: None,
                lambda self, a, b=2, c=3: None, lambda self, a, b, *, c=3: None):
        assert _compare("f", _stub_params(fn, True), _runtime_params(inspect.signature(bad), True))


# ---- what inspect / help() show for the compiled classes ----

@pytest.mark.parametrize("fn, params", [
    (gocore.Mutex.acquire, ["self", "blocking", "timeout"]),
    (gocore.Mutex.lock, ["self"]),
    (gocore.WaitGroup.add, ["self", "delta"]),
    (gocore.WaitGroup.wait, ["self", "timeout"]),
    (gocore.WaitGroup.go, ["self", "fn", "args", "kwargs"]),
    (gocore.Semaphore.acquire, ["self", "n", "ctx", "timeout"]),
    (gocore.Semaphore.release, ["self", "n"]),
    (gocore.Cond.wait, ["self", "timeout"]),
    (gocore.Chan.send, ["self", "v", "timeout"]),
    (gocore.RecvChan.recv_ok, ["self", "timeout"]),
    (gocore.AtomicInt.compare_and_swap, ["self", "old", "new"]),
    (gocore.Chan, ["cap"]),
    (gocore.Semaphore, ["n"]),
    (gocore.Cond, ["locker"]),
    (gocore.AtomicRef, ["obj"]),
    (gocore.Mutex, []),
])
def test_compiled_signatures_are_visible(fn, params):
    assert list(inspect.signature(fn).parameters) == params


def test_compiled_signature_defaults_and_docs():
    sig = inspect.signature(gocore.Mutex.acquire)
    assert sig.parameters["blocking"].default is True
    assert sig.parameters["timeout"].default == -1
    assert inspect.signature(gocore.Semaphore.acquire).parameters["timeout"].default is None
    # the signature line is taken out of the docstring, the text stays
    assert gocore.Mutex.acquire.__doc__.startswith("``threading.Lock.acquire``")
    assert "--" not in gocore.Chan.__doc__.splitlines()[0]
    assert "Go channel" in inspect.getdoc(gocore.Chan).splitlines()[0]


def test_help_shows_the_parameters():
    text = pydoc.render_doc(gocore.Mutex, renderer=pydoc.plaintext)
    assert "blocking=True, timeout=-1)" in text         # the self part differs by version
    text = pydoc.render_doc(gocore.Semaphore, renderer=pydoc.plaintext)
    assert "n=1, ctx=None, timeout=None)" in text


# ---- mypy ----

def _mypy(tmp_path, *args):
    pytest.importorskip("mypy")
    env = dict(os.environ, MYPYPATH=SRC)
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--cache-dir", str(tmp_path), *args],
        capture_output=True, text=True, env=env, cwd=tmp_path)


@pytest.mark.timeout(300)
def test_mypy_strict_accepts_examples(tmp_path):
    proc = _mypy(tmp_path, os.path.join(HERE, "typing"))
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.timeout(300)
def test_mypy_strict_accepts_the_package(tmp_path):
    proc = _mypy(tmp_path, "-p", "gocore")
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.timeout(300)
def test_mypy_strict_accepts_the_package_installed_alone(tmp_path):
    """As a user's environment sees it: the package in site-packages of an
    interpreter with none of the optional engines (dask, matplotlib); only
    pytest, which gocore's pytest plugin is for."""
    pytest.importorskip("mypy")
    import _pytest
    import pluggy
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "Scripts" / "python.exe") if sys.platform == "win32" else str(venv / "bin" / "python")
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    shutil.copytree(os.path.join(SRC, "gocore"), os.path.join(site, "gocore"),
                    ignore=shutil.ignore_patterns("__pycache__", ".built-*"))
    for mod in (pytest, _pytest, pluggy):
        shutil.copytree(os.path.dirname(mod.__file__), os.path.join(site, mod.__name__),
                        ignore=shutil.ignore_patterns("__pycache__"))
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--cache-dir", str(tmp_path / "cache"),
         "--python-executable", python, "-p", "gocore"],
        capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
