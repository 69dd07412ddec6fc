# Every target installs what it needs: Debian's MariaDB, a virtual environment, the pinned packages.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAM_VENV := .venv-sam
AWS_VENV := .venv-aws
export SAM_CLI_TELEMETRY := 0
# The database server the demo, the local stack and make invoke run: mariadb (default) or postgres.
ENGINE ?= mariadb
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: mariadb postgresql jq deps demo stack stack-down test lint typecheck template unit integration bench invoke clean

$(BIN)/.installed: requirements-dev.txt rotation_lambda/requirements.txt pyproject.toml
	@echo "creating the virtual environment $(VENV)"
	@$(PYTHON) -m venv $(VENV)
	@echo "upgrading pip in $(VENV)..."
	@$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	@echo "installing Python packages into $(VENV) (about 30 s)..."
	@$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@echo "installing this project into $(VENV) (editable)..."
	@# setuptools' InformationOnly notice for every editable install that maps package dirs (ours
	@# live in rotation_lambda/, layer/python/ and ops/): it only says that same-named folders in the
	@# working directory could shadow them, and there are none. Filtered by its text, nothing else.
	@PYTHONWARNINGS="ignore:Editable installation" $(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	@echo "$(VENV) is ready"
	@touch $@

mariadb:
	@command -v mariadbd >/dev/null 2>&1 || test -x /usr/sbin/mariadbd || { \
	  echo "installing Debian's mariadb-server"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server mariadb-client >/dev/null; }

# Debian's PostgreSQL 15 server binaries: the PostgreSQL engine's tests start their own server with them
# (ops/bluegreen_ops/devstack/postgresql.py); the package's own default cluster is not used.
postgresql:
	@test -x /usr/lib/postgresql/15/bin/postgres || { \
	  echo "installing Debian's postgresql-15"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null; }

# jq: the runbook's examples pipe `--output json` through it (tests/integration/cli/test_runbook.py)
jq:
	@command -v jq >/dev/null 2>&1 || { \
	  echo "installing Debian's jq"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >/dev/null; }

# The AWS CLI in its own venv (it pins its own botocore, which this project's pin would clash with):
# the runbook's examples call it (tests/integration/cli/test_runbook.py puts it on their PATH).
$(AWS_VENV)/bin/aws:
	@echo "installing the AWS CLI into $(AWS_VENV)..."
	@$(PYTHON) -m venv $(AWS_VENV)
	@$(AWS_VENV)/bin/pip install --quiet --disable-pip-version-check awscli==1.46.3

deps: $(BIN)/.installed mariadb postgresql jq $(AWS_VENV)/bin/aws

demo: deps
	$(BIN)/python -m bluegreen_ops.demo --engine $(ENGINE)

# A persistent local stack (MariaDB, or PostgreSQL with ENGINE=postgres, with TLS + moto's server,
# demo/aurora adopted) to practise the runbook on. Prints the environment; in your shell: eval "$$(.venv/bin/bluegreen local env)"
stack: deps
	@$(BIN)/bluegreen local up --engine $(ENGINE)
	@echo 'now: eval "$$(.venv/bin/bluegreen local env)"   stop: make stack-down' >&2

stack-down: deps
	@$(BIN)/bluegreen local down >/dev/null

lint: deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check rotation_lambda layer ops django_backend
	$(BIN)/bandit -q -c pyproject.toml -r rotation_lambda layer ops django_backend
	$(BIN)/lint-imports

typecheck: deps
	$(BIN)/mypy rotation_lambda layer/python ops django_backend

template: deps
	SAM_BUILD_DIR=.aws-sam/build-check bash .ci/template-checks.sh

test: deps lint typecheck template
	$(BIN)/pytest --durations=15

bench: deps
	$(BIN)/python -m bench.rotation
	$(BIN)/python -m bench.zero_downtime
	$(BIN)/python -m bench.fleet

invoke: deps
	$(BIN)/python -m bluegreen_ops.sam_local --engine $(ENGINE)

clean:
	rm -rf $(VENV) $(SAM_VENV) $(AWS_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
	@echo "the Lambda stand-in image cache stays in ~/.cache/bluegreen-rotation (rm -r it to rebuild)"
