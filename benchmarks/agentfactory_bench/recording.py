"""A provider wrapper the harness puts around every model: per-call figures for the prompt-cache cost
model, and, with `--record DIR`, every request and response kept as JSON lines.

Nothing here changes a call: the wrapped provider gets the same arguments and its response (or error)
goes back unchanged. A call with tool definitions is an orchestrator call (the Meta-Agent or a ReAct
agent); its stable prefix is the system prompt plus the tool definitions, counted with the project's
tokenizer. Calls without tools (a subagent's `llm`, text-lessons' extraction) have no cached prefix.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agentfactory.events import json_bytes
from agentfactory.llm.tokens import count_request_tokens
from agentfactory.llm.types import Message, ModelResponse, ToolSpec, Usage

CALLS_DIR = "calls"


@dataclass(frozen=True)
class CallStat:
    """What the cost model needs of one call."""

    usage: Usage
    orchestrator: bool
    prefix_tokens: int  # system prompt + tool definitions (0 for a call without tools)
    prefix_key: str  # digest of that prefix: the same text is the same cache entry


class RecordingProvider:
    """Wraps a ModelProvider; `calls` lists a CallStat per finished call; `path` (optional) receives one
    JSON line per call: {"seq", "label", "request": {...}, "response": {...} | "error": "..."}."""

    def __init__(self, inner: Any, *, path: Path | None = None, label: str = ""):
        self.inner = inner
        self.path = Path(path) if path else None
        self.label = label
        self.calls: list[CallStat] = []
        self._seq = 0
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    @property
    def spec(self) -> str:
        return self.inner.spec

    @property
    def simulated(self) -> bool:
        return bool(getattr(self.inner, "simulated", False))

    def __getattr__(self, name: str) -> Any:
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def complete(
        self,
        system: str,
        messages: list[Message],
        tools: list[ToolSpec] | None = None,
        max_tokens: int = 4096,
        *,
        on_stream: Any = None,
    ) -> ModelResponse:
        self._seq += 1
        request = {"system": system, "messages": messages, "tools": tools or [], "max_tokens": max_tokens}
        started = time.time()
        try:
            if on_stream is None:
                response = self.inner.complete(system, messages, tools, max_tokens)
            else:
                response = self.inner.complete(system, messages, tools, max_tokens, on_stream=on_stream)
        except BaseException as exc:
            self._write({"request": request, "error": f"{type(exc).__name__}: {exc}", "ts": started})
            raise
        prefix = count_request_tokens(system, [], tools) if tools else 0
        key = hashlib.sha256(json_bytes({"system": system, "tools": tools or []})).hexdigest()[:16]
        self.calls.append(CallStat(response.usage, bool(tools), prefix, key))
        self._write({"request": request, "response": response, "ts": started})
        return response

    def _write(self, record: dict[str, Any]) -> None:
        if self.path is None:
            return
        line = {"seq": self._seq, "label": self.label, **record}
        with self.path.open("ab") as fh:
            fh.write(json_bytes(_plain(line)) + b"\n")


def _plain(value: Any) -> Any:
    """Dataclasses (messages, tool specs, responses) as plain JSON values."""
    if hasattr(value, "__dataclass_fields__"):
        return _plain(asdict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def read_calls(path: Path) -> list[dict[str, Any]]:
    """The recorded calls of one file (a torn last line is skipped)."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out
