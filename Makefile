# tlskit: two commands do all the set-up (see README).
#   make demo   venv + tshark + tlskit with notebook extras, then the main job on data/
#   make test   the same set-up plus dev tools, then lint, type check and the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
OUT ?= out/demo

.PHONY: demo test setup setup-test system-deps system-deps-test lint typecheck pytest clean

$(PY):
	@echo "Creating $(VENV) with $$($(PYTHON) --version)..."
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed-notebooks: pyproject.toml | $(PY)
	@echo "Installing tlskit with its notebook extras into $(VENV)..."
	$(PY) -m pip install --quiet -e '.[notebooks]'
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	@echo "Installing tlskit with notebook and dev extras into $(VENV)..."
	$(PY) -m pip install --quiet -e '.[notebooks,dev]'
	@touch $@ $(VENV)/.installed-notebooks

system-deps:
	@scripts/system-deps.sh tshark

system-deps-test:
	@scripts/system-deps.sh tshark test

setup: system-deps $(VENV)/.installed-notebooks

setup-test: system-deps-test $(VENV)/.installed-dev

demo: setup
	@$(PY) -m tlskit demo data --out $(OUT)

lint: setup-test
	$(VENV)/bin/ruff check tlskit tests scripts benchmarks

typecheck: setup-test
	$(VENV)/bin/mypy tlskit

pytest: setup-test
	$(PY) -m pytest

test: lint typecheck pytest

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
