# The two commands of the README, each self-contained on a fresh machine:
#   make train   set up .venv if needed, train the tutorial's network, print its log, write sine_wave.png
#   make test    set up .venv if needed, run the tests
# Set-up: a virtual environment with torch (CPU build by default), then `pip install -e ".[test]"`
# exactly as the README has users type it (its build backend compiles the C++ ops against that very
# torch). Redone when csrc/ or the build files change.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.sinernn-installed

.PHONY: setup train test bench bench-table verify clean

setup: $(STAMP)

$(STAMP): setup.py pyproject.toml build_backend/sinernn_build.py sinernn/_native/build.py $(wildcard csrc/*.h csrc/*.cpp csrc/*/*.h csrc/*/*.cpp csrc/*/*.cu)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

train: $(STAMP)
	$(BIN)/sinernn train --plot sine_wave.png

test: $(STAMP)
	$(BIN)/python -m pytest

verify: $(STAMP)
	$(BIN)/sinernn verify

bench: $(STAMP)
	$(BIN)/python -m pytest benchmarks --benchmark-enable --benchmark-json=benchmark.json

bench-table: $(STAMP)
	$(BIN)/sinernn bench --json docs/figures/bench.json --scaling-plot docs/figures/scaling.png

clean:
	rm -rf $(VENV) build *.egg-info sinernn/*.so sinernn/_C.build.json
