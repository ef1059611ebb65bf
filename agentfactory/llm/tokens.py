"""The one deterministic tokenizer behind every simulated or scripted token count.

Real providers count tokens with their own BPE vocabularies, which are not available offline. Simulated
and scripted runs still need token figures that behave like real ones (longer prompts cost more, a
repeated system prompt costs the same every time), so every such count in the framework goes through
`count_tokens` here and nowhere else.

The rule, applied with one regular expression (pieces are counted, unmatched characters are free):

- a word (run of letters) of up to 8 letters is one token ("the", "function"); a longer word is cut
  into 4-letter chunks until the rest fits in 8 ("implementation" = "impl|emen|tation" = 3), the way
  BPE vocabularies hold common words whole and split rare ones;
- a run of digits is split into chunks of at most 3 digits, one token each (as BPE vocabularies do);
- punctuation and symbols pair up: each run of one or two of them is one token (`("`, `==`, `},`),
  and `_` is one token;
- a single space is free (BPE merges it into the following word); any other run of whitespace
  (newlines, indentation, tabs, several spaces) is one token.

On English prose this gives about 4.2 characters a token, on Python source about 3.5, which is
close to the density of the cl100k/o200k and Claude tokenizers. It is not their count: figures made
with it are labelled simulated wherever they are reported.

`count_request_tokens` counts a whole request the way a provider receives it: the system prompt, each
tool as its JSON-schema definition, and each message with a small per-message overhead for role
markers. Counts are memoised per string because a benchmark counts the same system prompt and tool
definitions thousands of times.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

from agentfactory.llm.types import Message, ToolCall, ToolSpec

_PIECE = re.compile(r"[^\W\d_]{1,8}(?![^\W\d_])|[^\W\d_]{1,4}|\d{1,3}|[^\w\s]{1,2}|_|\s{2,}|[^\S ]")

# Role markers and separators providers wrap around each message, tool call and tool result.
MESSAGE_OVERHEAD = 4
TOOL_CALL_OVERHEAD = 3
TOOL_RESULT_OVERHEAD = 3
TOOL_DEFINITION_OVERHEAD = 3


def count_tokens(text: str) -> int:
    """Tokens in `text` under the documented rule above; deterministic and pure."""
    if not text:
        return 0
    if len(text) > _CACHE_MAX_CHARS:
        return len(_PIECE.findall(text))
    return _count_cached(text)


# Only prompt-sized strings are memoised, so the cache stays within a few tens of megabytes.
_CACHE_MAX_CHARS = 16_384


@lru_cache(maxsize=4096)
def _count_cached(text: str) -> int:
    return len(_PIECE.findall(text))


def tool_definition_text(tool: ToolSpec) -> str:
    """A tool as the provider receives it: its JSON-schema definition."""
    return json.dumps(
        {"name": tool.name, "description": tool.description, "input_schema": tool.input_schema},
        sort_keys=True,
        separators=(",", ":"),
    )


def tool_call_text(call: ToolCall) -> str:
    """A tool call as it travels on the wire: name and the JSON arguments (or the raw text)."""
    if call.arguments is None:
        args = call.raw_arguments
    else:
        args = json.dumps(call.arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return call.name + " " + args


def count_output_tokens(text: str, tool_calls: list[ToolCall]) -> int:
    """Tokens a model produced: its text plus each tool call with its arguments."""
    total = count_tokens(text)
    for call in tool_calls:
        total += TOOL_CALL_OVERHEAD + count_tokens(tool_call_text(call))
    return total


def count_message_tokens(message: Message) -> int:
    total = MESSAGE_OVERHEAD + count_tokens(message.text)
    for call in message.tool_calls:
        total += TOOL_CALL_OVERHEAD + count_tokens(tool_call_text(call))
    for result in message.tool_results:
        total += TOOL_RESULT_OVERHEAD + count_tokens(result.content)
    return total


def count_request_tokens(system: str, messages: list[Message], tools: list[ToolSpec] | None = None) -> int:
    """Input tokens of one request: system prompt, tool definitions and every message."""
    total = count_tokens(system)
    for tool in tools or ():
        total += TOOL_DEFINITION_OVERHEAD + count_tokens(tool_definition_text(tool))
    for message in messages:
        total += count_message_tokens(message)
    return total
