"""A library that cannot be read is said as such, never as "no such subagent"."""

from __future__ import annotations

import shutil
import subprocess

from agentfactory.library import build_subagent_folder

from .conftest import UPPER, call, make_env


def test_a_missing_git_object_is_not_an_unknown_subagent(tmp_path):
    env = make_env(tmp_path)
    src = build_subagent_folder(
        tmp_path / "src", name="upper-text", description="Upper-case a text.", code=UPPER
    )
    env.library.save(src)
    shutil.rmtree(tmp_path / "src")
    lib = env.settings.paths.library
    sha = subprocess.run(
        ["git", "-C", str(lib), "rev-parse", "HEAD:upper-text/upper_text.py"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    (lib / ".git" / "objects" / sha[:2] / sha[2:]).unlink()  # the code's blob is gone

    script = [call("view_subagent", name="upper-text"), call("view_subagent", name="no-such-one"),
              call("finish", answer="done")]  # fmt: skip
    result = env.run("Look at upper-text.", script)
    calls = [e for e in env.events(result) if e["type"] == "tool_call"]
    broken, unknown = calls[0], calls[1]
    assert broken["is_error"] and f"Git object {sha} is missing" in broken["result"]
    assert "No subagent named" not in broken["result"]
    assert unknown["is_error"] and "no-such-one" in unknown["result"]
