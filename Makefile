# DriftGuard: one venv under .venv, installed from the exact lock files.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
UV     := $(VENV)/bin/uv
UV_VERSION := 0.13.9
export PYTHONDONTWRITEBYTECODE :=
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 90

.PHONY: help venv install install-dev demo test e2e lint lock serve bench bench-peers clean

help:
	@echo "make demo   - create .venv, install, run the full pipeline on simulated logs"
	@echo "make test   - install test tools and run the test suite"
	@echo "make e2e    - end-to-end tests (Prefect server, SMTP sink, PostgreSQL, S3, Dask)"
	@echo "make lint   - ruff"
	@echo "make serve  - Prefect server + deployments + worker on 127.0.0.1:4200"
	@echo "make bench  - benchmarks under bench/"
	@echo "make bench-peers - NannyML and Evidently in .venv-peers, measured beside DriftGuard"

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.installed: $(VENV)/bin/python requirements.lock pyproject.toml
	$(UV) pip install --quiet --python $(PY) --compile-bytecode -r requirements.lock
	$(UV) pip install --quiet --python $(PY) --no-deps -e .
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.lock
	$(UV) pip install --quiet --python $(PY) --compile-bytecode -r requirements-dev.lock
	@touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: install
	$(VENV)/bin/driftguard demo --fresh

# `make test` stays under 10 minutes on 2 cores; multi-process stress tests (marked slow) and
# end-to-end suites with real servers run in `make e2e`, which CI runs too.
test: install-dev
	$(PY) -m pytest -q -n 2 --dist worksteal -m "not e2e and not slow"

# The second run repeats the integration tests (every write path of the lake: ingestion,
# monitoring runs and their stages, audit chain, governance, kill switches, serving-log
# ingestion, store) on a PostgreSQL catalog with data files in S3 (moto), both on 127.0.0.1.
e2e: install-dev
	scripts/ensure-system-packages chromium postgresql postgresql-client
	$(PY) -m pytest -q -m "e2e or slow"
	$(PY) -m pytest -q --lake postgres+s3 -m "not e2e and not slow" tests/integration

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

serve: install
	$(VENV)/bin/driftguard serve

bench: install-dev
	$(PY) bench/ingest.py
	$(PY) bench/drift.py
	$(PY) bench/fairness.py
	$(PY) bench/audit.py
	$(PY) bench/serving.py
	$(PY) bench/report.py
	$(PY) bench/orchestration.py
	$(PY) bench/scale.py

# Peer tools (NannyML, Evidently) in their own environment: their pins conflict with ours.
PEERS := .venv-peers
$(PEERS)/.installed: bench/peers/requirements.txt
	$(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/pip install --quiet uv==$(UV_VERSION)
	$(PEERS)/bin/uv pip install --quiet --python $(PEERS)/bin/python --compile-bytecode \
		-r bench/peers/requirements.txt
	@touch $@

bench-peers: $(PEERS)/.installed

# Regenerate the lock files after changing pyproject.toml dependencies.
lock: $(VENV)/bin/python
	$(UV) pip compile pyproject.toml --python-version 3.11 --quiet -o requirements.lock
	$(UV) pip compile pyproject.toml --python-version 3.11 --quiet --extra dev -o requirements-dev.lock

clean:
	rm -rf $(VENV) $(PEERS) .pytest_cache .ruff_cache build *.egg-info
