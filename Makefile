# The two commands: `make demo` runs the main job end to end, `make test` the full suite.
# Both create .venv when it is missing and install the pinned dependencies.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.edgesdk-installed

.PHONY: demo test tables lint typecheck install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[all,dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/edgesdk pipeline --out runs/demo

# README's tables from benchmarks/results/*.json (tests/test_tables.py checks they agree).
tables: $(STAMP)
	$(BIN)/python benchmarks/tables.py

lint: $(STAMP)
	$(BIN)/ruff check edgesdk tests benchmarks
	$(BIN)/ruff format --check edgesdk tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/python -m pytest edgesdk tests

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache
