"""Time and identity as the use cases receive them, so tests can move time and predict ids.

Both are protocols of one call: any ``lambda: datetime(...)`` or ``uuid4`` satisfies them,
and the composition root wires the system's versions by type.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from uuid import UUID


class Clock(Protocol):
    def __call__(self) -> datetime:
        """Now, timezone-aware."""
        ...


class NewId(Protocol):
    def __call__(self) -> UUID:
        """A fresh id no other call has returned."""
        ...
