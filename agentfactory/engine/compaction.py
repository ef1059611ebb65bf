"""Keeping a long run's conversation within the model's context window.

Every tool call adds its result to the conversation, and a run that executes a subagent thirty times
carries thirty traces into each later request. Before each model call the tool loop asks `Compactor`
whether the estimated input (counted with `agentfactory.llm.tokens`) is above `compact_at` × the
model's context window; when it is, older steps are compacted, oldest first and in whole steps (an
assistant turn and the tool results that answer it):

- each older tool result becomes one status line, `[compacted] run_subagent csv-stats: ok, 1.2 s`;
- the code argument of a code-writing call (the orchestrator names its code tools: for the Meta-Agent
  create/modify_subagent) that a later one for the same name replaced becomes a short placeholder (the
  current code, the latest of each name, is kept whole);
- thinking blocks of compacted turns are dropped (providers accept a conversation without the thinking
  of turns before the last tool-use turn); the latest assistant turn keeps its thinking.

Never touched: the system prompt, the first user message (the task), the latest `keep_results` tool
results, the latest create/modify of each subagent with its result, and the latest step. Compaction
goes on until the estimate is below `RELIEF` × the bound, so it happens rarely and the conversation's
prefix before the first newly compacted message stays what the provider cached. A compacted message
stays compacted; a later compaction skips it.

`compact(..., hard=True)` is the answer to a provider that refused the request as too long anyway: it
compacts every step it may, down to the last one, whatever the estimate says, keeping whole only the
latest tool result and the current code of the subagent written last.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import field

from agentfactory.llm.tokens import count_request_tokens, count_tokens
from agentfactory.llm.types import Message, ToolSpec
from agentfactory.records import record

COMPACTED = "[compacted]"
KEEP_RESULTS = 4  # most recent tool results always kept whole
RELIEF = 0.6  # once over the bound, compact down to this share of it (so it is not redone every call)
SUPERSEDED = "[compacted: replaced by a later version of this subagent]"


def estimate_tokens(system: str, messages: list[Message], tools: list[ToolSpec] | None) -> int:
    """Estimated input tokens of a request, thinking blocks included."""
    thinking = sum(count_tokens(b.text or b.data) for m in messages for b in m.thinking)
    return count_request_tokens(system, messages, tools) + thinking


@record
class Compaction:
    """What one compaction did: steps and results compacted, estimated tokens before and after."""

    steps: int
    results: int
    before: int
    after: int


@record
class Compactor:
    window: int  # the model's context window, tokens
    share: float = 0.75  # compact when the estimate exceeds this share of the window
    keep_results: int = KEEP_RESULTS
    # tools whose `code` (or `edits`) argument writes the code of the thing named by their `name`
    code_tools: tuple[str, ...] = ()
    # tool call id -> its status line ("run_subagent csv-stats: ok, 1.2 s"), recorded by the loop
    notes: dict[str, str] = field(default_factory=dict)
    estimate: int = 0  # the conversation's estimated input tokens after the last `compact` call

    @property
    def bound(self) -> int:
        return int(self.window * self.share)

    def note(self, call_id: str, line: str) -> None:
        self.notes[call_id] = " ".join(line.split())[:200]

    def compact(
        self,
        system: str,
        messages: list[Message],
        tools: list[ToolSpec] | None = None,
        *,
        hard: bool = False,
        count: Callable[[str, list[Message], list[ToolSpec] | None], int] = estimate_tokens,
    ) -> Compaction | None:
        """Compact `messages` in place when over the bound (always when `hard`); None when nothing
        was (or could be) compacted."""
        before = self.estimate = count(system, messages, tools)
        if not hard and before <= self.bound:
            return None
        target = 0 if hard else int(self.bound * RELIEF)
        protected = self._protected(messages, keep=1 if hard else self.keep_results, hard=hard)
        last_step = max((i for i, m in enumerate(messages) if m.role == "assistant"), default=len(messages))
        now, steps, results = before, 0, 0
        index = 1  # the task (message 0) is never compacted
        while index < last_step and now > target:
            end = index + 1
            while end < last_step and messages[end].role != "assistant":
                end += 1
            # One whole step: messages[index:end] (an assistant turn and the user turns that answer it).
            changed = 0
            for message in messages[index:end]:
                changed += self._compact_message(message, protected)
            if changed:
                steps += 1
                results += changed
                now = count(system, messages, tools)
            index = end
        self.estimate = now
        if not steps:
            return None
        return Compaction(steps, results, before, now)

    def _protected(self, messages: list[Message], keep: int, hard: bool) -> set[str]:
        """Tool call ids kept whole: the latest `keep` results and the latest create/modify of each
        subagent (the current code); when `hard`, of the subagent written last only (the others'
        code stays readable with view_subagent)."""
        ids = [r.tool_call_id for m in messages for r in m.tool_results]
        protected = set(ids[-keep:]) if keep > 0 else set()
        latest: dict[str, str] = {}
        for message in messages:
            for call in message.tool_calls:
                if call.name in self.code_tools and isinstance(call.arguments, dict):
                    name = str(call.arguments.get("name", ""))
                    latest.pop(name, None)  # so the order is that of the latest writes
                    latest[name] = call.id
        current = list(latest.values())
        return protected | set(current[-1:] if hard else current)

    def _compact_message(self, message: Message, protected: set[str]) -> int:
        changed = 0
        if message.role == "assistant":
            if message.thinking:
                message.thinking = []
                changed += 1
            for call in message.tool_calls:
                if call.id in protected or call.name not in self.code_tools:
                    continue
                args = call.arguments
                has_code = isinstance(args, dict) and any(k in args for k in ("code", "edits"))
                if has_code and args.get("code") != SUPERSEDED:
                    kept = {k: v for k, v in args.items() if k not in ("code", "edits")}
                    call.arguments = {**kept, "code": SUPERSEDED}
                    call.raw_arguments = ""
                    changed += 1
            return changed
        for result in message.tool_results:
            if result.tool_call_id in protected or result.content.startswith(COMPACTED):
                continue
            line = self.notes.get(result.tool_call_id) or ("error" if result.is_error else "done")
            result.content = f"{COMPACTED} {line}"
            changed += 1
        return changed
