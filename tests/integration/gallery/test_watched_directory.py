"""A watched directory through the whole service: reconciled at start, followed while it changes.

The watcher runs beside the api, relay and embedding worker; the test changes files on disk and
waits (with deadlines) for the gallery API to show the result.
"""

from __future__ import annotations

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


@pytest.fixture
def root() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="kartoteka-watched-"))
    sketches = lasa_sketches(size=128, shapes=["Angle", "Leaf_1"])
    (path / "sub").mkdir()
    (path / "angle.png").write_bytes(sketches[0].png)
    (path / "sub" / "LEAF.PNG").write_bytes(sketches[7].png)  # extensions match whatever their case
    (path / "notes.txt").write_text("not an image")
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
    async with running_gallery(settings) as gallery, watching(settings):
        yield gallery


async def listing(gallery: Gallery) -> dict[str, dict[str, Any]]:
    body = (await gallery.client.get("/api/images", params={"directory": "", "items_per_page": 100})).json()
    return {image["path"]: image for image in body["images"]}


async def test_the_index_follows_the_directory(watched: Gallery, root: Path) -> None:
    async def indexed(paths: set[str]) -> bool:
        return set(await listing(watched)) == paths

    await eventually(lambda: indexed({"angle.png", "sub/LEAF.PNG"}), 60, "the reconciled files")
    await watched.indexed()
    tree = (await watched.client.get("/api/fs/watched-directories/")).json()
    assert [c["path"] for c in tree["children"]] == ["sub"]
    first = await listing(watched)

    leaf = lasa_sketches(size=128, shapes=["Leaf_1"])[1].png
    (root / "new.png").write_bytes(leaf)
    await eventually(lambda: indexed({"angle.png", "sub/LEAF.PNG", "new.png"}), 30, "a created file")

    (root / "angle.png").rename(root / "sub" / "angle-moved.png")
    await eventually(lambda: indexed({"sub/angle-moved.png", "sub/LEAF.PNG", "new.png"}), 30, "a moved file")
    assert (await listing(watched))["sub/angle-moved.png"]["id"] == first["angle.png"]["id"]  # same image

    (root / "sub").rename(root / "renamed")
    await eventually(lambda: indexed({"renamed/angle-moved.png", "renamed/LEAF.PNG", "new.png"}), 30, "a moved folder")
    assert (await listing(watched))["renamed/LEAF.PNG"]["id"] == first["sub/LEAF.PNG"]["id"]

    (root / "new.png").unlink()
    await eventually(lambda: indexed({"renamed/angle-moved.png", "renamed/LEAF.PNG"}), 30, "a deleted file")
    await watched.indexed()
    response = await watched.client.delete(f"/api/images/{first['angle.png']['id']}")
    assert response.status_code == 409  # a watched file is never deleted through the API
    assert (root / "renamed" / "angle-moved.png").exists()
