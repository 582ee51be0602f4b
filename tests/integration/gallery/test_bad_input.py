"""The bad-input corpus (tests/bad_images.py) through every entry point that takes an image.

One service as deployed (api, relay, embedding worker, watcher; real PostgreSQL, Redis, S3) meets
every file of the corpus as a recognition submission, a legacy submission, a gallery upload, a
similarity-search query, a file in the watched directory, and then asks for every watched file's
thumbnail. Nothing may answer a 5xx; what is usable is accepted, a bomb is a 413, a broken file a
4xx, and in the watched directory each bad file fails alone while the rest of its batch is indexed.

The counts per entry point are printed (run with ``-s``) and, when ``KARTOTEKA_BAD_INPUT_REPORT``
names a file, written there as JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kartoteka.domain.gallery.selection import DEFAULT_IMAGE_EXTENSIONS
from kartoteka_dev.tiny_embedders import lasa_sketches
from tests.bad_images import BadImage, corpus
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

CORPUS = corpus()
GOOD = {f"good-{n}.png": sketch.png for n, sketch in enumerate(lasa_sketches(size=96, shapes=["Angle", "Leaf_1"]))}


def watched_name(number: int, item: BadImage) -> str:
    return f"{number:03d}-{item.name}"


def watchable(name: str) -> bool:
    return name.rsplit(".", 1)[-1].lower() in DEFAULT_IMAGE_EXTENSIONS


@pytest.fixture
def root() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="kartoteka-bad-input-"))
    for number, item in enumerate(CORPUS):
        (path / watched_name(number, item)).write_bytes(item.data)
    for name, data in GOOD.items():
        (path / name).write_bytes(data)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
async def service(
    root: Path, migrated_database: str, s3_server: S3Server, redis_server: RedisServer
) -> AsyncIterator[Gallery]:
    await empty_gallery(migrated_database)
    settings = gallery_settings(
        migrated_database,
        s3_server,
        redis_server,
        gallery={"roots": [{"path": str(root)}], "debounce_ms": 100, "stable_after_ms": 200, "batch_size": 16},
        api={"max_upload_bytes": 2_000_000, "max_files": 10},
    )
    async with running_gallery(settings) as gallery, watching(settings):
        yield gallery


def expected(item: BadImage, *, accepted: set[str], usable_status: int) -> set[int]:
    """The statuses an entry point may answer for ``item``; a format it does not take is a 415."""
    if item.expect == "too_large":
        return {413}
    if item.expect == "usable":
        return {usable_status} if item.format in accepted else {415}
    if item.expect == "unreadable":
        return {415, 422} if item.format not in accepted else {422}
    return {usable_status, 413, 415, 422}


def check(
    tally: Counter[str], failures: list[str], where: str, item: BadImage, response: httpx.Response, allowed: set[int]
) -> None:
    tally[str(response.status_code)] += 1
    if response.status_code >= 500 or response.status_code not in allowed:
        failures.append(f"{where} {item.name}: {response.status_code} {response.text[:200]}")
    elif response.status_code >= 400 and not response.json().get("error"):
        failures.append(f"{where} {item.name}: {response.status_code} without an error message")


async def watched_listing(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    images: dict[str, dict[str, Any]] = {}
    page = 1
    while True:
        params = {"directory": "", "items_per_page": 100, "page": page}
        body = (await client.get("/api/images", params=params)).json()
        images |= {i["path"]: i for i in body["images"] if i["source"] == "directory"}
        if page * 100 >= body["total"]:
            return images
        page += 1


async def test_no_input_of_the_corpus_makes_a_5xx_and_bad_files_fail_alone(service: Gallery, root: Path) -> None:
    client = service.client
    tallies: dict[str, Counter[str]] = {}
    failures: list[str] = []
    recognition = {"JPEG", "PNG", "TIFF", "WEBP", "PDF"}
    gallery = {"JPEG", "PNG", "TIFF", "WEBP", "GIF"}

    # The watched directory: every bad file fails with its reason, every good one is embedded.
    names = [watched_name(n, item) for n, item in enumerate(CORPUS)]
    wanted = {name for name in [*names, *GOOD] if watchable(name)}

    async def listed() -> bool:
        return set(await watched_listing(client)) == wanted

    await eventually(listed, 120, "every watched file to be listed")
    await service.indexed(within_s=300)
    images = await watched_listing(client)
    watched: Counter[str] = Counter()
    for name in wanted:
        image = images[name]
        outcome = "failed" if image["error"] else "embedded"
        watched[outcome] += 1
        item = CORPUS[names.index(name)] if name in names else None
        should_fail = item is not None and item.expect in {"too_large", "unreadable"}
        should_embed = item is None or item.expect == "usable"
        if (should_fail and outcome != "failed") or (should_embed and outcome != "embedded"):
            failures.append(f"watched {name}: {outcome} ({image['error']})")
    tallies["watched directory"] = watched

    # Thumbnails of every watched file: made (kept by the worker, or on the fly) or a 422.
    thumbnails: Counter[str] = Counter()
    for name in sorted(wanted):
        response = await client.get(f"/api/images/{images[name]['id']}/thumbnail")
        thumbnails[str(response.status_code)] += 1
        if response.status_code not in {200, 422}:
            failures.append(f"thumbnail {name}: {response.status_code} {response.text[:200]}")
    tallies["thumbnail"] = thumbnails

    for number, item in enumerate(CORPUS):
        upload_name = f"upload-{number:03d}-{item.name}"
        media = "application/octet-stream"
        submit = await client.post("/api/recognition/tasks", files=[("images", (item.name, item.data, media))])
        check(
            tallies.setdefault("recognition submit", Counter()),
            failures,
            "submit",
            item,
            submit,
            expected(item, accepted=recognition, usable_status=202),
        )
        legacy = await client.post("/task/submit", files={"image": (item.name, item.data, media)})
        check(
            tallies.setdefault("legacy submit", Counter()),
            failures,
            "legacy",
            item,
            legacy,
            expected(item, accepted=recognition, usable_status=200),
        )
        upload = await client.post("/api/images", files={"image": (upload_name, item.data, media)})
        check(
            tallies.setdefault("gallery upload", Counter()),
            failures,
            "upload",
            item,
            upload,
            expected(item, accepted=gallery, usable_status=200),
        )
        search = await client.post(
            "/api/images/similarity-search",
            files={"image": ("query", item.data, media)},
            data={"top_k": "3", "kind": "photo"},
        )
        check(
            tallies.setdefault("similarity search", Counter()),
            failures,
            "search",
            item,
            search,
            expected(item, accepted=gallery, usable_status=200),
        )

    report = {where: dict(sorted(counts.items())) for where, counts in tallies.items()}
    print(f"\nbad-input corpus: {len(CORPUS)} files, {len(wanted)} watched")
    for where, counts in report.items():
        print(f"  {where:20} {counts}")
    if target := os.environ.get("KARTOTEKA_BAD_INPUT_REPORT"):
        summary = json.dumps({"files": len(CORPUS), "watched": len(wanted), **report}, indent=2)
        await asyncio.to_thread(Path(target).write_text, summary)
    assert not failures, "\n".join(failures)
