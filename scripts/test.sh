#!/usr/bin/env bash
# The whole test suite on a clean machine: installs the package with every extra (all: the anthropic,
# openai, docker and mcp SDKs; the adapters are tested through them), ray (batch --ray) and the dev extra,
# and the benchmark distribution (benchmarks/, whose tests are part of the suite) into the project
# virtual environment (.venv, created or reused; see scripts/venv.sh), the Docker engine and the sandbox
# image (reused when present), headless Chromium for the report test; then, on a full run (no pytest
# arguments), the clean-install smoke checks in a second, throw-away venv without extras
# (scripts/smoke-clean-venv.sh); then pytest. Idempotent: a running daemon, a built image, the venv and
# installed packages are reused.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/venv.sh
source scripts/venv.sh
"$VENV_PY" -m pip install -q -e '.[all,dev,ray]' -e benchmarks/

if [ "$(id -u)" = "0" ]; then
  bash scripts/setup-docker.sh
  if ! command -v chromium >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
else
  echo "scripts/test.sh: not root, so Docker and Chromium are not installed; their tests skip unless present." >&2
fi

if [ "$#" = "0" ]; then
  bash scripts/smoke-clean-venv.sh
  # The same fresh-venv import check as a pytest test would only repeat the install: say it was done.
  export AGENTFACTORY_CLEAN_VENV_SMOKE=passed
fi

set +e
"$VENV_PY" -m pytest "$@"
status=$?
set -e
# pytest exits 5 when no test was collected: a filtered run with nothing to do is not a failure.
if [ "$status" = "5" ]; then exit 0; fi
exit "$status"
