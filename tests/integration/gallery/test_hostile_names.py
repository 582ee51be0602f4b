"""Gallery uploads with hostile names and folders: a 4xx with a clear message, and nothing stored;
a folder tree of any depth still lists for everyone."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from kartoteka.domain.gallery.image import MAX_UPLOAD_DEPTH
from tests.harness.redis import RedisServer
from tests.harness.s3 import S3Server
from tests.integration.gallery.conftest import Gallery, empty_gallery, gallery_settings, running_gallery
from tests.integration.gallery.test_gallery_api import noise
from tests.integration.http.test_hostile_input import post_raw


@pytest.fixture
async def idle(migrated_database: str, s3_server: S3Server, redis_server: RedisServer) -> AsyncIterator[Gallery]:
    await empty_gallery(migrated_database)
    settings = gallery_settings(migrated_database, s3_server, redis_server)
    async with running_gallery(settings, with_worker=False) as gallery:
        yield gallery


async def image_count(gallery: Gallery) -> int:
    body = (await gallery.client.get("/api/images", params={"directory": "", "items_per_page": 1})).json()
    return int(body["total"])


@pytest.mark.parametrize("name", ["a\x00b.png", "esc\x1b.png", "del\x7f.png"])
async def test_a_control_character_in_a_file_name_is_refused(idle: Gallery, name: str) -> None:
    response = await post_raw(idle.client, "/api/images", [("image", name, noise(1))])
    assert response.status_code == 400, response.text
    assert "control character" in response.json()["error"]
    assert await image_count(idle) == 0


async def test_a_control_character_in_a_folder_is_refused(idle: Gallery) -> None:
    files = {"image": ("a.png", noise(1), "image/png")}
    response = await idle.client.post("/api/images", files=files, data={"directory": "box\x0712"})
    assert response.status_code == 400, response.text
    assert "control character" in response.json()["error"]
    assert await image_count(idle) == 0


async def test_an_upload_200_folders_deep_is_refused_and_the_tree_still_lists(idle: Gallery) -> None:
    files = {"image": ("a.png", noise(1), "image/png")}
    deep = "/".join(["d"] * 200)
    response = await idle.client.post("/api/images", files=files, data={"directory": deep})
    assert response.status_code == 400, response.text
    assert f"at most {MAX_UPLOAD_DEPTH} deep" in response.json()["error"]
    assert await image_count(idle) == 0
    just = "/".join(["d"] * MAX_UPLOAD_DEPTH)
    fine = await idle.client.post("/api/images", files=files, data={"directory": just})
    assert fine.status_code == 200, fine.text
    tree = await idle.client.get("/api/fs/watched-directories")
    assert tree.status_code == 200, tree.text
    node, depth = tree.json(), 0
    while node["children"]:
        (node,) = node["children"]
        depth += 1
    assert (depth, node["path"]) == (MAX_UPLOAD_DEPTH, just)


async def test_a_folder_thousands_of_levels_deep_on_disk_still_lists(idle: Gallery) -> None:
    # A watched disk is not bound by the upload limit: a tree far deeper than any recursive encoder nests.
    deep = "/".join(["d"] * 1500)
    engine = create_async_engine(idle.settings.database.url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO gallery_directories (path, created_at, modified_at) VALUES (:p, now(), now())"),
                {"p": deep},
            )
    finally:
        await engine.dispose()
    for path in ("/api/fs/watched-directories", "/api/fs/watched-directories/"):
        tree = await idle.client.get(path)
        assert tree.status_code == 200, tree.text
        assert tree.headers["content-type"] == "application/json"
    # Too deep for json.loads here too: the shape is checked on the text.
    body = tree.text
    assert body.count('"children": [') == 1501
    assert body.endswith('"children": []}' + "]}" * 1500)
    assert f'"path": "{deep}", "parent": "{deep.rsplit("/", 1)[0]}"' in body
