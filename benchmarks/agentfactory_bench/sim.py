"""`sim`: a deterministic simulated model, an oracle of equal competence, for the benchmark and demos.

It does not read task text to decide what to do. The benchmark harness tells it which suite task it is
serving (`serving`); the task declares the capabilities it needs (the suite author's reference code),
the inputs of each call, how the answer is phrased and what a subagent's `llm` tool answers. Every
method is served by the same rules (`agentfactory_bench.rules`): the same code, the same inspection of
the inputs before writing, the same seeded first-draft bugs fixed with edits from the trace.

Outside a served task (`agentfactory run --model sim "..."`) it recognises a core-suite task only by its
exact text; any other text ends with an honest `finish` status failed (`task_failed`).

It receives exactly what a real provider receives and is charged with the one documented tokenizer
(`agentfactory.llm.tokens`) on that request and on its own response, the same way for every method. It
simulates no prompt cache.

Roles, recognised from the tools offered: Meta-Agent (`create_subagent`), ReAct agent (`run_code`),
evolve reviser (`submit_revision`), lesson extractor (system prompt), and otherwise a subagent's `llm`
tool (the served task's declared answers).
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from agentfactory.llm.registry import ProviderPlugin, ProviderRequest
from agentfactory.llm.tokens import count_output_tokens, count_request_tokens
from agentfactory.llm.types import Message, ModelResponse, StreamCallback, ToolCall, ToolSpec, Usage
from agentfactory_bench.rules import INSPECT_DESCRIPTION, INSPECT_NAME, RULES, Rules, inspection_code
from agentfactory_bench.suite import BASE_URL, Capability, Suite, Task, reverse

# Details of the product's prompts and tool results the simulator reads (contract-tested in
# tests/bench/test_sim_contract.py): the lesson extractor's system prompt, the first message's task
# tags and library-match lines, the trace's status/result lines, view_subagent's numbered code and the
# evolve prompt's "Revise the subagent `name`".
LESSONS_SYSTEM_MARK = "You extract short lessons"
_TASK = re.compile(r"<task>\n?(.*?)\n?</task>", re.S)
_DATA = re.compile(r'\A<data source="[^"]*">\n(.*)\n</data>\Z', re.S)
_REVISE = re.compile(r"Revise the subagent `([a-z0-9-]+)`")
_MATCH_LINE = re.compile(r"^- ([a-z0-9-]+) v(\d+) — ", re.M)
_NUMBERED = re.compile(r"^\s*\d+ \| ?(.*)$")
NOT_A_SUITE_TASK = (
    "I could not solve this task: the simulated model serves only benchmark suite tasks, and this is "
    "not one of them."
)


# -- which task is served ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Serving:
    """The suite task the simulator is serving, the fixture server's URL and the rules in force."""

    task: Task
    suite: Suite
    base_url: str | None = None
    rules: Rules = RULES

    def capability(self, name: str) -> Capability:
        return self.suite.capability(name)

    def inputs(self, name: str) -> dict[str, Any]:
        return _render(self.task.inputs.get(name, {}), self.base_url)

    def code(self, name: str) -> str:
        """The code the task needs for `name`: its reference code with the task's revision."""
        return self.capability(name).revised(self.task.revise.get(name))

    def buggy(self, name: str) -> str:
        return self.capability(name).draft(self.task.revise.get(name))

    def fresh_write(self, name: str, warned: bool = False) -> str:
        """What a fresh write of `name` contains: the draft with its bug when the seeded draw says so."""
        cap = self.capability(name)
        if cap.bug and self.rules.has_bug(self.task.id, name, warned):
            return self.buggy(name)
        return self.code(name)

    def inspect_targets(self) -> tuple[list[str], list[str]]:
        """The task's input files (as the run sees them) and the URLs its first capability reads."""
        files = [f"inputs/{n}" for n in self.task.input_names]
        first = self.inputs(self.task.capabilities[0]) if self.task.capabilities else {}
        urls = [v for v in first.values() if isinstance(v, str) and v.startswith(("http://", "https://"))]
        return files, urls

    def answer(self, result: dict[str, Any] | None) -> str:
        """The declared phrasing over the last result; the visible result itself when a field it
        needs was cut from the preview."""
        try:
            text = self.task.answer.format_map(result or {})
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            text = ""
        return text.strip() or "Done; the result is: " + json.dumps(result, default=str)[:1000]

    def llm_answer(self, prompt: str) -> str | None:
        """The declared answer whose `when` strings all occur in the prompt (the most specific one)."""
        hits = [a for a in self.task.llm if all(w in prompt for w in a.when)]
        if not hits:
            return None
        return max(hits, key=lambda a: sum(len(w) for w in a.when)).answer


