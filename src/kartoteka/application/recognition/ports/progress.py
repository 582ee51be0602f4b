"""Hooks through which a long recognition reports progress and learns it must stop."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from kartoteka.domain.recognition.task import Progress


class ProgressReporter(Protocol):
    async def __call__(self, progress: Progress) -> None: ...


class CancellationSignal(Protocol):
    """Answers whether the job has been cancelled; checked between model batches."""

    async def __call__(self) -> bool: ...


class ProgressFeed(Protocol):
    """Pushes progress ticks to watchers; losing one is harmless (the final state is in the database)."""

    async def publish(self, task_id: UUID, attempt: int, progress: Progress) -> None: ...


class ProgressStore(Protocol):
    """Keeps the latest progress of a running attempt where a fresh reader (GET, a new socket) finds it."""

    async def save(self, task_id: UUID, attempt: int, progress: Progress) -> None: ...


class CancellationProbe(Protocol):
    """Answers whether a task has been asked to stop (or deleted) since its job started."""

    async def is_cancelled(self, task_id: UUID, attempt: int) -> bool: ...
