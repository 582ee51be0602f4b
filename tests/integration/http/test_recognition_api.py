"""The recognition API over real PostgreSQL, S3 and Redis (no worker: tasks stay queued here)."""

from __future__ import annotations

import io
import subprocess
import sys

import httpx
import numpy as np
import pytest
from PIL import Image

from kartoteka.infrastructure.config.settings import Settings
from tests.harness.redis import RedisServer
from tests.harness.s3 import S3Server
from tests.integration.http.conftest import api_settings, client_for, hold_task


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (64, 48), seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(buf, format=fmt)
    return buf.getvalue()


async def stored_keys(settings: Settings) -> int:
    """Objects in the api's bucket, counted with a plain S3 client."""
    from miniopy_async import Minio

    s3 = settings.s3
    client = Minio(s3.endpoint, access_key=s3.access_key, secret_key=s3.secret_key.get_secret_value(), secure=False)
    try:
        if not await client.bucket_exists(s3.bucket):
            return 0
        objects = await client.list_objects(s3.bucket, recursive=True)
        return len(list(objects))
    finally:
        close = getattr(client, "close_session", None)
        if close is not None:
            await close()


async def test_submit_several_cards_then_read_them_back(client: httpx.AsyncClient) -> None:
    files = [("images", (f"card{i}.png", image_bytes(seed=i), "image/png")) for i in range(3)]
    files.append(("images", ("scan.jpg", image_bytes("JPEG"), "image/jpeg")))
    response = await client.post("/api/recognition/tasks", files=files, data={"batch_label": "Пинега 1974"})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["batch"]["label"] == "Пинега 1974"
    assert [t["status"] for t in body["tasks"]] == ["queued"] * 4
    jpeg = body["tasks"][3]
    assert (jpeg["content_type"], jpeg["width"], jpeg["height"]) == ("image/jpeg", 64, 48)

    one = await client.get(f"/api/recognition/tasks/{jpeg['id']}")
    assert one.status_code == 200
    assert one.json()["filename"] == "scan.jpg"
    image = await client.get(jpeg["image_url"])
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/jpeg"
    assert image.content == image_bytes("JPEG")

    listed = await client.get("/api/recognition/tasks", params={"batch": body["batch"]["id"], "limit": 3})
    page = listed.json()
    assert len(page["items"]) == 3
    assert page["counts"]["queued"] == 4
    rest = await client.get(
        "/api/recognition/tasks", params={"batch": body["batch"]["id"], "limit": 3, "cursor": page["next_cursor"]}
    )
    assert len(rest.json()["items"]) == 1
    assert rest.json()["next_cursor"] is None


@pytest.mark.parametrize(
    ("name", "data", "ctype", "status", "kind"),
    [
        ("notes.txt", b"not an image at all", "text/plain", 422, "unreadable"),
        ("anim.gif", None, "image/gif", 415, "unsupported_type"),
        ("empty.png", b"", "image/png", 422, "unreadable"),
        ("huge.png", b"x" * 2_000_001, "image/png", 413, "too_large"),
    ],
)
async def test_a_bad_file_refuses_the_request_and_stores_nothing(
    client: httpx.AsyncClient, settings: Settings, name: str, data: bytes | None, ctype: str, status: int, kind: str
) -> None:
    if data is None:
        buf = io.BytesIO()
        Image.new("P", (4, 4)).save(buf, format="GIF")
        data = buf.getvalue()
    before = (await client.get("/api/recognition/tasks")).json()["counts"]
    files = [("images", ("good.png", image_bytes(), "image/png")), ("images", (name, data, ctype))]
    response = await client.post("/api/recognition/tasks", files=files)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["detail"]["file"] == name
    assert body["detail"]["kind"] == kind
    assert name in body["error"]
    assert (await client.get("/api/recognition/tasks")).json()["counts"] == before
    assert await stored_keys(settings) == 0


