#!/usr/bin/env bash
# A newcomer's install, checked: the project installed WITHOUT extras into a new, throw-away virtual
# environment (never the caller's), then every module of the base package imported, the command-line
# smoke checks and the README's Python example run against that install, from a scratch directory.
# Fails (non-zero, naming the step) on a missing dependency, a traceback or a wrong status/exit code.
#
#   bash scripts/smoke-clean-venv.sh [--imports-only]
#
# AGENTFACTORY_BASE_PYTHON: the interpreter that creates the venv (default python3).
# Uses the simulated model and the local sandbox: no key, no Docker, nothing leaves the machine.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BASE_PYTHON="${AGENTFACTORY_BASE_PYTHON:-python3}"
IMPORTS_ONLY=0
if [ "${1:-}" = "--imports-only" ]; then IMPORTS_ONLY=1; fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/af-clean-venv.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
# The local sandbox runs subagents as an unprivileged user when we are root: it must read the venv.
chmod 755 "$WORK"
step() { printf '\n== clean venv: %s\n' "$*"; }
fail() { printf 'clean venv smoke FAILED: %s\n' "$*" >&2; exit 1; }
# field FILE KEY: one top-level field of a JSON object file.
field() { "$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
# expect CODE NAME CMD...: run CMD, require exit code CODE and no traceback.
expect() {
  local want="$1" name="$2"
  shift 2
  local got=0
  "$@" >"$WORK/out.txt" 2>"$WORK/err.txt" || got=$?
  cat "$WORK/out.txt"
  if grep -q "Traceback (most recent call last)" "$WORK/out.txt" "$WORK/err.txt"; then
    cat "$WORK/err.txt" >&2
    fail "$name printed a traceback"
  fi
  if [ "$got" != "$want" ]; then
    cat "$WORK/err.txt" >&2
    fail "$name exited $got, expected $want"
  fi
}

step "create $WORK/venv and install $ROOT without extras"
"$BASE_PYTHON" -m venv "$WORK/venv" || fail "could not create a virtual environment with $BASE_PYTHON"
PY="$WORK/venv/bin/python"
AF="$WORK/venv/bin/agentfactory"
# A regular (not editable) install: the wheel must carry everything, skills included.
"$PY" -m pip install -q "$ROOT" || fail "pip install of the project without extras"
for sdk in anthropic openai docker mcp; do
  "$PY" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('$sdk') is not None)" \
    || fail "the $sdk SDK is installed without its extra"
done

# Nothing of the checkout or of the caller's settings may leak in.
cd "$WORK"
unset PYTHONPATH
while IFS= read -r var; do unset "$var"; done < <(env | grep -o '^AGENTFACTORY_[A-Z_]*' || true)
unset ANTHROPIC_API_KEY OPENAI_API_KEY OPENAI_BASE_URL
export AGENTFACTORY_SANDBOX=local

if [ "$IMPORTS_ONLY" = "0" ]; then
  step "agentfactory --version"
  expect 0 "--version" "$AF" --version
  grep -q "^agentfactory " "$WORK/out.txt" || fail "--version printed no version"
fi

step "import every module of the base package"
"$PY" - <<'EOF' || fail "a module of the base package does not import without extras"
import importlib
import pkgutil

import agentfactory

# Code that runs inside the sandbox, not on the host: the sandbox runtime. (The benchmark's reference
# code lives in the agentfactory-bench distribution's suites, not in this package.)
IN_SANDBOX = ("agentfactory.sandbox.runtime.",)
assert "site-packages" in agentfactory.__file__, f"not the installed package: {agentfactory.__file__}"
names = [m.name for m in pkgutil.walk_packages(agentfactory.__path__, "agentfactory.")]
failed = []
for name in names:
    if name.startswith(IN_SANDBOX):
        continue
    try:
        importlib.import_module(name)
    except Exception as exc:  # report them all, not only the first
        failed.append(f"{name}: {type(exc).__name__}: {exc}")
for line in failed:
    print("  cannot import", line)
print(f"  {len(names)} modules found, {len(failed)} failed to import")
raise SystemExit(1 if failed else 0)
EOF
# expect_extra EXTRA CMD...: CMD exits 3 with one line on stderr naming `pip install 'agentfactory[EXTRA]'`.
expect_extra() {
  local extra="$1"
  shift
  expect 3 "without the $extra extra: $*" "$@"
  grep -qF "pip install 'agentfactory[$extra]'" "$WORK/err.txt" || { cat "$WORK/err.txt" >&2; fail "no install hint for [$extra]"; }
  [ "$(grep -c . "$WORK/err.txt")" = "1" ] || { cat "$WORK/err.txt" >&2; fail "more than one line for [$extra]"; }
}

