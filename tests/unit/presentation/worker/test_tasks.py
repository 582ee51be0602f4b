"""The recognition job's retry policy, through TaskIQ's retry middleware (in-process broker, in-memory ports).

Transient failures run the job again with backoff, a bounded number of times, and a job that keeps
failing leaves its task ``failed`` with the reason; bad input and cancellation are never retried.
"""

from __future__ import annotations

from uuid import UUID

import pytest
from dishka import Provider, Scope, make_async_container, provide
from dishka.integrations.taskiq import setup_dishka
from taskiq import InMemoryBroker
from taskiq.middlewares import SmartRetryMiddleware

from kartoteka.application.recognition.outbox_messages import RECOGNIZE_JOB
from kartoteka.application.recognition.process_card import ProcessCard
from kartoteka.application.shared.images import UnreadableImageError
from kartoteka.application.shared.storage import StorageUnavailableError, StoredObject
from kartoteka.domain.recognition.task import TaskStatus
from kartoteka.presentation.worker.tasks import register_recognition_tasks
from tests.fakes.recognition import ScriptedRecognizer
from tests.fakes.shared import MemoryStorage
from tests.unit.application.recognition.test_process_card import World

RETRIES = 2


class FlakyStorage(MemoryStorage):
    """Down for the first ``failures`` reads, then fine."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.reads = 0

    async def get(self, key: str) -> StoredObject:
        self.reads += 1
        if self.reads <= self.failures:
            raise StorageUnavailableError("connection refused")
        return await super().get(key)


async def run_job(world: World, task_id: UUID) -> None:
    broker = InMemoryBroker(await_inplace=True)
    broker.add_middlewares(SmartRetryMiddleware(default_retry_count=RETRIES + 1, default_delay=0.0))
    register_recognition_tasks(broker, timeout_s=30, max_retries=RETRIES)

    class Jobs(Provider):
        @provide(scope=Scope.APP)
        def process(self) -> ProcessCard:
            return world.process

    container = make_async_container(Jobs())
    setup_dishka(container, broker)
    await broker.startup()
    try:
        await broker.find_task(RECOGNIZE_JOB).kiq(str(task_id), 1)  # type: ignore[union-attr]
        await broker.wait_all()
    finally:
        await broker.shutdown()
        await container.close()


@pytest.mark.parametrize("failures", [1, RETRIES])
async def test_a_transient_failure_is_retried_until_the_job_completes(failures: int) -> None:
    storage = FlakyStorage(failures)
    world = World(ScriptedRecognizer(), storage)
    task_id = await world.one_task()
    await run_job(world, task_id)
    assert storage.reads == failures + 1
    assert world.db.tasks[task_id].status is TaskStatus.COMPLETED
    assert world.db.tasks[task_id].attempt == 1


async def test_a_job_that_keeps_failing_stops_after_its_retries_and_fails_the_task() -> None:
    storage = FlakyStorage(failures=100)
    world = World(ScriptedRecognizer(), storage)
    task_id = await world.one_task()
    await run_job(world, task_id)
    assert storage.reads == RETRIES + 1
    task = world.db.tasks[task_id]
    assert task.status is TaskStatus.FAILED
    assert task.error is not None
    assert "gave up after 3 runs" in task.error
    assert "connection refused" in task.error


async def test_bad_input_is_never_retried() -> None:
    recognizer = ScriptedRecognizer(error=UnreadableImageError("truncated"))
    world = World(recognizer)
    task_id = await world.one_task()
    await run_job(world, task_id)
    assert recognizer.calls == 1
    assert world.db.tasks[task_id].status is TaskStatus.FAILED


async def test_a_cancelled_job_is_never_retried() -> None:
    async def cancel_mid_job(batch: int) -> None:
        if batch == 1:
            await world.cancel(task_id)

    recognizer = ScriptedRecognizer(on_batch=cancel_mid_job)
    world = World(recognizer)
    task_id = await world.one_task()
    await run_job(world, task_id)
    assert recognizer.calls == 1
    assert world.db.tasks[task_id].status is TaskStatus.CANCELLED
