"""The options every command shares are defined once, in cli/common.py, and reused."""

from __future__ import annotations

import re
from pathlib import Path

import agentfactory.cli as cli

SHARED = ("--model", "--sandbox", "--library", "--workspaces", "--config")
# cli/bench.py belongs to the benchmark distribution, which documents its own defaults (sim); app.py has
# the root `agentfactory --config FILE`, which sets the file for every command of the invocation.
OWN_OPTIONS = {"common.py", "bench.py", "app.py"}


def test_shared_options_are_defined_only_in_common():
    folder = Path(cli.__file__).parent
    redefined = []
    for path in sorted(folder.glob("*.py")):
        if path.name in OWN_OPTIONS:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for flag in SHARED:
                if re.search(rf'typer\.Option\([^)]*"{flag}"', line):
                    redefined.append(f"{path.name}:{number}: {flag}")
    assert redefined == []
