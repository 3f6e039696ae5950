# Zabota: the two commands are `make run` and `make test` (README). Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup run test test-unit test-integration test-fuzz lint type bench reset fmt clean frontend chromium package deploy destroy

# Set-up steps print one line each; their output goes to .data/logs/ and is shown only when a step fails, so
# the runner's banner (URL, key, sign-in link) is not buried under installer warnings.
QUIETLY := scripts/quietly
LOGS := .data/logs

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(QUIETLY) "Creating the virtualenv $(VENV)" $(LOGS)/venv.log -- $(PYTHON) -m venv $(VENV)
	@$(QUIETLY) "Installing Python packages into $(VENV)" $(LOGS)/pip.log -- \
		$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

node_modules/.installed: package.json package-lock.json
	@$(QUIETLY) "Installing npm packages into node_modules" $(LOGS)/npm.log -- npm ci --no-audit --no-fund --loglevel=error
	@touch $@

run: setup frontend
	@$(BIN)/python -m chalicelib.local.runner --port $(PORT)

# The console, the simulator and widget.js (frontend/dist), rebuilt only when a source changed.
FRONTEND_SOURCES := $(shell find frontend/src frontend/static -type f 2>/dev/null) frontend/index.html \
	frontend/simulator/index.html frontend/vite.config.mts frontend/tsconfig.json
frontend: frontend/dist/.built

frontend/dist/.built: node_modules/.installed $(FRONTEND_SOURCES)
	@$(QUIETLY) "Building the frontend (frontend/dist)" $(LOGS)/frontend.log -- npm run --silent build
	@touch $@

# The browser tests drive Debian's Chromium (never a downloaded browser); CI runs as root on a clean machine.
SUDO := $(shell [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null && echo sudo)
chromium:
	@test -x /usr/bin/chromium || { echo "installing Debian's chromium for the browser tests"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

lint: setup
	$(BIN)/ruff check .

type: setup
	$(BIN)/mypy

test: setup lint type frontend chromium
	$(BIN)/pytest -q

test-unit: setup
	$(BIN)/pytest -q tests/unit tests/channels

test-integration: setup
	$(BIN)/pytest -q tests/integration tests/e2e

# Hypothesis on every adapter's parser, schemathesis over /api/openapi.json, DynamoDB Local killed mid-burst
# (all part of `make test` too; API_FUZZ_EXAMPLES=… changes the API fuzzer's examples per operation).
test-fuzz: setup
	$(BIN)/pytest -q tests/fuzz tests/integration/test_fault_burst.py

bench: setup
	$(BIN)/python -m bench.run

# AWS (docs/DEPLOY.md): `package` needs no credentials; `deploy` and `destroy` use the caller's (STACK=zabota).
package: $(VENV)/.installed
	$(BIN)/python -m infra.package --out out

deploy: package frontend
	infra/deploy.sh deploy

destroy:
	infra/deploy.sh destroy

fmt: setup
	$(BIN)/ruff check --fix .

reset:
	rm -rf .data

clean: reset
	rm -rf $(VENV) node_modules
