"""Live, lossy signals around a running job (Redis in production)."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from kartoteka.application.ports.progress import Progress


class ProgressFeed(Protocol):
    """Pushes progress ticks to watchers; losing one is harmless (the final state is in the database)."""

    async def publish(self, task_id: UUID, attempt: int, progress: Progress) -> None: ...


class CancellationProbe(Protocol):
    """Answers whether a task has been asked to stop (or deleted) since its job started."""

    async def is_cancelled(self, task_id: UUID, attempt: int) -> bool: ...
