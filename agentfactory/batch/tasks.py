"""A batch's tasks: one JSON object per line of a TASKS.jsonl file.

    {"id": "orders-2026-11", "task": "Total the orders in orders.csv by region", "inputs": ["orders.csv"],
     "model": "anthropic:claude-sonnet-4-6", "max_cost": 0.5}

`id` and `task` are required; `inputs` are files under the TASKS file's folder (relative paths that stay
inside it, links resolved) copied into the run's inputs/; `model`, `max_tokens`, `max_cost`, `max_steps`
and `max_time` set that task's model and lower its limits (a task never raises a configured limit). A line that is not such an object is reported with its number and skipped; the
other lines still run.
"""

from __future__ import annotations

import json
import re
from dataclasses import field
from pathlib import Path
from typing import Any

from agentfactory.config import check_number
from agentfactory.errors import AgentFactoryError, UsageError
from agentfactory.records import record

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


@record(frozen=True)
class BatchTask:
    id: str
    task: str
    line: int
    inputs: tuple[Path, ...] = ()
    overrides: dict[str, Any] = field(default_factory=dict)


@record(frozen=True)
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


MAX_INPUT_BYTES = 256 * 1024 * 1024  # one input file


def _input_file(base: Path, name: str, task_id: str) -> Path:
    """An input file: a regular file under the TASKS file's folder, reached without leaving it through a
    link. A task names data beside it; it never reaches /etc/shadow, /proc/self/environ or a key."""
    root = base.resolve()
    if Path(name).is_absolute():
        raise _LineError(
            f"input file {name[:200]!r} must be a path relative to the batch file's folder", task_id
        )
    path = (root / name).resolve()
    if root not in path.parents:
        raise _LineError(f"input file {name[:200]!r} is outside the batch file's folder", task_id)
    if not path.is_file():
        raise _LineError(f"input file {name[:200]!r} does not exist or is not a regular file", task_id)
    if path.stat().st_size > MAX_INPUT_BYTES:
        raise _LineError(f"input file {name[:200]!r} is over {MAX_INPUT_BYTES:,} bytes", task_id)
    return path


class _LineError(Exception):
    def __init__(self, message: str, id: str | None = None):
        super().__init__(message)
        self.id = id


def _parse(line: str, number: int, base: Path) -> BatchTask:
    try:
        data = json.loads(line)
    except (ValueError, RecursionError) as exc:  # ValueError: also an integer of over 4,300 digits
        raise _LineError(
            f"not JSON ({getattr(exc, 'msg', None) or 'a number or nesting too large'})"
        ) from None
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
    files = [_input_file(base, name, task_id) for name in inputs]
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
