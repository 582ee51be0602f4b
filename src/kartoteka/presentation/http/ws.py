"""WebSockets: ``/api/ws`` (subscribe to tasks or a batch) and the old clients' ``/task/status``.

Every subscription is answered with a snapshot read from PostgreSQL, then
live events; everything a socket registered is released when it closes.

Whatever a client sends, the connection stays open and the answer is an error frame: a binary
frame, a frame that is not JSON or is nested deeper than the parser goes, a frame longer than
``MAX_FRAME_CHARS`` (refused before it is parsed), more than ``MAX_IDS_PER_FRAME`` task ids in
one frame or more than ``MAX_IDS_PER_SOCKET`` followed by one socket, and a subscription that
cannot be served now (the database is down: the error frame says 503, and the same frame can
be sent again later). Only a message over ``MAX_MESSAGE_BYTES`` is refused by the server itself,
which closes the socket with 1009 (message too big) without reading it into memory.

An open socket re-checks its credential every ``auth.session_recheck_s``: after a logout, an
expiry or a deleted account it is closed with 4401, after a demotion below the route's role with
4403 (the access rules' refusal, as a close code of 4000 + its HTTP status).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar
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
from kartoteka.domain.errors import UNAVAILABLE_MESSAGE, ErrorKind, Refusal
from kartoteka.domain.recognition.task import RecognitionTask
from kartoteka.presentation.http.access import access_lost, close_code
from kartoteka.presentation.http.errors import STATUS
from kartoteka.presentation.http.gallery_sse import gallery_frame
from kartoteka.presentation.http.live import LiveHub, Subscriber, pump_to
from kartoteka.presentation.http.memory import MemoryReleaser
from kartoteka.presentation.http.schemas import LegacyTaskOut, TaskOut

log = logging.getLogger(__name__)
T = TypeVar("T")

router = APIRouter()

MAX_TASKS_PER_SUBSCRIPTION = 10_000  # the most cards of one batch a subscription follows
MAX_IDS_PER_FRAME = 1_000
MAX_IDS_PER_SOCKET = 10_000
# A frame of MAX_IDS_PER_FRAME ids is about 40,000 characters; anything longer is refused unread.
MAX_FRAME_CHARS = 64 * 1024
# The server's own limit (uvicorn's ws_max_size): a longer message closes the socket with 1009.
MAX_MESSAGE_BYTES = 1024 * 1024
LIVE_WAIT_S = 1.0  # how long a subscription waits for the event bus before saying it is not there
LIVE_PAUSED = (
    "live updates are paused: the event bus cannot be reached; the subscription stands and updates "
    "resume when it is back"
)

ErrorFrame = Callable[[str, Any, int], dict[str, Any]]
MALFORMED = STATUS[ErrorKind.MALFORMED]
INTERNAL_ERROR = 500


class SubscriptionRefused(Refusal):
    """A frame asking for more than a socket may follow; nothing of it is subscribed."""

    kind = ErrorKind.TOO_LARGE


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


def _error(message: str, detail: Any = None, status: int = MALFORMED) -> dict[str, Any]:
    """``/api/ws``'s error frame; ``status`` is what the same refusal would be answered over HTTP."""
    return {"type": "error", "error": message, "detail": detail, "status": status}


def _legacy_error(message: str, detail: Any = None, status: int = MALFORMED) -> dict[str, Any]:
    """The old clients' error frame, ``{"error", "detail"}`` (docs/contracts.md)."""
    return {"error": message, "detail": detail}


def _uuids(values: Any) -> set[UUID]:
    if not isinstance(values, list) or not values:
        raise ValueError("'tasks' must be a non-empty list of task ids")
    if len(values) > MAX_IDS_PER_FRAME:
        raise SubscriptionRefused(
            f"at most {MAX_IDS_PER_FRAME} task ids per frame; send them in several frames",
            {"ids": len(values), "max_ids_per_frame": MAX_IDS_PER_FRAME},
        )
    ids = set()
    for value in values:
        if not isinstance(value, str):
            raise ValueError("task ids must be strings")
        ids.add(UUID(value))
    return ids


class Following:
    """The task ids one socket follows, within ``MAX_IDS_PER_SOCKET``."""

    def __init__(self, hub: LiveHub, subscriber: Subscriber) -> None:
        self._hub = hub
        self._subscriber = subscriber
        self.ids: set[UUID] = set()

    def add(self, ids: set[UUID]) -> set[UUID]:
        """Follow ``ids``; the ones that were not followed before (to undo with ``drop``)."""
        new = ids - self.ids
        if len(self.ids) + len(new) > MAX_IDS_PER_SOCKET:
            raise SubscriptionRefused(
                f"a socket may follow at most {MAX_IDS_PER_SOCKET} tasks; unsubscribe from some first",
                {"following": len(self.ids), "asked": len(new), "max_ids_per_socket": MAX_IDS_PER_SOCKET},
            )
        self._hub.watch(self._subscriber, new)
        self.ids |= new
        return new

    def drop(self, ids: set[UUID]) -> None:
        self._hub.unwatch(self._subscriber, ids)
        self.ids -= ids


async def _snapshot_then_live(
    subscriber: Subscriber,
    following: Following,
    ids: set[UUID],
    read: Callable[[], Awaitable[T]],
    frame_of: Callable[[T], dict[str, Any]],
) -> None:
    """Watch first, then read (no event can fall between the two); the live events that arrive while
    the snapshot is read are held back until it is queued. A failed read follows nothing new."""
    subscriber.hold()
    try:
        new = following.add(ids)
        try:
            result = await read()
        except BaseException:
            following.drop(new)
            raise
        try:
            subscriber.queue.put_nowait(frame_of(result))
        except asyncio.QueueFull:
            subscriber.overflowed.set()
    finally:
        subscriber.release()


