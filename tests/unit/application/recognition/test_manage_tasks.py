"""GetTask, CancelTask, RetryTask, DeleteTask with in-memory ports."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from kartoteka.application.recognition.manage_tasks import CancelTask, DeleteTask, GetTask, RetryTask
from kartoteka.application.recognition.ports.tasks import TaskNotFoundError
from kartoteka.application.recognition.submit_cards import SubmitCards, Upload, UploadLimits
from kartoteka.domain.errors import ErrorKind
from kartoteka.domain.recognition.retries import RetryPolicy
from kartoteka.domain.recognition.task import IllegalTransitionError, LeaseHeldError, TaskStatus
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
    jobs = [m.payload for m in world.db.outbox if m.destination == "recognition.jobs"]
    assert [j["attempt"] for j in jobs] == [1, 2]


async def test_retry_of_a_task_a_live_worker_holds_is_refused_and_of_a_stuck_one_sends_it_again(
    world: World,
) -> None:
    task = (await world.submit([Upload("a.png", b"PNG:1x1")])).tasks[0]
    world.db.tasks[task.id].start(1, NOW, RetryPolicy(lease_s=30))  # a worker holds it until NOW + 30 s
    with pytest.raises(LeaseHeldError, match="a worker holds it") as refused:
        await world.retry(task.id)
    assert refused.value.kind is ErrorKind.CONFLICT
    world.db.tasks[task.id].lease_until = NOW - timedelta(seconds=1)  # ...and then it died
    retried = await world.retry(task.id)
    assert (retried.status, retried.attempt, retried.runs) == (TaskStatus.QUEUED, 2, 0)
    jobs = [m.payload for m in world.db.outbox if m.destination == "recognition.jobs"]
    assert [j["attempt"] for j in jobs] == [1, 2]


async def test_cancel_of_a_running_task_whose_worker_is_gone_is_immediate(world: World) -> None:
    task = (await world.submit([Upload("a.png", b"PNG:1x1")])).tasks[0]
    world.db.tasks[task.id].start(1, NOW - timedelta(minutes=5), RetryPolicy(lease_s=30))
    assert (await world.cancel(task.id)).status is TaskStatus.CANCELLED


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
