"""LiveHub: fans the process's one live-message subscription out to its WebSockets and SSE streams.

Task messages go to the sockets watching that task; the gallery's events go to
every open gallery stream (SSE, or a WebSocket that asked for them); a stalled
gallery stream misses events rather than blocking the others.

Each socket registers the task ids it watches. Status events are turned into
a full task snapshot read from PostgreSQL once per task (not once per socket),
and events that arrive together (a batch finishing, a relay catching up) are
handled as one burst: one query reads the snapshots of all of them, so a
thousand completions cost one round trip rather than a thousand in a row.
Corrections (``task.transcript``) are handled like status changes: a snapshot
carries the new text. Progress events are forwarded as they are. A socket that cannot keep up is
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

from kartoteka.application.recognition.ports.task_reader import TaskReader
from kartoteka.application.shared.live_messages import (
    GalleryEvent,
    LiveMessageSource,
    TaskMessage,
    TaskStatusChanged,
    TranscriptRevised,
)
from kartoteka.domain.recognition.task import RecognitionTask

log = logging.getLogger(__name__)

Render = Callable[[RecognitionTask | None, TaskMessage], dict[str, Any] | None]


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


# Messages after which watchers get the task as it is now, read from the database.
SNAPSHOT_MESSAGES = (TaskStatusChanged, TranscriptRevised)

# Small enough that the first events of a long backlog go out while the rest are still arriving.
MAX_BURST = 200


class LiveHub:
    def __init__(self, source: LiveMessageSource, reader: TaskReader, max_gallery_pending: int = 1000) -> None:
        self._source = source
        self._reader = reader
        self._watchers: dict[UUID, set[Subscriber]] = defaultdict(set)
        self._gallery: set[asyncio.Queue[GalleryEvent]] = set()
        self._max_gallery_pending = max_gallery_pending
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

    def open_gallery(self) -> asyncio.Queue[GalleryEvent]:
        """A stream of the gallery's events from now on, until ``close_gallery``."""
        self.start()
        queue: asyncio.Queue[GalleryEvent] = asyncio.Queue(self._max_gallery_pending)
        self._gallery.add(queue)
        return queue

    def close_gallery(self, queue: asyncio.Queue[GalleryEvent]) -> None:
        self._gallery.discard(queue)

    @property
    def gallery_streams(self) -> int:
        return len(self._gallery)

    async def subscribed(self, within_s: float) -> bool:
        """Wait until messages reach this process (False when the bus is not there yet)."""
        self.start()
        try:
            async with asyncio.timeout(within_s):
                await self._source.subscribed.wait()
        except TimeoutError:
            return False
        return True

    async def _run(self) -> None:
        inbox: asyncio.Queue[TaskMessage | GalleryEvent] = asyncio.Queue()

        async def receive() -> None:
            async for message in self._source.messages():
                inbox.put_nowait(message)

        receiver = asyncio.create_task(receive(), name="live-hub-receive")
        try:
            while True:
                burst = [await inbox.get()]
                while len(burst) < MAX_BURST and not inbox.empty():
                    burst.append(inbox.get_nowait())
                await self._dispatch(burst)
        finally:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiver

    async def _dispatch(self, burst: list[TaskMessage | GalleryEvent]) -> None:
        watched: list[tuple[set[Subscriber], TaskMessage]] = []
        for message in burst:
            if not isinstance(message, TaskMessage):
                for queue in list(self._gallery):
                    with contextlib.suppress(asyncio.QueueFull):  # a stalled stream misses events, never blocks
                        queue.put_nowait(message)
                continue
            subscribers = self._watchers.get(message.task_id)
            if subscribers:
                watched.append((subscribers, message))
        changed = {m.task_id for _, m in watched if isinstance(m, SNAPSHOT_MESSAGES)}
        snapshots = await self._snapshots(changed)
        for subscribers, message in watched:
            task = snapshots.get(message.task_id) if isinstance(message, SNAPSHOT_MESSAGES) else None
            for subscriber in list(subscribers):
                rendered = subscriber.render(task, message)
                if rendered is not None:
                    subscriber.offer(rendered)

    async def _snapshots(self, task_ids: set[UUID]) -> dict[UUID, RecognitionTask]:
        if not task_ids:
            return {}
        try:
            return await self._reader.get_many(task_ids)
        except Exception as exc:  # the database hiccuped: the events still go out, without snapshots
            log.warning("no snapshots for %d tasks: %s", len(task_ids), exc)
            return {}


async def pump_to(send: Callable[[dict[str, Any]], Coroutine[Any, Any, None]], subscriber: Subscriber) -> None:
    """Write a subscriber's queue to its socket until cancelled."""
    while True:
        await send(await subscriber.queue.get())
