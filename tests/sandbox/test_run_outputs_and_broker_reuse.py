"""Regressions found by the benchmark: many tool calls in one execution, and one run's outputs/ folder
shared by its executions."""

from __future__ import annotations

import pytest

from agentfactory.sandbox import ToolBroker, echo_tool


def test_many_sequential_tool_calls_in_one_execution(run_local):
    # The client connects once per call; the broker used to refuse every call after the eighth.
    trace = run_local(
        """
        from agentfactory_tools import call

        def run():
            return {"n": len([call("echo", i=i) for i in range(20)])}
        """,
        tools=["echo"],
        broker=ToolBroker({"echo": echo_tool}),
    )
    assert trace.status == "ok", trace.compact()
    assert trace.result == {"n": 20}
    assert len(trace.tool_calls) == 20 and all(c.ok for c in trace.tool_calls)


def test_later_execution_reads_earlier_outputs_and_reports_only_its_own(run_local):
    first = run_local(
        """
        def run():
            open("outputs/sources.json", "w").write("[1, 2, 3]")
            return {"sources_path": "outputs/sources.json"}
        """
    )
    assert first.status == "ok" and first.output_files == ["sources.json"]
    second = run_local(
        """
        import json

        def run():
            data = json.load(open("outputs/sources.json"))
            open("outputs/report.md", "w").write(str(sum(data)))
            return {"total": sum(data)}
        """
    )
    assert second.status == "ok", second.compact()
    assert second.result == {"total": 6}
    assert second.output_files == ["report.md"]  # the unchanged earlier file is not this execution's


@pytest.mark.docker
def test_docker_later_execution_can_write_beside_earlier_outputs(run_docker):
    # Seeding outputs/ with earlier files once left it unwritable for the container's user.
    first = run_docker('def run():\n    open("outputs/a.txt", "w").write("a")\n    return {}\n')
    assert first.status == "ok", first.compact()
    second = run_docker('def run():\n    open("outputs/b.txt", "w").write("b")\n    return {}\n')
    assert second.status == "ok", second.compact()
    assert second.output_files == ["b.txt"]
