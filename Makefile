# Two commands: `make book` and `make test`. Both set up .venv on a fresh machine.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.claimbook-installed
EXECUTE ?=
# STRICT=1: the site build fails on any Sphinx warning or broken reference (`make test`
# builds it so); without it, `make book` reports problems and keeps going. A strict
# build starts from an empty _build/html and re-reads every page: an incremental build
# would not repeat an unchanged page's warnings, and Sphinx never deletes images that
# an earlier build wrote (the browser test measures the site's size).
STRICT ?=
JB_FLAGS := --keep-going $(if $(STRICT),-W -n --all)
# Strict nbval on the CPU small budget at the default seed; lax on a GPU, the full
# budget or another seed (numerics differ from the committed CPU outputs there; every
# verdict's guard still runs, and off the reference setting it reports, not raises).
NBVAL_MODE := $(if $(filter-out cpu,$(CLAIMBOOK_DEVICE))$(filter full mini,$(CLAIMBOOK_BUDGET))$(filter-out 0,$(CLAIMBOOK_SEED)),--nbval-lax,--nbval)
NBVAL_FLAGS := $(NBVAL_MODE) --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
	--nbval-cell-timeout=300 -p no:cacheprovider --durations=0
# ORDER=reverse or ORDER=random:<seed> runs the unit tests in another order
# (tests/conftest.py); every test must pass in any order.
ORDER ?=
# Everything ruff checks and formats (88 columns, pyproject.toml): the package, the
# build tools, the tests, the benchmark scripts and the notebooks' code cells.
LINT_PATHS := claimbook bookbuild tests notebooks scripts
export PYTHONHASHSEED := 0
export PYDEVD_DISABLE_FILE_VALIDATION := 1

NPM_STAMP := node_modules/.claimbook-installed
# The browser test drives Debian's Chromium (.ci/run installs it); nothing downloads one.
SITE_TEST_FLAGS := -q -p no:cacheprovider --durations=5

.PHONY: book test install site-deps unit lint nbval site-test execute ledger cache clean \
	stability test-full lock canary lint-ci lowest

install: $(STAMP)

# The site's third-party JavaScript (ipywidgets 8 embedder, MathJax) comes from the
# npm registry, pinned in package.json / package-lock.json; bookbuild.site copies
# the files the pages load into _build/html/_static/vendor during the build.
site-deps: $(NPM_STAMP)

$(NPM_STAMP): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $(NPM_STAMP)

# requirements.txt is the lock (`make lock`): every package at an exact version.
# pip installs it (not uv), so pip's configuration applies: local wheels where a
# machine has them, the package registry otherwise. A machine-wide constraints file
# (pip's PIP_CONSTRAINT / `constraint =` setting) can only conflict with an exact
# lock, so it is lifted for this install.
$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	PIP_CONSTRAINT=/dev/null $(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	@touch $(STAMP)

# Warm the pretrained bodies' cache outside any timed notebook (first build ~55 s:
# four independent bodies, ~13 s each on two cores), then fetch the fastai 1.0
# wheels chapter 10 reads (`pip download --no-deps`, one release per call, never
# installed; ~100 KB each; a wheel it cannot fetch is reported, not fatal).
cache: install
	$(PY) -m claimbook

execute: install cache
	$(PY) -m bookbuild execute notebooks

# With EXECUTE=1 the ledger waits for the fresh outputs (no race under make -j).
ledger: install $(if $(EXECUTE),execute)
	$(PY) -m bookbuild ledger

# The HTML book; EXECUTE=1 re-executes the chapters and regenerates the ledger first.
book: install site-deps $(if $(EXECUTE),ledger)
	$(if $(STRICT),rm -rf _build/html)
	$(VENV)/bin/jupyter-book build . $(JB_FLAGS)
	@echo "HTML book: file://$(CURDIR)/_build/html/index.html"

lint: install
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)
	$(MAKE) --no-print-directory lint-ci

unit: install
	CLAIMBOOK_TEST_ORDER=$(ORDER) $(PY) -m pytest tests -q -p no:cacheprovider \
		--durations=10 --ignore=tests/test_site.py

# Strict only on the kind of CPU the committed outputs were made on (each chapter's
# versions line names it; `python -m bookbuild reference`): elsewhere float32
# training gives other numbers, so nbval runs lax and CLAIMBOOK_REFERENCE=0 makes a
# changed verdict a report instead of an error.
nbval: install cache
	@if [ "$(NBVAL_MODE)" = "--nbval" ] && ! $(PY) -m bookbuild reference; then \
		CLAIMBOOK_REFERENCE=0 $(PY) -m pytest $(patsubst --nbval,--nbval-lax,$(NBVAL_FLAGS)) notebooks; \
	else \
		$(PY) -m pytest $(NBVAL_FLAGS) notebooks; \
	fi

