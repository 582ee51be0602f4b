"""Hooks through which a long recognition reports progress and learns it must stop."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a job is: ``stage`` plus ``done`` of ``total`` units (words, for reading)."""

    stage: str
    done: int
    total: int


class ProgressReporter(Protocol):
    async def __call__(self, progress: Progress) -> None: ...


class CancellationSignal(Protocol):
    """Answers whether the job has been cancelled; checked between model batches."""

    async def __call__(self) -> bool: ...
