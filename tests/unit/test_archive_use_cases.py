"""CorrectTranscript, GetTranscript, the batch operations and multi-page SubmitCards, with in-memory ports."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from uuid import UUID

import pytest

from kartoteka.application.recognition.batches import CancelBatch, DeleteBatch, GetBatch, RetryFailedCards
from kartoteka.application.recognition.corrections import (
    CorrectTranscript,
    GetTranscript,
    ListRevisions,
    RestoreRevision,
)
from kartoteka.application.recognition.errors import RejectionKind, TranscriptNotReadyError, UploadRejectedError
from kartoteka.application.recognition.ports.tasks import BatchNotFoundError, RevisionNotFoundError
from kartoteka.application.recognition.submit_cards import SubmitCards, Upload, UploadLimits
from kartoteka.domain.recognition.corrections import CorrectionError, EditWord, ReplaceText
from kartoteka.domain.recognition.geometry import Box
from kartoteka.domain.recognition.revisions import RevisionKind, StaleRevisionError
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
    def __init__(self, max_cards: int = 10) -> None:
        self.db = MemoryDatabase()
        self.storage = MemoryStorage()
        counter = itertools.count(1)
        uow = lambda: MemoryUnitOfWork(self.db)  # noqa: E731
        self.submit = SubmitCards(
            uow,
            self.storage,
            MagicBytesInspector(),
            UploadLimits(max_upload_bytes=1000, max_pixels=10_000, max_files=5, max_cards=max_cards),
            lambda: NOW,
            lambda: UUID(int=next(counter)),
            MagicBytesSplitter(),
        )
        self.correct = CorrectTranscript(uow, lambda: NOW)
        self.get = GetTranscript(uow)
        self.history = ListRevisions(uow)
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


# ------------------------------------------------------------------------------------ multi-page


async def test_a_document_becomes_one_card_per_page_in_order_in_one_batch(world: World) -> None:
    result = await world.submit([Upload("box12.pdf", b"DOC:3")])
    assert result.batch is not None
    assert [t.image.filename for t in result.tasks] == ["box12-p001.png", "box12-p002.png", "box12-p003.png"]
    assert [t.batch_position for t in result.tasks] == [0, 1, 2]
    sources = [t.image.source for t in result.tasks]
    assert [(s.filename, s.number, s.count) for s in sources if s] == [("box12.pdf", n, 3) for n in (1, 2, 3)]
    assert len(world.storage.objects) == 3


async def test_documents_and_images_mix_and_plain_images_have_no_source(world: World) -> None:
    result = await world.submit([Upload("a.png", b"PNG:5x5"), Upload("b.tif", b"DOC:2")])
    assert [t.image.filename for t in result.tasks] == ["a.png", "b-p001.png", "b-p002.png"]
    assert result.tasks[0].image.source is None


@pytest.mark.parametrize(
    ("uploads", "kind", "page"),
    [
        ([Upload("ok.png", b"PNG:1x1"), Upload("big.pdf", b"DOC:big")], RejectionKind.TOO_MANY_PIXELS, 2),
        ([Upload("bad.pdf", b"DOC:bad")], RejectionKind.UNREADABLE, None),
        ([Upload("long.pdf", b"DOC:30")], RejectionKind.TOO_MANY_PAGES, None),
        ([Upload("a.pdf", b"DOC:6"), Upload("b.pdf", b"DOC:6")], RejectionKind.TOO_MANY_PAGES, None),
    ],
)
async def test_page_problems_refuse_the_request_naming_file_and_page(
    world: World, uploads: list[Upload], kind: RejectionKind, page: int | None
) -> None:
    with pytest.raises(UploadRejectedError) as err:
        await world.submit(uploads)
    assert err.value.rejection is kind
    assert err.value.filename == uploads[-1].filename
    assert err.value.page == page
    assert world.storage.objects == {}
    assert world.db.tasks == {}


# ----------------------------------------------------------------------------------- corrections


async def submitted_and_read(world: World) -> UUID:
    task_id = (await world.submit([Upload("a.png", b"PNG:100x50")])).tasks[0].id
    world.complete(task_id)
    return task_id


async def test_corrections_add_revisions_and_announce_themselves(world: World) -> None:
    task_id = await submitted_and_read(world)
    result = await world.correct(task_id, [EditWord(0, 0, "батюшка")], expected_revision=0, author="anonymous")
    assert result.revision.number == 1
    task, latest = await world.get(task_id)
    assert (task.revision, latest.transcript.text) == (1, "батюшка")
    _, first = await world.get(task_id, 0)
    assert first.transcript == READING
    events = [
        m.payload for m in world.db.outbox if m.destination == "status" and m.payload["type"] == "task.transcript"
    ]
    assert [(e["revision"], e["author"]) for e in events] == [(1, "anonymous")]
    _, history = await world.history(task_id)
    assert [r.kind for r in history] == [RevisionKind.MACHINE, RevisionKind.CORRECTION]


async def test_stale_if_match_is_refused_before_anything_else(world: World) -> None:
    task_id = await submitted_and_read(world)
    await world.correct(task_id, [EditWord(0, 0, "один")], expected_revision=0, author="ann")
    with pytest.raises(StaleRevisionError) as err:
        await world.correct(task_id, [RestoreRevision(7)], expected_revision=0, author="ann")
    assert err.value.current == 1


async def test_a_lost_race_is_a_stale_revision_when_the_revision_moved(world: World) -> None:
    task_id = await submitted_and_read(world)
    await world.correct(task_id, [EditWord(0, 0, "один")], expected_revision=0, author="ann")
    world.db.conflicts = 1  # our commit loses to a writer that got there first...
    with pytest.raises(StaleRevisionError):
        await world.correct(task_id, [EditWord(0, 0, "два")], expected_revision=0, author="ann")
    world.db.conflicts = 1  # ...but when the revision did not move, it is simply tried again
    done = await world.correct(task_id, [EditWord(0, 0, "два")], expected_revision=1, author="ann")
    assert done.revision.number == 2


async def test_restore_brings_back_an_earlier_revision(world: World) -> None:
    task_id = await submitted_and_read(world)
    await world.correct(task_id, [ReplaceText("совсем другое")], expected_revision=0, author="ann")
    restored = await world.correct(task_id, [RestoreRevision(0)], expected_revision=1, author="ann")
    assert restored.revision.number == 2
    assert restored.revision.transcript == READING
    assert restored.revision.operations == ({"op": "restore", "revision": 0},)
    with pytest.raises(CorrectionError, match="no revision 9"):
        await world.correct(task_id, [RestoreRevision(9)], expected_revision=2, author="ann")


async def test_no_transcript_no_correction_and_unknown_revisions(world: World) -> None:
    task_id = (await world.submit([Upload("a.png", b"PNG:100x50")])).tasks[0].id
    with pytest.raises(TranscriptNotReadyError):
        await world.get(task_id)
    world.complete(task_id)
    with pytest.raises(RevisionNotFoundError):
        await world.get(task_id, 3)


# --------------------------------------------------------------------------------------- batches


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
