"""The gallery's HTTP contract (Sketch-Search's, as its web UI calls it) against the real service.

PostgreSQL, Redis, S3, the relay and an embedding worker with the real offline encoder run as in
production; the api is reached over ASGI, and over a real uvicorn socket where a stream is read.
Every refusal must be JSON with ``error`` and a 4xx/5xx status: the UI parses every body as JSON and
only throws on a truthy ``error``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pytest
import uvicorn
from fastapi import FastAPI
from PIL import Image
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from kartoteka.application.gallery.ports.embedding import EmbeddingModelId
from kartoteka.infrastructure.db.gallery.models import SqlModelRegistry
from kartoteka.infrastructure.storage.s3 import S3ObjectStorage
from kartoteka_dev.retrieval_eval import sample_photos
from tests.harness.redis import RedisServer
from tests.harness.s3 import S3Server
from tests.integration.gallery.conftest import (
    Gallery,
    empty_gallery,
    eventually,
    gallery_settings,
    running_gallery,
)

# ---------------------------------------------------------------------------------------------- images


def noise(seed: int, fmt: str = "PNG", size: tuple[int, int] = (40, 30)) -> bytes:
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(buffer, format=fmt)
    return buffer.getvalue()


@functools.cache
def photos() -> dict[str, bytes]:
    """scikit-image's photos, small (quick to embed) and distinct (no two score alike)."""
    out = {}
    for name, image in sample_photos().items():
        image.thumbnail((96, 96))
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        out[name] = buffer.getvalue()
    return out


# --------------------------------------------------------------------------------------------- helpers


def assert_error(response: httpx.Response, status: int | tuple[int, ...]) -> dict[str, Any]:
    expected = status if isinstance(status, tuple) else (status,)
    assert response.status_code in expected, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert isinstance(body, dict), body
    assert isinstance(body.get("error"), str), body
    assert body["error"], body
    return body


