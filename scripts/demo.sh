#!/usr/bin/env bash
# The main job on a clean machine: install AgentFactory into the project virtual environment (.venv,
# created or reused; see scripts/venv.sh), make the Docker sandbox ready (engine and image, reused when
# present; as root only, and not with AGENTFACTORY_SETUP_DOCKER=0), then run `agentfactory demo` (the
# simulated model until a key is set).
# The demo needs no model SDK (the simulated model); it needs the docker extra only when it runs in the
# Docker sandbox: the sandbox the demo will use is asked of AgentFactory itself (--sandbox among the
# arguments, else AGENTFACTORY_SANDBOX or agentfactory.toml, else docker), so `--sandbox local` installs
# and sets up nothing for Docker.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/venv.sh
source scripts/venv.sh
# The product, and the benchmark distribution that brings `demo` and the simulated model.
"$VENV_PY" -m pip install -q -e . -e benchmarks/
SANDBOX=""
previous=""
for arg in "$@"; do
  case "$arg" in --sandbox=*) SANDBOX="${arg#--sandbox=}" ;; esac
  if [ "$previous" = "--sandbox" ]; then SANDBOX="$arg"; fi
  previous="$arg"
done
if [ -z "$SANDBOX" ]; then
  SANDBOX="$("$VENV_PY" -c 'from agentfactory.config import load_settings; print(load_settings().sandbox.backend)' 2>/dev/null || echo docker)"
fi
if [ "$SANDBOX" = "docker" ]; then
  "$VENV_PY" -m pip install -q -e '.[docker]'
  if [ "$(id -u)" = "0" ] && [ "${AGENTFACTORY_SETUP_DOCKER:-1}" != "0" ]; then
    bash scripts/setup-docker.sh
  fi
fi
exec "$VENV/bin/agentfactory" demo "$@"
