# Every target installs what it needs: Debian's MariaDB, a virtual environment, the pinned packages.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAM_VENV := .venv-sam
export SAM_CLI_TELEMETRY := 0

.PHONY: mariadb deps demo test lint typecheck unit integration bench invoke clean

$(BIN)/.installed: requirements-dev.txt rotation_lambda/requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

mariadb:
	@command -v mariadbd >/dev/null 2>&1 || test -x /usr/sbin/mariadbd || { \
	  echo "installing Debian's mariadb-server"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server mariadb-client >/dev/null; }

deps: $(BIN)/.installed mariadb

demo: deps
	$(BIN)/python -m bluegreen_ops.demo

lint: deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check rotation_lambda layer ops
	$(BIN)/bandit -q -c pyproject.toml -r rotation_lambda layer ops

typecheck: deps
	$(BIN)/mypy rotation_lambda layer/python ops

test: deps lint typecheck
	$(BIN)/pytest

bench: deps
	$(BIN)/python -m bench.rotation

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
