"""Exporters: render a SubagentSource into a pip package, an Agent Skills folder and an MCP server folder.

Each exporter writes only below the directory it is given and never imports the subagent's code. The
subagent module is copied byte for byte; everything around it comes from the jinja2 templates in
`templates/`.
"""

from __future__ import annotations

import json
import pprint
import re
from dataclasses import field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import jinja2
import yaml

from agentfactory import __version__
from agentfactory.deploy.analysis import ImportScan, valid_skill_name
from agentfactory.deploy.gate import MaturityReport
from agentfactory.deploy.names import EXPORT_KEYWORD, ExportNames, subagent_marker
from agentfactory.deploy.source import DEFAULT_TOLERANCE, SubagentSource
from agentfactory.errors import ValidationError
from agentfactory.library.format import skill_body
from agentfactory.records import record

TEMPLATES = Path(__file__).parent / "templates"
FIXTURES_DIR = "fixtures"  # case input files in the library folder; the cases see them under inputs/
SKILL_DESCRIPTION_MAX = 1024
SKILL_COMPATIBILITY_MAX = 500
# Files of the library folder that the exporters regenerate in their own form, not copy.
_NOT_COPIED = {"SKILL.md", "cases.jsonl", "schema.json"}
_TOOL_EXTRAS = {"llm": ("anthropic", "openai"), "web_fetch": ("web",), "web_search": ("web",)}


@record(frozen=True)
class ExportPlan:
    """Everything the templates need, computed once for all formats."""

    source: SubagentSource
    names: ExportNames  # installed names: distribution, import package, commands, MCP tool
    module: str  # file name (without .py) of the subagent module in the exports (names.export_module)
    scan: ImportScan
    gate: MaturityReport
    forced: bool
    exported_at: str
    license: str = "MIT"  # SPDX expression
    mcp_python: str = "python"  # absolute path of the interpreter the MCP client configuration starts
    # The MCP servers whose tools (SERVER.tool) the subagent calls, in the `mcpServers` format without
    # credentials (McpServerConfig.exported); a server agentfactory.toml does not declare maps to None.
    mcp_servers: dict[str, dict[str, Any] | None] = field(default_factory=dict)

    @property
    def package(self) -> str:
        return self.names.package


def _py_literal(value: Any) -> str:
    """A Python literal for generated .py files; long structures wrap instead of making one huge line."""
    return pprint.pformat(value, width=100, sort_dicts=False)


def _demote_headings(markdown: str) -> str:
    """Push every heading one level down so a SKILL.md body nests under a section of the export."""
    out, fenced = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        out.append("#" + line if not fenced and re.match(r"#{1,5} ", line) else line)
    return "\n".join(out)


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        undefined=jinja2.StrictUndefined,  # a missing variable is a bug here, not an empty string
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["py"] = _py_literal
    return env


def new_plan(
    source: SubagentSource,
    names: ExportNames,
    module: str,
    scan: ImportScan,
    gate: MaturityReport,
    forced: bool,
    license: str = "MIT",
    mcp_python: str = "python",
    mcp_servers: dict[str, dict[str, Any] | None] | None = None,
) -> ExportPlan:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return ExportPlan(
        source, names, module, scan, gate, forced, stamp, license, mcp_python, mcp_servers or {}
    )


def mcp_tools_of(source: SubagentSource) -> list[str]:
    """The MCP tools (SERVER.tool) a subagent is allocated."""
    return sorted(t for t in source.tools if "." in t)


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 3].rsplit(" ", 1)[0]
    return cut + "..."


def _tools_used(plan: ExportPlan) -> list[str]:
    declared = {t.replace("-", "_") for t in plan.source.tools}
    imported = {t for t in plan.scan.tools if t != "*"}
    if "*" in plan.scan.tools or "call" in imported:
        imported |= declared
    return sorted((declared | imported) & set(_TOOL_EXTRAS))


