# Najda: two commands do everything on a fresh Debian machine.
#   make demo   install what is missing, start the embedded PostGIS, import Riyadh, serve
#               (make demo REGION=doha: the whole city of Doha)
#   make test   install what is missing, run the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
NAJDA := $(VENV)/bin/najda
HOST ?= 127.0.0.1
PORT ?= 8000
export NAJDA_DATA_DIR ?= $(abspath ../shared/data)

.PHONY: setup system venv node demo test bench lint typecheck clean db-stop screenshots

setup: system venv node

system:
	@PYTHON=$(PYTHON) bash scripts/setup-system.sh

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

# Browser libraries from npm (Leaflet.VectorGrid), exactly as package-lock.json pins them;
# served from node_modules/ by najda.web.assets.
node: node_modules/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

# make demo REGION=doha: the whole Doha metropolitan area instead of Riyadh's district;
# PATROLS (police and traffic each, spread over the region) and SIMULATE (units driving)
# default to sizes that suit the region.
REGION ?= riyadh
PATROLS ?= $(if $(filter doha,$(REGION)),30,10)
SIMULATE ?= $(if $(filter doha,$(REGION)),40,12)

demo: setup
	$(NAJDA) db start
	$(NAJDA) db migrate
	$(NAJDA) import region $(REGION)
	$(NAJDA) seed demo --region $(REGION) --patrols $(PATROLS)
	$(NAJDA) status
	NAJDA_REGION=$(REGION) $(NAJDA) serve --host $(HOST) --port $(PORT) --simulate $(SIMULATE) --simulate-region $(REGION)

test: setup
	$(PY) -m pytest

bench: setup
	$(PY) benchmarks/routing.py
	$(PY) benchmarks/server.py
	$(PY) benchmarks/national.py
	$(PY) benchmarks/avl.py
	$(PY) benchmarks/analytics.py

# refresh the README's screenshots from the last test run's artifacts
SHOTS := console-en console-ar planner-coverage planner-heatmap console-doha-ar console-doha-en \
	console-offnet-en console-offnet-ar planner-doha-siting-en planner-doha-siting-ar map-doha-roads-en
screenshots:
	mkdir -p docs/screenshots
	for s in $(SHOTS); do cp artifacts/screenshots/$$s.png docs/screenshots/; done

lint: venv
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

typecheck: venv
	$(VENV)/bin/mypy

db-stop: venv
	$(NAJDA) db stop

clean:
	-$(NAJDA) db stop
	rm -rf .najda $(VENV) node_modules .pytest_cache artifacts
