"""Hostile and unlucky input on the recognition routes: a clear 4xx, never a 500, and nothing stored.

Real PostgreSQL, S3 and Redis, no worker (tasks stay queued).
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import httpx
import pytest
from PIL import Image

from kartoteka.infrastructure.config.settings import Settings
from tests.bad_images import png_bomb, tiff_with_text_strip_offsets
from tests.integration.http.conftest import client_for
from tests.integration.http.test_recognition_api import image_bytes, stored_keys


def raw_multipart(parts: list[tuple[str, str, bytes]], fields: dict[str, str] | None = None) -> tuple[bytes, str]:
    """A multipart body written byte for byte: httpx percent-escapes control characters in file names
    (a NUL goes as ``%00``), and a hostile client does not."""
    boundary = "kartoteka-hostile-boundary"
    body = b""
    for field, value in (fields or {}).items():
        body += f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"\r\n\r\n{value}\r\n'.encode()
    for field, filename, data in parts:
        body += (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + data
            + b"\r\n"
        )
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


async def post_raw(
    client: httpx.AsyncClient, path: str, parts: list[tuple[str, str, bytes]], fields: dict[str, str] | None = None
) -> httpx.Response:
    body, content_type = raw_multipart(parts, fields)
    return await client.post(path, content=body, headers={"Content-Type": content_type})


async def counts(client: httpx.AsyncClient) -> dict[str, int]:
    response = await client.get("/api/recognition/tasks")
    assert response.status_code == 200, response.text
    return dict(response.json()["counts"])


@pytest.mark.parametrize(
    ("name", "data", "status", "kind"),
    [
        ("strip-offsets.tif", tiff_with_text_strip_offsets(), 422, "unreadable"),  # Pillow raised TypeError
        ("bomb.png", png_bomb(), 413, "too_many_pixels"),  # 30000×30000 in 196 bytes
    ],
)
async def test_a_decoder_failure_is_unreadable_and_a_bomb_too_many_pixels(
    client: httpx.AsyncClient, settings: Settings, name: str, data: bytes, status: int, kind: str
) -> None:
    before = await counts(client)
    files = [("images", ("good.png", image_bytes(), "image/png")), ("images", (name, data, "image/tiff"))]
    response = await client.post("/api/recognition/tasks", files=files)
    assert response.status_code == status, response.text
    assert response.json()["detail"]["kind"] == kind
    assert name in response.json()["error"]
    legacy = await client.post("/task/submit", files={"image": (name, data, "image/png")})
    assert legacy.status_code == status, legacy.text
    assert await counts(client) == before
    assert await stored_keys(settings) == 0


@pytest.mark.parametrize("name", ["card\x00.png", "card\x1b[31m.png", "line\u2028sep.png", "del\x7f.png", "c1\x85.png"])
async def test_a_control_character_in_a_file_name_is_a_422_and_nothing_is_stored(
    client: httpx.AsyncClient, settings: Settings, name: str
) -> None:
    before = await counts(client)
    parts = [("images", "good.png", image_bytes()), ("images", name, image_bytes(seed=1))]
    response = await post_raw(client, "/api/recognition/tasks", parts)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["detail"]["kind"] == "invalid_name"
    assert "control character" in body["error"]
    legacy = await post_raw(client, "/task/submit", [("image", name, image_bytes())])
    assert legacy.status_code == 422, legacy.text
    assert await counts(client) == before
    assert await stored_keys(settings) == 0


async def test_a_control_character_in_a_batch_label_is_a_422(client: httpx.AsyncClient, settings: Settings) -> None:
    before = await counts(client)
    files = [("images", ("a.png", image_bytes(), "image/png"))]
    parts = [("images", "a.png", image_bytes())]
    response = await post_raw(client, "/api/recognition/tasks", parts, {"batch_label": "box\x0012"})
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == {"field": "batch_label"}
    assert "U+0000" in response.json()["error"]
    assert await counts(client) == before
    assert await stored_keys(settings) == 0
    fine = await client.post("/api/recognition/tasks", files=files, data={"batch_label": "коробка 12 — ящик"})
    assert fine.status_code == 202, fine.text


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("created_from", "0001-01-01T00:00:00+01:00"),  # year 0 in UTC
        ("created_to", "9999-12-31T23:59:59-01:00"),  # year 10000 in UTC
        ("created_from", "0000-06-01T00:00:00"),
        ("created_to", "10000-01-01T00:00:00"),
    ],
)
async def test_a_date_outside_years_1_to_9999_is_a_422(client: httpx.AsyncClient, field: str, value: str) -> None:
    response = await client.get("/api/recognition/tasks", params={field: value})
    assert response.status_code == 422, response.text
    assert "error" in response.json()


@pytest.mark.parametrize("value", ["0.5", "1700000000", "-1", "1e9"])
async def test_a_bare_number_is_no_date(client: httpx.AsyncClient, value: str) -> None:
    """The schema says an ISO 8601 date-time; pydantic alone would read a number as a Unix time."""
    for field in ("created_from", "created_to"):
        response = await client.get("/api/recognition/tasks", params={field: value})
        assert response.status_code == 422, response.text
        assert [e["loc"] for e in response.json()["detail"]] == [["query", field]]


async def test_dates_at_the_edges_of_the_range_are_fine(client: httpx.AsyncClient) -> None:
    params = {"created_from": "0001-01-01T00:00:00+00:00", "created_to": "9999-12-31T23:59:59Z"}
    response = await client.get("/api/recognition/tasks", params=params)
    assert response.status_code == 200, response.text


@pytest.fixture
async def small_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The api with a 100 kB request limit (each file may still be 2 MB: the request limit is the tighter)."""
    limited = settings.model_copy(update={"api": settings.api.model_copy(update={"max_request_bytes": 100_000})})
    async for client in client_for(limited):
        yield client