def _mcp_server_notes(plan: ExportPlan, mcp_tools: list[str]) -> list[dict[str, Any]]:
    """For the READMEs: each server the MCP tools come from, how it starts, the variables it reads."""
    notes = []
    for name in sorted({t.split(".", 1)[0] for t in mcp_tools}):
        server = plan.mcp_servers.get(name)
        if server is None:
            notes.append({"name": name, "how": "", "variables": []})
            continue
        how = server.get("url") or " ".join([server.get("command", ""), *server.get("args", [])])
        values = [*(server.get("env") or {}).values(), *(server.get("headers") or {}).values()]
        variables = sorted(
            {v for value in values for v in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", value)}
        )
        notes.append({"name": name, "how": how, "variables": variables})
    return notes


def _mcp_output_schema(source: SubagentSource) -> dict[str, Any] | None:
    """The outputs schema to announce over MCP, only when every stored expected output satisfies it.

    Clients validate structured results against an announced schema, and the library derives outputs
    schemas from docstrings; a schema the recorded outputs contradict would turn good calls into errors.
    """
    schema = source.outputs_schema
    if not schema or schema.get("type") != "object" or not schema.get("properties"):
        return None
    try:
        import jsonschema

        for case in source.cases:
            jsonschema.validate(case.expected, schema)
    except ImportError:
        return None
    except (jsonschema.ValidationError, jsonschema.SchemaError):
        return None
    return schema


def _context(plan: ExportPlan) -> dict[str, Any]:
    s = plan.source
    body = skill_body(s.skill_md, without_title=True)  # the library's one SKILL.md reader
    first = s.cases[0] if s.cases else None
    example_inputs = first.inputs if first else {}
    tools = _tools_used(plan)
    mcp_tools = mcp_tools_of(s)
    gate = plan.gate
    return {
        "name": s.name,
        "dist": plan.names.dist,
        "package": plan.package,
        "module": plan.module,
        "mcp_command": plan.names.mcp_command,
        "keywords": [EXPORT_KEYWORD, subagent_marker(s.name)],
        "license": plan.license,
        "mcp_python": plan.mcp_python,
        "version": s.version,
        "description": " ".join(s.description.split()) or f"The {s.name} subagent.",
        "short_description": _one_line(s.description or f"The {s.name} subagent.", 200),
        "skill_body": _demote_headings(body) or "(The subagent's SKILL.md has no body.)",
        "inputs_schema": s.inputs_schema,
        "outputs_schema": s.outputs_schema,
        "inputs_schema_json": json.dumps(s.inputs_schema, indent=2, ensure_ascii=False),
        "outputs_schema_json": json.dumps(s.outputs_schema, indent=2, ensure_ascii=False)
        if s.outputs_schema
        else "",
        "example_inputs_json": json.dumps(example_inputs, ensure_ascii=False),
        "example_output_json": json.dumps(first.expected, indent=2, ensure_ascii=False) if first else "",
        "dependencies": list(plan.scan.dependencies),
        "requirements": list(plan.scan.dependencies)
        + (["httpx"] if {"web_fetch", "web_search"} & set(tools) else []),
        "tools": tools + mcp_tools,
        "builtin_tools": tools,
        "mcp_tools": mcp_tools,
        "mcp_servers": _mcp_server_notes(plan, mcp_tools),
        "mcp_servers_py": _py_literal({k: v for k, v in sorted(plan.mcp_servers.items()) if v is not None}),
        "mcp_servers_json": json.dumps(
            {"mcpServers": {k: v for k, v in sorted(plan.mcp_servers.items()) if v is not None}}, indent=2
        ),
        "extras": sorted(
            {extra for t in tools for extra in _TOOL_EXTRAS[t]} | ({"mcp"} if mcp_tools else set())
        ),
        "tool_name": plan.names.tool,
        "default_tolerance": DEFAULT_TOLERANCE,
        "year": plan.exported_at[:4],
        "provenance": {
            "library_commit": s.library_commit,
            "exported_at": plan.exported_at,
            "agentfactory_version": __version__,
        },
        "gate": {
            "checked": gate.checked,
            "forced": plan.forced,
            "reasons": list(gate.reasons),
            "notes": list(gate.notes),
            "cases_passed": gate.cases_passed,
            "cases_total": gate.cases_total,
            "sandbox": gate.sandbox,
            "successful_runs_text": "unknown" if gate.successful_runs is None else str(gate.successful_runs),
            "min_runs": gate.min_runs,
        },
    }


def _write(root: Path, rel: str, content: str | bytes) -> Path:
    pure = PurePosixPath(rel)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        raise ValidationError(
            f"The subagent folder holds a file with an unsafe path '{rel}'; nothing was exported."
        )
    path = root.joinpath(*pure.parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _extra_files(source: SubagentSource) -> dict[str, bytes]:
    return {
        rel: data
        for rel, data in sorted(source.files.items())
        if rel not in _NOT_COPIED
        and rel != source.entry
        and "__pycache__" not in PurePosixPath(rel).parts
        and PurePosixPath(rel).parts[0] != FIXTURES_DIR
        and not rel.endswith(".pyc")
    }


def _fixtures(source: SubagentSource) -> dict[str, bytes]:
    """Input files of the cases (`fixtures/` in the library folder), by path below that folder."""
    out = {}
    for rel, data in sorted(source.files.items()):
        parts = PurePosixPath(rel).parts
        if len(parts) > 1 and parts[0] == FIXTURES_DIR:
            out[str(PurePosixPath(*parts[1:]))] = data
    return out


def _module_files(root: Path, plan: ExportPlan, env: jinja2.Environment, ctx: dict[str, Any]) -> None:
    """The subagent module unchanged (under its export name), its other files, and the tool shim."""
    for rel, data in _extra_files(plan.source).items():
        _write(root, rel, data)
    _write(root, f"{plan.module}.py", plan.source.code.encode("utf-8"))
    _write(root, "agentfactory_tools.py", env.get_template("common/agentfactory_tools.py.j2").render(ctx))


def render_package(plan: ExportPlan, dest: Path) -> Path:
    """A pip-installable project in `dest` (hatchling, src layout, console scripts, tests, license)."""
    env = environment()
    ctx = _context(plan)
    src = dest / "src" / plan.package
    _module_files(src, plan, env, ctx)
    _write(src, "__init__.py", env.get_template("package/__init__.py.j2").render(ctx))
    _write(src, "__main__.py", env.get_template("package/__main__.py.j2").render(ctx))
    cli_ctx = {**ctx, "standalone": False, "prog": plan.names.command, "usage_command": plan.names.command}
    _write(src, "cli.py", env.get_template("common/cli.py.j2").render(cli_ctx))
    mcp_ctx = {
        **ctx,
        "outputs_schema": _mcp_output_schema(plan.source),
        "standalone": False,
        "config_hint": "README.md",
        "missing_sdk_hint": f"pip install '{plan.names.dist}[mcp]'",
    }
    _write(src, "mcp_server.py", env.get_template("common/mcp_server.py.j2").render(mcp_ctx))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        _write(dest, name, env.get_template(f"package/{name}.j2").render(ctx))
    _write(dest, "tests/test_cases.py", env.get_template("package/tests/test_cases.py.j2").render(ctx))
    for rel, data in _fixtures(plan.source).items():
        _write(dest / "tests" / "fixtures", rel, data)
    cases = [c.to_json() for c in plan.source.cases]
    _write(dest, "tests/cases.json", json.dumps(cases, indent=2, ensure_ascii=False) + "\n")
    return dest


def skill_frontmatter(plan: ExportPlan) -> dict[str, Any]:
    """Agent Skills frontmatter: name, description (what and when), license, compatibility, metadata."""
    s = plan.source
    if not valid_skill_name(s.name):
        raise ValidationError(
            f"'{s.name}' is not a valid Agent Skills name (1-64 characters of a-z, 0-9 and single hyphens "
            "inside): rename the subagent before deploying it as a skill."
        )
    description = _one_line(s.description or f"Runs the {s.name} subagent.", SKILL_DESCRIPTION_MAX)
    needs = ", ".join(["Python 3.10+"] + list(plan.scan.dependencies))
    meta: dict[str, Any] = {
        "name": s.name,
        "description": description,
        "license": plan.license,
        "compatibility": _one_line(f"Needs {needs}; run scripts/run.py.", SKILL_COMPATIBILITY_MAX),
        "metadata": {
            "version": str(s.version),
            "library-commit": s.library_commit,
            "exported-by": f"AgentFactory {__version__}",
        },
    }
    if plan.forced and not plan.gate.passed:
        meta["metadata"]["maturity-gate"] = "overridden"
    return meta


def render_skill(plan: ExportPlan, dest: Path) -> Path:
    """An Agent Skills folder at `dest` (its name must be the skill name) with SKILL.md and scripts/."""
    if dest.name != plan.source.name:
        raise ValidationError(
            f"A skill folder must be named after the skill: '{dest.name}' != '{plan.source.name}'."
        )
    env = environment()
    ctx = _context(plan)
    front = yaml.safe_dump(skill_frontmatter(plan), sort_keys=False, allow_unicode=True, width=10_000)
    # The stored cases travel with the skill, their input files under assets/inputs/: the cases
    # name them as inputs/<file>, so the usage example runs from assets/.
    fixtures = _fixtures(plan.source)
    for rel, data in fixtures.items():
        _write(dest / "assets" / "inputs", rel, data)
    cases = [c.to_json() for c in plan.source.cases]
    if cases:
        _write(dest, "assets/cases.json", json.dumps(cases, indent=2, ensure_ascii=False) + "\n")
    usage = {
        **ctx,
        "frontmatter": front,
        "case_count": len(cases),
        "has_fixtures": bool(fixtures),
        "script": "../scripts/run.py" if fixtures else "scripts/run.py",
    }
    _write(dest, "SKILL.md", env.get_template("skill/SKILL.md.j2").render(usage))
    scripts = dest / "scripts"
    _module_files(scripts, plan, env, ctx)
    cli_ctx = {**ctx, "standalone": True, "prog": "run.py", "usage_command": "python scripts/run.py"}
    _write(scripts, "run.py", env.get_template("common/cli.py.j2").render(cli_ctx))
    return dest


def mcp_client_config(plan: ExportPlan, server: Path) -> dict[str, Any]:
    """The `mcpServers` entry a client (.mcp.json, claude_desktop_config.json) needs to start the server.

    The command is an absolute interpreter path: a client starts servers with its own PATH, where a bare
    `python` is often missing or another interpreter without the mcp SDK.
    """
    return {"mcpServers": {plan.source.name: {"command": plan.mcp_python, "args": [str(server)], "env": {}}}}


def render_mcp(plan: ExportPlan, dest: Path, final_dest: Path) -> Path:
    """A standalone MCP server folder in `dest`; `final_dest` is where it will live (for the config)."""
    env = environment()
    ctx = _context(plan)
    _module_files(dest, plan, env, ctx)
    server_ctx = {
        **ctx,
        "outputs_schema": _mcp_output_schema(plan.source),
        "standalone": True,
        "config_hint": "mcp.json",
        "missing_sdk_hint": "pip install -r requirements.txt (mcp>=2.0)",
    }
    _write(dest, "server.py", env.get_template("common/mcp_server.py.j2").render(server_ctx))
    config = mcp_client_config(plan, final_dest.resolve() / "server.py")
    config_json = json.dumps(config, indent=2)
    _write(dest, "mcp.json", config_json + "\n")
    _write(dest, "requirements.txt", env.get_template("mcp/requirements.txt.j2").render(ctx))
    _write(
        dest, "README.md", env.get_template("mcp/README.md.j2").render({**ctx, "config_json": config_json})
    )
    return dest
