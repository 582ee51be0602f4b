"""ProcessCard with in-memory ports: outcomes, idempotency, cancellation, stale attempts."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from uuid import UUID

import pytest

from kartoteka.application.recognition.manage_tasks import CancelTask, RetryTask
from kartoteka.application.recognition.process_card import Outcome, ProcessCard
from kartoteka.application.recognition.submit_cards import SubmitCards, Upload, UploadLimits
from kartoteka.application.shared.images import UnreadableImageError
from kartoteka.domain.recognition.task import Progress, TaskStatus
from tests.fakes.recognition import (
    DbProbe,
    MagicBytesSplitter,
    MemoryDatabase,
    MemoryProgressFeed,
    MemoryProgressStore,
    MemoryUnitOfWork,
    ScriptedRecognizer,
)
from tests.fakes.shared import MagicBytesInspector, MemoryStorage

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
TRANSCRIPT = ScriptedRecognizer.transcript


class World:
    def __init__(self, recognizer: ScriptedRecognizer, storage: MemoryStorage | None = None) -> None:
        self.db = MemoryDatabase()
        self.storage = storage if storage is not None else MemoryStorage()
        self.feed = MemoryProgressFeed()
        ids = itertools.count(1)
        uow = lambda: MemoryUnitOfWork(self.db)  # noqa: E731
        self.submit = SubmitCards(
            uow,
            self.storage,
            MagicBytesInspector(),
            UploadLimits(10**6, 10**6, 10),
            lambda: NOW,
            lambda: UUID(int=next(ids)),
            MagicBytesSplitter(),
        )
        self.process = ProcessCard(
            uow, self.storage, recognizer, self.feed, DbProbe(self.db), lambda: NOW, MemoryProgressStore()
        )
        self.cancel = CancelTask(uow, lambda: NOW)
        self.retry = RetryTask(uow, lambda: NOW)

    async def one_task(self) -> UUID:
        return (await self.submit([Upload("a.png", b"PNG:2x2")])).tasks[0].id

    def statuses(self, task_id: UUID) -> list[str]:
        return [m.payload["status"] for m in self.db.outbox if m.destination == "status" and m.key == str(task_id)]


async def test_a_job_completes_its_task_and_reports_progress() -> None:
    world = World(ScriptedRecognizer())
    task_id = await world.one_task()
    assert await world.process(task_id, 1) is Outcome.COMPLETED
    assert world.db.tasks[task_id].status is TaskStatus.COMPLETED
    assert world.db.tasks[task_id].transcript == TRANSCRIPT
    assert [p.done for _, _, p in world.feed.ticks] == [1, 2, 3]
    assert world.statuses(task_id) == ["queued", "running", "completed"]


async def test_a_duplicate_job_after_completion_is_dropped() -> None:
    recognizer = ScriptedRecognizer()
    world = World(recognizer)
    task_id = await world.one_task()
    await world.process(task_id, 1)
    assert await world.process(task_id, 1) is Outcome.DROPPED
    assert recognizer.calls == 1
    assert world.statuses(task_id) == ["queued", "running", "completed"]


async def test_a_redelivered_job_of_a_crashed_worker_completes_once() -> None:
    world = World(ScriptedRecognizer())
    task_id = await world.one_task()
    task = world.db.tasks[task_id]
    task.start(1, NOW)  # the first worker claimed it and died
    task.events.clear()
    assert await world.process(task_id, 1) is Outcome.COMPLETED
    assert world.statuses(task_id).count("completed") == 1


async def test_a_cancelled_queued_task_never_runs() -> None:
    recognizer = ScriptedRecognizer()
    world = World(recognizer)
    task_id = await world.one_task()
    await world.cancel(task_id)
    assert await world.process(task_id, 1) is Outcome.DROPPED
    assert recognizer.calls == 0


async def test_cancel_while_running_stops_between_batches() -> None:
    world: World

    async def cancel_after_first(i: int) -> None:
        if i == 0:
            await world.cancel(task_id)

    recognizer = ScriptedRecognizer(batches=5, on_batch=cancel_after_first)
    world = World(recognizer)
    task_id = await world.one_task()
    assert await world.process(task_id, 1) is Outcome.CANCELLED
    assert world.db.tasks[task_id].status is TaskStatus.CANCELLED
    assert len(world.feed.ticks) == 1
    assert world.statuses(task_id) == ["queued", "running", "cancelling", "cancelled"]


async def test_unreadable_image_fails_without_retry() -> None:
    world = World(ScriptedRecognizer(error=UnreadableImageError("truncated")))
    task_id = await world.one_task()
    assert await world.process(task_id, 1) is Outcome.FAILED
    assert world.db.tasks[task_id].error == "unreadable image: truncated"


async def test_missing_scan_fails_the_task() -> None:
    world = World(ScriptedRecognizer())
    task_id = await world.one_task()
    world.storage.objects.clear()
    assert await world.process(task_id, 1) is Outcome.FAILED
    assert "missing" in (world.db.tasks[task_id].error or "")


async def test_a_job_of_an_old_attempt_is_dropped_after_retry() -> None:
    recognizer = ScriptedRecognizer()
    world = World(recognizer)
    task_id = await world.one_task()
    await world.cancel(task_id)
    await world.retry(task_id)
    assert await world.process(task_id, 1) is Outcome.DROPPED
    assert await world.process(task_id, 2) is Outcome.COMPLETED
    assert recognizer.calls == 1


async def test_transient_errors_propagate_for_the_broker_to_retry() -> None:
    world = World(ScriptedRecognizer(error=ConnectionError("gpu node lost")))
    task_id = await world.one_task()
    with pytest.raises(ConnectionError):
        await world.process(task_id, 1)
    assert world.db.tasks[task_id].status is TaskStatus.RUNNING  # a redelivery resumes it


async def test_progress_is_stored_at_most_once_per_interval() -> None:
    saved: list[int] = []

    class Store:
        async def save(self, task_id: UUID, attempt: int, progress: Progress) -> None:
            saved.append(progress.done)

    ticks = iter(range(100))
    world = World(ScriptedRecognizer(batches=6))
    seconds = lambda: NOW.replace(second=next(ticks) // 2)  # noqa: E731  (two calls per simulated second)
    world.process = ProcessCard(
        lambda: MemoryUnitOfWork(world.db),
        world.storage,
        ScriptedRecognizer(batches=6),
        world.feed,
        DbProbe(world.db),
        seconds,
        Store(),
    )
    task_id = await world.one_task()
    assert await world.process(task_id, 1) is Outcome.COMPLETED
    assert len(world.feed.ticks) == 6  # every tick reaches live watchers
    assert 1 <= len(saved) < 6  # the stored copy is throttled
    assert saved[0] == 1
