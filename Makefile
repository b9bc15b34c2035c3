# Two commands set up everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test venv migrate seed lint check stop-db clean

$(PY):
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): $(PY) requirements.txt requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

migrate: venv
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo

# The product at http://127.0.0.1:8000 with demo data, a Celery worker and beat; Ctrl-C stops all.
run: seed
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py run_all

test: venv
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .

check: venv
	$(PY) manage.py makemigrations --check --dry-run

stop-db: venv
	$(PY) -c "from config.embedded_db import stop_embedded; stop_embedded()"

clean:
	rm -rf $(VENV)
