"""A library version's files go from memory into the sandbox (`ExecutionRequest.code_files`): no folder is
written and read back on the way, and the files arrive as a copy of the folder would (the same names
skipped, the same bounds). A name that is not a plain relative path never writes outside the job's
code folder: it is refused before anything runs."""

from __future__ import annotations

import os

import pytest

from agentfactory.errors import UsageError
from agentfactory.sandbox import ExecutionRequest
from agentfactory.sandbox.hostfs import write_files
from agentfactory.sandbox.jobdir import JobDir

CODE = (
    b"import pathlib\n\n\n"
    b"def run(x):\n"
    b"    base = pathlib.Path(__file__).parent\n"
    b"    return {'y': x + 1, 'files': sorted(str(p.relative_to(base)) for p in base.rglob('*.py'))}\n"
)


@pytest.fixture
def job():
    jd = JobDir()
    yield jd
    jd.remove()


def _request(files, entry="main"):
    return ExecutionRequest(code_dir="library main v1", entry=entry, inputs={"x": 1}, code_files=files)


def test_the_files_are_written_as_a_folder_copy_would_be(job):
    files = {
        "main.py": CODE,
        "helpers/__init__.py": b"",
        "helpers/deep/util.py": b"X = 1\n",
        "SKILL.md": b"---\nname: main\n---\n",
        "__pycache__/main.cpython-311.pyc": b"stale",
        "helpers/.git/config": b"",
    }
    job.load(_request(files))
    written = {str(p.relative_to(job.code)) for p in job.code.rglob("*") if p.is_file()}
    assert written == {"main.py", "helpers/__init__.py", "helpers/deep/util.py", "SKILL.md"}
    assert (job.code / "helpers" / "deep" / "util.py").read_bytes() == b"X = 1\n"
    assert oct((job.code / "helpers").stat().st_mode & 0o777) == oct(0o755)
    assert oct((job.code / "main.py").stat().st_mode & 0o777) == oct(0o644)


@pytest.mark.parametrize(
    "name", ["../escape.py", "/tmp/escape.py", "a//b.py", "./main2.py", "a/../../b.py", "bad\x1b[31m.py", ""]
)
def test_a_name_that_is_not_a_plain_relative_path_is_refused(job, name):
    before = set(os.listdir(job.root))
    with pytest.raises(UsageError, match="not a relative path"):
        job.load(_request({"main.py": CODE, name: b"print('x')"}))
    assert set(os.listdir(job.root)) == before
    assert not (job.root / "escape.py").exists() and not os.path.exists("/tmp/escape.py")


def test_a_file_where_a_folder_is_wanted_is_refused(job):
    with pytest.raises(UsageError, match="could not be written"):
        job.load(_request({"main.py": CODE, "pkg": b"", "pkg/mod.py": b""}))
    with pytest.raises(UsageError):
        write_files({"pkg/mod.py": b"", "pkg": b""}, job.code, 1 << 20, "subagent code")


def test_the_size_bound_holds(job):
    with pytest.raises(UsageError, match="exceed 1 MB"):
        write_files({"main.py": CODE, "big.bin": b"0" * (1 << 20)}, job.code, 1 << 20, "subagent code")


def test_a_missing_entry_is_named_with_the_version(job):
    with pytest.raises(UsageError, match="Entry module 'other' not found in library main v1"):
        job.load(_request({"main.py": CODE}, entry="other"))
    job.load(_request({"pkg/__init__.py": b"def run(x):\n    return x\n"}, entry="pkg"))


@pytest.mark.parametrize("backend", ["local_backend", "docker_backend"])
def test_a_library_version_runs_from_memory(request, backend):
    sandbox = request.getfixturevalue(backend)
    files = {"main.py": CODE, "lib/util.py": b"X = 1\n"}
    trace = sandbox.execute(_request(files))
    assert trace.status == "ok", trace.compact()
    assert trace.result == {"y": 2, "files": ["lib/util.py", "main.py"]}


def test_a_library_version_runs_without_its_cases_and_fixtures(local_backend, tmp_path):
    """What `run_subagent` does for a saved version (Executor.execute_version): the sandbox gets its code
    and SKILL.md, not the regression cases and their fixtures, which only the gate reads."""
    from agentfactory.config import Settings
    from agentfactory.engine.execution import Executor
    from agentfactory.engine.workspace import WorkspaceManager
    from agentfactory.events import EventLog
    from agentfactory.library.format import validate_folder
    from agentfactory.library.writing import build_subagent_folder

    source = CODE.decode().replace("rglob('*.py')", "rglob('*')")
    folder = build_subagent_folder(
        tmp_path / "lib", name="lister", description="Lists its files.", code=source, version=1,
        cases=[{"inputs": {"x": 1}, "expected": {"y": 2}}],
    )  # fmt: skip
    sub = validate_folder(folder)
    sub.files["fixtures/table.csv"] = b"a,b\n1,2\n"
    assert {"cases.jsonl", "fixtures/table.csv"} <= set(sub.files)
    workspace = WorkspaceManager(tmp_path / "ws").create()
    log = EventLog(workspace.events_path, workspace.run_id)
    executor = Executor(settings=Settings.from_keys(), workspace=workspace, backend=local_backend, log=log)
    trace = executor.execute_version(sub, {"x": 1})
    log.flush()
    assert trace.status == "ok", trace.compact()
    assert trace.result == {"y": 2, "files": ["SKILL.md", "lister.py"]}


def test_a_candidate_runs_the_files_it_was_validated_with(local_backend, tmp_path):
    """What `run_subagent` does for a run's candidate (Executor.execute_candidate): the files written and
    validated with the revision, from memory, without its cases, as a library version runs; an edit of
    its folder afterwards does not run."""
    from agentfactory.config import Settings
    from agentfactory.engine.candidates import CandidateStore
    from agentfactory.engine.execution import Executor
    from agentfactory.engine.workspace import WorkspaceManager
    from agentfactory.events import EventLog

    workspace = WorkspaceManager(tmp_path / "ws").create()
    log = EventLog(workspace.events_path, workspace.run_id)
    executor = Executor(settings=Settings.from_keys(), workspace=workspace, backend=local_backend, log=log)
    source = CODE.decode().replace("rglob('*.py')", "rglob('*')")
    cand = CandidateStore(workspace, None, executor, log).write(
        name="lister", description="Lists its files.", code=source, tools=[], inputs_schema=None
    )
    assert (cand.folder / "cases.jsonl").is_file()
    (cand.folder / "lister.py").write_text("def run(x):\n    return {'edited': True}\n")
    trace = executor.execute_candidate(cand, {"x": 1})
    log.flush()
    assert trace.status == "ok", trace.compact()
    assert trace.result == {"y": 2, "files": ["SKILL.md", "lister.py"]}
