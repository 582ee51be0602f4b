"""An upload and a watched file that want the same gallery path: the watched file gets a name of its
own beside it, and neither the rest of its change batch nor the watcher's next start is held up."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from kartoteka_dev.tiny_embedders import lasa_sketches
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

SKETCHES = [s.png for s in lasa_sketches(size=64, shapes=["Angle", "Leaf_1"])]


@pytest.fixture
def root() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="kartoteka-clash-"))
    (path / "clash").mkdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
async def gallery(
    root: Path, migrated_database: str, s3_server: S3Server, redis_server: RedisServer
) -> AsyncIterator[Gallery]:
    await empty_gallery(migrated_database)
    settings = gallery_settings(
        migrated_database,
        s3_server,
        redis_server,
        gallery={"roots": [{"path": str(root)}], "debounce_ms": 100, "stable_after_ms": 200},
    )
    async with running_gallery(settings, with_worker=False) as running:
        yield running


async def listing(gallery: Gallery) -> dict[str, dict[str, Any]]:
    body = (await gallery.client.get("/api/images", params={"directory": "", "items_per_page": 100})).json()
    return {image["path"]: image for image in body["images"]}


async def upload(gallery: Gallery, folder: str, name: str, data: bytes) -> None:
    response = await gallery.client.post(
        "/api/images", files={"image": (name, data, "image/png")}, data={"directory": folder}
    )
    assert response.status_code == 200, response.text


async def test_a_watched_file_beside_an_upload_of_its_name_gets_its_own(gallery: Gallery, root: Path) -> None:
    await upload(gallery, "clash", "x.png", SKETCHES[0])
    async with watching(gallery.settings) as watcher:
        await eventually(lambda: _has(gallery, {"clash/x.png"}), 30, "the upload")
        # One change batch: the clashing file and two harmless ones.
        (root / "clash" / "x.png").write_bytes(SKETCHES[1])
        (root / "a.png").write_bytes(SKETCHES[2])
        (root / "clash" / "b.png").write_bytes(SKETCHES[3])
        # And a name that is not UTF-8: it cannot be stored, so it is left out, alone.
        (root / os.fsdecode(b"bad\xff.png")).write_bytes(SKETCHES[3])
        wanted = {"clash/x.png", "clash/x (1).png", "a.png", "clash/b.png"}
        await eventually(lambda: _has(gallery, wanted), 30, "every watched file beside the upload")
        assert not watcher.done()
    images = await listing(gallery)
    assert images["clash/x.png"]["source"] == "upload"
    assert images["clash/x (1).png"]["source"] == "directory"

    # While no watcher runs, another clash appears; the next start reconciles it and keeps watching.
    await upload(gallery, "clash", "y.png", SKETCHES[4])
    (root / "clash" / "y.png").write_bytes(SKETCHES[5])
    (root / "c.png").write_bytes(SKETCHES[6])
    async with watching(gallery.settings) as watcher:
        wanted |= {"clash/y.png", "clash/y (1).png", "c.png"}
        await eventually(lambda: _has(gallery, wanted), 30, "the reconciled files")
        (root / "d.png").write_bytes(SKETCHES[7])
        await eventually(lambda: _has(gallery, wanted | {"d.png"}), 30, "a file made after the start")
        assert not watcher.done()
    assert set(await listing(gallery)) == wanted | {"d.png"}


async def _has(gallery: Gallery, paths: set[str]) -> bool:
    return set(await listing(gallery)) == paths
