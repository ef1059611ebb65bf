"""The subagent library: the folder format, the git-versioned store and the search index.

Public API (everything else in this package may change):

    from agentfactory.library import Library, Subagent, Case, check_case, build_subagent_folder, ...

The library never imports or executes subagent code on the host; see FORMAT.md for the folder format.
"""

from agentfactory.library.cases import Case, CaseResult, check_case, parse_cases
from agentfactory.library.format import parse_subagent, validate_folder
from agentfactory.library.model import (
    PullConflict,
    PullRejection,
    PullResult,
    SaveResult,
    SearchHit,
    Subagent,
    SubagentInfo,
    VersionInfo,
)
from agentfactory.library.names import default_entry, validate_name
from agentfactory.library.store import Library
from agentfactory.library.writing import build_subagent_folder

__all__ = [
    "Case",
    "CaseResult",
    "Library",
    "PullConflict",
    "PullRejection",
    "PullResult",
    "SaveResult",
    "SearchHit",
    "Subagent",
    "SubagentInfo",
    "VersionInfo",
    "build_subagent_folder",
    "check_case",
    "default_entry",
    "parse_cases",
    "parse_subagent",
    "validate_folder",
    "validate_name",
]
