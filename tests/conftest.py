"""Suite-wide settings."""

from __future__ import annotations

from agentfactory.events import EventLog

# Every event the code emits anywhere in the suite must match its record in agentfactory/events.py: a
# malformed one raises here (in production it is written with a `schema_error` field instead).
EventLog.strict = True