async def test_a_declared_body_over_the_request_limit_is_413_before_it_is_read(
    small_client: httpx.AsyncClient, settings: Settings
) -> None:
    before = await counts(small_client)
    files = [("images", (f"{n}.png", image_bytes(size=(120, 120), seed=n), "image/png")) for n in range(4)]
    response = await small_client.post("/api/recognition/tasks", files=files)
    assert response.status_code == 413, response.text
    assert response.json()["detail"] == {"kind": "too_large", "max_request_bytes": 100_000}
    assert "at most 100000 bytes" in response.json()["error"]
    assert await counts(small_client) == before
    assert await stored_keys(settings) == 0


async def test_a_streamed_body_is_cut_off_at_the_request_limit(small_client: httpx.AsyncClient) -> None:
    body, content_type = raw_multipart([("images", f"{n}.png", image_bytes(size=(120, 120), seed=n)) for n in range(4)])
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: only counting can stop it
        nonlocal sent
        for start in range(0, len(body), 8192):
            sent += 1
            yield body[start : start + 8192]

    response = await small_client.post("/api/images", content=chunks(), headers={"Content-Type": content_type})
    assert response.status_code == 413, response.text
    assert response.json()["detail"]["kind"] == "too_large"
    small = await small_client.post("/api/recognition/tasks", files=[("images", ("a.png", image_bytes(), "image/png"))])
    assert small.status_code == 202, small.text  # the limit is on the request, not the api


async def test_too_many_files_are_refused_before_any_is_read(client: httpx.AsyncClient, settings: Settings) -> None:
    files = [("images", (f"{n}.png", image_bytes(seed=n), "image/png")) for n in range(settings.api.max_files + 1)]
    response = await client.post("/api/recognition/tasks", files=files)
    assert response.status_code == 413, response.text
    assert response.json()["detail"]["kind"] == "too_many_files"
    assert await stored_keys(settings) == 0


async def test_a_long_pdf_is_refused_before_a_page_is_rendered(client: httpx.AsyncClient, settings: Settings) -> None:
    pages = [Image.new("RGB", (60, 40), "white") for _ in range(settings.documents.max_pages_per_file + 1)]
    buffer = io.BytesIO()
    pages[0].save(buffer, format="PDF", save_all=True, append_images=pages[1:], resolution=72)
    response = await client.post("/api/recognition/tasks", files=[("images", ("box.pdf", buffer.getvalue(), "a/pdf"))])
    assert response.status_code == 413, response.text
    assert response.json()["detail"]["kind"] == "too_many_pages"
    assert f"at most {settings.documents.max_pages_per_file} are accepted from one file" in response.json()["error"]
