"""Corrections with revisions, exports and batch operations through the HTTP api, on real PostgreSQL, S3, Redis."""

from __future__ import annotations

import asyncio
import io
import json
import unicodedata
import zipfile
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from lxml import etree

from kartoteka.infrastructure.config.settings import Settings
from tests.integration.http.conftest import ACUTE, finish_task, stressed_card
from tests.integration.http.test_recognition_api import image_bytes, stored_keys
from tests.schemas import load_schema

STRESSED = f"Ба{ACUTE}тюшка"


@pytest.fixture(scope="module")
def schemas() -> dict[str, etree.XMLSchema]:
    return {"page": load_schema("pagecontent-2019-07-15.xsd"), "alto": load_schema("alto-4-4.xsd")}


def valid(schemas: dict[str, etree.XMLSchema], fmt: str, data: bytes) -> etree._Element:
    root = etree.fromstring(data)
    schema = schemas[fmt]
    assert schema.validate(root), "\n".join(str(e) for e in schema.error_log)
    return root


async def submit(client: httpx.AsyncClient, count: int = 1, label: str | None = None) -> dict[str, Any]:
    files = [("images", (f"Пинега-{i}.png", image_bytes(seed=i), "image/png")) for i in range(count)]
    response = await client.post("/api/recognition/tasks", files=files, data={"batch_label": label} if label else {})
    assert response.status_code == 202, response.text
    return dict(response.json())


async def read_card(client: httpx.AsyncClient, settings: Settings) -> str:
    task_id = str((await submit(client))["tasks"][0]["id"])
    await finish_task(settings.database.url, task_id)
    return task_id


async def patch(client: httpx.AsyncClient, task_id: str, revision: int | str | None, *edits: dict[str, Any]) -> Any:
    headers = {} if revision is None else {"If-Match": revision if isinstance(revision, str) else f'"{revision}"'}
    return await client.patch(
        f"/api/recognition/tasks/{task_id}/transcript", json={"edits": list(edits)}, headers=headers
    )


# ---------------------------------------------------------------------------------------- revisions


