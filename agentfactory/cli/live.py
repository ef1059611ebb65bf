"""The live view of `agentfactory run`: what the Meta-Agent and the sandbox are doing, as it happens.

Each tool call is printed when it starts (its arguments cut between whole JSON values), then what the
subagent prints (bounded per execution), then how the execution ended, with the exception, its message
and the subagent's own line when it failed. On a terminal a status line below shows what is running
and for how long. When stdout is not a terminal, progress goes to stderr and only the answer to stdout;
nothing is hard-wrapped. Everything that came from the model or a subagent is printed through
`untrusted.plain`: never parsed as markup, control characters shown, not obeyed.

When the model's replies stream (settings `stream`; by default only when this view is on a terminal),
its text is printed line by line as it is written (the line being written shows in the status line),
a tool call being written shows as "writing create_subagent … 2,140 tokens" growing in the status
line, and thinking as "thinking…" with the last line of its summary when the API gives one. None of
this is written to the event log or to --json: the notices are live only.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

from agentfactory import events as ev
from agentfactory.cli.untrusted import plain, visible
from agentfactory.llm.types import Usage

MAX_LINES = 20  # printed lines shown per execution
MAX_LINE_CHARS = 200
MAX_OUTPUT_CHARS = 4000  # printed characters shown per execution
MAX_RESULT_CHARS = 300  # of a failed tool call's message
MAX_STREAM_LINES = 200  # streamed text lines printed per model reply
MAX_PARTIAL_CHARS = 80  # of the line being written, or the thinking summary, in the status line
REFRESH_S = 0.05  # least time between two refreshes a streamed delta forces


def consoles() -> tuple[Console, Console]:
    """(progress, answer): on a terminal both are stdout; otherwise progress is stderr. Soft-wrapped."""
    answer = Console(soft_wrap=True, highlight=False, emoji=False)
    if answer.is_terminal:
        return answer, answer
    return Console(stderr=True, soft_wrap=True, highlight=False, emoji=False), answer


class LiveView:
    """An event observer (`MetaAgent(on_event=view)`); thread-safe, as the broker emits from threads."""

    def __init__(self, quiet: bool = False, progress: Console | None = None, lines: bool = True):
        self.quiet = quiet
        self.lines = lines  # False: only the status line (evolve prints its own lines)
        self.console = progress if progress is not None else consoles()[0]
        self.usage = Usage()
        self.cost = 0.0
        self._lock = threading.RLock()
        self._active: dict[tuple[str, Any], tuple[str, float]] = {}  # what runs now, since when
        self._shown: dict[Any, list[int]] = {}  # execution -> [lines shown, chars shown, lines hidden]
        self._live: Live | None = None
        self._executed = False  # an execution was shown during the current tool call
        self._spinner = Spinner("dots")
        self._streams: dict[Any, _Stream] = {}  # model call -> what its streamed reply has shown
        self._refreshed = 0.0

    @property
    def on_terminal(self) -> bool:
        """Whether progress is shown on a terminal: then model replies are streamed to this view."""
        return not self.quiet and bool(self.console.is_terminal)

    # -- events ------------------------------------------------------------------------------------

    def __call__(self, event: dict[str, Any]) -> None:
        if self.quiet:
            return
        with self._lock:
            handler = self._handlers.get(event.get("type", ""))
            try:
                if handler is not None:
                    handler(self, event)
            except Exception:  # noqa: BLE001 - a broken view (a closed terminal) must never stop the run
                self.quiet = True
                self.close()

    def _run_started(self, event: dict[str, Any]) -> None:
        # Printed once the run exists: a refusal before it (bad flag, missing file) prints one sentence.
        line = Text.assemble(("AgentFactory", "bold"), " · model ", plain(event.get("model", ""), limit=120))
        if event.get("simulated"):
            line.append(" (simulated model: figures are not a real model's)", style="yellow")
        line.append_text(plain(f" · sandbox {event.get('sandbox', '')}", limit=60))
        self._print(line)

    def _model_started(self, event: dict[str, Any]) -> None:
        if event.get("role") == ev.ORCHESTRATOR:
            label = f"model · step {event['step']}" if event.get("step") else "model"
        else:
            label = "subagent llm call"
        self._begin(("model", event.get("call")), label)

    def _model_stream(self, event: dict[str, Any]) -> None:
        call = event.get("call")
        stream = self._streams.setdefault(call, _Stream())
        kind = event.get("kind")
        tokens = int(event.get("output_tokens") or 0)
        if kind == "text":
            stream.partial += str(event.get("text") or "")
            *lines, stream.partial = stream.partial.split("\n")
            for line in lines:
                self._stream_line(stream, line)
            stream.partial = stream.partial[-4 * MAX_PARTIAL_CHARS :]
            label = f"writing · {visible(stream.partial[-MAX_PARTIAL_CHARS:])}" if stream.partial else ""
        elif kind == "thinking":
            stream.thought = (stream.thought + str(event.get("text") or ""))[-2000:]
            summary = next((line for line in reversed(stream.thought.splitlines()) if line.strip()), "")
            label = "thinking…" + (f" {visible(summary.strip(), limit=MAX_PARTIAL_CHARS)}" if summary else "")
        elif kind in ("tool_call", "tool_input"):
            if stream.partial:  # a tool call starts: the text before it is complete
                self._stream_line(stream, stream.partial)
                stream.partial = ""
            label = f"writing {visible(event.get('tool'), limit=60)} … {tokens:,} tokens"
        else:
            return
        self._label(("write", call), label)

    def _stream_line(self, stream: _Stream, line: str) -> None:
        stream.lines += 1
        if stream.lines <= MAX_STREAM_LINES:
            self._print(Text.assemble(("  ", "dim"), plain(line, limit=MAX_LINE_CHARS)))
        elif stream.lines == MAX_STREAM_LINES + 1:
            self._print(Text("  … (the rest of this reply is not shown)", "dim"))

    def _label(self, key: tuple[str, Any], label: str) -> None:
        """Set (or clear, when empty) a status entry that changes as a reply streams; shown at once."""
        if not label:
            self._active.pop(key, None)
        else:
            since = self._active.get(key, ("", time.monotonic()))[1]
            self._begin(key, label)
            self._active[key] = (label, since)
        now = time.monotonic()
        if self._live is not None and now - self._refreshed >= REFRESH_S:
            self._refreshed = now
            self._live.refresh()

    def _compacted(self, event: dict[str, Any]) -> None:
        self._print(
            Text(
                f"  context compacted: {int(event.get('results') or 0)} older item(s) reduced to status "
                f"lines ({int(event.get('tokens_before') or 0):,} → {int(event.get('tokens_after') or 0):,} "
                "tokens, estimated)",
                style="dim",
            )
        )

    def _model_done(self, event: dict[str, Any]) -> None:
        self._end(("model", event.get("call")))
        self._active.pop(("write", event.get("call")), None)
        stream = self._streams.pop(event.get("call"), None)
        if stream is not None and stream.partial:
            self._stream_line(stream, stream.partial)
        self.usage = self.usage + Usage.from_dict(event.get("usage"))
        self.cost += float(event.get("cost_usd") or 0.0)
        if event.get("role") == ev.ORCHESTRATOR:
            self._print(
                Text(
                    f"step {event.get('step', '?')} · model {float(event.get('latency_s') or 0):.1f} s · "
                    f"{self.usage.total_tokens:,} tokens · ${self.cost:.4f}",
                    style="dim",
                )
            )

    def _tool_started(self, event: dict[str, Any]) -> None:
        self._executed = False
        self._begin(("tool", event.get("step")), f"{visible(event.get('tool'), limit=60)}")
        self._print(
            Text.assemble(
                ("  → ", "green"),
                plain(event.get("tool"), "bold", limit=60),
                " ",
                plain(event.get("arguments", "")),
            )
        )

    def _tool_done(self, event: dict[str, Any]) -> None:
        self._end(("tool", event.get("step")))
        if event.get("is_error") and not self._executed:  # a failed execution already said why
            message = str(event.get("result") or "").strip()
            self._print(
                Text.assemble(
                    ("  ✗ ", "red"),
                    plain(event.get("tool"), "red", limit=60),
                    ": ",
                    plain(_unwrap(message), limit=MAX_RESULT_CHARS),
                )
            )

    def _execution_started(self, event: dict[str, Any]) -> None:
        name = visible(event.get("subagent"), limit=60)
        self._begin(("exec", event.get("execution")), f"running {name}{_which(event)}")

    def _execution_output(self, event: dict[str, Any]) -> None:
        shown = self._shown.setdefault(event.get("execution"), [0, 0, 0])
        line = str(event.get("line", ""))
        if shown[0] >= MAX_LINES or shown[1] >= MAX_OUTPUT_CHARS:
            shown[2] += 1
            return
        shown[0] += 1
        shown[1] += min(len(line), MAX_LINE_CHARS)
        self._print(Text.assemble(("    │ ", "dim"), plain(line, limit=MAX_LINE_CHARS)))

    def _execution_done(self, event: dict[str, Any]) -> None:
        self._executed = True
        self._end(("exec", event.get("execution")))
        hidden = self._shown.pop(event.get("execution"), [0, 0, 0])[2]
        if hidden:
            self._print(
                Text(f"    │ … {hidden} more line(s) not shown (the run's trace keeps the tail)", "dim")
            )
        status = str(event.get("status"))
        colour = "green" if status == "ok" else "red"
        self._print(
            Text.assemble(
                "    ",
                plain(event.get("subagent"), colour, limit=60),
                (f": {visible(status, limit=40)}", colour),
                f" ({float(event.get('duration_s') or 0):.2f} s)",
            )
        )
        error = event.get("error")
        if isinstance(error, dict):
            where = ""
            if error.get("line"):
                where = (
                    f" (line {error.get('line')} of {visible(error.get('file') or 'the subagent', limit=80)})"
                )
            self._print(
                Text.assemble(
                    "      ",
                    plain(error.get("type") or status, "red", limit=80),
                    ": ",
                    plain(error.get("message", ""), limit=300),
                    where,
                )
            )

    def _library(self, event: dict[str, Any]) -> None:
        version = event.get("version")
        self._print(
            Text.assemble(
                ("    library: ", "cyan"),
                plain(event.get("action"), "cyan", limit=40),
                " ",
                plain(event.get("subagent"), "cyan", limit=80),
                (f" v{version}" if isinstance(version, int) else "", "cyan"),
            )
        )

    def _mcp_server(self, event: dict[str, Any]) -> None:
        # A start is a dim line; a failure or an exit is the one sentence the user must see.
        style = "dim" if event.get("status") == "started" else "yellow"
        self._print(Text.assemble(("    mcp: ", style), plain(event.get("message"), style, limit=400)))

    def _finished(self, event: dict[str, Any]) -> None:
        self._active.clear()
        self._streams.clear()
        self.close()

    _handlers = {
        ev.RUN_STARTED: _run_started,
        ev.MODEL_CALL_STARTED: _model_started,
        ev.MODEL_CALL: _model_done,
        ev.MODEL_STREAM: _model_stream,
        ev.CONTEXT_COMPACTED: _compacted,
        ev.TOOL_CALL_STARTED: _tool_started,
        ev.TOOL_CALL: _tool_done,
        ev.EXECUTION_STARTED: _execution_started,
        ev.EXECUTION_OUTPUT: _execution_output,
        ev.SUBAGENT_EXECUTION: _execution_done,
        ev.LIBRARY_CHANGE: _library,
        ev.MCP_SERVER: _mcp_server,
        ev.RUN_FINISHED: _finished,
    }

    # -- the status line -----------------------------------------------------------------------------

    def _begin(self, key: tuple[str, Any], label: str) -> None:
        self._active[key] = (label, time.monotonic())
        if self._live is None and self.console.is_terminal:
            self._live = Live(
                self, console=self.console, transient=True, refresh_per_second=8,
                redirect_stdout=False, redirect_stderr=False,
            )  # fmt: skip
            self._live.start()

    def _end(self, key: tuple[str, Any]) -> None:
        self._active.pop(key, None)
        if key[0] == "exec":  # a subagent's llm calls end with its execution, even one that failed
            for other in [k for k, (label, _) in self._active.items() if label == "subagent llm call"]:
                self._active.pop(other, None)

    def __rich__(self) -> Any:
        """The status line, rendered by Live on each refresh: what runs now, with elapsed seconds.

        No lock here: Live renders this holding its own lock, which a print under our lock also takes.
        Copying the values is one step under the GIL, so the snapshot is consistent."""
        now = time.monotonic()
        parts = [f"{label} {now - since:.1f} s" for label, since in tuple(self._active.values())]
        self._spinner.update(text=Text(" · ".join(parts) or "working", style="dim"))
        return self._spinner

    def _print(self, text: Text) -> None:
        if self.lines:
            self.console.print(text, soft_wrap=True)

    def close(self) -> None:
        with self._lock:
            live, self._live = self._live, None
            if live is not None:
                with contextlib.suppress(Exception):  # a terminal that went away
                    live.stop()


class _Stream:
    """What the view has shown of one streamed reply."""

    def __init__(self) -> None:
        self.partial = ""  # the text line being written
        self.thought = ""  # the tail of the thinking summary
        self.lines = 0  # text lines printed


def _which(event: dict[str, Any]) -> str:
    if isinstance(event.get("version"), int):
        return f" v{event['version']}"
    if isinstance(event.get("revision"), int):
        return f" (candidate r{event['revision']})"
    return ""


def _unwrap(text: str) -> str:
    """A tool result's text without the data delimiters the model sees."""
    if text.startswith("<data"):
        text = text.split(">", 1)[-1]
    if text.endswith("</data>"):
        text = text[: -len("</data>")]
    return " ".join(text.split())


