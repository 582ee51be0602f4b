"""Live, lossy signals around a running job (Redis in production)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol
from uuid import UUID

from kartoteka.application.ports.progress import Progress


class ProgressFeed(Protocol):
    """Pushes progress ticks to watchers; losing one is harmless (the final state is in the database)."""

    async def publish(self, task_id: UUID, attempt: int, progress: Progress) -> None: ...


class ProgressStore(Protocol):
    """Keeps the latest progress of a running attempt where a fresh reader (GET, a new socket) finds it."""

    async def save(self, task_id: UUID, attempt: int, progress: Progress) -> None: ...


class CancellationProbe(Protocol):
    """Answers whether a task has been asked to stop (or deleted) since its job started."""

    async def is_cancelled(self, task_id: UUID, attempt: int) -> bool: ...


class LiveEventSource(Protocol):
    """Every status and progress event published by any process, as decoded dicts with ``type`` and ``task_id``.

    Iterating never ends while the process runs: a lost connection is re-established (events in between
    are lost, which watchers tolerate because every subscription starts from a database snapshot).
    """

    def events(self) -> AsyncIterator[dict[str, Any]]: ...
