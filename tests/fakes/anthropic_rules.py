"""The Anthropic Messages API's request rules, for the wire server: refuse what the real API refuses.

    rules = AnthropicRules().install(server)
    server.push(rules.message("Let me look.", [("toolu_1", "run", {...})], thinking=["I should run it."]))

`AnthropicRules` is a validator (`server.validators`): a request that breaks a rule gets the 400
`invalid_request_error` the real API sends, with its wording, before any queued answer is used. The
rules applied:

- the messages start with a user turn and roles alternate;
- every `tool_use` of an assistant turn is answered by a `tool_result` in the next user turn, and every
  `tool_result` answers a `tool_use` of the previous assistant turn;
- thinking blocks carry a valid signature (here an HMAC of their text; the real API's is opaque but
  checked the same way) and redacted blocks valid data; neither takes a `cache_control`;
- with `thinking` enabled: `budget_tokens` ≥ 1024, `max_tokens` > `budget_tokens`, `temperature` unset
  (or 1), `top_k` unset, `tool_choice` only auto/none; the last assistant turn with tool use starts with
  a thinking or redacted-thinking block; and an assistant turn whose tool calls came from a reply made
  with `rules.message(..., thinking=...)` starts with exactly the thinking blocks of that reply, in order,
  unchanged (the real API checks this through the signatures).

`as_stream(canned)` turns a `message` answer into the server-sent events the streaming API sends for
the same reply: text, thinking and signature deltas, and tool input as `input_json_delta` pieces.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from tests.fakes.wire_server import Canned, RecordedRequest, anthropic_error, anthropic_message

_SECRET = b"wire-server thinking signatures"
DOCS = (
    "Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
)


def sign(text: str) -> str:
    """The signature the server gives a thinking block with this text."""
    digest = hmac.new(_SECRET, text.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
    return base64.b64encode(b"sig" + digest).decode()


def redacted(seed: str) -> str:
    """The opaque data of a redacted thinking block (checked like a signature)."""
    return base64.b64encode(seed.encode() + b"." + sign(seed).encode()).decode()


def _redacted_valid(data: Any) -> bool:
    try:
        seed, _, signature = base64.b64decode(data, validate=True).decode().partition(".")
    except (ValueError, TypeError):
        return False
    return bool(seed) and hmac.compare_digest(signature, sign(seed))


def thinking_block(item: str | tuple[str, str]) -> dict[str, Any]:
    """A reply's thinking block: a text (signed), or ("redacted", seed)."""
    if isinstance(item, tuple):
        return {"type": "redacted_thinking", "data": redacted(item[1])}
    return {"type": "thinking", "thinking": item, "signature": sign(item)}


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _strip(block: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in block.items() if k != "cache_control"}


