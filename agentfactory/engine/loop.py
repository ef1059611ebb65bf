"""The tool-calling loop shared by every orchestrator (the Meta-Agent, evolve, the benchmark baselines).

Ask the model, validate each tool call, dispatch it, return the result as delimited data, and stop on
a finishing tool, a budget, or a model that stops making progress. The budget is checked before each
model turn and before each tool call; each tool call counts as a step, so `max_steps` also bounds a
turn that asks for many tool calls at once. Sharing one loop means every method
is accounted for, budgeted and stopped the same way; only the prompt and the tools differ.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import field
from typing import Any

from agentfactory import events as ev
from agentfactory.config import ModelSettings
from agentfactory.engine.budget import Budget
from agentfactory.engine.compaction import Compactor
from agentfactory.errors import (
    AgentFactoryError,
    AuthenticationError,
    BudgetExhausted,
    ContextWindowExceeded,
    ProviderError,
)
from agentfactory.llm.models import limits_for
from agentfactory.llm.types import Message, ModelResponse, ToolCall, ToolResult, ToolSpec
from agentfactory.llm.validation import check_tool_call
from agentfactory.records import record

MAX_NO_TOOL_TURNS = 2  # nudges before a model that never calls a tool is stopped
MAX_INVALID_CALLS = 5  # consecutive invalid tool calls before the run stops
MAX_REPEATED_FAILURES = 3  # the same failing call (name + arguments) this often means a loop
MIN_OUTPUT_TOKENS = 1024  # output tokens a call asks for even when the window is nearly full
ARGUMENTS_PREVIEW = 400  # characters of a tool call's arguments kept in its events, cut between values


@record
class Outcome:
    """What a tool returns to the loop: text for the model, and whether the run is finished."""

    text: str
    is_error: bool = False
    finished: bool = False
    answer: str | None = None
    failure: str = ""  # a finishing tool that says the task was not done: why (the run is task_failed)
    data: dict[str, Any] = field(default_factory=dict)


def declared_failure(status: str, reason: str, answer: str) -> str:
    """Why a finishing tool said the task was not done ("" when it did not): the reason, else the
    answer, else a plain sentence. Every orchestrator's `finish` reads its status through this."""
    if status != "failed":
        return ""
    return " ".join(reason.split()) or " ".join((answer or "").split()) or "the task was not done"


@record
class LoopResult:
    status: (
        str  # success, task_failed, budget_exhausted, interrupted, no_progress, provider_error, config_error
    )
    reason: str
    answer: str | None
    steps: int
    messages: list[Message]


def wrap_data(source: str, text: str) -> str:
    """Tool output reaches the model as data between delimiters it cannot close from inside."""
    safe = text.replace("</data", "<\\/data")
    return f'<data source="{source}">\n{safe}\n</data>'


def preview(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} chars)"


