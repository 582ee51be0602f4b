"""SubmitCards, CancelTask, RetryTask, DeleteTask with in-memory ports."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from uuid import UUID

import pytest

from kartoteka.application.recognition.errors import RejectionKind, UploadRejectedError
from kartoteka.application.recognition.manage_tasks import CancelTask, DeleteTask, GetTask, RetryTask
from kartoteka.application.recognition.ports.tasks import TaskNotFoundError
from kartoteka.application.recognition.submit_cards import SubmitCards, Upload, UploadLimits
from kartoteka.application.shared.storage import StorageUnavailableError
from kartoteka.domain.recognition.task import IllegalTransitionError, TaskStatus
from tests.fakes.recognition import MagicBytesSplitter, MemoryDatabase, MemoryUnitOfWork
from tests.fakes.shared import MagicBytesInspector, MemoryStorage

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
LIMITS = UploadLimits(max_upload_bytes=100, max_pixels=10_000, max_files=5)


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
        uow = lambda: MemoryUnitOfWork(self.db)  # noqa: E731
        self.get = GetTask(uow)
        self.cancel = CancelTask(uow, lambda: NOW)
        self.retry = RetryTask(uow, lambda: NOW)
        self.delete = DeleteTask(uow, self.storage, lambda: NOW)


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


async def test_cancel_retry_and_their_refusals(world: World) -> None:
    task = (await world.submit([Upload("a.png", b"PNG:1x1")])).tasks[0]
    cancelled = await world.cancel(task.id)
    assert cancelled.status is TaskStatus.CANCELLED
    with pytest.raises(IllegalTransitionError):
        await world.cancel(task.id)
    retried = await world.retry(task.id)
    assert (retried.status, retried.attempt) == (TaskStatus.QUEUED, 2)
    with pytest.raises(IllegalTransitionError):
        await world.retry(task.id)
    jobs = [m.payload for m in world.db.outbox if m.destination == "recognition.jobs"]
    assert [j["attempt"] for j in jobs] == [1, 2]


async def test_delete_removes_task_and_scan_and_signals_workers(world: World) -> None:
    task = (await world.submit([Upload("a.png", b"PNG:1x1")])).tasks[0]
    await world.delete(task.id)
    assert world.storage.objects == {}
    with pytest.raises(TaskNotFoundError):
        await world.get(task.id)
    assert any(m.destination == "recognition.cancellations" for m in world.db.outbox)


async def test_unknown_task_is_not_found(world: World) -> None:
    with pytest.raises(TaskNotFoundError):
        await world.cancel(UUID(int=999))
