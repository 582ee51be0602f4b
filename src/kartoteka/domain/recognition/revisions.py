"""Revisions of a card's transcript: what the models read and every correction after it.

A linguist's correction is scholarly work and the machine reading is evidence
of what the models saw; neither may overwrite the other. So a transcript is
never edited in place: the models' first reading is revision 0, each
correction and each later re-run adds the next number, and the latest one is
what the card shows, searches and exports by default.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from kartoteka.domain.errors import ErrorKind, Refusal
from kartoteka.domain.recognition.transcript import Transcript


class RevisionKind(enum.StrEnum):
    MACHINE = "machine"
    CORRECTION = "correction"


@dataclass(frozen=True, slots=True)
class TranscriptRevision:
    """One version of a card's transcript.

    ``operations`` records what a correction did (the edits as the editor sent
    them), so the history reads as "joined words 2–3 of line 1", not only as a
    before and after. A machine revision names the attempt that produced it.
    """

    number: int
    kind: RevisionKind
    transcript: Transcript
    created_at: datetime
    attempt: int
    author: str | None = None
    operations: tuple[dict[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if self.number < 0:
            raise ValueError("revision numbers start at 0")
        if self.kind is RevisionKind.CORRECTION and not self.author:
            raise ValueError("a correction names its author")


class StaleRevisionError(Refusal):
    """The editor worked on an older revision than the current one; nothing was changed.

    Two linguists correcting the same card would otherwise silently undo each
    other's work; the one who is behind gets the current revision to start from.
    """

    kind = ErrorKind.PRECONDITION_FAILED

    def __init__(self, task_id: UUID, expected: int, current: int | None) -> None:
        now = "has no transcript" if current is None else f"is at revision {current}"
        super().__init__(
            f"task {task_id} {now}, not {expected}: re-read the transcript and apply the edit again",
            {"task_id": str(task_id), "expected_revision": expected, "current_revision": current},
        )
        self.task_id = task_id
        self.expected = expected
        self.current = current
