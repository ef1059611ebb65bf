"""The live view of `agentfactory run`: what the Meta-Agent and the sandbox are doing, as it happens.

Each tool call is printed when it starts (its arguments cut between whole JSON values), then what the
subagent prints (bounded per execution), then how the execution ended, with the exception, its message
and the subagent's own line when it failed. On a terminal a status line below shows what is running
and for how long. When stdout is not a terminal, progress goes to stderr and only the answer to stdout;
nothing is hard-wrapped. Everything that came from the model or a subagent is printed through
`untrusted.visible`: never parsed as markup, control characters shown, not obeyed. Where rich would
find no terminal (a pipe, a file), lines are written as rich would write them there, without importing
rich (`PlainConsole`); a terminal's view is rich's (its import, ~30 ms, is part of such a run's start).

When the model's replies stream (settings `stream`; by default only when this view is on a terminal),
its text is printed line by line as it is written (the line being written shows in the status line),
a tool call being written shows as "writing create_subagent … 2,140 tokens" growing in the status
line, and thinking as "thinking…" with the last line of its summary when the API gives one. None of
this is written to the event log or to --json: the notices are live only.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from agentfactory import events as ev
from agentfactory.cli.untrusted import visible
from agentfactory.llm.types import Usage

if TYPE_CHECKING:
    from rich.console import Console
    from rich.live import Live
    from rich.spinner import Spinner

MAX_LINES = 20  # printed lines shown per execution
MAX_LINE_CHARS = 200
MAX_OUTPUT_CHARS = 4000  # printed characters shown per execution
MAX_RESULT_CHARS = 300  # of a failed tool call's message
MAX_STREAM_LINES = 200  # streamed text lines printed per model reply
MAX_PARTIAL_CHARS = 80  # of the line being written, or the thinking summary, in the status line
REFRESH_S = 0.05  # least time between two refreshes a streamed delta forces


# A line of the view: its parts, each a text (already passed through `visible`, or the view's own words)
# and a rich style, shown only on a terminal.
Line = tuple[tuple[str, str], ...]


def consoles() -> tuple[Console | PlainConsole, Console | PlainConsole]:
    """(progress, answer): on a terminal both are stdout; otherwise progress is stderr. Soft-wrapped.
    A stream where rich would find no terminal gets a PlainConsole: the same text, without importing
    rich (stderr may still be a terminal when stdout is not: `answer=$(agentfactory run ...)`)."""
    answer = PlainConsole() if no_terminal(sys.stdout) else _rich_console(stderr=False)
    if answer.is_terminal:
        return answer, answer
    progress = PlainConsole(stderr=True) if no_terminal(sys.stderr) else _rich_console(stderr=True)
    return progress, answer


def _rich_console(stderr: bool) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, soft_wrap=True, highlight=False, emoji=False)


def no_terminal(stream: Any) -> bool:
    """True when rich's Console would find no terminal on `stream` (its `is_terminal`), so that it would
    write each line's text with no style and no escape: the environment's TTY_COMPATIBLE and FORCE_COLOR
    first, then the stream's isatty. False (rich decides) in Jupyter and IDLE, which rich treats apart."""
    if hasattr(builtins, "get_ipython") or getattr(sys.stdin, "__module__", "").startswith("idlelib"):
        return False
    compatible = os.environ.get("TTY_COMPATIBLE", "")
    if compatible in ("0", "1"):
        return compatible == "0"
    force = os.environ.get("FORCE_COLOR")
    if force is not None:
        return force == ""
    isatty = getattr(stream, "isatty", None)
    try:
        return isatty is None or not isatty()
    except ValueError:  # a closed stream
        return True


# Characters rich changes as it writes a text: tabs expanded by cell width, these controls dropped.
_RICH_CHANGES = frozenset("\t\x07\x08\x0b\x0c\r")


