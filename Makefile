# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app fieldapp
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test install install-test setup lint translations extract-messages migration-reset migration-regenerate clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/activate pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

translations: $(VENV)/.installed
	$(BIN)/pybabel compile --use-fuzzy -d fieldapp/translations

# Development only: refresh the catalogues after changing user-visible strings.
extract-messages: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -o fieldapp/translations/messages.pot --no-location --sort-output .
	$(BIN)/pybabel update -i fieldapp/translations/messages.pot -d fieldapp/translations --no-fuzzy-matching

# Migrate, load Binzhou's divisions, the questionnaire and the demo data; each step is idempotent.
# `make run NO_DEMO=1` skips the demo data and deactivates the demo accounts, whose password the
# README publishes.
setup: install translations
	$(FLASK) db upgrade
	$(FLASK) import-divisions
	$(FLASK) load-questionnaires
	$(if $(NO_DEMO),$(FLASK) deactivate-demo,$(FLASK) seed-demo --if-missing)

run: setup
	$(FLASK) serve --host $(HOST) --port $(PORT)

test: install-test translations
	$(BIN)/ruff check fieldapp tests bench
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check fieldapp tests bench

# Development only: regenerate the initial migration from the models (one at a time: flock).
migration-reset: install
	flock /tmp/fieldapp-migration.lock $(MAKE) --no-print-directory migration-regenerate

migration-regenerate:
	rm -f migrations/versions/0001_initial.py /tmp/fieldapp-migration.sqlite3
	FIELDAPP_SQLALCHEMY_DATABASE_URI=sqlite:////tmp/fieldapp-migration.sqlite3 $(FLASK) db revision --autogenerate --rev-id 0001 -m initial
	rm -f /tmp/fieldapp-migration.sqlite3

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
