"""Push with pull-rebase-retry: a library clone's own saves replayed on top of what a teammate pushed.

A clone (a Ray node's copy of the team's library remote) remembers the remote tip it last pulled or
pushed (`refs/agentfactory/synced`). Its own work since then is its saved subagents and its own
experience file(s). When a push is refused because the remote moved, `rebase` does, under the library
lock:

1. keep HEAD at `refs/agentfactory/before-rebase` (nothing of ours can be lost), go back to the synced tip;
2. pull the remote with the ordinary pull rules (`Library.pull`: the tree is validated, a revision of a
   subagent we have and a subagent new here must pass the gate `verify`, or ours is kept and reported);
3. put our experience lines back (one writer per file: ours is the longer file; a union if not);
4. save each of our subagents again on top: a subagent the remote revised meanwhile gets our version as
   the next version, carrying every case of both (cases only accumulate), and it must pass them all in
   the sandbox (`gate`) before it becomes current. One that does not (or that redefines a stored case)
   is not saved: it stays at refs/agentfactory/unpushed/<name> and is reported.

If anything fails on the way (the remote is unreachable, a crash), HEAD goes back to what it was.
`push` retries a bounded number of times; a push still refused after them leaves the saves in the
clone, reported, and the next push (after the next pull) carries them.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import field
from typing import Any

from agentfactory.errors import AgentFactoryError, LibraryError
from agentfactory.library import experience_files
from agentfactory.records import record

SYNCED = "refs/agentfactory/synced"
BEFORE = "refs/agentfactory/before-rebase"  # HEAD before the last rebase
KEPT = "refs/agentfactory/unpushed"  # KEPT/<name>: a version of ours the rebase could not save on top
PUSH_RETRIES = 3  # rebases (or waits) after a refused push, then the saves stay local
RETRY_PAUSE_S = 0.2  # first pause before pushing again when the remote did not move; doubles each time

Gate = Callable[[Any, Any], "str | None"]  # (our version as saved before, the version about to be saved)


@record
class PushOutcome:
    pushed: bool
    attempts: int
    commit: str  # HEAD after the push (or after the last rebase, when not pushed)
    versions: dict[str, int] = field(default_factory=dict)  # our subagents as the remote now has them
    kept: dict[str, str] = field(default_factory=dict)  # our versions not saved on top: name -> why
    rejected: dict[str, str] = field(default_factory=dict)  # the remote's versions the pull gate refused
    problem: str = ""  # why the last push failed (when not pushed)
    rebases: int = 0


def synced(library: Any) -> str | None:
    """The remote tip this clone last pulled or pushed (None before the first)."""
    git = library.git
    return (
        git.text("rev-parse", "--verify", "--quiet", SYNCED)
        if git.ok("rev-parse", "--verify", "--quiet", SYNCED)
        else None
    )


def mark_synced(library: Any, commit: str) -> None:
    library.git.run("update-ref", SYNCED, commit)


def pull(library: Any, remote: str, verify: Any) -> Any:
    """`Library.pull` that also records the remote tip it brought (the synced point of later rebases).
    A remote without a main branch yet (a new team library) gets this library's first commit, so every
    clone starts from one shared tip; returns None then."""
    library.ensure()
    if not library.git.text("ls-remote", "--", remote, "refs/heads/main").strip():
        try:
            mark_synced(library, library.push(remote))
            return None
        except LibraryError:
            pass  # another clone created it first: pull that
    result = library.pull(remote, verify=verify)
    git = library.git
    if result.fast_forward:
        mark_synced(library, result.commit)
    elif git.ok("rev-parse", "--verify", "--quiet", f"{result.commit}^2"):
        mark_synced(library, git.text("rev-parse", f"{result.commit}^2"))  # a merge: theirs is the tip
    elif synced(library) is None:  # up to date with a remote we never synced with: theirs is in HEAD
        tip = git.text("ls-remote", "--", remote, "refs/heads/main").split()[0]
        if git.ok("cat-file", "-e", f"{tip}^{{commit}}"):
            mark_synced(library, tip)
    return result


def our_subagents(library: Any, since: str | None, head: str) -> list[str]:
    """The subagents this clone saved since it last synced (all of them before any sync)."""
    from agentfactory.library.store import _is_name

    names = library.git.ls_tree(head) if since is None else library._changed_names(since, head)
    return sorted(n for n in names if _is_name(n) and library.git.ls_tree(head, n))


def push(
    library: Any,
    remote: str,
    *,
    verify: Any,
    gate: Gate,
    retries: int = PUSH_RETRIES,
    saved: dict[str, int] | None = None,
) -> PushOutcome:
    """Push; when refused, rebase on what the remote gained (if it moved) and push again, at most
    `retries` more times. `saved`: our subagents and versions to report (they change with a rebase)."""
    versions = dict(saved or {})
    outcome = PushOutcome(False, 0, library.head(), versions)
    pause = RETRY_PAUSE_S
    for attempt in range(1, retries + 2):
        outcome.attempts = attempt
        try:
            outcome.commit = library.push(remote)
        except LibraryError as exc:
            outcome.problem = str(exc)
        else:
            mark_synced(library, outcome.commit)
            outcome.pushed, outcome.problem = True, ""
            return outcome
        if attempt > retries:
            break
        tip = _remote_tip(library, remote)
        if tip is None or library.git.ok("merge-base", "--is-ancestor", tip, outcome.commit):
            time.sleep(pause)  # the remote did not move: it refused for its own reasons; try again later
            pause *= 2
            continue
        try:
            rebase(library, remote, verify=verify, gate=gate, outcome=outcome)
        except Exception as exc:  # HEAD is back where it was (see rebase): the saves stay here
            outcome.problem = f"the rebase on the remote failed, the saves stay in this clone ({exc})"[:1000]
            break
    return outcome


def _remote_tip(library: Any, remote: str) -> str | None:
    try:
        out = library.git.text("ls-remote", "--", remote, "refs/heads/main").split()
    except Exception:  # unreachable: the push retries, then reports
        return None
    return out[0] if out else None


def rebase(library: Any, remote: str, *, verify: Any, gate: Gate, outcome: PushOutcome) -> None:
    """Replay this clone's work since its synced point on top of the remote's tip (see the module)."""
    from agentfactory.library.format import parse_subagent

    base = synced(library)
    if base is None:
        raise LibraryError("this clone never pulled the remote, so there is nothing to rebase on")
    with library._writing():  # commits our pending experience lines first
        pass
    head = library.head()
    names = our_subagents(library, base, head)
    ours = {n: parse_subagent(n, library._files_at(head, n)) for n in names}
    files = experience_files.changed_files(library.git, base, head)
    mine = {f: _blob(library, head, f"{experience_files.EXPERIENCE_DIR}/{f}") for f in files}
    library.git.run("update-ref", BEFORE, head)
    with library._writing() as current:
        library._move_head(current, base, names, "rebase: back to the synced remote tip")
        library._index.refresh(base)
    try:
        result = pull(library, remote, verify)
        if result is not None:
            outcome.rejected.update({r.name: r.reason for r in result.rejected})
        _restore_experience(library, mine)
        for name, sub in ours.items():
            try:
                saved = library._save(
                    sub,
                    run_id=sub.source_run,
                    task=sub.source_task,
                    message=None,
                    verb="save",
                    verify=lambda new, sub=sub: gate(sub, new),
                )
            except AgentFactoryError as exc:
                library.git.run("update-ref", f"{KEPT}/{name}", head)
                outcome.kept[name] = str(exc)
                outcome.versions.pop(name, None)
                continue
            outcome.versions[name] = saved.version
        with library._writing():
            pass  # our experience lines, committed on top
    except BaseException:
        with contextlib.suppress(Exception), library._writing() as current:
            library._move_head(current, head, names, "rebase failed: back to our saves")
            library._index.refresh(head)
        raise
    outcome.rebases += 1
    outcome.commit = library.head()


def _blob(library: Any, commit: str, path: str) -> bytes:
    try:
        return library.git.run("cat-file", "blob", f"{commit}:{path}", strip=False)
    except Exception:
        return b""


def _restore_experience(library: Any, mine: dict[str, bytes]) -> None:
    """Our experience files as we had them, with anything the remote has that we lack kept too."""
    folder = experience_files.experience_dir(library.path)
    with experience_files.locked(library.path):
        for name, data in mine.items():
            if not data or not experience_files.is_file_name(name):
                continue
            path = folder / name
            current = path.read_bytes() if path.is_file() and not path.is_symlink() else b""
            merged = experience_files._union(data, current)
            if merged != current:
                folder.mkdir(exist_ok=True)
                tmp = path.with_name(path.name + ".tmp")
                tmp.write_bytes(merged)
                os.replace(tmp, path)
