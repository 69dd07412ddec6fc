#!/usr/bin/env bash
# Checks the SAM template: cfn-lint (project venv), `sam validate --lint`, and `sam build`.
#
# Usage: .ci/template-checks.sh            (from anywhere; works in the repository root)
# Env:   PYTHON        interpreter that creates .venv-sam             (default: python3)
#        SAM_VERSION   aws-sam-cli version pinned in .venv-sam         (default: 1.170.0)
#        PYENV_VERSION Python that `sam build` uses for python3.12     (default: 3.12.1)
#        AWS_REGION    region for `sam validate`                       (default: us-east-1)
#        SAM_BUILD_DIR where `sam build` writes                        (default: .aws-sam/build)
# Exits non-zero on the first failing check.
set -Eeuo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON="${PYTHON:-python3}"
SAM_VERSION="${SAM_VERSION:-1.170.0}"
VENV="${VENV:-.venv}"
SAM_VENV="${SAM_VENV:-.venv-sam}"
REGION="${AWS_REGION:-us-east-1}"
BUILD_DIR="${SAM_BUILD_DIR:-.aws-sam/build}"
export SAM_CLI_TELEMETRY=0
export PYENV_VERSION="${PYENV_VERSION:-3.12.1}"

step() { printf '\n==> %s\n' "$*"; }
fail() { printf '\nFAILED: %s\n' "$*" >&2; exit 1; }
trap 'fail "line ${LINENO}: ${BASH_COMMAND}"' ERR

# ---- 1. cfn-lint from the project venv (pinned in requirements-dev.txt) ------------------------------
step "cfn-lint template.yaml"
if [[ -x "${VENV}/bin/cfn-lint" ]]; then
  CFN_LINT="${VENV}/bin/cfn-lint"
else
  fail "${VENV}/bin/cfn-lint not found: run 'make deps' first"
fi
"${CFN_LINT}" --version
"${CFN_LINT}" template.yaml
echo "cfn-lint: OK"

# ---- 2. SAM CLI in its own venv (its dependency pins clash with the project's) --------------------------
step "SAM CLI ${SAM_VERSION} in ${SAM_VENV}"
SAM="${SAM_VENV}/bin/sam"
installed_version() { "${SAM_VENV}/bin/pip" show aws-sam-cli 2>/dev/null | awk '/^Version:/ {print $2}'; }
if [[ -x "${SAM}" && "$(installed_version)" == "${SAM_VERSION}" ]]; then
  echo "already installed"
else
  # Idempotent; safe if another job created the venv already.
  [[ -x "${SAM_VENV}/bin/python" ]] || "${PYTHON}" -m venv "${SAM_VENV}"
  "${SAM_VENV}/bin/pip" install --quiet --disable-pip-version-check "aws-sam-cli==${SAM_VERSION}"
fi
"${SAM}" --version

# ---- 3. sam validate --lint ---------------------------------------------------------------------------
step "sam validate --lint --region ${REGION}"
"${SAM}" validate --lint --region "${REGION}" --template-file template.yaml

# ---- 4. sam build ---------------------------------------------------------------------------------------
step "sam build into ${BUILD_DIR} (python3.12 via PYENV_VERSION=${PYENV_VERSION})"
for handler in rotation_lambda/app.py examples/consumer_function/consumer_handler.py; do
  [[ -f "${handler}" ]] || fail "${handler} is missing (the Handler of a function in template.yaml)"
done
"${SAM}" build --template-file template.yaml --build-dir "${BUILD_DIR}"
[[ -f "${BUILD_DIR}/RotationFunction/app.py" ]] || fail "RotationFunction/app.py missing from ${BUILD_DIR}"

# psycopg's binary wheel carries libpq compiled for one architecture: the zip must hold the one the
# function runs on (the template's Architecture, by default), or PostgreSQL secrets fail at import.
step "psycopg binary for the function's architecture"
ARCH="$(awk '/^  Architecture:/ {found=1} found && /Default:/ {print $2; exit}' template.yaml)"
case "${ARCH}" in
  arm64) MACHINE=aarch64 ;;
  x86_64) MACHINE=x86_64 ;;
  *) fail "cannot read the Architecture parameter's default from template.yaml (got '${ARCH}')" ;;
esac
compgen -G "${BUILD_DIR}/RotationFunction/psycopg_binary/_psycopg.cpython-312-${MACHINE}-linux-gnu.so" >/dev/null \
  || fail "psycopg_binary for ${MACHINE} (Architecture=${ARCH}) missing from ${BUILD_DIR}/RotationFunction"
echo "psycopg_binary: ${MACHINE} (Architecture=${ARCH})"

# The layer has no BuildMethod: sam package zips layer/ as is, so the package must sit at python/...
step "layer layout"
[[ -f layer/python/bluegreen_db/__init__.py ]] || fail "layer/python/bluegreen_db/__init__.py missing"
echo "layer/python/bluegreen_db -> /opt/python/bluegreen_db"

trap - ERR
step "template checks passed"
