# Two commands: `make book` and `make test`. Both set up .venv on a fresh machine.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.claimbook-installed
EXECUTE ?=
# Strict nbval on the CPU small budget; lax on a GPU or the full budget (numerics
# differ from the committed CPU outputs there; every verdict's assert still runs).
NBVAL_MODE := $(if $(filter-out cpu,$(CLAIMBOOK_DEVICE))$(filter full,$(CLAIMBOOK_BUDGET)),--nbval-lax,--nbval)
NBVAL_FLAGS := $(NBVAL_MODE) --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
	--nbval-cell-timeout=300 -p no:cacheprovider --durations=0
export PYTHONHASHSEED := 0
export PYDEVD_DISABLE_FILE_VALIDATION := 1

NPM_STAMP := node_modules/.claimbook-installed
# The browser test drives Debian's Chromium (.ci/run installs it); nothing downloads one.
SITE_TEST_FLAGS := -q -p no:cacheprovider --durations=5

.PHONY: book test install site-deps unit nbval build-book site-test execute ledger cache clean

install: $(STAMP)

# The site's third-party JavaScript (ipywidgets 8 embedder, MathJax) comes from the
# npm registry, pinned in package.json / package-lock.json; claimbook.site copies
# the files the pages load into _build/html/_static/vendor during the build.
site-deps: $(NPM_STAMP)

$(NPM_STAMP): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $(NPM_STAMP)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	@touch $(STAMP)

# Warm the pretrained-body cache outside any timed notebook (first build ~25 s).
cache: install
	$(PY) -m claimbook.models

execute: install cache
	$(PY) -m claimbook.execute notebooks

ledger: install
	$(PY) -m claimbook.ledger

build-book: install site-deps
	$(VENV)/bin/jupyter-book build . -W -n --keep-going
	@echo "HTML book: file://$(CURDIR)/_build/html/index.html"

book: install site-deps $(if $(EXECUTE),execute ledger)
	$(VENV)/bin/jupyter-book build . --keep-going
	@echo "HTML book: file://$(CURDIR)/_build/html/index.html"

unit: install
	$(PY) -m pytest tests -q -p no:cacheprovider --durations=10 --ignore=tests/test_site.py

nbval: install cache
	$(PY) -m pytest $(NBVAL_FLAGS) notebooks

# Every page of the built book in headless Chromium, served from localhost;
# screenshots of the home page, the ledger and a chapter land in _build/screenshots.
site-test: install build-book
	CLAIMBOOK_SITE_TEST=required $(PY) -m pytest tests/test_site.py $(SITE_TEST_FLAGS)

test: unit nbval build-book site-test

clean:
	rm -rf _build