async def test_request_without_files_is_a_json_error(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/recognition/tasks", data={"batch_label": "x"})
    assert response.status_code == 422
    assert response.json()["error"] == "the request is not valid"


async def test_too_many_pixels_is_413(migrated_database: str, s3_server: S3Server, redis_server: RedisServer) -> None:
    settings = api_settings(migrated_database, s3_server, redis_server, recognition={"max_pixels": 1000})
    async for client in client_for(settings):
        response = await client.post(
            "/api/recognition/tasks", files=[("images", ("a.png", image_bytes(), "image/png"))]
        )
        assert response.status_code == 413
        assert response.json()["detail"]["kind"] == "too_many_pixels"


async def test_cancel_retry_delete_and_their_errors(client: httpx.AsyncClient) -> None:
    created = await client.post("/api/recognition/tasks", files=[("images", ("a.png", image_bytes(), "image/png"))])
    task = created.json()["tasks"][0]
    url = f"/api/recognition/tasks/{task['id']}"
    cancelled = await client.post(url + "/cancel")
    assert cancelled.json()["status"] == "cancelled"
    again = await client.post(url + "/cancel")
    assert again.status_code == 409
    assert again.json()["detail"] == {"status": "cancelled", "action": "cancel"}
    retried = await client.post(url + "/retry")
    assert retried.status_code == 202
    assert (retried.json()["status"], retried.json()["attempt"]) == ("queued", 2)
    assert (await client.delete(url)).status_code == 204
    gone = await client.get(url)
    assert gone.status_code == 404
    assert gone.json()["detail"] == {"task_id": task["id"]}
    assert (await client.get(url + "/image")).status_code == 404


async def test_retry_of_a_task_a_worker_holds_is_409_and_of_a_stuck_one_queues_it_again(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    created = await client.post("/api/recognition/tasks", files=[("images", ("a.png", image_bytes(), "image/png"))])
    url = f"/api/recognition/tasks/{created.json()['tasks'][0]['id']}"
    queued = await client.post(url + "/retry")  # queued, with nobody on it: a stuck task may be sent again
    assert (queued.status_code, queued.json()["attempt"]) == (202, 2)
    await hold_task(settings.database.url, created.json()["tasks"][0]["id"])
    held = await client.post(url + "/retry")
    assert held.status_code == 409
    assert "a worker holds it" in held.json()["error"]
    assert held.json()["detail"]["status"] == "running"
    assert "lease_until" in held.json()["detail"]
    shown = (await client.get(url)).json()
    assert (shown["status"], shown["runs"], shown["retry_at"]) == ("running", 1, None)
    assert shown["lease_until"] is not None


@pytest.mark.parametrize("path", ["/api/recognition/tasks/not-a-uuid", "/task/?task_id=zzz", "/task/image"])
async def test_malformed_requests_are_json_422(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 422
    assert "error" in response.json()


async def test_bad_cursor_is_400(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/recognition/tasks", params={"cursor": "bogus!"})
    assert response.status_code == 400
    assert "cursor" in response.json()["error"]


async def test_legacy_routes_round_trip(client: httpx.AsyncClient) -> None:
    submitted = await client.post("/task/submit", files={"image": ("card.png", image_bytes(), "image/png")})
    assert submitted.status_code == 200
    body = submitted.json()
    assert body["status"] == {"type": "created"}
    task_id = body["id"]
    for path in ("/task/", "/task"):
        got = await client.get(path, params={"task_id": task_id})
        assert got.status_code == 200  # no redirect for the slash-less form
        assert got.json() == {"id": task_id, "status": {"type": "created"}}
    image = await client.get("/task/image", params={"task_id": task_id})
    assert image.content == image_bytes()
    cancelled = await client.post("/task/cancel", params={"task_id": task_id})
    assert cancelled.json() == {"id": task_id, "status": {"type": "cancelled"}}


async def test_health_and_ready(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "redis": "ok", "storage": "ok"}


async def test_database_down_is_503(s3_server: S3Server, redis_server: RedisServer) -> None:
    settings = api_settings(
        "postgresql+asyncpg://x:y@127.0.0.1:9/none", s3_server, redis_server, database={"connect_timeout_s": 1}
    )
    async for client in client_for(settings):
        response = await client.get("/api/recognition/tasks/00000000-0000-0000-0000-000000000001")
        assert response.status_code == 503
        assert "unavailable" in response.json()["error"]
        ready = await client.get("/ready")
        assert ready.status_code == 503
        assert "database" in ready.json()["error"]


def test_the_api_process_never_imports_torch() -> None:
    code = (
        "import sys\n"
        "from kartoteka.di import api_container\n"
        "from kartoteka.presentation.http.app import create_app\n"
        "from kartoteka.infrastructure.config.settings import Settings\n"
        "create_app(api_container(Settings()))\n"
        "models = ('torch', 'transformers', 'ultralytics', 'optimum', 'onnxruntime')\n"
        "heavy = sorted(m for m in models if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == ""
