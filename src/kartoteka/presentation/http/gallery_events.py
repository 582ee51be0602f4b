"""``GET /api/fs/events``: the gallery's changes as Sketch-Search's Server-Sent Events.

One Redis subscription per api process, fanned out to every open stream. Frames are
``event: <EventClassName>\\ndata: <json>\\n\\n``; ``FileEmbeddedEvent`` (what the web UI
listens for) goes out together with ``ImagesIndexedEvent`` (what the reference sent),
and an idle stream gets a keep-alive comment every 15 s so proxies keep it open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any, Protocol

from dishka.integrations.fastapi import FromDishka, inject
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

router = APIRouter(prefix="/api/fs", tags=["gallery"])


KEEP_ALIVE_S = 15.0
SUBSCRIBE_WAIT_S = 5.0


class GalleryEventSource(Protocol):
    @property
    def subscribed(self) -> asyncio.Event:
        """Set while the source is subscribed, so that every event published from then on arrives."""
        ...

    def events(self) -> AsyncIterator[dict[str, Any]]: ...


class GalleryEventHub:
    def __init__(self, source: GalleryEventSource, max_pending: int = 1000) -> None:
        self._source = source
        self._streams: set[asyncio.Queue[dict[str, Any]]] = set()
        self._pump: asyncio.Task[None] | None = None
        self._max_pending = max_pending

    def open(self) -> asyncio.Queue[dict[str, Any]]:
        if self._pump is None or self._pump.done():
            self._pump = asyncio.create_task(self._run(), name="gallery-events")
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(self._max_pending)
        self._streams.add(queue)
        return queue

    async def subscribed(self, within_s: float) -> bool:
        """Wait until events reach the open streams (False when the source is not there yet)."""
        try:
            async with asyncio.timeout(within_s):
                await self._source.subscribed.wait()
        except TimeoutError:
            return False
        return True

    def close(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._streams.discard(queue)

    @property
    def open_streams(self) -> int:
        return len(self._streams)

    async def stop(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump

    async def _run(self) -> None:
        async for event in self._source.events():
            for queue in list(self._streams):
                with contextlib.suppress(asyncio.QueueFull):  # a stalled client misses events, never blocks
                    queue.put_nowait(event)


def frames(event: dict[str, Any]) -> str:
    data = json.dumps(event["data"], ensure_ascii=False)
    out = f"event: {event['event']}\ndata: {data}\n\n"
    if event["event"] == "FileEmbeddedEvent":
        out += f"event: ImagesIndexedEvent\ndata: {data}\n\n"
    return out


@router.get("/events", response_class=StreamingResponse, response_model=None)
@router.get("/events/", include_in_schema=False, response_class=StreamingResponse, response_model=None)
@inject
async def file_events(request: Request, hub: FromDishka[GalleryEventHub]) -> StreamingResponse:
    """Created, modified, moved, deleted and embedded files, as they happen."""
    queue = hub.open()

    async def stream() -> AsyncIterator[str]:
        try:
            # Say "connected" once events flow, so a client that acts right after hears of it. If the
            # event bus is down the stream still opens (and keeps alive) and catches up when it is back.
            await hub.subscribed(SUBSCRIBE_WAIT_S)
            yield ": connected\n\n"
            while not await request.is_disconnected():
                try:
                    event = await asyncio.wait_for(queue.get(), KEEP_ALIVE_S)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                yield frames(event)
        finally:
            hub.close(queue)

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"X-Accel-Buffering": "no", "Cache-Control": "no-cache"}
    )
