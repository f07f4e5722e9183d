# Local build/run entry points. `make` alone = `make run`.
# Needs only a Python >= 3.12 somewhere (see scripts/find-python.sh) and GNU make.

SHELL := /bin/bash
.DEFAULT_GOAL := run

VENV  := .venv
PY    := $(VENV)/bin/python
PIP   := $(VENV)/bin/pip
# What is installed in the venv: the runtime lock (make run), the development lock (make test, make lint).
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP     := $(VENV)/.installed-dev

# Extra arguments for pytest, e.g. make test PYTEST_ARGS="-k uploads -x"
PYTEST_ARGS ?=

export PIP_DISABLE_PIP_VERSION_CHECK := 1

# A venv whose interpreter no longer runs (pyenv version removed) or is < 3.12 is thrown away.
VENV_CHECK = if [ -e $(VENV) ] && ! $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then \
	  echo "make: $(VENV) has no working Python >= 3.12; recreating it"; \
	  rm -rf $(VENV); \
	fi
VENV_CREATE = if [ ! -x $(PY) ]; then \
	  py=$$(scripts/find-python.sh) || { echo "make: cannot create $(VENV): no Python >= 3.12 (see above)" >&2; exit 1; }; \
	  echo "Creating $(VENV) with $$py"; \
	  "$$py" -m venv $(VENV) || exit 1; \
	fi

.PHONY: help venv venv-dev emulators run test lint clean clean-data

help: ## Show this help
	@echo "Targets:"
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  %-11s %s\n", $$1, $$2}'
	@echo "Variables: PYTHON=/path/to/python3.13 (interpreter for the venv), PYTEST_ARGS=..."

# Then a stamp rule installs a lock only when it changed since it was last installed.
venv: ## Create .venv (Python >= 3.12) with the runtime lock, requirements.txt
	@$(VENV_CHECK)
	@$(MAKE) --no-print-directory -s $(RUNTIME_STAMP)

venv-dev: ## Create .venv with the development lock, requirements-dev.txt (runtime + test tools)
	@$(VENV_CHECK)
	@$(MAKE) --no-print-directory -s $(DEV_STAMP)

$(RUNTIME_STAMP): requirements.txt
	@$(VENV_CREATE)
	$(PIP) install -r requirements.txt
	@touch $@

# The development lock pins every runtime package at the runtime lock's version
# (requirements-dev.in: -c requirements.txt), so installing it installs the runtime lock too.
$(DEV_STAMP): requirements-dev.txt requirements.txt
	@$(VENV_CREATE)
	$(PIP) install -r requirements-dev.txt
	@touch $@ $(RUNTIME_STAMP)

# `make run` serves as production does, on plain http at 127.0.0.1: DEBUG off (error pages
# show nothing internal; `make run DEBUG=1` for Django's debug pages), a secret key of its
# own made once in $(RUN_DATA_DIR)/secret_key (sessions survive a restart), static files
# from WhiteNoise, mails printed on the worker's console, no https redirect or secure-only
# cookies (there is no https here). DJANGO_* variables already set are kept.
RUN_DATA_DIR := $(or $(DATA_DIR),var)
RUN_DEBUG := $(if $(filter 1 true yes on,$(DEBUG)),1,0)
RUN_ENV = DJANGO_DEBUG="$${DJANGO_DEBUG:-$(RUN_DEBUG)}" \
	DJANGO_SECRET_KEY="$${DJANGO_SECRET_KEY:-$$(cat "$(RUN_DATA_DIR)/secret_key")}" \
	DJANGO_SSL_REDIRECT="$${DJANGO_SSL_REDIRECT:-0}" DJANGO_SECURE_COOKIES="$${DJANGO_SECURE_COOKIES:-0}" \
	EMAIL_BACKEND="$${EMAIL_BACKEND:-django.core.mail.backends.console.EmailBackend}"

run: venv ## Migrate, load demo data, start web + worker, DEBUG off (DEBUG=1: on); Ctrl-C stops both
	@mkdir -p "$(RUN_DATA_DIR)" && [ -s "$(RUN_DATA_DIR)/secret_key" ] || \
	  (umask 077 && $(PY) -c 'import secrets; print(secrets.token_urlsafe(50))' > "$(RUN_DATA_DIR)/secret_key")
	export $(RUN_ENV) && \
	$(PY) manage.py migrate --noinput && \
	$(PY) manage.py seed_demo && \
	exec $(PY) manage.py serve

emulators: ## Build the BigQuery emulator's own Python 3.13 venv under .cache/ (once)
	@scripts/bigquery-emulator-venv.sh >/dev/null

test: venv-dev emulators ## Run the test suite (extra pytest args: PYTEST_ARGS="...")
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then \
	  echo "make test: pytest collected no tests; treating that as a failure" >&2; \
	  exit 1; \
	fi; \
	exit $$rc

lint: venv-dev ## ruff check + ruff format --check
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

clean: ## Remove .venv and the emulator venv cache
	rm -rf $(VENV) .cache/bigquery-emulator

clean-data: ## DELETE local data: var/ (SQLite db, uploads, warehouse, broker)
	@echo "Deleting local data in var/ (database, uploads, warehouse files, broker queue)"
	rm -rf var