def run_tool_loop(
    provider: Any,
    system: str,
    first_message: str,
    tools: list[ToolSpec],
    dispatch: Callable[[str, dict[str, Any]], Outcome],
    budget: Budget,
    emit: Callable[..., Any],
    max_output_tokens: int | None = None,
    *,
    models: ModelSettings | None = None,
    code_tools: tuple[str, ...] = (),
) -> LoopResult:
    """Run the loop. `max_output_tokens` None: the model's default from `llm.models`; `models` (the
    settings' models group; default: the metered provider's) give the context window and the share at
    which to compact;
    `code_tools`: the tools whose `code` argument a later call for the same name supersedes (see
    `Compactor`)."""
    messages = [Message.user(first_message)]
    no_tool_turns = invalid_streak = 0
    failing_calls: dict[str, int] = {}
    # A metered provider holding this budget checks and charges it on every call (the one limit check
    # every model call passes, the subagents' included); a bare provider is charged here.
    charged_by_provider = getattr(provider, "budget", None) is budget
    if models is None:  # a metered provider carries the models group it was built with
        carried = getattr(provider, "models", None)
        models = carried if isinstance(carried, ModelSettings) else ModelSettings()
    spec = str(getattr(provider, "spec", "") or "")
    limits = limits_for(spec)
    window = models.context_window or limits.context_window
    compactor = Compactor(window, models.compact_at, code_tools=tuple(code_tools))
    asker = _Asker(provider, system, tools, budget, emit, compactor, charged_by_provider)
    asker.max_tokens = max_output_tokens or models.max_output_tokens or limits.default_output
    asker.ceiling = max(asker.max_tokens, limits.max_output)
    try:
        while True:
            exhausted = budget.exhausted()
            if exhausted:
                return LoopResult("budget_exhausted", exhausted, None, budget.steps, messages)
            budget.step()
            response = asker.ask(messages, budget.steps)
            messages.append(response.to_message())
            if response.stop_reason == "refusal":  # the provider's content refusal: asking again won't help
                said = " ".join((response.text or "").split())[:500] or "no reason given"
                return LoopResult(
                    "task_failed", f"The model refused the request: {said}", None, budget.steps, messages
                )
            if response.stop_reason == "max_tokens" and response.tool_calls:
                # Cut even with the larger limit: nothing of it runs; the model is told to write less.
                messages.append(Message(role="user", tool_results=_truncated(response, asker.last_limit)))
                invalid_streak += 1
                if invalid_streak >= MAX_INVALID_CALLS:
                    return LoopResult(
                        "no_progress",
                        f"{invalid_streak} tool calls in a row were cut at the output limit",
                        None,
                        budget.steps,
                        messages,
                    )
                continue
            if not response.tool_calls:
                no_tool_turns += 1
                if no_tool_turns > MAX_NO_TOOL_TURNS:
                    return LoopResult(
                        "no_progress",
                        "the model stopped calling tools without finishing",
                        None,
                        budget.steps,
                        messages,
                    )
                messages.append(Message.user("Continue with a tool call; call finish(answer) when done."))
                continue
            no_tool_turns = 0
            results, finished, stopped = [], None, None
            for index, call in enumerate(response.tool_calls):
                # Every tool call is a step: the turn's model call paid for its first one, each further
                # call takes one more, and none starts once the budget (time, tokens, cost) is spent.
                if stopped is None:
                    stopped = budget.exhausted(steps=index > 0)
                    if stopped is None and index > 0:
                        budget.step()
                if stopped is not None:
                    text = f"Not run: budget exhausted ({stopped})."
                    results.append(ToolResult(call.id, wrap_data(call.name, text), True))
                    continue
                started = time.perf_counter()
                outcome = _call_tool(call, tools, dispatch, emit, budget.steps)
                compactor.note(call.id, _status_line(call, outcome, time.perf_counter() - started))
                results.append(ToolResult(call.id, wrap_data(call.name, outcome.text), outcome.is_error))
                invalid_streak = invalid_streak + 1 if outcome.data.get("invalid") else 0
                key = call.name + json.dumps(call.arguments, sort_keys=True, default=str)
                failing_calls[key] = failing_calls.get(key, 0) + 1 if outcome.is_error else 0
                if outcome.finished:
                    finished = outcome
                    break
            messages.append(Message(role="user", tool_results=results))
            if finished is not None:
                return _finished(finished, budget.steps, messages)
            if stopped is not None:
                return LoopResult("budget_exhausted", stopped, None, budget.steps, messages)
            if invalid_streak >= MAX_INVALID_CALLS:
                return LoopResult(
                    "no_progress",
                    f"{invalid_streak} invalid tool calls in a row",
                    None,
                    budget.steps,
                    messages,
                )
            if max(failing_calls.values(), default=0) >= MAX_REPEATED_FAILURES:
                return LoopResult(
                    "no_progress", "the model repeated the same failing call", None, budget.steps, messages
                )
    except KeyboardInterrupt:
        return LoopResult("interrupted", "interrupted by the user", None, budget.steps, messages)
    except BudgetExhausted as exc:  # the provider refused a model call: the budget was spent meanwhile
        reason = budget.exhausted(steps=False) or str(exc)
        return LoopResult("budget_exhausted", reason, None, budget.steps, messages)
    except AuthenticationError as exc:  # a key the provider refuses is configuration, not a model fault
        return LoopResult("config_error", str(exc), None, budget.steps, messages)
    except ContextWindowExceeded as exc:  # refused even after compacting everything that may be
        reason = f"{str(exc).rstrip('.')}; every older tool result was already compacted."
        return LoopResult("provider_error", reason, None, budget.steps, messages)
    except ProviderError as exc:
        return LoopResult("provider_error", str(exc), None, budget.steps, messages)


