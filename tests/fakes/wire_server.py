"""A local HTTP server that speaks the real Anthropic Messages and OpenAI chat-completions wire formats.

Tests queue canned responses (built with the helpers below, in the providers' exact JSON shapes), point
the official SDKs at `server.url` (Anthropic) or `server.openai_base_url` (OpenAI), and then assert on
`server.requests`, the recorded request bodies. It listens on 127.0.0.1 on an ephemeral port in a
daemon thread and serves a bounded number of requests; when the queue is empty it answers with the
`fallback` callable if one is set, else a 400 that says so (400 so that no client retries it).

    with WireServer() as server:
        server.push(openai_completion(text="hi"))
        ...

or the `wire_server` pytest fixture (import it into a test module or conftest).

Hostile and broken servers are canned too: `raw_reply` sends any bytes with any content type (HTML, a
JSON list, a body that is not JSON), `Canned(hang=True)` reads the request and never answers,
`Canned(drip_s=0.5)` sends the headers and then the body one byte at a time, and `Canned(reset=True)`
drops the connection without a word. Every such loop is bounded (`MAX_HOLD_S`) and ends when the server
stops, so no test can leave a thread behind for long.
"""

from __future__ import annotations

import collections
import itertools
import json
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

MAX_BODY = 8 * 1024 * 1024
MAX_HOLD_S = 60.0  # the longest a hanging or dripping answer holds its connection


@dataclass
class Canned:
    """One HTTP answer: status, JSON body (or raw text), extra headers, and a delay before answering."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # to provoke client timeouts; capped at 5 s to keep the server bounded
    content_type: str | None = None  # overrides the JSON / text type chosen from the body
    hang: bool = False  # read the request, then never answer (until the server stops or MAX_HOLD_S)
    drip_s: float = 0.0  # send the headers, then the body one byte every drip_s seconds
    drip_headers: bool = False  # with drip_s: drip the status line and headers too
    reset: bool = False  # close the connection without answering
    # A streamed answer: server-sent events, each (event name or None, data), sent with `sse_gap_s`
    # between them, chunked, as the APIs stream (`text/event-stream`). `body` is ignored then.
    sse: list[tuple[str | None, Any]] | None = None
    sse_gap_s: float = 0.0


def sse_event(event: str | None, data: Any) -> bytes:
    """One server-sent event as the APIs write it: `event:` (when named) and one `data:` line of JSON
    (or the text as given, e.g. OpenAI's final `[DONE]`)."""
    text = data if isinstance(data, str) else json.dumps(data)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {text}\n\n".encode()


def raw_reply(body: bytes | str, content_type: str = "application/json", status: int = 200) -> Canned:
    """A reply whose body is sent exactly as given (bytes, or text encoded as UTF-8)."""
    return Canned(status, body if isinstance(body, bytes) else body.encode(), content_type=content_type)


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON, or the raw text when it was not JSON
    ts: float  # time.monotonic() when the request arrived

    @property
    def api(self) -> str:
        return "anthropic" if self.path.rstrip("/").endswith("/messages") else "openai"


_ids = itertools.count(1)


# ---- Anthropic Messages API shapes -------------------------------------------------------------


def anthropic_message(
    text: str | None = None,
    tool_uses: list[tuple[str, str, dict[str, Any]]] | None = None,
    *,
    stop_reason: str | None = None,
    input_tokens: int = 10,
    output_tokens: int = 5,
    cache_read: int = 0,
    cache_write: int = 0,
    model: str = "claude-test",
) -> Canned:
    """A 200 `message` with text and/or tool_use blocks (each (id, name, input))."""
    content: list[dict[str, Any]] = []
    if text is not None:
        content.append({"type": "text", "text": text})
    for call_id, name, arguments in tool_uses or []:
        content.append({"type": "tool_use", "id": call_id, "name": name, "input": arguments})
    body = {
        "id": f"msg_{next(_ids):06d}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason or ("tool_use" if tool_uses else "end_turn"),
        "stop_sequence": None,
        "usage": {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cache_read_input_tokens": cache_read,
            "cache_creation_input_tokens": cache_write,
        },
    }
    return Canned(200, body, {"request-id": f"req_{next(_ids):06d}"})


def anthropic_error(status: int, message: str, headers: dict[str, str] | None = None) -> Canned:
    kinds = {
        400: "invalid_request_error",
        401: "authentication_error",
        403: "permission_error",
        404: "not_found_error",
        429: "rate_limit_error",
        529: "overloaded_error",
    }
    body = {"type": "error", "error": {"type": kinds.get(status, "api_error"), "message": message}}
    return Canned(status, body, dict(headers or {}))


# ---- OpenAI chat-completions shapes ------------------------------------------------------------


def openai_completion(
    text: str | None = None,
    tool_calls: list[tuple[str, str, str]] | None = None,
    *,
    finish_reason: str | None = None,
    prompt_tokens: int = 10,
    completion_tokens: int = 5,
    cached_tokens: int = 0,
    model: str = "gpt-test",
) -> Canned:
    """A 200 `chat.completion`; tool_calls are (id, name, arguments as the raw JSON string)."""
    message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
    if tool_calls:
        message["tool_calls"] = [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
            for call_id, name, arguments in tool_calls
        ]
    body = {
        "id": f"chatcmpl-{next(_ids):06d}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason or ("tool_calls" if tool_calls else "stop"),
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        },
    }
    return Canned(200, body, {"x-request-id": f"req_{next(_ids):06d}"})


