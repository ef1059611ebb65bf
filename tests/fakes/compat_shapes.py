"""Reply shapes of OpenAI's streamed API and of OpenAI-compatible servers, as they send them.

Each constant is a `Canned` answer for the wire server, written after what the server really sends
(its documented OpenAI-compatible output, and the shapes users report): field names, where usage is
(or is not), how errors are worded and nested. Builders make a fresh copy per use, so tests may queue
the same shape several times.

- `openai_stream(...)`: OpenAI's own event stream (role chunk, content / tool-call argument deltas,
  the finish chunk, the `include_usage` chunk with `choices: []`, then `[DONE]`).
- Ollama (`/v1` of `ollama serve`): no usage in streams it was not asked for; 400 "does not support
  tools" for models without a tool template; 404 "model ... not found, try pulling it first".
- vLLM: errors as a top-level `{"object": "error", "message", "type", "code": 400}`; the context
  overflow sentence "This model's maximum context length is N tokens"; 400 when tools are sent to a
  server started without `--enable-auto-tool-choice`.
- LM Studio: a Qwen3-Coder tool call left as text in `content` (`<tool_call><function=...>`, reported
  for its OpenAI-compatible endpoint); replies without `usage`.
- Servers that give a tool call's `arguments` as a JSON object instead of a string (`object_arguments`).
- llama.cpp (`llama-server`): `exceed_context_size_error`; 500 "tools param requires --jinja flag"
  (older builds: "Unsupported param: tools"); without a tool-call parser the template's `<tool_call>`
  block arrives as text.
"""

from __future__ import annotations

import copy
import json
import time
from typing import Any

from tests.fakes.wire_server import Canned


def _completion(message: dict[str, Any], finish: str, usage: dict[str, Any] | None, model: str) -> dict:
    body: dict[str, Any] = {
        "id": "chatcmpl-compat",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
    }
    if usage is not None:
        body["usage"] = usage
    return body


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


# ---- OpenAI's own stream -----------------------------------------------------------------------


def _chunk(delta: dict[str, Any] | None, finish: str | None = None, *, model: str, usage=None) -> dict:
    choices = (
        [] if delta is None else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
    )
    return {
        "id": "chatcmpl-stream",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_test",
        "choices": choices,
        "usage": usage,
    }


def split(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def openai_stream(
    text: str | None = None,
    tool_calls: list[tuple[str, str, str]] | None = None,
    *,
    prompt_tokens: int = 10,
    completion_tokens: int = 5,
    cached_tokens: int = 0,
    reasoning_tokens: int = 0,
    include_usage: bool = True,
    piece: int = 4,
    refusal: str | None = None,
    done: bool = True,
    gap_s: float = 0.0,
    model: str = "gpt-test",
) -> Canned:
    """OpenAI's event stream for a reply with `text` and/or tool calls ((id, name, arguments JSON)),
    text and arguments cut into `piece`-character deltas; the usage chunk when `include_usage`."""
    events: list[dict[str, Any]] = [
        _chunk({"role": "assistant", "content": "", "refusal": None}, model=model)
    ]
    for part in split(text, piece) if text else []:
        events.append(_chunk({"content": part}, model=model))
    for part in split(refusal, piece) if refusal else []:
        events.append(_chunk({"refusal": part}, model=model))
    for index, (call_id, name, arguments) in enumerate(tool_calls or []):
        first = {
            "index": index,
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": ""},
        }
        events.append(_chunk({"tool_calls": [first]}, model=model))
        for part in split(arguments, piece):
            events.append(
                _chunk({"tool_calls": [{"index": index, "function": {"arguments": part}}]}, model=model)
            )
    events.append(_chunk({}, "tool_calls" if tool_calls else "stop", model=model))
    if include_usage:
        usage = {
            **_usage(prompt_tokens, completion_tokens),
            "prompt_tokens_details": {"cached_tokens": cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": reasoning_tokens, "audio_tokens": 0},
        }
        events.append(_chunk(None, model=model, usage=usage))
    sse: list[tuple[str | None, Any]] = [(None, event) for event in events]
    if done:
        sse.append((None, "[DONE]"))
    return Canned(200, sse=sse, sse_gap_s=gap_s)


def openai_refusal(text: str = "I'm sorry, I can't help with that.") -> Canned:
    """OpenAI's reply when the model refuses: `content` null, `refusal` the sentence, finish "stop"."""
    message = {"role": "assistant", "content": None, "refusal": text, "annotations": []}
    return Canned(200, _completion(message, "stop", _usage(20, 9), "gpt-4.1"))


def openai_context_exceeded() -> Canned:
    body = {
        "error": {
            "message": "This model's maximum context length is 128000 tokens. However, your messages "
            "resulted in 131072 tokens. Please reduce the length of the messages.",
            "type": "invalid_request_error",
            "param": "messages",
            "code": "context_length_exceeded",
        }
    }
    return Canned(400, body)


def openai_model_not_found(model: str) -> Canned:
    body = {
        "error": {
            "message": f"The model `{model}` does not exist or you do not have access to it.",
            "type": "invalid_request_error",
            "param": None,
            "code": "model_not_found",
        }
    }
    return Canned(404, body)


def openai_invalid_key() -> Canned:
    body = {
        "error": {
            "message": "Incorrect API key provided: sk-proj-****abcd. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }
    return Canned(401, body)


# ---- Ollama ------------------------------------------------------------------------------------


def ollama_no_tools(model: str = "gemma2:2b") -> Canned:
    body = {
        "error": {
            "message": f"registry.ollama.ai/library/{model} does not support tools",
            "type": "api_error",
            "param": None,
            "code": None,
        }
    }
    return Canned(400, body)


def ollama_model_not_found(model: str = "llama9") -> Canned:
    body = {
        "error": {
            "message": f'model "{model}" not found, try pulling it first',
            "type": "api_error",
            "param": None,
            "code": None,
        }
    }
    return Canned(404, body)


def ollama_tool_call(name: str, arguments: dict[str, Any]) -> Canned:
    """Ollama's tool-call reply: a string of arguments, `content` "", finish "tool_calls"."""
    message = {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "call_k2x7rq1d",
                "index": 0,
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)},
            }
        ],
    }
    body = _completion(message, "tool_calls", _usage(180, 24), "llama3.1:8b")
    body["system_fingerprint"] = "fp_ollama"
    return Canned(200, body)


