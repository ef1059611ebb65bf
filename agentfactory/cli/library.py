"""`agentfactory library ...`: inspect and manage the git-versioned subagent library."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

import typer
from rich.text import Text

from agentfactory.cli.common import JsonOpt, LibraryOpt, console, print_json, settings
from agentfactory.cli.untrusted import plain, visible

app = typer.Typer(help="Inspect and manage the git-versioned subagent library.", no_args_is_help=True)


def _library(path: Path | None):
    from agentfactory.library import Library

    return Library(settings(library=path).library)


def _plain(rows: list[list[str]], headers: list[str]) -> None:
    """Aligned plain columns: fast enough for 10,000 rows, unlike a rich table."""
    rows = [[visible(c) for c in row] for row in rows]  # library content may come from a remote
    widths = [max([len(h), *(min(len(r[i]), 60) for r in rows)]) for i, h in enumerate(headers)]
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    for row in rows:
        cells = [c if len(c) <= 60 or i == len(row) - 1 else c[:57] + "..." for i, c in enumerate(row)]
        out.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
    sys.stdout.write("\n".join(out) + "\n")


@app.command("list")
def list_(library: Path | None = LibraryOpt, json_: bool = JsonOpt) -> None:
    """List the subagents in the library."""
    items = _library(library).list()
    if json_:
        print_json([asdict(i) for i in items])
        return
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
    version: int | None = typer.Option(None, "--version", "-v", help="Show this version (default: current)."),
    library: Path | None = LibraryOpt,
    json_: bool = JsonOpt,
) -> None:
    """Show one subagent: its SKILL.md, signature, schemas, cases and provenance."""
    sub = _library(library).get(name, version)
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
def diff(name: str, v1: int, v2: int, library: Path | None = LibraryOpt) -> None:
    """Show the changes between two versions of a subagent."""
    sys.stdout.write(_library(library).diff(name, v1, v2))


@app.command("rollback")
def rollback(
    name: str,
    to: int = typer.Option(..., "--to", help="The version whose content to restore (as a new version)."),
    library: Path | None = LibraryOpt,
    json_: bool = JsonOpt,
) -> None:
    """Restore an old version's content as a new version."""
    result = _library(library).rollback(name, to)
    if json_:
        print_json(asdict(result))
    elif result.changed:
        console.print(plain(f"{name}: v{to} restored as v{result.version} ({result.commit[:10]})."))
    else:
        console.print(plain(f"{name} v{result.version} already has the content of v{to}; nothing changed."))


@app.command("add")
def add(
    path: Path,
    message: str | None = typer.Option(None, "--message", "-m", help="Commit message body."),
    library: Path | None = LibraryOpt,
    json_: bool = JsonOpt,
) -> None:
    """Import a subagent folder (validated like any save)."""
    result = _library(library).save(path, message=message)
    if json_:
        print_json(asdict(result))
    elif result.changed:
        console.print(plain(f"Saved {result.name} v{result.version} ({result.commit[:10]})."))
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


@app.command("pull")
def pull(
    remote: str = typer.Argument("origin", help="Remote name, path or URL."),
    library: Path | None = LibraryOpt,
    json_: bool = JsonOpt,
) -> None:
    """Pull a git remote; subagents changed on both sides keep ours and are reported as conflicts."""
    result = _library(library).pull(remote)
    if json_:
        print_json(asdict(result))
    else:
        how = (
            "fast-forward"
            if result.fast_forward
            else "merge"
            if result.updated or result.conflicts
            else "up to date"
        )
        console.print(plain(f"Pulled {remote}: {how}; updated: {', '.join(result.updated) or 'none'}."))
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
    if result.conflicts:
        raise typer.Exit(1)
