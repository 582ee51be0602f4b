"""Multi-page PDF and TIFF uploads through the api: one card per page, in order, in one batch."""

from __future__ import annotations

import io
from collections.abc import Callable

import httpx
import pytest
from PIL import Image

from kartoteka.infrastructure.config.settings import Settings
from tests.harness.redis import RedisServer
from tests.harness.s3 import S3Server
from tests.integration.http.conftest import api_settings, client_for
from tests.integration.http.test_recognition_api import image_bytes, stored_keys
from tests.integration.imaging.test_pages import COLOURS, centre, close_to, pdf_of, tiff_of


async def cards_in_order(client: httpx.AsyncClient, name: str, data: bytes, ctype: str) -> list[dict[str, object]]:
    response = await client.post("/api/recognition/tasks", files=[("images", (name, data, ctype))])
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["batch"] is not None
    tasks = body["tasks"]
    assert all(t["batch_id"] == body["batch"]["id"] for t in tasks)
    assert [t["batch_position"] for t in tasks] == list(range(len(tasks)))
    return list(tasks)


async def page_colour(client: httpx.AsyncClient, task: dict[str, object]) -> object:
    image = await client.get(str(task["image_url"]))
    assert image.status_code == 200
    return centre(Image.open(io.BytesIO(image.content)).convert("RGB"))


@pytest.mark.parametrize(
    ("name", "ctype", "document"),
    [
        ("Ящик 12.pdf", "application/pdf", lambda: pdf_of(COLOURS)),
        (
            "Ящик 12.tif",
            "image/tiff",
            lambda: tiff_of([Image.new("RGB", (200, 100), c) for c in COLOURS], compression="tiff_deflate"),
        ),
    ],
)
async def test_a_three_page_document_gives_three_cards_in_page_order(
    client: httpx.AsyncClient, name: str, ctype: str, document: Callable[[], bytes]
) -> None:
    tasks = await cards_in_order(client, name, document(), ctype)
    assert [t["filename"] for t in tasks] == ["Ящик 12-p001.png", "Ящик 12-p002.png", "Ящик 12-p003.png"]
    assert [t["source"] for t in tasks] == [{"filename": name, "page": n, "page_count": 3} for n in (1, 2, 3)]
    assert all(t["content_type"] == "image/png" and t["status"] == "queued" for t in tasks)
    for task, colour in zip(tasks, COLOURS, strict=True):
        assert close_to(await page_colour(client, task), colour)
    listed = await client.get("/api/recognition/tasks", params={"batch": tasks[0]["batch_id"]})
    assert listed.json()["counts"]["queued"] == 3


async def test_a_page_over_max_pixels_refuses_the_upload_and_stores_nothing(
    migrated_database: str, s3_server: S3Server, redis_server: RedisServer
) -> None:
    settings: Settings = api_settings(migrated_database, s3_server, redis_server, recognition={"max_pixels": 200 * 100})
    pages = [Image.new("RGB", (200, 100), COLOURS[0]), Image.new("RGB", (400, 300), COLOURS[1])]
    async for client in client_for(settings):
        before = (await client.get("/api/recognition/tasks")).json()["counts"]
        files = [
            ("images", ("first.png", image_bytes(), "image/png")),
            ("images", ("box.tif", tiff_of(pages), "image/tiff")),
        ]
        response = await client.post("/api/recognition/tasks", files=files)
        assert response.status_code == 413, response.text
        body = response.json()
        assert body["detail"]["file"] == "box.tif"
        assert body["detail"]["page"] == 2
        assert body["detail"]["kind"] == "too_many_pixels"
        assert "box.tif: page 2:" in body["error"]
        assert (await client.get("/api/recognition/tasks")).json()["counts"] == before
        assert await stored_keys(settings) == 0

        pdf = await client.post(
            "/api/recognition/tasks", files=[("images", ("a.pdf", pdf_of(COLOURS[:2], (400, 300)), "application/pdf"))]
        )
        assert pdf.status_code == 413
        assert pdf.json()["detail"]["page"] == 1
        assert await stored_keys(settings) == 0


async def test_too_many_pages_and_broken_documents_are_refused(
    migrated_database: str, s3_server: S3Server, redis_server: RedisServer
) -> None:
    settings = api_settings(migrated_database, s3_server, redis_server, documents={"max_pages": 2})
    async for client in client_for(settings):
        long = await client.post(
            "/api/recognition/tasks", files=[("images", ("long.pdf", pdf_of(COLOURS), "application/pdf"))]
        )
        assert long.status_code == 413
        assert long.json()["detail"]["kind"] == "too_many_pages"
        two_docs = [
            ("images", ("a.pdf", pdf_of(COLOURS[:2]), "application/pdf")),
            ("images", ("b.pdf", pdf_of(COLOURS[:1]), "application/pdf")),
        ]
        over = await client.post("/api/recognition/tasks", files=two_docs)
        assert over.status_code == 413
        assert over.json()["detail"]["file"] == "b.pdf"
        broken = await client.post(
            "/api/recognition/tasks", files=[("images", ("torn.pdf", pdf_of(COLOURS)[:300], "application/pdf"))]
        )
        assert broken.status_code == 422
        assert broken.json()["detail"]["file"] == "torn.pdf"
        assert await stored_keys(settings) == 0
