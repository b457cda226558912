# Two commands: `make run` starts the dashboard (web + worker + beat) on embedded defaults,
# `make test` installs and runs the whole test suite. Both need only Python 3.11+.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: run test lint format clean bench bench-quick

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed-run

# The settings manage.py and the servers read (see pixdash/envfile.py); development
# defaults the first time, so the README's management commands work as written.
.env:
	printf '# Read by manage.py, the web server and Celery; the environment wins.\nPIXDASH_DEBUG=1\n' > $@

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	touch $@ $(VENV)/.installed-run

run: export PIXDASH_DEBUG ?= 1
run: $(VENV)/.installed-run .env
	$(BIN)/python manage.py migrate --noinput -v0
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(BIN)/python manage.py demologin --url http://$${PIXDASH_HOST:-127.0.0.1}:$${PIXDASH_PORT:-8000}/
	$(BIN)/honcho start -f Procfile

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Pixdash beside LiteLLM and the upstream alone, set up from nothing (bench/README.md).
# One scenario: make bench BENCH_ARGS="--only c"; fewer rounds: make bench-quick.
bench: $(VENV)/.installed-bench
	$(BIN)/python -m bench.run $(BENCH_ARGS)

bench-quick: $(VENV)/.installed-bench
	$(BIN)/python -m bench.run --quick $(BENCH_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
