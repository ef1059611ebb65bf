"""The tools' work in-process (no transport): bounds on results and on input files read by path."""

from __future__ import annotations

import os
from pathlib import Path

from agentfactory.config import load_settings
from agentfactory.library import build_subagent_folder
from agentfactory.mcp.server import call
from agentfactory.mcp.service import MAX_RESULT_CHARS, LibraryService

from .conftest import NAME, Project

BIG = '''"""Return a long text.

Purpose: a result larger than an answer holds.
Inputs: n (int).
Outputs: text (str).
Limitations: none.
"""


def run(n: int) -> dict:
    return {"text": "x" * n}
'''


def _service(project: Project, allow_paths: bool = False) -> LibraryService:
    settings = load_settings(
        {"library": "lib", "workspaces": "ws", "sandbox": "local", "timeout_s": 60}, env={}, cwd=project.root
    )
    return LibraryService(settings, allow_paths=allow_paths)


def test_a_result_too_large_for_an_answer_is_previewed(project: Project, tmp_path: Path) -> None:
    project.library.save(
        build_subagent_folder(
            tmp_path / "big" / "big-text", name="big-text", description="Long text.", code=BIG
        )
    )
    answer = _service(project).run_subagent("big-text", {"n": MAX_RESULT_CHARS + 10})
    assert not answer.is_error
    assert answer.structured["result"] is None and answer.structured["result_truncated"] is True
    assert answer.structured["result_preview"].startswith('{"text": "xxx') and len(answer.text) < 10_000


def test_a_path_input_is_read_only_when_allowed_and_only_a_regular_file(
    project: Project, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("one two")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    local = _service(project, allow_paths=True)
    ok = local.run_subagent(NAME, {"path": "inputs/notes.txt"}, files=[{"path": str(notes)}])
    assert not ok.is_error and ok.structured["result"] == {"words": 2}
    refused = call(_service(project), "run_subagent", {"name": NAME, "files": [{"path": str(notes)}]})
    assert refused.is_error and "accepted only over stdio" in refused.text
    # A FIFO is never opened for reading (it would block the server): refused as not a regular file.
    piped = call(local, "run_subagent", {"name": NAME, "files": [{"path": str(fifo)}]})
    assert piped.is_error and "is not a regular file" in piped.text


def test_a_revision_may_not_redefine_a_stored_case(project: Project) -> None:
    from .conftest import CODE, DESCRIPTION

    head = project.library.head()
    answer = call(
        _service(project),
        "save_subagent",
        {"name": NAME, "description": DESCRIPTION, "code": CODE,
         "cases": [{"inputs": {"text": "a b c"}, "expected": {"words": 4}}]},
    )  # fmt: skip
    assert answer.is_error
    assert answer.text.startswith(
        "Not saved: case 1 has the inputs of a stored case of v1 but another expectation"
    )
    assert project.library.head() == head


def test_runs_over_mcp_are_recorded_as_direct_and_earn_no_maturity(project: Project) -> None:
    """Three runs by an MCP host: recorded and shown in statistics, but not task runs (the host chose
    the inputs, nobody judged the result), so they count toward neither final answers nor deploy."""
    from agentfactory.experience import ExperienceStore
    from agentfactory.experience.records import DIRECT

    service = _service(project)
    for text in ("a b", "c d e", "f"):
        assert not service.run_subagent(NAME, {"text": text}).is_error
    store = ExperienceStore.open(service.settings.paths, service.settings.policy)
    assert [e.kind for e in store.executions(subagent=NAME)] == [DIRECT] * 3
    assert len(store.runs()) == 3  # each call is a run of its own, recorded
    assert store.successful_runs(NAME) == 0 and store.successful_runs(NAME, 1) == 0
    (row,) = store.stats()["subagents"]
    assert (row["runs"], row["direct_runs"], row["direct_successes"]) == (0, 3, 3)


def test_run_subagent_calls_share_one_sandbox_backend_for_the_servers_life(
    project: Project, monkeypatch
) -> None:
    # A backend per call started a sandbox ahead and tore it down again each time (about 0.5 s a call).
    import agentfactory.sandbox as sandbox

    made = []
    real = sandbox.get_backend
    monkeypatch.setattr(sandbox, "get_backend", lambda *a, **k: made.append(1) or real(*a, **k))
    service = _service(project)
    try:
        for words in ("one two", "three four five"):
            answer = service.run_subagent(NAME, {"text": words})
            assert not answer.is_error, answer.text
    finally:
        service.close()
    assert len(made) == 1
    assert service._backend is None  # closed with the service
