# Two commands set up and run everything on a fresh machine:
#   make train   train and evaluate SuperInfo on CIFAR-10 (GPU: the real run; CPU: a 3-minute run of the CPU recipe)
#   make test    the whole test suite (installs Chromium for the browser test when it can)
# Both create .venv and install requirements.txt into it first.
#   make site        the course as a static website in build/site/ (every notebook executed; offline)
#   make site-check  that website in headless Chromium (tests/test_site.py on build/site/)
#   make test-latest the test suite against the newest release of every dependency (.venv-latest)

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements.txt
CHROMIUM := /usr/lib/chromium/chromium
# Extra arguments for the trainer, e.g. make train ARGS="--loss simclr --epochs 20"
ARGS ?=
# Extra arguments for the site builder, e.g. make site SITE_ARGS="--notebooks 01,04"
SITE_ARGS ?=

.PHONY: train test lint venv browser clean-venv site site-check venv-latest test-latest

venv: $(STAMP)

# Reinstall only when requirements.txt changed since the last install.
# The course's own package goes in editable (notebooks, tests and scripts import this checkout).
$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	cp requirements.txt $(STAMP)

# The browser test drives Debian's Chromium; install it where we may (root + apt), else say why not.
browser:
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "note: Chromium not found at $(CHROMIUM) and cannot be installed here (needs root + apt);" \
		"the browser test will be skipped (it fails instead when CI is set)"; fi

train: venv
	$(PY) -m superinfo_lib.train --loss superinfo $(ARGS)

test: venv browser
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest -q --durations=15 $(PYTEST_ARGS)

# Tomorrow's versions: a second venv with the newest release of every dependency, upgraded on
# each run. Only the floors apply: pyproject.toml's (library + course extra) and requirements.txt's
# names with their pins dropped (the pins themselves stay exact for users).
VENV_LATEST ?= .venv-latest
PY_LATEST := $(VENV_LATEST)/bin/python
LATEST_SHOWN := torch|torchvision|numpy|pillow|safetensors|scikit-learn|plotly|ipywidgets|anywidget|jupyterlab|ipykernel|nbformat|papermill|pytest|nbconvert|tqdm

venv-latest:
	test -x $(PY_LATEST) || $(PYTHON) -m venv $(VENV_LATEST)
	$(PY_LATEST) -m pip install --quiet --upgrade pip
	sed -E -e '/^[[:space:]]*(#|$$)/d' -e 's/[[:space:]]*[<>=!~;].*//' requirements.txt \
		> $(VENV_LATEST)/requirements-unpinned.txt
	$(PY_LATEST) -m pip install --quiet --upgrade --upgrade-strategy eager \
		-r $(VENV_LATEST)/requirements-unpinned.txt -e ".[course]"
	@$(PY_LATEST) --version
	@$(PY_LATEST) -m pip freeze | grep -iE '^($(LATEST_SHOWN))=='

test-latest: venv-latest browser
	$(PY_LATEST) -m ruff check .
	$(PY_LATEST) -m ruff format --check .
	$(PY_LATEST) -m pytest -q --durations=15 $(PYTEST_ARGS)

site: venv
	$(PY) site/build.py $(SITE_ARGS)

site-check: venv browser
	SUPERINFO_SITE_DIR=build/site $(PY) -m pytest -q tests/test_site.py

# Fix what ruff can fix, and format.
lint: venv
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

clean-venv:
	rm -rf $(VENV)