_SERVING: Serving | None = None


@contextlib.contextmanager
def serving(
    task: Task, suite: Suite, *, base_url: str | None = None, rules: Rules = RULES
) -> Iterator[Serving]:
    """Serve `task` for the duration: every simulated model call (orchestrator, subagents' llm tool,
    lessons) answers for it. Set by the harness around one task's run."""
    global _SERVING
    previous = _SERVING
    _SERVING = Serving(task, suite, base_url, rules)
    try:
        yield _SERVING
    finally:
        _SERVING = previous


def current() -> Serving | None:
    return _SERVING


_REVISING: Suite | None = None


@contextlib.contextmanager
def revising(suite: Suite) -> Iterator[Suite]:
    """For the duration, the evolve reviser role revises a subagent named like one of the suite's
    capabilities to its reference code (benchmarks/evolve_figures.py); otherwise it declines."""
    global _REVISING
    previous = _REVISING
    _REVISING = suite
    try:
        yield suite
    finally:
        _REVISING = previous


@cache
def _core_suite() -> Suite | None:
    from agentfactory_bench import CORE_SUITE, load_suite

    try:
        return load_suite(CORE_SUITE)
    except Exception:  # an unreadable core suite serves nothing; the caller fails honestly
        return None


def _served(messages: list[Message]) -> Serving | None:
    """The task set by the harness; else a core-suite task whose exact text (any server URL in place
    of {base_url}) is the run's task."""
    if _SERVING is not None:
        return _SERVING
    match = _TASK.search(messages[0].text if messages else "")
    suite = _core_suite()
    if match is None or suite is None:
        return None
    text = match.group(1).strip()
    for task in suite.tasks:
        pattern = re.escape(task.text).replace(re.escape(BASE_URL), r"(https?://[^\s/]+)")
        found = re.fullmatch(pattern, text)
        if found and task.capabilities:
            return Serving(task, suite, found.group(1) if found.groups() else None)
    return None


def _render(value: Any, base_url: str | None) -> Any:
    if isinstance(value, str):
        return value.replace(BASE_URL, base_url.rstrip("/")) if base_url else value
    if isinstance(value, list):
        return [_render(v, base_url) for v in value]
    if isinstance(value, dict):
        return {k: _render(v, base_url) for k, v in value.items()}
    return value


# -- what the model has read -----------------------------------------------------------------------------


@dataclass
class _Exchange:
    call: ToolCall
    result: str = ""
    is_error: bool = False

    @property
    def args(self) -> dict[str, Any]:
        return self.call.arguments or {}


@dataclass
class _Reading:
    """The offers of the first message, and every tool call with its result."""

    offered: dict[str, int]
    exchanges: list[_Exchange] = field(default_factory=list)

    def calls(self, tool: str, name: str | None = None, key: str = "name") -> list[_Exchange]:
        return [
            e for e in self.exchanges if e.call.name == tool and (name is None or e.args.get(key) == name)
        ]

    def after(self, exchange: _Exchange, found: list[_Exchange]) -> list[_Exchange]:
        index = self.exchanges.index(exchange)
        return [e for e in found if self.exchanges.index(e) > index]


def _unwrap(text: str) -> str:
    match = _DATA.match(text)
    return match.group(1) if match else text


def _read(messages: list[Message]) -> _Reading:
    first = messages[0].text if messages else ""
    reading = _Reading({m.group(1): int(m.group(2)) for m in _MATCH_LINE.finditer(first)})
    by_id: dict[str, _Exchange] = {}
    for message in messages:
        for call in message.tool_calls:
            by_id[call.id] = _Exchange(call)
            reading.exchanges.append(by_id[call.id])
        for result in message.tool_results:
            if result.tool_call_id in by_id:
                by_id[result.tool_call_id].result = _unwrap(result.content)
                by_id[result.tool_call_id].is_error = result.is_error
    return reading