def _frame_text(message: Mapping[str, Any]) -> str:
    """The text of a received frame; a binary frame, or one too long to parse, is refused."""
    text: str | None = message.get("text")
    if text is None:
        raise Refusal("frames must be text (JSON), not binary", kind=ErrorKind.MALFORMED)
    if len(text) > MAX_FRAME_CHARS:
        raise Refusal(
            f"a frame may be at most {MAX_FRAME_CHARS} characters",
            {"length": len(text), "max_frame_chars": MAX_FRAME_CHARS},
            kind=ErrorKind.TOO_LARGE,
        )
    return text


async def _serve(
    websocket: WebSocket,
    subscriber: Subscriber,
    hub: LiveHub,
    memory: MemoryReleaser,
    handle: Callable[[Any], Awaitable[None]],
    error: ErrorFrame,
) -> None:
    await websocket.accept()
    memory.opened()
    writer = asyncio.create_task(pump_to(websocket.send_json, subscriber))
    overflow = asyncio.create_task(subscriber.overflowed.wait())
    revoked = asyncio.create_task(access_lost(websocket))
    try:
        while True:
            receive = asyncio.create_task(websocket.receive())
            done, _ = await asyncio.wait({receive, overflow, revoked}, return_when=asyncio.FIRST_COMPLETED)
            if overflow in done or revoked in done:
                receive.cancel()
                if overflow in done:
                    await websocket.close(code=1013, reason="too slow to keep up with events")
                else:
                    refusal = revoked.result()
                    await websocket.close(code=close_code(refusal), reason=refusal.message[:120])
                return
            message = receive.result()
            if message["type"] == "websocket.disconnect":
                return
            try:
                try:
                    frame = json.loads(_frame_text(message))
                except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
                    raise Refusal("frames must be JSON", kind=ErrorKind.MALFORMED) from None
                await handle(frame)
            except Refusal as refusal:
                subscriber.offer(error(refusal.message, refusal.detail, STATUS[refusal.kind]))
            except (ValueError, TypeError, RecursionError) as exc:
                subscriber.offer(error(str(exc) or "invalid frame", None, MALFORMED))
            except Exception as exc:  # a bug answering one frame must not cost the client its socket
                log.exception("unexpected error answering a frame on %s", websocket.url.path)
                subscriber.offer(error("internal error", type(exc).__name__, INTERNAL_ERROR))
    except WebSocketDisconnect:
        pass
    finally:
        hub.unwatch(subscriber)
        for task in (writer, overflow, revoked):
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
    following = Following(hub, subscriber)
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

    async def say_if_paused() -> None:
        if not await hub.subscribed(LIVE_WAIT_S):
            subscriber.offer(_error(UNAVAILABLE_MESSAGE, LIVE_PAUSED, STATUS[ErrorKind.UNAVAILABLE]))

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
            subscriber.offer(_error("unknown op; use subscribe, unsubscribe or ping", {"op": str(op)[:100]}))
            return
        if frame.get("gallery") is True:
            follow_gallery(op == "subscribe")
            subscriber.offer({"type": "subscribed" if op == "subscribe" else "unsubscribed", "gallery": True})
            if op == "subscribe":
                await say_if_paused()
            return
        try:
            ids = await ids_for(frame)
        except (ValueError, TypeError) as exc:
            subscriber.offer(_error(str(exc) or "invalid task or batch id"))
            return
        if op == "unsubscribe":
            following.drop(ids)
            subscriber.offer({"type": "unsubscribed", "tasks": sorted(str(i) for i in ids)})
            return

        def snapshot(found: dict[UUID, RecognitionTask]) -> dict[str, Any]:
            tasks = [_task_json(found[task_id]) for task_id in sorted(found)]
            return {"type": "snapshot", "tasks": tasks, "missing": sorted(str(i) for i in ids - found.keys())}

        await _snapshot_then_live(subscriber, following, ids, lambda: reader.get_many(ids), snapshot)
        await say_if_paused()

    try:
        await _serve(websocket, subscriber, hub, memory, handle, _error)
    finally:
        follow_gallery(False)


@router.websocket("/task/status")
@inject
async def legacy_status(
    websocket: WebSocket, hub: FromDishka[LiveHub], get: FromDishka[GetTask], memory: FromDishka[MemoryReleaser]
) -> None:
    """Send ``{"id": uuid}`` per task; receive its TaskDTO now and on every change (docs/contracts.md)."""
    subscriber = Subscriber(render_legacy)
    following = Following(hub, subscriber)

    async def handle(frame: Any) -> None:
        try:
            task_id = UUID(str(frame["id"]))
        except (KeyError, TypeError, ValueError):
            subscriber.offer(_legacy_error('send {"id": "<task uuid>"}'))
            return
        try:
            await _snapshot_then_live(
                subscriber, following, {task_id}, lambda: get(task_id), lambda task: LegacyTaskOut.of(task).to_json()
            )
        except TaskNotFoundError:
            subscriber.offer(_legacy_error(f"task {task_id} does not exist", {"id": str(task_id)}))

    await _serve(websocket, subscriber, hub, memory, handle, _legacy_error)
