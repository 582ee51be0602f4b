"""The sweeper, leases and cancel-while-busy on real PostgreSQL: what is put back, once, however many sweep."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from kartoteka.application.recognition.batches import CancelBatch
from kartoteka.application.recognition.manage_tasks import CancelTask
from kartoteka.application.recognition.outbox_messages import JOBS, messages_for
from kartoteka.application.recognition.ports.tasks import Batch
from kartoteka.application.recognition.sweep_tasks import SweepTasks
from kartoteka.domain.recognition.retries import RetryPolicy
from kartoteka.domain.recognition.task import CardImage, IllegalTransitionError, RecognitionTask, TaskStatus
from kartoteka.domain.recognition.transcript import Transcript
from kartoteka.infrastructure.db.recognition.leases import SqlLeaseKeeper
from kartoteka.infrastructure.db.recognition.unit_of_work import SqlUnitOfWork
from kartoteka.infrastructure.db.schema import batches, outbox, recognition_tasks

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_runs=3, backoff_base_s=2.0, backoff_max_s=10.0, lease_s=30.0)
IMAGE = CardImage(key="k", filename="f.png", content_type="image/png", size=1, width=1, height=1)
STUCK_QUEUED_S = 600


def uow(engine: AsyncEngine) -> SqlUnitOfWork:
    return SqlUnitOfWork(engine, messages_for)


@pytest.fixture
async def clean(engine: AsyncEngine) -> AsyncEngine:
    """The module's database with no tasks and no outbox rows, so each test sees only its own."""
    async with engine.begin() as conn:
        await conn.execute(delete(recognition_tasks))
        await conn.execute(delete(outbox))
        await conn.execute(delete(batches))
    return engine


async def add(engine: AsyncEngine, change: object = None, at: datetime = T0) -> RecognitionTask:
    task = RecognitionTask.submit(uuid4(), IMAGE, at)
    async with uow(engine) as u:
        await u.tasks.add(task)
        if callable(change):
            change(task)
        await u.commit()
    return task


async def jobs_sent(engine: AsyncEngine) -> Counter[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(outbox.c.key).where(outbox.c.destination == JOBS))
        return Counter(r.key for r in rows)


async def forget_jobs(engine: AsyncEngine) -> None:
    """As if the relay had delivered every job so far."""
    async with engine.begin() as conn:
        await conn.execute(delete(outbox).where(outbox.c.destination == JOBS))


async def status(engine: AsyncEngine, task: RecognitionTask) -> TaskStatus:
    async with uow(engine) as u:
        return (await u.tasks.get(task.id)).status


LOCK_WAITERS = text(
    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
)


async def blocked_on_a_lock(engine: AsyncEngine, waiter: asyncio.Future[Any]) -> None:
    """Return once some session of this database waits on a row lock (polled: PostgreSQL has no event).

    Each poll is its own transaction: within one, PostgreSQL shows the same snapshot of the activity.
    """
    for _ in range(1000):
        assert not waiter.done(), f"it did not wait for the lock: {waiter.result()!r}"
        async with engine.connect() as conn:
            if await conn.scalar(LOCK_WAITERS):
                return
        await asyncio.sleep(0.01)
    raise AssertionError("nobody waited on the lock")


def sweeper(engine: AsyncEngine, now: datetime, batch_size: int = 200) -> SweepTasks:
    return SweepTasks(lambda: uow(engine), lambda: now, POLICY, STUCK_QUEUED_S, batch_size)


async def test_a_sweep_puts_back_exactly_the_work_nobody_is_doing(clean: AsyncEngine) -> None:
    engine = clean
    lost = await add(engine, lambda t: t.start(1, T0, POLICY))  # lease until T0 + 30 s
    alive = await add(engine, lambda t: t.start(1, T0 + timedelta(seconds=50), POLICY))
    orphan = await add(engine, lambda t: (t.start(1, T0, POLICY), t.request_cancel(T0)))
    due = await add(engine, lambda t: (t.start(1, T0, POLICY), t.defer(1, "OSError", T0, POLICY)))
    waiting = await add(engine, lambda t: (t.start(1, T0, POLICY), t.defer(1, "OSError", T0 + timedelta(59), POLICY)))
    stale = await add(engine, at=T0 - timedelta(hours=1))
    fresh = await add(engine)
    unsent = await add(engine, at=T0 - timedelta(hours=1))  # old, but its job still waits in the outbox
    async with engine.begin() as conn:
        await conn.execute(delete(outbox).where(outbox.c.destination == JOBS, outbox.c.key != str(unsent.id)))

    report = await sweeper(engine, T0 + timedelta(seconds=60))()

    assert report.put_back == 4
    assert await jobs_sent(engine) == Counter({str(lost.id): 1, str(due.id): 1, str(stale.id): 1, str(unsent.id): 1})
    assert await status(engine, lost) is TaskStatus.QUEUED
    assert await status(engine, alive) is TaskStatus.RUNNING
    assert await status(engine, orphan) is TaskStatus.CANCELLED
    assert await status(engine, waiting) is TaskStatus.QUEUED
    assert await status(engine, fresh) is TaskStatus.QUEUED
    async with uow(engine) as u:
        again = await u.tasks.get(lost.id)
        assert (again.runs, again.lease_until, again.retry_at) == (1, None, None)
    assert (await sweeper(engine, T0 + timedelta(seconds=61))()).put_back == 0  # nothing twice


