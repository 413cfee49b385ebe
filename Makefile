# Two commands do all set-up on a fresh machine:
#   make demo   grades the bundled example submissions (local Kafka + Spark) and writes HTML reports
#   make test   runs the whole test suite (real Kafka, real Spark, headless Chromium)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install system-deps setup docker demo test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Java 17+ (and Chromium for the browser tests, PostgreSQL for grader serve's tests) from the system's
# packages when missing. Playwright drives that Chromium: no browser download.
system-deps:
	bash scripts/system-deps.sh

# Finds Java and fetches + caches the pinned Kafka and Spark-Kafka jars (offline afterwards).
setup: install system-deps
	$(BIN)/grader setup

# The docker sandbox: docker.io + mmdebstrap when missing, a running dockerd, the grading image.
docker: setup
	bash scripts/docker-setup.sh

demo: setup
	$(BIN)/grader examples --out reports/examples
	@for s in reports/examples/*/; do \
	  name=$$(basename $$s); \
	  echo "=== grading $$name ==="; \
	  $(BIN)/grader check $$s --sandbox local --out reports/$$name --seed 2026; rc=$$?; \
	  if [ $$rc -gt 1 ]; then exit $$rc; fi; \
	done
	@echo "Open reports/<name>/report.html (one folder per example submission)."

test: setup docker
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python scripts/mypy-assignments.py
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python scripts/mypy-assignments.py

bench: setup
	$(BIN)/python bench/cluster_startup.py
	$(BIN)/python bench/grade_one.py

clean:
	rm -rf $(VENV) reports .pytest_cache .ruff_cache .mypy_cache