def parse_result(trace_text: str) -> dict[str, Any] | None:
    """The result a trace shows: the `answer:` line and the JSON after `result:`, or its readable scalar
    fields if cut."""
    match = re.search(r"^result: (.*)$", trace_text, re.M)
    if not match:
        return None
    text = match.group(1)
    fields: dict[str, Any] = {}
    answer = re.search(r"^answer: (.*)$", trace_text, re.M)
    if answer:  # shown whole as a JSON string; a cut one is not read
        with contextlib.suppress(json.JSONDecodeError):
            fields["answer"] = json.loads(answer.group(1))
    try:
        value = json.loads(text)
        return {**fields, **value} if isinstance(value, dict) else {**fields, "value": value}
    except json.JSONDecodeError:
        pass
    for key, raw in re.findall(
        r'"([^"]+)":\s*("(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null)', text
    ):
        fields.setdefault(key, json.loads(raw))
    return fields or None


class SimProvider:
    """The simulated model. `spec` is "sim"; every response is marked simulated."""

    simulated = True

    def __init__(self, spec: str = "sim", settings: Any = None):
        self.spec = spec
        self.model = "sim"
        self._ids = 0

    # -- the provider interface ------------------------------------------------------------------

    def complete(
        self,
        system: str,
        messages: list[Message],
        tools: list[ToolSpec] | None = None,
        max_tokens: int = 4096,
        *,
        on_stream: StreamCallback | None = None,  # accepted and ignored: the simulator does not stream
    ) -> ModelResponse:
        started = time.perf_counter()
        names = {t.name for t in tools or []}
        served = _served(messages)
        if "create_subagent" in names:
            text, calls = self._meta(_read(messages), served)
        elif "run_code" in names:
            text, calls = self._react(_read(messages), served, system)
        elif "submit_revision" in names:
            text, calls = self._revise(messages)
        elif system.startswith(LESSONS_SYSTEM_MARK):
            text, calls = self._lessons(messages, served), []
        else:
            prompt = messages[-1].text if messages else ""
            answer = served.llm_answer(prompt) if served is not None else None
            text, calls = answer if answer is not None else "I have no answer to this prompt.", []
        usage = Usage(
            input_tokens=count_request_tokens(system, messages, tools or []),
            output_tokens=count_output_tokens(text, calls),
        )
        return ModelResponse(
            text=text,
            tool_calls=calls,
            stop_reason="tool_use" if calls else "end_turn",
            usage=usage,
            model=self.model,
            latency_s=time.perf_counter() - started,
            simulated=True,
        )

    def _call(self, tool: str, /, **arguments: Any) -> ToolCall:
        self._ids += 1
        raw = json.dumps(arguments, ensure_ascii=False)
        return ToolCall(id=f"sim_{self._ids}", name=tool, arguments=arguments, raw_arguments=raw)

    def _failed(self, answer: str, **arguments: Any) -> ToolCall:
        """`finish` for a task not done: every role says so through the tool's status, not only in words."""
        return self._call("finish", answer=answer, status="failed", reason=answer, **arguments)

    def _give_up(self, why: str, **arguments: Any) -> tuple[str, list[ToolCall]]:
        return f"Stopping: {why}.", [self._failed(f"I could not complete the task: {why}.", **arguments)]

    # -- Meta-Agent --------------------------------------------------------------------------------

    def _meta(self, r: _Reading, s: Serving | None) -> tuple[str, list[ToolCall]]:
        if s is None or not s.task.capabilities:
            return "This is not a task I can serve.", [self._failed(NOT_A_SUITE_TASK, save=[])]
        result: dict[str, Any] | None = None
        names = s.task.capabilities
        for index, name in enumerate(names):
            step = self._meta_step(r, s, name, ends=index == len(names) - 1)
            if isinstance(step, tuple):
                return step
            result = step
        written = [
            e.args["name"] for e in r.calls("create_subagent") + r.calls("modify_subagent") if not e.is_error
        ]
        save = [
            n
            for n in dict.fromkeys(written)
            if n != INSPECT_NAME and any(_ok(x) for x in r.calls("run_subagent", n))
        ]
        note = f"Done; saving {', '.join(save)}." if save else "Done."
        return note, [self._call("finish", answer=s.answer(result), save=save)]

    def _meta_step(self, r: _Reading, s: Serving, name: str, ends: bool) -> dict[str, Any] | tuple:
        """The result of `name` on the task's inputs if already obtained, else the next action."""
        cap = s.capability(name)
        inputs = s.inputs(name)
        runs = [e for e in r.calls("run_subagent", name) if e.args.get("inputs") == inputs]
        created = [e for e in r.calls("create_subagent", name) if not e.is_error]
        modified = [e for e in r.calls("modify_subagent", name) if not e.is_error]
        viewed = r.calls("view_subagent", name)
        reuse = name in r.offered and not created
        run = self._call("run_subagent", name=name, inputs=inputs)
        if not runs:
            if created:
                return f"Running {name}.", [run]
            if reuse:
                if s.rules.view_before_reuse and not viewed:
                    return f"Reading {name} before reusing it.", [self._call("view_subagent", name=name)]
                revision = s.task.revise.get(name)
                if revision and not modified:
                    edits = [{"old": e.old, "new": e.new} for e in cap.revisions[revision]]
                    return f"This task needs {name} revised ({revision}).", [
                        self._call("modify_subagent", name=name, edits=edits, reason=f"Revise: {revision}"),
                        run,
                    ]
                if ends and not modified:  # a library subagent reused unchanged answers the task
                    run = self._call("run_subagent", name=name, inputs=inputs, final=True)
                return f"Reusing {name}.", [run]
            files, urls = s.inspect_targets()
            if (files or urls) and not r.calls("create_subagent", INSPECT_NAME):
                return "Looking at the inputs before writing the solution.", [
                    self._call(
                        "create_subagent",
                        name=INSPECT_NAME,
                        description=INSPECT_DESCRIPTION,
                        code=inspection_code(files, urls),
                        tools=["web_fetch"] if urls else [],
                    ),
                    self._call("run_subagent", name=INSPECT_NAME, inputs={}),
                ]
            if r.calls("create_subagent", name):  # written, and refused: no second guess
                return self._give_up(f"{name} could not be created", save=[])
            schema = {"inputs_schema": cap.inputs_schema} if cap.inputs_schema else {}
            create = self._call(
                "create_subagent",
                name=name,
                description=cap.description,
                code=s.fresh_write(name),
                tools=list(cap.tools),
                **schema,
            )
            return f"Writing {name} as a general subagent, then running it.", [create, run]
        last = runs[-1]
        if _ok(last):
            return parse_result(last.result) or {}
        if r.after(last, modified):
            return f"Running the revised {name}.", [run]
        current = _current_code(r, name)
        if current is None:
            if not r.after(last, viewed):
                return f"{name} failed; reading its code.", [self._call("view_subagent", name=name)]
            return self._give_up(f"{name} failed and its code could not be read", save=[])
        if cap.bug and current == s.buggy(name):
            edits = [{"old": e.old, "new": e.new} for e in reverse(cap.bug)]
            return f"The trace shows the bug; fixing {name}.", [
                self._call("modify_subagent", name=name, edits=edits, reason=_reason(last.result)),
                run,
            ]
        return self._give_up(f"{name} fails on these inputs and I know no fix", save=[])

    # -- ReAct agent -------------------------------------------------------------------------------

    def _react(self, r: _Reading, s: Serving | None, system: str) -> tuple[str, list[ToolCall]]:
        if s is None or not s.task.capabilities:
            return "Thought: this is not a task I can serve.", [self._failed(NOT_A_SUITE_TASK)]
        result: dict[str, Any] | None = None
        for name in s.task.capabilities:
            cap = s.capability(name)
            path, inputs = cap.filename, s.inputs(name)
            writes = [e for e in r.calls("write_file", path, key="path") if not e.is_error]
            run = self._call("run_code", path=path, inputs=inputs)
            if not writes:
                if r.calls("write_file", path, key="path"):  # written, and refused: no second guess
                    return "Thought: I cannot write the file.", [self._failed(f"I could not write {path}.")]
                files, urls = s.inspect_targets()
                if (files or urls) and not [e for e in r.calls("run_code") if "code" in e.args]:
                    return "Thought: I should look at the inputs before writing the solution.", [
                        self._call("run_code", code=inspection_code(files, urls), inputs={})
                    ]
                warned = f"[{name}]" in system  # a lesson from an earlier task names this draft's bug
                code = s.fresh_write(name, warned=warned)
                return f"Thought: now I write {path} for: {cap.description.split('.')[0].lower()}.", [
                    self._call("write_file", path=path, content=code),
                    run,
                ]
            attempts = [e for e in r.calls("run_code", path, key="path") if e.args.get("inputs") == inputs]
            if not attempts:
                return f"Thought: I run {path}.", [run]
            last = attempts[-1]
            if not _ok(last):
                edits = [e for e in r.calls("edit_file", path, key="path") if not e.is_error]
                if r.after(last, edits):
                    return f"Thought: I run the fixed {path}.", [run]
                current = _file_content(r, path)
                if cap.bug and current == s.buggy(name):
                    fix = [{"old": e.old, "new": e.new} for e in reverse(cap.bug)]
                    return "Thought: the traceback shows the bug; I fix it with an edit.", [
                        self._call("edit_file", path=path, edits=fix),
                        run,
                    ]
                return "Thought: this fails and I know no fix.", [
                    self._failed(f"I could not complete the task: {path} fails on these inputs.")
                ]
            result = parse_result(last.result) or {}
        return "Thought: I have everything for the answer.", [self._call("finish", answer=s.answer(result))]

    # -- evolve reviser ----------------------------------------------------------------------------

    def _revise(self, messages: list[Message]) -> tuple[str, list[ToolCall]]:
        match = _REVISE.search(messages[0].text if messages else "")
        suite = _REVISING if _REVISING is not None else (_SERVING.suite if _SERVING is not None else None)
        cap = suite.capabilities.get(match.group(1)) if suite is not None and match else None
        if cap is None:
            return "I do not know this subagent well enough to revise it.", []
        return "Back to the reference code, which handles the failure shown in the trace.", [
            self._call("submit_revision", code=cap.code, reason="Fixed the failure shown in the trace.")
        ]

    # -- lessons -----------------------------------------------------------------------------------

    def _lessons(self, messages: list[Message], s: Serving | None) -> str:
        """A lesson per capability whose declared first-draft bug shows in the failed attempts."""
        text = messages[-1].text if messages else ""
        lessons = []
        for name in s.task.capabilities if s is not None else ():
            cap = s.capability(name)
            if cap.bug and s.buggy(name) in text:
                lessons.append(f"- [{name}] {cap.bug_about}")
        return "\n".join(lessons) or "- No new lesson."