class PlainConsole:
    """What the view writes to where there is no terminal: each line as rich would write it there (the
    text of its parts, unstyled, then a newline, flushed), without rich's import (tens of milliseconds
    before a run's first model call). A line with a character rich would change is handed to rich."""

    is_terminal = False

    def __init__(self, stderr: bool = False):
        self.stderr = stderr
        self._rich: Console | None = None

    @property
    def file(self) -> Any:
        return sys.stderr if self.stderr else sys.stdout  # looked up at each write, as rich does

    def write(self, line: Line) -> None:
        text = "".join(part for part, _ in line)
        if _RICH_CHANGES.isdisjoint(text):
            file = self.file
            if file is not None:  # no stream at all (pythonw): rich writes nowhere either
                file.write(text + "\n")
                file.flush()
            return
        if self._rich is None:
            self._rich = _rich_console(self.stderr)
        write(self._rich, line)


def write(console: Console | PlainConsole, line: Line) -> None:
    """Print one line of parts on a console of the view."""
    if isinstance(console, PlainConsole):
        console.write(line)
        return
    from rich.text import Text

    console.print(Text.assemble(*line), soft_wrap=True)


def part(value: Any, style: str = "", *, newlines: bool = False, limit: int | None = None) -> tuple[str, str]:
    """A part of a line holding untrusted text: shown as `untrusted.visible` writes it."""
    return visible(value, newlines=newlines, limit=limit), style