def ollama_stream_without_usage(text: str) -> Canned:
    """Ollama's stream when it does not honour `include_usage`: no usage chunk at all."""
    events = [
        {
            "id": "chatcmpl-421",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": "llama3.1:8b",
            "system_fingerprint": "fp_ollama",
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": part}, "finish_reason": None}],
        }
        for part in split(text, 5)
    ]
    last = copy.deepcopy(events[-1])
    last["choices"] = [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": "stop"}]
    events.append(last)
    return Canned(200, sse=[(None, e) for e in events] + [(None, "[DONE]")])


# ---- vLLM --------------------------------------------------------------------------------------


def _vllm_error(message: str) -> Canned:
    return Canned(
        400, {"object": "error", "message": message, "type": "BadRequestError", "param": None, "code": 400}
    )


def vllm_no_tool_choice() -> Canned:
    return _vllm_error(
        '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'
    )


def vllm_context_exceeded() -> Canned:
    return _vllm_error(
        "This model's maximum context length is 8192 tokens. However, you requested 9120 tokens (5024 in "
        "the messages, 4096 in the completion). Please reduce the length of the messages or completion."
    )


def vllm_reply_ignoring_tools(text: str) -> Canned:
    """vLLM without a tool parser: the offered tools are ignored and the model just answers."""
    body = _completion(
        {"role": "assistant", "content": text, "tool_calls": []}, "stop", _usage(95, 12), "Qwen"
    )
    body["prompt_logprobs"] = None
    return Canned(200, body)


# ---- LM Studio ---------------------------------------------------------------------------------


def object_arguments(name: str, arguments: dict[str, Any]) -> Canned:
    """A tool call whose `arguments` is a JSON object, not the string OpenAI sends."""
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "382913047", "type": "function", "function": {"name": name, "arguments": arguments}}
        ],
    }
    body = _completion(message, "tool_calls", _usage(140, 31), "qwen2.5-7b-instruct")
    body["stats"] = {}
    body["system_fingerprint"] = "qwen2.5-7b-instruct"
    return Canned(200, body)


def lmstudio_without_usage(text: str) -> Canned:
    body = _completion({"role": "assistant", "content": text}, "stop", None, "qwen2.5-7b-instruct")
    body["stats"] = {}
    return Canned(200, body)


def zero_usage(text: str) -> Canned:
    """A server that fills usage with zeros instead of counting."""
    return Canned(200, _completion({"role": "assistant", "content": text}, "stop", _usage(0, 0), "local"))


# ---- llama.cpp ---------------------------------------------------------------------------------


def llamacpp_context_exceeded() -> Canned:
    body = {
        "error": {
            "code": 400,
            "message": "request (4711 tokens) exceeds the available context size (4096 tokens)",
            "type": "exceed_context_size_error",
            "n_prompt_tokens": 4711,
            "n_ctx": 4096,
        }
    }
    return Canned(400, body)


def llamacpp_tools_need_jinja() -> Canned:
    return Canned(
        500, {"error": {"code": 500, "message": "tools param requires --jinja flag", "type": "server_error"}}
    )


def llamacpp_unsupported_tools() -> Canned:
    return Canned(500, {"code": 500, "message": "Unsupported param: tools", "type": "server_error"})


def lmstudio_xml_tool_call_text(name: str, arguments: dict[str, str]) -> Canned:
    """LM Studio's reply when a Qwen3-Coder tool call is left in `content` and `tool_calls` is absent."""
    params = "".join(f"<parameter={key}>\n{value}\n</parameter>\n" for key, value in arguments.items())
    content = f"<tool_call>\n<function={name}>\n{params}</function>\n</tool_call>"
    body = _completion(
        {"role": "assistant", "content": content}, "stop", _usage(320, 48), "qwen/qwen3-coder-30b"
    )
    body["stats"] = {}
    return Canned(200, body)


def llamacpp_text_reply(content: str) -> Canned:
    """llama-server's reply, with its `timings`; `content` as the template wrote it."""
    body = _completion({"role": "assistant", "content": content}, "stop", _usage(210, 40), "qwen2.5")
    body["timings"] = {"prompt_n": 210, "prompt_ms": 95.1, "predicted_n": 40, "predicted_ms": 812.4}
    return Canned(200, body)


def hermes_tool_call_text(name: str, arguments: dict[str, Any], before: str = "") -> str:
    """A Hermes / Qwen template's tool call, written as text."""
    return f"{before}<tool_call>\n{json.dumps({'name': name, 'arguments': arguments})}\n</tool_call>"
