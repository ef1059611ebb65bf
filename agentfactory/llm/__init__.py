"""Model providers behind one provider-neutral interface.

Public: the types (`Message`, `ToolSpec`, `ToolCall`, `ToolResult`, `Usage`, `ModelResponse`,
`ModelProvider`), `get_provider` to build a provider from a spec string (`ProviderPlugin`, `ProviderRequest` and
`provider_names` for provider plugins), `MeteredProvider` to account
for every call, `ScriptedProvider` for tests, `check_tool_call`, `cost_usd`, `count_tokens`,
`count_request_tokens` and `RetryPolicy`. The adapters (`anthropic`, `openai`) are imported only on demand.
"""

import importlib
from typing import TYPE_CHECKING, Any

# name -> module that defines it, imported on first access (PEP 562): `agentfactory.llm.types` is read by
# every command, the rest (HTTP transport, retry, schema validation) only by the ones that call a model.
_LAZY = {
    "MeteredProvider": "agentfactory.llm.metered",
    "cost_usd": "agentfactory.llm.pricing",
    "ProviderPlugin": "agentfactory.llm.registry",
    "ProviderRequest": "agentfactory.llm.registry",
    "get_provider": "agentfactory.llm.registry",
    "provider_names": "agentfactory.llm.registry",
    "RetryPolicy": "agentfactory.llm.retry",
    "ScriptedProvider": "agentfactory.llm.scripted",
    "count_output_tokens": "agentfactory.llm.tokens",
    "count_request_tokens": "agentfactory.llm.tokens",
    "count_tokens": "agentfactory.llm.tokens",
    "Message": "agentfactory.llm.types",
    "ModelProvider": "agentfactory.llm.types",
    "ModelResponse": "agentfactory.llm.types",
    "StopReason": "agentfactory.llm.types",
    "ToolCall": "agentfactory.llm.types",
    "ToolResult": "agentfactory.llm.types",
    "ToolSpec": "agentfactory.llm.types",
    "Usage": "agentfactory.llm.types",
    "check_tool_call": "agentfactory.llm.validation",
}

if TYPE_CHECKING:
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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'agentfactory.llm' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


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
