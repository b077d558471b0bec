# Everything runs in .venv, created and kept in step with the lock files on its own: `make run` installs
# requirements.lock (the runtime and the dev kit) and the project; `make test` adds requirements-dev.lock.
PYTHON ?= python3
HERE   := $(dir $(abspath $(lastword $(MAKEFILE_LIST))))
VENV   := .venv
BIN    := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run-$(shell cd "$(HERE)" && cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
DEV_STAMP := $(VENV)/.installed-dev-$(shell cd "$(HERE)" && cat requirements.lock requirements-dev.lock pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: test run sweep serve lint typecheck security unit docs emulator bench lock clean
.PHONY: build-DcsRestoresLayer build-RestoreWatchFunction build-DiscoverInstancesFunction build-SweepSummaryFunction

test: lint typecheck security docs unit ## everything CI checks

$(RUN_STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11 or newer is needed" if sys.version_info < (3, 11) else 0)'
	rm -f $(VENV)/.installed-*
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade 'pip>=25.1'
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

$(DEV_STAMP): $(RUN_STAMP) requirements-dev.lock
	$(BIN)/python -m pip install --quiet -r requirements.lock -r requirements-dev.lock
	touch $@

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

security: $(DEV_STAMP) ## bandit over the shipped code, the dev kit and the CI tooling; pip-audit over the pinned dependencies
	$(BIN)/bandit -c pyproject.toml -q -r layers/dcs_restores/dcs_restores functions/common functions/restore_watch functions/discover_instances functions/sweep_summary devkit ci
	$(BIN)/python -m ci.audit

# Test files run in parallel, each file on one worker (module fixtures run once). More workers than
# cores: much of the suite waits on loopback peers and real backoff, not on the CPU.
PYTEST_WORKERS ?= 4

unit: $(DEV_STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile

# The docs site from docs/ into site/ (ignored by git); --strict fails on any broken link or anchor (and --quiet
# would hide them from it). Material's end-of-life banner is noted in docs/development.md, not printed every run.
docs: $(DEV_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

run: $(RUN_STAMP) ## the main job once, on the embedded default (no cloud account needed)
	$(BIN)/dcs-restore-watch invoke events/schedule-scheduler.json

sweep: $(RUN_STAMP) ## the fleet sweep state machine once, locally on moto's interpreter, over the embedded default's fleet
	$(BIN)/dcs-restore-watch sweep

serve: $(RUN_STAMP) ## the HTTP API on http://127.0.0.1:3000, on the embedded default
	$(BIN)/dcs-restore-watch serve --port 3000

emulator: $(RUN_STAMP) ## the DCS emulator on loopback, with seeded records
	$(BIN)/dcs-restore-watch emulator --port 8443

bench: $(DEV_STAMP)
	$(BIN)/python -m benchmarks

# Lambda artifacts (template.yaml: BuildMethod makefile). `sam build` runs `make build-<LogicalId>` in a copy of
# the resource's CodeUri with ARTIFACTS_DIR set. Pinned wheels for LAMBDA_PLATFORM (the template's arm64; a
# benchmark builds for its own machine), hash-based bytecode from CPython 3.13: see ci/lambda_build.py.
LAMBDA_PLATFORM ?= manylinux2014_aarch64
LAMBDA_BUILD     = $(PYTHON) $(HERE)ci/lambda_build.py
LAMBDA_OPTIONS   = --source . --platform $(LAMBDA_PLATFORM)

build-DcsRestoresLayer:
	$(LAMBDA_BUILD) layer "$(ARTIFACTS_DIR)" $(LAMBDA_OPTIONS) --package dcs_restores --requirements requirements.txt

# Each function ships its own package and common, the code every function shares (functions/common).
build-RestoreWatchFunction:
	$(LAMBDA_BUILD) function "$(ARTIFACTS_DIR)" $(LAMBDA_OPTIONS) --package restore_watch --package common \
		--requirements requirements.txt

build-DiscoverInstancesFunction:
	$(LAMBDA_BUILD) function "$(ARTIFACTS_DIR)" $(LAMBDA_OPTIONS) --package discover_instances --package common \
		--requirements requirements.txt

# The summary needs pydantic and the layer only: no Powertools (of common it loads the sweep's contract alone).
build-SweepSummaryFunction:
	$(LAMBDA_BUILD) function "$(ARTIFACTS_DIR)" $(LAMBDA_OPTIONS) --package sweep_summary --package common

lock: ## re-resolve requirements.lock (runtime + dev kit) and requirements-dev.lock (the rest) from pyproject.toml
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade 'pip>=25.1'
	.lock-venv/bin/python -m pip install --quiet --group devkit .
	echo '# `make lock` writes it: the runtime and the dev kit, all `make run` installs. Exact pins.' > requirements.lock
	.lock-venv/bin/python -m pip freeze --exclude dcs-restore-watch | grep -v '^setuptools==' >> requirements.lock
# The rest, resolved with the pins above held: the two files never disagree on a version.
	.lock-venv/bin/python -m pip install --quiet -c requirements.lock --group dev .
	echo '# `make lock` writes it: what `make test` adds to requirements.lock (tests, lint, types, audits). Exact pins.' > requirements-dev.lock
	.lock-venv/bin/python -m pip freeze --exclude dcs-restore-watch | grep -v '^setuptools==' | grep -vxF -f requirements.lock >> requirements-dev.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage build site
