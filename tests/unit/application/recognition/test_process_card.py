"""ProcessCard with in-memory ports: outcomes, idempotency, cancellation, stale attempts, retries and leases."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from kartoteka.application.recognition.manage_tasks import CancelTask, RetryTask
from kartoteka.application.recognition.outbox_messages import JOBS
from kartoteka.application.recognition.process_card import CardRecognizer, Outcome, ProcessCard
from kartoteka.application.recognition.submit_cards import SubmitCards, Upload, UploadLimits
from kartoteka.application.recognition.sweep_tasks import SweepTasks
from kartoteka.application.shared.images import UnreadableImageError
from kartoteka.application.shared.outbox import OutboundMessage
from kartoteka.application.shared.storage import StorageUnavailableError, StoredObject
from kartoteka.domain.recognition.retries import RetryPolicy
from kartoteka.domain.recognition.task import Progress, TaskStatus
from kartoteka.domain.recognition.transcript import Transcript
from tests.fakes.recognition import (
    DbProbe,
    MagicBytesSplitter,
    MemoryDatabase,
    MemoryJobMetrics,
    MemoryLeases,
    MemoryProgressFeed,
    MemoryProgressStore,
    MemoryUnitOfWork,
    ScriptedRecognizer,
)
from tests.fakes.shared import MagicBytesInspector, MemoryStorage

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
TRANSCRIPT = ScriptedRecognizer.transcript


# No backoff: a retried write is tried again at once, and a retry is due as soon as it is scheduled.
POLICY = RetryPolicy(max_runs=3, backoff_base_s=0.0, backoff_max_s=0.0, lease_s=30.0)


class World:
    def __init__(
        self,
        recognizer: CardRecognizer,
        storage: MemoryStorage | None = None,
        policy: RetryPolicy = POLICY,
        timeout_s: float = 600.0,
    ) -> None:
        self.now = NOW
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
        clock = lambda: self.now  # noqa: E731
        self.leases = MemoryLeases(self.db)
        self.metrics = MemoryJobMetrics()
        self.process = ProcessCard(
            uow,
            self.storage,
            recognizer,
            self.feed,
            DbProbe(self.db),
            clock,
            MemoryProgressStore(),
            self.leases,
            policy,
            timeout_s,
            self.metrics,
        )
        self.cancel = CancelTask(uow, clock)
        self.retry = RetryTask(uow, clock)
        self.sweep = SweepTasks(uow, clock, policy, stuck_queued_s=600)

    async def one_task(self) -> UUID:
        return (await self.submit([Upload("a.png", b"PNG:2x2")])).tasks[0].id

    def jobs(self, task_id: UUID) -> list[OutboundMessage]:
        return [m for m in self.db.outbox if m.destination == JOBS and m.key == str(task_id)]

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


async def test_every_job_tells_the_metrics_its_outcome_stages_and_queue_wait() -> None:
    recognizer = ScriptedRecognizer(error=ConnectionError("gpu node lost"))
    world = World(recognizer)
    task_id = await world.one_task()
    world.now = NOW + timedelta(seconds=42)  # it waited in the queue this long
    assert await world.process(task_id, 1) is Outcome.RETRYING
    assert world.metrics.waits == [42.0]
    assert [stage for stage, _ in world.metrics.stages] == ["fetch", "store"]  # the models' stages are RecognizeCard's
    world.now += timedelta(seconds=8)
    await world.sweep()  # sent again: queued from here, the backoff before it is no queue wait
    world.now += timedelta(seconds=3)
    recognizer.error = None
    assert await world.process(task_id, 1) is Outcome.COMPLETED
    assert world.metrics.waits == [42.0, 3.0]
    assert await world.process(task_id, 1) is Outcome.DROPPED
    failing = World(ScriptedRecognizer(error=UnreadableImageError("truncated")))
    await failing.process(await failing.one_task(), 1)
    assert world.metrics.outcomes + failing.metrics.outcomes == ["retried", "completed", "dropped", "failed"]
    assert all(seconds >= 0 for _, seconds in world.metrics.stages)


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
    task.start(1, NOW, POLICY)  # the first worker claimed it and died
    task.events.clear()
    assert await world.process(task_id, 1) is Outcome.DROPPED  # its lease is still live: nobody else runs it
    world.now = NOW + timedelta(seconds=31)  # the lease lapsed: a redelivery takes over
    assert await world.process(task_id, 1) is Outcome.COMPLETED
    assert world.statuses(task_id).count("completed") == 1
    assert world.db.tasks[task_id].runs == 2


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


async def test_a_transient_failure_queues_the_task_again_after_a_backoff() -> None:
    recognizer = ScriptedRecognizer(error=ConnectionError("gpu node lost"))
    world = World(recognizer, policy=RetryPolicy(max_runs=3, backoff_base_s=4.0, backoff_max_s=60.0))
    task_id = await world.one_task()
    assert await world.process(task_id, 1) is Outcome.RETRYING
    task = world.db.tasks[task_id]
    assert (task.status, task.runs, task.retry_at, task.lease_until) == (
        TaskStatus.QUEUED,
        1,
        NOW + timedelta(seconds=4),
        None,
    )
    assert "ConnectionError: gpu node lost" in (task.error or "")
    assert world.statuses(task_id) == ["queued", "running", "queued"]
    assert len(world.jobs(task_id)) == 1  # no job is sent until the backoff has passed
    assert await world.process(task_id, 1) is Outcome.DROPPED  # a duplicate arriving early waits too

    assert (await world.sweep()).put_back == 0  # not due yet
    world.now = NOW + timedelta(seconds=4)
    assert (await world.sweep()).put_back == 1
    assert len(world.jobs(task_id)) == 2
    recognizer.error = None
    assert await world.process(task_id, 1) is Outcome.COMPLETED
    assert world.db.tasks[task_id].runs == 2
    assert world.db.tasks[task_id].error is None


async def test_the_last_transient_failure_fails_the_task_with_the_reason() -> None:
    world = World(ScriptedRecognizer(error=StorageUnavailableError("s3 refused the connection")))
    task_id = await world.one_task()
    outcomes = []
    for _ in range(POLICY.max_runs):
        outcomes.append(await world.process(task_id, 1))
        await world.sweep()
    assert outcomes == [Outcome.RETRYING, Outcome.RETRYING, Outcome.FAILED]
    task = world.db.tasks[task_id]
    assert task.status is TaskStatus.FAILED
    assert task.error == "gave up after 3 runs: StorageUnavailableError: s3 refused the connection"
    assert len(world.jobs(task_id)) == 3


async def test_storage_out_of_reach_is_transient_a_missing_scan_is_not() -> None:
    class DownStorage(MemoryStorage):
        async def get(self, key: str) -> StoredObject:
            raise StorageUnavailableError("connection refused")

    world = World(ScriptedRecognizer(), storage=DownStorage())
    task_id = await world.one_task()
    assert await world.process(task_id, 1) is Outcome.RETRYING


async def test_a_job_past_its_time_limit_is_stopped_and_retried() -> None:
    class Stuck(ScriptedRecognizer):
        async def __call__(self, data: bytes, **_: object) -> Transcript:
            await asyncio.Event().wait()  # never answers
            raise AssertionError

    world = World(Stuck(), timeout_s=0.01)
    task_id = await world.one_task()
    assert await world.process(task_id, 1) is Outcome.RETRYING
    assert "time limit of 0.01 s" in (world.db.tasks[task_id].error or "")


async def test_cancellation_during_a_transient_failure_is_never_retried() -> None:
    world: World

    async def cancel_then_break(i: int) -> None:
        await world.cancel(task_id)
        raise ConnectionError("database went away")

    world = World(ScriptedRecognizer(on_batch=cancel_then_break))
    task_id = await world.one_task()
    assert await world.process(task_id, 1) is Outcome.CANCELLED
    assert world.db.tasks[task_id].status is TaskStatus.CANCELLED


async def test_a_short_database_outage_while_writing_the_outcome_is_waited_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = World(ScriptedRecognizer())
    task_id = await world.one_task()
    failing = iter([False, True, True, False])  # the claim commits, the outcome fails twice, then commits
    real = MemoryUnitOfWork.commit

    async def flaky(self: MemoryUnitOfWork) -> None:
        if next(failing, False):
            raise ConnectionError("database restarting")
        await real(self)

    monkeypatch.setattr(MemoryUnitOfWork, "commit", flaky)
    assert await world.process(task_id, 1) is Outcome.COMPLETED
    assert world.statuses(task_id).count("completed") == 1


async def test_the_worker_renews_its_lease_while_the_job_runs() -> None:
    world: World

    async def wait_for_a_renewal(i: int) -> None:
        await world.leases.renewed.wait()

    world = World(ScriptedRecognizer(batches=1, on_batch=wait_for_a_renewal), policy=RetryPolicy(lease_s=0.03))
    task_id = await world.one_task()
    assert await world.process(task_id, 1) is Outcome.COMPLETED
    assert world.leases.renewals >= 1
    assert world.db.tasks[task_id].lease_until is None  # a settled task holds no lease


async def test_progress_that_cannot_be_delivered_does_not_cost_the_run() -> None:
    class DownFeed(MemoryProgressFeed):
        async def publish(self, task_id: UUID, attempt: int, progress: Progress) -> None:
            raise ConnectionError("redis is down")

    world = World(ScriptedRecognizer())
    world.process._feed = DownFeed()
    task_id = await world.one_task()
    assert await world.process(task_id, 1) is Outcome.COMPLETED


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
        MemoryLeases(world.db),
    )
    task_id = await world.one_task()
    assert await world.process(task_id, 1) is Outcome.COMPLETED
    assert len(world.feed.ticks) == 6  # every tick reaches live watchers
    assert 1 <= len(saved) < 6  # the stored copy is throttled
    assert saved[0] == 1