class _Asker:
    """One model turn: compact the conversation when it nears the context window, ask, and answer
    the two refusals a larger request can fix: a tool call cut at `max_tokens` is asked again once
    with twice the limit (up to the model's maximum), and a request the provider refuses as too long
    for the window is compacted harder and asked again once. Every call is charged like any other."""

    def __init__(self, provider, system, tools, budget, emit, compactor, charged_by_provider):  # noqa: ANN001
        self.provider = provider
        self.system = system
        self.tools = tools
        self.budget = budget
        self.emit = emit
        self.compactor = compactor
        self.charged_by_provider = charged_by_provider
        self.max_tokens = 0
        self.ceiling = 0
        self.last_limit = 0

    def ask(self, messages: list[Message], step: int) -> ModelResponse:
        self._compact(messages, step, hard=False)
        response = self._call(messages, step, self.max_tokens)
        larger = min(self.last_limit * 2, self.ceiling)
        cut = response.stop_reason == "max_tokens" and bool(response.tool_calls)
        if cut and self._room(larger) > self.last_limit:
            exhausted = self.budget.exhausted(steps=False)
            if exhausted:
                raise BudgetExhausted(exhausted)
            response = self._call(messages, step, larger)
        return response

    def _call(self, messages: list[Message], step: int, max_tokens: int) -> ModelResponse:
        try:
            response = self._complete(messages, step, max_tokens)
        except ContextWindowExceeded:
            if not self._compact(messages, step, hard=True):
                raise
            response = self._complete(messages, step, max_tokens)
        return response

    def _room(self, max_tokens: int) -> int:
        """`max_tokens`, less where the input and it would not fit the window together (APIs refuse
        such a request); never below MIN_OUTPUT_TOKENS."""
        room = self.compactor.window - self.compactor.estimate
        return max(min(max_tokens, room), min(max_tokens, MIN_OUTPUT_TOKENS))

    def _complete(self, messages: list[Message], step: int, max_tokens: int) -> ModelResponse:
        max_tokens = self.last_limit = self._room(max_tokens)
        response = self.provider.complete(self.system, messages, self.tools, max_tokens=max_tokens, step=step)
        if not self.charged_by_provider:
            self.budget.charge(response.usage, response.cost_usd)
        return response

    def _compact(self, messages: list[Message], step: int, hard: bool) -> bool:
        done = self.compactor.compact(self.system, messages, self.tools, hard=hard)
        if done is None:
            return False
        self.emit(
            ev.CONTEXT_COMPACTED,
            step=step,
            steps=done.steps,
            results=done.results,
            tokens_before=done.before,
            tokens_after=done.after,
            window=self.compactor.window,
            hard=hard,
        )
        return True


def _truncated(response: ModelResponse, limit: int) -> list[ToolResult]:
    """The answer to tool calls cut at the output limit: none of them ran."""
    text = (
        f"Not run: your reply reached the output limit ({limit:,} tokens) while writing this tool call, "
        "so its arguments are incomplete. Write less in one call: split the work (a smaller module "
        "first, then modify_subagent with edits), or shorten the code."
    )
    return [ToolResult(call.id, wrap_data(call.name, text), True) for call in response.tool_calls]


def _status_line(call: ToolCall, outcome: Outcome, seconds: float) -> str:
    """A tool call in one line, what remains of its result once compacted: "run_subagent csv: ok, 1.2 s"."""
    args = call.arguments if isinstance(call.arguments, dict) else {}
    subject = args.get("name") or args.get("query") or ""
    subject = f" {str(subject)[:60]}" if isinstance(subject, str) and subject else ""
    status = outcome.data.get("status") or ("error" if outcome.is_error else "ok")
    first = " ".join(outcome.text.split())[:80] if outcome.is_error else ""
    detail = f" ({first})" if first else ""
    return f"{call.name}{subject}: {status}, {seconds:.1f} s{detail}"


def _finished(outcome: Outcome, steps: int, messages: list[Message]) -> LoopResult:
    """A finishing tool ends the run as a success only with an answer and no declared failure: a task
    that was not done, or an empty answer, is `task_failed` whatever the finishing tool was."""
    if outcome.failure:
        return LoopResult("task_failed", outcome.failure, outcome.answer, steps, messages)
    if not (outcome.answer or "").strip():
        return LoopResult("task_failed", "the run finished without an answer", None, steps, messages)
    return LoopResult("success", "", outcome.answer, steps, messages)


def _call_tool(
    call: ToolCall,
    tools: list[ToolSpec],
    dispatch: Callable[[str, dict[str, Any]], Outcome],
    emit: Callable[..., Any],
    step: int,
) -> Outcome:
    arguments = ev.clip_json(call.arguments, ARGUMENTS_PREVIEW)
    emit(ev.TOOL_CALL_STARTED, step=step, tool=call.name, arguments=arguments)
    started = time.perf_counter()
    problem = check_tool_call(call, tools)
    if problem:
        outcome = Outcome(problem, is_error=True, data={"invalid": True})
    else:
        try:
            outcome = dispatch(call.name, call.arguments or {})
        except AgentFactoryError as exc:
            outcome = Outcome(f"{call.name} failed: {exc}", is_error=True)
    emit(
        ev.TOOL_CALL,
        step=step,
        tool=call.name,
        arguments=arguments,
        is_error=outcome.is_error,
        duration_s=round(time.perf_counter() - started, 4),
        result=preview(outcome.text, 500),
    )
    return outcome
