# pnnkit: `make demo` and `make test` work on a fresh clone (they create .venv and install).
# Torch is installed first and pinned: an unpinned torch pulls a multi-GB CUDA build.
# Override, e.g.: make test TORCH_SPEC="torch==2.5.1" PYTHON=python3.12

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.pnnkit-installed

.PHONY: install demo test test-fast lint format bench clean

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/pnnkit demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

# the unit tier only: skips the tests marked slow (end-to-end runs); `make test` runs everything
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks examples
	$(BIN)/ruff check --fix src tests benchmarks examples

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_entropy.py
	$(BIN)/pnnkit bench --out benchmarks/results/bench

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
