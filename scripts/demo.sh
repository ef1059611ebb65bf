#!/usr/bin/env bash
# The main job on a clean machine: install AgentFactory, make the Docker sandbox ready (engine and
# image, reused when present), then run `agentfactory demo` (the simulated model until a key is set).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q -e .
if [ "$(id -u)" = "0" ]; then
  bash scripts/setup-docker.sh
fi
exec agentfactory demo "$@"
