from __future__ import annotations

from agentfactory.llm import ToolCall, ToolSpec, check_tool_call

RUN = ToolSpec(
    "run_subagent",
    "Run a subagent.",
    {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "inputs": {"type": "object", "properties": {"n": {"type": "integer"}}},
        },
        "required": ["name"],
        "additionalProperties": False,
    },
)
FINISH = ToolSpec("finish", "Finish.", {"type": "object", "properties": {"answer": {"type": "string"}}})


def test_valid_call_passes():
    assert (
        check_tool_call(
            ToolCall("1", "run_subagent", {"name": "csv-stats", "inputs": {"n": 3}}), [RUN, FINISH]
        )
        is None
    )


def test_invalid_json_reports_the_parse_error():
    call = ToolCall(
        "1",
        "run_subagent",
        None,
        raw_arguments='{"name": ',
        parse_error="Expecting value at line 1 column 10",
    )
    message = check_tool_call(call, [RUN, FINISH])
    assert "not valid JSON" in message and "Expecting value at line 1 column 10" in message
    assert "nothing was executed" in message


def test_unknown_tool_lists_available_names():
    message = check_tool_call(ToolCall("1", "delete_everything", {}), [RUN, FINISH])
    assert "delete_everything" in message and "finish, run_subagent" in message


def test_schema_failure_gives_path_and_message():
    message = check_tool_call(ToolCall("1", "run_subagent", {"name": "x", "inputs": {"n": "three"}}), [RUN])
    assert "$.inputs.n" in message and "'three' is not of type 'integer'" in message
    message = check_tool_call(ToolCall("1", "run_subagent", {}), [RUN])
    assert "'name' is a required property" in message
    message = check_tool_call(ToolCall("1", "run_subagent", {"name": "x", "extra": 1}), [RUN])
    assert "Additional properties" in message