def openai_error(status: int, message: str, headers: dict[str, str] | None = None) -> Canned:
    kinds = {400: "invalid_request_error", 401: "invalid_request_error", 429: "rate_limit_exceeded"}
    body = {
        "error": {"message": message, "type": kinds.get(status, "server_error"), "param": None, "code": None}
    }
    return Canned(status, body, dict(headers or {}))


# ---- the server --------------------------------------------------------------------------------


class WireServer:
    """Serves queued `Canned` answers in order and records every request. Thread-safe."""

    def __init__(self, max_requests: int = 10_000):
        self.max_requests = max_requests
        self.requests: list[RecordedRequest] = []
        self.fallback: Callable[[RecordedRequest], Canned] | None = None
        # Request rules, as a real API applies them: the first that returns an answer (an error) wins,
        # before any queued answer is used. See tests/fakes/*_rules.py.
        self.validators: list[Callable[[RecordedRequest], Canned | None]] = []
        self._queue: collections.deque[Canned] = collections.deque()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._started = False
        self._stopping = threading.Event()

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        """Base URL for the Anthropic SDK (it appends /v1/messages)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """Base URL for the OpenAI SDK (it appends /chat/completions)."""
        return f"{self.url}/v1"

    def push(self, *answers: Canned) -> None:
        with self._lock:
            self._queue.extend(answers)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def bodies(self) -> list[Any]:
        with self._lock:
            return [r.body for r in self.requests]

    def start(self) -> WireServer:
        if not self._started:
            self._thread.start()
            self._started = True
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases hanging and dripping answers
        if self._started:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()

    def __enter__(self) -> WireServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _next_answer(self, request: RecordedRequest) -> Canned:
        with self._lock:
            self.requests.append(request)
            if len(self.requests) > self.max_requests:
                return Canned(400, {"error": {"message": "wire server: request limit reached"}})
        for validate in list(self.validators):
            refusal = validate(request)
            if refusal is not None:
                return refusal
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        if self.fallback is not None:
            return self.fallback(request)
        return Canned(
            400,
            {
                "type": "error",
                "error": {
                    "type": "invalid_request_error",
                    "message": "wire server: no canned response queued",
                },
            },
        )

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes; avoid a 40 ms stall
            timeout = 10

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:
                length = min(int(self.headers.get("content-length") or 0), MAX_BODY)
                raw = self.rfile.read(length) if length else b""
                try:
                    body: Any = json.loads(raw) if raw else None
                except (json.JSONDecodeError, UnicodeDecodeError):
                    body = raw.decode("utf-8", "replace")
                recorded = RecordedRequest(
                    method="POST",
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                    ts=time.monotonic(),
                )
                self._send(server._next_answer(recorded))

            do_GET = do_POST

            def _send(self, answer: Canned) -> None:
                if answer.delay_s:
                    time.sleep(min(answer.delay_s, 5.0))
                if answer.hang:
                    server._stopping.wait(MAX_HOLD_S)
                    self.close_connection = True
                    return
                if answer.reset:
                    # SO_LINGER 0: close() sends a TCP reset instead of an orderly end.
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    return
                if answer.sse is not None:
                    self._send_sse(answer)
                    return
                if isinstance(answer.body, (dict, list)):
                    payload = json.dumps(answer.body).encode()
                    kind = "application/json"
                elif isinstance(answer.body, bytes):
                    payload, kind = answer.body, "application/octet-stream"
                else:
                    payload = str(answer.body or "").encode()
                    kind = "text/plain"
                head = [f"HTTP/1.1 {answer.status} Canned", f"content-type: {answer.content_type or kind}"]
                head.append(f"content-length: {len(payload)}")
                head += [f"{key}: {value}" for key, value in answer.headers.items()]
                head_bytes = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
                try:
                    if answer.drip_s:
                        # Headers at once (or dripped too), then the body one byte at a time, bounded.
                        if not answer.drip_headers:
                            self.wfile.write(head_bytes)
                            self.wfile.flush()
                        dripped = payload if not answer.drip_headers else head_bytes + payload
                        deadline = time.monotonic() + MAX_HOLD_S
                        for index in range(len(dripped)):
                            if server._stopping.wait(answer.drip_s) or time.monotonic() > deadline:
                                break
                            self.wfile.write(dripped[index : index + 1])
                            self.wfile.flush()
                        self.close_connection = True
                    else:
                        self.wfile.write(head_bytes + payload)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client gave up (a timeout test); nothing to tell it

            def _send_sse(self, answer: Canned) -> None:
                head = [f"HTTP/1.1 {answer.status} Canned", "content-type: text/event-stream"]
                head += ["transfer-encoding: chunked", "cache-control: no-cache"]
                head += [f"{key}: {value}" for key, value in answer.headers.items()]
                try:
                    self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
                    for event, data in (answer.sse or [])[:10_000]:
                        if answer.sse_gap_s and server._stopping.wait(min(answer.sse_gap_s, 5.0)):
                            break
                        chunk = sse_event(event, data)
                        self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

        return Handler


@pytest.fixture
def wire_server():
    """A started WireServer, stopped after the test."""
    with WireServer() as server:
        yield server
