# Recurrent Networks from Scratch: every task starts from `make install`, so `make book` and
# `make test` each work alone on a fresh clone.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
JOBS ?= 2
# NumPy's AVX-512 kernels round differently in the last bit: off wherever results are made or
# replayed, so that they replay on any x86 machine (scripts/numpy_portable_features.py).
PORTABLE = NPY_DISABLE_CPU_FEATURES="$$($(PY) scripts/numpy_portable_features.py)"

.PHONY: install system book test check lint bench results release solutions clean

install:
	@scripts/install.sh

system:
	@scripts/install-system.sh

## The HTML book in _build/html; every warning is an error, every chapter executes (cached).
book: install
	scripts/build_book.sh

## Lint, unit tests, the notebooks (solutions and releases), the book build and its browser tests.
test: install system lint
	$(PORTABLE) $(PY) -m pytest -n $(JOBS) --dist loadgroup tests
	$(PORTABLE) $(PY) -m pytest -n $(JOBS) --nbval-lax --dist loadfile solutions

## Day-to-day: lint and the fast tests (no browser, no book build, no grader sandbox, nothing
## marked slow, no root needed). `make test` stays the whole suite that CI runs.
check: install lint
	$(PORTABLE) $(PY) -m pytest -n $(JOBS) -q -m "not slow and not browser and not book and not sandbox" tests

lint: install
	$(BIN)/ruff check .

## Build solutions/ from course/ (templates, manifests) and rnnlib's source; then the student
## release exercises/ from solutions/ (notebooks, a copy of rnntools/, the points table).
solutions: install
	$(PY) -m course.build

release: solutions
	$(PY) -m course.release

## Speed against PyTorch on this machine (prints figures and targets; never part of `make
## test`): every ratio is the median of paired alternating rounds, with its spread and the load.
bench: install
	$(PY) -m pip install --quiet -r requirements-bench.txt
	$(PY) benchmarks/lstm_speed.py --threads 1
	$(PY) benchmarks/lstm_speed.py --threads 2
	$(PY) benchmarks/charlm_step.py --threads 1 --reference
	$(PY) benchmarks/charlm_step.py --threads 2 --reference
	$(PY) benchmarks/charlm_step.py --profile
	$(PY) -m experiments.replay --torch
	$(PY) benchmarks/charlm_step.py --memory
	$(PY) benchmarks/grading.py --rounds 3 --timings

## Retrain everything the book shows from training (slow; writes results/). Experiments added
## after the last full regeneration run after experiments.all as their own commands: adding
## them to its list would change a module that every earlier results file records.
LATER_EXPERIMENTS := seq2seq rnn_dropout
results: install
	$(PORTABLE) $(PY) -m experiments.all
	for name in $(LATER_EXPERIMENTS); do $(PORTABLE) $(PY) -m experiments.$$name; done

clean:
	rm -rf _build .pytest_cache .ruff_cache
	find . -name __pycache__ -prune -exec rm -rf {} +
