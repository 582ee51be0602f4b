"""Full-text search over the latest transcripts, through the api, on real PostgreSQL (tsvector + pg_trgm)."""

from __future__ import annotations

import unicodedata
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from kartoteka.domain.recognition.geometry import Box
from kartoteka.domain.recognition.transcript import Transcript, TranscriptLine, TranscriptWord
from kartoteka.infrastructure.config.settings import Settings
from tests.harness.redis import RedisServer
from tests.harness.s3 import S3Server
from tests.integration.http.conftest import ACUTE, api_settings, client_for, finish_task
from tests.integration.http.test_recognition_api import image_bytes


def card(*lines: str) -> Transcript:
    """Lines of words 10 px apart per letter, 20 px per line, on a 64×48 scan (as uploaded here)."""
    built = []
    for row, line in enumerate(lines):
        words, x = [], 0.0
        for text in line.split():
            width = float(len(text))
            words.append(
                TranscriptWord(
                    unicodedata.normalize("NFC", text), Box(x, row * 8.0, x + width, row * 8.0 + 6), 0.9, 0.7
                )
            )
            x += width + 1
        built.append(TranscriptLine(tuple(words)))
    return Transcript(64, 48, tuple(built))


CARDS = {
    "stressed": card("ПИНЕЖСКИЙ р-н", f"Ба{ACUTE}тюшка пришё{ACUTE}л на\u203fгоре"),
    "plain": card("батюшка", "Карп. 1974"),
    "inflected": card("батюшки мои", "Карп. 1975"),
    "longer": card("батюшками звали попов"),
    "other": card("изба на горе", "дом у реки"),
}


class Archive:
    def __init__(self, client: httpx.AsyncClient, ids: dict[str, str], batch: str) -> None:
        self.client = client
        self.ids = ids
        self.names = {v: k for k, v in ids.items()}
        self.batch = batch

    async def search(self, q: str, **params: Any) -> dict[str, Any]:
        response = await self.client.get("/api/recognition/search", params={"q": q, **params})
        assert response.status_code == 200, response.text
        return dict(response.json())

    def found(self, body: dict[str, Any]) -> list[str]:
        return [self.names.get(item["task_id"], "?") for item in body["items"]]


@pytest.fixture(scope="module")
def archive_settings(migrated_database: str, s3_server: S3Server, redis_server: RedisServer) -> Settings:
    return api_settings(migrated_database, s3_server, redis_server)


@pytest.fixture
async def archive(archive_settings: Settings) -> AsyncIterator[Archive]:
    async for client in client_for(archive_settings):
        files = [("images", (f"{name}.png", image_bytes(seed=i), "image/png")) for i, name in enumerate(CARDS)]
        submitted = (await client.post("/api/recognition/tasks", files=files)).json()
        ids = {name: task["id"] for name, task in zip(CARDS, submitted["tasks"], strict=True)}
        for name, transcript in CARDS.items():
            await finish_task(archive_settings.database.url, ids[name], transcript)
        yield Archive(client, ids, submitted["batch"]["id"])


async def test_an_unaccented_query_finds_the_stressed_word_exact_matches_first(archive: Archive) -> None:
    body = await archive.search("батюшка", batch=archive.batch)
    found = archive.found(body)
    assert set(found[:2]) == {"stressed", "plain"}  # both hold the word itself
    assert set(found[2:]) == {"inflected", "longer"}  # a typo's distance away, or a longer word
    assert [item["match"] for item in body["items"]] == ["exact", "exact", "approximate", "approximate"]
    assert "other" not in found

    stressed = next(item for item in body["items"] if item["task_id"] == archive.ids["stressed"])
    line = stressed["line"]
    assert line["index"] == 1
    box = CARDS["stressed"].lines[1].box
    assert box is not None
    assert line["box"] == list(box.as_tuple())
    assert line["text"] == f"Ба{ACUTE}тюшка пришё{ACUTE}л на\u203fгоре"
    (mark,) = line["highlights"]
    assert line["text"][mark["start"] : mark["end"]] == f"Ба{ACUTE}тюшка"  # the mark is inside the highlight
    assert mark["match"] == "exact"
    assert line["marked"].startswith(f"<mark>Ба{ACUTE}тюшка</mark> пришё")
    assert stressed["task_url"] == f"/api/recognition/tasks/{archive.ids['stressed']}"
    assert stressed["revision"] == 0


async def test_case_yo_and_stress_do_not_matter_and_phrases_rank_first(archive: Archive) -> None:
    body = await archive.search(f"БАТЮШКА ПРИШЕ{ACUTE}Л", batch=archive.batch)
    assert archive.found(body)[0] == "stressed"
    assert body["items"][0]["match"] == "phrase"
    assert body["terms"] == ["батюшка", "пришел"]
    line = body["items"][0]["line"]
    assert [h["term"] for h in line["highlights"]] == ["батюшка", "пришел"]


async def test_a_typo_still_finds_the_word(archive: Archive) -> None:
    body = await archive.search("батюжка", batch=archive.batch)
    assert "батюшка" in body["typos"]["батюжка"]
    found = archive.found(body)
    assert {"stressed", "plain"} <= set(found)
    assert all(item["match"] == "approximate" for item in body["items"])
    first = body["items"][0]["line"]["highlights"][0]
    assert first["match"] == "typo"
    swapped = await archive.search("избя горе", batch=archive.batch)  # one slip in a short word, and a second word
    assert archive.found(swapped) == ["other"]


async def test_prefixes_and_filters(archive: Archive) -> None:
    body = await archive.search("батюшк", batch=archive.batch)
    assert set(archive.found(body)) == {"stressed", "plain", "inflected", "longer"}
    assert all(h["match"] == "prefix" for item in body["items"] for h in item["line"]["highlights"])
    page = await archive.search("батюшк", batch=archive.batch, limit=3)
    assert len(page["items"]) == 3
    assert page["next_offset"] == 3
    rest = await archive.search("батюшк", batch=archive.batch, limit=3, offset=3)
    assert len(rest["items"]) == 1
    assert rest["next_offset"] is None
    nothing = await archive.search("батюшка", batch="00000000-0000-0000-0000-000000000001")
    assert nothing["items"] == []


async def test_a_correction_is_what_search_finds_next(archive: Archive) -> None:
    task_id = archive.ids["other"]
    edit = {"op": "edit_word", "line": 1, "word": 0, "text": "до" + ACUTE + "мик"}
    response = await archive.client.patch(
        f"/api/recognition/tasks/{task_id}/transcript", json={"edits": [edit]}, headers={"If-Match": '"0"'}
    )
    assert response.status_code == 200
    body = await archive.search("домик", batch=archive.batch)
    assert archive.found(body) == ["other"]
    assert body["items"][0]["revision"] == 1
    assert body["items"][0]["line"]["index"] == 1
    gone = await archive.search("дом", batch=archive.batch)
    assert "other" not in [
        name for name, item in zip(archive.found(gone), gone["items"], strict=True) if item["match"] == "exact"
    ]


@pytest.mark.parametrize("q", ["...", "—", " "])
async def test_a_query_without_words_is_a_json_error(archive: Archive, q: str) -> None:
    response = await archive.client.get("/api/recognition/search", params={"q": q})
    assert response.status_code == 422
    assert response.json()["error"]
