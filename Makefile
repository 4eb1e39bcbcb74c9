# Everything a fresh machine needs is installed from this repository's own files.
#   make demo   - venv + core install, embedded broker, publish the sample crawl, worker, release, summary
#   make test   - venv + dev install, ruff + mypy, whole suite (both installs pin torch, CPU, first)
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
PIP     := $(BIN)/python -m pip
TORCH   := torch==2.13.0
CORE    := $(VENV)/.installed-core
DEV     := $(VENV)/.installed-dev
DEMO_DIR ?= data/demo

.PHONY: demo test test-long bench bench-extract bench-store bench-release bench-release-updated bench-negatives bench-owi soak lint clean venv

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# torch goes first, pinned, so that the default model's torch is a CPU build (no CUDA packages).
$(CORE): pyproject.toml | $(BIN)/python
	$(PIP) install --quiet $(TORCH)
	$(PIP) install --quiet -e .
	touch $@

$(DEV): pyproject.toml | $(BIN)/python
	$(PIP) install --quiet $(TORCH)
	$(PIP) install --quiet -e '.[dev]'
	touch $@ $(CORE)

venv: $(CORE)

demo: $(CORE)
	rm -rf $(DEMO_DIR)
	$(BIN)/webfaq-stream ingest sample/sample-crawl.warc.gz \
		--store-dir $(DEMO_DIR)/store --release-dir $(DEMO_DIR)/releases

# ruff and mypy first (what CI runs too), then the suite.
test: lint
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/python -m pytest

test-long: $(DEV)
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/python -m pytest -m slow

bench: $(DEV)
	$(BIN)/python bench/bench_e2e.py

bench-extract: $(CORE)
	$(BIN)/python bench/bench_extract.py

bench-store: $(CORE)
	$(BIN)/python bench/bench_store.py

bench-release: $(DEV)
	$(BIN)/python bench/bench_release.py

bench-release-updated: $(DEV)
	$(BIN)/python bench/bench_release.py --updates 1000000

soak: $(CORE)
	$(BIN)/python bench/bench_soak.py

bench-negatives: $(CORE)
	$(BIN)/python bench/bench_negatives.py

bench-owi: $(DEV)
	$(BIN)/python bench/bench_owi.py

lint: $(DEV)
	$(BIN)/ruff check webfaq_stream tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) data .pytest_cache *.egg-info
