"""Experience store: every subagent execution and every run as a row, and what is learnt from them.

Public API: `ExperienceStore`, the records `ExecutionRecord` and `RunRecord`, `SCHEMA_VERSION`,
`default_store_path`, quality helpers (`automatic_quality`, `judge`), lessons (`Lesson`,
`write_known_limitations`) and the typed errors. Everything else in this package may change.
"""

from agentfactory.experience.lessons import MAX_LESSONS, Lesson, write_known_limitations
from agentfactory.experience.quality import automatic_quality, judge
from agentfactory.experience.records import ExecutionRecord, RunRecord, input_shape, inputs_digest
from agentfactory.experience.schema import SCHEMA_VERSION
from agentfactory.experience.store import (
    EvolveCandidate,
    ExperienceStore,
    ExperienceStoreError,
    StoreCorruptError,
    StoreLockedError,
    StoreSchemaError,
    default_store_path,
)

__all__ = [
    "MAX_LESSONS",
    "SCHEMA_VERSION",
    "EvolveCandidate",
    "ExecutionRecord",
    "ExperienceStore",
    "ExperienceStoreError",
    "Lesson",
    "RunRecord",
    "StoreCorruptError",
    "StoreLockedError",
    "StoreSchemaError",
    "automatic_quality",
    "default_store_path",
    "input_shape",
    "inputs_digest",
    "judge",
    "write_known_limitations",
]
