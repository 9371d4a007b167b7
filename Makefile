# The two commands a newcomer needs: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q

.PHONY: demo test chat bench clean

$(VENV)/.local: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -e '.[local]'
	touch $@

$(VENV)/.dev: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -e '.[dev]'
	touch $(VENV)/.local $@

demo: $(VENV)/.local  ## the blog's cases through the Lex handler, on the embedded defaults
	$(PY) -m orchestrator demo

chat: $(VENV)/.local  ## talk to the agent in a terminal
	$(PY) -m orchestrator chat

test: $(VENV)/.dev  ## the whole test suite
	$(PY) -m pytest

bench: $(VENV)/.dev  ## import cost and per-turn latency figures
	$(PY) benchmarks/import_cost.py
	$(PY) benchmarks/turn_latency.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
