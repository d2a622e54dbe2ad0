# Everything a contributor needs: `make run`, `make test`, `make bench`, `make widget`,
# `make messages` (the catalogues of the dashboard's languages, after changing its words).
# Commands use ./instance here, or $COPYDESK_INSTANCE_PATH, like `copydesk` anywhere.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test test-sqlite test-postgresql bench widget chromium messages clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(BIN)/.installed-test: $(BIN)/.installed pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# The dashboard's languages: catalogues (.po) in the package, compiled (.mo, not in git)
# whenever one changes; the wheel's build hook (hatch_build.py) compiles its own.
TRANSLATIONS := server/copydesk/translations
COMPILED := $(patsubst %.po,%.mo,$(wildcard $(TRANSLATIONS)/*/LC_MESSAGES/messages.po))

%.mo: %.po $(BIN)/.installed
	$(BIN)/pybabel compile --statistics -i $< -o $@

# Every wrapped string into messages.pot, then into each language's catalogue to translate.
messages: $(BIN)/.installed
	$(BIN)/pybabel extract -F babel.cfg --no-location --sort-output --project=Copydesk \
	  -o $(TRANSLATIONS)/messages.pot server/copydesk
	$(BIN)/pybabel update --ignore-obsolete -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS)

run: $(BIN)/.installed $(COMPILED)
	$(BIN)/copydesk db upgrade
	$(BIN)/copydesk demo
	$(BIN)/copydesk run

widget/node_modules/.package-lock.json: widget/package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
	  echo "Installing Debian's nodejs and npm for the widget's build tools"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nodejs npm; }
	cd widget && npm ci --no-audit --no-fund --loglevel=error
	touch $@

widget: widget/node_modules/.package-lock.json
	cd widget && node build.mjs

chromium:
	@command -v chromium >/dev/null 2>&1 || test -x /usr/bin/chromium || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

test: $(BIN)/.installed-test $(COMPILED) widget/node_modules/.package-lock.json chromium
	$(BIN)/pytest
	@if [ -n "$$COPYDESK_TEST_DATABASE_URL" ]; then \
	  echo "== the whole suite again on PostgreSQL ($$COPYDESK_TEST_DATABASE_URL)"; \
	  $(BIN)/pytest --db=postgresql; \
	fi

bench: $(BIN)/.installed-test $(COMPILED) widget/node_modules/.package-lock.json
	@command -v wrk >/dev/null 2>&1 || { \
	  echo "Installing Debian's wrk, the load generator of the benchmarks"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq wrk; }
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) widget/node_modules build dist
