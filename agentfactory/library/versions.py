"""Reads and writes of subagent versions: `Versions` is the part of `Library` that reads versions from
git objects and commits new ones (the write protocol is described in store.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from agentfactory.errors import LibraryError, UsageError
from agentfactory.library._git import ObjectReader, files_trees, object_sha, splice_tree
from agentfactory.library._gitindex import stage_folder
from agentfactory.library.accumulate import _accumulate, _code_key, _version_of_files
from agentfactory.library.format import CASES_FILE, SKILL_FILE, parse_subagent, validate_folder
from agentfactory.library.model import SaveResult, SearchHit, Subagent, SubagentInfo, Verifier, VersionInfo
from agentfactory.library.names import validate_name
from agentfactory.library.repo import _SPLIT_INDEX, Repo, _atomic_write, _crash_point, _message, _one_line
from agentfactory.library.writing import canonical_files, content_key, section, with_section, write_folder


class Versions(Repo):
    """Reads from git objects only; writes through `_commit`, one folder per commit."""

    # ================================================================== reads

    def list(self) -> list[SubagentInfo]:
        index = self._fresh_index()
        return index.list() if index else []

    def list_json(self) -> Iterator[str]:
        """`list()` as one JSON object per subagent, streamed (see `Index.list_json`)."""
        index = self._fresh_index()
        return index.list_json() if index else iter(())

    def list_json_chunks(self) -> Iterator[str]:
        """`list_json` in chunks of many rows (see `Index.list_json_chunks`)."""
        index = self._fresh_index()
        return index.list_json_chunks() if index else iter(())

    def search(
        self, query: str, k: int = 5, success_rates: dict[str, tuple[int, int]] | None = None
    ) -> list[SearchHit]:
        index = self._fresh_index()
        return index.search(query, k, success_rates) if index else []

    def history(self, name: str) -> list[VersionInfo]:
        validate_name(name)
        index = self._fresh_index()
        versions = index.versions(name) if index else []
        if not versions:
            raise UsageError(f"No subagent named {name!r} in the library at {self.path}.")
        return versions

    def _commit_of(self, name: str, version: int | None) -> str:
        validate_name(name)
        if version is None:
            head = self.head()
            if not self.git.ls_tree(head, name):
                raise UsageError(
                    f"No subagent named {name!r} in the library (see `agentfactory library list`)."
                )
            return head
        found = [v for v in self.history(name) if v.version == version and not v.removed]
        if not found:
            known = sorted({v.version for v in self.history(name) if not v.removed})
            raise UsageError(f"{name} has no version {version}; known versions: {known}.")
        return found[-1].commit

    def _files_at(self, commit: str, name: str) -> dict[str, bytes]:
        entries = self.git.ls_tree(commit, name, recursive=True)
        blobs = self.git.blobs([e.sha for e in entries.values() if e.kind == "blob"])
        prefix = name + "/"
        return {p[len(prefix) :]: blobs[e.sha] for p, e in entries.items() if e.kind == "blob"}

    def get(self, name: str, version: int | None = None) -> Subagent:
        """Read a version (default: current) from git objects, without checking anything out."""
        commit = self._commit_of(name, version)
        return parse_subagent(name, self._files_at(commit, name), commit=commit)

    def diff(self, name: str, v1: int, v2: int) -> str:
        """A unified diff between two versions, the code first (see `diff_files`)."""
        return "".join(text for _, text in self.diff_files(name, v1, v2))

    def diff_files(self, name: str, v1: int, v2: int) -> list[tuple[str, str]]:
        """(path, unified diff) per changed file of `name` between two versions: the entry module
        first, then SKILL.md, the cases and everything else by path."""
        a, b = self._commit_of(name, v1), self._commit_of(name, v2)
        changed = self.git.run("diff", "--name-only", "-z", "--no-renames", a, b, "--", name, strip=False)
        paths = [p.decode("utf-8", "surrogateescape") for p in changed.split(b"\0") if p]
        entry = next((self.get(name, v).entry for v in (v2, v1) if v is not None), "")
        rank = {f"{name}/{entry}": 0, f"{name}/{SKILL_FILE}": 1, f"{name}/{CASES_FILE}": 2}
        out = []
        for path in sorted(paths, key=lambda p: (rank.get(p, 3), p)):
            text = self.git.run("diff", "--no-color", "--no-ext-diff", a, b, "--", path, strip=False)
            out.append((path[len(name) + 1 :], text.decode("utf-8", "replace")))
        return out

    def export(self, name: str, version: int | None, dest: Path) -> Path:
        """Write that version's folder to `dest/<name>` (refusing to overwrite a non-empty folder)."""
        sub = self.get(name, version)
        target = Path(dest) / name
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise UsageError(f"{target} already exists and is not empty; choose another destination.")
        write_folder(target, sub.files)
        return target

    # ================================================================== writes

    def save(
        self,
        folder: Path,
        *,
        run_id: str | None = None,
        task: str | None = None,
        message: str | None = None,
        verify: Verifier | None = None,
        replace_cases: bool = False,
    ) -> SaveResult:
        """Validate `folder` and commit it as the next version of its subagent (no-op when unchanged).

        Cases only accumulate: the current version's cases (and the fixtures they read) that the folder
        lacks are kept in the new version, with the stored expectation. A folder case with the inputs of a
        stored case but another expectation (or a stored fixture with other content) is refused unless
        `replace_cases`, which lets the folder's win and lists them in the result. `verify`, when given,
        sees the version about to be saved (its code with every accumulated case) and returns None to
        allow it or a reason to refuse it."""
        folder = Path(folder)
        validate_name(folder.name)
        sub = validate_folder(folder)
        return self._save(
            sub,
            run_id=run_id,
            task=task,
            message=message,
            verb="save",
            verify=verify,
            replace_cases=replace_cases,
        )

    def _save(
        self,
        sub: Subagent,
        *,
        run_id: str | None,
        task: str | None,
        message: str | None,
        verb: str,
        verify: Verifier | None = None,
        replace_cases: bool = False,
    ) -> SaveResult:
        replaced: list[str] = []
        with self._writing() as head, self.git.reader() as reader:
            root = self._root_tree(reader, head)
            old_files = reader.folder_files(root, sub.name)
            old_version = _version_of_files(old_files)
            if old_files:
                old = parse_subagent(sub.name, old_files)
                sub, replaced = _accumulate(sub, old, prefer_new=replace_cases)
                if replaced and verb == "save" and not replace_cases:
                    raise LibraryError(
                        f"{sub.name} was not saved: it redefines {len(replaced)} stored case(s) of "
                        f"v{old_version} ({_one_line('; '.join(replaced), 300)}); stored cases only "
                        "accumulate, so add a case with other inputs, or pass --force to replace them."
                    )
            if old_files:
                base = old_version
            else:
                index = self._fresh_index()
                base = index.max_version(sub.name) if index else 0
            new_version = base + 1
            files = canonical_files(
                sub,
                version=new_version,
                parent_version=old_version or None,
                source_run=run_id or sub.source_run,
                source_task=task or sub.source_task,
            )
            if old_files and content_key(old_files) == content_key(files):
                return SaveResult(sub.name, old_version, head, False)
            replaced = replaced if replace_cases else []
            stored = parse_subagent(sub.name, files)
            if verify is not None:
                refusal = verify(stored)
                if refusal:
                    raise LibraryError(
                        f"{sub.name} was not saved: the new version fails its stored cases ({refusal}); "
                        "fix it, or pass --force to add it anyway."
                    )
            subject = f"{verb} {sub.name} v{new_version}" if verb == "save" else verb.format(v=new_version)
            body = _one_line(message or sub.description, 500)
            commit = self._commit(
                head, root, sub.name, files, subject, body, new_version, run_id, task, list(old_files)
            )
            stored.commit = commit
            self._note(head, commit, stored, sub.name, new_version, subject, run_id, task, removed=False)
            return SaveResult(sub.name, new_version, commit, True, replaced)

    def rollback(self, name: str, to_version: int) -> SaveResult:
        """Make a new version whose code and description are those of `to_version`.

        Nothing later is lost: cases added since stay (cases only accumulate) and the changelog keeps
        every later entry and gains one for the rollback."""
        old = self.get(name, to_version)
        current = self.get(name)
        if _code_key(old) == _code_key(current):
            return SaveResult(name, current.version, current.commit or self.head(), False)
        log = section(current.body, "Changelog")
        entry = f"- Rolled back to the content of v{to_version} (from v{current.version})."
        old.body = with_section(old.body, "Changelog", f"{log}\n{entry}" if log else entry)
        return self._save(
            old,
            run_id=None,
            task=None,
            message=f"Restore the content of v{to_version}.",
            verb=f"rollback {name} to v{to_version} as v{{v}}",
        )

    def remove(self, name: str) -> SaveResult:
        """Delete a subagent in a commit; its history stays readable and a later save continues its versions."""
        validate_name(name)
        with self._writing() as head, self.git.reader() as reader:
            root = self._root_tree(reader, head)
            old_files = reader.folder_files(root, name)
            if not old_files:
                raise UsageError(f"No subagent named {name!r} in the library to remove.")
            version = _version_of_files(old_files)
            subject = f"remove {name} (was v{version})"
            commit = self._commit(
                head, root, name, None, subject, f"Remove {name}.", version, None, None, list(old_files)
            )
            self._note(head, commit, None, name, version, subject, None, None, removed=True)
            return SaveResult(name, version, commit, True)

    def _note(
        self,
        parent: str,
        commit: str,
        sub: Subagent | None,
        name: str,
        version: int,
        subject: str,
        run_id: str | None,
        task: str | None,
        *,
        removed: bool,
    ) -> None:
        date = datetime.now(UTC).astimezone().isoformat(timespec="seconds")
        info = VersionInfo(version, commit, date, subject, run_id, _one_line(task) if task else None, removed)
        self._index.note_commit(parent, commit, sub, name, info)

    def _root_tree(self, reader: ObjectReader, commit: str) -> bytes:
        found = reader.read(f"{commit}^{{tree}}")
        if found is None:
            raise LibraryError(f"The library's commit {commit} has no tree; run `git fsck` on {self.path}.")
        return found[1]

    def _commit(
        self,
        parent: str,
        root: bytes,
        name: str,
        files: dict[str, bytes] | None,
        subject: str,
        body: str,
        version: int,
        run_id: str | None,
        task: str | None,
        old_paths: list[str],
    ) -> str:
        """Replace folder `name` with `files` (None: delete it) in one commit on top of `parent`, whose
        root tree's content is `root`.

        Only the changed subtree is touched: the folder's blobs and trees are written, the new root tree
        is the parent's with one entry spliced in, and the git index gets only the folder's entries
        (`old_paths`, the folder's files at `parent`, are the ones to drop). Nothing here grows with the
        number of subagents but the root tree's bytes, copied once."""
        from git import GitCommandError

        trailers = [f"Subagent: {name}", f"Version: {version}"]
        if run_id:
            trailers.append(f"Run-Id: {_one_line(run_id)}")
        if task:
            trailers.append(f"Task: {_one_line(task)}")
        message = f"{subject}\n\n{body}\n\n" + "\n".join(trailers) + "\n"
        self._write_journal("save", [name])
        _crash_point("journal")
        target = self.path / name
        if files is None:
            import shutil  # on first use: not on a run's way to its first model call

            shutil.rmtree(target, ignore_errors=True)
        else:
            self._write_tree(target, files)
        _crash_point("files")
        folder = None
        if files is not None:
            folder, blobs, trees = files_trees(files)
            self.git.write_objects("blob", blobs)
        else:
            trees = []
        new_root = splice_tree(root, name, folder)
        tree = self.git.write_objects("tree", [*trees, new_root])[-1]
        self._stage(name, files or {}, old_paths)
        _crash_point("staged")
        commit = self.git.text("commit-tree", tree, "-p", parent, input=_message(message))
        _crash_point("commit-object")
        try:
            self.git.run("update-ref", "-m", _one_line(subject), "HEAD", commit, parent)
        except GitCommandError as exc:
            raise LibraryError(
                f"The library's HEAD moved during a locked write ({exc.stderr.strip()})."
            ) from None
        _crash_point("ref")
        self._journal.unlink()
        _crash_point("done")
        return commit

    def _stage(self, name: str, files: dict[str, bytes], old_paths: list[str]) -> None:
        """Make the git index entries of folder `name` those of its work-tree files just written (with
        their stat data, so git sees them up to date), dropping `old_paths` that are gone; no other entry
        is read or written (see _gitindex). An index in another shape is staged by git: still only the
        folder's entries change, but git reads the whole index to do it."""
        entries = {rel: (object_sha("blob", data), self.path / name / rel) for rel, data in files.items()}
        how = stage_folder(self.gitdir, self.gitdir / "agentfactory", name, entries)
        if how is None:
            return
        paths = sorted({*files, *old_paths})
        split = ("--split-index",) if how == "resplit" else ()
        if paths or split:
            from git import GitCommandError

            data = b"".join(f"{name}/{rel}".encode("utf-8", "surrogateescape") + b"\0" for rel in paths)
            try:
                self.git.run(
                    *_SPLIT_INDEX, "update-index", *split, "--add", "--remove", "-z", "--stdin", input=data
                )
            except GitCommandError as exc:
                why = _one_line((exc.stderr or "").strip().removeprefix("stderr:").strip(" '"), 300)
                raise LibraryError(
                    f"{name} was not saved: git could not update the library's index ({why}); if another git "
                    "command is running in the library, let it finish and save again."
                ) from None

    def _write_tree(self, target: Path, files: dict[str, bytes]) -> None:
        if target.is_symlink() or (target.exists() and not target.is_dir()):
            target.unlink()
        if target.exists():
            for existing in sorted(target.rglob("*"), reverse=True):
                rel = existing.relative_to(target).as_posix()
                if existing.is_dir() and not existing.is_symlink():
                    if not any(existing.iterdir()):
                        existing.rmdir()
                elif rel not in files:
                    existing.unlink()
        first = True
        for rel, data in sorted(files.items()):
            _atomic_write(target / rel, data)
            if first:
                _crash_point("first-file")
                first = False
