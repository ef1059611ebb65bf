"""The library store: a git repository of subagent folders, one commit per change.

Write protocol (every write runs under one inter-process lock, `.library.lock`, an OS file lock that
dies with its holder, so a crashed writer never blocks the next one and a live one is never robbed):

1. validate everything first; nothing is written for invalid input;
2. write a journal naming the subagents about to change (`.git/agentfactory/journal.json`, fsynced);
3. write the files into the work tree (each via temp file + os.replace), write the folder's blobs and
   trees, the root tree with that one entry spliced in, stage only the folder's entries in git's (split)
   index and write the commit object: no step reads or rewrites the other subagents, so a save costs
   about the same in a library of 50,000;
4. move HEAD's branch with `update-ref <new> <expected old>`: the single point where the new version
   becomes visible;
5. delete the journal.

Readers use git objects only (`HEAD:<name>/...`), so they see the old or the new version, never a mix.
A writer that finds a journal left by a killed writer restores the named folders to HEAD's version
(which is the old version if the kill came before step 4 and the new one after) before doing its own
work. Nothing here imports or runs subagent code.
"""

from __future__ import annotations

import re

from agentfactory.errors import LibraryError, UsageError, ValidationError
from agentfactory.library import experience_files
from agentfactory.library._git import TreeEntry
from agentfactory.library.accumulate import _accumulate, _version_of_files
from agentfactory.library.format import MAX_FILES, MAX_TOTAL, check_file_path, parse_subagent
from agentfactory.library.model import PullConflict, PullRejection, PullResult, Subagent, Verifier
from agentfactory.library.names import validate_name
from agentfactory.library.repo import (  # noqa: F401 - names other modules import from here
    _ROOT_FILES,
    _SPLIT_INDEX,
    CRASH_ENV,
    LOCK_NAME,
    MARKER,
    _crash_point,
    _is_name,
    _message,
    _one_line,
)
from agentfactory.library.versions import Versions


