"""``Idempotency-Key`` on submit: a retried request creates nothing twice and gets the first answer.

Real PostgreSQL, S3 and Redis, no worker.
"""

from __future__ import annotations

import asyncio

import httpx

from kartoteka.infrastructure.config.settings import Settings
from tests.integration.http.test_hostile_input import counts
from tests.integration.http.test_recognition_api import image_bytes, stored_keys


def cards(*seeds: int) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("images", (f"card-{seed}.png", image_bytes(seed=seed), "image/png")) for seed in seeds]


async def test_a_retry_with_the_same_key_creates_nothing_and_answers_the_same(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    headers = {"Idempotency-Key": "box-12-upload-1"}
    first = await client.post("/api/recognition/tasks", files=cards(1, 2), data={"batch_label": "b"}, headers=headers)
    assert first.status_code == 202, first.text
    assert "Idempotent-Replayed" not in first.headers
    after_first, objects = await counts(client), await stored_keys(settings)
    again = await client.post("/api/recognition/tasks", files=cards(1, 2), data={"batch_label": "b"}, headers=headers)
    assert again.status_code == 202, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert [t["id"] for t in again.json()["tasks"]] == [t["id"] for t in first.json()["tasks"]]
    assert again.json()["batch"]["id"] == first.json()["batch"]["id"]
    assert (await counts(client), await stored_keys(settings)) == (after_first, objects)

    other = await client.post("/api/recognition/tasks", files=cards(3), headers=headers)
    assert other.status_code == 422, other.text
    assert other.json()["detail"] == {"field": "Idempotency-Key"}
    assert (await counts(client), await stored_keys(settings)) == (after_first, objects)

    fresh = await client.post("/api/recognition/tasks", files=cards(1, 2), data={"batch_label": "b"})
    assert fresh.status_code == 202  # without a key, the same files are a new submission
    assert fresh.json()["batch"]["id"] != first.json()["batch"]["id"]


async def test_concurrent_requests_with_one_key_make_one_submission(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    before = sum((await counts(client)).values())
    headers = {"Idempotency-Key": "the-same-retry"}
    answers = await asyncio.gather(
        *(client.post("/api/recognition/tasks", files=cards(5, 6), headers=headers) for _ in range(4))
    )
    assert [a.status_code for a in answers] == [202] * 4, [a.text for a in answers]
    ids = {tuple(t["id"] for t in a.json()["tasks"]) for a in answers}
    assert len(ids) == 1
    assert sum((await counts(client)).values()) == before + 2
    assert await stored_keys(settings) == 2  # the losers' objects were removed


async def test_the_legacy_submit_takes_a_key_too(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "legacy-1"}
    files = {"image": ("old.png", image_bytes(seed=9), "image/png")}
    first = await client.post("/task/submit", files=files, headers=headers)
    again = await client.post("/task/submit", files=files, headers=headers)
    assert (first.status_code, again.status_code) == (200, 200), again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"


async def test_a_bad_key_is_a_422(client: httpx.AsyncClient) -> None:
    for key in ("", " ", "k" * 256):
        response = await client.post("/api/recognition/tasks", files=cards(1), headers={"Idempotency-Key": key})
        assert response.status_code == 422, (key, response.text)
