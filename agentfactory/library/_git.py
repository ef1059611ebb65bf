"""The library's only door to git: GitPython's command runner plus a few plumbing helpers.

Writes go through plumbing (hash-object, update-index, commit-tree, update-ref with the expected old
value) so no user hook or porcelain default can interfere, and the ref update is the single point at which a new
version becomes visible.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from agentfactory.errors import LibraryError
from agentfactory.records import record

if TYPE_CHECKING:
    import subprocess

    import git

ZERO = "0" * 40
_STORE_ABOVE = 256 * 1024  # loose objects larger than this are stored, not compressed (see write_objects)
_FALLBACK_IDENTITY = {
    "GIT_AUTHOR_NAME": "AgentFactory",
    "GIT_AUTHOR_EMAIL": "agentfactory@localhost",
    "GIT_COMMITTER_NAME": "AgentFactory",
    "GIT_COMMITTER_EMAIL": "agentfactory@localhost",
}


@record(frozen=True)
class TreeEntry:
    mode: str
    kind: str
    sha: str
    size: int | None = None  # blob size, when listed with sizes


class Git:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._git: git.Git | None = None
        self._env: dict[str, str] | None = None
        self._objects: tuple[str, bool] | None = None

    @property
    def _runner(self) -> git.Git:
        # GitPython is imported at the first git command: a search on a fresh index runs none.
        if self._git is None:
            import git

            self._git = git.Git(str(self.root))
        return self._git

    def env(self) -> dict[str, str]:
        """Environment for git: no prompts, C locale, a fallback identity if the user configured none."""
        if self._env is None:
            env = {"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "GIT_OPTIONAL_LOCKS": "0"}
            from git import GitCommandError

            try:
                self._runner.execute(["git", "config", "user.email"], env=env)
            except GitCommandError:
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
        import tempfile  # on first use, as subprocess below: a run reads its library without either

        with tempfile.TemporaryFile() as fh:
            fh.write(input)
            fh.seek(0)
            return self._runner.execute(["git", *args], istream=fh, **kwargs)

    def text(self, *args: str, input: bytes | None = None) -> str:
        return self.run(*args, input=input).decode("utf-8", "replace")

    def ok(self, *args: str) -> bool:
        from git import GitCommandError

        try:
            self.run(*args)
        except GitCommandError:
            return False
        return True

    # ------------------------------------------------------------------ reads

    def ls_tree(
        self,
        treeish: str,
        path: str | list[str] | None = None,
        recursive: bool = False,
        sizes: bool = False,
    ) -> dict[str, TreeEntry]:
        args = ["ls-tree", "-z", "--full-tree"]
        if recursive:
            args.append("-r")
        if sizes:
            args.append("-l")
        args.append(treeish)
        if path is not None:
            args += ["--", *([path] if isinstance(path, str) else path)]
        out = self.run(*args, strip=False)
        entries: dict[str, TreeEntry] = {}
        for line in out.split(b"\0"):
            if not line:
                continue
            meta, _, name = line.partition(b"\t")
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

    def _object_settings(self) -> tuple[str, bool]:
        """(object format, fsync loose objects?) of the repository, read once: objects written here
        must be the ones git would write, as durable as git would make them."""
        if self._objects is None:
            from git import GitCommandError

            try:
                out = self.run("config", "-z", "--get-regexp", r"^(extensions\.objectformat|core\.fsync.*)$")
            except GitCommandError:  # exit 1: none of them set
                out = b""
            found: dict[str, str] = {}
            for line in out.split(b"\0"):
                key, _, value = line.decode("utf-8", "replace").partition("\n")
                if key:
                    found[key.lower()] = value.strip().lower()
            fsync = found.get("core.fsyncobjectfiles", "false") in ("true", "yes", "on", "1") or found.get(
                "core.fsync", "none"
            ) not in ("", "none")
            self._objects = (found.get("extensions.objectformat", "sha1"), fsync)
        return self._objects

    def write_objects(self, kind: str, objects: list[bytes]) -> list[str]:
        """Write objects of one kind as loose objects, the way git does (zlib, a temporary file renamed
        into place, read-only), and return their shas. No git process: a save's root tree (2.5 MB at
        50,000 subagents) is hashed and written once, stored rather than compressed (its shas do not
        compress anyway); `git gc` packs it like any loose object."""
        if not objects:
            return []
        object_format, fsync = self._object_settings()
        if object_format != "sha1":
            raise LibraryError(
                f"The library at {self.root} uses the {object_format} object format; the library writes "
                "SHA-1 repositories only."
            )
        folder = self.root / ".git" / "objects"
        shas = []
        for data in objects:
            sha = object_sha(kind, data)
            shas.append(sha)
            target = folder / sha[:2] / sha[2:]
            if target.exists():
                continue
            target.parent.mkdir(exist_ok=True)
            raw = b"%s %d\0" % (kind.encode(), len(data)) + data
            tmp = target.parent / f"tmp_obj_{os.getpid()}_{os.urandom(6).hex()}"
            try:
                with open(tmp, "xb") as fh:
                    fh.write(zlib.compress(raw, 1 if len(raw) < _STORE_ABOVE else 0))
                    if fsync:
                        fh.flush()
                        os.fsync(fh.fileno())
                os.chmod(tmp, 0o444)
                os.replace(tmp, target)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        return shas

    def read_loose(self, sha: str) -> tuple[str, bytes] | None:
        """(kind, content) of a loose object, checked against its sha; None when it is not loose (packed
        objects are read through git)."""
        if len(sha) != 40 or not all(c in "0123456789abcdef" for c in sha):
            return None
        try:
            with open(self.root / ".git" / "objects" / sha[:2] / sha[2:], "rb") as fh:
                raw = zlib.decompress(fh.read())
        except (OSError, zlib.error):
            return None
        header, sep, data = raw.partition(b"\0")
        kind, _, size = header.partition(b" ")
        if not sep or size != str(len(data)).encode() or sha1(raw).hex() != sha:
            return None  # not what its name says: git decides (and reports) what it is
        return kind.decode(), data

    def reader(self) -> ObjectReader:
        return ObjectReader(self)

    def is_ancestor(self, older: str, newer: str) -> bool:
        return self.ok("merge-base", "--is-ancestor", older, newer)

    def object_exists(self, sha: str) -> bool:
        return self.ok("cat-file", "-e", f"{sha}^{{commit}}")


class ObjectReader:
    """Reads of git objects, each chosen from the last: a save reads the root tree, then its folder's tree
    and blobs, without git parsing the root tree again. Loose objects (every object a save wrote) are
    read here; anything else through one `git cat-file --batch` process, started at the first such read."""

    def __init__(self, git: Git) -> None:
        self._git = git
        self._proc: subprocess.Popen[bytes] | None = None

    def _batch(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            import subprocess

            self._proc = subprocess.Popen(
                ["git", "cat-file", "--batch"],
                cwd=self._git.root,
                env={**os.environ, **self._git.env()},
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        return self._proc

    def read(self, ref: str) -> tuple[str, bytes] | None:
        """(kind, content) of an object named by a sha or `rev^{tree}`; None when git has no such object."""
        if "\n" in ref:
            return None
        sha, tree_of = (ref[:-7], True) if ref.endswith("^{tree}") else (ref, False)
        found = self._git.read_loose(sha)
        if found is not None and tree_of and found[0] == "commit":
            line = found[1].split(b"\n", 1)[0]
            found = self._git.read_loose(line[5:].decode()) if line.startswith(b"tree ") else None
        if found is not None and (not tree_of or found[0] == "tree"):
            return found
        proc = self._batch()
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(ref.encode() + b"\n")
        proc.stdin.flush()
        header = proc.stdout.readline().split()
        if len(header) != 3 or not header[2].isdigit():
            if not header:
                raise LibraryError("git cat-file stopped answering; run `git fsck` on the library.")
            return None
        data = proc.stdout.read(int(header[2]) + 1)[:-1]
        return header[1].decode(), data

    def folder_files(self, root: bytes, name: str) -> dict[str, bytes]:
        """The files of folder `name` of the tree `root` (content), by relative path; {} when absent."""
        sha = folder_entry(root, name)
        return self._files(sha, "") if sha else {}

    def _files(self, tree: str, prefix: str) -> dict[str, bytes]:
        found = self.read(tree)
        if found is None or found[0] != "tree":
            raise LibraryError(f"Git object {tree} is missing from the library; run `git fsck` on it.")
        out: dict[str, bytes] = {}
        for mode, name, sha in tree_entries(found[1]):
            if mode == "40000":
                out.update(self._files(sha, f"{prefix}{name}/"))
            elif mode != "160000":  # a submodule has no content here; links and files are read as blobs
                blob = self.read(sha)
                if blob is None:
                    raise LibraryError(f"Git object {sha} is missing from the library; run `git fsck` on it.")
                out[prefix + name] = blob[1]
        return out

    def close(self) -> None:
        if self._proc is None:
            return
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._proc = None

    def __enter__(self) -> ObjectReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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


def object_sha(kind: str, data: bytes) -> str:
    """The SHA-1 git gives an object of this kind and content."""
    return sha1(b"%s %d\0" % (kind.encode(), len(data)) + data).hex()


def sha1(data: bytes) -> bytes:
    """The SHA-1 digest of `data` (git's object names and index checksum)."""
    import hashlib  # on first use: OpenSSL's bindings are 4 ms a run's start need not pay

    return hashlib.sha1(data).digest()


def _tree_key(name: bytes, mode: bytes) -> bytes:
    """git's order of tree entries: by name, a folder's name compared as if it ended with '/'."""
    return name + b"/" if mode == b"40000" else name


def tree_object(entries: dict[str, tuple[str, str]]) -> bytes:
    """A tree object's content from name -> (mode, sha): modes as git stores them (40000, 100644)."""
    rows = sorted(
        (
            (n.encode("utf-8", "surrogateescape"), m.encode(), bytes.fromhex(s))
            for n, (m, s) in entries.items()
        ),
        key=lambda r: _tree_key(r[0], r[1]),
    )
    return b"".join(m + b" " + n + b"\0" + s for n, m, s in rows)


def files_trees(files: dict[str, bytes]) -> tuple[str, list[bytes], list[bytes]]:
    """The tree of a folder holding `files` (relative path -> bytes, paths already validated): its sha,
    the blob contents and the tree contents (children first) git must hold for it."""
    nested: dict = {}
    for path, data in files.items():
        *dirs, leaf = path.split("/")
        node = nested
        for part in dirs:
            node = node.setdefault(part, {})
        node[leaf] = data
    trees: list[bytes] = []

    def build(node: dict) -> str:
        entries = {
            name: ("40000", build(value))
            if isinstance(value, dict)
            else ("100644", object_sha("blob", value))
            for name, value in node.items()
        }
        tree = tree_object(entries)
        trees.append(tree)
        return object_sha("tree", tree)

    return build(nested), list(dict.fromkeys(files.values())), trees


def tree_entries(raw: bytes) -> list[tuple[str, str, str]]:
    """(mode, name, sha) of each entry of a tree object's content, in order."""
    out = []
    pos = 0
    while pos < len(raw):
        space = raw.index(b" ", pos)
        nul = raw.index(b"\0", space)
        out.append(
            (
                raw[pos:space].decode(),
                raw[space + 1 : nul].decode("utf-8", "surrogateescape"),
                raw[nul + 1 : nul + 21].hex(),
            )
        )
        pos = nul + 21
    return out


def _folder_at(raw: bytes, name: str) -> int:
    # A folder entry of this name can only start at an entry boundary: the pattern holds a space and a
    # NUL that no mode or name of the next entry could supply, and no 20-byte sha can hold it whole
    # unless someone finds a SHA-1 partial preimage. So one search finds it in a tree of any size.
    return raw.find(b"40000 " + name.encode("utf-8", "surrogateescape") + b"\0")


def folder_entry(raw: bytes, name: str) -> str | None:
    """The sha of the folder `name` in a tree object's content, None when it has no such folder."""
    at = _folder_at(raw, name)
    if at < 0:
        return None
    start = at + len(b"40000 ") + len(name.encode("utf-8", "surrogateescape")) + 1
    return raw[start : start + 20].hex()


def splice_tree(raw: bytes, name: str, tree: str | None) -> bytes:
    """`raw` (a tree object's content) with its entry `name` set to the folder `tree`, or removed when
    None. The other entries are copied as bytes, never parsed: a save costs the same at any size."""
    key = name.encode("utf-8", "surrogateescape")
    entry = b"40000 " + key + b"\0" + bytes.fromhex(tree) if tree else b""
    at = _folder_at(raw, name)
    if at >= 0:
        end = at + len(b"40000 ") + len(key) + 21
        return raw[:at] + entry + raw[end:]
    # Not a folder here: walk the entries to find (and replace) one of this name or the place to insert.
    pos, target = 0, _tree_key(key, b"40000")
    while pos < len(raw):
        space = raw.index(b" ", pos)
        nul = raw.index(b"\0", space)
        end = nul + 21
        mode, here = raw[pos:space], raw[space + 1 : nul]
        if here == key:
            return raw[:pos] + entry + raw[end:]
        if _tree_key(here, mode) > target:
            break
        pos = end
    return raw[:pos] + entry + raw[pos:]