# -- the final summary -----------------------------------------------------------------------------


def print_result(result: Any, progress: Console, answer: Console) -> None:
    """The run's outcome. On a terminal everything goes to one console; otherwise the answer alone goes
    to stdout (what a script captures) and the rest to stderr."""
    colour = "green" if result.status == "success" else "red"
    head = Text.assemble("\n", (result.status, f"bold {colour}"))
    if result.reason:
        head.append(": ")
        head.append_text(plain(result.reason, newlines=True))
    progress.print(head, soft_wrap=True)
    if result.answer:
        if answer is progress:
            answer.print(
                Text.assemble(("Answer: ", "bold"), plain(result.answer, newlines=True)), soft_wrap=True
            )
        else:
            answer.print(plain(result.answer, newlines=True), soft_wrap=True)
    if result.output_files:
        files = Text("Output files: ")
        files.append_text(plain(", ".join(f"{result.workspace}/{f}" for f in result.output_files)))
        progress.print(files, soft_wrap=True)
    done = [
        ("created", ", ".join(result.created)),
        ("reused", ", ".join(result.reused)),
        ("saved", ", ".join(f"{n} v{v}" for n, v in result.saved)),
        ("rejected", "; ".join(f"{n}: {r}" for n, r in result.rejected.items())),
    ]
    summary = Text()
    for index, (label, value) in enumerate(done):
        summary.append(("" if index == 0 else " · ") + f"{label}: ", style="bold")
        summary.append_text(plain(value or "-", limit=500))
    progress.print(summary, soft_wrap=True)
    total = result.usage + result.subagent_usage
    sim = " (simulated model)" if result.simulated else ""
    progress.print(
        Text(
            f"steps {result.steps} · model calls {result.model_calls} · tokens {total.total_tokens:,} "
            f"(in {total.total_input_tokens:,}, out {total.output_tokens:,}) · ${result.cost_usd:.4f}{sim} · "
            f"{result.duration_s:.1f} s"
        ),
        soft_wrap=True,
    )
    progress.print(Text(f"Run id: {result.run_id}  (agentfactory runs show {result.run_id})"), soft_wrap=True)
