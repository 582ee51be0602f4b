"""Lanes: stages of the recognition pipeline that take one card at a time, in arrival order.

A worker runs more than one job at once so that the next card is decoded and
detected while the current one is being read. Each stage keeps its own lane, so
stages of different cards overlap but no two cards are ever inside one stage
(one model) together: the card being read keeps the recogniser to itself until
its last batch, and its readings and their order are exactly what a card read
alone gets.

Waiting for a lane is not a blind wait: the waiting card asks whether it was
cancelled every ``poll_s``, so a cancelled card that queues behind another
still stops within about a second, and it gives up its place in the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

StopIfCancelled = Callable[[], Awaitable[None]]


class Lane:
    """A first-come, first-served slot for one card; ``held`` is the context a card works in."""

    def __init__(self, poll_s: float = 0.5) -> None:
        if poll_s <= 0:
            raise ValueError("poll_s must be positive")
        self._lock = asyncio.Lock()
        self._poll_s = poll_s

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    @contextlib.asynccontextmanager
    async def held(self, stop_if_cancelled: StopIfCancelled) -> AsyncIterator[None]:
        """Wait for the lane, checking ``stop_if_cancelled`` (which raises) while waiting; hold it inside.

        Whatever ends the wait early (a cancellation raised by the check, the job's own time limit), the
        card leaves the queue and the lane is never left taken by a card that is no longer there.
        """
        await self._wait_for_turn(stop_if_cancelled)
        try:
            yield
        finally:
            self._lock.release()

    async def _wait_for_turn(self, stop_if_cancelled: StopIfCancelled) -> None:
        # One acquire for the whole wait keeps the card's place in the lock's FIFO queue across polls.
        turn = asyncio.ensure_future(self._lock.acquire())
        try:
            while True:
                done, _ = await asyncio.wait({turn}, timeout=self._poll_s)
                if done:
                    turn.result()
                    return
                await stop_if_cancelled()
        except BaseException:
            if turn.done() and not turn.cancelled() and turn.exception() is None:
                self._lock.release()  # the turn came while the check ran: hand it on
            else:
                turn.cancel()  # asyncio.Lock wakes the next waiter if this one had just been woken
            raise


class StageLanes:
    """The pipeline's two lanes: decoding and detection, and reading.

    One instance per model set (per process in a worker), shared by every card in flight.
    """

    def __init__(self, poll_s: float = 0.5) -> None:
        self.prepare = Lane(poll_s)
        self.read = Lane(poll_s)
