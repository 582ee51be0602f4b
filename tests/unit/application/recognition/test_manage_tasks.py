"""GetTask, CancelTask, RetryTask, DeleteTask with in-memory ports."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from uuid import UUID

import pytest

from kartoteka.application.recognition.manage_tasks import CancelTask, DeleteTask, GetTask, RetryTask
from kartoteka.application.recognition.ports.tasks import TaskNotFoundError
from kartoteka.application.recognition.submit_cards import SubmitCards, Upload, UploadLimits
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