async def test_two_sweepers_racing_send_each_lost_job_once(clean: AsyncEngine, migrated_database: str) -> None:
    engine = clean
    for _ in range(60):
        await add(engine, lambda t: t.start(1, T0, POLICY))
    await forget_jobs(engine)
    now = T0 + timedelta(minutes=5)
    a, b = sweeper(engine, now, batch_size=7), sweeper(engine, now, batch_size=7)

    async def until_done(sweep: SweepTasks) -> int:
        total = 0
        while (report := await sweep()).looked_at:
            total += report.put_back
        return total

    put_back = await asyncio.gather(until_done(a), until_done(b), until_done(a))
    assert sum(put_back) == 60
    sent = await jobs_sent(engine)
    assert len(sent) == 60
    assert set(sent.values()) == {1}


async def test_a_task_that_keeps_losing_its_worker_fails_with_the_reason(clean: AsyncEngine) -> None:
    engine = clean
    task = await add(engine)
    now = T0
    for _ in range(POLICY.max_runs):
        async with uow(engine) as u:
            (await u.tasks.get(task.id, lock=True)).start(1, now, POLICY)
            await u.commit()
        now += timedelta(minutes=1)  # the worker died: its lease lapsed
        await sweeper(engine, now)()
    async with uow(engine) as u:
        final = await u.tasks.get(task.id)
    assert final.status is TaskStatus.FAILED
    assert final.error == "gave up after 3 runs: the worker running it was lost"


async def test_the_heartbeat_renews_only_the_running_attempt_and_never_bumps_the_version(clean: AsyncEngine) -> None:
    engine = clean
    task = await add(engine, lambda t: t.start(1, T0, POLICY))
    leases = SqlLeaseKeeper(engine)
    assert await leases.renew(task.id, 1, T0 + timedelta(minutes=10))
    assert not await leases.renew(task.id, 2, T0 + timedelta(minutes=20))
    async with uow(engine) as u:
        loaded = await u.tasks.get(task.id)
    assert (loaded.lease_until, loaded.version) == (T0 + timedelta(minutes=10), 1)
    assert (await sweeper(engine, T0 + timedelta(minutes=5))()).put_back == 0  # the renewed lease is live


async def test_a_cancel_while_the_worker_writes_waits_for_it_instead_of_conflicting(clean: AsyncEngine) -> None:
    engine = clean
    task = await add(engine, lambda t: t.start(1, T0, POLICY))
    cancel = CancelTask(lambda: uow(engine), lambda: T0 + timedelta(seconds=1))
    async with uow(engine) as worker:
        held = await worker.tasks.get(task.id, lock=True)  # the worker is writing its outcome
        cancelling = asyncio.ensure_future(cancel(task.id))
        await blocked_on_a_lock(engine, cancelling)
        held.complete(1, Transcript(1, 1, ()), T0 + timedelta(seconds=1))
        await worker.commit()
    with pytest.raises(IllegalTransitionError, match="completed: cannot cancel"):
        await cancelling  # it saw the completion, not a conflict
    assert await status(engine, task) is TaskStatus.COMPLETED


async def test_a_batch_cancel_while_a_worker_writes_one_card_waits_and_never_conflicts(clean: AsyncEngine) -> None:
    engine = clean
    batch = Batch(uuid4(), "b", T0)
    tasks = [RecognitionTask.submit(uuid4(), IMAGE, T0, batch_id=batch.id, batch_position=n) for n in range(3)]
    async with uow(engine) as u:
        await u.batches.add(batch)
        for task in tasks:
            await u.tasks.add(task)
        tasks[0].start(1, T0, POLICY)
        tasks[1].start(1, T0, POLICY)
        await u.commit()
    cancel = CancelBatch(lambda: uow(engine), lambda: T0 + timedelta(seconds=1))
    async with uow(engine) as worker:
        held = await worker.tasks.get(tasks[0].id, lock=True)
        cancelling = asyncio.ensure_future(cancel(batch.id))
        await blocked_on_a_lock(engine, cancelling)
        held.complete(1, Transcript(1, 1, ()), T0 + timedelta(seconds=1))
        await worker.commit()
    change = await cancelling
    assert [t.id for t in change.unchanged] == [tasks[0].id]  # completed first: left as it is
    assert [await status(engine, t) for t in tasks] == [
        TaskStatus.COMPLETED,
        TaskStatus.CANCELLING,  # its worker holds a live lease: it stops between batches
        TaskStatus.CANCELLED,
    ]