def _ok(exchange: _Exchange) -> bool:
    """A run worked: status ok and, as a careful model checks, no NaN where numbers should be."""
    if exchange.is_error or not exchange.result.startswith("status: ok"):
        return False
    return not re.search(r"result: .*\bNaN\b", exchange.result)


def _current_code(r: _Reading, name: str) -> str | None:
    """A subagent's code as the conversation shows it: created or viewed, then modified."""
    code = None
    for e in r.exchanges:
        if e.args.get("name") != name or e.is_error:
            continue
        if e.call.name == "create_subagent":
            code = e.args.get("code")
        elif e.call.name == "view_subagent":
            code = _code_from_view(e.result)
        elif e.call.name == "modify_subagent" and code is not None:
            if "code" in e.args:
                code = e.args["code"]
            else:
                for edit in e.args.get("edits", []):
                    code = code.replace(edit["old"], edit["new"], 1)
    return code


def _file_content(r: _Reading, path: str) -> str | None:
    """A ReAct file's content as the conversation shows it: written, then edited."""
    content = None
    for e in r.exchanges:
        if e.args.get("path") != path or e.is_error:
            continue
        if e.call.name == "write_file":
            content = e.args.get("content")
        elif e.call.name == "edit_file" and content is not None:
            for edit in e.args.get("edits", []):
                content = content.replace(edit["old"], edit["new"], 1)
    return content


def _reason(trace: str) -> str:
    if re.search(r"result: .*\bNaN\b", trace):
        return "Fix NaN results: handle missing values in the input"
    for line in trace.splitlines()[1:]:
        if line and not line.startswith((" ", "result:", "output files", "tool ")):
            return f"Fix {line.strip()[:120]}"
    return "Fix the failure shown in the trace"


def _code_from_view(text: str) -> str | None:
    if "--- " not in text:
        return None
    body = text.rsplit(".py ---\n", 1)[-1]
    lines = []
    for line in body.splitlines():
        match = _NUMBERED.match(line)
        if match is None:
            return None
        lines.append(match.group(1))
    return "\n".join(lines) + "\n"


def create_provider(spec: str, settings: Any) -> SimProvider:
    return SimProvider(spec, settings)


def _create(request: ProviderRequest) -> SimProvider:
    return SimProvider(request.spec, request.settings)


PLUGIN = ProviderPlugin(
    name="sim",
    spec="sim",
    module="agentfactory_bench.sim",
    about="The simulated model (offline demo and benchmark; its figures are labelled simulated).",
    create=_create,
)
