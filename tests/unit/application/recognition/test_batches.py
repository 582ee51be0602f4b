"""CancelBatch, RetryFailedCards, DeleteBatch and GetBatch with in-memory ports."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from uuid import UUID

import pytest

from kartoteka.application.recognition.batches import CancelBatch, DeleteBatch, GetBatch, ListBatches, RetryFailedCards
from kartoteka.application.recognition.ports.tasks import BatchNotFoundError
from kartoteka.application.recognition.submit_cards import SubmitCards, Upload, UploadLimits
from kartoteka.domain.recognition.geometry import Box
from kartoteka.domain.recognition.task import TaskStatus
from kartoteka.domain.recognition.transcript import Transcript, TranscriptLine, TranscriptWord
from tests.fakes.recognition import MagicBytesSplitter, MemoryBatchReader, MemoryDatabase, MemoryUnitOfWork
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
        self.list_batches = ListBatches(MemoryBatchReader(self.db))

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


async def test_batches_are_listed_newest_first_a_page_at_a_time_with_counts(world: World) -> None:
    first = await world.submit([Upload("a.pdf", b"DOC:3")], "box 1")
    second = await world.submit([Upload("b.pdf", b"DOC:2")], "box 2")
    assert first.batch is not None
    assert second.batch is not None
    world.fail(first.tasks[0].id)

    page = await world.list_batches(None, 1)
    assert [b.batch.label for b in page.batches] == ["box 2"]
    assert page.next_cursor is not None
    rest = await world.list_batches(page.next_cursor, 1)
    assert [b.batch.label for b in rest.batches] == ["box 1"]
    assert rest.next_cursor is None
    listing = rest.batches[0]
    assert (listing.total, listing.counts[TaskStatus.QUEUED], listing.counts[TaskStatus.FAILED]) == (3, 2, 1)
    assert set(listing.counts) == set(TaskStatus)  # every status, zeros included
