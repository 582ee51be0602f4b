"""Two jobs in flight in one worker (broker.prefetch 2), through ProcessCard and one shared RecognizeCard:
each completes with the transcript it gets alone, and a job cancelled while it waits for the recogniser
is cancelled without waiting for the job ahead of it."""

from __future__ import annotations

import asyncio

from kartoteka.application.recognition.process_card import Outcome
from kartoteka.application.recognition.submit_cards import Upload
from kartoteka.domain.recognition.task import TaskStatus
from tests.fakes.pipeline import A_SCAN, B_SCAN, pipeline
from tests.unit.application.recognition.test_process_card import World

GUARD_S = 5.0  # only a deadlock reaches this: every wait below ends on an event


async def test_two_jobs_in_flight_complete_as_each_would_alone() -> None:
    alone = pipeline().use_case
    rig = pipeline()
    world = World(rig.use_case)
    a, b = (await world.submit([Upload("a.png", A_SCAN), Upload("b.png", B_SCAN)])).tasks
    async with asyncio.timeout(GUARD_S):
        outcomes = await asyncio.gather(world.process(a.id, 1), world.process(b.id, 1))
    assert outcomes == [Outcome.COMPLETED, Outcome.COMPLETED]
    assert world.db.tasks[a.id].transcript == await alone(A_SCAN)
    assert world.db.tasks[b.id].transcript == await alone(B_SCAN)
    assert [(t, p.stage, p.done) for t, _, p in world.feed.ticks if t == b.id and p.stage == "reading"] == [
        (b.id, "reading", 0),
        (b.id, "reading", 2),
        (b.id, "reading", 4),
    ]


async def test_a_job_cancelled_while_it_waits_for_the_recogniser_is_cancelled_at_once() -> None:
    release_a = asyncio.Event()  # job A holds the recogniser until B has been dealt with
    rig = pipeline(release_a, poll_s=0.01)
    world = World(rig.use_case)
    a, b = (await world.submit([Upload("a.png", A_SCAN), Upload("b.png", B_SCAN)])).tasks
    async with asyncio.timeout(GUARD_S):
        job_a = asyncio.create_task(world.process(a.id, 1))
        await rig.journal.until("read A begins")
        job_b = asyncio.create_task(world.process(b.id, 1))
        await rig.journal.until("detect B ends")
        await world.cancel(b.id)
        assert await job_b is Outcome.CANCELLED
        assert not job_a.done()
        release_a.set()
        assert await job_a is Outcome.COMPLETED
    assert world.db.tasks[b.id].status is TaskStatus.CANCELLED
    assert world.db.tasks[a.id].status is TaskStatus.COMPLETED
    assert not any(e.startswith("read B") for e in rig.journal.events)
