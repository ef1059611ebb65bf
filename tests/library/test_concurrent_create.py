"""Processes that open a library which does not exist yet, all at once (batch workers starting on a new
project), create it once and all use it: none sees the other's half-made repository as broken."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from agentfactory.library import Library


def _open(path: str, start, errors) -> None:  # noqa: ANN001
    start.wait()
    try:
        Library(Path(path)).ensure()
    except Exception as exc:  # the assertion below shows which
        errors.put(f"{type(exc).__name__}: {exc}")


def test_a_new_library_opened_by_many_processes_at_once_is_created_once(tmp_path):
    ctx = multiprocessing.get_context("fork")
    for attempt in range(5):  # the race is a window of milliseconds: try it several times
        path = tmp_path / f"lib{attempt}"
        start, errors = ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=_open, args=(str(path), start, errors)) for _ in range(6)]
        for proc in procs:
            proc.start()
        start.set()
        for proc in procs:
            proc.join(60)
        found = []
        while not errors.empty():
            found.append(errors.get())
        assert found == [] and all(p.exitcode == 0 for p in procs)
        library = Library(path)
        assert library.exists() and library.list() == []
