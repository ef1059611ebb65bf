#!/bin/sh
# Prepare a Debian machine (run as root) for the Docker sandbox: install the engine and mmdebstrap,
# start dockerd if none answers, and build the sandbox image offline unless it already exists.
# Idempotent: every step checks first. The daemon runs without a bridge or iptables rules, because
# sandbox containers use network_mode="none" and never need a network.
set -eu

IMAGE="${AGENTFACTORY_IMAGE:-agentfactory-sandbox:latest}"
LOG="${DOCKERD_LOG:-/var/log/dockerd-agentfactory.log}"

if [ "$(id -u)" -ne 0 ]; then
    echo "setup-docker.sh must run as root (it installs packages and starts dockerd)." >&2
    exit 1
fi

missing=""
command -v dockerd >/dev/null 2>&1 || missing="$missing docker.io"
command -v mmdebstrap >/dev/null 2>&1 || missing="$missing mmdebstrap"
command -v bwrap >/dev/null 2>&1 || missing="$missing bubblewrap"
if [ -n "$missing" ]; then
    echo "Installing:$missing"
    apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
fi

if docker info >/dev/null 2>&1; then
    echo "Docker daemon already running."
else
    echo "Starting dockerd (log: $LOG)."
    nohup dockerd --bridge=none --iptables=false >"$LOG" 2>&1 &
    i=0
    until docker info >/dev/null 2>&1; do
        i=$((i + 1))
        if [ "$i" -ge 60 ]; then
            echo "dockerd did not answer within 60 s; see $LOG." >&2
            exit 1
        fi
        sleep 1
    done
    echo "Docker daemon is up."
fi

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    echo "Image $IMAGE already present."
else
    # The interpreter that has AgentFactory installed: the one demo.sh/test.sh pass, else the project
    # venv, else python3. Never whatever `agentfactory` happens to be first on PATH.
    ROOT="$(cd "$(dirname "$0")/.." && pwd)"
    PY="${AGENTFACTORY_PYTHON:-}"
    if [ -z "$PY" ]; then
        if [ -x "$ROOT/.venv/bin/python" ]; then PY="$ROOT/.venv/bin/python"; else PY=python3; fi
    fi
    if ! "$PY" -c "import agentfactory" >/dev/null 2>&1; then
        echo "$PY cannot import agentfactory: run bash scripts/demo.sh (it installs into .venv) first." >&2
        exit 1
    fi
    "$PY" -m agentfactory sandbox build-image
fi
