#!/usr/bin/env bash
# The main job on a clean machine: install AgentFactory into the project virtual environment (.venv,
# created or reused; see scripts/venv.sh), make the Docker sandbox ready (engine and image, reused when
# present; as root only, and not with AGENTFACTORY_SETUP_DOCKER=0), then run `agentfactory demo` (the
# simulated model until a key is set).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/venv.sh
source scripts/venv.sh
# The product, and the benchmark distribution that brings `demo` and the simulated model.
"$VENV_PY" -m pip install -q -e . -e benchmarks/
if [ "$(id -u)" = "0" ] && [ "${AGENTFACTORY_SETUP_DOCKER:-1}" != "0" ]; then
  bash scripts/setup-docker.sh
fi
exec "$VENV/bin/agentfactory" demo "$@"
