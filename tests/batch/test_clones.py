"""Library clones sharing one bare remote, as Ray nodes do (`batch --ray --remote`): pull before a task,
save locally, push with pull-rebase-retry. Real git, real bwrap sandbox for the gate."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from agentfactory.batch.clones import case_gate, clone_folder, resolve_remote
from agentfactory.config import load_settings
from agentfactory.engine.gate import sandbox_verifier
from agentfactory.errors import UsageError
from agentfactory.library import Library, build_subagent_folder, experience_files
from agentfactory.library import rebase as sync

CODE = '''"""Upper-case a text.

Purpose: the text in capitals.
Inputs: text (str).
Outputs: upper (str).
Limitations: none.
"""


def run(text: str) -> dict:
    return {{"upper": text.upper(){suffix}}}
'''


def folder(root: Path, tag: str, text: str, suffix: str = "") -> Path:
    return build_subagent_folder(
        root / tag / "upper",
        name="upper",
        description="Upper-case a text.",
        code=CODE.format(suffix=suffix),
        cases=[{"inputs": {"text": text}, "expected": {"upper": text.upper()}}],
    )


def bare(tmp_path: Path) -> Path:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    return remote


def node(tmp_path: Path, remote: Path, agent: str):
    """A clone as a node has it: its library, settings (local sandbox), gate and pull verifier."""
    path = clone_folder(tmp_path / "clones", str(remote), agent)
    settings = load_settings(
        {"sandbox": "local", "library": str(path), "agent_id": agent}, env={}, cwd=tmp_path
    )
    library = Library(path)
    verify = sandbox_verifier(settings)
    sync.pull(library, str(remote), verify)
    return library, settings, verify


def push(library: Library, settings, verify, remote: Path, **kw) -> sync.PushOutcome:
    return sync.push(library, str(remote), verify=verify, gate=case_gate(settings), **kw)


def test_two_clones_saving_one_name_keep_both_versions_and_the_second_passes_the_gate(tmp_path):
    remote = bare(tmp_path)
    a, a_settings, a_verify = node(tmp_path, remote, "team.host.w1")
    b, b_settings, b_verify = node(tmp_path, remote, "team.host.w2")
    experience_files.append_line(a.path, "team.host.w1", b'{"a": 1}\n')
    experience_files.append_line(b.path, "team.host.w2", b'{"b": 1}\n')
    a_saved = a.save(folder(tmp_path / "a", "x", "abc"))
    b_saved = b.save(folder(tmp_path / "b", "y", "xyz"))
    assert (a_saved.version, b_saved.version) == (1, 1)  # both wrote v1 of `upper` on their clone

    first = push(a, a_settings, a_verify, remote, saved={"upper": 1})
    second = push(b, b_settings, b_verify, remote, saved={"upper": 1})
    assert first.pushed and first.attempts == 1 and first.versions == {"upper": 1}
    # B's push was refused (the remote moved), B rebased: its save is now v2, on top of A's v1.
    assert second.pushed and second.attempts == 2 and second.rebases == 1
    assert second.versions == {"upper": 2} and not second.kept

    team = Library(tmp_path / "team")
    team.pull(str(remote))
    log = subprocess.run(
        ["git", "-C", str(remote), "log", "--format=%s", "main"], capture_output=True, text=True
    )
    saves = [line for line in log.stdout.splitlines() if line.startswith("save")]
    assert saves == ["save upper v2", "save upper v1"]  # one line of history, no version lost
    latest = team.get("upper")
    assert latest.version == 2 and latest.parent_version == 1
    # Nothing lost: v2 carries A's case and B's case.
    assert sorted(c.inputs["text"] for c in latest.cases) == ["abc", "xyz"]
    files = {p.name: p.read_bytes() for p in experience_files.local_files(team.path)}
    assert files == {"team.host.w1.jsonl": b'{"a": 1}\n', "team.host.w2.jsonl": b'{"b": 1}\n'}


def test_a_replayed_save_that_fails_the_remote_versions_cases_stays_in_the_clone(tmp_path):
    remote = bare(tmp_path)
    a, a_settings, a_verify = node(tmp_path, remote, "a")
    b, b_settings, b_verify = node(tmp_path, remote, "b")
    a.save(folder(tmp_path / "a", "x", "abc"))
    # B's version adds "!" to every answer: it passes its own case, not A's.
    b.save(
        build_subagent_folder(
            tmp_path / "b" / "upper",
            name="upper",
            description="Upper-case a text.",
            code=CODE.format(suffix=' + "!"'),
            cases=[{"inputs": {"text": "xyz"}, "expected": {"upper": "XYZ!"}}],
        )
    )
    assert push(a, a_settings, a_verify, remote, saved={"upper": 1}).pushed
    out = push(b, b_settings, b_verify, remote, saved={"upper": 1})
    assert out.pushed  # B's clone pushed what it could: A's version stays current
    assert "upper" in out.kept and "fails its stored cases" in out.kept["upper"]
    assert out.versions == {}
    team = Library(tmp_path / "team")
    team.pull(str(remote))
    assert team.get("upper").version == 1 and team.get("upper").cases[0].inputs == {"text": "abc"}
    # B's version is not lost: its clone keeps it at a ref of its own.
    kept = b.git.text("rev-parse", "refs/agentfactory/unpushed/upper")
    assert "XYZ!" in b.git.text("show", f"{kept}:upper/cases.jsonl")


def test_a_push_refused_by_the_remote_every_time_is_bounded_and_the_save_stays_local(tmp_path):
    remote = bare(tmp_path)
    a, settings, verify = node(tmp_path, remote, "a")
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'refused by policy' >&2\nexit 1\n")
    hook.chmod(0o755)
    saved = a.save(folder(tmp_path / "a", "x", "abc"))
    out = push(a, settings, verify, remote, saved={"upper": saved.version}, retries=2)
    assert not out.pushed and out.attempts == 3 and out.rebases == 0
    assert "refused the push (pre-receive hook declined)" in out.problem
    assert a.get("upper").version == 1  # kept in the clone
    assert subprocess.run(["git", "-C", str(remote), "rev-parse", "--verify", "-q", "refs/heads/main"],
                          capture_output=True, text=True).stdout.strip() == sync.synced(a)  # fmt: skip
    hook.unlink()  # the policy is lifted: the next push carries the kept save
    again = push(a, settings, verify, remote, saved={"upper": 1})
    assert again.pushed and again.attempts == 1


def test_a_remote_revision_arriving_by_pull_goes_through_the_gate(tmp_path):
    remote = bare(tmp_path)
    a, a_settings, a_verify = node(tmp_path, remote, "a")
    a.save(folder(tmp_path / "a", "x", "abc"))
    assert push(a, a_settings, a_verify, remote).pushed
    b, b_settings, b_verify = node(tmp_path, remote, "b")
    assert b.get("upper").version == 1
    # A hostile teammate pushes a revision that breaks the stored case (no gate on their side).
    rogue = Library(tmp_path / "rogue")
    rogue.pull(str(remote))
    rogue.save(
        build_subagent_folder(tmp_path / "r" / "upper", name="upper", description="Upper-case a text.",
                              code=CODE.format(suffix=' + "?"'),
                              cases=[{"inputs": {"text": "q"}, "expected": {"upper": "Q?"}}]),
        replace_cases=True,
    )  # fmt: skip
    rogue.push(str(remote))
    result = sync.pull(b, str(remote), b_verify)
    assert [r.name for r in result.rejected] == ["upper"]
    assert b.get("upper").version == 1  # the clone keeps the version that passes its cases


def test_clone_folders_are_one_per_agent_and_remote(tmp_path):
    one = clone_folder(tmp_path, "/srv/lib.git", "team.h.w1")
    assert one != clone_folder(tmp_path, "/srv/lib.git", "team.h.w2")
    assert one != clone_folder(tmp_path, "/srv/other.git", "team.h.w1")
    assert one.parent.parent == tmp_path.resolve() and one.name == "team.h.w1"
    assert clone_folder(tmp_path, "r", "../../etc").resolve().is_relative_to(tmp_path.resolve())


def test_remote_names_and_paths_resolve_to_what_nodes_can_reach(tmp_path):
    remote = bare(tmp_path)
    lib = Library(tmp_path / "lib")
    lib.ensure()
    subprocess.run(["git", "-C", str(lib.path), "remote", "add", "team", str(remote)], check=True)
    assert resolve_remote("team", lib.path, tmp_path) == str(remote)
    assert resolve_remote("remote.git", lib.path, tmp_path) == str(remote.resolve())
    assert resolve_remote("ssh://host/lib.git", lib.path, tmp_path) == "ssh://host/lib.git"
    with pytest.raises(UsageError, match="neither a path"):
        resolve_remote("nowhere", lib.path, tmp_path)
    with pytest.raises(UsageError):
        resolve_remote("--upload-pack=x", lib.path, tmp_path)
    json.dumps(str(remote))


def test_a_rebase_that_breaks_halfway_puts_the_clone_back_as_it_was(tmp_path, monkeypatch):
    from agentfactory.errors import LibraryError

    remote = bare(tmp_path)
    a, a_settings, a_verify = node(tmp_path, remote, "a")
    b, b_settings, b_verify = node(tmp_path, remote, "b")
    a.save(folder(tmp_path / "a", "x", "abc"))
    assert push(a, a_settings, a_verify, remote).pushed
    experience_files.append_line(b.path, "b", b'{"b": 1}\n')
    b.save(folder(tmp_path / "b", "y", "xyz"))
    before = b.head()

    def broken(library, remote, verify):
        raise LibraryError("Fetch from the remote failed: the network is down")

    monkeypatch.setattr(sync, "pull", broken)
    out = push(b, b_settings, b_verify, remote, saved={"upper": 1})
    assert not out.pushed and "the rebase on the remote failed" in out.problem and "network" in out.problem
    assert b.head() == before  # HEAD, the work tree and the subagent are B's again
    assert b.get("upper").cases[0].inputs == {"text": "xyz"}
    assert (b.path / "upper").is_dir()
    assert (b.path / "experience" / "b.jsonl").read_bytes() == b'{"b": 1}\n'
    assert subprocess.run(["git", "-C", str(b.path), "status", "--porcelain"], capture_output=True,
                          text=True).stdout.strip() == ""  # fmt: skip


def test_a_batch_on_clones_resumes_only_with_its_remote_named_again(tmp_path):
    from agentfactory.batch import BatchOptions, run_batch

    folder = tmp_path / "batches" / "20261130-070000-abcdef"
    folder.mkdir(parents=True)
    (folder / "batch.json").write_text(json.dumps({"batch_id": folder.name, "remote": "/srv/team.git"}))
    options = BatchOptions(workers=1, cwd=tmp_path, batches_dir=tmp_path / "batches", resume=folder.name)
    with pytest.raises(UsageError, match=r"resume it with --ray and --remote \(it was '/srv/team.git'\)"):
        run_batch(tmp_path / "tasks.jsonl", [], [], options)
    assert not (folder / "results.jsonl").exists()


def test_a_save_on_a_clone_is_pushed_as_soon_as_it_is_made(tmp_path):
    from agentfactory.batch.worker import SavePusher

    remote = bare(tmp_path)
    a, _, _ = node(tmp_path, remote, "a")
    saved = a.save(folder(tmp_path / "a", "x", "abc"))
    pusher = SavePusher(a.path, str(remote))
    pusher({"type": "model_call"})  # not a save: nothing pushed
    main = ["git", "-C", str(remote), "rev-parse", "main"]
    assert subprocess.run(main, capture_output=True, text=True).stdout.strip() != saved.commit
    pusher({"type": "library_change", "action": "save", "subagent": "upper", "version": 1})
    assert subprocess.run(main, capture_output=True, text=True).stdout.strip() == a.head() == sync.synced(a)
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\nexit 1\n")
    hook.chmod(0o755)
    a.save(folder(tmp_path / "a2", "y", "def"))
    pusher(
        {"type": "library_change", "action": "save", "subagent": "upper", "version": 2}
    )  # refused: no raise
    assert a.get("upper").version == 2


def test_remote_without_ray_or_unknown_is_one_sentence(tmp_path):
    from tests.batch.test_batch import batch, project, tasks_file

    root = project(tmp_path)
    tasks_file(root, 1)
    out = batch(root, "--remote", str(bare(tmp_path)))
    assert out.returncode == 2 and "--remote is for --ray" in out.stderr and "Traceback" not in out.stderr
    out = batch(root, "--ray", "auto", "--remote", "nowhere")
    assert out.returncode == 2 and "is neither a path, a URL nor a remote" in out.stderr
    assert not (root / "batches").exists()