class LiveView:
    """An event observer (`MetaAgent(on_event=view)`); thread-safe, as the broker emits from threads."""

    def __init__(
        self, quiet: bool = False, progress: Console | PlainConsole | None = None, lines: bool = True
    ):
        self.quiet = quiet
        self.lines = lines  # False: only the status line (evolve prints its own lines)
        if progress is None:  # a quiet view shows nothing: no console to find
            progress = PlainConsole(stderr=True) if quiet else consoles()[0]
        self.console = progress
        self.usage = Usage()
        self.cost = 0.0
        self._lock = threading.RLock()
        self._active: dict[tuple[str, Any], tuple[str, float]] = {}  # what runs now, since when
        self._shown: dict[Any, list[int]] = {}  # execution -> [lines shown, chars shown, lines hidden]
        self._live: Live | None = None
        self._executed = False  # an execution was shown during the current tool call
        self._spinner: Spinner | None = None  # the status line's, made with its Live
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
        line = [("AgentFactory", "bold"), (" · model ", ""), part(event.get("model", ""), limit=120)]
        if event.get("simulated"):
            line.append((" (simulated model: figures are not a real model's)", "yellow"))
        line.append(part(f" · sandbox {event.get('sandbox', '')}", limit=60))
        self._print(*line)

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
            self._print(("  ", "dim"), part(line, limit=MAX_LINE_CHARS))
        elif stream.lines == MAX_STREAM_LINES + 1:
            self._print(("  … (the rest of this reply is not shown)", "dim"))

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
            (
                f"  context compacted: {int(event.get('results') or 0)} older item(s) reduced to status "
                f"lines ({int(event.get('tokens_before') or 0):,} → {int(event.get('tokens_after') or 0):,} "
                "tokens, estimated)",
                "dim",
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
                (
                    f"step {event.get('step', '?')} · model {float(event.get('latency_s') or 0):.1f} s · "
                    f"{self.usage.total_tokens:,} tokens · ${self.cost:.4f}",
                    "dim",
                )
            )

    def _tool_started(self, event: dict[str, Any]) -> None:
        self._executed = False
        self._begin(("tool", event.get("step")), f"{visible(event.get('tool'), limit=60)}")
        self._print(
            ("  → ", "green"),
            part(event.get("tool"), "bold", limit=60),
            (" ", ""),
            part(event.get("arguments", "")),
        )

    def _tool_done(self, event: dict[str, Any]) -> None:
        self._end(("tool", event.get("step")))
        if event.get("is_error") and not self._executed:  # a failed execution already said why
            message = str(event.get("result") or "").strip()
            self._print(
                ("  ✗ ", "red"),
                part(event.get("tool"), "red", limit=60),
                (": ", ""),
                part(_unwrap(message), limit=MAX_RESULT_CHARS),
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
        self._print(("    │ ", "dim"), part(line, limit=MAX_LINE_CHARS))

    def _execution_done(self, event: dict[str, Any]) -> None:
        self._executed = True
        self._end(("exec", event.get("execution")))
        hidden = self._shown.pop(event.get("execution"), [0, 0, 0])[2]
        if hidden:
            self._print((f"    │ … {hidden} more line(s) not shown (the run's trace keeps the tail)", "dim"))
        status = str(event.get("status"))
        colour = "green" if status == "ok" else "red"
        self._print(
            ("    ", ""),
            part(event.get("subagent"), colour, limit=60),
            (f": {visible(status, limit=40)}", colour),
            (f" ({float(event.get('duration_s') or 0):.2f} s)", ""),
        )
        error = event.get("error")
        if isinstance(error, dict):
            where = ""
            if error.get("line"):
                where = (
                    f" (line {error.get('line')} of {visible(error.get('file') or 'the subagent', limit=80)})"
                )
            self._print(
                ("      ", ""),
                part(error.get("type") or status, "red", limit=80),
                (": ", ""),
                part(error.get("message", ""), limit=300),
                (where, ""),
            )

    def _library(self, event: dict[str, Any]) -> None:
        version = event.get("version")
        self._print(
            ("    library: ", "cyan"),
            part(event.get("action"), "cyan", limit=40),
            (" ", ""),
            part(event.get("subagent"), "cyan", limit=80),
            (f" v{version}" if isinstance(version, int) else "", "cyan"),
        )

    def _mcp_server(self, event: dict[str, Any]) -> None:
        # A start is a dim line; a failure or an exit is the one sentence the user must see.
        style = "dim" if event.get("status") == "started" else "yellow"
        self._print(("    mcp: ", style), part(event.get("message"), style, limit=400))

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
            from rich.live import Live
            from rich.spinner import Spinner

            self._spinner = Spinner("dots")
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
        from rich.spinner import Spinner
        from rich.text import Text

        now = time.monotonic()
        parts = [f"{label} {now - since:.1f} s" for label, since in tuple(self._active.values())]
        if self._spinner is None:
            self._spinner = Spinner("dots")
        self._spinner.update(text=Text(" · ".join(parts) or "working", style="dim"))
        return self._spinner

    def _print(self, *line: tuple[str, str]) -> None:
        if self.lines:
            write(self.console, line)

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


def print_result(result: Any, progress: Console | PlainConsole, answer: Console | PlainConsole) -> None:
    """The run's outcome. On a terminal everything goes to one console; otherwise the answer alone goes
    to stdout (what a script captures) and the rest to stderr."""
    colour = "green" if result.status == "success" else "red"
    head = [("\n", ""), (result.status, f"bold {colour}")]
    if result.reason:
        head += [(": ", ""), part(result.reason, newlines=True)]
    write(progress, tuple(head))
    if result.answer:
        if answer is progress:
            write(answer, (("Answer: ", "bold"), part(result.answer, newlines=True)))
        else:
            write(answer, (part(result.answer, newlines=True),))
    if result.output_files:
        files = ", ".join(f"{result.workspace}/{f}" for f in result.output_files)
        write(progress, (("Output files: ", ""), part(files)))
    done = [
        ("created", ", ".join(result.created)),
        ("reused", ", ".join(result.reused)),
        ("saved", ", ".join(f"{n} v{v}" for n, v in result.saved)),
        ("rejected", "; ".join(f"{n}: {r}" for n, r in result.rejected.items())),
    ]
    summary: list[tuple[str, str]] = []
    for index, (label, value) in enumerate(done):
        summary.append((("" if index == 0 else " · ") + f"{label}: ", "bold"))
        summary.append(part(value or "-", limit=500))
    write(progress, tuple(summary))
    total = result.usage + result.subagent_usage
    sim = " (simulated model)" if result.simulated else ""
    steps = (
        f"steps {result.steps} · model calls {result.model_calls} · tokens {total.total_tokens:,} "
        f"(in {total.total_input_tokens:,}, out {total.output_tokens:,}) · ${result.cost_usd:.4f}{sim} · "
        f"{result.duration_s:.1f} s"
    )
    write(progress, ((steps, ""),))
    write(progress, ((f"Run id: {result.run_id}  (agentfactory runs show {result.run_id})", ""),))
