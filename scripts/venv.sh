# Sourced by demo.sh and test.sh (from the repository root): the project's virtual environment.
# Creates it when missing or broken, reuses it otherwise, and sets VENV and VENV_PY. Everything the
# scripts install goes there, never into the system Python, so they work where pip refuses to install
# outside a virtual environment (PEP 668, PIP_REQUIRE_VIRTUALENV=1).
#   AGENTFACTORY_VENV         where it lives (default: .venv at the repository root, git-ignored)
#   AGENTFACTORY_BASE_PYTHON  the interpreter that creates it (default: python3)
VENV="${AGENTFACTORY_VENV:-$PWD/.venv}"
VENV_PY="$VENV/bin/python"
_af_base="${AGENTFACTORY_BASE_PYTHON:-python3}"

_af_venv_ok() { [ -x "$VENV_PY" ] && "$VENV_PY" -m pip --version >/dev/null 2>&1; }

if ! _af_venv_ok; then
  echo "Creating the project virtual environment $VENV (with $_af_base)."
  if ! "$_af_base" -m venv --clear "$VENV" >/dev/null 2>&1; then
    # Debian/Ubuntu ship venv's pip bootstrap separately.
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    fi
    "$_af_base" -m venv --clear "$VENV" || {
      echo "Cannot create a virtual environment with $_af_base: install python3-venv (Debian/Ubuntu) and run again." >&2
      exit 3
    }
  fi
  _af_venv_ok || { echo "The virtual environment $VENV has no working pip." >&2; exit 3; }
fi
# setup-docker.sh builds the sandbox image with this interpreter; tests and commands find its scripts.
export AGENTFACTORY_PYTHON="$VENV_PY"
export PATH="$VENV/bin:$PATH"
