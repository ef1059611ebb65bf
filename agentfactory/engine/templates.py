"""The prompts of an orchestrator package (its `prompts/` folder), read on first use.

A prompt with conditions and loops is a jinja2 template (`prompt_templates`: jinja2 costs its import,
tens of milliseconds, only to those that render one). A plain prompt is a text file (`prompt_text`), and
a prompt built from a few optional blocks is a TOML table of str.format texts (`prompt_texts`): the
Meta-Agent's two prompts are of these kinds, so a run reaches its first model call without jinja2.
"""

from __future__ import annotations

import functools
import importlib
from pathlib import Path
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


def _prompt_path(package: str, name: str) -> Path:
    root = importlib.import_module(package).__file__
    assert root is not None
    return Path(root).parent / "prompts" / name


@functools.cache
def prompt_text(package: str, name: str) -> str:
    """The text of the prompt file `name` of `package`, as it is (UTF-8)."""
    return _prompt_path(package, name).read_text(encoding="utf-8")


@functools.cache
def prompt_texts(package: str, name: str) -> dict[str, str]:
    """The str.format texts of the TOML prompt file `name` of `package`, by name."""
    import tomllib

    texts = tomllib.loads(prompt_text(package, name))
    bad = [key for key, value in texts.items() if not isinstance(value, str)]
    if bad:
        raise ValueError(f"{_prompt_path(package, name)}: {', '.join(bad)} not text")
    return texts
