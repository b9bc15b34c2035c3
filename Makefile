# Two commands set up everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test venv venv-dev migrate seed lint fmt typecheck check stop-db clean bench

$(PY):
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

# `make run` needs only the runtime requirements; tests and linters add the dev ones. Both
# files pin every package, what they pull in included, so pip installs them as listed
# (--no-deps: no resolution, a few seconds off the first run); the dev install ends with
# `pip check`, which fails if a pin is missing or two disagree.
PIP_INSTALL := $(PY) -m pip install --quiet --disable-pip-version-check --no-compile --no-deps

$(RUNTIME_STAMP): $(PY) requirements.txt
	$(PIP_INSTALL) -r requirements.txt
	touch $(RUNTIME_STAMP)

$(DEV_STAMP): $(RUNTIME_STAMP) requirements-dev.txt
	$(PIP_INSTALL) -r requirements-dev.txt
	$(PY) -m pip check
	touch $(DEV_STAMP)

venv: $(RUNTIME_STAMP)

venv-dev: $(DEV_STAMP)

migrate: venv
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo

# The product at http://127.0.0.1:8000 with demo data, a Celery worker and beat; Ctrl-C stops all.
# RUN_ARGS go to the launcher (config/launcher.py, also `manage.py run_all`), e.g.
# make run RUN_ARGS="--port 8001".
# The static files are collected while the demo data is written (neither needs the other).
run: migrate
	$(PY) manage.py collectstatic --noinput --verbosity 0 & collecting=$$!; \
	$(PY) manage.py seed_demo && wait $$collecting
	$(PY) -m config.launcher $(RUN_ARGS)

# The embedded server's log grows 15-20 MB a run: its last 16 MB go to .data/postgres-log.1 and
# it is emptied first, unless another test session is reading it (config/embedded_log.py).
test: venv-dev
	$(PY) -m config.embedded_log
	$(PY) -m pytest $(PYTEST_ARGS)

# The static checks .ci/run runs: style and bugs (ruff), formatting, and the layers
# (.importlinter). `make fmt` rewrites the code into the one format; `make typecheck` runs mypy
# with Django's and DRF's stubs (mypy.ini: strict on core, services and selectors).
lint: venv-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

fmt: venv-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: venv-dev
	$(VENV)/bin/mypy .

check: venv
	$(PY) manage.py makemigrations --check --dry-run

# Every suite under bench/ and one table of ratios to baselines measured in the same run
# (about six minutes on 2 cores, a fresh clone's make run included; options:
# make bench BENCH_ARGS="--help").
bench: venv-dev
	$(PY) -m bench $(BENCH_ARGS)

stop-db: venv
	$(PY) -c "from config.embedded_db import stop_embedded; stop_embedded()"

clean:
	rm -rf $(VENV)

# Browser tests: Debian's Chromium driven by Playwright against a live server.
# Never `playwright install`: the apt package is the browser. Screenshots: artifacts/e2e/.
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
.PHONY: test-e2e
test-e2e: venv
	@test -x $(CHROMIUM) || { $(SUDO) apt-get update && $(SUDO) apt-get install -y chromium; }
	$(PY) -m pytest e2e -m e2e $(PYTEST_ARGS)
