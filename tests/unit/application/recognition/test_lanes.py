"""Lane: one card at a time, first come first served, and never left taken by a card that gave up."""

from __future__ import annotations

import asyncio

import pytest

from kartoteka.application.recognition.errors import RecognitionCancelledError
from kartoteka.application.recognition.lanes import Lane, StopIfCancelled

GUARD_S = 5.0  # only a deadlock reaches this: every wait below ends on an event


async def never_cancelled() -> None:
    return None


async def test_cards_take_the_lane_in_the_order_they_asked_for_it() -> None:
    lane = Lane(poll_s=0.01)
    order: list[str] = []
    first_inside = asyncio.Event()
    let_first_go = asyncio.Event()

    async def first() -> None:
        async with lane.held(never_cancelled):
            first_inside.set()
            await let_first_go.wait()
            order.append("first")

    async def queued(name: str, queued_up: asyncio.Event) -> None:
        queued_up.set()
        async with lane.held(never_cancelled):
            order.append(name)

    async with asyncio.timeout(GUARD_S):
        holder = asyncio.create_task(first())
        await first_inside.wait()
        waiting = []
        for name in ("second", "third", "fourth"):
            queued_up = asyncio.Event()
            waiting.append(asyncio.create_task(queued(name, queued_up)))
            await queued_up.wait()
        # Several polls pass while they wait: their places in the queue are kept across them.
        let_first_go.set()
        await asyncio.gather(holder, *waiting)
    assert order == ["first", "second", "third", "fourth"]
    assert not lane.busy


async def test_a_waiting_card_that_is_cancelled_leaves_the_queue() -> None:
    lane = Lane(poll_s=0.01)
    stop = asyncio.Event()

    async def stop_if_cancelled() -> None:
        if stop.is_set():
            raise RecognitionCancelledError("cancelled")

    async with asyncio.timeout(GUARD_S):
        async with lane.held(never_cancelled):
            waiter = asyncio.create_task(_enter(lane, stop_if_cancelled))
            stop.set()
            with pytest.raises(RecognitionCancelledError):
                await waiter
        assert not lane.busy
        await _enter(lane, never_cancelled)


async def test_a_turn_that_arrives_while_the_cancellation_check_runs_is_handed_on() -> None:
    lane = Lane(poll_s=0.01)
    holder_left = asyncio.Event()
    checking = asyncio.Event()

    async def check_that_finds_it_cancelled() -> None:
        checking.set()
        await holder_left.wait()  # the lane is freed (and granted to this card) during the check
        raise RecognitionCancelledError("cancelled")

    async def holder() -> None:
        async with lane.held(never_cancelled):
            await checking.wait()
        holder_left.set()

    async with asyncio.timeout(GUARD_S):
        holding = asyncio.create_task(holder())
        waiter = asyncio.create_task(_enter(lane, check_that_finds_it_cancelled))
        await holding
        with pytest.raises(RecognitionCancelledError):
            await waiter
        assert not lane.busy
        await _enter(lane, never_cancelled)


def test_a_lane_needs_a_positive_poll_interval() -> None:
    with pytest.raises(ValueError, match="positive"):
        Lane(poll_s=0)


async def _enter(lane: Lane, stop_if_cancelled: StopIfCancelled) -> None:
    async with lane.held(stop_if_cancelled):
        pass
