"""`sim`: a deterministic simulated model, for offline demos, CI and the benchmark.

It is honest in three ways:
- It receives exactly what a real provider receives (system prompt, messages, tool definitions) and is
  charged with the one documented tokenizer (`agentfactory.llm.tokens`) on that request and on its own
  response text and tool calls, the same way for every method. It simulates no prompt cache.
- Its knowledge is the capability bank (`agentfactory_bench.sim_bank`): general solutions with trigger
  words. The same task is decomposed into the same capabilities whatever the method, so cost
  differences come from the architecture. A task outside every family gets an honest failure.
- It decides only from what it reads in the conversation: the library matches offered in the first
  message, the traces its tool calls returned. Some capabilities are first written with a realistic
  bug; it fixes them only after a trace shows the failure. It trusts only tested code: a library
  subagent reused unchanged for the last step runs with `final: true`; new or revised code is run and
  read before the answer.

Roles, recognised from the tools offered: Meta-Agent (`create_subagent`), ReAct agent (`run_code`),
evolve reviser (`submit_revision`), lesson extractor (system prompt), and otherwise a subagent's
`llm` tool (deterministic answers from `sim_llm_answer`).
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from agentfactory.llm.registry import ProviderPlugin, ProviderRequest
from agentfactory.llm.tokens import count_output_tokens, count_request_tokens
from agentfactory.llm.types import Message, ModelResponse, StreamCallback, ToolCall, ToolSpec, Usage
from agentfactory_bench import sim_bank

LESSONS_SYSTEM_MARK = "You extract short lessons"
INSPECT_MARK = "# Look at the inputs before writing the solution."
_DATA = re.compile(r'\A<data source="[^"]*">\n(.*)\n</data>\Z', re.S)
_MATCH_LINE = re.compile(r"^- ([a-z0-9-]+) v(\d+) — ", re.M)
_NUMBERED = re.compile(r"^\s*\d+ \| ?(.*)$")


@dataclass
class _Exchange:
    call: ToolCall
    result: str = ""
    is_error: bool = False


@dataclass
class _Reading:
    """What the model has read so far: the task, the offers, and every tool call with its result."""

    task: str
    input_files: list[str]
    offered: dict[str, int]
    exchanges: list[_Exchange] = field(default_factory=list)

    def calls(self, tool: str, name: str | None = None) -> list[_Exchange]:
        return [
            e
            for e in self.exchanges
            if e.call.name == tool and (name is None or (e.call.arguments or {}).get("name") == name)
        ]


def _unwrap(text: str) -> str:
    match = _DATA.match(text)
    return match.group(1) if match else text


def _read(messages: list[Message]) -> _Reading:
    first = messages[0].text if messages else ""
    task_match = re.search(r"<task>\n?(.*?)\n?</task>", first, re.S)
    task = task_match.group(1).strip() if task_match else first.strip()
    files_match = re.search(r"^Input files: (.*)$", first, re.M)
    files = [f.strip() for f in files_match.group(1).split(",")] if files_match else []
    offered = {m.group(1): int(m.group(2)) for m in _MATCH_LINE.finditer(first)}
    reading = _Reading(task, files, offered)
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


def _ok(exchange: _Exchange) -> bool:
    """A run worked: status ok and, as a careful model checks, no NaN where numbers should be."""
    if exchange.is_error or not exchange.result.startswith("status: ok"):
        return False
    return not re.search(r"result: .*\bNaN\b", exchange.result)


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
        if "create_subagent" in names:
            text, calls = self._meta(_read(messages))
        elif "run_code" in names:
            text, calls = self._react(_read(messages), system)
        elif "submit_revision" in names:
            text, calls = self._revise(messages)
        elif system.startswith(LESSONS_SYSTEM_MARK):
            text, calls = self._lessons(messages), []
        else:
            prompt = messages[-1].text if messages else ""
            text, calls = sim_bank.sim_llm_answer(prompt, system or None), []
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

    # -- Meta-Agent --------------------------------------------------------------------------------

    def _meta(self, r: _Reading) -> tuple[str, list[ToolCall]]:
        plan = sim_bank.plan(r.task, r.input_files)
        if plan is None:
            return "No known approach fits this task.", [
                self._failed("I could not solve this task: it is outside what I know how to do.", save=[])
            ]
        inputs = plan.inputs
        result: dict[str, Any] | None = None
        for index, cap in enumerate(plan.chain):
            if index:
                inputs = _next_inputs(plan, index, result, inputs, r)
                if inputs is None:
                    return self._give_up(r, f"could not prepare the inputs of {cap.name}")
            step = self._meta_step(r, cap, inputs, ends_plan=index == len(plan.chain) - 1)
            if isinstance(step, tuple):
                return step
            result = step
        save = [
            n
            for n in dict.fromkeys(
                [
                    e.call.arguments["name"]
                    for e in r.calls("create_subagent") + r.calls("modify_subagent")
                    if not e.is_error
                ]
            )
            if any(_ok(x) for x in r.calls("run_subagent", n))
        ]
        answer = _final_answer(plan, result, inputs)
        note = f"Done; saving {', '.join(save)}." if save else "Done."
        return note, [self._call("finish", answer=answer, save=save)]

    def _meta_step(
        self, r: _Reading, cap: Any, inputs: dict[str, Any], ends_plan: bool
    ) -> dict[str, Any] | tuple:
        """The result of `cap` on `inputs` if already obtained, else the next action (text, calls).

        A library subagent reused unchanged for the plan's last step answers the task by itself, so
        it runs with final=True: its result is the answer. New or revised code is run plainly and
        checked first, as a careful model would."""
        name = cap.name
        runs = [e for e in r.calls("run_subagent", name) if (e.call.arguments or {}).get("inputs") == inputs]
        created = [e for e in r.calls("create_subagent", name) if not e.is_error]
        modified = [e for e in r.calls("modify_subagent", name) if not e.is_error]
        reuse = name in r.offered and not created and not modified
        final = {"final": True} if reuse and ends_plan else {}
        run_call = self._call("run_subagent", name=name, inputs=inputs, **final)
        if not runs:
            if created or name in r.offered:
                return f"{'Reusing' if reuse else 'Running'} {name}.", [run_call]
            code = cap.buggy_code or cap.code
            create = self._call(
                "create_subagent",
                name=name,
                description=cap.description,
                code=code,
                tools=list(cap.tools),
                inputs_schema=cap.inputs_schema or None,
            )
            return f"Writing {name} as a general subagent, then running it.", [create, run_call]
        last = runs[-1]
        if _ok(last):
            return parse_result(last.result) or {}
        last_index = r.exchanges.index(last)
        if any(r.exchanges.index(m) > last_index for m in modified):
            return f"Running the revised {name}.", [run_call]
        current = self._current_code(r, name)
        if current is None:
            viewed = [e for e in r.calls("view_subagent", name) if r.exchanges.index(e) > last_index]
            if not viewed:
                return f"{name} failed; reading its code.", [self._call("view_subagent", name=name)]
            return self._give_up(r, f"{name} failed and its code could not be read")
        if current == cap.code:
            return self._give_up(r, f"{name} fails on these inputs and I know no fix")
        fix = self._fix(current, cap)
        reason = _reason(last.result)
        return f"The trace shows the bug; fixing {name}.", [
            self._call("modify_subagent", name=name, reason=reason, **fix),
            self._call("run_subagent", name=name, inputs=inputs),
        ]

    def _current_code(self, r: _Reading, name: str) -> str | None:
        code = None
        for e in r.exchanges:
            args = e.call.arguments or {}
            if args.get("name") != name or e.is_error:
                continue
            if e.call.name == "create_subagent":
                code = args.get("code")
            elif e.call.name == "view_subagent":
                code = _code_from_view(e.result)
            elif e.call.name == "modify_subagent" and code is not None:
                if "code" in args:
                    code = args["code"]
                else:
                    for edit in args.get("edits", []):
                        code = code.replace(edit["old"], edit["new"], 1)
        return code

    def _fix(self, current: str, cap: Any) -> dict[str, Any]:
        """Small edits when the current code is the known draft, the whole module otherwise."""
        if current == cap.buggy_code:
            return {"edits": [{"old": new, "new": old} for old, new in cap.buggy_edits]}
        return {"code": cap.code}

    def _give_up(self, r: _Reading, why: str) -> tuple[str, list[ToolCall]]:
        return f"Stopping: {why}.", [self._failed(f"I could not complete the task: {why}.", save=[])]

    # -- ReAct agent -------------------------------------------------------------------------------

    def _react(self, r: _Reading, system: str) -> tuple[str, list[ToolCall]]:
        plan = sim_bank.plan(r.task, r.input_files)
        if plan is None:
            return "Thought: I do not know how to approach this task.", [
                self._failed("I could not solve this task: it is outside what I know how to do.")
            ]
        runs = r.calls("run_code")
        if not runs and (r.input_files or _urls(plan.inputs)):
            code = _inspection_code(r.input_files, _urls(plan.inputs))
            return (
                "Thought: I should look at the inputs before writing the solution.",
                [self._call("run_code", code=code, inputs={})],
            )
        inputs = plan.inputs
        result: dict[str, Any] | None = None
        for index, cap in enumerate(plan.chain):
            if index:
                inputs = _next_inputs(plan, index, result, inputs, r)
                if inputs is None:
                    return "Thought: I cannot continue.", [self._failed("I could not finish.")]
            known_bug = f"[{cap.name}]" in system  # a lesson from an earlier task warns about the draft
            attempts = [
                e
                for e in runs
                if (e.call.arguments or {}).get("inputs") == inputs
                and (e.call.arguments or {}).get("code") in (cap.code, cap.buggy_code)
            ]
            if not attempts:
                code = cap.code if known_bug or not cap.buggy_code else cap.buggy_code
                return (
                    f"Thought: now I write code for: {cap.description.split('.')[0].lower()}.",
                    [self._call("run_code", code=code, inputs=inputs)],
                )
            last = attempts[-1]
            if not _ok(last):
                if (last.call.arguments or {}).get("code") == cap.code:
                    return "Thought: this fails and I know no fix.", [
                        self._failed("I could not complete the task.")
                    ]
                return (
                    "Thought: the traceback shows the bug; I rewrite the code with the fix.",
                    [self._call("run_code", code=cap.code, inputs=inputs)],
                )
            result = parse_result(last.result) or {}
        answer = _final_answer(plan, result, inputs)
        return "Thought: I have everything for the answer.", [self._call("finish", answer=answer)]

    # -- lessons and revisions ---------------------------------------------------------------------

    def _lessons(self, messages: list[Message]) -> str:
        text = messages[-1].text if messages else ""
        task = re.search(r"<task>\n?(.*?)\n?</task>", text, re.S)
        matches = sim_bank.match(task.group(1).strip() if task else text)
        lessons = []
        for cap in sim_bank.BANK.chain(matches[0][0]) if matches else ():
            if cap.buggy_code and cap.buggy_code in text:
                lessons.append(f"- [{cap.name}] {cap.bug}")
        return "\n".join(lessons) or "- No new lesson."

    def _revise(self, messages: list[Message]) -> tuple[str, list[ToolCall]]:
        text = messages[0].text if messages else ""
        match = re.search(r"Revise the subagent `([a-z0-9-]+)`", text)
        try:
            cap = sim_bank.get(match.group(1)) if match else None
        except KeyError:
            cap = None
        if cap is None:
            return "I do not know this subagent well enough to fix it.", []
        return "Fixing the cause shown in the trace.", [
            self._call(
                "submit_revision", code=cap.code, reason="Fixed the failure shown in the trace; general fix."
            )
        ]


def _next_inputs(
    plan: Any, index: int, result: dict[str, Any] | None, inputs: dict[str, Any], r: _Reading
) -> dict[str, Any] | None:
    """Inputs of chain[index] from the previous step's result; None when the result it needs was not
    visible (cut from the preview)."""
    try:
        return plan.next_inputs(index - 1, result or {}, inputs, r.task, r.input_files)
    except (KeyError, TypeError, ValueError):
        return None


def _final_answer(plan: Any, result: dict[str, Any] | None, inputs: dict[str, Any]) -> str:
    """The subagent's own `answer` when the trace shows it, else the plan's phrasing of the result,
    else the visible result itself when a field that phrasing needs was cut from the preview."""
    text = (result or {}).get("answer")
    if isinstance(text, str) and text.strip():
        return text.strip()
    try:
        return plan.answer(result or {}, inputs)
    except (KeyError, TypeError, ValueError):
        return "Done; the result is: " + json.dumps(result, default=str)[:1000]


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


def _urls(inputs: dict[str, Any]) -> list[str]:
    return [v for v in inputs.values() if isinstance(v, str) and v.startswith(("http://", "https://"))]


def _inspection_code(files: list[str], urls: list[str]) -> str:
    return f"""{INSPECT_MARK}
def run(**inputs):
    seen = {{}}
    for path in {files!r}:
        with open(path, encoding="utf-8", errors="replace") as fh:
            head = [next(fh, "") for _ in range(5)]
        seen[path] = "".join(head)[:400]
        print(path, "->", seen[path])
    if {urls!r}:
        from agentfactory_tools import web_fetch
        for url in {urls!r}:
            page = web_fetch(url)
            seen[url] = page.get("title", "") + " | " + page.get("text", "")[:400]
            print(url, "->", seen[url])
    return {{"inspected": sorted(seen)}}
"""


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
