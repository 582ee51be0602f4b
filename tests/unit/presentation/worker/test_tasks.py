"""The recognition job as the relay sends it: by task name with only a routing label (no TaskIQ retry or
timeout labels travel), on an in-process broker, with in-memory ports.

Retries are Kartoteka's own: a transient failure leaves the task queued for a backoff, the sweeper sends
the job again through the outbox, and a job that keeps failing leaves its task ``failed`` with the reason;
bad input and cancellation are never retried.
"""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest
from dishka import Provider, Scope, make_async_container, provide
from dishka.integrations.taskiq import setup_dishka
from taskiq import InMemoryBroker

from kartoteka.application.recognition.outbox_messages import JOBS
from kartoteka.application.recognition.process_card import ProcessCard
from kartoteka.application.shared.images import UnreadableImageError
from kartoteka.application.shared.storage import StorageUnavailableError, StoredObject
from kartoteka.domain.recognition.task import TaskStatus
from kartoteka.infrastructure.messaging.jobs import ROUTES, TaskiqJobPublisher
from kartoteka.presentation.worker.tasks import register_recognition_tasks
from tests.fakes.recognition import ScriptedRecognizer
from tests.fakes.shared import MemoryStorage
from tests.unit.application.recognition.test_process_card import POLICY, World


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


async def run_until_settled(world: World, task_id: UUID) -> int:
    """Relay the outbox's jobs to the worker and sweep, as the relay process does; returns jobs sent."""
    broker = InMemoryBroker(await_inplace=True)
    register_recognition_tasks(broker)

    class Jobs(Provider):
        @provide(scope=Scope.APP)
        def process(self) -> ProcessCard:
            return world.process

    container = make_async_container(Jobs())
    setup_dishka(container, broker)
    publisher = TaskiqJobPublisher(broker, ROUTES[JOBS])
    await broker.startup()
    sent = 0
    try:
        for _ in range(POLICY.max_runs * 2):
            jobs = [m for m in world.db.outbox if m.destination == JOBS][sent:]
            await publisher.publish(jobs)
            sent += len(jobs)
            await broker.wait_all()
            if world.db.tasks[task_id].status.is_final:
                return sent
            world.now += timedelta(minutes=1)
            await world.sweep()
    finally:
        await broker.shutdown()
        await container.close()
    raise AssertionError(f"task still {world.db.tasks[task_id].status}")


@pytest.mark.parametrize("failures", [1, POLICY.max_runs - 1])
async def test_a_transient_failure_is_retried_until_the_job_completes(failures: int) -> None:
    storage = FlakyStorage(failures)
    world = World(ScriptedRecognizer(), storage)
    task_id = await world.one_task()
    assert await run_until_settled(world, task_id) == failures + 1
    assert storage.reads == failures + 1
    assert world.db.tasks[task_id].status is TaskStatus.COMPLETED
    assert world.db.tasks[task_id].attempt == 1


async def test_a_job_that_keeps_failing_stops_after_its_runs_and_fails_the_task() -> None:
    storage = FlakyStorage(failures=100)
    world = World(ScriptedRecognizer(), storage)
    task_id = await world.one_task()
    await run_until_settled(world, task_id)
    assert storage.reads == POLICY.max_runs
    task = world.db.tasks[task_id]
    assert task.status is TaskStatus.FAILED
    assert task.error == f"gave up after {POLICY.max_runs} runs: StorageUnavailableError: connection refused"


async def test_bad_input_is_never_retried() -> None:
    recognizer = ScriptedRecognizer(error=UnreadableImageError("truncated"))
    world = World(recognizer)
    task_id = await world.one_task()
    assert await run_until_settled(world, task_id) == 1
    assert recognizer.calls == 1
    assert world.db.tasks[task_id].status is TaskStatus.FAILED


async def test_a_cancelled_job_is_never_retried() -> None:
    async def cancel_mid_job(batch: int) -> None:
        if batch == 1:
            await world.cancel(task_id)

    recognizer = ScriptedRecognizer(on_batch=cancel_mid_job)
    world = World(recognizer)
    task_id = await world.one_task()
    await run_until_settled(world, task_id)
    assert recognizer.calls == 1
    assert world.db.tasks[task_id].status is TaskStatus.CANCELLED


async def test_a_job_whose_outcome_cannot_be_written_is_left_to_the_sweeper() -> None:
    world = World(ScriptedRecognizer())
    task_id = await world.one_task()
    world.db.fail_commit = True  # the database is gone for longer than the worker waits
    broker = InMemoryBroker(await_inplace=True)
    register_recognition_tasks(broker)

    class Jobs(Provider):
        @provide(scope=Scope.APP)
        def process(self) -> ProcessCard:
            return world.process

    container = make_async_container(Jobs())
    setup_dishka(container, broker)
    await broker.startup()
    try:
        await TaskiqJobPublisher(broker, ROUTES[JOBS]).publish([m for m in world.db.outbox if m.destination == JOBS])
        await broker.wait_all()
    finally:
        await broker.shutdown()
        await container.close()
    assert world.db.tasks[task_id].status is TaskStatus.QUEUED  # nothing was lost; the sweeper re-sends it
