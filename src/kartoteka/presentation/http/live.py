"""LiveHub: fans the process's single event subscription out to the WebSockets that asked.

Each socket registers the task ids it watches. Status events are turned into
a full task snapshot read once from PostgreSQL (not once per socket);
progress events are forwarded as they are. A socket that cannot keep up is
closed rather than allowed to hold memory without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable, Coroutine
from typing import Any
from uuid import UUID

from kartoteka.application.ports.live import LiveEventSource
from kartoteka.application.ports.unit_of_work import TaskNotFoundError
from kartoteka.application.recognition.manage_tasks import GetTask
from kartoteka.domain.recognition.task import RecognitionTask

log = logging.getLogger(__name__)

Render = Callable[[RecognitionTask | None, dict[str, Any]], dict[str, Any] | None]


class Subscriber:
    """One socket's outgoing queue and how it renders a task for its protocol."""

    def __init__(self, render: Render, max_pending: int = 1000) -> None:
        self.render = render
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=max_pending)
        self.overflowed = asyncio.Event()
        self._held: list[dict[str, Any]] | None = None

    def hold(self) -> None:
        """Keep live events back until the snapshot that precedes them has been queued."""
        self._held = []

    def release(self) -> None:
        held, self._held = self._held or [], None
        for message in held:
            self.offer(message)

    def offer(self, message: dict[str, Any]) -> None:
        if self._held is not None:
            self._held.append(message)
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed.set()


class LiveHub:
    def __init__(self, source: LiveEventSource, get_task: GetTask) -> None:
        self._source = source
        self._get_task = get_task
        self._watchers: dict[UUID, set[Subscriber]] = defaultdict(set)
        self._pump: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._pump is None or self._pump.done():
            self._pump = asyncio.create_task(self._run(), name="live-hub")

    async def stop(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump

    def watch(self, subscriber: Subscriber, task_ids: set[UUID]) -> None:
        self.start()
        for task_id in task_ids:
            self._watchers[task_id].add(subscriber)

    def unwatch(self, subscriber: Subscriber, task_ids: set[UUID] | None = None) -> None:
        """Forget ``task_ids`` for this subscriber (all of them when None)."""
        for task_id in list(self._watchers) if task_ids is None else task_ids:
            watchers = self._watchers.get(task_id)
            if watchers is None:
                continue
            watchers.discard(subscriber)
            if not watchers:
                del self._watchers[task_id]

    @property
    def watched(self) -> int:
        return len(self._watchers)

    async def _run(self) -> None:
        async for event in self._source.events():
            try:
                task_id = UUID(str(event["task_id"]))
            except ValueError:
                continue
            subscribers = self._watchers.get(task_id)
            if not subscribers:
                continue
            task: RecognitionTask | None = None
            if event.get("type") == "task.status":
                task = await self._snapshot(task_id)
            for subscriber in list(subscribers):
                message = subscriber.render(task, event)
                if message is not None:
                    subscriber.offer(message)

    async def _snapshot(self, task_id: UUID) -> RecognitionTask | None:
        try:
            return await self._get_task(task_id)
        except TaskNotFoundError:
            return None
        except Exception as exc:  # the database hiccuped: the event still goes out, without a snapshot
            log.warning("no snapshot for %s: %s", task_id, exc)
            return None


async def pump_to(send: Callable[[dict[str, Any]], Coroutine[Any, Any, None]], subscriber: Subscriber) -> None:
    """Write a subscriber's queue to its socket until cancelled."""
    while True:
        await send(await subscriber.queue.get())
