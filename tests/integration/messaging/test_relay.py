"""OutboxRelay against real PostgreSQL with in-memory publishers (the adapters have their own tests)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from kartoteka.application.recognition.outbox_messages import messages_for
from kartoteka.application.shared.outbox import DestinationUnavailableError, OutboundMessage, PublishError
from kartoteka.domain.recognition.task import CardImage, RecognitionTask
from kartoteka.infrastructure.db.recognition.unit_of_work import SqlUnitOfWork
from kartoteka.infrastructure.db.schema import outbox
from kartoteka.infrastructure.messaging.relay import OutboxRelay, RelayPolicy
from kartoteka.infrastructure.observability.metrics import REGISTRY

IMAGE = CardImage(key="k", filename="f.png", content_type="image/png", size=1, width=1, height=1)


class Recorder:
    def __init__(self, poison: str | None = None, down: bool = False) -> None:
        self.got: list[OutboundMessage] = []
        self.poison = poison
        self.down = down
        self.received = asyncio.Event()

    async def publish(self, messages: Sequence[OutboundMessage]) -> None:
        if self.down:
            raise DestinationUnavailableError("broker unreachable")
        if any(m.key == self.poison for m in messages):
            raise PublishError("cannot encode")
        self.got.extend(messages)
        self.received.set()


@pytest.fixture(autouse=True)
async def _empty_outbox(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(delete(outbox))


async def put(engine: AsyncEngine, *keys: str, destination: str = "status") -> None:
    async with engine.begin() as conn:
        await conn.execute(insert(outbox), [{"destination": destination, "key": k, "payload": {"n": k}} for k in keys])


async def pending(engine: AsyncEngine) -> list[tuple[str, int, bool]]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(outbox.c.key, outbox.c.attempts, outbox.c.dead_at).order_by(outbox.c.id))
        return [(r.key, r.attempts, r.dead_at is not None) for r in rows]


async def test_rows_are_delivered_in_order_and_removed(engine: AsyncEngine) -> None:
    rec = Recorder()
    await put(engine, *[f"m{i}" for i in range(7)])
    relay = OutboxRelay(engine, {"status": rec}, RelayPolicy(batch_size=3))
    assert [await relay.drain_once() for _ in range(4)] == [3, 3, 1, 0]
    assert [m.key for m in rec.got] == [f"m{i}" for i in range(7)]
    assert rec.got[0].payload == {"n": "m0"}
    assert await pending(engine) == []


async def test_a_poison_row_backs_off_and_dies_without_holding_back_the_rest(engine: AsyncEngine) -> None:
    rec = Recorder(poison="bad")
    await put(engine, "a", "bad", "b")
    relay = OutboxRelay(engine, {"status": rec}, RelayPolicy(max_attempts=2, backoff_base_s=0.0))
    await relay.drain_once()
    assert [m.key for m in rec.got] == ["a", "b"]
    assert await pending(engine) == [("bad", 1, False)]
    await relay.drain_once()
    assert await pending(engine) == [("bad", 2, True)]  # parked as dead
    await put(engine, "c")
    await relay.drain_once()
    assert [m.key for m in rec.got] == ["a", "b", "c"]


async def test_failed_rows_wait_for_their_backoff(engine: AsyncEngine) -> None:
    rec = Recorder(poison="x")
    await put(engine, "x")
    relay = OutboxRelay(engine, {"status": rec}, RelayPolicy(backoff_base_s=3600))
    assert await relay.drain_once() == 1
    assert await relay.drain_once() == 0  # not yet available again
    assert await pending(engine) == [("x", 1, False)]


async def test_the_gauges_show_the_backlog_its_age_and_the_dead_rows(engine: AsyncEngine) -> None:
    def gauge(name: str) -> float | None:
        return REGISTRY.get_sample_value(f"kartoteka_{name}")

    jobs, status = Recorder(down=True), Recorder(poison="bad")
    published = REGISTRY.get_sample_value("kartoteka_outbox_published_total", {"destination": "status"}) or 0
    await put(engine, "j0", "j1", destination="jobs")
    await put(engine, "ok", "bad", destination="status")
    relay = OutboxRelay(
        engine, {"jobs": jobs, "status": status}, RelayPolicy(max_attempts=1, backoff_base_s=0.0, poll_interval_s=0)
    )
    await relay.drain_once()  # jobs' broker is down; "bad" dies at its first attempt; "ok" goes out
    await relay.observe_backlog()
    assert (gauge("outbox_backlog"), gauge("outbox_dead_rows")) == (2, 1)
    assert (gauge("outbox_oldest_age_seconds") or 0) > 0
    assert REGISTRY.get_sample_value("kartoteka_outbox_published_total", {"destination": "status"}) == published + 1
    jobs.down = False
    await relay.drain_once()
    await relay.observe_backlog()
    assert (gauge("outbox_backlog"), gauge("outbox_oldest_age_seconds"), gauge("outbox_dead_rows")) == (0, 0, 1)


async def test_an_outage_spends_no_attempts_and_kills_nothing_however_long(engine: AsyncEngine) -> None:
    rec = Recorder(down=True)
    await put(engine, *[f"k{i}" for i in range(5)])
    relay = OutboxRelay(engine, {"status": rec}, RelayPolicy(max_attempts=2, backoff_base_s=0.0))
    for _ in range(10):  # five times the attempts a bad row gets
        await relay.drain_once()
    assert rec.got == []
    assert await pending(engine) == [(f"k{i}", 0, False) for i in range(5)]
    rec.down = False
    await relay.drain_once()
    assert [m.key for m in rec.got] == [f"k{i}" for i in range(5)]
    assert await pending(engine) == []


async def test_an_unreachable_destination_does_not_hold_back_the_others(engine: AsyncEngine) -> None:
    jobs, status = Recorder(down=True), Recorder()
    await put(engine, *[f"j{i}" for i in range(3)], destination="jobs")
    await put(engine, "s0", "s1", destination="status")
    relay = OutboxRelay(
        engine, {"jobs": jobs, "status": status}, RelayPolicy(batch_size=3, backoff_base_s=3600, max_attempts=1)
    )
    await relay.drain_once()  # the first batch is all jobs: the broker is found down and paused
    await relay.drain_once()  # paused jobs are not claimed, so the status rows behind them go
    assert [m.key for m in status.got] == ["s0", "s1"]
    assert await pending(engine) == [(f"j{i}", 0, False) for i in range(3)]


async def test_unknown_destination_is_retried_not_lost(engine: AsyncEngine) -> None:
    await put(engine, "z", destination="nowhere")
    relay = OutboxRelay(engine, {}, RelayPolicy(backoff_base_s=0.0))
    await relay.drain_once()
    async with engine.connect() as conn:
        error = await conn.scalar(select(outbox.c.last_error))
    assert "no publisher for destination 'nowhere'" in error


async def test_replicas_never_deliver_a_row_twice(engine: AsyncEngine) -> None:
    await put(engine, *[f"r{i}" for i in range(300)])
    rec = Recorder()
    relays = [OutboxRelay(engine, {"status": rec}, RelayPolicy(batch_size=20)) for _ in range(3)]

    async def drain(relay: OutboxRelay) -> None:
        while await relay.drain_once():
            pass

    await asyncio.gather(*(drain(r) for r in relays))
    keys = [m.key for m in rec.got]
    assert sorted(keys) == sorted(f"r{i}" for i in range(300))
    assert len(keys) == len(set(keys))


async def test_running_relay_wakes_on_notify_well_before_its_poll(engine: AsyncEngine, migrated_database: str) -> None:
    rec = Recorder()
    dsn = migrated_database.replace("postgresql+asyncpg://", "postgresql://")
    relay = OutboxRelay(engine, {"status": rec}, RelayPolicy(poll_interval_s=3600), listen_dsn=dsn)
    stop = asyncio.Event()
    runner = asyncio.create_task(relay.run(stop))
    try:
        await asyncio.wait_for(relay.listening.wait(), timeout=10)
        async with SqlUnitOfWork(engine, messages_for) as u:
            await u.tasks.add(RecognitionTask.submit(uuid4(), IMAGE, datetime.now(UTC)))
            await u.commit()
        # With an hour-long poll, only the NOTIFY can deliver this in time.
        await asyncio.wait_for(rec.received.wait(), timeout=10)
        assert rec.got[0].payload["status"] == "queued"
    finally:
        stop.set()
        await asyncio.wait_for(runner, timeout=10)
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(outbox).where(outbox.c.destination == "status")) == 0
