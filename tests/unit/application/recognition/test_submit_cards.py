"""SubmitCards with in-memory ports: single scans, multi-page documents, and all-or-nothing refusals."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from uuid import UUID

import pytest

from kartoteka.application.recognition.submit_cards import SubmitCards, Upload, UploadLimits
from kartoteka.application.shared.storage import StorageUnavailableError
from kartoteka.application.shared.uploads import RejectionKind, UploadRejectedError
from kartoteka.domain.recognition.task import TaskStatus
from tests.fakes.recognition import MagicBytesSplitter, MemoryDatabase, MemoryUnitOfWork
from tests.fakes.shared import MagicBytesInspector, MemoryStorage

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
LIMITS = UploadLimits(max_upload_bytes=100, max_pixels=10_000, max_files=5, max_cards=10)


class World:
    def __init__(self) -> None:
        self.db = MemoryDatabase()
        self.storage = MemoryStorage()
        counter = itertools.count(1)
        self.submit = SubmitCards(
            lambda: MemoryUnitOfWork(self.db),
            self.storage,
            MagicBytesInspector(),
            LIMITS,
            lambda: NOW,
            lambda: UUID(int=next(counter)),
            MagicBytesSplitter(),
        )


@pytest.fixture
def world() -> World:
    return World()


async def test_several_cards_become_queued_tasks_in_one_batch(world: World) -> None:
    result = await world.submit([Upload("a.png", b"PNG:10x10"), Upload("b.png", b"PNG:20x5")], "Пинега")
    assert result.batch is not None
    assert result.batch.label == "Пинега"
    assert len(world.db.tasks) == 2
    for task in result.tasks:
        assert task.status is TaskStatus.QUEUED
        assert task.batch_id == result.batch.id
        assert world.storage.objects[task.image.key].data.startswith(b"PNG:")
        assert task.image.key.startswith(f"cards/{task.id}/")
    jobs = [m for m in world.db.outbox if m.destination == "recognition.jobs"]
    assert sorted(m.payload["task_id"] for m in jobs) == sorted(str(t.id) for t in result.tasks)


async def test_one_card_without_label_has_no_batch(world: World) -> None:
    result = await world.submit([Upload("a.png", b"PNG:10x10")])
    assert result.batch is None
    assert result.tasks[0].image.width == 10


@pytest.mark.parametrize(
    ("uploads", "kind", "filename"),
    [
        ([], RejectionKind.EMPTY_REQUEST, None),
        (
            [Upload("ok.png", b"PNG:1x1"), Upload("big.png", b"PNG:1x1" + b"0" * 200)],
            RejectionKind.TOO_LARGE,
            "big.png",
        ),
        ([Upload("ok.png", b"PNG:1x1"), Upload("notes.txt", b"hello")], RejectionKind.UNREADABLE, "notes.txt"),
        ([Upload("anim.gif", b"GIF89a")], RejectionKind.UNSUPPORTED_TYPE, "anim.gif"),
        ([Upload("huge.png", b"PNG:1000x1000")], RejectionKind.TOO_MANY_PIXELS, "huge.png"),
        ([Upload("e.png", b"")], RejectionKind.UNREADABLE, "e.png"),
        ([Upload(f"{i}.png", b"PNG:1x1") for i in range(6)], RejectionKind.TOO_MANY_FILES, None),
    ],
)
async def test_a_bad_file_refuses_the_whole_request_and_stores_nothing(
    world: World, uploads: list[Upload], kind: RejectionKind, filename: str | None
) -> None:
    with pytest.raises(UploadRejectedError) as err:
        await world.submit(uploads)
    assert err.value.rejection is kind
    assert err.value.filename == filename
    assert world.storage.objects == {}
    assert world.db.tasks == {}
    assert world.db.outbox == []


async def test_storage_failure_midway_removes_what_was_stored(world: World) -> None:
    world.storage.fail_after = 1
    with pytest.raises(StorageUnavailableError):
        await world.submit([Upload("a.png", b"PNG:1x1"), Upload("b.png", b"PNG:1x1")])
    assert world.storage.objects == {}
    assert world.db.tasks == {}


async def test_database_failure_removes_the_stored_scans(world: World) -> None:
    world.db.fail_commit = True
    with pytest.raises(ConnectionError):
        await world.submit([Upload("a.png", b"PNG:1x1")])
    assert world.storage.objects == {}


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
