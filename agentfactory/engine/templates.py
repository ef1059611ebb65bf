"""The prompt templates of an orchestrator package (its `prompts/` folder), built on first use: not
every import renders a prompt, and jinja2 costs its import time only to those that do."""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def prompt_templates(package: str) -> Any:
    """The jinja2 environment of `package`'s prompts: plain text (no escaping), an undefined name an
    error, trailing newlines kept."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    return Environment(
        loader=PackageLoader(package, "prompts"),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