def names(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [image["user_visible_name"] for image in response.json()["images"]]


async def listing(gallery: Gallery, **params: Any) -> httpx.Response:
    return await gallery.client.get("/api/images", params=params)


async def set_times(gallery: Gallery, image_id: str, created: datetime, modified: datetime) -> None:
    engine = create_async_engine(gallery.settings.database.url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text("UPDATE gallery_images SET created_at = :c, modified_at = :m WHERE id = :i"),
                {"c": created, "m": modified, "i": uuid.UUID(image_id)},
            )
    finally:
        await engine.dispose()


async def stored_keys(gallery: Gallery) -> set[str]:
    """Every object in the gallery's bucket, listed with a plain S3 client."""
    from miniopy_async import Minio

    s3 = gallery.settings.s3
    client = Minio(s3.endpoint, access_key=s3.access_key, secret_key=s3.secret_key.get_secret_value(), secure=False)
    try:
        if not await client.bucket_exists(s3.bucket):
            return set()
        return {o.object_name for o in await client.list_objects(s3.bucket, recursive=True)}
    finally:
        close = getattr(client, "close_session", None)
        if close is not None:
            await close()


async def row_count(gallery: Gallery) -> int:
    return int((await listing(gallery, directory="")).json()["total"])


def js_date(moment: datetime, offset_hours: int = 1, zone: str = "Central European Standard Time") -> str:
    """What JavaScript's ``Date.prototype.toString()`` prints in a browser ``offset_hours`` east of UTC."""
    local = moment.astimezone(UTC) + timedelta(hours=offset_hours)
    sign = "+" if offset_hours >= 0 else "-"
    return local.strftime("%a %b %d %Y %H:%M:%S") + f" GMT{sign}{abs(offset_hours):02d}00 ({zone})"


# ============================================================================================== listing

DAY = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
# name, folder, day created, day modified (modified runs the other way, so the two orders differ)
LAYOUT = [
    ("apple.png", ".", 0, 6),
    ("banana.png", ".", 1, 5),
    ("cherry.png", ".", 2, 4),
    ("date.png", "fruit", 3, 3),
    ("elderberry.png", "fruit", 4, 2),
    ("fig.png", "fruit/dried", 5, 1),
    ("garlic.png", "veg", 6, 0),
]


async def laid_out(gallery: Gallery) -> dict[str, str]:
    ids = {}
    for seed, (name, folder, created, modified) in enumerate(LAYOUT):
        image = await gallery.upload(name, noise(seed), folder)
        await set_times(gallery, image["id"], DAY + timedelta(days=created), DAY + timedelta(days=modified))
        ids[name] = image["id"]
    return ids


async def test_listing_pages_sorts_and_filters_with_filtered_totals(gallery: Gallery) -> None:
    ids = await laid_out(gallery)
    by_created = [name for name, *_ in LAYOUT]

    everything = await listing(gallery)
    assert everything.status_code == 200
    body = everything.json()
    assert body["total"] == 7
    # The default order is modified_at, newest first.
    assert names(everything) == by_created
    first = body["images"][0]
    assert first["id"] == ids["apple.png"]
    assert first["directory"] == "."
    assert datetime.fromisoformat(first["created_at"]) == DAY
    assert datetime.fromisoformat(first["modified_at"]) == DAY + timedelta(days=6)
    assert {"id", "user_visible_name", "created_at", "modified_at", "directory", "model_name"} <= set(first)
    slash = await gallery.client.get("/api/images/")
    assert slash.status_code == 200
    assert slash.json() == body

    # Pagination: every page holds the next slice; the total is always the whole match.
    ascending = {"order_by": "created_at", "direction": "ascending"}
    pages = [await listing(gallery, page=p, items_per_page=3, **ascending) for p in (1, 2, 3, 4)]
    assert [names(p) for p in pages] == [by_created[0:3], by_created[3:6], by_created[6:], []]
    assert {p.json()["total"] for p in pages} == {7}

    # Orders, including the column headers the UI sends as sort keys.
    for order_by in ("created_at", "Created At"):
        assert names(await listing(gallery, order_by=order_by, direction="ascending")) == by_created
        assert names(await listing(gallery, order_by=order_by, direction="descending")) == by_created[::-1]
    for order_by in ("modified_at", "Modified At"):
        assert names(await listing(gallery, order_by=order_by, direction="ascending")) == by_created[::-1]
    assert names(await listing(gallery, order_by="user_visible_name", direction="descending")) == sorted(
        by_created, reverse=True
    )

    # The UI's opening query: names ascending, the top folder only.
    ui = await listing(
        gallery, page=1, items_per_page=12, order_by="user_visible_name", direction="ascending", directory="."
    )
    assert names(ui) == ["apple.png", "banana.png", "cherry.png"]
    assert ui.json()["total"] == 3

    # Folders: "." is the top only, "a/b" its direct children only, "" (the UI's "all folders") everything.
    by_name = {"order_by": "user_visible_name", "direction": "ascending"}
    assert names(await listing(gallery, directory="fruit", **by_name)) == ["date.png", "elderberry.png"]
    assert names(await listing(gallery, directory="fruit/", **by_name)) == ["date.png", "elderberry.png"]
    assert names(await listing(gallery, directory="fruit/dried", **by_name)) == ["fig.png"]
    assert names(await listing(gallery, directory="nowhere", **by_name)) == []
    assert (await listing(gallery, directory="")).json()["total"] == 7

    # Names: a case-insensitive substring; LIKE's wildcards are plain characters.
    assert names(await listing(gallery, name_contains="ERR", **by_name)) == ["cherry.png", "elderberry.png"]
    assert names(await listing(gallery, name_contains="%", **by_name)) == []
    assert names(await listing(gallery, name_contains="_", **by_name)) == []
    filtered = await listing(gallery, name_contains="a", directory="", items_per_page=2, **by_name)
    assert names(filtered) == ["apple.png", "banana.png"]
    assert filtered.json()["total"] == 4  # apple, banana, date, garlic: the filtered count, not the table's

    # Date ranges, inclusive, in ISO (with Z, with an offset, naive = UTC) and as JS Date.toString().
    created = {"order_by": "created_at", "direction": "ascending"}
    between = await listing(
        gallery, created_min=(DAY + timedelta(days=2)).isoformat(), created_max="2024-03-04T12:00:00Z", **created
    )
    assert names(between) == ["cherry.png", "date.png"]
    assert names(await listing(gallery, created_max="2024-03-02T13:00:00+01:00", **created)) == [
        "apple.png",
        "banana.png",
    ]
    assert names(await listing(gallery, created_min="2024-03-07T12:00:00", **created)) == ["garlic.png"]
    js = await listing(
        gallery,
        created_min=js_date(DAY + timedelta(days=5)),
        created_max=js_date(DAY + timedelta(days=6), offset_hours=-5, zone="Eastern Standard Time"),
        **created,
    )
    assert names(js) == ["fig.png", "garlic.png"]
    assert js.json()["total"] == 2
    modified = await listing(gallery, modified_min=js_date(DAY + timedelta(days=5)), **created)
    assert names(modified) == ["apple.png", "banana.png"]
    assert (await listing(gallery, modified_max=js_date(DAY - timedelta(days=1)))).json() == {"images": [], "total": 0}


@pytest.mark.parametrize(
    "params",
    [
        {"page": "0"},
        {"page": "-1"},
        {"page": "two"},
        {"items_per_page": "0"},
        {"items_per_page": "-5"},
        {"items_per_page": "100000"},
        {"order_by": "size"},
        {"order_by": "created_at; DROP TABLE gallery_images"},
        {"direction": "sideways"},
        {"created_min": "yesterday"},
        {"modified_max": "Mon Foo 99 2024 00:00:00 GMT+0100"},
        {"created_max": "9999-12-31T23:59:59-01:00"},
        {"directory": "../etc"},
        {"directory": "/etc"},
        {"directory": "a\x00b"},
        {"name_contains": "a\x00b"},
    ],
)
async def test_listing_refuses_what_it_cannot_understand(gallery: Gallery, params: dict[str, str]) -> None:
    for path in ("/api/images", "/api/images/"):
        response = await gallery.client.get(path, params=params)
        body = assert_error(response, 422)
        assert next(iter(params)) in body["error"] + json.dumps(body.get("detail")), body
    assert (await gallery.client.get("/api/images")).status_code == 200  # nothing was left broken


# ============================================================================================== uploads


async def test_upload_stores_the_image_in_its_folder_and_says_success(gallery: Gallery) -> None:
    for path, name, folder in [("/api/images/", "one.png", "."), ("/api/images", "two.jpg", "scans/1974")]:
        data = noise(len(name), "JPEG" if name.endswith(".jpg") else "PNG")
        response = await gallery.client.post(
            path, files={"image": (name, data, "application/octet-stream")}, data={"directory": folder}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "success"
        assert body["image"]["user_visible_name"] == name
        assert body["image"]["directory"] == folder
        listed = (await listing(gallery, directory=folder)).json()
        assert [i["id"] for i in listed["images"]] == [body["image"]["id"]]
        view = await gallery.client.get(f"/api/images/{body['image']['id']}/view")
        assert view.content == data
    # No directory at all is the top folder (the UI sends "." when the scope is global).
    bare = await gallery.client.post("/api/images/", files={"image": ("three.png", noise(3), "image/png")})
    assert bare.status_code == 200, bare.text
    assert bare.json()["image"]["directory"] == "."
    # Names are names, whatever the script: stored as given, found regardless of case.
    card = await gallery.upload("Пинега 1974.png", noise(4), "Архив/Ёлкино")
    assert (card["user_visible_name"], card["directory"]) == ("Пинега 1974.png", "Архив/Ёлкино")
    found = await listing(gallery, name_contains="ПИНЕГА", directory="Архив/Ёлкино")
    assert [i["id"] for i in found.json()["images"]] == [card["id"]]


async def test_refused_uploads_say_why_and_store_nothing(gallery: Gallery) -> None:
    kept = await gallery.upload("kept.png", noise(1), "folder")
    await gallery.indexed()  # its thumbnail is in too: what is stored now is all there should be
    keys = await stored_keys(gallery)
    ppm = io.BytesIO()
    Image.new("RGB", (8, 8)).save(ppm, format="PPM")

    async def post(files: Any, data: dict[str, str] | None = None, path: str = "/api/images/") -> httpx.Response:
        return await gallery.client.post(path, files=files, data=data or {})

    refusals: list[tuple[str, httpx.Response, int | tuple[int, ...]]] = [
        ("no file", await post({"other": ("x.txt", b"x", "text/plain")}), 400),
        ("no file name", await post({"image": ("", noise(2), "image/png")}), 400),
        ("empty file", await post({"image": ("empty.png", b"", "image/png")}), 400),
        ("not an image", await post({"image": ("notes.png", b"these are notes", "image/png")}), (415, 422)),
        ("truncated", await post({"image": ("cut.png", noise(3)[:60], "image/png")}), 422),
        ("unsupported format", await post({"image": ("old.ppm", ppm.getvalue(), "image/x-ppm")}), 415),
        ("climbs out", await post({"image": ("x.png", noise(4), "image/png")}, {"directory": "../x"}), 400),
        ("climbs out deeper", await post({"image": ("x.png", noise(4), "image/png")}, {"directory": "a/../../x"}), 400),
        ("absolute folder", await post({"image": ("x.png", noise(4), "image/png")}, {"directory": "/etc"}), 400),
        ("NUL in folder", await post({"image": ("x.png", noise(4), "image/png")}, {"directory": "a\x00b"}), 400),
        ("path as name", await post({"image": ("../../x.png", noise(4), "image/png")}), 400),
        (
            "name too long",
            await post({"image": ("".join(uuid.uuid4().hex for _ in range(100)) + ".png", noise(4), "image/png")}),
            400,
        ),
        ("folder too long", await post({"image": ("x.png", noise(4), "image/png")}, {"directory": "f/" * 1100}), 400),
        (
            "same name, same folder",
            await post({"image": ("kept.png", noise(5), "image/png")}, {"directory": "folder"}, "/api/images"),
            409,
        ),
        (
            "same name, same folder spelled differently",
            await post({"image": ("kept.png", noise(5), "image/png")}, {"directory": "./folder/"}),
            409,
        ),
    ]
    for why, response, status in refusals:
        assert_error(response, status), why
    assert await stored_keys(gallery) == keys
    assert await row_count(gallery) == 1
    original = await gallery.client.get(f"/api/images/{kept['id']}/view")
    assert original.content == noise(1)  # never overwritten
    # The same name elsewhere is another image.
    assert (await gallery.upload("kept.png", noise(5), "other"))["directory"] == "other"


# =============================================================================================== search

SEARCH_FOLDER = "photos"


async def photo_gallery(gallery: Gallery) -> dict[str, str]:
    """Fourteen photos in ``photos``, the rest at the top; every one embedded."""
    ids = {}
    for k, (name, data) in enumerate(photos().items()):
        ids[name] = (await gallery.upload(f"{name}.png", data, SEARCH_FOLDER if k < 14 else "."))["id"]
    await gallery.indexed()
    return ids


def hits(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["images"]
    for hit in found:
        assert isinstance(hit["score"], float), hit
        assert -1.0 <= hit["score"] <= 1.0 + 1e-6
    scores = [h["score"] for h in found]
    assert scores == sorted(scores, reverse=True)
    return found


async def by_image(gallery: Gallery, image_id: str, top_k: Any = None, **query: Any) -> httpx.Response:
    body: dict[str, Any] = {"image_id": image_id, "query": query}
    if top_k is not None:
        body["top_k"] = top_k
    return await gallery.client.post("/api/images/search-by-image/", json=body)


async def test_searches_score_every_hit_page_through_top_k_and_honour_filters(gallery: Gallery) -> None:
    ids = await photo_gallery(gallery)
    total = len(ids)
    astronaut = ids["astronaut"]

    # Search by a stored image: the image itself comes first, with its own score.
    everything = hits(await by_image(gallery, astronaut, top_k=total, page=1, items_per_page=total, directory=None))
    assert everything[0]["id"] == astronaut
    assert everything[0]["score"] > 0.9999
    assert len(everything) == total
    assert (await by_image(gallery, astronaut, top_k=total, items_per_page=total)).json()["total"] == total
    ranking = [h["id"] for h in everything]

    # top_k=12 over pages of 5: 5, 5, 2, then nothing; the total is 12 on every page.
    paged = [await by_image(gallery, astronaut, top_k=12, page=p, items_per_page=5, directory="") for p in (1, 2, 3, 4)]
    assert [len(hits(p)) for p in paged] == [5, 5, 2, 0]
    assert {p.json()["total"] for p in paged} == {12}
    assert [h["id"] for p in paged for h in hits(p)] == ranking[:12]
    # Without top_k, one page's worth (the UI sets top_k = items_per_page).
    assert len(hits(await by_image(gallery, astronaut, items_per_page=4))) == 4

    # min_score keeps what scores at least that much, across pages too.
    cut = (everything[2]["score"] + everything[3]["score"]) / 2
    body = {"image_id": astronaut, "top_k": 12, "min_score": cut, "query": {"items_per_page": 2, "page": 2}}
    above = await gallery.client.post("/api/images/search-by-image", json=body)
    assert [h["id"] for h in hits(above)] == ranking[2:3]
    assert above.json()["total"] == 3

    # Filters apply within the search: the folder, the name, the dates.
    top_folder = [h for h in everything if h["directory"] == "."]
    in_top = await by_image(gallery, astronaut, top_k=12, items_per_page=12, directory=".")
    assert [h["id"] for h in hits(in_top)] == [h["id"] for h in top_folder]
    assert in_top.json()["total"] == total - 14
    in_photos = hits(await by_image(gallery, astronaut, top_k=5, directory=SEARCH_FOLDER))
    assert len(in_photos) == 5
    assert all(h["directory"] == SEARCH_FOLDER for h in in_photos)
    named = await by_image(gallery, astronaut, top_k=12, items_per_page=12, name_contains="CO")
    assert sorted(h["user_visible_name"] for h in hits(named)) == ["coffee.png", "coins.png", "colorwheel.png"]
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert (await by_image(gallery, astronaut, top_k=5, created_min=later)).json() == {"images": [], "total": 0}

    # Search by an uploaded photo or sketch, with and without the slash, as the UI sends it.
    query_json = json.dumps(
        {"page": 1, "items_per_page": 12, "order_by": "user_visible_name", "direction": "ascending", "directory": None}
    )
    for path in ("/api/images/similarity-search", "/api/images/similarity-search/"):
        response = await gallery.client.post(
            path,
            files={"image": ("blob", photos()["astronaut"], "image/png")},
            data={"top_k": "12", "query_json": query_json, "kind": "photo"},
        )
        found = hits(response)
        assert len(found) == 12
        assert response.json()["total"] == 12
        assert found[0]["id"] == astronaut
        assert found[0]["score"] > 0.9999
    sketch = await gallery.client.post(
        "/api/images/similarity-search",
        files={"image": ("blob", photos()["camera"], "image/png")},
        data={"top_k": "3", "query_json": json.dumps({"directory": "photos", "items_per_page": 2, "page": 2})},
    )
    assert len(hits(sketch)) == 1
    assert sketch.json()["total"] == 3
    minimum = await gallery.client.post(
        "/api/images/similarity-search",
        files={"image": ("blob", photos()["camera"], "image/png")},
        data={"top_k": "20", "min_score": "0.9999", "kind": "photo"},
    )
    assert [h["id"] for h in hits(minimum)] == [ids["camera"]]


async def test_search_refusals_are_json_errors(gallery: Gallery) -> None:
    ids = await photo_gallery(gallery)
    some = ids["coffee"]
    png = photos()["coffee"]

    async def similar(data: dict[str, str], files: Any = None) -> httpx.Response:
        return await gallery.client.post(
            "/api/images/similarity-search",
            files=files if files is not None else {"image": ("blob", png, "image/png")},
            data=data,
        )

    assert_error(await by_image(gallery, str(uuid.uuid4())), 404)
    assert_error(await gallery.client.post("/api/images/search-by-image", json={"image_id": "not-a-uuid"}), 422)
    assert_error(await gallery.client.post("/api/images/search-by-image", json={"top_k": 3}), 422)
    assert_error(await gallery.client.post("/api/images/search-by-image", json=[some]), 422)
    assert_error(await gallery.client.post("/api/images/search-by-image", content=b"{not json"), 422)
    for top_k in (-1, 0, "many", 10**9, 2.5, True):
        assert_error(await by_image(gallery, some, top_k=top_k), 422)
    assert_error(await by_image(gallery, some, page=0), 422)
    assert_error(await by_image(gallery, some, items_per_page=0), 422)
    assert_error(await by_image(gallery, some, created_min="soon"), 422)
    assert_error(await gallery.client.post("/api/images/search-by-image", json={"image_id": some, "query": [1]}), 422)
    for min_score in ("high", 2, "nan"):
        body = {"image_id": some, "top_k": 3, "min_score": min_score}
        assert_error(await gallery.client.post("/api/images/search-by-image", json=body), 422)

    for data in (
        {"top_k": "-3"},
        {"top_k": "0"},
        {"top_k": "three"},
        {"query_json": "{not json"},
        {"query_json": "[1, 2]"},
        {"query_json": "[" * 100_000},
        {"query_json": '{"page": 0}'},
        {"query_json": '{"items_per_page": -1}'},
        {"query_json": '{"directory": "../up"}'},
        {"query_json": '{"created_max": "Someday"}'},
        {"min_score": "x"},
        {"min_score": "1.5"},
        {"kind": "drawing"},
    ):
        assert_error(await similar(data), 422)
    assert_error(await similar({}, files={"other": ("blob", png, "image/png")}), 422)
    assert_error(await similar({}, files={"image": ("blob", b"", "image/png")}), (400, 422))
    assert_error(await similar({}, files={"image": ("blob", b"not an image", "image/png")}), 422)
    assert_error(await similar({}, files={"image": ("blob", png[:80], "image/png")}), 422)

    # EfficientNet-Lite0 has no text tower.
    for path in ("/api/images/search-by-text", "/api/images/search-by-text/"):
        body = assert_error(await gallery.client.post(path, json={"text": "a cat", "top_k": 3}), 422)
        assert "text" in body["error"]
    assert_error(await gallery.client.post("/api/images/search-by-text", json={"text": "  "}), 422)


async def test_the_same_image_twice_is_one_near_duplicate_group(gallery: Gallery) -> None:
    first = await gallery.upload("coffee.png", photos()["coffee"], "kitchen")
    second = await gallery.upload("coffee-copy.png", photos()["coffee"], "backup")
    for name in ("astronaut", "rocket", "horse"):
        await gallery.upload(f"{name}.png", photos()[name])
    await gallery.indexed()
    for path in ("/api/images/near-duplicates", "/api/images/near-duplicates/"):
        response = await gallery.client.get(path)
        assert response.status_code == 200, response.text
        groups = response.json()["groups"]
        assert [sorted(g) for g in groups] == [sorted([first["id"], second["id"]])]
    assert_error(await gallery.client.get("/api/images/near-duplicates", params={"threshold": "2"}), 422)


# ==================================================================================== thumbnail and view


async def test_view_and_thumbnail_have_the_right_type_and_cache_headers(gallery: Gallery) -> None:
    jpeg_bytes = noise(7, "JPEG", size=(640, 320))
    png_bytes = noise(8, "PNG", size=(300, 600))
    jpeg = await gallery.upload("photo.jpg", jpeg_bytes)
    png = await gallery.upload("drawing.png", png_bytes)
    disguised = await gallery.upload("really-a-png.jpg", noise(9, "PNG"))
    await gallery.indexed()
    # As a type guessed from a file's extension would have it: the bytes still decide.
    engine = create_async_engine(gallery.settings.database.url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text("UPDATE gallery_images SET media_type = 'image/jpg' WHERE id IN (:a, :b)"),
                {"a": uuid.UUID(jpeg["id"]), "b": uuid.UUID(disguised["id"])},
            )
    finally:
        await engine.dispose()

    for image, data, media_type in [
        (jpeg, jpeg_bytes, "image/jpeg"),
        (png, png_bytes, "image/png"),
        (disguised, noise(9, "PNG"), "image/png"),
    ]:
        for suffix in ("view", "view/"):
            response = await gallery.client.get(f"/api/images/{image['id']}/{suffix}")
            assert response.status_code == 200
            assert response.headers["content-type"] == media_type
            assert response.content == data
            etag = response.headers["etag"]
            assert "max-age" in response.headers["cache-control"]
            again = await gallery.client.get(f"/api/images/{image['id']}/view", headers={"If-None-Match": etag})
            assert again.status_code == 304
            assert again.content == b""
            assert again.headers["etag"] == etag
            weak = await gallery.client.get(
                f"/api/images/{image['id']}/view", headers={"If-None-Match": f'"other", W/{etag}'}
            )
            assert weak.status_code == 304
            stale = await gallery.client.get(f"/api/images/{image['id']}/view", headers={"If-None-Match": '"other"'})
            assert stale.status_code == 200

    for image, size in [(jpeg, (256, 128)), (png, (128, 256))]:
        for suffix in ("thumbnail", "thumbnail/"):
            response = await gallery.client.get(f"/api/images/{image['id']}/{suffix}")
            assert response.status_code == 200
            assert response.headers["content-type"] == "image/jpeg"
            assert Image.open(io.BytesIO(response.content)).size == size  # aspect kept, long side 256
            etag = response.headers["etag"]
            assert "max-age" in response.headers["cache-control"]
            again = await gallery.client.get(f"/api/images/{image['id']}/thumbnail", headers={"If-None-Match": etag})
            assert again.status_code == 304
    small = await gallery.client.get(f"/api/images/{disguised['id']}/thumbnail")
    assert Image.open(io.BytesIO(small.content)).size == (40, 30)  # never enlarged
    assert (await gallery.client.get(f"/api/images/{jpeg['id']}/thumbnail")).headers["etag"] != (
        await gallery.client.get(f"/api/images/{png['id']}/thumbnail")
    ).headers["etag"]

    unknown = uuid.uuid4()
    for suffix in ("view", "view/", "thumbnail", "thumbnail/"):
        assert_error(await gallery.client.get(f"/api/images/{unknown}/{suffix}"), 404)
        assert_error(await gallery.client.get(f"/api/images/not-a-uuid/{suffix}"), 422)


# =============================================================================================== delete


async def test_delete_removes_the_image_everywhere(gallery: Gallery) -> None:
    ids = await photo_gallery(gallery)
    storage = S3ObjectStorage(gallery.settings.s3)
    try:
        for name, path in [("astronaut", "/api/images/{}"), ("camera", "/api/images/{}/")]:
            image_id = ids[name]
            thumbnail = f"thumbnails/{image_id}.jpg"
            assert await storage.exists(thumbnail)
            keys = await stored_keys(gallery)
            original = {k for k in keys if k.startswith(f"gallery/{image_id}/")}
            assert original

            response = await gallery.client.delete(path.format(image_id))
            assert response.status_code == 200, response.text
            assert response.json()["status"] == "success"
            assert response.json()["id"] == image_id

            listed = (await listing(gallery, directory="", items_per_page=100)).json()["images"]
            assert image_id not in {i["id"] for i in listed}
            other = ids["coffee"]
            found = hits(await by_image(gallery, other, top_k=50, items_per_page=50))
            assert image_id not in {h["id"] for h in found}
            assert not await storage.exists(thumbnail)
            assert not (await stored_keys(gallery)) & original
            assert_error(await gallery.client.get(f"/api/images/{image_id}/view"), 404)
            assert_error(await gallery.client.get(f"/api/images/{image_id}/thumbnail"), 404)
            assert_error(await by_image(gallery, image_id), 404)
            assert_error(await gallery.client.delete(path.format(image_id)), 404)
    finally:
        await storage.close()
    assert_error(await gallery.client.delete(f"/api/images/{uuid.uuid4()}"), 404)
    assert_error(await gallery.client.delete(f"/api/images/{uuid.uuid4()}/"), 404)
    # Only a UUID names an image: any other path is no resource at all (and /api/images/index is not one).
    assert_error(await gallery.client.delete("/api/images/not-a-uuid"), 404)
    refused = await gallery.client.delete("/api/images/index")
    assert (refused.status_code, refused.headers["allow"]) == (405, "GET, HEAD")
    assert (await listing(gallery, directory="")).json()["total"] == len(ids) - 2


# ======================================================================================= directory tree


async def test_directory_tree_paths_are_the_values_the_directory_filter_takes(gallery: Gallery) -> None:
    folders = [".", "a", "a/b", "a/b/c", "z"]
    for k, folder in enumerate(folders):
        await gallery.upload(f"{k}.png", noise(k), folder)
    for path in ("/api/fs/watched-directories/", "/api/fs/watched-directories"):
        response = await gallery.client.get(path)
        assert response.status_code == 200, response.text
        tree = response.json()
        assert tree["path"] == "."
        assert tree["parent"] is None
        datetime.fromisoformat(tree["created_at"])
        datetime.fromisoformat(tree["modified_at"])

        seen: dict[str, str | None] = {}

        def walk(node: dict[str, Any], seen: dict[str, str | None] = seen) -> None:
            seen[node["path"]] = node["parent"]
            for child in node["children"]:
                assert child["parent"] == node["path"]
                walk(child)

        walk(tree)
        assert seen == {".": None, "a": ".", "a/b": "a", "a/b/c": "a/b", "z": "."}
        for folder in seen:
            listed = (await listing(gallery, directory=folder)).json()
            assert [i["user_visible_name"] for i in listed["images"]] == [f"{folders.index(folder)}.png"]


async def test_an_empty_gallery_has_a_bare_root(gallery: Gallery) -> None:
    tree = (await gallery.client.get("/api/fs/watched-directories/")).json()
    assert (tree["path"], tree["parent"], tree["children"]) == (".", None, [])
    assert (await listing(gallery)).json() == {"images": [], "total": 0}


# ================================================================================================== SSE


@contextlib.asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """The app on a real socket (an ASGI transport in httpx buffers a response whole)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning", timeout_graceful_shutdown=5))
    task = asyncio.create_task(server.serve(sockets=[sock]))

    async def started() -> bool:
        if task.done():
            task.result()
        return server.started

    try:
        await eventually(started, 30, "uvicorn to start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)
        sock.close()


class EventStream:
    """Frames of a text/event-stream: ``(event, data)``, and ``(None, comment)`` for comments."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines = response.aiter_lines()
        self.seen: list[tuple[str, Any]] = []

    async def frame(self) -> tuple[str | None, Any]:
        event: str | None = None
        data: list[str] = []
        comment: str | None = None
        async for line in self._lines:
            if line == "":
                if event is not None or data:
                    return event or "message", json.loads("\n".join(data))
                if comment is not None:
                    return None, comment
                continue
            if line.startswith(":"):
                comment = line[1:].strip()
            elif line.startswith("event:"):
                event = line[len("event:") :].strip()
            elif line.startswith("data:"):
                data.append(line[len("data:") :].strip())
        raise AssertionError("the stream ended")

    async def until(self, wanted: Callable[[str | None, Any], bool], within_s: float, what: str) -> Any:
        deadline = time.monotonic() + within_s
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                while True:
                    event, data = await self.frame()
                    if event is not None:
                        self.seen.append((event, data))
                    if wanted(event, data):
                        return data
        except TimeoutError:
            raise AssertionError(f"no {what} within {within_s} s; saw {self.seen}") from None


async def test_events_stream_tells_of_uploads_embeddings_and_deletes(gallery: Gallery) -> None:
    async with (
        served(gallery.app) as base,
        httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(60, read=60)) as client,
        client.stream("GET", "/api/fs/events") as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-accel-buffering"] == "no"
        stream = EventStream(response)
        await stream.until(lambda e, d: e is None and d == "connected", 10, "greeting")

        image = await gallery.upload("live.png", noise(11), "live")
        created = await stream.until(lambda e, d: e == "FileCreatedEvent", 30, "FileCreatedEvent")
        assert created["path"] == "live/live.png"
        assert datetime.fromisoformat(created["created_at"]).tzinfo is not None
        embedded = await stream.until(lambda e, d: e == "FileEmbeddedEvent", 120, "FileEmbeddedEvent")
        assert embedded == {"count": 1, "to_index": 0}
        indexed = await stream.until(lambda e, d: e == "ImagesIndexedEvent", 10, "ImagesIndexedEvent")
        assert indexed == embedded

        assert (await gallery.client.delete(f"/api/images/{image['id']}")).status_code == 200
        deleted = await stream.until(lambda e, d: e == "FileDeletedEvent", 30, "FileDeletedEvent")
        assert deleted == {"path": "live/live.png"}


async def test_events_without_the_slash_too(gallery: Gallery) -> None:
    async with (
        served(gallery.app) as base,
        httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(60, read=60)) as client,
        client.stream("GET", "/api/fs/events/") as response,
    ):
        assert response.status_code == 200
        stream = EventStream(response)
        await stream.until(lambda e, d: e is None and d == "connected", 10, "greeting")
        await gallery.upload("again.png", noise(12))
        created = await stream.until(lambda e, d: e == "FileCreatedEvent", 30, "FileCreatedEvent")
        assert created["path"] == "again.png"


# ======================================================================================= other routes


async def test_unknown_routes_and_methods_answer_json(gallery: Gallery) -> None:
    assert_error(await gallery.client.get("/api/nothing-here"), 404)
    assert_error(await gallery.client.put("/api/images"), 405)
    assert_error(await gallery.client.get(f"/api/images/{uuid.uuid4()}"), 405)


# ========================================================================= without a worker: 503s, limits


@pytest.fixture
async def idle_gallery(
    migrated_database: str, s3_server: S3Server, redis_server: RedisServer
) -> AsyncIterator[Gallery]:
    """The api and the relay with no embedding worker: queries wait half a second; uploads are small."""
    await empty_gallery(migrated_database)
    settings = gallery_settings(
        migrated_database,
        s3_server,
        redis_server,
        embedding={"query_timeout_s": 0.5, "max_pixels": 300 * 300},
        api={"max_upload_bytes": 100_000},
    )
    async with running_gallery(settings, with_worker=False) as g:
        yield g


async def test_search_before_any_index_or_with_no_worker_is_503(idle_gallery: Gallery) -> None:
    gallery = idle_gallery
    image = await gallery.upload("waiting.png", noise(1))

    async def searches() -> list[httpx.Response]:
        return [
            await gallery.client.post(
                "/api/images/similarity-search",
                files={"image": ("blob", noise(2), "image/png")},
                data={"top_k": "5"},
            ),
            await by_image(gallery, image["id"]),
            await gallery.client.post("/api/images/search-by-text", json={"text": "cat"}),
            await gallery.client.get("/api/images/near-duplicates"),
        ]

    # No model has a complete index: nothing to search in.
    for response in await searches():
        assert_error(response, 503)
    # Listing, viewing and the tree do not need an index.
    assert names(await listing(gallery)) == ["waiting.png"]
    thumbnail = await gallery.client.get(f"/api/images/{image['id']}/thumbnail")
    assert thumbnail.status_code == 200
    assert thumbnail.headers["content-type"] == "image/jpeg"
    assert thumbnail.headers["cache-control"] == "no-store"  # made on the fly until the worker keeps one

    # A complete index whose worker is gone: the query is never answered.
    engine = create_async_engine(gallery.settings.database.url)
    try:
        registry = SqlModelRegistry(engine)
        model = EmbeddingModelId("gone", "v1")
        await registry.register(model, 8, supports_text=False)
        await registry.mark_ready(model)
    finally:
        await engine.dispose()
    started = time.monotonic()
    similar = await gallery.client.post(
        "/api/images/similarity-search", files={"image": ("blob", noise(2), "image/png")}, data={"top_k": "5"}
    )
    assert_error(similar, 503)
    assert time.monotonic() - started < 10
    assert_error(await by_image(gallery, image["id"]), 409)  # not embedded in that model
    assert_error(await gallery.client.post("/api/images/search-by-text", json={"text": "cat"}), 422)


async def test_oversize_uploads_are_413_and_store_nothing(idle_gallery: Gallery) -> None:
    gallery = idle_gallery
    too_many_bytes = noise(1, size=(200, 200))
    assert len(too_many_bytes) > 100_000
    too_many_pixels = io.BytesIO()
    Image.new("RGB", (400, 400), "white").save(too_many_pixels, format="PNG")
    assert len(too_many_pixels.getvalue()) < 100_000
    for data in (too_many_bytes, too_many_pixels.getvalue()):
        for path in ("/api/images", "/api/images/"):
            response = await gallery.client.post(path, files={"image": ("big.png", data, "image/png")})
            assert_error(response, 413)
    search = await gallery.client.post(
        "/api/images/similarity-search", files={"image": ("blob", too_many_bytes, "image/png")}
    )
    assert_error(search, 413)
    assert await stored_keys(gallery) == set()
    assert await row_count(gallery) == 0


async def test_without_the_database_the_gallery_answers_503(s3_server: S3Server, redis_server: RedisServer) -> None:
    from kartoteka.di import api_container
    from kartoteka.presentation.http.app import create_app

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    settings = gallery_settings(
        f"postgresql+asyncpg://kartoteka:kartoteka@127.0.0.1:{port}/gone",
        s3_server,
        redis_server,
        database={"connect_timeout_s": 2},
    )
    container = api_container(settings)
    transport = httpx.ASGITransport(app=create_app(container), raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://kartoteka") as client:
            image_id = uuid.uuid4()
            for response in (
                await client.get("/api/images", params={"directory": ""}),
                await client.get("/api/fs/watched-directories/"),
                await client.get("/api/images/index"),
                await client.get(f"/api/images/{image_id}/view"),
                await client.post("/api/images/search-by-image/", json={"image_id": str(image_id)}),
                await client.post("/api/images/", files={"image": ("a.png", noise(1), "image/png")}),
                await client.delete(f"/api/images/{image_id}"),
            ):
                assert_error(response, 503)
    finally:
        await container.close()


# ============================================================================================ WebSocket


async def test_gallery_events_reach_a_websocket_that_asked_for_them(gallery: Gallery) -> None:
    import websockets

    async with served(gallery.app) as base:
        url = base.replace("http://", "ws://") + "/api/ws"
        async with websockets.connect(url, open_timeout=30) as ws:
            await ws.send(json.dumps({"op": "subscribe", "gallery": True}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 10)) == {"type": "subscribed", "gallery": True}
            await gallery.upload("ws.png", noise(3, "PNG", size=(40, 30)), "live")
            names: list[str] = []
            async with asyncio.timeout(120):
                while "FileEmbeddedEvent" not in names:
                    frame = json.loads(await ws.recv())
                    if frame.get("type") == "gallery.event":
                        names.append(frame["event"])
                        if frame["event"] == "FileCreatedEvent":
                            assert frame["data"]["path"] == "live/ws.png"
            assert names.index("FileCreatedEvent") < names.index("FileEmbeddedEvent")
            await ws.send(json.dumps({"op": "unsubscribe", "gallery": True}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "unsubscribed"
