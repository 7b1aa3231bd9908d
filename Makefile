# vaekit developer commands. Works on a fresh machine with only Python 3.11 (or >= 3.10).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch is installed first so pip never pulls a multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0
DEMO_DIR ?= runs/demo

.PHONY: install dev demo test test-slow lint clean bench bench-env

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

dev: $(VENV)/.installed-dev

demo: $(VENV)/.installed
	$(BIN)/vaekit train --data digits --out $(DEMO_DIR) --force
	$(BIN)/vaekit evaluate $(DEMO_DIR)
	$(BIN)/vaekit evaluate $(DEMO_DIR) --json > $(DEMO_DIR)/eval-test.json
	@echo "pictures: $(DEMO_DIR)/samples.png $(DEMO_DIR)/reconstructions.png; report: $(DEMO_DIR)/eval-test.json"

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest

test-slow: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -m slow

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench

clean:
	rm -rf $(VENV) runs build dist src/*.egg-info .pytest_cache .ruff_cache

# Benchmarks run in their own environment, with the peers pinned beside vaekit.
BENCH_VENV ?= .venv-bench
PYTHAE_SPEC ?= pythae==0.1.2

$(BENCH_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet "$(TORCH_SPEC)"
	$(BENCH_VENV)/bin/pip install --quiet -e . "$(PYTHAE_SPEC)"
	touch $@

bench-env: $(BENCH_VENV)/.installed

bench: bench-env
	$(BENCH_VENV)/bin/python -m bench.matmul_rate
	$(BENCH_VENV)/bin/python -m bench.train_speed --rounds 3
