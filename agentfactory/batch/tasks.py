"""A batch's tasks: one JSON object per line of a TASKS.jsonl file.

    {"id": "orders-2026-11", "task": "Total the orders in orders.csv by region", "inputs": ["orders.csv"],
     "model": "anthropic:claude-sonnet-4-6", "max_cost": 0.5}

`id` and `task` are required; `inputs` are files (relative to the TASKS file's folder) copied into the
run's inputs/; `model`, `max_tokens`, `max_cost`, `max_steps` and `max_time` override the batch's
settings for that task. A line that is not such an object is reported with its number and skipped; the
other lines still run.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentfactory.config import check_number
from agentfactory.errors import AgentFactoryError, UsageError

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_TASK_CHARS = 100_000
ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}\Z")
OVERRIDES = {
    "model": "str",
    "max_tokens": "int",
    "max_cost": "float",
    "max_steps": "int",
    "max_time": "float",
}
FIELDS = {"id", "task", "inputs", *OVERRIDES}


@dataclass(frozen=True)
class BatchTask:
    id: str
    task: str
    line: int
    inputs: tuple[Path, ...] = ()
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LineProblem:
    """A line that will not run: its number, its id when it has one, and why."""

    line: int
    id: str | None
    message: str

    def __str__(self) -> str:
        return f"line {self.line}{f' ({self.id})' if self.id else ''}: {self.message}"


def read_tasks(path: Path) -> tuple[list[BatchTask], list[LineProblem]]:
    """The runnable tasks of `path` and the problems of the other lines. UsageError when the file itself
    cannot be read (missing, too big, not UTF-8) or holds no task at all."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise UsageError(f"{path} is {size:,} bytes; a batch file holds at most {MAX_FILE_BYTES:,}.")
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise UsageError(f"No such batch file: {path}.") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a folder; give a TASKS.jsonl file.") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not UTF-8 text (byte {exc.start}).") from None
    except OSError as exc:
        raise UsageError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    tasks: list[BatchTask] = []
    problems: list[LineProblem] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            task = _parse(line, number, path.parent)
        except _LineError as exc:
            problems.append(LineProblem(number, exc.id, str(exc)))
            continue
        if task.id in seen:
            problems.append(LineProblem(number, task.id, f"the id is already used on line {seen[task.id]}"))
            continue
        seen[task.id] = number
        tasks.append(task)
    if not tasks and not problems:
        raise UsageError(f"{path} holds no task: one JSON object per line, with `id` and `task`.")
    return tasks, problems


class _LineError(Exception):
    def __init__(self, message: str, id: str | None = None):
        super().__init__(message)
        self.id = id


def _parse(line: str, number: int, base: Path) -> BatchTask:
    try:
        data = json.loads(line)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise _LineError(f"not JSON ({getattr(exc, 'msg', 'too deeply nested')})") from None
    if not isinstance(data, dict):
        raise _LineError("not a JSON object")
    task_id = data.get("id")
    if not isinstance(task_id, str) or not ID.match(task_id):
        raise _LineError(
            "`id` must be 1-100 letters, digits, '_', '-' or '.', starting with a letter or digit"
        )
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise _LineError(f"unknown field(s) {', '.join(map(repr, unknown))[:200]}", task_id)
    text = data.get("task")
    if not isinstance(text, str) or not text.strip():
        raise _LineError("`task` must be a non-empty string", task_id)
    if len(text) > MAX_TASK_CHARS:
        raise _LineError(f"`task` is {len(text):,} characters; at most {MAX_TASK_CHARS:,}", task_id)
    inputs = data.get("inputs", [])
    if not isinstance(inputs, list) or not all(isinstance(p, str) and p for p in inputs):
        raise _LineError("`inputs` must be a list of file paths", task_id)
    files = []
    for name in inputs:
        file = (base / name).resolve() if not Path(name).is_absolute() else Path(name)
        if not file.is_file():
            raise _LineError(f"input file {name!r} does not exist", task_id)
        files.append(file)
    overrides: dict[str, Any] = {}
    for key, kind in OVERRIDES.items():
        if key not in data or data[key] is None:
            continue
        value = data[key]
        if kind == "str":
            if not isinstance(value, str) or not value.strip():
                raise _LineError(f"`{key}` must be a non-empty string", task_id)
            overrides[key] = value.strip()
            continue
        try:
            overrides[key] = check_number(key, value, f"line {number}", kind)
        except AgentFactoryError as exc:
            raise _LineError(str(exc), task_id) from None
    return BatchTask(task_id, text, number, tuple(files), overrides)
