# Entry points for people and CI. The first target bootstraps a small virtualenv holding
# nox and uv (nothing else needs installing by hand); nox builds the project's own envs.
PYTHON ?= python3
BOOT   := .venv/.bootstrapped
NOX    := .venv/bin/nox

.PHONY: demo test lint typecheck contract check dev clean docs docs-build

demo: $(BOOT)      ## Run the demo on the local stack (no Docker)
	$(NOX) -s demo

test: $(BOOT)      ## Run the whole test suite (starts or reuses the local stack)
	$(NOX) -s tests

lint: $(BOOT)
	$(NOX) -s lint

typecheck: $(BOOT)
	$(NOX) -s typecheck

contract: $(BOOT)  ## generated/ is current; schemas compatible with the previous commit
	$(NOX) -s contract

check: lint typecheck contract test

docs: $(BOOT)        ## Serve the docs site on http://127.0.0.1:8000, rebuilt on change
	$(NOX) -s docs -- serve

docs-build: $(BOOT)  ## Build the docs site into site/, strictly (a warning fails it)
	$(NOX) -s docs

dev: $(BOOT)       ## Install iotpipe itself into .venv (then: . .venv/bin/activate)
	.venv/bin/uv pip install --python .venv/bin/python -e '.[dev]'

$(BOOT): Makefile
	$(PYTHON) -m venv .venv
	.venv/bin/python -m pip install --quiet --disable-pip-version-check "nox>=2024.10" "uv>=0.5"
	touch $@

clean:
	rm -rf .venv .nox
