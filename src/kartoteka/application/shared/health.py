"""Readiness: can this process reach what it depends on?"""

from __future__ import annotations

from typing import Protocol


class DependencyCheck(Protocol):
    name: str

    async def check(self) -> None:
        """Raise (anything) when the dependency cannot serve requests."""
        ...
