"""Bad input and faults: no cases, unloadable or unchanged revisions, sandbox errors, concurrent evolves."""

from __future__ import annotations

import subprocess
import sys

import pytest

from agentfactory.engine.gate import SANDBOX_RETRIES
from agentfactory.errors import UsageError
from agentfactory.evolve import EvolveOptions, Evolver, FailingCase
from agentfactory.llm import ScriptedProvider
from agentfactory.sandbox import ExecutionTrace

from .conftest import BUGGY, FIX_EMPTY, NAME, make_env, revision

EMPTY = FailingCase(inputs={"numbers": []}, expected={"mean": None}, error="ZeroDivisionError")


def evolve(env, script, backend=None, **options):
    provider = ScriptedProvider(script)
    evolver = Evolver(
        env.settings, provider=provider, library=env.library, backend=backend or env.backend,
        options=EvolveOptions(**options),
    )  # fmt: skip
    report = evolver.run(plans=[evolver.plan_for(NAME, [EMPTY])])
    return report.outcomes[0], provider


def test_subagent_without_cases_is_refused_before_any_model_call(tmp_path):
    env = make_env(tmp_path, "local", cases=[])
    try:
        outcome, provider = evolve(env, [revision("x", edits=FIX_EMPTY)])
    finally:
        env.backend.close()
    assert outcome.verdict == "refused" and "has no stored cases" in outcome.reason
    assert provider.requests == [] and len(env.library.history(NAME)) == 1


def test_unloadable_missing_run_unchanged_and_invalid_calls_are_rejected_then_next_round(env):
    """Each submitted revision is a round; a call that does not match the tool's schema and a turn
    without a call are answered by the shared tool loop (as for any orchestrator) and are not rounds."""
    head = env.library.head()
    script = [
        revision("broken", code="def run(numbers:\n    return {}\n"),
        revision("no run", code='"""Mean."""\n\n\ndef mean(numbers):\n    return {}\n'),
        revision("same", code=BUGGY),
        revision("bad edit", edits=[{"old": "not in the code", "new": "x"}]),
        {"tool_calls": [{"name": "submit_revision", "arguments": '{"reason": "cut off", "code": "def'}]},
        {"text": "I think the code is fine."},
        revision("an empty list has no mean", edits=FIX_EMPTY),
    ]
    outcome, provider = evolve(env, script, rounds=5)
    reasons = [r.reason for r in outcome.rounds]
    assert "does not load" in reasons[0] and "does not load" in reasons[1] and "run" in reasons[1]
    assert reasons[2] == "no change: the revision is identical to the current code"
    assert "edit 1: the `old` text is not found" in reasons[3]
    assert [r.verdict for r in outcome.rounds] == ["rejected"] * 4 + ["accepted"]
    assert outcome.version_after == 2 and env.library.head() != head
    assert len(provider.requests) == 7 and provider.remaining == 0
    # Each rejection was fed back as the tool call's result; the cut call and the text turn too.
    rejected = provider.requests[1][1][-1].tool_results[0]
    assert rejected.is_error and "Rejected, the library is unchanged: the revision does not load" in (
        rejected.content
    )
    invalid = provider.requests[5][1][-1].tool_results[0]
    assert invalid.is_error and "not valid JSON" in invalid.content
    assert provider.requests[6][1][-1].text.startswith("Continue with a tool call")


def test_rounds_exhausted_leaves_library_unchanged(env):
    head = env.library.head()
    outcome, _ = evolve(env, [revision("same", code=BUGGY)], rounds=1)
    assert outcome.verdict == "rejected" and outcome.version_after is None
    assert env.library.head() == head


class _SandboxFailsForRevisions:
    """Fault injection around the real backend: executions of revisions end in a sandbox error."""

    def __init__(self, real):
        self.real, self.name, self.isolation, self.failed = real, real.name, real.isolation, 0

    def execute(self, req):
        if "/r1/" in str(req.code_dir):
            self.failed += 1
            return ExecutionTrace(status="sandbox_error", backend=self.name, error={"type": "SandboxError",
                                  "message": "the container disappeared"})  # fmt: skip
        return self.real.execute(req)

    def close(self):
        self.real.close()


def test_sandbox_error_during_validation_is_retried_then_reported_not_decided(env):
    head = env.library.head()
    backend = _SandboxFailsForRevisions(env.backend)
    outcome, provider = evolve(
        env, [revision("fix", edits=FIX_EMPTY), revision("fix", edits=FIX_EMPTY)], backend
    )
    assert outcome.verdict == "inconclusive" and len(outcome.rounds) == 1
    assert "sandbox error while validating the revision" in outcome.reason
    assert "neither a pass nor a fail" in outcome.reason
    assert backend.failed == 3 * (SANDBOX_RETRIES + 1)  # every case, each retried
    assert env.library.head() == head and provider.remaining == 1


def test_second_evolve_on_the_same_subagent_is_refused_while_one_holds_the_lock(env):
    lock = env.library.gitdir / "agentfactory" / f"evolve-{NAME}.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom filelock import FileLock\nheld = FileLock(sys.argv[1])\nheld.acquire()\n"
         "print('held', flush=True)\ntime.sleep(60)", str(lock)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        outcome, provider = evolve(env, [revision("fix", edits=FIX_EMPTY)], lock_timeout_s=0.3)
    finally:
        holder.kill()
        holder.wait()
    assert outcome.verdict == "refused"
    assert outcome.reason.startswith(f"another `agentfactory evolve` is working on {NAME}")
    assert provider.requests == [] and len(env.library.history(NAME)) == 1
    # Once the holder is gone, the next evolve proceeds.
    outcome, _ = evolve(env, [revision("fix", edits=FIX_EMPTY)])
    assert outcome.verdict == "accepted"


def test_version_saved_meanwhile_is_not_overwritten(env, tmp_path):
    evolver = Evolver(
        env.settings, provider=ScriptedProvider([revision("fix", edits=FIX_EMPTY)]), library=env.library,
        backend=env.backend,
    )  # fmt: skip
    plan = evolver.plan_for(NAME, [EMPTY])
    other = env.library.export(NAME, 1, tmp_path / "other")
    (other / "mean_of.py").write_text(BUGGY.replace("total / len(numbers)", "total / max(len(numbers), 1)"))
    env.library.save(other)  # another process saved v2 after the plan was made
    outcome = evolver.run(plans=[plan]).outcomes[0]
    assert outcome.verdict == "skipped" and "moved from v1 to v2" in outcome.reason
    assert env.library.get(NAME).version == 2 and "max(len(numbers), 1)" in env.library.get(NAME).code


def test_unknown_name_is_one_clear_error(env):
    with pytest.raises(UsageError, match="No subagent named 'nope'"):
        Evolver(env.settings, library=env.library).plan(["nope"])


def test_a_model_that_never_submits_is_stopped_by_the_shared_loop_and_rejected(env):
    head = env.library.head()
    outcome, provider = evolve(env, [{"text": "It looks fine."}] * 5, rounds=3)
    assert (outcome.verdict, outcome.rounds) == ("rejected", [])
    assert outcome.reason == "the model stopped calling tools without finishing"
    assert len(provider.requests) == 3 and env.library.head() == head  # two nudges, then stopped


def test_a_provider_failure_ends_the_subagent_with_error_and_the_library_untouched(env):
    head = env.library.head()
    outcome, _ = evolve(env, [revision("same", code=BUGGY)], rounds=3)  # no response for round 2
    assert outcome.verdict == "error" and "no more responses" in outcome.reason
    assert [r.verdict for r in outcome.rounds] == ["rejected"] and env.library.head() == head
