"""Model providers behind one provider-neutral interface.

Public: the types (`Message`, `ToolSpec`, `ToolCall`, `ToolResult`, `Usage`, `ModelResponse`,
`ModelProvider`), `get_provider` to build a provider from a spec string (`ProviderPlugin`, `ProviderRequest` and
`provider_names` for provider plugins), `MeteredProvider` to account
for every call, `ScriptedProvider` for tests, `check_tool_call`, `cost_usd`, `count_tokens`,
`count_request_tokens` and `RetryPolicy`. The adapters (`anthropic`, `openai`) are imported only on demand.
"""

from agentfactory.llm.metered import MeteredProvider
from agentfactory.llm.pricing import cost_usd
from agentfactory.llm.registry import ProviderPlugin, ProviderRequest, get_provider, provider_names
from agentfactory.llm.retry import RetryPolicy
from agentfactory.llm.scripted import ScriptedProvider
from agentfactory.llm.tokens import count_output_tokens, count_request_tokens, count_tokens
from agentfactory.llm.types import (
    Message,
    ModelProvider,
    ModelResponse,
    StopReason,
    ToolCall,
    ToolResult,
    ToolSpec,
    Usage,
)
from agentfactory.llm.validation import check_tool_call

__all__ = [
    "Message",
    "MeteredProvider",
    "ModelProvider",
    "ModelResponse",
    "ProviderPlugin",
    "ProviderRequest",
    "RetryPolicy",
    "ScriptedProvider",
    "StopReason",
    "ToolCall",
    "ToolResult",
    "ToolSpec",
    "Usage",
    "check_tool_call",
    "cost_usd",
    "count_output_tokens",
    "count_request_tokens",
    "count_tokens",
    "get_provider",
    "provider_names",
]
