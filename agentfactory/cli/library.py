"""`agentfactory library ...`: inspect and manage the git-versioned subagent library."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer
from rich.text import Text

from agentfactory.cli.common import JsonOpt, LibraryOpt, SandboxOpt, console, print_json, settings
from agentfactory.cli.untrusted import plain, visible
from agentfactory.errors import UsageError

app = typer.Typer(help="Inspect and manage the git-versioned subagent library.", no_args_is_help=True)

ForceOpt = typer.Option(
    False, "--force", help="Add it even if it fails its stored cases (said in the output)."
)


def _library(path: Path | None):
    from agentfactory.library import Library

    return Library(settings(library=path).paths.library)


def parse_version(text: str | None) -> int | None:
    """A version as users write it, `2` or `v2` (as `library log` prints it); None stays None."""
    if text is None:
        return None
    value = text.strip()
    digits = value[1:] if value[:1] in ("v", "V") else value
    if not digits.isdigit() or int(digits) < 1:
        raise UsageError(
            f"{text!r} is not a version; write it as 2 or v2 (see `agentfactory library log NAME`)."
        )
    return int(digits)


def _plain(rows: list[list[str]], headers: list[str]) -> None:
    """Aligned plain columns: fast enough for 10,000 rows, unlike a rich table."""
    rows = [[visible(c) for c in row] for row in rows]  # library content may come from a remote
    widths = [max([len(h), *(min(len(r[i]), 60) for r in rows)]) for i, h in enumerate(headers)]
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    for row in rows:
        cells = [c if len(c) <= 60 or i == len(row) - 1 else c[:57] + "..." for i, c in enumerate(row)]
        out.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
    sys.stdout.write("\n".join(out) + "\n")


def _print_json_rows(chunks: Iterable[str]) -> None:
    """A JSON array written object by object, one per line, from chunks of rows already joined by
    ",\n  " (strict JSON text): one write per chunk, whether or not stdout is buffered."""
    sys.stdout.flush()
    out = getattr(sys.stdout, "buffer", None)
    write = out.write if out is not None else (lambda b: sys.stdout.write(b.decode("utf-8")))
    sep = b"[\n  "
    for chunk in chunks:
        if chunk:
            write(sep + chunk.encode("utf-8"))
            sep = b",\n  "
    write(b"[]\n" if sep == b"[\n  " else b"\n]\n")
    sys.stdout.flush()


@app.command("list")
def list_(library: Path | None = LibraryOpt, json_: bool = JsonOpt) -> None:
    """List the subagents in the library."""
    if json_:
        _print_json_rows(_library(library).list_json_chunks())
        return
    items = _library(library).list()
    if not items:
        console.print("The library is empty.")
        return
    _plain(
        [[i.name, f"v{i.version}", i.signature, i.description] for i in items],
        ["NAME", "VER", "SIGNATURE", "DESCRIPTION"],
    )


@app.command("show")
def show(
    name: str,
    version: str | None = typer.Option(
        None, "--version", "-v", help="Show this version, 2 or v2 (default: current)."
    ),
    library: Path | None = LibraryOpt,
    json_: bool = JsonOpt,
) -> None:
    """Show one subagent: its SKILL.md, signature, schemas, cases and provenance."""
    sub = _library(library).get(name, parse_version(version))
    if json_:
        data = asdict(sub)
        data["files"] = sorted(sub.files)
        print_json(data)
        return
    console.print(Text.assemble(plain(sub.name, "bold"), f" v{sub.version}  ", plain(sub.signature)))
    console.print(plain(sub.description, newlines=True))
    meta = [
        f"entry {sub.entry}",
        f"tools {', '.join(sub.tools) or '-'}",
        f"tags {', '.join(sub.tags) or '-'}",
    ]
    if sub.parent_version:
        meta.append(f"parent v{sub.parent_version}")
    if sub.source_run:
        meta.append(f"run {sub.source_run}")
    console.print(plain("  ".join(meta)))
    console.print(plain(f"files: {', '.join(sorted(sub.files))}; {len(sub.cases)} case(s)"))
    sys.stdout.write("\n" + visible(sub.skill_md.rstrip(), newlines=True) + "\n")


@app.command("search")
def search(
    query: str,
    k: int = typer.Option(5, "-k", help="Number of results."),
    library: Path | None = LibraryOpt,
    json_: bool = JsonOpt,
) -> None:
    """Search the library (bm25 over names, descriptions, docstrings, tags and inputs)."""
    hits = _library(library).search(query, k=k)
    if json_:
        print_json([asdict(h) for h in hits])
        return
    if not hits:
        console.print("No matching subagents.")
        return
    _plain(
        [[h.name, f"v{h.version}", f"{h.score:.3g}", h.signature, h.description] for h in hits],
        ["NAME", "VER", "SCORE", "SIGNATURE", "DESCRIPTION"],
    )


@app.command("log")
def log(name: str, library: Path | None = LibraryOpt, json_: bool = JsonOpt) -> None:
    """Show the version history of a subagent."""
    versions = _library(library).history(name)
    if json_:
        print_json([asdict(v) for v in versions])
        return
    _plain(
        [[f"v{v.version}", v.commit[:10], v.date, v.run_id or "-", v.message] for v in versions],
        ["VER", "COMMIT", "DATE", "RUN", "MESSAGE"],
    )


@app.command("diff")
def diff(
    name: str,
    v1: str = typer.Argument(..., help="The older version, 2 or v2."),
    v2: str = typer.Argument(..., help="The newer version, 2 or v2."),
    library: Path | None = LibraryOpt,
    json_: bool = JsonOpt,
) -> None:
    """Show the changes between two versions of a subagent, the code first (paged on a terminal)."""
    a, b = parse_version(v1), parse_version(v2)
    files = _library(library).diff_files(name, a, b)
    if json_:
        print_json({"name": name, "from": a, "to": b, "files": [{"path": p, "diff": d} for p, d in files]})
        return
    text = visible("".join(d for _, d in files), newlines=True)
    if not text:
        console.print(f"{name} v{a} and v{b} have the same content.", highlight=False)
        return
    if not _on_terminal():
        sys.stdout.write(text)
        return
    from rich.console import Console
    from rich.syntax import Syntax

    out = Console(emoji=False)
    with out.pager(styles=True):
        out.print(Syntax(text, "diff", theme="ansi_dark", background_color="default", word_wrap=False))


def _on_terminal() -> bool:
    return sys.stdout.isatty()


@app.command("rollback")
def rollback(
    name: str,
    version: str | None = typer.Argument(None, help="The version whose content to restore, 2 or v2."),
    to: str | None = typer.Option(None, "--to", help="Same as VERSION (kept for older scripts)."),
    library: Path | None = LibraryOpt,
    json_: bool = JsonOpt,
) -> None:
    """Restore an old version's code as a new version; later cases and changelog entries are kept."""
    if (version is None) == (to is None):
        raise UsageError("Give the version to restore once: `agentfactory library rollback NAME v2`.")
    target = parse_version(version if version is not None else to)
    result = _library(library).rollback(name, target)
    if json_:
        print_json(asdict(result))
    elif result.changed:
        console.print(plain(f"{name}: v{target} restored as v{result.version} ({result.commit[:10]})."))
    else:
        console.print(plain(f"{name} v{result.version} already has the code of v{target}; nothing changed."))


