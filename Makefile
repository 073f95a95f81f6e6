# Every target sets itself up: a venv from the lock, then the job.
PY ?= python3
VENV := .venv
CLI_VENV := .venv-cli
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
export PYTHONPATH := $(CURDIR):$(CURDIR)/plugins

.PHONY: venv cli-venv test lint bench demo clean

venv: $(VENV)/.installed
cli-venv: $(CLI_VENV)/.installed

$(VENV)/.installed: requirements.txt constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q uv==$(UV_VERSION)
	$(BIN)/python -m uv pip install --python $(BIN)/python --compile-bytecode -q -r requirements.txt -c constraints.txt
	touch $@

$(CLI_VENV)/.installed: requirements-cli.txt constraints-cli.txt $(VENV)/.installed
	$(PY) -m venv $(CLI_VENV)
	$(BIN)/python -m uv pip install --python $(CLI_VENV)/bin/python --compile-bytecode -q -r requirements-cli.txt -c constraints-cli.txt
	touch $@

lint: venv
	$(BIN)/ruff check .

test: venv cli-venv lint
	$(BIN)/python -m pytest

demo: venv
	$(BIN)/python -m demo.run

bench: venv
	$(BIN)/python bench/ocisim_throughput.py

clean:
	rm -rf $(VENV) $(CLI_VENV) .pytest_cache out
