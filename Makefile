# Zabota: the two commands are `make run` and `make test` (README). Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup run test test-unit test-integration lint type bench reset fmt clean

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

run: setup
	$(BIN)/python -m chalicelib.local.runner --port $(PORT)

lint: setup
	$(BIN)/ruff check .

type: setup
	$(BIN)/mypy

test: setup lint type
	$(BIN)/pytest -q

test-unit: setup
	$(BIN)/pytest -q tests/unit tests/channels

test-integration: setup
	$(BIN)/pytest -q tests/integration tests/e2e

bench: setup
	$(BIN)/python -m bench.run

fmt: setup
	$(BIN)/ruff check --fix .

reset:
	rm -rf .data

clean: reset
	rm -rf $(VENV) node_modules