@app.command("add")
def add(
    path: Path,
    message: str | None = typer.Option(None, "--message", "-m", help="Commit message body."),
    force: bool = ForceOpt,
    sandbox: str | None = SandboxOpt,
    library: Path | None = LibraryOpt,
    json_: bool = JsonOpt,
) -> None:
    """Import a subagent folder (validated like any save).

    The new version must pass every case it will carry, its own and those stored with the current
    version (cases only accumulate), each run in the sandbox; --force adds it without running them."""
    from agentfactory.engine.gate import sandbox_verifier

    s = settings(library=library, sandbox=sandbox)
    lib = _library(library)
    verify = None if force else sandbox_verifier(s)
    result = lib.save(path, message=message, verify=verify, replace_cases=force)
    forced = force and result.changed
    if json_:
        print_json({**asdict(result), "forced": forced})
    elif result.changed:
        note = " (forced: its cases were not run" if forced else ""
        if result.replaced_cases:
            note += f"; it replaced stored cases: {'; '.join(result.replaced_cases)}"
        note += ")" if forced else ""
        console.print(plain(f"Saved {result.name} v{result.version} ({result.commit[:10]}){note}."))
    else:
        console.print(plain(f"{result.name} v{result.version} is identical; nothing changed."))


@app.command("remove")
def remove(name: str, library: Path | None = LibraryOpt, json_: bool = JsonOpt) -> None:
    """Remove a subagent (a commit; its history stays readable)."""
    result = _library(library).remove(name)
    if json_:
        print_json(asdict(result))
    else:
        console.print(plain(f"Removed {name} (was v{result.version}; {result.commit[:10]})."))


