"""What a linguist does with a finished transcript: read it (any revision), correct it, look at its history.

Corrections are guarded by the revision the editor started from (``If-Match``
in HTTP): two people correcting the same card cannot overwrite each other's
work; the one who is behind is told the current revision and nothing changes.
The old clients' ``PUT /task/update_text`` carries no revision, so it passes no
expected revision; it still only ever adds a revision, so nothing is lost either way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from uuid import UUID

from kartoteka.application.recognition.errors import TranscriptNotReadyError
from kartoteka.application.recognition.ports.tasks import ConcurrentUpdateError, RevisionNotFoundError, UnitOfWork
from kartoteka.application.shared.clock import Clock
from kartoteka.domain.recognition.corrections import CorrectionError, Edit, ReplaceTranscript
from kartoteka.domain.recognition.revisions import StaleRevisionError, TranscriptRevision
from kartoteka.domain.recognition.task import RecognitionTask


@dataclass(frozen=True, slots=True)
class RestoreRevision:
    """Bring back an earlier revision's transcript as the newest one."""

    revision: int


Correction = Edit | RestoreRevision


@dataclass(frozen=True, slots=True)
class CorrectedTranscript:
    task: RecognitionTask
    revision: TranscriptRevision


class CorrectTranscript:
    """Apply a linguist's edits to a completed card's latest transcript as one new revision.

    A conflict the database reports (someone committed between our read and our
    write) is answered like a stale ``If-Match`` when the revision moved, and
    simply retried when only something else about the task changed.
    """

    ATTEMPTS = 3  # reads and writes in all when only something other than the revision moved

    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(
        self,
        task_id: UUID,
        corrections: Sequence[Correction],
        *,
        expected_revision: int | None,
        author: str,
    ) -> CorrectedTranscript:
        for _ in range(self.ATTEMPTS):
            try:
                return await self._once(task_id, corrections, expected_revision, author)
            except ConcurrentUpdateError:
                if expected_revision is not None:
                    current = await self._current_revision(task_id)
                    if current != expected_revision:
                        raise StaleRevisionError(task_id, expected_revision, current) from None
        raise ConcurrentUpdateError(f"task {task_id} kept changing while it was being corrected; try again")

    async def _once(
        self, task_id: UUID, corrections: Sequence[Correction], expected_revision: int | None, author: str
    ) -> CorrectedTranscript:
        async with self._uow() as uow:
            task = await uow.tasks.get(task_id)
            edits = [await self._resolve(uow, task, c, expected_revision) for c in corrections]
            revision = task.correct(edits, author, self._clock(), expected_revision=expected_revision)
            await uow.commit()
            return CorrectedTranscript(task, revision)

    @staticmethod
    async def _resolve(
        uow: UnitOfWork, task: RecognitionTask, correction: Correction, expected_revision: int | None
    ) -> Edit:
        if not isinstance(correction, RestoreRevision):
            return correction
        if expected_revision is not None and expected_revision != task.revision:
            raise StaleRevisionError(task.id, expected_revision, task.revision)  # before a 404/422 about the restore
        try:
            earlier = await uow.revisions.get(task.id, correction.revision)
        except RevisionNotFoundError as exc:
            raise CorrectionError(str(exc)) from None
        return ReplaceTranscript(earlier.transcript, earlier.number)

    async def _current_revision(self, task_id: UUID) -> int | None:
        async with self._uow() as uow:
            return (await uow.tasks.get(task_id)).revision


class GetTranscript:
    """The latest revision of a card's transcript, or the one asked for."""

    def __init__(self, uow: Callable[[], UnitOfWork]) -> None:
        self._uow = uow

    async def __call__(self, task_id: UUID, revision: int | None = None) -> tuple[RecognitionTask, TranscriptRevision]:
        async with self._uow() as uow:
            task = await uow.tasks.get(task_id)
            if task.revision is None:
                raise TranscriptNotReadyError(task.id, task.status)
            if revision is not None and not 0 <= revision <= task.revision:
                raise RevisionNotFoundError(task.id, revision, task.revision)
            return task, await uow.revisions.get(task.id, task.revision if revision is None else revision)


class ListRevisions:
    """Every revision of a card's transcript, oldest first: what the models read and each correction."""

    def __init__(self, uow: Callable[[], UnitOfWork]) -> None:
        self._uow = uow

    async def __call__(self, task_id: UUID) -> tuple[RecognitionTask, list[TranscriptRevision]]:
        async with self._uow() as uow:
            task = await uow.tasks.get(task_id)
            return task, await uow.revisions.history(task_id)
