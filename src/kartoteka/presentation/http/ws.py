"""WebSockets: ``/api/ws`` (subscribe to tasks or a batch) and the old clients' ``/task/status``.

Every subscription is answered with a snapshot read from PostgreSQL, then
live events; a malformed frame gets an error frame and the connection stays
open; everything a socket registered is released when it closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any
from uuid import UUID

from dishka.integrations.fastapi import FromDishka, inject
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from kartoteka.application.recognition.manage_tasks import GetTask
from kartoteka.application.recognition.ports.task_reader import TaskFilter, TaskReader
from kartoteka.application.recognition.ports.tasks import TaskNotFoundError
from kartoteka.application.shared.live_messages import (
    GalleryEvent,
    TaskMessage,
    TaskProgressed,
    TaskStatusChanged,
    TranscriptRevised,
    encode,
)
from kartoteka.domain.recognition.task import RecognitionTask
from kartoteka.presentation.http.gallery_sse import gallery_frame
from kartoteka.presentation.http.live import LiveHub, Subscriber, pump_to
from kartoteka.presentation.http.memory import MemoryReleaser
from kartoteka.presentation.http.schemas import LegacyTaskOut, TaskOut

router = APIRouter()

MAX_TASKS_PER_SUBSCRIPTION = 10_000


def _task_json(task: RecognitionTask) -> dict[str, Any]:
    return TaskOut.of(task).model_dump(mode="json")


def render_api(task: RecognitionTask | None, message: TaskMessage) -> dict[str, Any] | None:
    """Progress as it came; status changes and corrections with the task as it is now."""
    if isinstance(message, TaskProgressed):
        return encode(message)
    frame: dict[str, Any] = {"type": TaskStatusChanged.TYPE, "task_id": str(message.task_id), "status": message.status}
    if isinstance(message, TranscriptRevised):
        frame.update(type=TranscriptRevised.TYPE, revision=message.revision, author=message.author)
    if task is not None:
        frame["task"] = _task_json(task)
    return frame


def render_legacy(task: RecognitionTask | None, message: TaskMessage) -> dict[str, Any] | None:
    """The old ``/task/status`` clients get the task, as they know it, on every change (corrections too)."""
    if isinstance(message, TaskProgressed) or task is None:
        return None
    return LegacyTaskOut.of(task).to_json()


def _error(message: str, detail: Any = None) -> dict[str, Any]:
    return {"type": "error", "error": message, "detail": detail}


def _uuids(values: Any) -> set[UUID]:
    if not isinstance(values, list) or not values:
        raise ValueError("'tasks' must be a non-empty list of task ids")
    return {UUID(str(v)) for v in values}


async def _serve(
    websocket: WebSocket, subscriber: Subscriber, hub: LiveHub, memory: MemoryReleaser, handle: Any
) -> None:
    await websocket.accept()
    memory.opened()
    writer = asyncio.create_task(pump_to(websocket.send_json, subscriber))
    overflow = asyncio.create_task(subscriber.overflowed.wait())
    try:
        while True:
            receive = asyncio.create_task(websocket.receive_text())
            done, _ = await asyncio.wait({receive, overflow}, return_when=asyncio.FIRST_COMPLETED)
            if overflow in done:
                receive.cancel()
                await websocket.close(code=1013, reason="too slow to keep up with events")
                return
            try:
                frame = json.loads(receive.result())
            except ValueError:
                subscriber.offer(_error("frames must be JSON"))
                continue
            await handle(frame)
    except WebSocketDisconnect:
        pass
    finally:
        hub.unwatch(subscriber)
        for task in (writer, overflow):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await writer
        memory.closed()


@router.websocket("/api/ws")
@inject
async def live_updates(
    websocket: WebSocket,
    hub: FromDishka[LiveHub],
    reader: FromDishka[TaskReader],
    memory: FromDishka[MemoryReleaser],
) -> None:
    """Tasks: ``{"op":"subscribe","tasks":[...]}`` or ``{"op":"subscribe","batch":id}``. The gallery's file
    and indexing events (the SSE stream's, as ``gallery.event`` frames): ``{"op":"subscribe","gallery":true}``."""
    subscriber = Subscriber(render_api)
    gallery_feed: list[tuple[asyncio.Queue[GalleryEvent], asyncio.Task[None]]] = []

    async def forward(queue: asyncio.Queue[GalleryEvent]) -> None:
        while True:
            subscriber.offer(gallery_frame(await queue.get()))

    def follow_gallery(on: bool) -> None:
        if on and not gallery_feed:
            queue = hub.open_gallery()
            gallery_feed.append((queue, asyncio.create_task(forward(queue))))
        elif not on:
            while gallery_feed:
                queue, task = gallery_feed.pop()
                task.cancel()
                hub.close_gallery(queue)

    async def ids_for(frame: dict[str, Any]) -> set[UUID]:
        if "batch" in frame:
            batch = UUID(str(frame["batch"]))
            page = await reader.page(TaskFilter(batch_id=batch), None, MAX_TASKS_PER_SUBSCRIPTION)
            return {t.id for t in page.tasks}
        return _uuids(frame.get("tasks"))

    async def handle(frame: Any) -> None:
        if not isinstance(frame, dict):
            subscriber.offer(_error("frames must be JSON objects"))
            return
        op = frame.get("op")
        if op == "ping":
            subscriber.offer({"type": "pong"})
            return
        if op not in {"subscribe", "unsubscribe"}:
            subscriber.offer(_error("unknown op; use subscribe, unsubscribe or ping", {"op": op}))
            return
        if frame.get("gallery") is True:
            follow_gallery(op == "subscribe")
            if op == "subscribe":
                await hub.subscribed(5.0)
            subscriber.offer({"type": "subscribed" if op == "subscribe" else "unsubscribed", "gallery": True})
            return
        try:
            ids = await ids_for(frame)
        except (ValueError, TypeError) as exc:
            subscriber.offer(_error(str(exc) or "invalid task or batch id"))
            return
        if op == "unsubscribe":
            hub.unwatch(subscriber, ids)
            subscriber.offer({"type": "unsubscribed", "tasks": sorted(str(i) for i in ids)})
            return
        subscriber.hold()
        hub.watch(subscriber, ids)  # watch first, then read: no event can fall between the two
        found = await reader.get_many(ids)
        snapshots = [_task_json(found[task_id]) for task_id in sorted(found)]
        missing = sorted(str(task_id) for task_id in ids - found.keys())
        subscriber.queue.put_nowait({"type": "snapshot", "tasks": snapshots, "missing": missing})
        subscriber.release()

    try:
        await _serve(websocket, subscriber, hub, memory, handle)
    finally:
        follow_gallery(False)


@router.websocket("/task/status")
@inject
async def legacy_status(
    websocket: WebSocket, hub: FromDishka[LiveHub], get: FromDishka[GetTask], memory: FromDishka[MemoryReleaser]
) -> None:
    """Send ``{"id": uuid}`` per task; receive its TaskDTO now and on every change (docs/contracts.md)."""
    subscriber = Subscriber(render_legacy)

    async def handle(frame: Any) -> None:
        try:
            task_id = UUID(str(frame["id"]))
        except (KeyError, TypeError, ValueError):
            subscriber.offer({"error": 'send {"id": "<task uuid>"}', "detail": None})
            return
        subscriber.hold()
        hub.watch(subscriber, {task_id})
        try:
            subscriber.queue.put_nowait(LegacyTaskOut.of(await get(task_id)).to_json())
        except TaskNotFoundError:
            hub.unwatch(subscriber, {task_id})
            subscriber.queue.put_nowait({"error": f"task {task_id} does not exist", "detail": {"id": str(task_id)}})
        subscriber.release()

    await _serve(websocket, subscriber, hub, memory, handle)
