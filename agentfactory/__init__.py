"""AgentFactory: agents that get better with use by keeping their experience as executable code.

The supported Python API is what this module exports; everything else may change between versions.
"""

__version__ = "0.1.0"

from agentfactory.config import Settings, load_settings  # noqa: E402
from agentfactory.errors import AgentFactoryError  # noqa: E402
from agentfactory.events import EventLog, read_events, summarize_run  # noqa: E402
from agentfactory.llm.types import Message, ModelResponse, ToolCall, ToolSpec, Usage  # noqa: E402

__all__ = [
    "AgentFactoryError",
    "EventLog",
    "Message",
    "ModelResponse",
    "Settings",
    "ToolCall",
    "ToolSpec",
    "Usage",
    "__version__",
    "load_settings",
    "read_events",
    "summarize_run",
]
