"""What the OpenAI adapter needs to meet OpenAI-compatible servers as they are, and reasoning models.

- **Reasoning models** are told by name (`is_reasoning_model`): `o1`, `o3`, `o4-mini` and any later
  `o<digit>` family, and the `gpt-5` family except its `-chat` variants (which are not reasoning
  models). A `provider/` prefix (as routers write it) is ignored. They get `max_completion_tokens`
  (they refuse `max_tokens`), never a temperature, and the `thinking_budget` setting as
  `reasoning_effort` (`reasoning_effort_for`: under 4,096 tokens → low, under 16,384 → medium, else
  high; no budget → the API's default). Their hidden reasoning tokens are part of `completion_tokens`,
  so they are counted and priced as output.
- **Tool calls written into the text** by chat templates that the server does not parse
  (`<tool_call>{"name": ..., "arguments": {...}}</tool_call>`, or with Qwen3-Coder's
  `<function=NAME><parameter=KEY>VALUE</parameter></function>` inside; Mistral's `[TOOL_CALLS][...]`; or a
  bare JSON object or list of them with `name` and `arguments`/`parameters` as the whole reply) are
  read back into tool calls, only for the names of the tools offered (`embedded_tool_calls`).
- **Errors users meet** become one typed sentence (`typed_error`): context window exceeded
  (`ContextWindowExceeded`), no tool support (naming the server and the model), model not found
  (pointing to `agentfactory models`). None of them is retried: asking again fails the same way.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from agentfactory.errors import AgentFactoryError, ContextWindowExceeded, ProviderError
from agentfactory.llm.reply import clip, depth_exceeds, parse_arguments
from agentfactory.llm.retry import AUTH_STATUS, provider_message
from agentfactory.llm.types import ToolCall, ToolSpec

_O_SERIES = re.compile(r"o[1-9][0-9]*(?:-|$)")
EFFORT_LOW_BELOW = 4_096
EFFORT_MEDIUM_BELOW = 16_384


def is_reasoning_model(model: str) -> bool:
    """True for OpenAI reasoning models, by name (see the module docstring)."""
    name = model.strip().lower().rsplit("/", 1)[-1]
    if _O_SERIES.match(name):
        return True
    return name.startswith("gpt-5") and "-chat" not in name


def reasoning_effort_for(budget: int | None) -> str | None:
    """The `reasoning_effort` a thinking budget (tokens) maps to; None leaves the API's default."""
    if budget is None:
        return None
    if budget < EFFORT_LOW_BELOW:
        return "low"
    if budget < EFFORT_MEDIUM_BELOW:
        return "medium"
    return "high"


# ---- tool calls embedded in the text -----------------------------------------------------------

_TAGGED = re.compile(r"<tool_call>(.*?)(?:</tool_call>|\Z)", re.S)
_FENCE = re.compile(r"\A```(?:json)?\s*(.*?)\s*```\Z", re.S)
_MISTRAL = "[TOOL_CALLS]"
MAX_EMBEDDED_CALLS = 64


def _load(text: str) -> Any:
    text = text.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return None if depth_exceeds(value) else value


def _as_call(value: Any, names: set[str], index: int) -> ToolCall | None:
    """A ToolCall from {"name", "arguments"|"parameters"} when the name is an offered tool; else None."""
    if not isinstance(value, dict) or value.get("name") not in names:
        return None
    raw = value.get("arguments", value.get("parameters", {}))
    call_id = f"call_{index}"
    if isinstance(raw, dict):
        return ToolCall(call_id, value["name"], raw, json.dumps(raw, ensure_ascii=False), None)
    if isinstance(raw, str):
        args, error = parse_arguments(raw)
        return ToolCall(call_id, value["name"], args, raw, error)
    return None


def _as_calls(value: Any, names: set[str]) -> list[ToolCall] | None:
    items = value if isinstance(value, list) else [value]
    if not items or len(items) > MAX_EMBEDDED_CALLS:
        return None
    calls = [_as_call(item, names, i) for i, item in enumerate(items)]
    return None if any(c is None for c in calls) else calls  # type: ignore[return-value]


_XML_FUNCTION = re.compile(r"\A\s*<function=([A-Za-z0-9_.-]{1,64})>(.*?)</function>\s*\Z", re.S)
_XML_PARAMETER = re.compile(r"<parameter=([A-Za-z0-9_.-]{1,64})>\n?(.*?)\n?</parameter>", re.S)
_JSON_TYPES = {"integer", "number", "boolean", "object", "array", "null"}


