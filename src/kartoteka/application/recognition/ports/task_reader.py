"""Reading task lists: filters, keyset pagination and per-status counts (the api's read side)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from kartoteka.domain.errors import ErrorKind, Refusal
from kartoteka.domain.recognition.task import RecognitionTask, TaskStatus


@dataclass(frozen=True, slots=True)
class TaskFilter:
    statuses: frozenset[TaskStatus] = frozenset()
    batch_id: UUID | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


@dataclass(frozen=True, slots=True)
class TaskPage:
    tasks: tuple[RecognitionTask, ...]
    next_cursor: str | None
    counts: dict[TaskStatus, int]


class InvalidCursorError(Refusal):
    """The cursor was not produced by this service (or was altered)."""

    kind = ErrorKind.MALFORMED


class TaskReader(Protocol):
    async def page(self, where: TaskFilter, cursor: str | None, limit: int) -> TaskPage:
        """Newest first; ``counts`` covers every task matching ``where`` except its status filter."""
        ...

    async def get_many(self, task_ids: Collection[UUID]) -> dict[UUID, RecognitionTask]:
        """The tasks that exist among ``task_ids``, read in one round trip."""
        ...
