"""What a linguist does with a whole box of cards at once: list them, look at one, cancel it, retry its failures,
delete it.

Each operation goes card by card through the same domain transitions as the
single-card actions, in one transaction, so a batch operation is all or
nothing and every changed card announces itself through the outbox like a
single cancel or retry would. Cards an operation does not apply to (a
completed card in a cancel, a queued one in a retry) are left alone and
reported as unchanged, not refused: a batch is usually in a mixed state.

Workers keep updating running cards while a linguist acts on their batch; a
write that loses such a race is retried from a fresh read a few times.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from kartoteka.application.recognition.ports.batch_reader import BatchPage, BatchReader
from kartoteka.application.recognition.ports.tasks import Batch, BatchNotFoundError, ConcurrentUpdateError, UnitOfWork
from kartoteka.application.shared.clock import Clock
from kartoteka.application.shared.storage import ObjectStorage
from kartoteka.domain.recognition.task import RecognitionTask, TaskStatus

log = logging.getLogger(__name__)

# A write that loses a race with a worker is retried from a fresh read this many times in all.
WRITE_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class BatchSummary:
    batch: Batch
    counts: dict[TaskStatus, int]


@dataclass(frozen=True, slots=True)
class BatchChange:
    batch: Batch
    changed: tuple[RecognitionTask, ...]
    unchanged: tuple[RecognitionTask, ...]


async def _load(uow: UnitOfWork, batch_id: UUID, *, lock: bool = False) -> tuple[Batch, list[RecognitionTask]]:
    """The batch and its cards; ``lock`` holds the cards until the commit, so a worker settling one of
    them meanwhile waits instead of turning the whole change into a conflict."""
    batch = await uow.batches.get(batch_id)
    if batch is None:
        raise BatchNotFoundError(batch_id)
    return batch, await uow.tasks.in_batch(batch_id, lock=lock)


async def _change_each(
    uow_factory: Callable[[], UnitOfWork],
    batch_id: UUID,
    applies: Callable[[RecognitionTask], bool],
    change: Callable[[RecognitionTask], None],
    attempts: int,
) -> BatchChange:
    for _ in range(attempts - 1):
        with contextlib.suppress(ConcurrentUpdateError):
            return await _change_once(uow_factory, batch_id, applies, change)
    return await _change_once(uow_factory, batch_id, applies, change)


async def _change_once(
    uow_factory: Callable[[], UnitOfWork],
    batch_id: UUID,
    applies: Callable[[RecognitionTask], bool],
    change: Callable[[RecognitionTask], None],
) -> BatchChange:
    async with uow_factory() as uow:
        batch, tasks = await _load(uow, batch_id, lock=True)
        changed, unchanged = [], []
        for task in tasks:
            if applies(task):
                change(task)
                changed.append(task)
            else:
                unchanged.append(task)
        await uow.commit()
        return BatchChange(batch, tuple(changed), tuple(unchanged))


class GetBatch:
    def __init__(self, uow: Callable[[], UnitOfWork]) -> None:
        self._uow = uow

    async def __call__(self, batch_id: UUID) -> BatchSummary:
        async with self._uow() as uow:
            batch = await uow.batches.get(batch_id)
            if batch is None:
                raise BatchNotFoundError(batch_id)
            return BatchSummary(batch, await uow.tasks.counts_by_status(batch_id))


class ListBatches:
    """The archive's batches, newest first, a page at a time, each with its cards counted by status."""

    def __init__(self, reader: BatchReader) -> None:
        self._reader = reader

    async def __call__(self, cursor: str | None, limit: int) -> BatchPage:
        return await self._reader.newest(cursor, limit)


class CancelBatch:
    """Queued cards are cancelled at once, running ones are told to stop; finished cards stay as they are."""

    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, batch_id: UUID) -> BatchChange:
        now = self._clock()
        return await _change_each(
            self._uow,
            batch_id,
            lambda task: task.status in {TaskStatus.QUEUED, TaskStatus.RUNNING},
            lambda task: task.request_cancel(now),
            WRITE_ATTEMPTS,
        )


class RetryFailedCards:
    """Every failed card of the batch runs again as a new attempt; the others are not touched."""

    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, batch_id: UUID) -> BatchChange:
        now = self._clock()
        return await _change_each(
            self._uow,
            batch_id,
            lambda task: task.status is TaskStatus.FAILED,
            lambda task: task.retry(now),
            WRITE_ATTEMPTS,
        )


class DeleteBatch:
    """Removes the batch, all its cards with their transcripts and scans; running jobs are told to stop.

    The scans are removed after the commit, as for a single card: a failure
    there leaves an unreferenced object, never a card without its scan.
    """

    def __init__(self, uow: Callable[[], UnitOfWork], storage: ObjectStorage, clock: Clock) -> None:
        self._uow = uow
        self._storage = storage
        self._clock = clock

    async def __call__(self, batch_id: UUID) -> int:
        for _ in range(WRITE_ATTEMPTS - 1):
            with contextlib.suppress(ConcurrentUpdateError):
                return await self._once(batch_id)
        return await self._once(batch_id)

    async def _once(self, batch_id: UUID) -> int:
        now = self._clock()
        async with self._uow() as uow:
            _, tasks = await _load(uow, batch_id, lock=True)
            for task in tasks:
                task.mark_deleted(now)
                await uow.tasks.delete(task)
            await uow.batches.delete(batch_id)
            await uow.commit()
        for task in tasks:
            try:
                await self._storage.delete(task.image.key)
            except Exception as exc:  # the cards are gone; an orphaned scan must not turn that into an error
                log.warning("scan %s of deleted task %s was not removed: %s", task.image.key, task.id, exc)
        return len(tasks)
