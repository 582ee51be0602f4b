"""Who did what: the logged-in person is the author of each correction and the submitter of each card."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from kartoteka.infrastructure.config.settings import Settings
from tests.harness.redis import RedisServer
from tests.harness.s3 import S3Server
from tests.harness.smtp import SmtpServer
from tests.integration.http.conftest import api_settings, client_for, finish_task
from tests.integration.http.test_recognition_api import image_bytes
from tests.integration.identity.conftest import ROOT, Api, otp_settings, running_api


@pytest.fixture
def settings(
    migrated_database: str, redis_server: RedisServer, smtp_server: SmtpServer, s3_server: S3Server
) -> Settings:
    otp = otp_settings(migrated_database, redis_server, smtp_server)
    storage = api_settings(migrated_database, s3_server, redis_server)
    return otp.model_copy(update={"s3": storage.s3})


@pytest.fixture
async def api(settings: Settings, smtp_server: SmtpServer) -> AsyncIterator[Api]:
    async for running in running_api(settings, smtp_server):
        yield running


async def editor(api: Api, root: httpx.AsyncClient) -> tuple[httpx.AsyncClient, str]:
    email = f"ed{uuid.uuid4().hex[:8]}@example.org"
    made = await root.post("/api/users", json={"email": email, "role": "editor"})
    assert made.status_code == 201, made.text
    client = api.client()
    await api.login(client, email)
    return client, email


async def correct(client: httpx.AsyncClient, task_id: str, revision: int, text: str) -> dict[str, Any]:
    answer = await client.patch(
        f"/api/recognition/tasks/{task_id}/transcript",
        json={"edits": [{"op": "edit_word", "line": 0, "word": 0, "text": text}]},
        headers={"If-Match": f'"{revision}"'},
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_two_editors_correct_one_card_and_the_history_names_each(api: Api) -> None:
    async with api.client() as root:
        await api.login(root, ROOT)
        anna, anna_email = await editor(api, root)
        boris, boris_email = await editor(api, root)
        try:
            files = [("images", ("card.png", image_bytes(seed=3), "image/png"))]
            submitted = await anna.post("/api/recognition/tasks", files=files)
            assert submitted.status_code == 202, submitted.text
            task = submitted.json()["tasks"][0]
            assert task["submitted_by"] == anna_email
            await finish_task(api.settings.database.url, task["id"])

            await correct(anna, task["id"], 0, "Ба́тюшка")
            await correct(boris, task["id"], 1, "Батю́шка")
            legacy = await root.put("/task/update_text", params={"task_id": task["id"], "new_text": "батюшка"})
            assert legacy.status_code == 200, legacy.text

            history = (await boris.get(f"/api/recognition/tasks/{task['id']}/transcript/revisions")).json()
            assert [(r["revision"], r["author"]) for r in history["revisions"]] == [
                (0, None),
                (1, anna_email),
                (2, boris_email),
                (3, ROOT),
            ]
            again = (await boris.get(f"/api/recognition/tasks/{task['id']}")).json()
            assert again["submitted_by"] == anna_email
        finally:
            await anna.aclose()
            await boris.aclose()


async def test_a_script_with_an_api_token_is_named_by_its_token(api: Api) -> None:
    async with api.client() as root:
        await api.login(root, ROOT)
        issued = await root.post("/api/tokens", json={"name": "scanner-3", "role": "editor"})
        assert issued.status_code == 201, issued.text
        transport = httpx.ASGITransport(app=api.app, raise_app_exceptions=False, client=(api.address, 5))
        headers = {"Authorization": f"Bearer {issued.json()['token']}"}
        async with httpx.AsyncClient(transport=transport, base_url="https://kartoteka", headers=headers) as script:
            files = [("images", ("card.png", image_bytes(seed=4), "image/png"))]
            task = (await script.post("/api/recognition/tasks", files=files)).json()["tasks"][0]
            assert task["submitted_by"] == "token:scanner-3"


async def test_without_authentication_the_configured_name_is_recorded(
    migrated_database: str, s3_server: S3Server, redis_server: RedisServer
) -> None:
    settings = api_settings(migrated_database, s3_server, redis_server, auth={"open_author": "Кафедра"})
    async for client in client_for(settings):
        files = [("images", ("card.png", image_bytes(seed=5), "image/png"))]
        task = (await client.post("/api/recognition/tasks", files=files)).json()["tasks"][0]
        assert task["submitted_by"] == "Кафедра"
        await finish_task(settings.database.url, task["id"])
        await correct(client, task["id"], 0, "слово")
        history = (await client.get(f"/api/recognition/tasks/{task['id']}/transcript/revisions")).json()
        assert history["revisions"][-1]["author"] == "Кафедра"
