# Everything runs in .venv, created and kept in step with requirements.lock on its own.
PYTHON ?= python3
HERE   := $(dir $(abspath $(lastword $(MAKEFILE_LIST))))
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cd "$(HERE)" && cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: test run sweep serve lint typecheck security unit emulator bench lock clean
.PHONY: build-DcsRestoresLayer build-RestoreWatchFunction build-DiscoverInstancesFunction build-SweepSummaryFunction

test: lint typecheck security unit ## everything CI checks

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11 or newer is needed" if sys.version_info < (3, 11) else 0)'
	rm -f $(VENV)/.installed-*
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade 'pip>=25.1'
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

security: $(STAMP) ## bandit over the shipped code, the dev kit and the CI tooling; pip-audit over the pinned dependencies
	$(BIN)/bandit -c pyproject.toml -q -r layers/dcs_restores/dcs_restores functions/restore_watch functions/discover_instances functions/sweep_summary devkit ci
	$(BIN)/python -m ci.audit

# Test files run in parallel, each file on one worker (module fixtures run once). More workers than
# cores: much of the suite waits on loopback peers and real backoff, not on the CPU.
PYTEST_WORKERS ?= 4

unit: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile

run: $(STAMP) ## the main job once, on the embedded default (no cloud account needed)
	$(BIN)/dcs-restore-watch invoke events/schedule-scheduler.json

sweep: $(STAMP) ## the fleet sweep state machine once, locally on moto's interpreter, over the embedded default's fleet
	$(BIN)/dcs-restore-watch sweep

serve: $(STAMP) ## the HTTP API on http://127.0.0.1:3000, on the embedded default
	$(BIN)/dcs-restore-watch serve --port 3000

emulator: $(STAMP) ## the DCS emulator on loopback, with seeded records
	$(BIN)/dcs-restore-watch emulator --port 8443

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# Lambda artifacts (template.yaml: BuildMethod makefile). `sam build` runs `make build-<LogicalId>` in a copy of
# the resource's CodeUri with ARTIFACTS_DIR set. Pinned wheels for LAMBDA_PLATFORM (the template's arm64; a
# benchmark builds for its own machine), hash-based bytecode from CPython 3.13: see ci/lambda_build.py.
LAMBDA_PLATFORM ?= manylinux2014_aarch64
LAMBDA_BUILD     = $(PYTHON) $(HERE)ci/lambda_build.py
LAMBDA_OPTIONS   = --source . --platform $(LAMBDA_PLATFORM)

build-DcsRestoresLayer:
	$(LAMBDA_BUILD) layer "$(ARTIFACTS_DIR)" $(LAMBDA_OPTIONS) --package dcs_restores --requirements requirements.txt

build-RestoreWatchFunction:
	$(LAMBDA_BUILD) function "$(ARTIFACTS_DIR)" $(LAMBDA_OPTIONS) --package restore_watch --requirements requirements.txt

# The discovery runs the watch's runtime and settings modules.
build-DiscoverInstancesFunction:
	$(LAMBDA_BUILD) function "$(ARTIFACTS_DIR)" $(LAMBDA_OPTIONS) --package discover_instances --package restore_watch \
		--requirements requirements.txt

# The summary needs pydantic and the layer only: no Powertools.
build-SweepSummaryFunction:
	$(LAMBDA_BUILD) function "$(ARTIFACTS_DIR)" $(LAMBDA_OPTIONS) --package sweep_summary

lock: ## re-resolve requirements.lock from pyproject.toml (runtime + dev group)
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade 'pip>=25.1'
	.lock-venv/bin/python -m pip install --quiet --group dev .
	.lock-venv/bin/python -m pip freeze --exclude dcs-restore-watch | grep -v '^setuptools==' > requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage build *.egg-info