def _xml_call(block: str, tools: dict[str, ToolSpec], index: int) -> ToolCall | None:
    """A call in the XML form of Qwen3-Coder's template: `<function=NAME><parameter=KEY>VALUE</parameter>`.
    Values are text; one whose schema type is not a string is read as JSON when it parses."""
    match = _XML_FUNCTION.match(block)
    if match is None or match.group(1) not in tools:
        return None
    properties = tools[match.group(1)].input_schema.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    arguments: dict[str, Any] = {}
    for key, value in _XML_PARAMETER.findall(match.group(2)):
        schema = properties.get(key)
        if isinstance(schema, dict) and schema.get("type") in _JSON_TYPES:
            loaded = _load(value)
            value = loaded if loaded is not None or value.strip() == "null" else value
        arguments[key] = value
    return ToolCall(
        f"call_{index}", match.group(1), arguments, json.dumps(arguments, ensure_ascii=False), None
    )


def embedded_tool_calls(text: str, tools: list[ToolSpec]) -> tuple[str, list[ToolCall]]:
    """(the text left, the tool calls written into `text`), for the offered `tools` only.

    A block that is not valid JSON (or the XML function form) or names a tool not offered stays in the
    text, untouched.
    """
    by_name = {tool.name: tool for tool in tools}
    names = set(by_name)
    if not names or not text.strip():
        return text, []
    stripped = text.strip()
    if stripped.startswith(_MISTRAL):
        calls = _as_calls(_load(stripped[len(_MISTRAL) :]), names)
        return ("", calls) if calls else (text, [])
    if "<tool_call>" in text:
        calls: list[ToolCall] = []
        kept: list[str] = []
        position = 0
        for match in _TAGGED.finditer(text):
            call = _as_call(_load(match.group(1)), names, len(calls)) or _xml_call(
                match.group(1), by_name, len(calls)
            )
            if call is None or len(calls) >= MAX_EMBEDDED_CALLS:
                continue
            kept.append(text[position : match.start()])
            position = match.end()
            calls.append(call)
        kept.append(text[position:])
        return ("".join(kept).strip(), calls) if calls else (text, [])
    if stripped[:1] in "{[" or stripped.startswith("```"):
        calls_or_none = _as_calls(_load(stripped), names)
        if calls_or_none:
            return "", calls_or_none
    return text, []


# ---- errors users meet -------------------------------------------------------------------------

_CONTEXT_CODES = {"context_length_exceeded", "exceed_context_size_error"}
_CONTEXT_TEXT = re.compile(
    r"maximum context length|context[ _]length[ _]exceeded|exceeds the available context size"
    r"|context window|too many tokens in the prompt|prompt is too long",
    re.I,
)
_NO_TOOLS_TEXT = re.compile(
    r"does not support tools|does not support tool|tool choice requires|tools param requires"
    r"|tool calling is not supported|tools are not supported|not support function calling"
    r"|unsupported param: tools",
    re.I,
)


def _error_codes(body: Any) -> set[str]:
    """The `code` and `type` strings of an error body (OpenAI nests them under "error"; vLLM not)."""
    found: set[str] = set()
    for obj in (body, body.get("error") if isinstance(body, dict) else None):
        if isinstance(obj, dict):
            found.update(v for k in ("code", "type") if isinstance(v := obj.get(k), str))
    return found


def server_name(base_url: str | None) -> str:
    """The server a user knows: the base URL's host (and port), or the OpenAI API."""
    if not base_url:
        return "the OpenAI API"
    host = urlsplit(base_url).netloc or base_url
    return f"the server at {clip(host, 120)}"


def typed_error(
    status: int, body: Any, fallback: str, *, model: str, base_url: str | None, offered_tools: bool
) -> AgentFactoryError | None:
    """The typed, one-sentence error for a refusal users meet; None leaves it to the retry policy."""
    if status in AUTH_STATUS or status == 429:
        return None
    message = provider_message(body, fallback)
    codes = _error_codes(body)
    where = server_name(base_url)
    if codes & _CONTEXT_CODES or _CONTEXT_TEXT.search(message):
        return ContextWindowExceeded(
            f"The conversation no longer fits the context window of model '{clip(model, 120)}' on "
            f"{where} ({status}: {message})."
        )
    if offered_tools and _NO_TOOLS_TEXT.search(message):
        return ProviderError(
            f"Model '{clip(model, 120)}' on {where} does not support tool calls ({status}: {message}): "
            "choose a model with tool support, or enable tool calling on the server."
        )
    if status == 404 or "model_not_found" in codes:
        also = " and the base URL" if base_url else ""
        return ProviderError(
            f"Model '{clip(model, 120)}' was not found on {where} ({status}: {message}): check the "
            f"model name{also}; `agentfactory models` lists the models AgentFactory knows."
        )
    return None
