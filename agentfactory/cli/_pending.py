"""Commands that are part of the surface but whose capability is not built yet say so and exit non-zero."""

from __future__ import annotations

from agentfactory.errors import NotAvailableYet


def pending(command: str) -> None:
    raise NotAvailableYet(f"`agentfactory {command}` is not available in this version yet.")
