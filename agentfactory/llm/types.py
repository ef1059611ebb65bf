"""Provider-neutral model types: what the framework sends to a model and what comes back.

Nothing here knows about a particular SDK. Adapters in this package translate to and from these types;
everything outside `agentfactory.llm` speaks only these.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, field
from typing import Any, Literal, Protocol, runtime_checkable

from agentfactory.records import record


@record(frozen=True)
class ToolSpec:
    """A tool the model may call: name, description and JSON schema of its arguments."""

    name: str
    description: str
    input_schema: dict[str, Any]


@record
class ToolCall:
    """A tool call as the model made it.

    `arguments` is the parsed JSON object, or None when the model's arguments were not valid JSON; then
    `parse_error` says why and `raw_arguments` keeps the text the model produced.
    """

    id: str
    name: str
    arguments: dict[str, Any] | None
    raw_arguments: str = ""
    parse_error: str | None = None


@record
class ToolResult:
    """The framework's answer to one tool call, sent back in the next user turn."""

    tool_call_id: str
    content: str
    is_error: bool = False


@record
class ThinkingBlock:
    """A reasoning block as the provider sent it. It goes back to the provider unchanged, first in its
    assistant turn (Anthropic rejects the next request of a tool-use turn otherwise); never shown raw."""

    kind: Literal["thinking", "redacted_thinking"]
    text: str = ""  # the thinking text; empty when redacted
    signature: str = ""  # the provider's signature of a thinking block
    data: str = ""  # a redacted block's opaque data


@record
class StreamEvent:
    """What a streaming provider reports while a reply is being written: for display only (usage is
    read from the finished reply, never from these)."""

    kind: Literal["text", "thinking", "tool_call", "tool_input"]
    text: str = ""  # the new text (text and thinking deltas; a thinking summary when the API gives one)
    tool: str = ""  # the tool being called (tool_call, tool_input)
    output_tokens: int = 0  # estimated output tokens of this reply so far


StreamCallback = Callable[[StreamEvent], None]


@record
class Message:
    """One conversation turn. User turns carry text and/or tool results; assistant turns text and/or calls,
    and the thinking blocks that came before them."""

    role: Literal["user", "assistant"]
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_results: list[ToolResult] = field(default_factory=list)
    thinking: list[ThinkingBlock] = field(default_factory=list)

    @classmethod
    def user(cls, text: str) -> Message:
        return cls(role="user", text=text)


@record
class Usage:
    """Token usage of one or more model calls. `input_tokens` excludes cache reads and writes."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    @property
    def total_input_tokens(self) -> int:
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens

    @property
    def total_tokens(self) -> int:
        return self.total_input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
        )

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Usage:
        data = data or {}
        return cls(**{k: int(data.get(k, 0) or 0) for k in cls.__dataclass_fields__})


StopReason = Literal["end_turn", "tool_use", "max_tokens", "stop_sequence", "refusal", "other"]


@record
class ModelResponse:
    """A model's answer: text, tool calls, why it stopped, usage, latency and estimated cost."""

    text: str
    tool_calls: list[ToolCall]
    stop_reason: StopReason
    usage: Usage
    model: str
    latency_s: float = 0.0
    cost_usd: float = 0.0
    simulated: bool = False
    thinking: list[ThinkingBlock] = field(default_factory=list)
    usage_estimated: bool = False  # the server gave no usage: counted with the project's tokenizer

    def to_message(self) -> Message:
        return Message(
            role="assistant", text=self.text, tool_calls=list(self.tool_calls), thinking=list(self.thinking)
        )


@runtime_checkable
class ModelProvider(Protocol):
    """What the Meta-Agent, the tool broker and the baselines call. One method, no SDK types."""

    spec: str
    simulated: bool

    def complete(
        self,
        system: str,
        messages: list[Message],
        tools: list[ToolSpec] | None = None,
        max_tokens: int = 4096,
        *,
        on_stream: StreamCallback | None = None,
    ) -> ModelResponse:
        """One model call. With `on_stream`, a provider that can stream reports the reply as it is
        written; the returned response is the same either way."""
        ...
