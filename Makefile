# Every target sets itself up: a venv from the lock, then the job.
PY ?= python3
VENV := .venv
CLI_VENV := .venv-cli
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
export PYTHONPATH := $(CURDIR):$(CURDIR)/plugins

.PHONY: venv cli-venv system-packages test test-unit test-distributed test-browser lint bench bench-scale demo up down clean

venv: $(VENV)/.installed
cli-venv: $(CLI_VENV)/.installed

# The lock, then this repository as a package (uv builds it itself, editable): its provider entry point makes
# `oci` a connection type Airflow knows (oci_provider/)
$(VENV)/.installed: requirements.txt constraints.txt pyproject.toml
	tools/system-packages build
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q uv==$(UV_VERSION)
	$(BIN)/python -m uv pip install --python $(BIN)/python --compile-bytecode -q -r requirements.txt -c constraints.txt
	$(BIN)/python -m uv pip install --python $(BIN)/python -q --no-deps -e .
	touch $@

$(CLI_VENV)/.installed: requirements-cli.txt constraints-cli.txt $(VENV)/.installed
	$(PY) -m venv $(CLI_VENV)
	$(BIN)/python -m uv pip install --python $(CLI_VENV)/bin/python --compile-bytecode -q -r requirements-cli.txt -c constraints-cli.txt
	touch $@

# ruff, then the import contracts of plugins/ (pyproject.toml, [tool.importlinter]; docs/architecture.md)
lint: venv
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

# The system tools the tests drive (qemu-img, e2fsprogs): installed with apt-get as root, else the one command
system-packages:
	@tools/system-packages test

# The fast tier: pure functions, validation, template fields, Params schemas (no ocisim, no Airflow database)
test-unit: system-packages venv
	$(BIN)/python -m pytest tests/unit -q

# Test files spread over this many processes (pytest-xdist; one file stays in one process: its module fixtures,
# and the fixed database names of tests/quiesce, are never shared); TEST_WORKERS=0 runs them in this process
TEST_WORKERS ?= 2

# test-unit first, then the rest; the distributed stack has a target of its own (PostgreSQL and Redis on loopback)
test: system-packages venv cli-venv lint test-unit
	$(BIN)/python -m pytest --ignore=tests/distributed --ignore=tests/unit --durations=30 -n $(TEST_WORKERS) --dist loadfile

# docker-compose's stack without Docker: PostgreSQL 127.0.0.1:5432, Redis 127.0.0.1:6379, CeleryExecutor
test-distributed: venv
	OCI_DISTRIBUTED=1 $(BIN)/python -m pytest tests/distributed -q -s

# The Airflow UI in headless Chromium (Debian's /usr/bin/chromium) against `make up`'s stack on free ports
test-browser: venv
	@tools/system-packages browser
	OCI_BROWSER=1 $(BIN)/python -m pytest tests/browser -q -s

demo: venv cli-venv
	$(BIN)/python -m demo.run

# A standalone-like Airflow (LocalExecutor on PostgreSQL database UP_DB) with ocisim and the demo seed, left
# running under UP_DIR; `make down` stops every process it started (by PID). PORT is the UI's port.
PORT ?= 8080
UP_DIR ?= out/up
UP_DB ?= airflow_up

up: venv
	$(BIN)/python -m demo.stack up --out $(UP_DIR) --port $(PORT) --db $(UP_DB)

down:
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m demo.stack down --out $(UP_DIR); \
	else echo "[down] nothing to stop: no $(VENV), so nothing was started"; fi

bench: venv
	$(BIN)/python bench/ocisim_throughput.py

# The OCI Protection page for 500 volumes in ocisim and 30 nights of reports: cold, warm and cache-expired loads
.PHONY: bench-dashboard
bench-dashboard: venv
	$(BIN)/python bench/dashboard.py

# The nightly backup of N volumes on the distributed stack (Celery) and on LocalExecutor, ocisim at x60; then
# K concurrent trigger waits in one event loop. Needs PostgreSQL and Redis like test-distributed (Redis DB 7).
N ?= 50
EXECUTOR ?= both
K ?= 1000
bench-scale: venv
	$(BIN)/python bench/scale_nightly.py --n $(N) --executor $(EXECUTOR)
	$(BIN)/python bench/scale_triggers.py --k $(K)

clean:
	rm -rf $(VENV) $(CLI_VENV) .pytest_cache out
