"""Why a recognition request was refused; the HTTP layer maps each kind to a status code."""

from __future__ import annotations

from uuid import UUID

from kartoteka.domain.errors import ErrorKind, Refusal
from kartoteka.domain.recognition.task import TaskStatus


class TranscriptNotReadyError(Refusal):
    """The card has no transcript to show, correct or export yet (queued, running, failed or cancelled)."""

    kind = ErrorKind.CONFLICT

    def __init__(self, task_id: UUID, status: TaskStatus) -> None:
        super().__init__(
            f"task {task_id} is {status.value}: it has no completed transcript yet",
            {"task_id": str(task_id), "status": status.value},
        )
        self.task_id = task_id
        self.status = status


class RecognitionError(RuntimeError):
    """The pipeline broke its own contract (a recogniser answering for the wrong number of boxes).

    A bug, not bad input: it is never shown to a client as their fault.
    """


class RecognitionCancelledError(Exception):
    """The job was cancelled between model batches."""
