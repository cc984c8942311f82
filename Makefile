# emonet: `make demo` and `make test` work on a fresh machine with Python 3.11.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall when the package metadata changes. The service's and Ray's extras too: the suite
# tests them.
$(STAMP): $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test,serve,ray]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m emonet.demo --out out/demo

test: $(STAMP)
	$(BIN)/python -m pytest -q
	$(BIN)/ruff check emonet tests bench presets

# the suite without the tests marked slow (each over a few seconds): a quick check while editing
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check emonet tests bench presets
	$(BIN)/ruff format --check emonet tests bench presets

bench: $(STAMP)
	$(BIN)/python bench/features.py
	$(BIN)/python bench/training.py
	$(BIN)/python bench/ensemble.py

clean:
	rm -rf $(VENV) out build *.egg-info .pytest_cache .ruff_cache