class AnthropicRules:
    """A `server.validators` entry applying the Messages API's request rules (see the module doc)."""

    def __init__(self) -> None:
        # The thinking blocks each reply carried, by the id of the reply's first tool call.
        self.issued: dict[str, list[dict[str, Any]]] = {}
        self.refusals: list[str] = []  # the messages of the requests refused, for assertions

    def install(self, server: Any) -> AnthropicRules:
        server.validators.append(self)
        return self

    def message(
        self,
        text: str | None = None,
        tool_uses: list[tuple[str, str, dict[str, Any]]] | None = None,
        *,
        thinking: list[str | tuple[str, str]] | None = None,
        **kwargs: Any,
    ) -> Canned:
        """`anthropic_message` with thinking blocks first, remembered so the next requests are checked."""
        canned = anthropic_message(text, tool_uses, **kwargs)
        blocks = [thinking_block(item) for item in thinking or []]
        canned.body["content"] = blocks + canned.body["content"]
        if tool_uses and blocks:
            self.issued[tool_uses[0][0]] = blocks
        return canned

    def __call__(self, request: RecordedRequest) -> Canned | None:
        if request.api != "anthropic" or not isinstance(request.body, dict):
            return None
        problem = self.problem(request.body)
        if problem is None:
            return None
        self.refusals.append(problem)
        return anthropic_error(400, problem)

    def problem(self, body: dict[str, Any]) -> str | None:
        """The real API's message for the first rule `body` breaks, or None."""
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return "messages: at least one message is required"
        thinking = body.get("thinking")
        enabled = isinstance(thinking, dict) and thinking.get("type") == "enabled"
        if enabled:
            budget = thinking.get("budget_tokens")
            if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1024:
                return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
            if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] <= budget:
                return f"`max_tokens` must be greater than `thinking.budget_tokens`. {DOCS}"
            if body.get("temperature", 1) != 1:
                return f"`temperature` may only be set to 1 when thinking is enabled. {DOCS}"
            if "top_k" in body:
                return f"`top_k` must be unset when thinking is enabled. {DOCS}"
            choice = body.get("tool_choice")
            if isinstance(choice, dict) and choice.get("type") not in ("auto", "none"):
                return f"Thinking may not be enabled when tool_choice forces tool use. {DOCS}"
        previous_calls: set[str] = set()
        last_tool_turn: int | None = None
        for i, message in enumerate(messages):
            role = message.get("role") if isinstance(message, dict) else None
            if i == 0 and role != "user":
                return 'messages: first message must use the "user" role'
            if i and role == messages[i - 1].get("role"):
                return (
                    'messages: roles must alternate between "user" and "assistant", '
                    f'but found multiple "{role}" roles in a row'
                )
            blocks = _blocks(message.get("content"))
            if role == "user":
                answered = {b.get("tool_use_id") for b in blocks if b.get("type") == "tool_result"}
                for k, block in enumerate(blocks):
                    if block.get("type") == "tool_result" and block.get("tool_use_id") not in previous_calls:
                        return (
                            f"messages.{i}.content.{k}: unexpected `tool_use_id` found in `tool_result` "
                            f"blocks: {block.get('tool_use_id')}. Each `tool_result` block must have a "
                            f"corresponding `tool_use` block in the previous message."
                        )
                    if block.get("type") in ("thinking", "redacted_thinking"):
                        return (
                            f"messages.{i}.content.{k}: thinking blocks may only appear in assistant messages"
                        )
                missing = sorted(previous_calls - answered)
                if missing:
                    return (
                        f"messages.{i - 1}: `tool_use` ids were found without `tool_result` blocks "
                        f"immediately after: {', '.join(missing)}. Each `tool_use` block must have a "
                        f"corresponding `tool_result` block in the next message."
                    )
                previous_calls = set()
                continue
            calls = [b.get("id") for b in blocks if b.get("type") == "tool_use"]
            previous_calls = set(calls)
            for k, block in enumerate(blocks):
                kind = block.get("type")
                if kind in ("thinking", "redacted_thinking") and "cache_control" in block:
                    return f"messages.{i}.content.{k}.{kind}.cache_control: Extra inputs are not permitted"
                if kind == "thinking" and not (
                    isinstance(block.get("thinking"), str)
                    and isinstance(block.get("signature"), str)
                    and hmac.compare_digest(block["signature"], sign(block["thinking"]))
                ):
                    return f"messages.{i}.content.{k}: Invalid `signature` in `thinking` block"
                if kind == "redacted_thinking" and not _redacted_valid(block.get("data")):
                    return f"messages.{i}.content.{k}: Invalid `data` in `redacted_thinking` block"
            if calls:
                last_tool_turn = i
                issued = self.issued.get(calls[0])
                if enabled and issued is not None:
                    sent = [_strip(b) for b in blocks[: len(issued)]]
                    if sent != issued:
                        return (
                            f"messages.{i}.content: the thinking blocks of this turn were changed, dropped "
                            f"or moved: an assistant turn with tool use must start with its thinking blocks "
                            f"exactly as they were sent. {DOCS}"
                        )
        if previous_calls:
            return (
                f"messages.{len(messages) - 1}: `tool_use` ids were found without `tool_result` blocks "
                f"immediately after: {', '.join(sorted(previous_calls))}."
            )
        if enabled and last_tool_turn is not None:
            first = _blocks(messages[last_tool_turn].get("content"))[:1]
            if not first or first[0].get("type") not in ("thinking", "redacted_thinking"):
                found = first[0].get("type") if first else "nothing"
                return (
                    f"messages.{last_tool_turn}.content.0.type: Expected `thinking` or `redacted_thinking`, "
                    f"but found `{found}`. When `thinking` is enabled, a final `assistant` message must "
                    f"start with a thinking block (preceeding the lastmost set of `tool_use` and "
                    f"`tool_result` blocks). {DOCS}"
                )
        return None


def _pieces(text: str, count: int) -> list[str]:
    size = max(1, -(-len(text) // max(1, count)))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def as_stream(canned: Canned, *, pieces: int = 3, gap_s: float = 0.0) -> Canned:
    """The streamed form of a `message` answer: the events the streaming API sends for that reply."""
    body = canned.body
    usage = dict(body["usage"])
    start_usage = {**usage, "output_tokens": 1}
    message = {**body, "content": [], "stop_reason": None, "stop_sequence": None, "usage": start_usage}
    events: list[tuple[str | None, Any]] = [("message_start", {"type": "message_start", "message": message})]
    events.append(("ping", {"type": "ping"}))
    for index, block in enumerate(body["content"]):
        kind = block["type"]

        def delta(payload: dict[str, Any], index: int = index) -> None:
            events.append(
                ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": payload})
            )

        if kind == "text":
            start: dict[str, Any] = {"type": "text", "text": ""}
        elif kind == "thinking":
            start = {"type": "thinking", "thinking": "", "signature": ""}
        elif kind == "tool_use":
            start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        else:
            start = block  # redacted_thinking arrives whole
        events.append(
            ("content_block_start", {"type": "content_block_start", "index": index, "content_block": start})
        )
        if kind == "text":
            for piece in _pieces(block["text"], pieces):
                delta({"type": "text_delta", "text": piece})
        elif kind == "thinking":
            for piece in _pieces(block["thinking"], pieces):
                delta({"type": "thinking_delta", "thinking": piece})
            delta({"type": "signature_delta", "signature": block["signature"]})
        elif kind == "tool_use":
            delta({"type": "input_json_delta", "partial_json": ""})
            for piece in _pieces(json.dumps(block["input"]), pieces):
                delta({"type": "input_json_delta", "partial_json": piece})
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": body["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": usage["output_tokens"]},
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return Canned(200, headers=dict(canned.headers), sse=events, sse_gap_s=gap_s)
