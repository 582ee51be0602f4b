"""CancelBatch, RetryFailedCards, DeleteBatch and GetBatch with in-memory ports."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from uuid import UUID

import pytest

from kartoteka.application.recognition.batches import CancelBatch, DeleteBatch, GetBatch, RetryFailedCards
from kartoteka.application.recognition.ports.tasks import BatchNotFoundError
from kartoteka.application.recognition.submit_cards import SubmitCards, Upload, UploadLimits
from kartoteka.domain.recognition.geometry import Box
from kartoteka.domain.recognition.task import TaskStatus
from kartoteka.domain.recognition.transcript import Transcript, TranscriptLine, TranscriptWord
from tests.fakes.recognition import MagicBytesSplitter, MemoryDatabase, MemoryUnitOfWork
from tests.fakes.shared import MagicBytesInspector, MemoryStorage

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
READING = Transcript(
    100,
    50,
    (TranscriptLine((TranscriptWord("Ба\u0301тюшка", Box(1, 1, 40, 20), 0.9, 0.5),)),),
)


class World:
    def __init__(self) -> None:
        self.db = MemoryDatabase()
        self.storage = MemoryStorage()
        counter = itertools.count(1)
        uow = lambda: MemoryUnitOfWork(self.db)  # noqa: E731
        self.submit = SubmitCards(
            uow,
            self.storage,
            MagicBytesInspector(),
            UploadLimits(max_upload_bytes=1000, max_pixels=10_000, max_files=5, max_cards=10),
            lambda: NOW,
            lambda: UUID(int=next(counter)),
            MagicBytesSplitter(),
        )
        self.cancel_batch = CancelBatch(uow, lambda: NOW)
        self.retry_batch = RetryFailedCards(uow, lambda: NOW)
        self.delete_batch = DeleteBatch(uow, self.storage, lambda: NOW)
        self.get_batch = GetBatch(uow)

    def complete(self, task_id: UUID, transcript: Transcript = READING) -> None:
        task = self.db.tasks[task_id]
        task.start(task.attempt, NOW)
        task.complete(task.attempt, transcript, NOW)
        self.db.revisions.setdefault(task_id, []).extend(task.new_revisions)
        task.new_revisions.clear()

    def fail(self, task_id: UUID) -> None:
        task = self.db.tasks[task_id]
        task.start(task.attempt, NOW)
        task.fail(task.attempt, "boom", NOW)


@pytest.fixture
def world() -> World:
    return World()


async def test_batch_cancel_retry_and_delete_go_card_by_card(world: World) -> None:
    submitted = await world.submit([Upload("box.pdf", b"DOC:4")])
    assert submitted.batch is not None
    batch_id = submitted.batch.id
    ids = [t.id for t in submitted.tasks]
    world.complete(ids[0])
    world.fail(ids[1])
    world.db.tasks[ids[2]].start(1, NOW)  # running

    cancelled = await world.cancel_batch(batch_id)
    assert [t.id for t in cancelled.changed] == ids[2:]
    assert [t.status for t in cancelled.changed] == [TaskStatus.CANCELLING, TaskStatus.CANCELLED]
    assert [t.id for t in cancelled.unchanged] == ids[:2]

    retried = await world.retry_batch(batch_id)
    assert [(t.id, t.status, t.attempt) for t in retried.changed] == [(ids[1], TaskStatus.QUEUED, 2)]
    summary = await world.get_batch(batch_id)
    assert summary.counts[TaskStatus.QUEUED] == 1

    assert await world.delete_batch(batch_id) == 4
    assert world.db.tasks == {}
    assert world.storage.objects == {}
    with pytest.raises(BatchNotFoundError):
        await world.get_batch(batch_id)
    stops = [m for m in world.db.outbox if m.destination == "recognition.cancellations"]
    assert len(stops) >= 4  # every card's worker is told, the running one included


async def test_a_batch_operation_retries_a_lost_race(world: World) -> None:
    submitted = await world.submit([Upload("box.pdf", b"DOC:2")])
    assert submitted.batch is not None
    world.db.conflicts = 1
    cancelled = await world.cancel_batch(submitted.batch.id)
    assert len(cancelled.changed) == 2
