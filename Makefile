# Two commands matter: `make run` (set up, demo data, serve) and `make test` (the whole suite).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000
# The make targets are for a developer's machine (dev SECRET_KEY allowed, demo data); a
# server sets AKSI_ENV=production and a SECRET_KEY (see the README's deployment notes).
export AKSI_ENV ?= development
IS_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo 1)

# `make serve` is the production profile: production unless AKSI_ENV came from outside.
SERVE_ENV := $(if $(filter environment command,$(firstword $(origin AKSI_ENV))),$(AKSI_ENV),production)

.PHONY: run serve test install assets translations db demo lint bench clean browser-deps postgres-deps font-deps diagram-deps

run: install diagram-deps db demo
	$(FLASK) run --host $(HOST) --port $(PORT)

# The production profile on this machine: gunicorn (deploy/gunicorn.conf.py) and one job
# worker, on the PostgreSQL database named by DATABASE_URL; needs SECRET_KEY (see README).
serve: install
	@[ -n "$$DATABASE_URL" ] || { echo "make serve needs DATABASE_URL (postgresql://user:password@host/aksi)"; exit 2; }
	export AKSI_ENV=$(SERVE_ENV) AKSI_JOBS=queue; \
	$(FLASK) db upgrade && \
	{ $(FLASK) aksi worker & worker=$$!; trap 'kill -TERM $$worker; wait $$worker' EXIT INT TERM; \
	  $(VENV)/bin/gunicorn -c deploy/gunicorn.conf.py; }

test: install browser-deps postgres-deps font-deps diagram-deps
	$(VENV)/bin/pytest -n auto

install: $(VENV)/.installed assets translations

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

assets: static/vendor/htmx.min.js

static/vendor/htmx.min.js: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js

translations: $(VENV)/.installed
	$(VENV)/bin/pybabel compile --use-fuzzy -d translations 2>&1 | grep -v "^compiling" || true

# Refresh the catalogues after changing user-facing strings.
messages: $(VENV)/.installed
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -o translations/messages.pot .
	$(VENV)/bin/pybabel update -i translations/messages.pot -d translations

db: install
	$(FLASK) db upgrade

demo: db
	$(FLASK) aksi demo

browser-deps:
	@if ! command -v chromium >/dev/null; then \
	  if [ "$(IS_ROOT)" = 1 ]; then apt-get update -q && apt-get install -y -q chromium; \
	  else echo "Chromium is missing: install Debian's package 'chromium' (sudo apt-get install chromium)"; exit 1; fi; \
	fi

postgres-deps:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then \
	  if [ "$(IS_ROOT)" = 1 ]; then apt-get update -q && apt-get install -y -q postgresql; \
	  else echo "PostgreSQL is missing: install Debian's package 'postgresql'"; exit 1; fi; \
	fi

# The PDF prints any Unicode in DejaVu Sans (it falls back to Latin-1 without it).
font-deps:
	@if [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then \
	  if [ "$(IS_ROOT)" = 1 ]; then apt-get update -q && apt-get install -y -q fonts-dejavu-core; \
	  else echo "The DejaVu fonts are missing: install Debian's package 'fonts-dejavu-core'"; exit 1; fi; \
	fi

# The flow diagrams are drawn by Graphviz's `dot` (without it the pages list the steps instead).
diagram-deps:
	@if ! command -v dot >/dev/null; then \
	  if [ "$(IS_ROOT)" = 1 ]; then apt-get update -q && apt-get install -y -q graphviz; \
	  else echo "Graphviz is missing: install Debian's package 'graphviz' (sudo apt-get install graphviz)"; exit 1; fi; \
	fi

lint: install
	$(VENV)/bin/ruff check .

bench: install
	$(PY) bench/engine.py
	$(PY) bench/dashboard.py

clean:
	rm -rf $(VENV) node_modules static/vendor
