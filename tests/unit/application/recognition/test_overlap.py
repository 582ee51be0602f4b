"""Two cards in flight through one RecognizeCard: the next card is decoded and detected while the current
one is read, each model serves one card at a time, and every card reads as it would alone.

The fakes block on events, not on time: a pipeline that ran the cards one after another would never let
card A's reading finish (it waits for card B's detection), and the guard below turns that into a failure.
"""

from __future__ import annotations

import asyncio

import pytest

from kartoteka.application.recognition.errors import RecognitionCancelledError
from kartoteka.domain.recognition.task import Progress
from kartoteka.domain.recognition.transcript import Transcript
from tests.fakes.pipeline import A_SCAN, B_SCAN, pipeline

GUARD_S = 5.0  # only a deadlock reaches this: every wait below ends on an event


async def alone(data: bytes) -> Transcript:
    return await pipeline().use_case(data)


async def test_the_next_card_is_detected_while_the_current_one_is_read() -> None:
    b_detected = asyncio.Event()
    rig = pipeline(release_a=b_detected)  # A's first batch cannot end before B has been detected
    rig.detector.detected["B"] = b_detected

    async with asyncio.timeout(GUARD_S):
        got_a, got_b = await asyncio.gather(rig.use_case(A_SCAN), rig.use_case(B_SCAN))

    assert got_a == await alone(A_SCAN)
    assert got_b == await alone(B_SCAN)
    events = rig.journal.events
    assert events.index("read A begins") < events.index("detect B begins") < events.index("read A ends")
    assert rig.journal.most_inside == {"loader": 1, "detector": 1, "recognizer": 1}


async def test_a_cards_batches_are_never_interleaved_with_the_next_cards() -> None:
    rig = pipeline()
    async with asyncio.timeout(GUARD_S):
        await asyncio.gather(rig.use_case(A_SCAN), rig.use_case(B_SCAN))
    reads = [e.split()[1] for e in rig.journal.events if e.startswith("read") and e.endswith("begins")]
    assert reads == ["A", "A", "A", "B", "B"]  # 5 words and 4 words in batches of 2, A first as it came first


async def test_each_card_reports_the_progress_it_reports_alone() -> None:
    def recorder() -> tuple[list[Progress], object]:
        seen: list[Progress] = []

        async def progress(p: Progress) -> None:
            seen.append(p)

        return seen, progress

    alone_seen, alone_progress = recorder()
    await pipeline().use_case(B_SCAN, progress=alone_progress)  # type: ignore[arg-type]

    use_case = pipeline().use_case
    a_seen, a_progress = recorder()
    b_seen, b_progress = recorder()
    async with asyncio.timeout(GUARD_S):
        await asyncio.gather(
            use_case(A_SCAN, progress=a_progress),  # type: ignore[arg-type]
            use_case(B_SCAN, progress=b_progress),  # type: ignore[arg-type]
        )
    assert b_seen == alone_seen
    assert [(p.stage, p.done, p.total) for p in a_seen] == [
        ("decoding", 0, 1),
        ("detecting", 0, 1),
        ("reading", 0, 5),
        ("reading", 2, 5),
        ("reading", 4, 5),
        ("reading", 5, 5),
    ]


async def test_a_card_waiting_for_the_recogniser_stops_when_cancelled_without_waiting_for_the_current_card() -> None:
    release_a = asyncio.Event()  # A keeps the recogniser until the end of the test
    rig = pipeline(release_a, poll_s=0.01)
    b_cancelled = asyncio.Event()

    async def cancelled_b() -> bool:
        return b_cancelled.is_set()

    reading_a = asyncio.create_task(rig.use_case(A_SCAN))
    async with asyncio.timeout(GUARD_S):
        await rig.journal.until("read A begins")
        waiting_b = asyncio.create_task(rig.use_case(B_SCAN, cancelled=cancelled_b))
        await rig.journal.until("detect B ends")
        b_cancelled.set()  # B is now queued behind A for the recogniser
        with pytest.raises(RecognitionCancelledError):
            await waiting_b
        assert not reading_a.done()
        release_a.set()
        assert await reading_a == await alone(A_SCAN)
    assert not any(e.startswith("read B") for e in rig.journal.events)


async def test_a_card_stopped_by_its_time_limit_while_queued_leaves_the_lanes_free() -> None:
    release_a = asyncio.Event()
    rig = pipeline(release_a, poll_s=0.01)
    reading_a = asyncio.create_task(rig.use_case(A_SCAN))
    async with asyncio.timeout(GUARD_S):
        await rig.journal.until("read A begins")
        waiting_b = asyncio.create_task(rig.use_case(B_SCAN))
        await rig.journal.until("detect B ends")
        waiting_b.cancel()  # what ProcessCard's asyncio.timeout does to a job past its limit
        with pytest.raises(asyncio.CancelledError):
            await waiting_b
        release_a.set()
        await reading_a
        assert await rig.use_case(B_SCAN) == await alone(B_SCAN)  # the read lane was handed on, not left taken


async def test_a_card_with_no_words_does_not_wait_for_the_card_being_read() -> None:
    release_a = asyncio.Event()
    rig = pipeline(release_a)
    rig.detector.empty.add("B")
    reading_a = asyncio.create_task(rig.use_case(A_SCAN))
    async with asyncio.timeout(GUARD_S):
        await rig.journal.until("read A begins")
        assert (await rig.use_case(B_SCAN)).lines == ()
        assert not reading_a.done()
        release_a.set()
        await reading_a