step "without extras: --help works, each missing extra is one sentence with its pip install, exit 3"
expect 0 "--help" "$AF" --help
mkdir "$WORK/extras"
printf '[{"text": "done", "tool_calls": [{"name": "finish", "arguments": {"answer": "hi"}}]}]\n' >"$WORK/extras/replies.json"
(
  cd "$WORK/extras"
  # A key is set so that the missing SDK, not the missing key, is what stops the run; nothing is sent.
  ANTHROPIC_API_KEY=unused expect_extra anthropic "$AF" run "Say hi." --model anthropic:x
  OPENAI_API_KEY=unused expect_extra openai "$AF" run "Say hi." --model openai:x
  expect_extra docker "$AF" run "Say hi." --model "scripted:$WORK/extras/replies.json" --sandbox docker
  # An unknown name is said as such (exit 2) even for a format whose SDK (mcp) is missing.
  expect 0 "init" "$AF" init
  expect 2 "deploy of an unknown name" "$AF" deploy no-such-agent --format mcp
  grep -q "No subagent named 'no-such-agent'" "$WORK/err.txt" || fail "deploy did not name the unknown subagent"
)

if [ "$IMPORTS_ONLY" = "1" ]; then
  echo "clean venv smoke: imports ok"
  exit 0
fi

step "agentfactory init"
mkdir "$WORK/project"
cd "$WORK/project"
expect 0 "init" "$AF" init
[ -f agentfactory.toml ] && [ -d subagent_library ] || fail "init wrote no agentfactory.toml or library"

DATA="$ROOT/benchmarks/suites/core/data"
TASK="Convert customers.csv to JSON (customers.json), validating each row against customer_schema.json: keep only the valid rows in the JSON and write the invalid ones with the reason to invalid_rows.csv. How many rows were invalid?"
step "agentfactory run (sim) on one task"
expect 0 "run" "$AF" run "$TASK" --input "$DATA/customers.csv" --input "$DATA/customer_schema.json" \
  --model sim --json
cp "$WORK/out.txt" "$WORK/run.json"
[ "$(field "$WORK/run.json" status)" = "success" ] || fail "run: status is not success"
RUN_ID="$(field "$WORK/run.json" run_id)"

# A task the model cannot do ends task_failed with exit 1: the model says so with finish(status="failed").
step "agentfactory run (sim) on a refused task: exit 1, status task_failed"
expect 1 "run (refused task)" "$AF" run "Write a haiku about the sea." --model sim --json
cp "$WORK/out.txt" "$WORK/refused.json"
[ "$(field "$WORK/refused.json" status)" = "task_failed" ] || fail "refused run: status is not task_failed"
REFUSED_ID="$(field "$WORK/refused.json" run_id)"

step "agentfactory runs show latest (the refused run), and the first run by a prefix of its id"
expect 0 "runs show latest" "$AF" runs show latest
grep -q "$REFUSED_ID" "$WORK/out.txt" || fail "runs show latest did not show run $REFUSED_ID"
grep -q "task_failed" "$WORK/out.txt" || fail "runs show latest did not say task_failed"
expect 0 "runs show PREFIX" "$AF" runs show "${RUN_ID:0:${#RUN_ID}-2}"
grep -q "$RUN_ID" "$WORK/out.txt" || fail "runs show did not show run $RUN_ID"

step "agentfactory stats: one success, one failure"
expect 0 "stats" "$AF" stats --json
"$PY" -c 'import json, sys; t = json.load(open(sys.argv[1]))["team"]; sys.exit(not (t["runs"] == 2 and t["successes"] == 1))' \
  "$WORK/out.txt" || fail "stats does not count one success and one failure"

step "agentfactory library diff NAME v1 v2"
NAME="csv-to-json-validate"
cp -r "subagent_library/$NAME" "$WORK/$NAME"
printf '\n# smoke: a second version\n' >>"$WORK/$NAME/csv_to_json_validate.py"
expect 0 "library add" "$AF" library add "$WORK/$NAME"
expect 0 "library diff" "$AF" library diff "$NAME" v1 v2
grep -q "smoke: a second version" "$WORK/out.txt" || fail "library diff does not show the change"

step "the README's Python example"
mkdir "$WORK/example"
cd "$WORK/example"
"$PY" - "$ROOT/README.md" >example.py <<'EOF'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
section = text.split("\n## Python API\n", 1)[1].split("\n## ", 1)[0]
print(re.search(r"^```python\n(.*?)^```$", section, re.S | re.M).group(1))
EOF
expect 0 "README Python example" "$PY" example.py
grep -qx "success 0" "$WORK/out.txt" || fail "README example: the run did not succeed"

echo
echo "clean venv smoke: all checks passed"