class Library(Versions):
    """A subagent library at `path` (a git repository created on first write)."""

    # ================================================================== teams

    def _check_remote(self, remote: str) -> str:
        if not remote or remote.startswith("-") or "\x00" in remote or "\n" in remote:
            raise UsageError(f"{remote!r} is not a git remote name, path or URL.")
        return remote

    def push(self, remote: str = "origin") -> str:
        """Push the library's main branch to `remote` (a configured remote, a path or a URL)."""
        from git import GitCommandError

        self._check_remote(remote)
        self.head()
        with self._writing():  # commits the experience files' new records, so the team gets them
            pass
        head = self.head()
        try:
            self.git.run("push", "--quiet", "--", remote, f"{head}:refs/heads/main")
        except GitCommandError as exc:
            err = (exc.stderr or "").strip()
            if "remote rejected" in err:  # the remote's own policy (a hook), not a newer remote
                why = re.search(r"\[remote rejected\][^(\n]*\(([^)\n]*)\)", err)
                raise LibraryError(
                    f"The remote {remote} refused the push ({_one_line(why.group(1) if why else err, 200)})."
                ) from None
            if "rejected" in err or "non-fast-forward" in err or "fetch first" in err:
                raise LibraryError(
                    f"The remote {remote} has changes this library lacks; run `agentfactory library pull "
                    f"{remote}` first, then push again."
                ) from None
            raise LibraryError(f"Push to {remote} failed: {_one_line(err, 300)}") from None
        return head

    def pull(
        self, remote: str = "origin", *, verify: Verifier | None = None, accept_removals: bool = False
    ) -> PullResult:
        """Fetch `remote`'s main branch and merge it subagent by subagent.

        The remote is untrusted. Before anything reaches the work tree, every entry its tip changes must
        pass what `library add` checks (names, plain files only: no links, submodules or hidden files,
        sizes, a valid subagent); otherwise the pull is refused and the library is untouched. A subagent
        changed only on one side takes that side, except that a remote revision of a subagent we have
        must pass `verify` (the cases it will carry, ours included) or ours stays and theirs is kept at
        refs/agentfactory/rejected/<name>. Changed on both sides: ours is kept, theirs stays reachable
        (the merge commit's second parent and refs/agentfactory/conflicts/<name>). Both are reported.

        Our stored cases always run against the incoming revision with our expectation; a remote case
        that redefines one (same inputs, other expectation) is rejected like a failing one. A subagent new
        here must pass its own cases (a renamed copy is a new subagent). A remote removal of a subagent we
        have is rejected too, unless `accept_removals` (then reported as removed). Experience files merge
        line by line, except this clone's own agents' files, which a remote never changes (refused and
        reported in `experience_refused`, see experience_files).
        refs/agentfactory/incoming, the fetched tip, never outlives the pull.
        """
        self._check_remote(remote)
        self.ensure()
        incoming = "refs/agentfactory/incoming"
        try:
            return self._pull(remote, incoming, verify, accept_removals)
        finally:
            self.git.ok("update-ref", "-d", incoming)

    def _pull(self, remote: str, incoming: str, verify: Verifier | None, accept_removals: bool) -> PullResult:
        from git import GitCommandError

        try:
            self.git.run(
                "-c",
                "fetch.fsckObjects=true",
                "fetch",
                "--quiet",
                "--no-tags",
                "--no-recurse-submodules",
                "--",
                remote,
                f"+refs/heads/main:{incoming}",
            )
        except GitCommandError as exc:
            err = _one_line((exc.stderr or "").strip().removeprefix("stderr:").strip(" '"), 300)
            found = re.search(r"error: object \w+: (\w+: [^\n]*?)(?: fatal:|$)", err)
            if found:  # git's own object check refused a malformed tree (a '.git' or '..' entry, ...)
                raise ValidationError(
                    f"Pull from {_one_line(remote, 120)} refused, nothing changed: the remote holds a "
                    f"malformed git object ({found.group(1).strip()})."
                ) from None
            raise LibraryError(f"Fetch from {remote} failed: {err}") from None
        try:
            theirs = self.git.text("rev-parse", "--verify", "--quiet", f"{incoming}^{{commit}}")
        except GitCommandError:
            raise LibraryError(f"The remote {_one_line(remote, 120)} has no main branch to pull.") from None
        with self._writing(hold_experience=True) as ours:
            if theirs == ours or self.git.is_ancestor(theirs, ours):
                return PullResult(ours, False, [], [])
            try:
                incoming_subs = self._check_incoming(ours, theirs)
            except ValidationError as exc:
                why = str(exc).rstrip(".")
                raise ValidationError(
                    f"Pull from {_one_line(remote, 120)} refused, nothing changed: {why}."
                ) from None
            rejected, kept_cases = self._verify_incoming(ours, theirs, incoming_subs, verify, accept_removals)
            if (
                not rejected
                and not kept_cases
                and self.git.is_ancestor(ours, theirs)
                and not experience_files.needs_merge(self.git, ours, theirs)
            ):
                changed = self._changed_names(ours, theirs)
                experience = experience_files.changed_files(self.git, ours, theirs)
                self._move_head(ours, theirs, changed, f"pull {remote} (fast-forward)")
                self._index.refresh(theirs)
                other = self.git.ls_tree(theirs)
                gone = [n for n in changed if n not in other]
                return PullResult(
                    theirs,
                    True,
                    sorted(n for n in changed if n in other and n != experience_files.EXPERIENCE_DIR),
                    [],
                    removed=sorted(gone),
                    experience=experience,
                )
            return self._merge(remote, ours, theirs, rejected, kept_cases)

    def _check_incoming(self, ours: str, theirs: str) -> dict[str, Subagent]:
        """Validate every top-level entry `theirs` changes relative to `ours`, from git objects only.
        Returns the changed subagents, parsed. Raises ValidationError naming the first bad entry."""
        mine, other = self.git.ls_tree(ours), self.git.ls_tree(theirs)
        subs: dict[str, Subagent] = {}
        for name, entry in sorted(other.items()):
            if mine.get(name) == entry:
                continue
            if name == experience_files.EXPERIENCE_DIR:
                experience_files.check_incoming(self.git, theirs, entry)
                continue
            if name in _ROOT_FILES:
                self._check_root_file(name, entry, mine.get(name))
                continue
            if entry.mode != "040000" or entry.kind != "tree":
                raise ValidationError(
                    f"the remote's {name!r} is not a subagent folder (a link, file or submodule)"
                )
            validate_name(name)
            subs[name] = self._incoming_subagent(theirs, name)
        return subs

    def _check_root_file(self, name: str, entry: TreeEntry, mine: TreeEntry | None) -> None:
        if entry.mode not in ("100644", "100755") or entry.kind != "blob":
            raise ValidationError(f"the remote's {name} is not a plain file")
        if name == ".gitignore" and mine is not None:
            raise ValidationError("the remote changes the library's .gitignore, which the library owns")
        size = int(self.git.text("cat-file", "-s", entry.sha))
        if size > 64 * 1024:
            raise ValidationError(f"the remote's {name} is {size} bytes; the limit is 65536")

    def _incoming_subagent(self, commit: str, name: str) -> Subagent:
        entries = self.git.ls_tree(commit, name, recursive=True, sizes=True)
        if len(entries) > MAX_FILES:
            raise ValidationError(f"the remote's {name} holds more than {MAX_FILES} files")
        total = 0
        for path, entry in entries.items():
            rel = path[len(name) + 1 :]
            check_file_path(rel, f"the remote's {name}/: ")
            if entry.kind != "blob" or entry.mode not in ("100644", "100755"):
                raise ValidationError(
                    f"the remote's {name}/{rel} is a link or submodule (mode {entry.mode}); subagent folders "
                    "hold plain files"
                )
            total += entry.size or 0
            if total > MAX_TOTAL:
                raise ValidationError(f"the remote's {name} holds more than {MAX_TOTAL} bytes")
        try:
            return parse_subagent(name, self._files_at(commit, name), commit=commit)
        except ValidationError as exc:
            why = str(exc).rstrip(".")
            raise ValidationError(f"the remote's {name} is not a valid subagent ({why})") from None

    def _verify_incoming(
        self,
        ours: str,
        theirs: str,
        subs: dict[str, Subagent],
        verify: Verifier | None,
        accept_removals: bool = False,
    ) -> tuple[dict[str, PullRejection], dict[str, TreeEntry]]:
        """What of `theirs` may become current. A remote revision of a subagent we have carries every
        stored case with our expectation (cases only accumulate) and must pass `verify` on all of them; one
        redefining a stored case is rejected without running. A subagent new here must pass its own cases.
        A removal of a subagent we have is rejected unless `accept_removals`. Returns the rejected ones
        and, for accepted ones that gained cases, the tree entry to take instead of theirs."""
        bases = self.git.text("merge-base", ours, theirs) if self.git.ok("merge-base", ours, theirs) else ""
        base = self.git.ls_tree(bases) if bases else {}
        mine, other = self.git.ls_tree(ours), self.git.ls_tree(theirs)
        rejected: dict[str, PullRejection] = {}
        kept: dict[str, TreeEntry] = {}

        def reject(name: str, ours_version: int | None, theirs_version: int | None, reason: str) -> None:
            ref = f"refs/agentfactory/rejected/{name}"
            self.git.run("update-ref", ref, theirs)
            rejected[name] = PullRejection(
                name, ours_version, theirs_version, theirs, ref, _one_line(reason, 500)
            )

        for name, sub in subs.items():
            if name not in mine:
                if name in base:
                    continue  # removed here, changed there: a conflict, reported by the merge
                reason = verify(sub) if verify is not None else None
                if reason:
                    reject(name, None, sub.version, f"new here, it fails its own cases ({reason})")
                continue
            if mine[name] != base.get(name):
                continue  # changed on both sides: a conflict, ours kept
            local = parse_subagent(name, self._files_at(ours, name))
            merged, redefined = _accumulate(sub, local)
            if redefined:
                reason = "it redefines our stored cases (" + "; ".join(redefined) + ")"
            else:
                failed = verify(merged) if verify is not None else None
                reason = f"it fails the cases it would carry, ours included ({failed})" if failed else None
            if reason:
                reject(name, local.version, sub.version, reason)
            elif merged.files != sub.files:
                kept[name] = TreeEntry("040000", "tree", self.git.write_tree_of(merged.files))
        if not accept_removals:
            for name, entry in mine.items():
                if name not in other and base.get(name) == entry and _is_name(name):
                    version = _version_of_files(self._files_at(ours, name)) or None
                    reject(name, version, None, "the remote removes it (pass --accept-removals to take that)")
        return rejected, kept

    def _changed_names(self, a: str, b: str) -> list[str]:
        out = self.git.text("diff", "--name-only", "--no-renames", a, b)
        return sorted({p.split("/", 1)[0] for p in out.splitlines() if p})

    def _move_head(self, old: str, new: str, names: list[str], reason: str) -> None:
        self._write_journal("pull", [n for n in names if _is_name(n)])
        self.git.run("update-ref", "-m", reason, "HEAD", new, old)
        _crash_point("ref")
        self.git.run("read-tree", "-m", "-u", old, new)
        self._journal.unlink()

    def _merge(
        self,
        remote: str,
        ours: str,
        theirs: str,
        rejected: dict[str, PullRejection] | None = None,
        kept_cases: dict[str, TreeEntry] | None = None,
    ) -> PullResult:
        rejected, kept_cases = rejected or {}, kept_cases or {}
        bases = self.git.text("merge-base", ours, theirs) if self.git.ok("merge-base", ours, theirs) else ""
        base = self.git.ls_tree(bases) if bases else {}
        mine, other = self.git.ls_tree(ours), self.git.ls_tree(theirs)
        merged = dict(mine)
        updated: list[str] = []
        removed: list[str] = []
        conflicts: list[PullConflict] = []
        refused_experience = experience_files.refused_files(self.git, ours, theirs)
        experience = experience_files.merged_entry(self.git, ours, theirs)
        if experience is not None:  # every agent file of both sides, none shortened: never a conflict
            merged[experience_files.EXPERIENCE_DIR] = experience
        for name in sorted(set(mine) | set(other) | set(base)):
            o, t, b = mine.get(name), other.get(name), base.get(name)
            if o == t or t == b or name in rejected or name == experience_files.EXPERIENCE_DIR:
                continue
            if o == b:
                if t is None:
                    merged.pop(name, None)
                    removed.append(name)
                else:
                    merged[name] = kept_cases.get(name, t)
                    updated.append(name)
                continue
            ref = (
                f"refs/agentfactory/conflicts/{name}"
                if _is_name(name)
                else "refs/agentfactory/conflicts/-root"
            )
            self.git.run("update-ref", ref, theirs)
            conflicts.append(
                PullConflict(
                    name,
                    _version_of_files(self._files_at(ours, name)) or None if o else None,
                    _version_of_files(self._files_at(theirs, name)) or None if t else None,
                    theirs,
                    ref,
                )
            )
        lines = [f"{e.mode} {e.kind} {e.sha}\t{n}".encode() for n, e in sorted(merged.items())]
        tree = self.git.text("mktree", "-z", input=b"".join(line + b"\0" for line in lines))
        summary = [f"Merge the library at {_one_line(remote, 120)}."]
        if updated:
            summary.append("Taken from the remote: " + ", ".join(updated) + ".")
        if removed:
            summary.append("Removed as the remote did: " + ", ".join(removed) + ".")
        if conflicts:
            summary.append(
                "Changed on both sides, ours kept (theirs reachable at refs/agentfactory/conflicts/<name>): "
                + ", ".join(c.name for c in conflicts)
                + "."
            )
        if kept_cases:
            summary.append(
                "Our cases kept beside the remote's (cases only accumulate): " + ", ".join(kept_cases) + "."
            )
        if rejected:
            summary.append(
                "Rejected, ours kept (theirs at refs/agentfactory/rejected/<name>): "
                + ", ".join(rejected)
                + "."
            )
        if refused_experience:
            summary.append(
                "Remote changes to our own experience files refused: " + ", ".join(refused_experience) + "."
            )
        message = f"pull {_one_line(remote, 80)}: {len(updated)} updated, {len(removed)} removed, "
        message += f"{len(conflicts)} conflicts"
        message += f", {len(rejected)} rejected\n\n" if rejected else "\n\n"
        message += "\n".join(summary) + "\n"
        commit = self.git.text("commit-tree", tree, "-p", ours, "-p", theirs, input=_message(message))
        self._move_head(ours, commit, updated + removed, "pull (merge)")
        self._index.refresh(commit)
        experience_changed = experience_files.changed_files(self.git, ours, commit)
        return PullResult(
            commit,
            False,
            updated,
            conflicts,
            list(rejected.values()),
            removed,
            experience_changed,
            refused_experience,
        )
