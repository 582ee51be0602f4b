"""Cards a person has corrected: the archive's own ground truth, for measuring and training the models."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from kartoteka.domain.recognition.transcript import Transcript


@dataclass(frozen=True, slots=True)
class CorrectedCard:
    """A card whose latest revision was made by a person, with that revision's transcript."""

    task_id: UUID
    filename: str
    image_key: str
    revision: int
    author: str
    transcript: Transcript


class CorrectedCards(Protocol):
    def latest(self) -> AsyncIterator[CorrectedCard]:
        """Every card whose latest revision is a correction, oldest first, read a page at a time."""
        ...
