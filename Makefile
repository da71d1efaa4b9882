# The two commands of the project: `make demo` (the main job) and `make test` (the whole suite).
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
export HARNESS_TIME_SCALE ?= 0.05

.PHONY: setup demo test lint typecheck bench clean

setup:
	@bash scripts/setup.sh

demo: setup
	@$(PY) -m harness.cli.demo

test: setup lint typecheck
	@bash scripts/run-tests.sh

lint: setup
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/lint-imports --no-cache

typecheck: setup
	@$(VENV)/bin/mypy reference_service harness

bench: setup
	@$(PY) bench/service_bench.py

clean:
	rm -rf $(VENV) .cache reports/*/ .pytest_cache .mypy_cache .ruff_cache