async def test_revision_0_is_the_reading_and_etags_name_revisions(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    task_id = await read_card(client, settings)
    task = await client.get(f"/api/recognition/tasks/{task_id}")
    assert (task.json()["revision"], task.headers["etag"]) == (0, '"0"')
    transcript = await client.get(f"/api/recognition/tasks/{task_id}/transcript")
    assert transcript.status_code == 200
    assert transcript.headers["etag"] == '"0"'
    body = transcript.json()
    assert (body["revision"], body["kind"], body["author"]) == (0, "machine", None)
    assert body["text"].startswith(STRESSED)
    assert unicodedata.is_normalized("NFC", body["text"])

    missing = await patch(client, task_id, None, {"op": "edit_word", "line": 0, "word": 0, "text": "батюшка"})
    assert missing.status_code == 428
    assert "If-Match" in missing.json()["error"]
    queued = (await submit(client))["tasks"][0]["id"]
    not_ready = await client.get(f"/api/recognition/tasks/{queued}/transcript")
    assert not_ready.status_code == 409
    assert not_ready.json()["detail"]["status"] == "queued"
    assert (await patch(client, queued, 0, {"op": "delete_word", "line": 0, "word": 0})).status_code == 409


async def test_two_editors_one_wins_the_other_gets_412_and_the_current_revision(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    task_id = await read_card(client, settings)
    first, second = await asyncio.gather(
        patch(client, task_id, 0, {"op": "edit_word", "line": 0, "word": 1, "text": "пришла"}),
        patch(client, task_id, 0, {"op": "edit_word", "line": 0, "word": 1, "text": "ушёл"}),
    )
    statuses = sorted([first.status_code, second.status_code])
    assert statuses == [200, 412], (first.text, second.text)
    winner, loser = (first, second) if first.status_code == 200 else (second, first)
    assert winner.headers["etag"] == '"1"'
    assert loser.json()["detail"]["current_revision"] == 1
    assert loser.json()["detail"]["expected_revision"] == 0
    assert loser.headers["etag"] == '"1"'
    history = (await client.get(f"/api/recognition/tasks/{task_id}/transcript/revisions")).json()
    assert [r["revision"] for r in history["revisions"]] == [0, 1]  # the loser changed nothing
    assert history["revisions"][1]["text"] == winner.json()["text"]
    again = await patch(client, task_id, 1, {"op": "edit_word", "line": 0, "word": 1, "text": "ушёл"})
    assert again.status_code == 200  # with the current revision the edit goes through
    assert again.json()["revision"] == 2


async def test_every_edit_kind_makes_a_revision_and_revision_0_survives(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    task_id = await read_card(client, settings)
    steps: list[tuple[dict[str, Any], str]] = [
        ({"op": "edit_word", "line": 0, "word": 1, "text": "пришё" + ACUTE + "л"}, f"{STRESSED} пришё{ACUTE}л"),
        ({"op": "edit_line", "line": 1, "text": "на горе сидел"}, "на горе сидел"),
        ({"op": "split_word", "line": 0, "word": 0, "texts": ["Ба" + ACUTE, "тюшка"], "at": [10]}, "Ба"),
        ({"op": "join_words", "line": 0, "word": 0, "count": 2}, STRESSED),
        ({"op": "set_box", "line": 0, "word": 0, "box": [1, 1, 31, 15]}, STRESSED),
        ({"op": "delete_word", "line": 1, "word": 2}, "на горе"),
        ({"op": "replace_text", "text": f"{STRESSED} пришёл\nна\u203fгоре\nв Пинеге"}, "в Пинеге"),
        ({"op": "restore", "revision": 0}, f"{STRESSED} пришёл\nна\u203fгоре сиде{ACUTE}л"),
    ]
    for number, (edit, expected) in enumerate(steps, start=1):
        response = await patch(client, task_id, number - 1, edit)
        assert response.status_code == 200, (edit, response.text)
        assert response.json()["revision"] == number
        assert expected in response.json()["text"], (edit, response.json()["text"])
    boxed = await client.get(f"/api/recognition/tasks/{task_id}/transcript", params={"revision": 5})
    assert boxed.json()["transcript"]["lines"][0]["words"][0]["box"] == [1, 1, 31, 15]
    assert boxed.headers["etag"] == '"5"'

    history = (await client.get(f"/api/recognition/tasks/{task_id}/transcript/revisions")).json()
    assert history["latest_revision"] == len(steps)
    kinds = [
        (r["kind"], r["author"], r["operations"][0]["op"] if r["operations"] else None) for r in history["revisions"]
    ]
    assert kinds[0] == ("machine", None, None)
    assert [k[2] for k in kinds[1:]] == [edit["op"] for edit, _ in steps]
    assert all(k[1] == "anonymous" for k in kinds[1:])
    first = await client.get(f"/api/recognition/tasks/{task_id}/transcript", params={"revision": 0})
    assert first.json()["transcript"]["lines"] == stressed_card().to_dict()["lines"]
    assert (
        await client.get(f"/api/recognition/tasks/{task_id}/transcript", params={"revision": 99})
    ).status_code == 404


@pytest.mark.parametrize(
    ("edit", "status"),
    [
        ({"op": "edit_word", "line": 5, "word": 0, "text": "x"}, 422),
        ({"op": "edit_word", "line": 0, "word": 0, "text": "   "}, 422),
        ({"op": "set_box", "line": 0, "word": 0, "box": [0, 0, 500, 10]}, 422),
        ({"op": "split_word", "line": 0, "word": 0, "texts": ["a", "b"], "at": [999]}, 422),
        ({"op": "restore", "revision": 42}, 422),
        ({"op": "dance"}, 422),
    ],
)
async def test_edits_that_do_not_fit_are_422_and_change_nothing(
    client: httpx.AsyncClient, settings: Settings, edit: dict[str, Any], status: int
) -> None:
    task_id = await read_card(client, settings)
    response = await patch(client, task_id, 0, edit)
    assert response.status_code == status, response.text
    assert response.json()["error"]
    assert (await client.get(f"/api/recognition/tasks/{task_id}")).json()["revision"] == 0


async def test_if_match_forms(client: httpx.AsyncClient, settings: Settings) -> None:
    task_id = await read_card(client, settings)
    edit = {"op": "edit_word", "line": 0, "word": 0, "text": "батюшка"}
    assert (await patch(client, task_id, 'W/"0"', edit)).status_code == 200
    assert (await patch(client, task_id, "*", edit)).status_code == 200  # whatever is current
    bad = await patch(client, task_id, "abc", edit)
    assert bad.status_code == 400
    assert "If-Match" in bad.json()["error"]


async def test_update_text_maps_onto_a_whole_text_revision(client: httpx.AsyncClient, settings: Settings) -> None:
    task_id = await read_card(client, settings)
    new_text = f"Ма{ACUTE}тушка пришла\nс поля"
    response = await client.put("/task/update_text", params={"task_id": task_id, "new_text": new_text})
    assert response.status_code == 200, response.text
    assert response.json() == {"id": task_id, "status": {"type": "completed", "text": new_text}}
    history = (await client.get(f"/api/recognition/tasks/{task_id}/transcript/revisions")).json()["revisions"]
    assert [(r["kind"], r["operations"]) for r in history] == [
        ("machine", []),
        ("correction", [{"op": "replace_text", "text": new_text}]),
    ]
    assert (await client.get("/task/", params={"task_id": task_id})).json()["status"]["text"] == new_text
    queued = (await submit(client))["tasks"][0]["id"]
    refused = await client.put("/task/update_text", params={"task_id": queued, "new_text": "x"})
    assert refused.status_code == 409
    assert "error" in refused.json()
    unknown = await client.put(
        "/task/update_text", params={"task_id": "00000000-0000-0000-0000-000000000009", "new_text": "x"}
    )
    assert unknown.status_code == 404


async def test_a_retried_card_keeps_its_corrections_and_adds_the_new_reading(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    task_id = await read_card(client, settings)
    corrected = await patch(client, task_id, 0, {"op": "edit_line", "line": 1, "text": "на горе сидел"})
    assert corrected.status_code == 200
    retried = await client.post(f"/api/recognition/tasks/{task_id}/retry")
    assert retried.status_code == 202
    assert retried.json()["text"] == corrected.json()["text"]  # nothing is lost while it waits
    assert (await patch(client, task_id, 1, {"op": "delete_word", "line": 0, "word": 0})).status_code == 409
    rerun = stressed_card()
    await finish_task(settings.database.url, task_id, rerun)
    history = (await client.get(f"/api/recognition/tasks/{task_id}/transcript/revisions")).json()
    assert [(r["revision"], r["kind"], r["attempt"]) for r in history["revisions"]] == [
        (0, "machine", 1),
        (1, "correction", 1),
        (2, "machine", 2),
    ]
    kept = await client.get(f"/api/recognition/tasks/{task_id}/transcript", params={"revision": 1})
    assert kept.json()["text"] == corrected.json()["text"]
    restored = await patch(client, task_id, 2, {"op": "restore", "revision": 1})
    assert (restored.json()["revision"], restored.json()["text"]) == (3, corrected.json()["text"])


# ------------------------------------------------------------------------------------------ exports


async def test_exports_of_a_corrected_card_validate_and_keep_stress_marks(
    client: httpx.AsyncClient, settings: Settings, schemas: dict[str, etree.XMLSchema]
) -> None:
    task_id = await read_card(client, settings)
    fixed = f"пришё{ACUTE}л"
    assert (await patch(client, task_id, 0, {"op": "edit_word", "line": 0, "word": 1, "text": fixed})).is_success
    url = f"/api/recognition/tasks/{task_id}/export"

    page = await client.get(url, params={"format": "page"})
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("application/xml")
    disposition = page.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == "Пинега-0.page.xml"
    root = valid(schemas, "page", page.content)
    ns = {"p": "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"}
    words = [u.text for u in root.iterfind(".//p:Word/p:TextEquiv/p:Unicode", ns)]
    assert words[:2] == [STRESSED, fixed]
    assert STRESSED.encode() in page.content  # the combining acute survives byte for byte
    assert root.find(".//p:MetadataItem[@name='revisedBy']", ns).get("value") == "anonymous"

    alto = await client.get(url, params={"format": "ALTO"})  # format names are case-insensitive
    alto_root = valid(schemas, "alto", alto.content)
    strings = alto_root.iterfind(".//{http://www.loc.gov/standards/alto/ns-v4#}String")
    assert [s.get("CONTENT") for s in strings][:2] == [STRESSED, fixed]
    assert b"manual correction, revision 1" in alto.content

    original = await client.get(url, params={"format": "alto", "revision": 0})
    valid(schemas, "alto", original.content)
    assert b"manual correction" not in original.content
    assert "Пинега-0.r0.alto.xml" in unquote(original.headers["content-disposition"])

    text = await client.get(url, params={"format": "txt"})
    assert text.content.decode() == f"{STRESSED} {fixed}\nна\u203fгоре сиде{ACUTE}л\n"
    as_json = (await client.get(url, params={"format": "json"})).json()
    assert as_json["revision"]["number"] == 1
    assert as_json["revision"]["author"] == "anonymous"
    assert as_json["transcript"]["lines"][0]["words"][0]["text"] == STRESSED


async def test_export_errors_are_json(client: httpx.AsyncClient, settings: Settings) -> None:
    task_id = await read_card(client, settings)
    unknown = await client.get(f"/api/recognition/tasks/{task_id}/export", params={"format": "docx"})
    assert unknown.status_code == 422
    assert unknown.json()["detail"]["formats"] == ["txt", "json", "page", "alto"]
    queued = (await submit(client))["tasks"][0]["id"]
    not_done = await client.get(f"/api/recognition/tasks/{queued}/export", params={"format": "page"})
    assert not_done.status_code == 409
    assert not_done.json()["detail"]["status"] == "queued"
    missing = await client.get(f"/api/recognition/tasks/{task_id}/export", params={"format": "page", "revision": 5})
    assert missing.status_code == 404


async def test_a_batch_exports_as_a_zip_of_valid_files_with_a_manifest(
    client: httpx.AsyncClient, settings: Settings, schemas: dict[str, etree.XMLSchema]
) -> None:
    submitted = await submit(client, 3, label="Пинега 1974")
    tasks = [t["id"] for t in submitted["tasks"]]
    await finish_task(settings.database.url, tasks[0])
    await finish_task(settings.database.url, tasks[2])
    fix = {"op": "edit_word", "line": 0, "word": 0, "text": "Ба" + ACUTE + "тюшко"}
    assert (await patch(client, tasks[2], 0, fix)).is_success

    response = await client.get(
        f"/api/recognition/batches/{submitted['batch']['id']}/export", params={"format": "page"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert unquote(response.headers["content-disposition"].split("''")[1]) == "Пинега 1974-page.zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert sorted(archive.namelist()) == ["manifest.json", "Пинега-0.page.xml", "Пинега-2.page.xml"]
    manifest = json.loads(archive.read("manifest.json"))
    assert (manifest["exported"], manifest["skipped"], manifest["label"]) == (2, 1, "Пинега 1974")
    assert [(c["task_id"], c["revision"], c["file"]) for c in manifest["cards"]] == [
        (tasks[0], 0, "Пинега-0.page.xml"),
        (tasks[1], None, None),
        (tasks[2], 1, "Пинега-2.page.xml"),
    ]
    assert "queued" in manifest["cards"][1]["skipped_reason"]
    for name in ("Пинега-0.page.xml", "Пинега-2.page.xml"):
        valid(schemas, "page", archive.read(name))
    assert ("Ба" + ACUTE + "тюшко").encode() in archive.read("Пинега-2.page.xml")

    bad = await client.get(f"/api/recognition/batches/{submitted['batch']['id']}/export", params={"format": "x"})
    assert bad.status_code == 422
    gone = await client.get("/api/recognition/batches/00000000-0000-0000-0000-000000000001/export")
    assert gone.status_code == 404
    assert gone.json()["detail"] == {"batch_id": "00000000-0000-0000-0000-000000000001"}


# ------------------------------------------------------------------------------------------ batches


async def test_batches_are_listed_newest_first_with_counts(client: httpx.AsyncClient, settings: Settings) -> None:
    older = (await submit(client, 2))["batch"]["id"]
    newer = await submit(client, 3)
    await finish_task(settings.database.url, newer["tasks"][0]["id"])

    listed = await client.get("/api/recognition/batches", params={"limit": 1})
    assert listed.status_code == 200, listed.text
    (item,) = listed.json()["items"]
    assert item["id"] == newer["batch"]["id"]
    assert (item["total"], item["counts"]["completed"], item["counts"]["queued"]) == (3, 1, 2)
    assert item["batch_url"] == f"/api/recognition/batches/{item['id']}"
    following = await client.get("/api/recognition/batches", params={"cursor": listed.json()["next_cursor"]})
    assert following.json()["items"][0]["id"] == older
    bad = await client.get("/api/recognition/batches", params={"cursor": "garbage!"})
    assert bad.status_code == 400
    assert bad.json()["error"]


async def test_batch_cancel_retry_and_delete(client: httpx.AsyncClient, settings: Settings) -> None:
    submitted = await submit(client, 3)
    batch = submitted["batch"]["id"]
    done, failing, waiting = (t["id"] for t in submitted["tasks"])
    await finish_task(settings.database.url, done)
    await finish_task(settings.database.url, failing, failure="the scan is blank")

    summary = (await client.get(f"/api/recognition/batches/{batch}")).json()
    assert (summary["counts"]["completed"], summary["counts"]["failed"], summary["counts"]["queued"]) == (1, 1, 1)

    cancelled = await client.post(f"/api/recognition/batches/{batch}/cancel")
    assert cancelled.status_code == 200
    assert [(t["id"], t["status"]) for t in cancelled.json()["changed"]] == [(waiting, "cancelled")]
    assert cancelled.json()["unchanged"] == [done, failing]

    retried = await client.post(f"/api/recognition/batches/{batch}/retry")
    assert retried.status_code == 202
    assert [(t["id"], t["status"], t["attempt"]) for t in retried.json()["changed"]] == [(failing, "queued", 2)]
    assert (await client.get(f"/api/recognition/tasks/{waiting}")).json()["status"] == "cancelled"

    assert await stored_keys(settings) == 3
    deleted = await client.delete(f"/api/recognition/batches/{batch}")
    assert deleted.status_code == 204
    assert await stored_keys(settings) == 0
    for task_id in (done, failing, waiting):
        assert (await client.get(f"/api/recognition/tasks/{task_id}")).status_code == 404
    assert (await client.get(f"/api/recognition/batches/{batch}")).status_code == 404
    assert (await client.post(f"/api/recognition/batches/{batch}/cancel")).status_code == 404
    listed = await client.get("/api/recognition/tasks", params={"batch": batch})
    assert listed.json()["items"] == []


async def test_the_api_describes_itself(client: httpx.AsyncClient) -> None:
    spec = await client.get("/openapi.json")
    assert spec.status_code == 200, spec.text
    paths = spec.json()["paths"]
    for path in (
        "/api/recognition/tasks/{task_id}/transcript",
        "/api/recognition/tasks/{task_id}/transcript/revisions",
        "/api/recognition/tasks/{task_id}/export",
        "/api/recognition/batches/{batch_id}/export",
        "/api/recognition/search",
        "/task/update_text",
    ):
        assert path in paths
    edits = spec.json()["components"]["schemas"]["CorrectionIn"]["properties"]["edits"]["items"]
    assert set(edits["discriminator"]["mapping"]) == {
        "edit_word",
        "edit_line",
        "split_word",
        "join_words",
        "set_box",
        "delete_word",
        "replace_text",
        "restore",
    }
    assert (await client.get("/docs")).status_code == 200