@app.command("reindex")
def reindex(library: Path | None = LibraryOpt, json_: bool = JsonOpt) -> None:
    """Rebuild the search index from the repository."""
    count = _library(library).reindex()
    if json_:
        print_json({"indexed": count})
    else:
        console.print(f"Indexed {count} subagent(s).")


@app.command("push")
def push(
    remote: str = typer.Argument("origin", help="Remote name, path or URL."),
    library: Path | None = LibraryOpt,
) -> None:
    """Push the library to a git remote."""
    head = _library(library).push(remote)
    console.print(plain(f"Pushed {head[:10]} to {remote}."))


def _take_in_experience(s: Any) -> str:
    """Bring the experience store up to date with the files a pull brought; one line saying what came
    (and which bad rows were skipped). A broken store does not fail the pull: the files are in."""
    from agentfactory.errors import AgentFactoryError
    from agentfactory.experience import ExperienceStore

    try:
        with ExperienceStore.open(s.paths, s.policy) as store:
            return store.sync().summary()
    except AgentFactoryError as exc:
        return f"the files were pulled but the store was not updated ({exc})"


def _v(version: int | None, missing: str) -> str:
    return f"v{version}" if version else missing


@app.command("pull")
def pull(
    remote: str = typer.Argument("origin", help="Remote name, path or URL."),
    sandbox: str | None = SandboxOpt,
    library: Path | None = LibraryOpt,
    accept_removals: bool = typer.Option(
        False, "--accept-removals", help="Take the remote's removal of subagents we have (reported)."
    ),
    json_: bool = JsonOpt,
) -> None:
    """Pull a git remote. Its tree is validated before it touches the library; a remote revision of a
    local subagent must pass the cases it will carry, ours with our expectation (run in the sandbox), and
    a new one its own, or ours is kept and it is reported, as are subagents changed on both sides and
    subagents the remote removed (kept unless --accept-removals), and remote changes to this agent's own
    experience file (always refused). Exit 1 when anything was kept aside."""
    from agentfactory.engine.gate import sandbox_verifier

    s = settings(library=library, sandbox=sandbox)
    result = _library(library).pull(remote, verify=sandbox_verifier(s), accept_removals=accept_removals)
    experience = _take_in_experience(s)
    if json_:
        print_json({**asdict(result), "experience_sync": experience})
    else:
        console.print(plain(f"Experience: {experience}."))
        how = (
            "fast-forward"
            if result.fast_forward
            else "merge"
            if result.updated or result.removed or result.conflicts or result.rejected
            else "up to date"
        )
        line = f"Pulled {remote}: {how}; updated: {', '.join(result.updated) or 'none'}"
        line += f"; removed: {', '.join(result.removed)}." if result.removed else "."
        console.print(plain(line))
        for c in result.conflicts:
            console.print(
                Text.assemble(
                    ("Conflict: ", "yellow"),
                    plain(
                        f"{c.name} changed on both sides; kept ours (v{c.ours_version}), theirs "
                        f"(v{c.theirs_version}) is at {c.ref}."
                    ),
                )
            )
        for r in result.rejected:
            console.print(
                Text.assemble(
                    ("Rejected: ", "yellow"),
                    plain(
                        f"{r.name} from the remote ({_v(r.theirs_version, 'its removal')}); "
                        f"kept ours ({_v(r.ours_version, 'none')}), theirs is at {r.ref}: {r.reason}."
                    ),
                )
            )
        for name in result.experience_refused:
            console.print(
                Text.assemble(
                    ("Refused: ", "yellow"),
                    plain(f"the remote's changes to experience/{name}, this agent's own file; kept ours."),
                )
            )
    if result.conflicts or result.rejected or result.experience_refused:
        raise typer.Exit(1)
