"""Reading the list of batches, newest first, with each batch's cards counted by status (read side)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from kartoteka.application.recognition.ports.tasks import Batch
from kartoteka.domain.recognition.task import TaskStatus


@dataclass(frozen=True, slots=True)
class BatchListing:
    batch: Batch
    counts: dict[TaskStatus, int]  # every status, zeros included

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True, slots=True)
class BatchPage:
    batches: tuple[BatchListing, ...]
    next_cursor: str | None


class BatchReader(Protocol):
    async def newest(self, cursor: str | None, limit: int) -> BatchPage:
        """Newest first by (created_at, id), a keyset page at a time; raises InvalidCursorError."""
        ...
