"""CorrectTranscript, GetTranscript and ListRevisions with in-memory ports."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from uuid import UUID

import pytest

from kartoteka.application.recognition.corrections import (
    CorrectTranscript,
    GetTranscript,
    ListRevisions,
    RestoreRevision,
)
from kartoteka.application.recognition.errors import TranscriptNotReadyError
from kartoteka.application.recognition.ports.tasks import RevisionNotFoundError
from kartoteka.application.recognition.submit_cards import SubmitCards, Upload, UploadLimits
from kartoteka.domain.recognition.corrections import CorrectionError, EditWord, ReplaceText
from kartoteka.domain.recognition.geometry import Box
from kartoteka.domain.recognition.revisions import RevisionKind, StaleRevisionError
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
        self.correct = CorrectTranscript(uow, lambda: NOW)
        self.get = GetTranscript(uow)
        self.history = ListRevisions(uow)

    def complete(self, task_id: UUID, transcript: Transcript = READING) -> None:
        task = self.db.tasks[task_id]
        task.start(task.attempt, NOW)
        task.complete(task.attempt, transcript, NOW)
        self.db.revisions.setdefault(task_id, []).extend(task.new_revisions)
        task.new_revisions.clear()


@pytest.fixture
def world() -> World:
    return World()


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
