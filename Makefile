# Two front doors: `make demo` runs the offline demo, `make test` runs lint, types and the tests.
# Each creates the virtual environment on first use (pip install -e '.[dev]').
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin

.PHONY: demo test dashboard install

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[dev,browser,scale]'
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/fieldtool demo --db demo.duckdb

dashboard: $(VENV)/.installed
	$(BIN)/fieldtool dashboard --db demo.duckdb  # 127.0.0.1 only, no usage statistics

test: $(VENV)/.installed
	$(BIN)/ruff check fieldtool tests benchmarks streamlit_app.py setup.py
	$(BIN)/mypy
	$(BIN)/python -m pytest -q
