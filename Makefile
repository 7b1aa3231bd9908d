# vaekit developer commands. Works on a fresh machine with only Python 3.11 (or >= 3.10).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch is installed first so pip never pulls a multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0
DEMO_DIR ?= runs/demo

.PHONY: install dev demo test test-slow tex lint clean bench bench-env bench-tables bench-anomaly browser-test-deps gpu-env gpu-venv

# Debian's python3 comes without venv support (ensurepip): as root, install it.
$(BIN)/python:
	@$(PYTHON) -c "import ensurepip" 2>/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; \
	  else echo "$(PYTHON) cannot create a virtual environment: install python3-venv"; exit 1; fi; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet -e .
	touch $@

# The serve extra (FastAPI, uvicorn): `make demo` installs it so that `vaekit serve` works next.
$(VENV)/.installed-serve: $(VENV)/.installed
	$(BIN)/pip install --quiet -e ".[serve]"
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

# The explorer's real-browser test: Playwright (a pip package, no browser download) drives
# Debian's chromium, installed here when missing and we are root.
$(VENV)/.installed-browser: $(VENV)/.installed-dev
	$(BIN)/pip install --quiet -e ".[dev,browser]"
	touch $@

browser-test-deps: $(VENV)/.installed-browser
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
	      || echo "could not install chromium: the browser test will be skipped"; \
	  else echo "chromium is missing and we are not root (or have no apt-get): the browser test will be skipped (apt-get install chromium)"; fi; }

install: $(VENV)/.installed

dev: $(VENV)/.installed-dev

demo: $(VENV)/.installed-serve
	$(BIN)/vaekit train --data digits --likelihood discretized-logistic --out $(DEMO_DIR) --force
	$(BIN)/vaekit evaluate $(DEMO_DIR)
	$(BIN)/vaekit diagram $(DEMO_DIR)
	$(BIN)/vaekit plot $(DEMO_DIR) report
	@echo "open the run report in a browser: $(DEMO_DIR)/report.html"
	@echo "explore its latent space: $(BIN)/vaekit serve $(DEMO_DIR)"

# The explorer's real-browser test is part of the default run: browser-test-deps installs
# Playwright and, as root, Debian's chromium (skipped with the reason otherwise).
test: $(VENV)/.installed-dev browser-test-deps
	$(BIN)/python -m pytest

test-slow: $(VENV)/.installed-dev browser-test-deps tex
	$(BIN)/python -c "import typst" 2>/dev/null || $(BIN)/pip install --quiet typst
	$(BIN)/python -m pytest -m slow

# The slow suite compiles the diagrams for real: Typst with the `typst` wheel (against a local
# stand-in for CeTZ), TikZ with pdflatex + TikZ. Installed with apt-get
# only when missing and only as root; otherwise that one test is skipped.
TEX_PACKAGES ?= texlive-latex-base texlive-pictures
tex:
	@if command -v pdflatex >/dev/null 2>&1 && kpsewhich tikz.sty >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(TEX_PACKAGES); } \
		  || echo "could not install TeX: the TikZ compile test will be skipped"; \
	else echo "pdflatex/TikZ missing and not root: the TikZ compile test will be skipped (apt-get install $(TEX_PACKAGES))"; fi

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench

clean:
	rm -rf $(VENV) runs build dist src/*.egg-info .pytest_cache .ruff_cache

# Benchmarks run in their own environment, with the peers pinned beside vaekit.
BENCH_VENV ?= .venv-bench
PYTHAE_SPEC ?= pythae==0.1.2
# bench.tables: CTGAN's TVAE is the peer, SDMetrics the judge. sdmetrics (and ctgan's rdt) need
# pandas < 3, so this environment has pandas 2.x where .venv may have 3.x. The torch spec is repeated in the same
# pip call so that the resolver keeps the CPU build already installed.
CTGAN_SPEC ?= ctgan==0.12.1
SDMETRICS_SPEC ?= sdmetrics==0.32.0
# bench.anomaly: PyOD's VAE is the peer of vaekit's anomaly scores.
PYOD_SPEC ?= pyod==3.6.7

$(BENCH_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet "$(TORCH_SPEC)"
	$(BENCH_VENV)/bin/pip install --quiet -e . "$(TORCH_SPEC)" "$(PYTHAE_SPEC)" "$(CTGAN_SPEC)" "$(SDMETRICS_SPEC)" "$(PYOD_SPEC)"
	touch $@

bench-env: $(BENCH_VENV)/.installed

bench: bench-env
	$(BENCH_VENV)/bin/python -m bench.kernels matmul --threads 2
	$(BENCH_VENV)/bin/python -m bench.train_speed

# Synthetic tables against CTGAN's TVAE, judged by SDMetrics (about an hour on 2 cores).
bench-tables: bench-env
	$(BENCH_VENV)/bin/python -m bench.tables --json runs/bench-tables.json

# Anomaly scores beside PyOD's VAE, IsolationForest and the class mean (one-class MNIST, randhie
# with injected anomalies, vaekit score throughput; about 1.5 hours on 2 cores).
bench-anomaly: bench-env
	$(BENCH_VENV)/bin/python -m bench.anomaly --json runs/bench-anomaly.json

# bench/gpu_check.sh on a CUDA machine (docs/benchmarks.md, "GPU check").
# gpu-env: the offline route, for the lent GPU machines, which reach no package registry. Their
# image's python3 already holds a CUDA torch and all of vaekit's dependencies, so vaekit runs from
# src/ (PYTHONPATH) and only the wheels carried in $(GPU_CARRY)/wheels (pythae and its pydantic:
# `bash bench/gpu_check.sh --prepare` downloads them on a machine that reaches PyPI) are unpacked
# into $(GPU_CARRY)/site. Run it with the image's interpreter: make gpu-env PYTHON=python3
GPU_CARRY ?= .gpu-carry
gpu-env:
	@mkdir -p $(GPU_CARRY)/site
	@if ls $(GPU_CARRY)/wheels/*.whl >/dev/null 2>&1; then \
	  $(PYTHON) -m pip install --quiet --no-index --no-deps --no-compile --upgrade --target $(GPU_CARRY)/site $(GPU_CARRY)/wheels/*.whl; \
	else echo "no wheels in $(GPU_CARRY)/wheels: pythae will be missing (bash bench/gpu_check.sh --prepare makes them)"; fi

# gpu-venv: the online route, for a CUDA machine that reaches PyPI and has no torch: the dev
# environment plus pythae in $(VENV) (e.g. make gpu-venv VENV=.venv-gpu). On Linux x86-64, PyPI's
# torch wheel is the CUDA build: several GB on the first install.
$(VENV)/.installed-pythae: $(VENV)/.installed
	$(BIN)/pip install --quiet "$(PYTHAE_SPEC)" "$(TORCH_SPEC)"
	touch $@

gpu-venv: $(VENV)/.installed-dev $(VENV)/.installed-pythae
