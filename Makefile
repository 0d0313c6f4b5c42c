# Two commands set up a fresh machine:  `make demo` (serve the lessons)  and  `make test`.
# Everything lands in .venv and in folders of this project, never in $HOME.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8866

# Jupyter, IPython and matplotlib state stays inside the project.
export JUPYTER_CONFIG_DIR := $(CURDIR)/etc/jupyter
# The page template etc/jupyter/voila.json names (share/jupyter/voila/templates/pnp: no CDN requests).
export JUPYTER_PATH := $(CURDIR)/share/jupyter
export JUPYTER_DATA_DIR := $(CURDIR)/.jupyter/data
export JUPYTER_RUNTIME_DIR := $(CURDIR)/.jupyter/runtime
export IPYTHONDIR := $(CURDIR)/.jupyter/ipython
export MPLCONFIGDIR := $(CURDIR)/.jupyter/matplotlib
export JUPYTER_PLATFORM_DIRS := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# Idle OpenMP threads sleep instead of spinning: shared cores (many kernels) stay usable (see pnp_lessons/__init__.py).
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: demo test site release install install-test chromium axe clean state-dirs

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the package metadata changes (a stamp per extra).
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# Debian's Chromium for the real-browser tests; skipped (tests then say why) when not installable.
chromium:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Debian's chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	    || echo "warning: chromium could not be installed; browser tests will be skipped"; \
	else echo "warning: chromium missing and not installable here; browser tests will be skipped"; fi

# npm tools, pinned in package-lock.json: axe-core for the accessibility audit of the Voilà pages, KaTeX for the
# static site's math. Where npm is missing: a warning; the audit is skipped with the reason, the math stays TeX.
node_modules/.package-lock.json: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --loglevel=error; \
	else echo "warning: npm missing; the accessibility audit will be skipped, the site's math left as TeX"; fi

axe: node_modules/.package-lock.json

state-dirs:
	@mkdir -p $(JUPYTER_DATA_DIR) $(JUPYTER_RUNTIME_DIR) $(IPYTHONDIR) $(MPLCONFIGDIR)

# POOL playground kernels are started and warmed before anyone asks (Voilà's preheated kernels, ~0.45 GiB each;
# culling counts from a student's arrival, pnp_lessons/serving.py). Measured with benchmarks/load.py: with
# `make demo POOL=30`, 10 / 20 students at once got their first image 2.8× / 2.5× sooner, and all 30 of 30 got
# one (21 without; docs/benchmarks.md). Off by default: a pool holds its memory from the start (a class server's
# choice, not a laptop's).
POOL ?= 0
comma := ,
PREHEAT = $(if $(filter-out 0,$(POOL)),--VoilaConfiguration.preheat_kernel=True \
  --VoilaConfiguration.multi_kernel_manager_class=pnp_lessons.serving.ClassKernelManager \
  '--VoilaKernelManager.kernel_pools_config={"apps/playground.ipynb": {"pool_size": $(POOL)}$(comma) "default": {"pool_size": 0}}')

demo: install state-dirs
	@echo ""
	@echo "  PnP Lessons: open  http://127.0.0.1:$(PORT)/voila/render/00_welcome.ipynb"
	@echo "  Playground:        http://127.0.0.1:$(PORT)/voila/render/apps/playground.ipynb"
	@echo "  (all pages are listed at http://127.0.0.1:$(PORT)/ ; Ctrl-C stops the server)"
	@echo ""
	cd notebooks && ../$(VENV)/bin/voila --no-browser --port=$(PORT) --Voila.ip=127.0.0.1 $(PREHEAT) .

# The lessons as a static site (no kernel, no network): notebooks executed in CI-fast mode, the main widgets
# scrubbable over a precomputed grid, KaTeX from npm for the math. Open $(SITE)/index.html in a browser.
SITE ?= site
site: install axe state-dirs
	$(VENV)/bin/pnp-lessons site --out $(SITE)

# The lessons as nbgrader assignments (instructor versions in $(COURSE)/source, student versions in
# $(COURSE)/release, from the same notebooks): pnp_lessons/grading.py.
COURSE ?= course
release: install-test state-dirs
	$(VENV)/bin/pnp-lessons release --course $(COURSE)

test: install-test chromium axe state-dirs
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

clean:
	rm -rf $(VENV) .jupyter .pytest_cache site course
