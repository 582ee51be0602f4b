"""``GET /api/fs/events``: the gallery's changes as Sketch-Search's Server-Sent Events.

Frames are ``event: <EventClassName>\\ndata: <json>\\n\\n``; ``FileEmbeddedEvent`` (what the web UI
listens for) goes out together with ``ImagesIndexedEvent`` (the same payload under its other
name; see docs/contracts.md), and an idle stream gets a keep-alive comment every 15 s so proxies
keep it open. While the event bus is down the stream stays open (keep-alives go on) and its events
resume when the bus is back. Every ``auth.session_recheck_s`` the stream checks its credential
again, and ends once a logout, an expiry, a deleted account or a demotion has taken it away.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from dishka.integrations.fastapi import FromDishka, inject
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from kartoteka.application.shared.live_messages import FileEmbeddedEvent, GalleryEvent, encode
from kartoteka.presentation.http.access import access_lost
from kartoteka.presentation.http.live import LiveHub

router = APIRouter(prefix="/api/fs", tags=["gallery"])

KEEP_ALIVE_S = 15.0
SUBSCRIBE_WAIT_S = 5.0
INDEXED_ALIAS = "ImagesIndexedEvent"


def gallery_frame(event: GalleryEvent) -> dict[str, Any]:
    """The event as a WebSocket frame: ``{"type": "gallery.event", "event": <name>, "data": {...}}``."""
    return {"type": "gallery.event", **encode(event)}


def frames(event: GalleryEvent) -> str:
    wire = encode(event)
    data = json.dumps(wire["data"], ensure_ascii=False)
    out = f"event: {wire['event']}\ndata: {data}\n\n"
    if isinstance(event, FileEmbeddedEvent):
        out += f"event: {INDEXED_ALIAS}\ndata: {data}\n\n"
    return out


@router.get("/events", response_class=StreamingResponse, response_model=None)
@router.get("/events/", include_in_schema=False, response_class=StreamingResponse, response_model=None)
@inject
async def file_events(request: Request, hub: FromDishka[LiveHub]) -> StreamingResponse:
    """Created, modified, moved, deleted and embedded files, as they happen."""
    queue = hub.open_gallery()

    async def stream() -> AsyncIterator[str]:
        lost = asyncio.create_task(access_lost(request))
        try:
            # Say "connected" once events flow, so a client that acts right after hears of it. If the
            # event bus is down the stream still opens (and keeps alive) and catches up when it is back.
            await hub.subscribed(SUBSCRIBE_WAIT_S)
            yield ": connected\n\n"
            while not await request.is_disconnected():
                event = asyncio.create_task(queue.get())
                await asyncio.wait({event, lost}, timeout=KEEP_ALIVE_S, return_when=asyncio.FIRST_COMPLETED)
                if not event.done():
                    event.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await event
                if not event.cancelled():  # taken from the queue: sent even when the stream ends now
                    yield frames(event.result())
                if lost.done():
                    yield f": {lost.result().message}; the stream ends\n\n"
                    return
                if event.cancelled():
                    yield ": keep-alive\n\n"
        finally:
            lost.cancel()
            hub.close_gallery(queue)

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"X-Accel-Buffering": "no", "Cache-Control": "no-cache"}
    )
