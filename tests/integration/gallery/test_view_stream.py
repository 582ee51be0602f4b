"""``/view`` of a watched file streams it from disk: whole, with its length, and by ranges."""

from __future__ import annotations

import asyncio
import io
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.harness.redis import RedisServer
from tests.harness.s3 import S3Server
from tests.integration.gallery.conftest import (
    Gallery,
    empty_gallery,
    eventually,
    gallery_settings,
    running_gallery,
    watching,
)


def big_png() -> bytes:
    """About 12 MB of incompressible pixels."""
    pixels = np.random.default_rng(3).integers(0, 255, (2000, 2000, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=0)
    return buffer.getvalue()


@pytest.fixture
def root() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="kartoteka-view-"))
    (path / "large.jpg").write_bytes(big_png())  # a PNG named .jpg: the bytes decide the type
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
async def watched(
    root: Path, migrated_database: str, s3_server: S3Server, redis_server: RedisServer
) -> AsyncIterator[Gallery]:
    await empty_gallery(migrated_database)
    settings = gallery_settings(
        migrated_database,
        s3_server,
        redis_server,
        gallery={"roots": [{"path": str(root)}], "debounce_ms": 100, "stable_after_ms": 200},
    )
    async with running_gallery(settings, with_worker=False) as gallery, watching(settings):
        yield gallery


async def body_messages(gallery: Gallery, path: str) -> list[bytes]:
    """The body of a GET as the app sends it, one ASGI message at a time."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"kartoteka")],
        "client": ("127.0.0.1", 5000),
        "server": ("kartoteka", 80),
    }
    chunks: list[bytes] = []
    requested, done = False, asyncio.Event()

    async def receive() -> dict[str, object]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()  # the client stays until the answer is complete, as a real one does
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.body":
            if message.get("body"):
                chunks.append(bytes(message["body"]))
            if not message.get("more_body"):
                done.set()

    await gallery.app(scope, receive, send)
    return chunks


async def test_a_large_watched_file_is_streamed_whole_and_by_range(watched: Gallery, root: Path) -> None:
    data = (root / "large.jpg").read_bytes()
    found: dict[str, str] = {}

    async def listed() -> bool:
        body = (await watched.client.get("/api/images", params={"directory": ""})).json()
        found.update({i["path"]: i["id"] for i in body["images"]})
        return "large.jpg" in found

    await eventually(listed, 60, "the watched file to be listed")
    url = f"/api/images/{found['large.jpg']}/view"
    response = await watched.client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert int(response.headers["content-length"]) == len(data)
    assert response.content == data
    chunks = await body_messages(watched, url)  # httpx's ASGI transport joins them: asked of the app itself
    assert b"".join(chunks) == data
    assert len(chunks) > 1
    assert max(map(len, chunks)) < len(data) // 4
    etag = response.headers["etag"]
    assert (await watched.client.get(url, headers={"If-None-Match": etag})).status_code == 304
    part = await watched.client.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == data[100:200]
    (root / "large.jpg").unlink()
    gone = await watched.client.get(url)
    assert gone.status_code == 404, gone.text  # gone from disk before the watcher noticed: not a 500
