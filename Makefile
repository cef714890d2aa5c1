# Two entry points for a fresh machine: `make run` (set up, then the main job) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup browser run test lint

$(BIN)/crossdiff: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

setup: $(BIN)/crossdiff

run: setup
	$(BIN)/crossdiff run --out runs/study

# Headless Chromium (Debian's package) renders the HTML report in one test.
browser:
	bash scripts/install-chromium.sh

test: setup browser
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .
