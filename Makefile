# Caseflow: `make run` and `make test` do all the set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test install static system-test-deps bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

install: $(BIN)/.installed

# bpmn-js (and htmx) come from npm at set-up and are copied into web/static/vendor: no CDN.
node_modules/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

web/static/vendor/.built: node_modules/.installed web/build_static.py $(wildcard web/translations/*/LC_MESSAGES/messages.po) \
		$(wildcard web/static/js/modeler/*)
	$(BIN)/python web/build_static.py
	node web/static/js/modeler/build.mjs  # the process owners' modeler, bundled by esbuild into vendor/modeler
	touch $@

static: install web/static/vendor/.built

# Browser tests need Debian's chromium (and a CJK font for Chinese pages); the PostgreSQL
# tests need the server binaries.
system-test-deps:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	[ -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || missing="$$missing fonts-wqy-zenhei"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

run: static
	$(BIN)/caseflow deploy --if-new processes/
	$(BIN)/caseflow demo-users
	$(BIN)/caseflow serve --host $(HOST) --port $(PORT)

test: static system-test-deps
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -q

bench: install
	$(BIN)/python bench/engine.py

clean:
	rm -rf $(VENV) node_modules web/static/vendor instance test-artifacts