# Every page of the built book in headless Chromium, served from localhost;
# screenshots of the home page, the ledger and a chapter land in _build/screenshots.
site-test: install
	CLAIMBOOK_SITE_TEST=required $(PY) -m pytest tests/test_site.py $(SITE_TEST_FLAGS)

# The strict site build runs after the notebooks are checked, then the browser test.
test: lint unit nbval
	$(MAKE) --no-print-directory book STRICT=1
	$(MAKE) --no-print-directory site-test

clean:
	rm -rf _build

# Do the verdicts survive other seeds? Runs the chapters (copies; lax) with
# CLAIMBOOK_SEED set to each of SEEDS and prints the verdicts that changed; exits 1
# on a change or a failed cell. NOTEBOOKS picks chapters (default: all).
SEEDS ?= 1 2
NOTEBOOKS ?=
stability: install cache
	$(PY) -m bookbuild stability $(NOTEBOOKS) --seeds $(SEEDS)

# The full budget's code path in miniature (CLAIMBOOK_BUDGET=mini): builds a folder in
# the Oxford-IIIT Pets layout and seeded ResNet-34 weights in torch's cache, in a
# temporary folder (no network), and runs every chapter on it in nbval's lax mode,
# one pytest each; fails on any error and prints each chapter's time and peak memory.
# NOTEBOOKS picks chapters (default: all). `.ci/run` runs it after `make test`.
test-full: install cache
	$(PY) -m bookbuild miniature --test $(NOTEBOOKS)

# The lock: requirements.txt pins the whole stack (every package, exact versions) for
# Python 3.11 on Linux x86_64, compiled from requirements.in by uv (itself pinned
# there). Pins already in the lock are kept unless requirements.in needs another, so
# a lock change is a small, reviewable diff; UPGRADE=1 moves every package to its
# newest allowed release. Then `make install` installs the new lock.
UPGRADE ?=
lock: install
	$(VENV)/bin/uv pip compile requirements.in -o requirements.txt -q \
		--python-version 3.11 --python-platform x86_64-manylinux_2_28 \
		--custom-compile-command "make lock" $(if $(UPGRADE),--upgrade)

# The reader's install, tested: a fresh venv (.venv-lowest) where `pip install .`
# resolves every direct dependency to the lowest version pyproject.toml allows (uv's
# lowest-direct resolution), then the package's unit tests and chapter 00 on the mini
# budget there. torch and torchvision stay at the lock's versions, linked from .venv
# (bookbuild.lowest: another multi-GB torch would cost about ten minutes); the test
# tools are pinned to the lock. CI runs it after `make test`.
LOWEST := .venv-lowest
LOWEST_PINS = $(shell grep -E '^(torch|torchvision|pytest|nbval|nbclient|ipykernel|nbformat|pyyaml)==' requirements.txt)
LOWEST_TESTS := $(addprefix tests/test_,$(addsuffix .py,budget claims data debug evidence \
	finetune groups hooks interactive lrfind models parallel plotting registry \
	renames replicates runtime seeding timing tolerance verdictline wheels lrstudy))
lowest: install cache
	rm -rf $(LOWEST)
	$(VENV)/bin/uv venv -q --python $(PY) $(LOWEST)
	$(PY) -m bookbuild lowest "$$($(LOWEST)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
	$(VENV)/bin/uv pip install -q --python $(LOWEST)/bin/python --resolution lowest-direct \
		. $(LOWEST_PINS)
	$(VENV)/bin/uv pip list -q --python $(LOWEST)/bin/python | grep -iE \
		'^(fastai|fastcore|numpy|scipy|pandas|matplotlib|pillow|altair|ipywidgets|ipython|torch|torchvision) '
	$(LOWEST)/bin/python -m pytest -q -p no:cacheprovider $(LOWEST_TESTS)
	$(LOWEST)/bin/python -m bookbuild miniature --test notebooks/00_start_here.ipynb

# Do the verdicts survive the newest torch, torchvision and fastai? Builds .venv-canary
# (never .venv; the lock is not used) with their newest releases, runs the chapters
# there (copies; default seed; verdict guards active), prints changed verdicts and
# outputs and the versions used, and writes book/canary.json (the ledger shows it).
# Exit 1: a verdict changed or a cell failed; 3: the package registry is unreachable.
# NOTEBOOKS picks chapters; CANARY_REUSE=1 reuses .venv-canary instead of a fresh one.
CANARY_REUSE ?=
canary:
	python3 -m bookbuild canary $(NOTEBOOKS) $(if $(CANARY_REUSE),--reuse)

# The GitHub workflows (.github/workflows): valid against the workflow schema
# (check-jsonschema's vendored copy) and free of zizmor's findings; both offline.
lint-ci: install
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows \
		.github/workflows/*.yml
	$(VENV)/bin/zizmor --offline --strict-collection --no-progress .github/workflows
