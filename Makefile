# Gridfolio. `make run` serves the portal with demo data; `make test` runs the whole suite.
SHELL := /bin/bash
# The first Python >= 3.12 found (Django 6 needs it); override with `make PYTHON=/path/to/python3`.
PYTHON ?= $(shell for p in python3.13 python3.12 python3 $(wildcard $(HOME)/.pyenv/versions/3.1[2-9]*/bin/python3) $(wildcard /usr/local/bin/python3.1[2-9]); do \
	if $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then echo $$p; break; fi; done)
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
# The address `make run` serves (webhook and invitation links, the printed sign-in URL), unless set.
PUBLIC_BASE_URL ?= http://$(HOST):$(PORT)
DEV_ENV := DEBUG=1 INTEGRATIONS_SANDBOX=1 PUBLIC_BASE_URL=$(PUBLIC_BASE_URL)

.PHONY: install run test lint format bench serve worker beat sandbox browser clean

$(VENV)/.installed: requirements.lock pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.12 or newer is needed (Django 6). Install it, or run: make PYTHON=/path/to/python3.12"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	@touch $@

install: $(VENV)/.installed

run: install  ## serve on http://127.0.0.1:8000 with SQLite, eager tasks, sandbox upstreams and demo data
	$(DEV_ENV) $(PY) manage.py migrate --noinput
	$(DEV_ENV) $(PY) manage.py seed_demo
	$(DEV_ENV) $(PY) manage.py runserver $(HOST):$(PORT)

test: install browser  ## the whole suite (PostgreSQL and Redis when DATABASE_URL / CELERY_BROKER_URL are set)
	$(PY) -m pytest $(PYTEST_ARGS)

browser:  ## Debian's Chromium for the browser tests (Playwright drives it; no browser download)
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			(apt-get install -y -qq chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)) \
			&& echo "installed Debian's chromium"; \
		else echo "note: /usr/bin/chromium is missing: browser tests will be skipped (apt-get install chromium)"; fi; \
	fi

lint: install  ## ruff, the layer contract (import-linter) and the type checker (mypy with django-stubs)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) -m mypy portal homes devices readings onboarding integrations alerts api

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install  ## benchmarks in bench/ (PostgreSQL: set DATABASE_URL), each with its baseline in the same run
	$(PY) bench/run.py

serve: install  ## production style: settings from the environment, gunicorn, whitenoise
	$(PY) manage.py collectstatic --noinput
	$(PY) manage.py migrate --noinput
	$(VENV)/bin/gunicorn portal.wsgi --bind $(HOST):$(PORT) --workers $${WEB_CONCURRENCY:-3} --access-logfile - --forwarded-allow-ips "$${FORWARDED_ALLOW_IPS:-127.0.0.1}"

worker: install
	$(VENV)/bin/celery -A portal worker --loglevel INFO

beat: install
	$(VENV)/bin/celery -A portal beat --loglevel INFO

clean:
	rm -rf $(VENV) staticfiles .pytest_cache
