# The verbs every developer shares. `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed
# asl-validator (tests/infra/test_asl_validator.py), pinned in package-lock.json.
NODE_STAMP := node_modules/.installed

export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: demo test lint synth bench local clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(NODE_STAMP): package-lock.json
	npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

demo: $(STAMP)
	$(BIN)/lambdaops demo

local: $(STAMP)
	$(BIN)/lambdaops local --port 8787

# bandit covers what ships or runs for users; each finding it accepts is justified where it is
# (`# nosec B... # why`).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/bandit -q -r layers/lambdaops/python functions tools infra training

test: lint $(NODE_STAMP)
	$(BIN)/pytest -n 2

synth: $(STAMP)
	$(BIN)/python -m infra.app

# Evidently (the drift benchmark's baseline) only for benchmarks: never a test or runtime dependency.
$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python benchmarks/predict.py
	$(BIN)/python benchmarks/drift.py
	$(BIN)/python benchmarks/cold_start.py
	$(BIN)/python benchmarks/training.py
	$(BIN)/python benchmarks/training_loop.py

clean:
	rm -rf $(VENV) node_modules cdk.out .pytest_cache .mypy_cache .ruff_cache
