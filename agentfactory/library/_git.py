"""The library's only door to git: GitPython's command runner plus a few plumbing helpers.

Writes go through plumbing (add, write-tree, commit-tree, update-ref with the expected old value) so no
user hook or porcelain default can interfere, and the ref update is the single point at which a new
version becomes visible.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import git

from agentfactory.errors import LibraryError

ZERO = "0" * 40
_FALLBACK_IDENTITY = {
    "GIT_AUTHOR_NAME": "AgentFactory",
    "GIT_AUTHOR_EMAIL": "agentfactory@localhost",
    "GIT_COMMITTER_NAME": "AgentFactory",
    "GIT_COMMITTER_EMAIL": "agentfactory@localhost",
}


@dataclass(frozen=True)
class TreeEntry:
    mode: str
    kind: str
    sha: str
    size: int | None = None  # blob size, when listed with sizes


class Git:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._runner = git.Git(str(root))
        self._env: dict[str, str] | None = None

    def env(self) -> dict[str, str]:
        """Environment for git: no prompts, C locale, a fallback identity if the user configured none."""
        if self._env is None:
            env = {"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "GIT_OPTIONAL_LOCKS": "0"}
            try:
                self._runner.execute(["git", "config", "user.email"], env=env)
            except git.GitCommandError:
                env.update({k: os.environ.get(k) or v for k, v in _FALLBACK_IDENTITY.items()})
            self._env = env
        return self._env

    def run(self, *args: str, input: bytes | None = None, strip: bool = True) -> bytes:
        """Run `git args...` in the library and return stdout; failures raise git.GitCommandError."""
        kwargs = {
            "env": self.env(),
            "stdout_as_string": False,
            "strip_newline_in_stdout": strip,
        }
        if input is None:
            return self._runner.execute(["git", *args], **kwargs)
        with tempfile.TemporaryFile() as fh:
            fh.write(input)
            fh.seek(0)
            return self._runner.execute(["git", *args], istream=fh, **kwargs)

    def text(self, *args: str, input: bytes | None = None) -> str:
        return self.run(*args, input=input).decode("utf-8", "replace")

    def ok(self, *args: str) -> bool:
        try:
            self.run(*args)
        except git.GitCommandError:
            return False
        return True

    # ------------------------------------------------------------------ reads

    def ls_tree(
        self, treeish: str, path: str | None = None, recursive: bool = False, sizes: bool = False
    ) -> dict[str, TreeEntry]:
        args = ["ls-tree", "-z", "--full-tree"]
        if recursive:
            args.append("-r")
        if sizes:
            args.append("-l")
        args.append(treeish)
        if path is not None:
            args += ["--", path]
        out = self.run(*args, strip=False)
        entries: dict[str, TreeEntry] = {}
        for record in out.split(b"\0"):
            if not record:
                continue
            meta, _, name = record.partition(b"\t")
            mode, kind, sha, *rest = meta.decode().split()
            size = int(rest[0]) if rest and rest[0].isdigit() else None
            entries[name.decode("utf-8", "surrogateescape")] = TreeEntry(mode, kind, sha, size)
        return entries

    def blobs(self, shas: list[str]) -> dict[str, bytes]:
        """Read many objects with one `git cat-file --batch`."""
        if not shas:
            return {}
        unique = list(dict.fromkeys(shas))
        out = self.run("cat-file", "--batch", input=("\n".join(unique) + "\n").encode(), strip=False)
        result: dict[str, bytes] = {}
        pos = 0
        for sha in unique:
            end = out.index(b"\n", pos)
            header = out[pos:end].decode().split()
            if len(header) < 3:
                raise LibraryError(f"Git object {sha} is missing from the library; run `git fsck` on it.")
            size = int(header[2])
            result[sha] = out[end + 1 : end + 1 + size]
            pos = end + 1 + size + 1
        return result

    def write_tree_of(self, files: dict[str, bytes]) -> str:
        """Write `files` (relative path -> bytes, paths already validated) as git objects; the tree's sha."""
        nested: dict = {}
        for path, data in files.items():
            *dirs, leaf = path.split("/")
            node = nested
            for part in dirs:
                node = node.setdefault(part, {})
            node[leaf] = self.text("hash-object", "-w", "--stdin", input=data)

        def mktree(node: dict) -> str:
            rows = []
            for name, value in sorted(node.items()):
                if isinstance(value, dict):
                    rows.append(f"040000 tree {mktree(value)}\t{name}".encode())
                else:
                    rows.append(f"100644 blob {value}\t{name}".encode())
            return self.text("mktree", "-z", input=b"".join(row + b"\0" for row in rows))

        return mktree(nested)

    def is_ancestor(self, older: str, newer: str) -> bool:
        return self.ok("merge-base", "--is-ancestor", older, newer)

    def object_exists(self, sha: str) -> bool:
        return self.ok("cat-file", "-e", f"{sha}^{{commit}}")


def read_head(gitdir: Path) -> str | None:
    """HEAD's commit sha read straight from the ref files (no subprocess: search calls this every time)."""
    try:
        head = (gitdir / "HEAD").read_text().strip()
    except OSError:
        return None
    if not head.startswith("ref:"):
        return head or None
    ref = head[4:].strip()
    try:
        value = (gitdir / ref).read_text().strip()
        return value or None
    except FileNotFoundError:
        pass
    except OSError:
        return None
    try:
        for line in (gitdir / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref) and not line.startswith(("#", "^")):
                return line.split()[0]
    except OSError:
        return None
    return None
